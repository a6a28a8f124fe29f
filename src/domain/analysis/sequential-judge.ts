/**
 * The sequential judge: the canary against its baseline (the stable workload) from cumulative
 * counters, one look at a time, with anytime-valid error control. Pure: time, counters and the
 * previous state are inputs; the state it returns is small plain JSON that can live in workflow
 * state and history. Rationale and options: docs/decisions/0007-sequential-judge.md. Its tests
 * are ratio tests (ratio-test.ts) on the numerics of numerics.ts; the threshold judge
 * (threshold-judge.ts) is Flagger's check loop for comparison.
 *
 * ## The sequential judge
 *
 * Three streams of events, each compared with the traffic that produced it:
 * - errors: a 5xx lands in the canary or in the baseline;
 * - slow requests: requests above the smallest histogram bound at or above the baseline's
 *   `latencyQuantile` (from the baseline's history at the first look, then from each completed
 *   batch, so the bound is always fixed before the data it counts);
 * - requests, against the configured weight (sample-ratio mismatch).
 *
 * Conditioning on the total number of events removes the unknown, time-varying base rate
 * (Lindon & Malek, "Anytime-Valid Inference for Multinomial Count Data", NeurIPS 2022): if the
 * canary's rate is ρ times the baseline's, an event lands in the canary with probability
 * π(ρ) = ρ·π₀ / (ρ·π₀ + 1 − π₀), where π₀ = n_c / (n_c + n_b) is the canary's observed share of
 * requests, so a split that differs from the weights biases nothing. Each test is a mixture, with
 * equal weights over a small grid of ρ, of likelihood ratios against its null; a mixture of test
 * martingales is one, and Ville's inequality bounds the probability that it ever reaches 1/α by
 * α, however often it is looked at. The likelihood is monotone in ρ, so "ρ ≤ 1" and "ρ ≥ 1 + δ"
 * are tested through their boundary points.
 *
 * - Roll back when the average of the error and latency e-values reaches 1/α (an average of
 *   e-processes is one: P(rollback | canary as good as baseline) ≤ α for the pair).
 * - Promote early when both "error ratio ≥ 1 + δ" and "slow-request ratio ≥ 1 + δ" are rejected
 *   at 1/α (intersection–union: promoting a canary worse than the tolerance on either metric has
 *   probability ≤ α).
 * - No decision before `minRequests` canary requests, no rollback carried by a metric with fewer
 *   than `minEvents` canary events, no promotion before `minPromoteRequests` or while the split
 *   mismatches. These only remove rejections, so the bounds hold.
 *
 * ## Why it survives minute-to-minute noise
 *
 * Requests are not independent: a pod, a dependency or a heavy client moves one arm's error rate
 * or latency for a minute, and the canary (few pods) moves more than the baseline (many). A
 * per-request binomial test takes 60 errors of one bad minute as 60 independent pieces of evidence
 * and rolls back healthy canaries. So the unit of evidence is a batch (`batchMs`, one minute by
 * default, the time scale of that noise), and within batch i the ratio itself is noisy: it is
 * ρ·e^{sZᵢ}, Zᵢ ~ N(0, 1), i.e. the canary/baseline ratio wanders by a factor e^{±s} from minute to
 * minute, as often up as down; "as good as the baseline" is ρ = 1. The batch's counts are then a
 * mixture of binomials, approximated by the beta-binomial with the same mean and variance of the
 * share (`shareMoments`: the mean matters — with noise the expected share exceeds π₀ when π₀ < ½,
 * and a beta centred on π₀ rolled back noisy A/A canaries twice as often as α). A beta-binomial
 * likelihood ratio is a martingale under its null even at looks inside a batch (its predictions
 * are a Pólya urn's), and one noisy batch carries bounded evidence: a single minute can push the
 * e-value only as far as that minute is implausible as noise. s = 0 is the plain binomial test.
 *
 * s starts at the configured `noise` and is re-estimated at each batch boundary from the completed
 * batches (Pearson residuals around the fitted ratio, each batch counting at most once, shrunk to
 * the prior with a weight of `noisePriorBatches` batches), so a canary noisier than the prior
 * widens its own allowance and a quiet one narrows it. Only completed batches feed the estimate,
 * so the noise a batch is judged with is fixed before its data arrive. The benchmark
 * (bench/analysis, results in bench/results/analysis.md) measures the false-rollback rate under
 * noise that differs between the arms.
 *
 * ## API
 *
 * `sequentialJudge(config, state, observation) → { state, verdict }`: pass `undefined` as state on
 * the first look (which only records the reference counters) and the returned state afterwards.
 * `observation` carries cumulative counters (as Prometheus keeps them; a counter that goes down
 * was reset) and the configured canary weight at that time. The state holds about 150 numbers
 * (2 KB with Istio's 19 buckets) whatever the number of looks.
 */
