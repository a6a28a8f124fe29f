/**
 * Did someone change the managed weights outside Ramp? Checked before each weight step: the canary
 * weight read from the route against the one Ramp last set.
 *
 * The weight the step is about to set is Ramp's own write, not drift. A call made as a local
 * activity runs inside a workflow task; if the worker dies after the call and before the task
 * completes, the write has happened but the history does not show it. The retried task then reads
 * that weight back — it must not mistake it for someone else's change (a fault test found this: the
 * rollout held, "paused by drift detection", after a SIGKILL).
 */
export type DriftCheck = 'unchanged' | 'own-write' | 'drift';

export function checkDrift(current: number, expected: number, next: number): DriftCheck {
  if (current === expected) return 'unchanged';
  if (current === next) return 'own-write';
  return 'drift';
}
