/**
 * The measurement activity: renders each metric's query, asks the metrics backend, and turns
 * the answers into measurements. A backend that cannot answer yields Error measurements rather
 * than a thrown failure, so the workflow counts consecutive errors against the analysis' limit
 * (Argo Rollouts' behaviour) instead of Temporal retrying the activity forever.
 */
import { ApplicationFailure } from '@temporalio/common';
import { evaluateMeasurement, type Measurement, type QueryFailure } from '../../domain/analysis/evaluate';
import { promDuration, queryTemplateFor, renderQuery, TemplateError } from '../../domain/analysis/templates';
import type { AnalysisSpec } from '../../domain/spec/schema';
import type { MetricsProvider, QueryResult } from './provider';

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

export function createMetricsActivities({ metrics }: MetricsDeps) {
  return {
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