import { formatValue } from './evaluate';
import { boundsOf, bucketCounts, increment, lastOf, type LastCounters } from './increments';
import { JudgeConfigError, type ArmCounters, type JudgeObservation, type JudgeVerdict } from './judge';
import { addTo, buildGrid, closeBatch, newRatioTest, readRatioTest, type RatioGrid, type RatioTestState } from './ratio-test';

// ---- configuration ---------------------------------------------------------------------------

/** Settings of the sequential judge; `resolveSequentialConfig` fills the defaults. */
export interface SequentialConfig {
  /** Bound on P(rollback | canary as good as baseline), and on P(promote | canary worse than tolerance). */
  alpha: number;
  /** δ: the canary is "no worse" when its error and slow-request ratios are ≤ 1 + δ. */
  tolerance: number;
  /** Requests slower than this quantile of the baseline count as slow. */
  latencyQuantile: number;
  /** Canary requests before any decision. */
  minRequests: number;
  /** Canary errors (or slow requests) before a rollback on errors (or latency). */
  minEvents: number;
  /** Canary requests before an early promotion. */
  minPromoteRequests: number;
  /** Length of a batch, the unit of minute-to-minute noise, in milliseconds. */
  batchMs: number;
  /** Prior standard deviation of the per-batch log ratio canary/baseline that is noise, not signal (errors). */
  noise: number;
  /**
   * The same prior for the slow-request share. Absent in configurations resolved before it existed
   * (running rollouts): those judge latency with `noise`, as they always did.
   */
  latencyNoise?: number;
  /** The noise estimate never goes below this (0: the data may narrow the prior without limit). */
  noiseFloor: number;
  /** Weight of that prior, in batches, against the noise estimated from completed batches. */
  noisePriorBatches: number;
  /** The same prior for the traffic split (routing is per request, so it is much smaller). */
  splitNoise: number;
  /** τ: a split is a mismatch once its odds are shown outside [1/(1 + τ), 1 + τ] × the configured odds. */
  splitTolerance: number;
  /** Whether the judge may promote before the analysis ends. */
  promote: boolean;
  /**
   * Batches of the baseline's history read before the first look to calibrate the noise priors
   * (src/domain/analysis/calibrate.ts); 0 turns calibration off. Absent in configurations resolved
   * before it existed (running rollouts): those are not calibrated, as they never were.
   */
  calibrationBatches?: number;
  /** Calibration never narrows a prior below this per-batch log-sd. */
  calibrationFloor?: number;
  /** How much more the canary is assumed to wander than the baseline (s_canary = k · s_baseline). */
  canaryNoiseFactor?: number;
  /**
   * The judge's revision. Absent (1): configurations resolved before revision 2 (running rollouts),
   * judged as they always were. 2: decisions on completed batches only, noise that lasts across
   * batches, the tail test, absent series read as zero (docs/decisions/0016-real-world-signals.md).
   */
  revision?: 2;
  /** Revision 2: correlation φ of the noise between consecutive batches (0: independent batches). */
  noiseCorrelation?: number;
  /** Revision 2: requests slower than this quantile of the baseline count for the tail test. */
  tailQuantile?: number;
  /** Revision 2: the noise prior of the tail test (the share above a high bound wanders most). */
  tailNoise?: number;
  /** Revision 2: calibration may widen a prior up to this per-batch log-sd for a baseline that wanders more than the prior allows. */
  calibrationCeiling?: number;
}

/**
 * At most this many batches of history are read for calibration: the counters come back as one
 * local-activity result in workflow history (about 600 bytes a batch with Istio's buckets), so
 * two hours of one-minute batches stay under 80 KB.
 */
export const MAX_CALIBRATION_BATCHES = 120;

/** The noise prior of the latency test (older configurations have none: they use `noise`). */
const latencyNoiseOf = (c: SequentialConfig): number => c.latencyNoise ?? c.noise;
/** The noise prior of the tail test. */
const tailNoiseOf = (c: SequentialConfig): number => c.tailNoise ?? latencyNoiseOf(c);
/** Whether a configuration is judged by revision 2. */
export const isRevision2 = (c: SequentialConfig): boolean => c.revision === 2;

