/**
 * Did someone change the managed weights outside Ramp? Checked before each weight step: the canary
 * weight read from the route against the one Ramp last set.
 *
 * The weight the step is about to set is Ramp's own write, not drift. A call made as a local
 * activity runs inside a workflow task; if the worker dies after the call and before the task
 * completes, the write has happened but the history does not show it. The retried task then reads
 * that weight back — it must not mistake it for someone else's change (a fault test found this: the
 * rollout held, "paused by drift detection", after a SIGKILL).
 *
 * The lost task may have gone further: weight steps that follow one another are local activities of
 * the same task, so it may have written any of them (`ahead`: the weights of the weight steps right
 * after this one, up to the first step that waits or calls a recorded activity). Those are Ramp's
 * own writes too (the fault test found this one when a kill landed after 20 → 60 → 100).
 */
export type DriftCheck = 'unchanged' | 'own-write' | 'drift';

export function checkDrift(current: number, expected: number, next: number, ahead: readonly number[] = []): DriftCheck {
  if (current === expected) return 'unchanged';
  if (current === next || ahead.includes(current)) return 'own-write';
  return 'drift';
}
