/** Builders of judge observations for the judges' unit tests. */
import type { ArmCounters, Histogram, JudgeObservation } from '../../../../src/domain/analysis/judge';
import { sequentialJudge, type SequentialConfig, type SequentialState } from '../../../../src/domain/analysis/sequential-judge';

/** Epoch ms of the first look. */
export const T0 = 1_700_000_000_000;
/** Finite bucket bounds of the test histograms, ms. */
export const LE = [25, 50, 100, 250, 500, 1000];

/** A histogram with `n` requests spread over LE by fractions `shares` (one per bound, then +Inf). */
export function hist(n: number, shares = [0.05, 0.25, 0.3, 0.3, 0.05, 0.03, 0.02]): Histogram {
  let cum = 0;
  const buckets = LE.map((le, i) => {
    cum += Math.round(n * shares[i]!);
    return { le, count: cum };
  });
  return { buckets, count: n };
}

/** One workload's cumulative counters, with or without a latency histogram. */
export function arm(requests: number, errors: number, latency?: Histogram): ArmCounters {
  return latency === undefined ? { requests, errors } : { requests, errors, latency };
}

/** A look `seconds` after T0 at the canary weight `canaryWeight` (percent). */
export function newObservation(seconds: number, canary: ArmCounters, baseline: ArmCounters, canaryWeight = 10): JudgeObservation {
  return { at: T0 + seconds * 1000, canaryWeight, canary, baseline };
}

/** Feeds observations to the sequential judge in order; returns every verdict and the final state. */
export function feed(config: SequentialConfig, observations: JudgeObservation[]) {
  let state: SequentialState | undefined;
  const verdicts = observations.map((o) => {
    const r = sequentialJudge(config, state, o);
    state = r.state;
    return r.verdict;
  });
  return { verdicts, state: state! };
}
