/**
 * Canary analysis, purely: a query result becomes a measurement (pass / fail / inconclusive /
 * error), and the history of measurements decides whether the analysis is still running or has
 * succeeded, failed, turned inconclusive or errored. Semantics follow Argo Rollouts' AnalysisRun
 * (per-metric limits, consecutive errors, worst metric wins). Time is an input, never read here.
 */
import type { QueryFailure, QueryResult } from './query-result';
import type { AnalysisSpec, MetricSpec } from '../spec/analysis';

/** The outcome of one measurement of one metric. */
export const MeasurementPhase = {
  /** The value was inside the threshold range. */
  Successful: 'Successful',
  /** The value was outside the range, or there was no data and the metric says `noData: fail`. */
  Failed: 'Failed',
  /** No data (the default for an empty or NaN result): neither a pass nor a failure. */
  Inconclusive: 'Inconclusive',
  /** The measurement could not be taken (backend unreachable, bad query, several series). */
  Error: 'Error',
} as const;
export type MeasurementPhase = (typeof MeasurementPhase)[keyof typeof MeasurementPhase];

/** Where an analysis (or one of its metrics) stands. */
export const AnalysisPhase = {
  /** More measurements are due: count not reached, or a background analysis that runs until stopped. */
  Running: 'Running',
  /** `count` measurements were taken and no limit was exceeded. */
  Successful: 'Successful',
  /** A metric failed more often than its failureLimit allows: roll back. */
  Failed: 'Failed',
  /** A metric was inconclusive more often than inconclusiveLimit allows: a person decides. */
  Inconclusive: 'Inconclusive',
  /** A metric errored more times in a row than consecutiveErrorLimit allows. */
  Error: 'Error',
} as const;
export type AnalysisPhase = (typeof AnalysisPhase)[keyof typeof AnalysisPhase];

/** One measurement of one metric. */
export interface Measurement {
  /** The metric's name (unique within its analysis). */
  metric: string;
  /** Pass, fail, inconclusive or error. */
  phase: MeasurementPhase;
  /** The query's value, when it returned one. */
  value?: number;
  /** Why this phase, in words (the failing bound, the missing data, the error). */
  message?: string;
  /** When the measurement was taken, ISO 8601 (an input: pure code reads no clock). */
  at: string;
}

/** Measurement counters, as Argo keeps them per metric. */
export interface MeasurementCounts {
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  /** Errors since the last non-error measurement. */
  consecutiveErrors: number;
}

/** How one metric stands after its measurements so far. */
export interface MetricAssessment {
  /** The metric's name. */
  metric: string;
  /** Its phase; the first limit it exceeded (or its count) fixes it, later measurements are ignored. */
  phase: AnalysisPhase;
  /** Its counters up to the measurement that fixed its phase. */
  counts: MeasurementCounts;
  /** Measurements that count towards `count` (errors do not, as in Argo Rollouts). */
  completed: number;
  /** The last measurement taken into account. */
  last?: Measurement;
  /** Why this phase, in words. */
  reason: string;
}

/** The verdict over an analysis's measurements. */
export interface AnalysisDecision {
  /** The worst phase of any metric (Failed > Error > Inconclusive > Running > Successful). */
  phase: AnalysisPhase;
  /** Why, in words with numbers. */
  reason: string;
  /** Counters summed over all metrics; consecutiveErrors is the largest of any metric. */
  counts: MeasurementCounts;
  /** Each metric's own standing, in spec order. */
  metrics: MetricAssessment[];
}

/** Shortest readable form of a number: at most three decimals, no trailing zeros. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toFixed(3)));
}

function describeRange(r: MetricSpec['thresholdRange']): string {
  if (r.min !== undefined && r.max !== undefined) return `range [${formatValue(r.min)}, ${formatValue(r.max)}]`;
  if (r.min !== undefined) return `min ${formatValue(r.min)}`;
  return `max ${formatValue(r.max!)}`;
}

/** Turns one query outcome into a measurement of `metric` (without its time). */
export function evaluateMeasurement(metric: MetricSpec, result: QueryResult | QueryFailure): Omit<Measurement, 'at'> {
  const base = { metric: metric.name };
  switch (result.kind) {
    case 'value': {
      const v = result.value;
      if (!Number.isFinite(v)) return noData(metric, `the value is ${String(v)}`);
      const { min, max } = metric.thresholdRange;
      if (min !== undefined && v < min) {
        return { ...base, phase: MeasurementPhase.Failed, value: v, message: `value ${formatValue(v)} below min ${formatValue(min)}` };
      }
      if (max !== undefined && v > max) {
        return { ...base, phase: MeasurementPhase.Failed, value: v, message: `value ${formatValue(v)} above max ${formatValue(max)}` };
      }
      return { ...base, phase: MeasurementPhase.Successful, value: v, message: `value ${formatValue(v)} within ${describeRange(metric.thresholdRange)}` };
    }
    case 'noData':
      return noData(metric, result.detail);
    case 'manySeries':
      return {
        ...base,
        phase: MeasurementPhase.Error,
        message: `query returned ${result.count} series where one was expected; aggregate it (e.g. sum(...)) or narrow its label matchers`,
      };
    case 'error':
      return { ...base, phase: MeasurementPhase.Error, message: result.message };
  }
}

function noData(metric: MetricSpec, detail: string): Omit<Measurement, 'at'> {
  // Flagger counts "no values found" as a failed check, a frequent surprise for its users; Ramp
  // makes it inconclusive unless the metric opts into failing. It is never a pass.
  if (metric.noData === 'fail') {
    return { metric: metric.name, phase: MeasurementPhase.Failed, message: `no data (noData: fail): ${detail}` };
  }
  return { metric: metric.name, phase: MeasurementPhase.Inconclusive, message: `no data: ${detail}` };
}