/** Defaults: α 5 %, tolerance +50 %, slow = above the baseline's p90, one-minute batches. */
export const SEQUENTIAL_DEFAULTS: Readonly<SequentialConfig> = {
  alpha: 0.05,
  tolerance: 0.5,
  latencyQuantile: 0.9,
  minRequests: 100,
  minEvents: 5,
  minPromoteRequests: 1000,
  batchMs: 60_000,
  noise: 0.5,
  noiseFloor: 0,
  noisePriorBatches: 10,
  splitNoise: 0.05,
  splitTolerance: 0.2,
  promote: true,
  calibrationBatches: 30,
  calibrationFloor: 0.35,
  canaryNoiseFactor: 2,
  revision: 2,
  noiseCorrelation: 0.8,
  tailQuantile: 0.99,
  tailNoise: 0.6,
  calibrationCeiling: 1,
};

/**
 * A configuration as a rollout started before revision 2 has it frozen in its input: the same
 * settings without revision 2's fields (for the benchmark's comparison and the tests of revision 1).
 */
export function asRevision1(config: SequentialConfig): SequentialConfig {
  const { revision: _r, noiseCorrelation: _n, tailQuantile: _q, tailNoise: _t, calibrationCeiling: _c, ...v1 } = config;
  return v1;
}

/** Fills defaults and rejects impossible values with a message naming the field. */
export function resolveSequentialConfig(partial: Partial<SequentialConfig> = {}): SequentialConfig {
  const c: SequentialConfig = { ...SEQUENTIAL_DEFAULTS, ...partial };
  // Unless set apart, latency gets the same noise prior as errors (written out: configurations are frozen into workflow inputs).
  c.latencyNoise = partial.latencyNoise ?? c.noise;
  const open01 = (name: keyof SequentialConfig, v: number) => {
    if (!(v > 0 && v < 1)) throw new JudgeConfigError(`sequential judge: ${name} must be between 0 and 1 (exclusive), got ${v}`);
  };
  const atLeast = (name: keyof SequentialConfig, v: number, min: number) => {
    if (!(Number.isFinite(v) && v >= min)) throw new JudgeConfigError(`sequential judge: ${name} must be a number ≥ ${min}, got ${v}`);
  };
  open01('alpha', c.alpha);
  open01('latencyQuantile', c.latencyQuantile);
  atLeast('minRequests', c.minRequests, 1);
  atLeast('minEvents', c.minEvents, 1);
  atLeast('minPromoteRequests', c.minPromoteRequests, 1);
  atLeast('batchMs', c.batchMs, 1000);
  atLeast('noise', c.noise, 0);
  atLeast('latencyNoise', c.latencyNoise, 0);
  atLeast('noiseFloor', c.noiseFloor, 0);
  atLeast('noisePriorBatches', c.noisePriorBatches, 0);
  atLeast('splitNoise', c.splitNoise, 0);
  atLeast('calibrationBatches', c.calibrationBatches ?? 0, 0);
  if (!Number.isInteger(c.calibrationBatches ?? 0) || (c.calibrationBatches ?? 0) > MAX_CALIBRATION_BATCHES) {
    throw new JudgeConfigError(`sequential judge: calibrationBatches must be a whole number of batches from 0 (off) to ${MAX_CALIBRATION_BATCHES}, got ${c.calibrationBatches}`);
  }
  atLeast('calibrationFloor', c.calibrationFloor ?? 0, 0);
  atLeast('canaryNoiseFactor', c.canaryNoiseFactor ?? 0, 0);
  if (c.revision !== undefined && c.revision !== 2) throw new JudgeConfigError(`sequential judge: revision must be 2 (or absent for revision 1), got ${String(c.revision)}`);
  if (c.noiseCorrelation !== undefined && !(c.noiseCorrelation >= 0 && c.noiseCorrelation < 1)) {
    throw new JudgeConfigError(`sequential judge: noiseCorrelation must be in [0, 1), got ${c.noiseCorrelation}`);
  }
  if (c.tailQuantile !== undefined) open01('tailQuantile', c.tailQuantile);
  if (c.tailQuantile !== undefined && !(c.tailQuantile > c.latencyQuantile)) {
    throw new JudgeConfigError(`sequential judge: tailQuantile (${c.tailQuantile}) must be above latencyQuantile (${c.latencyQuantile})`);
  }
  atLeast('tailNoise', c.tailNoise ?? 0, 0);
  atLeast('calibrationCeiling', c.calibrationCeiling ?? 0, 0);
  if ((c.canaryNoiseFactor ?? 0) > 10) throw new JudgeConfigError(`sequential judge: canaryNoiseFactor must be between 0 and 10, got ${c.canaryNoiseFactor}`);
  if (!(c.tolerance > 0 && c.tolerance <= 10)) throw new JudgeConfigError(`sequential judge: tolerance must be in (0, 10], got ${c.tolerance}`);
  if (!(c.splitTolerance > 0 && c.splitTolerance <= 10)) throw new JudgeConfigError(`sequential judge: splitTolerance must be in (0, 10], got ${c.splitTolerance}`);
  if (c.noise > 3 || (c.latencyNoise ?? 0) > 3 || (c.tailNoise ?? 0) > 3 || c.splitNoise > 3 || c.noiseFloor > 3 || (c.calibrationFloor ?? 0) > 3 || (c.calibrationCeiling ?? 0) > 3) throw new JudgeConfigError('sequential judge: noise above 3 (a factor of 20 per batch) leaves nothing to detect');
  return c;
}

