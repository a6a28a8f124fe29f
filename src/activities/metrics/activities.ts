/**
 * The metrics activities: a threshold analysis' measurements (`measureAnalysis`) and a judge's
 * counters (`readCounters`, and `readBaselineHistory` for noise calibration). Each asks the metrics
 * provider its analysis names, at the time the workflow chose, so a retried activity reads what the
 * first attempt would have. A backend that cannot answer yields Error measurements or an `ok: false`
 * result rather than a thrown failure, so the workflow counts consecutive errors against the
 * analysis' limit (Argo Rollouts' behaviour) instead of Temporal retrying the activity forever; a
 * spec this worker cannot run (a query that does not render, a provider it does not have) is a
 * non-retryable failure.
 */
import { ApplicationFailure } from '@temporalio/common';
import {
  armCounters, armHistory, COUNTER_TEMPLATES, CounterQueryError, renderCounterQueries, type CounterQueries, type CounterQueryTemplates,
} from '../../domain/analysis/counters';
import { evaluateMeasurement, type Measurement } from '../../domain/analysis/evaluate';
import type { ArmCounters } from '../../domain/analysis/judge';
import type { QueryFailure, QueryResult } from '../../domain/analysis/query-result';
import { promDuration, queryTemplateFor, renderQuery, TemplateError } from '../../domain/analysis/templates';
import { DEFAULT_METRICS_PROVIDER, type AnalysisSpec } from '../../domain/spec/analysis';
import type { MetricsProvider, MetricsProviders } from './provider';

export interface MetricsDeps {
  /** The worker's metrics providers by name (factory.ts); an analysis names the one it uses. */
  metrics: MetricsProviders;
}

export interface MeasureAnalysisInput {
  /** The analysis whose metrics to measure once; its `provider` names the backend (default `prometheus`). */
  analysis: AnalysisSpec;
  /** Variables Ramp provides to every query: namespace and target (the canary Deployment). */
  vars: Record<string, string>;
  /** The measurement time, ISO 8601, chosen by the workflow: every query is evaluated at it. */
  at: string;
}

/** Failure type of the non-retryable error for an analysis this worker cannot run: queries that do not render, a provider it does not have. */
export const INVALID_ANALYSIS = 'InvalidAnalysis';

export interface ReadCountersInput {
  namespace: string;
  /** The canary's and its baseline's workload names (the Deployments' names). */
  canary: string;
  baseline: string;
  /** Epoch ms chosen by the workflow: the queries are evaluated at that time, so a retry reads the same counters. */
  at: number;
  /** The metrics provider to ask (the analysis' `provider`); absent: `prometheus`. */
  provider?: string;
  /** The three counter queries and their workload label (`counterTemplatesFor(analysis.counters, traffic provider)`); absent: Istio's. */
  queries?: CounterQueryTemplates;
}

/** Both arms' cumulative counters, or why they could not be read (the workflow counts it as an error look). */
export type ReadCountersResult =
  | { ok: true; canary: ArmCounters; baseline: ArmCounters }
  | { ok: false; error: string };

export interface ReadHistoryInput {
  namespace: string;
  /** The baseline's workload name (the stable Deployment's name). */
  baseline: string;
  /** Epoch ms of the last sample, chosen by the workflow (the analysis' first look). */
  end: number;
  /** Time between samples (the judge's batch) and how many steps to read back. */
  stepMs: number;
  steps: number;
  /** As in ReadCountersInput. */
  provider?: string;
  queries?: CounterQueryTemplates;
}

