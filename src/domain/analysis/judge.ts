/**
 * What every canary-vs-baseline judge takes and gives: cumulative counters of two workloads at one
 * look in, a decision with its evidence out. The judges (sequential-judge.ts, threshold-judge.ts)
 * are pure functions of their configuration, their previous state and this observation; the
 * counters come from the metrics backend through counters.ts.
 */

/** One cumulative histogram bucket, as Prometheus exposes `_bucket{le=…}`. */
export interface HistogramBucket {
  /** Upper bound (inclusive) in milliseconds, finite. */
  le: number;
  /** Requests at or below `le` since the counter started. */
  count: number;
}

/**
 * A cumulative latency histogram. The `+Inf` bucket is kept apart as `count`: observations and
 * state travel through JSON (activity results, workflow history), which has no Infinity.
 */
export interface Histogram {
  /** Finite buckets, ascending `le`. */
  buckets: HistogramBucket[];
  /** All observations: the `+Inf` bucket, i.e. `_count`. */
  count: number;
}

/** Cumulative counters of one workload at one time. */
export interface ArmCounters {
  /** Requests served. */
  requests: number;
  /** Requests answered with a 5xx. */
  errors: number;
  /** Request duration histogram in milliseconds; absent when the workload exposes none. */
  latency?: Histogram;
}

/** What a judge sees at one look. */
export interface JudgeObservation {
  /** When the counters were read, in epoch milliseconds (an input: judges never read a clock). */
  at: number;
  /** The canary's configured traffic weight at that time, in percent (0–100). */
  canaryWeight: number;
  /** Counters of the canary workload. */
  canary: ArmCounters;
  /** Counters of the baseline (stable) workload. */
  baseline: ArmCounters;
}

/** What the caller should do now. */
export type JudgeDecision = 'continue' | 'rollback' | 'promote';

/** A judge's answer at one look, with the evidence that explains it. */
export interface JudgeVerdict<Evidence> {
  /** Roll back, promote, or keep watching. */
  decision: JudgeDecision;
  /** Why, in words with numbers. */
  reason: string;
  /** The numbers behind the decision (counts, estimates, e-values, bounds). */
  evidence: Evidence;
}

/** A judge: pure, with its state passed in and handed back. */
export type Judge<Config, State, Evidence> = (
  config: Config,
  state: State | undefined,
  observation: JudgeObservation,
) => { state: State; verdict: JudgeVerdict<Evidence> };

/** Thrown when a judge's configuration is impossible (α outside (0, 1), negative sizes, …). */
export class JudgeConfigError extends Error {
  override name = 'JudgeConfigError';
}