// ---- the grids -------------------------------------------------------------------------------

// Alternatives as multiples of the null: equal weights, wide enough for ×1.25 … ×30 regressions.
const UP_FACTORS = [1.25, 1.5, 2, 3, 5, 10, 30];
const DOWN_FACTORS = [1.25, 1.5, 2, 3];
// The split's alternatives start closer to its tolerance: with thousands of requests a minute, a
// split just outside it is worth reporting, and an alternative farther from the truth than the
// null is would never gather evidence.
const SPLIT_FACTORS = [1.1, 1.25, 1.5, 2, 4];

// ---- the sequential judge -----------------------------------------------------------------------

/** State of the sequential judge: plain JSON, O(1) in the number of looks. */
export interface SequentialState {
  /** Layout version: bump it (behind `patched()`) when the shape changes. */
  v: 1;
  /** Time of the first look: batches are counted from it. */
  start: number;
  /** Time of the last look. */
  at: number;
  /** Index of the batch in progress. */
  batch: number;
  /** Finite bucket bounds the histograms use (from the first look that had them). */
  le: number[];
  /** The canary's counters at the last look. */
  canary: LastCounters;
  /** The baseline's counters at the last look. */
  baseline: LastCounters;
  /** Baseline bucket increments in the batch in progress (the next batch's slow threshold comes from them). */
  batchBaseline: number[];
  /** Bound above which a request counts as slow in the batch in progress (ms), null until known. */
  slowMs: number | null;
  /** The error test. */
  errors: RatioTestState;
  /** The slow-request test. */
  latency: RatioTestState;
  /** The traffic split test (requests against the configured weight). */
  split: RatioTestState;
  /** Counter resets seen (a counter that went down). */
  resets: number;
  /** Revision 2: the tail test (requests above `tailMs`). */
  tail?: RatioTestState;
  /** Revision 2: bound above which a request counts for the tail test (ms), null until known. */
  tailMs?: number | null;
}

/** One metric's evidence. */
export interface MetricEvidence {
  /** Canary events (errors, or slow requests) and requests counted. */
  canary: { events: number; requests: number };
  /** Baseline events and requests counted. */
  baseline: { events: number; requests: number };
  /** Canary event rate / baseline event rate; null until the baseline had events. */
  ratio: number | null;
  /** Anytime-valid confidence set for the ratio (grid points not excluded at α), when one is left. */
  bounds: [number, number] | null;
  /** E-value against "canary no worse than baseline" (ratio ≤ 1). */
  eRollback: number;
  /** E-value against "canary worse than tolerance" (ratio ≥ 1 + δ). */
  ePromote: number;
  /** Noise s (log-ratio standard deviation per batch) the batch in progress is judged with. */
  noise: number;
}

/** Everything the sequential judge's verdict rests on. */
export interface SequentialEvidence {
  /** Time of the look, epoch milliseconds. */
  at: number;
  /** Milliseconds since the first look. */
  elapsedMs: number;
  /** Batches completed. */
  batches: number;
  /** The error test. */
  errors: MetricEvidence;
  /** The slow-request test. */
  latency: MetricEvidence & { /** Slow means above this bound (ms); null until the baseline had latency data. */ slowMs: number | null };
  /** Revision 2: the tail test (requests above the bound at the baseline's `tailQuantile`); absent in revision 1. */
  tail?: MetricEvidence & { slowMs: number | null };
  /** The traffic split test. */
  split: {
    /** The canary's configured share of requests (time-weighted over the looks), 0–1; null before any. */
    configured: number | null;
    /** Its observed share; null before any request. */
    observed: number | null;
    /** E-value against "the split is within tolerance". */
    eMismatch: number;
    /** True once that e-value reached 1/α: promotion is withheld. */
    mismatch: boolean;
  };
  /** The levels the e-values are compared with. */
  thresholds: { rollback: number; promote: number; alpha: number };
  /** Counter resets seen so far. */
  resets: number;
}

