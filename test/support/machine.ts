/**
 * Driving the rollout state machine in unit tests: a scripted world answers each call, and the
 * driver feeds answers back until the machine waits for a person, a timer, or a call a test keeps
 * in flight. The trace of calls and the state are what tests assert on.
 */
import type { CallCommand, CallName, CallResults } from '../../src/domain/rollout/calls';
import { newRollout, plan, reduce, type CallFailure, type MachineCommand, type Plan } from '../../src/domain/rollout/machine';
import type { Rollout, Versions } from '../../src/domain/rollout/model';
import type { ResolvedRollout } from '../../src/domain/spec/schema';
import { validateRollout } from '../../src/domain/spec/parse';
import { newTestRolloutRaw } from './builders';

export const T0 = Date.UTC(2026, 0, 1);

export const VERSIONS: Versions = { key: 'version', stable: 'original', canary: 'beta', stablePinned: true };

/** A spec from the builder with the given steps and extra spec fields. */
export function specWith(steps: unknown[], extra: Record<string, unknown> = {}): ResolvedRollout {
  return validateRollout(newTestRolloutRaw({ spec: { steps, ...extra } }));
}

/** What the world answers to a call: a value, a failure, or nothing yet (the call stays in flight). */
export type Answer = { value: unknown } | { failure: CallFailure } | 'pending';

/** The default world: everything works. */
export function okAnswer(c: CallCommand): Answer {
  const value: { [K in CallName]: (args: never) => CallResults[K] } = {
    preflight: () => ({
      ok: true, weights: { stable: 100, canary: 0 },
      runtime: {
        snapshot: { v: 0 }, writes: 'local', versions: VERSIONS,
        changes: [{ id: 'subsets', when: 'afterCanary', description: 'set subsets' }, { id: 'routes', when: 'afterCanary', description: 'add the canary at 0 %', carriesTraffic: true }],
      },
    }),
    ensureCanary: () => ({ name: 'storefront-original-canary', image: 'storefront:beta', uid: 'uid-1' }),
    waitAvailable: () => 'Available',
    trafficApply: () => ({ snapshot: { v: 1 }, weights: { stable: 100, canary: 0 } }),
    trafficSetWeight: () => {
      const w = (c.args[2] as { weight: number }).weight;
      return { applied: true, weights: { stable: 100 - w, canary: w } };
    },
    trafficUndo: () => ({ done: 'undone' }),
    trafficPromote: () => ({ snapshot: { v: 2 } }),
    trafficSetFeature: () => ({ snapshot: { v: 3 } }),
    trafficPropose: () => {
      const input = c.args[2] as { weight: number; branch: string };
      const expect = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', namespace: 'shop', name: 'storefront', path: 'vs.yaml', object: { weight: input.weight } };
      return { applied: true, weights: { stable: 100 - input.weight, canary: input.weight }, proposal: { branch: input.branch, commit: 'c0ffee0000000000000000000000000000000000', expect } };
    },
    waitMerged: () => ({ state: 'merged', head: 'beef000000000000000000000000000000000000', by: 'Alice <alice@example.com>' }),
    withdrawProposal: () => 'deleted',
    promoteStable: () => ({ image: 'storefront:beta' }),
    removeCanary: () => 'deleted',
    readCounters: () => ({ ok: true, canary: { requests: 1000, errors: 0 }, baseline: { requests: 1000, errors: 0 } }),
    readBaselineHistory: () => ({ ok: false, error: 'no history in tests' }),
    measureAnalysis: () => [{ metric: 'm', phase: 'Successful', value: 1, at: new Date(T0).toISOString() }],
  };
  return { value: (value[c.activity] as () => unknown)() };
}

export function fail(type: string, message: string): Answer {
  return { failure: { type, message, cancelled: false } };
}

export interface Driver {
  r: Rollout;
  spec: ResolvedRollout;
  now: number;
  /** Every call made so far, in order. */
  calls: CallCommand[];
  /** Commands other than calls (cancel, finish), in order. */
  others: MachineCommand[];
  /** The last plan. */
  last?: Plan;
  /** The call left in flight, if any. */
  pending?: CallCommand;
  /** Runs until the machine waits (or a call stays pending); `world` overrides answers. */
  run(world?: (c: CallCommand) => Answer | undefined): Driver;
  /** Answers the pending call. */
  answer(a: Answer): Driver;
  /** Moves the clock and fires a tick. */
  advance(ms: number): Driver;
  /** `activity` of every call, or `activity:summary` with details. */
  names(): string[];
}

export function drive(spec: ResolvedRollout, r: Rollout = newRollout(spec, 'jest', T0), now = T0): Driver {
  let world: (c: CallCommand) => Answer | undefined = () => undefined;
  const d: Driver = {
    r, spec, now, calls: [], others: [],
    run(w) {
      if (w) world = w;
      for (let i = 0; i < 500; i++) {
        const p = plan(d.r, d.spec, d.now);
        d.last = p;
        d.others.push(...p.commands.filter((c) => c.kind !== 'call'));
        if (d.pending) return d;
        const call = p.commands.find((c): c is CallCommand => c.kind === 'call');
        if (!call) return d;
        d.calls.push(call);
        const a = world(call) ?? okAnswer(call);
        if (a === 'pending') {
          d.pending = call;
          return d;
        }
        feed(call, a);
      }
      throw new Error('the machine did not settle in 500 calls');
    },
    answer(a) {
      const call = d.pending!;
      d.pending = undefined;
      if (a !== 'pending') feed(call, a);
      return d.run();
    },
    advance(ms) {
      d.now += ms;
      reduce(d.r, d.spec, { type: 'tick', at: d.now });
      return d.run();
    },
    names() {
      return d.calls.map((c) => c.activity);
    },
  };
  const feed = (call: CallCommand, a: Exclude<Answer, 'pending'>) => {
    if ('value' in a) reduce(d.r, d.spec, { type: 'result', id: call.id, value: a.value, at: d.now });
    else reduce(d.r, d.spec, { type: 'failure', id: call.id, failure: a.failure, at: d.now });
  };
  return d;
}

/** The finish command's result, once the machine has ended. */
export function resultOf(d: Driver) {
  const f = d.others.find((c) => c.kind === 'finish');
  return f?.kind === 'finish' ? f.result : undefined;
}
