/**
 * The threshold judge: Flagger's check loop, for side-by-side comparison with the sequential judge
 * (docs/decisions/0007-sequential-judge.md). It judges the canary alone, one check per interval,
 * from the same cumulative counters; pure, with the same shape as `sequentialJudge`.
 */
import { evaluateMeasurement } from './evaluate';
import { boundsOf, increment, lastOf, type LastCounters } from './increments';
import type { JudgeObservation, JudgeVerdict } from './judge';
import { histogramQuantile } from './numerics';
import type { MetricSpec } from '../spec/analysis';

/**
 * Flagger's analysis, for comparison. Its documented defaults (https://docs.flagger.app/usage/metrics,
 * https://docs.flagger.app/usage/how-it-works): built-in `request-success-rate` with
 * `thresholdRange.min: 99` (percent of non-5xx responses) and `request-duration` with
 * `thresholdRange.max: 500` (P99, milliseconds), each over `interval: 1m`; the analysis runs every
 * `interval` ("schedule interval (default 60s)") and rolls back once the failed checks reach
 * `threshold` (5 in the documented examples: "max number of failed metric checks before rollback").
 * A check with no values counts as failed, as in Flagger. The canary alone is judged; the
 * baseline is ignored.
 */
export interface ThresholdConfig {
  /** Minimum share of non-5xx canary responses per interval, percent. */
  minSuccessRate: number;
  /** Maximum canary P99 latency per interval, milliseconds. */
  maxP99Ms: number;
  /** Time between checks, milliseconds. */
  intervalMs: number;
  /** Failed checks that trigger a rollback. */
  threshold: number;
}

/** Flagger's documented defaults (see `ThresholdConfig`). */
export const FLAGGER_DEFAULTS: Readonly<ThresholdConfig> = { minSuccessRate: 99, maxP99Ms: 500, intervalMs: 60_000, threshold: 5 };

/** State of the threshold judge. */
export interface ThresholdState {
  /** Time of the last check (the first look counts as one, without measuring). */
  checkedAt: number;
  /** Canary counters at the last check. */
  canary: LastCounters;
  /** Bucket bounds of `canary.buckets`. */
  le: number[];
  /** Checks done and failed so far. */
  checks: number;
  failedChecks: number;
}

/** Evidence of the threshold judge. */
export interface ThresholdEvidence {
  /** Checks done so far. */
  checks: number;
  /** Checks failed so far (rollback at `threshold`). */
  failedChecks: number;
  /** The last check's success rate (%) and P99 (ms), when it had data. */
  successRate?: number;
  p99Ms?: number;
  /** Why the last check failed, if it did. */
  lastFailure?: string;
}

const successMetric: MetricSpec = { name: 'request-success-rate', thresholdRange: { min: 99 }, noData: 'fail', vars: {} };
const durationMetric: MetricSpec = { name: 'request-duration', thresholdRange: { max: 500 }, noData: 'fail', vars: {} };

/** Flagger's check loop: one check per interval on the canary's last interval, rollback at `threshold` failures. */
export function thresholdJudge(
  config: ThresholdConfig,
  state: ThresholdState | undefined,
  obs: JudgeObservation,
): { state: ThresholdState; verdict: JudgeVerdict<ThresholdEvidence> } {
  const le = boundsOf(obs.canary);
  if (state === undefined) {
    const s: ThresholdState = { checkedAt: obs.at, canary: lastOf(obs.canary, le), le, checks: 0, failedChecks: 0 };
    return { state: s, verdict: { decision: 'continue', reason: 'first look: reference counters recorded', evidence: { checks: 0, failedChecks: 0 } } };
  }
  const progress = (s: ThresholdState) => `${s.failedChecks} of ${config.threshold} failed checks after ${s.checks}`;
  if (obs.at - state.checkedAt < config.intervalMs) {
    return { state, verdict: { decision: 'continue', reason: `next check at ${state.checkedAt + config.intervalMs}: ${progress(state)}`, evidence: { checks: state.checks, failedChecks: state.failedChecks } } };
  }
  const now = lastOf(obs.canary, state.le.length > 0 ? state.le : le);
  const dReq = increment(now.requests, state.canary.requests).d;
  const dErr = increment(now.errors, state.canary.errors).d;
  const dBuckets = now.buckets.map((v, i) => increment(v, state.canary.buckets[i] ?? NaN).d);
  const successRate = dReq > 0 ? 100 * (1 - dErr / dReq) : NaN;
  const p99 = histogramQuantile(0.99, state.le.length > 0 ? state.le : le, dBuckets);

  const asResult = (v: number) => (Number.isFinite(v) ? { kind: 'value' as const, value: v } : { kind: 'noData' as const, detail: 'no requests in the interval' });
  const success = evaluateMeasurement({ ...successMetric, thresholdRange: { min: config.minSuccessRate } }, asResult(successRate));
  const duration = evaluateMeasurement({ ...durationMetric, thresholdRange: { max: config.maxP99Ms } }, asResult(p99));
  const failures = [success, duration].filter((m) => m.phase === 'Failed').map((m) => `${m.metric} ${m.message ?? ''}`);

  const s: ThresholdState = {
    checkedAt: obs.at,
    canary: now,
    le: state.le.length > 0 ? state.le : le,
    checks: state.checks + 1,
    failedChecks: state.failedChecks + (failures.length > 0 ? 1 : 0),
  };
  const evidence: ThresholdEvidence = {
    checks: s.checks,
    failedChecks: s.failedChecks,
    ...(Number.isFinite(successRate) ? { successRate } : {}),
    ...(Number.isFinite(p99) ? { p99Ms: p99 } : {}),
    ...(failures.length > 0 ? { lastFailure: failures.join('; ') } : {}),
  };
  if (s.failedChecks >= config.threshold) {
    return { state: s, verdict: { decision: 'rollback', reason: `${progress(s)}: last ${failures.join('; ')}`, evidence } };
  }
  return { state: s, verdict: { decision: 'continue', reason: `${progress(s)}${failures.length > 0 ? `: ${failures.join('; ')}` : ''}`, evidence } };
}