/** Grids for a configuration (pure and cheap; recomputed at each look rather than stored). */
function gridsFor(config: SequentialConfig): { metric: RatioGrid; split: RatioGrid } {
  const t = 1 + config.splitTolerance;
  return {
    metric: buildGrid(1, 1 + config.tolerance, UP_FACTORS, DOWN_FACTORS),
    split: buildGrid(t, 1 / t, SPLIT_FACTORS, SPLIT_FACTORS),
  };
}

/** The first look: remembers the counters, decides nothing. */
function initialState(config: SequentialConfig, obs: JudgeObservation): SequentialState {
  const grids = gridsFor(config);
  const le = boundsOf(obs.baseline);
  const v2 = isRevision2(config);
  const s: SequentialState = {
    v: 1,
    start: obs.at,
    at: obs.at,
    batch: 0,
    le,
    canary: lastOfArm(config, obs.canary, le),
    baseline: lastOfArm(config, obs.baseline, le),
    batchBaseline: [...le, 0].map(() => 0),
    // The baseline's whole history before the first look sets the first slow bound: it is
    // known before any counted event, so the test stays exact.
    slowMs: initialSlowBound(obs.baseline, config.latencyQuantile),
    errors: newRatioTest(grids.metric, config.noise, v2),
    latency: newRatioTest(grids.metric, latencyNoiseOf(config), v2),
    split: newRatioTest(grids.split, config.splitNoise),
    resets: 0,
  };
  if (!v2) return s;
  return { ...s, tail: newRatioTest(grids.metric, tailNoiseOf(config), true), tailMs: initialSlowBound(obs.baseline, config.tailQuantile ?? 0.99) };
}

/**
 * What the next look needs of an arm's counters. Revision 2 reads an arm with no series at all (no
 * requests, no histogram: a new canary before its first request, or before its first scrape) as
 * zero in every bucket, so the requests it serves next are counted with their latencies; revision 1
 * read it as unknown and dropped that interval's latency evidence.
 */
function lastOfArm(config: SequentialConfig, arm: ArmCounters, le: number[]): LastCounters {
  const last = lastOf(arm, le);
  const absent = arm.latency === undefined && arm.requests === 0 && arm.errors === 0;
  return isRevision2(config) && absent ? { ...last, buckets: last.buckets.map(() => 0) } : last;
}

/**
 * The smallest bucket bound at or above the q-quantile of cumulative counts (or of increments of
 * cumulative counts, which are cumulative too), or null with fewer than 20 requests or when the
 * quantile lies beyond the last finite bound.
 */
function slowBound(le: number[], cumulative: number[], q: number, minTotal = 20): number | null {
  const total = cumulative[le.length];
  if (total === undefined || !(total >= minTotal)) return null;
  for (let i = 0; i < le.length; i++) if (cumulative[i]! >= q * total) return le[i]!;
  return null;
}

/**
 * The slow bound the judge starts with, from a baseline's cumulative counters (its whole history
 * before the first look): also what noise calibration measures the slow share against.
 */
export function initialSlowBound(baseline: ArmCounters, q: number): number | null {
  const le = boundsOf(baseline);
  return slowBound(le, bucketCounts(baseline.latency, le), q);
}

/** Requests above `slowMs` in an arm's cumulative histogram; NaN without that bucket. */
export function slowRequests(arm: ArmCounters, slowMs: number): number {
  const le = boundsOf(arm);
  return slowCount(bucketCounts(arm.latency, le), le, slowMs);
}

/** Requests above `slowMs`, from cumulative buckets: count(+Inf) − count(le = slowMs). */
function slowCount(buckets: number[], le: number[], slowMs: number | null): number {
  if (slowMs === null) return NaN;
  const i = le.indexOf(slowMs);
  return i < 0 ? NaN : buckets[le.length]! - buckets[i]!;
}

function finite(arm: ArmCounters): boolean {
  return Number.isFinite(arm.requests) && Number.isFinite(arm.errors) && arm.requests >= 0 && arm.errors >= 0;
}

const fmtE = (logE: number) => (logE > Math.log(1e6) ? '>1e6' : formatValue(Math.exp(logE)));
const pct = (x: number, n: number) => (n > 0 ? `${formatValue((100 * x) / n)}%` : 'n/a');

