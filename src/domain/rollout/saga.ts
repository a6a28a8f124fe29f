/**
 * The saga: the inverse of each change Ramp makes is recorded before the change is attempted (a
 * call that fails half-way may still have changed something; every undo is idempotent and counts an
 * object already gone as undone), and the inverses are taken back in reverse order — routes first,
 * then the canary's destination, then the canary Deployment — for a rollback and, after a
 * promotion, as the cleanup.
 *
 * Each undo runs on its own: one that fails is reported and the next still runs, with one
 * exception: when the undo of a change that routes traffic (a router marks it) has failed, the
 * canary may still receive traffic, so it is kept running (deleting it would fail those requests)
 * and reported instead.
 *
 * A proposal (approval by merge) is put at the saga's start instead, so it is taken back last: it
 * carries no traffic, and deleting its branch must not delay taking traffic off the canary.
 */
import type { ResolvedRollout } from '../spec/schema';
import type { Inverse, Rollout, Unwind } from './model';

/** Records an inverse unless the same one is already recorded (a change re-applied after a hand-over). */
export function recordInverse(r: Rollout, inverse: Inverse): void {
  const same = (i: Inverse) => i.kind === inverse.kind
    && (i.kind !== 'traffic' || (inverse.kind === 'traffic' && i.change === inverse.change))
    && (i.kind !== 'proposal' || (inverse.kind === 'proposal' && i.branch === inverse.branch));
  if (!r.saga.some(same)) r.saga.push(inverse);
}

export type UndoStep =
  | { kind: 'undo'; inverse: Inverse }
  /** Keep the canary until `until` (the rollback's scale-down delay), then delete it. */
  | { kind: 'delay'; until: number; newly: boolean }
  /** Not undone, for the reason given (already added to `left`). */
  | { kind: 'skipped' }
  | { kind: 'done' };

/** The next thing to take back, given what was done so far. */
export function nextUndo(r: Rollout, u: Unwind, spec: ResolvedRollout, now: number): UndoStep {
  const order = [...r.saga].reverse();
  const inverse = order[u.done];
  if (!inverse) return { kind: 'done' };
  if (inverse.kind === 'canary') {
    if (u.trafficLeft) {
      u.left.push(`the canary Deployment ${spec.metadata.namespace}/${spec.spec.canary.deploymentName} was kept running: a route undo above failed, so it may still receive traffic; delete it once no route sends traffic to it`);
      u.done++;
      return { kind: 'skipped' };
    }
    const delay = spec.spec.rollback.scaleDownDelayMs;
    if (u.why === 'rollback' && u.trafficUndone && delay > 0) {
      if (u.delayUntil === undefined) {
        u.delayUntil = now + delay;
        return { kind: 'delay', until: u.delayUntil, newly: true };
      }
      if (now < u.delayUntil) return { kind: 'delay', until: u.delayUntil, newly: false };
    }
  }
  return { kind: 'undo', inverse };
}

/** Takes an undo's outcome into account: `failure` says why it failed, in words. */
export function undone(u: Unwind, inverse: Inverse, spec: ResolvedRollout, failure?: string): void {
  u.done++;
  if (inverse.kind === 'traffic') {
    if (failure) {
      if (inverse.carriesTraffic) u.trafficLeft = true;
      u.left.push(`${inverse.description} was not undone: ${failure}`);
    } else if (inverse.carriesTraffic) u.trafficUndone = true;
    return;
  }
  if (inverse.kind === 'proposal') {
    if (failure) u.left.push(`delete branch ${inverse.branch} (an approval by merge proposed it; merging it now would change the routes): ${failure}`);
    return;
  }
  if (failure) u.left.push(`delete the canary Deployment ${spec.metadata.namespace}/${spec.spec.canary.deploymentName}: ${failure}`);
}

/** In words, for the history and the UI. */
export function describeInverse(inverse: Inverse, spec: ResolvedRollout): string {
  switch (inverse.kind) {
    case 'traffic':
      return `undo: ${inverse.description}`;
    case 'canary':
      return `delete canary ${spec.spec.canary.deploymentName}`;
    case 'proposal':
      return `delete branch ${inverse.branch} (approval by merge)`;
  }
}
