/**
 * The measurement activity: renders each metric's query, asks the metrics backend, and turns
 * the answers into measurements. A backend that cannot answer yields Error measurements rather
 * than a thrown failure, so the workflow counts consecutive errors against the analysis' limit
 * (Argo Rollouts' behaviour) instead of Temporal retrying the activity forever.
 */
import { ApplicationFailure } from '@temporalio/common';
import { evaluateMeasurement, type Measurement } from '../../domain/analysis/evaluate';
import type { QueryFailure, QueryResult } from '../../domain/analysis/query-result';
import { promDuration, queryTemplateFor, renderQuery, TemplateError } from '../../domain/analysis/templates';
import type { AnalysisSpec } from '../../domain/spec/analysis';
import { armCounters, armHistory, CounterQueries, counterQueries, CounterQueryError } from '../../domain/analysis/istio-counters';
import type { ArmCounters } from '../../domain/analysis/judge';
import type { MetricsProvider } from './provider';

export interface MetricsDeps {
  /** The backend queries go to. */
  metrics: MetricsProvider;
}

export interface MeasureAnalysisInput {
  /** The analysis whose metrics to measure once. */
  analysis: AnalysisSpec;
  /** Variables Ramp provides to every query: namespace and target (the canary Deployment). */
  vars: Record<string, string>;
  /** The measurement time, ISO 8601, chosen by the workflow so replays agree. */
  at: string;
}

/** Failure type of the non-retryable error for an analysis whose queries cannot be rendered. */
export const INVALID_ANALYSIS = 'InvalidAnalysis';

export interface ReadCountersInput {
  namespace: string;
  /** `destination_workload` of the canary and of its baseline (the Deployments' names). */
  canary: string;
  baseline: string;
  /** Epoch ms chosen by the workflow: the queries are evaluated at that time, so a retry reads the same counters. */
  at: number;
}

/** Both arms' cumulative counters, or why they could not be read (the workflow counts it as an error look). */
export type ReadCountersResult =
  | { ok: true; canary: ArmCounters; baseline: ArmCounters }
  | { ok: false; error: string };

export interface ReadHistoryInput {
  namespace: string;
  /** `destination_workload` of the baseline (the stable Deployment's name). */
  baseline: string;
  /** Epoch ms of the last sample, chosen by the workflow (the analysis' first look). */
  end: number;
  /** Time between samples (the judge's batch) and how many steps to read back. */
  stepMs: number;
  steps: number;
}

/** The baseline's cumulative counters at each step, oldest first (fewer when it has less history), or why they could not be read. */
export type ReadHistoryResult = { ok: true; samples: ArmCounters[] } | { ok: false; error: string };

export function createMetricsActivities({ metrics }: MetricsDeps) {
  return {
    /**
     * Reads Istio's request, 5xx and latency-bucket counters of the canary and its baseline at one
     * time, in three queries. A backend that cannot answer is an `ok: false` result rather than a
     * thrown failure, for the same reason as `measureAnalysis`.
     */
    async readCounters({ namespace, canary, baseline, at }: ReadCountersInput): Promise<ReadCountersResult> {
      let queries: CounterQueries;
      try {
        queries = counterQueries(namespace, [canary, baseline]);
      } catch (err) {
        if (err instanceof CounterQueryError) throw ApplicationFailure.nonRetryable(err.message, INVALID_ANALYSIS);
        throw err;
      }
      try {
        const [requests, errors, buckets] = await Promise.all([queries.requests, queries.errors, queries.buckets].map((q) => metrics.queryVector(q, { time: at })));
        const answers = { requests: requests!, errors: errors!, buckets: buckets! };
        return { ok: true, canary: armCounters(answers, canary), baseline: armCounters(answers, baseline) };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    },

    /**
     * Reads the baseline's request, 5xx and latency-bucket counters at `steps + 1` times, `stepMs`
     * apart and ending at `end`, in three range queries: what noise calibration needs
     * (src/domain/analysis/calibrate.ts). A backend that cannot answer is an `ok: false` result:
     * the analysis then keeps its configured noise priors.
     */
    async readBaselineHistory({ namespace, baseline, end, stepMs, steps }: ReadHistoryInput): Promise<ReadHistoryResult> {
      let queries: CounterQueries;
      try {
        queries = counterQueries(namespace, [baseline]);
      } catch (err) {
        if (err instanceof CounterQueryError) throw ApplicationFailure.nonRetryable(err.message, INVALID_ANALYSIS);
        throw err;
      }
      const times = Array.from({ length: steps + 1 }, (_, i) => end - (steps - i) * stepMs);
      try {
        const range = { start: times[0]!, end, stepMs };
        const [requests, errors, buckets] = await Promise.all([queries.requests, queries.errors, queries.buckets].map((q) => metrics.queryRange(q, range)));
        return { ok: true, samples: armHistory({ requests: requests!, errors: errors!, buckets: buckets! }, baseline, times) };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    },

    /** Measures every metric of an analysis once; one measurement per metric, in spec order. */
    async measureAnalysis({ analysis, vars, at }: MeasureAnalysisInput): Promise<Measurement[]> {
      // Render every query before sending any: a broken template is a spec error, and retrying
      // cannot fix it.
      let queries: string[];
      try {
        queries = analysis.metrics.map((metric) => {
          // Ramp's variables come first and win over a metric's own (spec validation rejects clashes).
          const all: Record<string, string> = { ...vars, interval: promDuration(metric.window ?? analysis.interval) };
          for (const [name, value] of Object.entries(metric.vars)) if (!Object.hasOwn(all, name)) all[name] = value;
          return renderQuery(queryTemplateFor(metric), all, metric.name);
        });
      } catch (err) {
        if (err instanceof TemplateError) throw ApplicationFailure.nonRetryable(err.message, INVALID_ANALYSIS);
        throw err;
      }

      const results = await Promise.all(queries.map(async (q): Promise<QueryResult | QueryFailure> => {
        try {
          return await metrics.query(q);
        } catch (err) {
          return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
        }
      }));
      return analysis.metrics.map((metric, i) => ({ ...evaluateMeasurement(metric, results[i]!), at }));
    },
  };
}

export type MetricsActivities = ReturnType<typeof createMetricsActivities>;