/**
 * Judges one look. The first call (state `undefined`) records the reference counters and returns
 * `continue`; later calls count the increments since the previous look.
 */
export function sequentialJudge(
  config: SequentialConfig,
  state: SequentialState | undefined,
  obs: JudgeObservation,
): { state: SequentialState; verdict: JudgeVerdict<SequentialEvidence> } {
  const grids = gridsFor(config);
  if (state === undefined) {
    const s = initialState(config, obs);
    return { state: s, verdict: { decision: 'continue', reason: 'first look: reference counters recorded', evidence: evidenceOf(config, grids, s) } };
  }
  if (!finite(obs.canary) || !finite(obs.baseline) || !(obs.at > state.at)) {
    const why = !(obs.at > state.at) ? `look at ${obs.at} is not after the previous one (${state.at})` : 'counters missing or not finite';
    return { state, verdict: { decision: 'continue', reason: `no data: ${why}; nothing counted`, evidence: evidenceOf(config, grids, state) } };
  }
  const v2 = isRevision2(config);

  let s: SequentialState = state;
  // Revision 1: a look at time t belongs to batch ⌈(t − start) / batchMs⌉ − 1, and the batch before
  // it closes when the first look of the next one arrives. (Revision 2 closes a batch at the look
  // that ends it, below, so its evidence counts at that look.)
  const batchOfLook = Math.max(0, Math.ceil((obs.at - s.start) / config.batchMs) - 1);
  if (!v2 && batchOfLook > s.batch) s = closeBatches(config, grids, s, batchOfLook);

  // Bucket bounds are fixed at the first look that has them; until then there is no latency test.
  const le = s.le.length > 0 ? s.le : boundsOf(obs.baseline);
  const now = { canary: lastOfArm(config, obs.canary, le), baseline: lastOfArm(config, obs.baseline, le) };
  const prevBuckets = (last: LastCounters) => (s.le.length > 0 ? last.buckets : [...le, 0].map(() => NaN));
  const prev = {
    canary: { ...s.canary, buckets: prevBuckets(s.canary) },
    baseline: { ...s.baseline, buckets: prevBuckets(s.baseline) },
  };
  let resets = 0;
  const inc = (a: number, b: number) => {
    const r = increment(a, b);
    if (r.reset) resets++;
    return r.d;
  };
  const dReq = { c: inc(now.canary.requests, prev.canary.requests), b: inc(now.baseline.requests, prev.baseline.requests) };
  const dErr = { c: inc(now.canary.errors, prev.canary.errors), b: inc(now.baseline.errors, prev.baseline.errors) };
  // Slow counts use the bound fixed before this look's data (s.slowMs), never one chosen from it.
  const above = (bound: number | null | undefined) => {
    const v = [now.canary, prev.canary, now.baseline, prev.baseline].map((a) => slowCount(a.buckets, le, bound ?? null));
    return v.every((x) => Number.isFinite(x)) ? { c: inc(v[0]!, v[1]!), b: inc(v[2]!, v[3]!) } : null;
  };
  const dSlow = above(s.slowMs);
  const dTail = v2 ? above(s.tailMs) : null;
  const dBaseBuckets = now.baseline.buckets.map((v, i) => (Number.isFinite(v) && Number.isFinite(prev.baseline.buckets[i]) ? increment(v, prev.baseline.buckets[i]!).d : 0));
  const dt = obs.at - s.at;
  const w = Math.min(1, Math.max(0, obs.canaryWeight / 100));

  const upd = (t: RatioTestState, x: number, y: number, nx: number, ny: number): RatioTestState => ({
    ...t,
    batch: addTo(t.batch, x, y, nx, ny),
    total: addTo(t.total, x, y, nx, ny),
  });
  s = {
    ...s,
    at: obs.at,
    le,
    canary: now.canary,
    baseline: now.baseline,
    batchBaseline: s.batchBaseline.length === dBaseBuckets.length ? s.batchBaseline.map((v, i) => v + dBaseBuckets[i]!) : dBaseBuckets,
    errors: upd(s.errors, dErr.c, dErr.b, dReq.c, dReq.b),
    latency: dSlow ? upd(s.latency, dSlow.c, dSlow.b, dReq.c, dReq.b) : s.latency,
    split: w > 0 && w < 1 ? upd(s.split, dReq.c, dReq.b, w * dt, (1 - w) * dt) : s.split,
    resets: s.resets + resets,
    slowMs: s.slowMs ?? slowBound(le, now.baseline.buckets, config.latencyQuantile),
  };
  if (v2) {
    s = {
      ...s,
      tail: s.tail && dTail ? upd(s.tail, dTail.c, dTail.b, dReq.c, dReq.b) : s.tail,
      tailMs: s.tailMs ?? slowBound(le, now.baseline.buckets, config.tailQuantile ?? 0.99),
    };
    // The look that reaches the end of the batch in progress closes it; after a gap, the next batch
    // is the one the look's time falls in.
    const ended = Math.floor((obs.at - s.start) / config.batchMs);
    if (ended > s.batch) s = closeBatches(config, grids, s, ended);
  }

  const evidence = evidenceOf(config, grids, s);
  return { state: s, verdict: decide(config, s, evidence) };
}