// Failed > Error > Inconclusive > Running > Successful: one failing metric fails the analysis,
// and one metric still measuring keeps a clean analysis running.
const SEVERITY: Record<AnalysisPhase, number> = { Successful: 0, Running: 1, Inconclusive: 2, Error: 3, Failed: 4 };

const zeroCounts = (): MeasurementCounts => ({ successful: 0, failed: 0, inconclusive: 0, error: 0, consecutiveErrors: 0 });

function lastWith(history: Omit<Measurement, 'at'>[], phase: MeasurementPhase): Omit<Measurement, 'at'> | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.phase === phase) return history[i];
  return undefined;
}

const because = (m: Omit<Measurement, 'at'> | undefined) => (m?.message ? `: last ${m.message}` : '');

/** Replays one metric's measurements in order, stopping at the first one that settles its phase. */
function assessMetric(spec: AnalysisSpec, metric: MetricSpec, measurements: Measurement[]): MetricAssessment {
  const counts = zeroCounts();
  const taken: Measurement[] = [];
  let completed = 0;
  const name = `metric ${metric.name}`;
  const settle = (phase: AnalysisPhase, reason: string): MetricAssessment => ({
    metric: metric.name, phase, counts, completed, last: taken[taken.length - 1], reason,
  });

  for (const m of measurements) {
    taken.push(m);
    switch (m.phase) {
      case MeasurementPhase.Successful: counts.successful++; break;
      case MeasurementPhase.Failed: counts.failed++; break;
      case MeasurementPhase.Inconclusive: counts.inconclusive++; break;
      case MeasurementPhase.Error: counts.error++; break;
    }
    if (m.phase === MeasurementPhase.Error) {
      counts.consecutiveErrors++;
    } else {
      counts.consecutiveErrors = 0;
      completed++;
    }
    // Same order as Argo Rollouts: failures, then inconclusives, then errors, then the count.
    if (counts.failed > spec.failureLimit) {
      return settle(AnalysisPhase.Failed,
        `${name} failed ${counts.failed} of ${taken.length} measurements (limit ${spec.failureLimit})${because(lastWith(taken, MeasurementPhase.Failed))}`);
    }
    if (counts.inconclusive > spec.inconclusiveLimit) {
      return settle(AnalysisPhase.Inconclusive,
        `${name} was inconclusive in ${counts.inconclusive} of ${taken.length} measurements (limit ${spec.inconclusiveLimit})${because(lastWith(taken, MeasurementPhase.Inconclusive))}`);
    }
    if (counts.consecutiveErrors > spec.consecutiveErrorLimit) {
      return settle(AnalysisPhase.Error,
        `${name} errored ${counts.consecutiveErrors} times in a row (limit ${spec.consecutiveErrorLimit})${because(m)}`);
    }
    if (spec.count !== undefined && completed >= spec.count) {
      return settle(AnalysisPhase.Successful, `${name} passed: ${summary(counts, spec)}`);
    }
  }

  const progress = spec.count !== undefined ? `${completed} of ${spec.count} measurements` : `${completed} measurements, until stopped`;
  return settle(AnalysisPhase.Running, `${name} running (${progress}): ${summary(counts, spec)}`);
}

function summary(c: MeasurementCounts, spec: AnalysisSpec): string {
  return `${c.successful} successful, ${c.failed} failed (limit ${spec.failureLimit}), `
    + `${c.inconclusive} inconclusive (limit ${spec.inconclusiveLimit}), ${c.error} errors`
    + (c.consecutiveErrors > 0 ? ` (${c.consecutiveErrors} in a row, limit ${spec.consecutiveErrorLimit})` : '');
}

/**
 * Decides an analysis from its measurements so far: one array per interval, one measurement per
 * metric (matched by name; a missing one just was not taken). With `count` set the analysis
 * succeeds once every metric has `count` non-error measurements without exceeding a limit;
 * without it (background analysis) it stays Running until the caller stops it.
 */
export function decideAnalysis(spec: AnalysisSpec, measurements: Measurement[][]): AnalysisDecision {
  const metrics = spec.metrics.map((metric) =>
    assessMetric(spec, metric, measurements.flatMap((interval) => interval.filter((m) => m.metric === metric.name))));

  const counts = zeroCounts();
  for (const a of metrics) {
    counts.successful += a.counts.successful;
    counts.failed += a.counts.failed;
    counts.inconclusive += a.counts.inconclusive;
    counts.error += a.counts.error;
    counts.consecutiveErrors = Math.max(counts.consecutiveErrors, a.counts.consecutiveErrors);
  }

  // The first metric (in spec order) with the worst phase explains the verdict.
  let worst: MetricAssessment | undefined;
  for (const a of metrics) if (worst === undefined || SEVERITY[a.phase] > SEVERITY[worst.phase]) worst = a;
  if (worst === undefined) return { phase: AnalysisPhase.Running, reason: 'no metrics to measure', counts, metrics };

  if (worst.phase === AnalysisPhase.Successful) {
    const n = metrics.length;
    return {
      phase: AnalysisPhase.Successful,
      reason: `all ${n} metric${n === 1 ? '' : 's'} passed ${spec.count} measurements without exceeding a limit: `
        + metrics.map((a) => `${a.metric} ${a.counts.successful} successful, ${a.counts.failed} failed, ${a.counts.inconclusive} inconclusive, ${a.counts.error} errors`).join('; '),
      counts,
      metrics,
    };
  }
  if (worst.phase === AnalysisPhase.Running) {
    return { phase: AnalysisPhase.Running, reason: metrics.filter((a) => a.phase === AnalysisPhase.Running).map((a) => a.reason).join('; '), counts, metrics };
  }
  return { phase: worst.phase, reason: worst.reason, counts, metrics };
}
