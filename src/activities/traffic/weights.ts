/**
 * What every router does the same way around its own objects: read the split of its managed routes
 * as one value, verify a write by reading it back, tell a change made outside Ramp from its own
 * write before a weight step, and turn the pure modules' errors into failures. Each router keeps its
 * objects; these keep the wording and the policy the same for all of them.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { SetWeightInput, SetWeightResult, Weights } from '../../domain/rollout/calls';
import { checkDrift } from '../../domain/traffic/drift';
import { TrafficConfigError } from '../../domain/traffic/objects';
import { Failure } from '../../shared/failures';
import type { TrafficRouter } from './router';

/** The managed routes' split: the first one's, whether all agree, and each in words. */
export interface Split {
  weights: Weights;
  agree: boolean;
  detail: string;
}

/** One Split from the split of each managed route (or rule), in order. */
export function splitOf(got: readonly { name: string; weights: Weights }[]): Split {
  const first = got[0]!.weights;
  const agree = got.every((g) => g.weights.canary === first.canary && g.weights.stable === first.stable);
  const detail = got.map((g) => `${g.name}: stable ${g.weights.stable}, canary ${g.weights.canary}`).join('; ');
  return { weights: first, agree, detail };
}

/** NotApplied unless every managed route of `id` carries `want` after a write. */
export function verifySplit(id: string, split: Split, want: Weights): Weights {
  if (!split.agree || split.weights.canary !== want.canary || split.weights.stable !== want.stable) {
    throw ApplicationFailure.create({
      message: `${id} does not carry stable ${want.stable} / canary ${want.canary} after the write (${split.detail}); something (a GitOps sync, an admission webhook) may be rewriting it`,
      type: Failure.NotApplied,
    });
  }
  return want;
}

/**
 * Before a weight step: the result reporting a change made outside Ramp (nothing is written then),
 * or undefined to go ahead. `routes` names what disagrees ("routes", "rules").
 */
export function driftFound(id: string, now: Split, input: SetWeightInput, routes: string): SetWeightResult | undefined {
  if (input.force) return undefined;
  const seen = now.agree ? checkDrift(now.weights.canary, input.expected, input.weight, input.ahead) : 'drift';
  if (seen !== 'drift') return undefined;
  const found = now.agree ? `canary weight is ${now.weights.canary}%` : `the managed ${routes} disagree`;
  return { applied: false, found: now.weights, detail: `${id} (${now.detail}): ${found}, Ramp set ${input.expected}%` };
}

/** The router with every call's pure-module errors turned into failures (asFailures). */
export function withFailures(r: TrafficRouter): TrafficRouter {
  return {
    writes: r.writes,
    inspect: () => asFailures(() => r.inspect()),
    apply: (snapshot, change) => asFailures(() => r.apply(snapshot, change)),
    setWeight: (snapshot, input) => asFailures(() => r.setWeight(snapshot, input)),
    undo: (snapshot, change) => asFailures(() => r.undo(snapshot, change)),
    promote: (snapshot, stage) => asFailures(() => r.promote(snapshot, stage)),
    setFeature: (snapshot, feature) => asFailures(() => r.setFeature(snapshot, feature)),
  };
}

/** Runs a router call, turning the pure modules' "not as expected" errors into failures. */
async function asFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TrafficConfigError) throw ApplicationFailure.create({ message: err.message, type: Failure.TrafficChanged });
    if (err instanceof RangeError) throw ApplicationFailure.create({ message: err.message, type: Failure.Invalid });
    throw err;
  }
}