/** Closes the batch in progress and moves on to batch `next`. */
function closeBatches(config: SequentialConfig, grids: { metric: RatioGrid; split: RatioGrid }, s: SequentialState, next: number): SequentialState {
  const phi = isRevision2(config) ? config.noiseCorrelation ?? 0 : 0;
  const close = (t: RatioTestState, prior: number) => closeBatch(grids.metric, t, prior, config.noisePriorBatches, config.noiseFloor, phi);
  return {
    ...s,
    batch: next,
    errors: close(s.errors, config.noise),
    latency: close(s.latency, latencyNoiseOf(config)),
    split: closeBatch(grids.split, s.split, config.splitNoise, config.noisePriorBatches, 0),
    ...(s.tail ? { tail: close(s.tail, tailNoiseOf(config)) } : {}),
    // The next batch's slow bound comes from the baseline of the batch just closed.
    // (Increments of cumulative buckets are themselves cumulative in `le`.)
    slowMs: slowBound(s.le, s.batchBaseline, config.latencyQuantile) ?? s.slowMs,
    // So does the tail bound, from a batch with enough baseline requests for its quantile to be
    // more than one request: a baseline whose latency moved since its history (a slow start, a
    // noisy machine) is compared with what it does now.
    ...(s.tail ? { tailMs: slowBound(s.le, s.batchBaseline, config.tailQuantile ?? 0.99, tailBoundRequests(config)) ?? s.tailMs ?? null } : {}),
    batchBaseline: [...s.le, 0].map(() => 0),
  };
}

/** Baseline requests a batch needs before its tail quantile sets the next tail bound (ten above it). */
function tailBoundRequests(config: SequentialConfig): number {
  return Math.ceil(10 / (1 - (config.tailQuantile ?? 0.99)));
}

/** e^x, finite: evidence is JSON, where Infinity would turn into null. */
const eValue = (logE: number) => Math.min(Math.exp(logE), Number.MAX_VALUE);

function metricEvidence(grid: RatioGrid, t: RatioTestState, alpha: number, completedOnly: boolean): MetricEvidence {
  const r = readRatioTest(grid, t, alpha, completedOnly);
  return {
    canary: { events: t.total.x, requests: t.total.nx },
    baseline: { events: t.total.y, requests: t.total.ny },
    ratio: t.total.nx > 0 && t.total.ny > 0 && t.total.y > 0 ? (t.total.x / t.total.nx) / (t.total.y / t.total.ny) : null,
    bounds: r.bounds,
    eRollback: eValue(r.logUp),
    ePromote: eValue(r.logDown),
    noise: t.noise,
  };
}

function evidenceOf(config: SequentialConfig, grids: { metric: RatioGrid; split: RatioGrid }, s: SequentialState): SequentialEvidence {
  // Revision 2 decides on completed batches only: the evidence it shows is the evidence it decides on.
  const completed = isRevision2(config);
  const sp = readRatioTest(grids.split, s.split, config.alpha, completed);
  const eMismatch = (eValue(sp.logUp) + eValue(sp.logDown)) / 2;
  const t = s.split.total;
  return {
    at: s.at,
    elapsedMs: s.at - s.start,
    batches: s.batch,
    errors: metricEvidence(grids.metric, s.errors, config.alpha, completed),
    latency: { ...metricEvidence(grids.metric, s.latency, config.alpha, completed), slowMs: s.slowMs },
    ...(s.tail ? { tail: { ...metricEvidence(grids.metric, s.tail, config.alpha, completed), slowMs: s.tailMs ?? null } } : {}),
    split: {
      configured: t.nx + t.ny > 0 ? t.nx / (t.nx + t.ny) : null,
      observed: t.x + t.y > 0 ? t.x / (t.x + t.y) : null,
      eMismatch,
      mismatch: eMismatch >= 1 / config.alpha,
    },
    thresholds: { rollback: 1 / config.alpha, promote: 1 / config.alpha, alpha: config.alpha },
    resets: s.resets,
  };
}