/** The baseline's cumulative counters at each step, oldest first (fewer when it has less history), or why they could not be read. */
export type ReadHistoryResult = { ok: true; samples: ArmCounters[] } | { ok: false; error: string };

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function createMetricsActivities({ metrics }: MetricsDeps) {
  /** The provider an analysis names; one this worker does not have fails the analysis, naming those it has. */
  function providerFor(name: string | undefined): MetricsProvider {
    const wanted = name ?? DEFAULT_METRICS_PROVIDER;
    const provider = metrics.get(wanted);
    if (provider !== undefined) return provider;
    const configured = [...metrics.keys()];
    throw ApplicationFailure.nonRetryable(
      `metrics provider ${JSON.stringify(wanted)} is not configured on this worker (configured: ${configured.length > 0 ? configured.join(', ') : 'none'}); `
        + 'name one of those in the analysis\' provider, or configure it on the worker',
      INVALID_ANALYSIS);
  }

  /** The rendered counter queries, their workload label, and the provider to send them to. */
  function counterReading(input: { namespace: string; provider?: string; queries?: CounterQueryTemplates }, workloads: string[]) {
    const provider = providerFor(input.provider);
    const templates = input.queries ?? COUNTER_TEMPLATES.istio;
    let queries: CounterQueries;
    try {
      queries = renderCounterQueries(templates, input.namespace, workloads);
    } catch (err) {
      if (err instanceof CounterQueryError) throw ApplicationFailure.nonRetryable(err.message, INVALID_ANALYSIS);
      throw err;
    }
    return { provider, queries: [queries.requests, queries.errors, queries.latencyBuckets], workloadLabel: templates.workloadLabel };
  }

  return {
    /**
     * Reads the request, 5xx and latency-bucket counters of the canary and its baseline at one time,
     * in three queries. A backend that cannot answer is an `ok: false` result rather than a thrown
     * failure, for the same reason as `measureAnalysis`.
     */
    async readCounters(input: ReadCountersInput): Promise<ReadCountersResult> {
      const { canary, baseline, at } = input;
      const { provider, queries, workloadLabel } = counterReading(input, [canary, baseline]);
      try {
        const [requests, errors, latencyBuckets] = await Promise.all(queries.map((q) => provider.queryVector(q, { time: at })));
        const answers = { requests: requests!, errors: errors!, latencyBuckets: latencyBuckets! };
        return { ok: true, canary: armCounters(answers, canary, workloadLabel), baseline: armCounters(answers, baseline, workloadLabel) };
      } catch (err) {
        return { ok: false, error: messageOf(err) };
      }
    },

    /**
     * Reads the baseline's request, 5xx and latency-bucket counters at `steps + 1` times, `stepMs`
     * apart and ending at `end`, in three range queries: what noise calibration needs
     * (src/domain/analysis/calibrate.ts). A backend that cannot answer is an `ok: false` result:
     * the analysis then keeps its configured noise priors.
     */
    async readBaselineHistory(input: ReadHistoryInput): Promise<ReadHistoryResult> {
      const { baseline, end, stepMs, steps } = input;
      const { provider, queries, workloadLabel } = counterReading(input, [baseline]);
      const times = Array.from({ length: steps + 1 }, (_, i) => end - (steps - i) * stepMs);
      try {
        const range = { start: times[0]!, end, stepMs };
        const [requests, errors, latencyBuckets] = await Promise.all(queries.map((q) => provider.queryRange(q, range)));
        return { ok: true, samples: armHistory({ requests: requests!, errors: errors!, latencyBuckets: latencyBuckets! }, baseline, times, workloadLabel) };
      } catch (err) {
        return { ok: false, error: messageOf(err) };
      }
    },

    /** Measures every metric of an analysis once, at `at`; one measurement per metric, in spec order. */
    async measureAnalysis({ analysis, vars, at }: MeasureAnalysisInput): Promise<Measurement[]> {
      const time = Date.parse(at);
      if (!Number.isFinite(time)) throw ApplicationFailure.nonRetryable(`measurement time ${JSON.stringify(at)} is not an ISO 8601 time`, INVALID_ANALYSIS);
      const provider = providerFor(analysis.provider);
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
          return await provider.query(q, { time });
        } catch (err) {
          return { kind: 'error', message: messageOf(err) };
        }
      }));
      return analysis.metrics.map((metric, i) => ({ ...evaluateMeasurement(metric, results[i]!), at }));
    },
  };
}

export type MetricsActivities = ReturnType<typeof createMetricsActivities>;
