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
import type { QueryFailure, QueryResult } from '../../domain/analysis/query-result';
import { promDuration, queryTemplateFor, renderQuery, TemplateError } from '../../domain/analysis/templates';
import { DEFAULT_METRICS_PROVIDER } from '../../domain/spec/analysis';
import type {
  MeasureAnalysisInput, ReadCountersInput, ReadCountersResult, ReadHistoryInput, ReadHistoryResult,
} from '../../domain/rollout/calls';
import { Failure } from '../../shared/failures';
import type { MetricsProvider, MetricsProviders } from './provider';

export interface MetricsDeps {
  /** The worker's metrics providers by name (factory.ts); an analysis names the one it uses. */
  metrics: MetricsProviders;
}

/** Failure type of an analysis this worker cannot run: queries that do not render, a provider it does not have. */
const INVALID_ANALYSIS = Failure.InvalidAnalysis;

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function createMetricsActivities({ metrics }: MetricsDeps) {
  /** The provider an analysis names; one this worker does not have fails the analysis, naming those it has. */
  function providerFor(name: string | undefined): MetricsProvider {
    const wanted = name ?? DEFAULT_METRICS_PROVIDER;
    const provider = metrics.get(wanted);
    if (provider !== undefined) return provider;
    const configured = [...metrics.keys()];
    throw ApplicationFailure.create({ type: INVALID_ANALYSIS, message:
      `metrics provider ${JSON.stringify(wanted)} is not configured on this worker (configured: ${configured.length > 0 ? configured.join(', ') : 'none'}); `
        + 'name one of those in the analysis\' provider, or configure it on the worker',
    });
  }

  /** The rendered counter queries, their workload label, and the provider to send them to. */
  function counterReading(input: { namespace: string; provider?: string; queries?: CounterQueryTemplates }, workloads: string[]) {
    const provider = providerFor(input.provider);
    const templates = input.queries ?? COUNTER_TEMPLATES.istio;
    let queries: CounterQueries;
    try {
      queries = renderCounterQueries(templates, input.namespace, workloads);
    } catch (err) {
      if (err instanceof CounterQueryError) throw ApplicationFailure.create({ type: INVALID_ANALYSIS, message: err.message });
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
      if (!Number.isFinite(time)) throw ApplicationFailure.create({ type: INVALID_ANALYSIS, message: `measurement time ${JSON.stringify(at)} is not an ISO 8601 time` });
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
        if (err instanceof TemplateError) throw ApplicationFailure.create({ type: INVALID_ANALYSIS, message: err.message });
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