function describe(name: string, unit: string, m: MetricEvidence): string {
  const b = m.bounds ? `, ratio in [${formatValue(m.bounds[0])}, ${formatValue(m.bounds[1])}]` : '';
  const ratio = m.ratio !== null ? `${formatValue(m.ratio)}× baseline`
    : m.canary.events > 0 && m.baseline.events === 0 ? 'against none in the baseline' : 'ratio n/a';
  return `${name} ${ratio} `
    + `(canary ${pct(m.canary.events, m.canary.requests)} ${unit} of ${formatValue(m.canary.requests)}, `
    + `baseline ${pct(m.baseline.events, m.baseline.requests)} of ${formatValue(m.baseline.requests)}${b})`;
}

function decide(config: SequentialConfig, s: SequentialState, ev: SequentialEvidence): JudgeVerdict<SequentialEvidence> {
  const level = 1 / config.alpha;
  const canaryRequests = s.errors.total.nx;
  const split = ev.split.mismatch
    ? `; traffic split mismatch: canary got ${formatValue(100 * (ev.split.observed ?? NaN))}% of requests, configured ${formatValue(100 * (ev.split.configured ?? NaN))}% (e-value ${fmtE(Math.log(ev.split.eMismatch))})`
    : '';
  const slow = `latency above ${ev.latency.slowMs ?? '?'} ms`;
  if (canaryRequests < config.minRequests) {
    return { decision: 'continue', reason: `waiting for data: ${formatValue(canaryRequests)} canary requests of ${config.minRequests} needed${split}`, evidence: ev };
  }

  // The rollback e-value is the average of the tests' (an average of e-processes is one).
  const tail = ev.tail ? `latency above ${ev.tail.slowMs ?? '?'} ms` : '';
  const tests: { name: 'errors' | 'latency' | 'tail'; m: MetricEvidence; what: () => string }[] = [
    { name: 'errors', m: ev.errors, what: () => describe('canary errors', 'errors', ev.errors) },
    { name: 'latency', m: ev.latency, what: () => describe('canary slow requests', slow, ev.latency) },
    ...(ev.tail ? [{ name: 'tail' as const, m: ev.tail, what: () => describe('canary tail requests', tail, ev.tail!) }] : []),
  ];
  const eRollback = tests.reduce((a, t) => a + t.m.eRollback, 0) / tests.length;
  const worst = tests.reduce((a, t) => (t.m.eRollback > a.m.eRollback ? t : a));
  if (eRollback >= level && worst.m.canary.events >= config.minEvents) {
    const parts = tests.map((t) => `${t.name} ${fmtE(Math.log(t.m.eRollback))}`).join(', ');
    return {
      decision: 'rollback',
      reason: `${worst.what()}; e-value ${fmtE(Math.log(eRollback))} ≥ ${formatValue(level)} (α ${config.alpha}: ${parts})${split}`,
      evidence: ev,
    };
  }

  const shown = ev.errors.ePromote >= level && ev.latency.ePromote >= level;
  if (config.promote && shown && canaryRequests >= config.minPromoteRequests && !ev.split.mismatch) {
    return {
      decision: 'promote',
      reason: `canary shown no worse than ${formatValue(1 + config.tolerance)}× baseline: ${describe('errors', 'errors', ev.errors)}, e-value ${fmtE(Math.log(ev.errors.ePromote))}; `
        + `${describe('slow requests', slow, ev.latency)}, e-value ${fmtE(Math.log(ev.latency.ePromote))} (both ≥ ${formatValue(level)})`,
      evidence: ev,
    };
  }

  const pending = shown && !config.promote ? '; no worse than tolerance, early promotion disabled'
    : shown && canaryRequests < config.minPromoteRequests ? `; no worse than tolerance, promotion waits for ${config.minPromoteRequests} canary requests`
      : '';
  return {
    decision: 'continue',
    reason: `no decision yet: ${describe('errors', 'errors', ev.errors)}, rollback e-value ${fmtE(Math.log(ev.errors.eRollback))}; `
      + `${describe('slow requests', slow, ev.latency)}, rollback e-value ${fmtE(Math.log(ev.latency.eRollback))}`
      + `${ev.tail ? `; ${describe('tail requests', tail, ev.tail)}, rollback e-value ${fmtE(Math.log(ev.tail.eRollback))}` : ''}`
      + ` (rollback at ${formatValue(level)} averaged)${pending}${split}`,
    evidence: ev,
  };
}
