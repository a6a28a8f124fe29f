/**
 * The metrics provider interface: one implementation per backend (prometheus.ts today).
 * A query answers a typed outcome (src/domain/analysis/query-result.ts), never a silent NaN.
 */
import type { QueryResult, RangeSeries, Series } from '../../domain/analysis/query-result';

export interface QueryOptions {
  /** Evaluation time, epoch ms; default: the backend's now. A fixed time makes a retried query answer the same. */
  time?: number;
}

export interface RangeOptions {
  /** First and last evaluation time, epoch ms, and the step between them. */
  start: number;
  end: number;
  stepMs: number;
}

export interface MetricsProvider {
  /** Evaluates an instant query to one value. Throws (retryable) when the backend cannot be reached or rejects the query. */
  query(promql: string, opts?: QueryOptions): Promise<QueryResult>;
  /** Evaluates an instant query to all its series (e.g. histogram buckets by `le`); throws as `query`. */
  queryVector(promql: string, opts?: QueryOptions): Promise<Series[]>;
  /** Evaluates a range query (a time series per series); throws as `query`. */
  queryRange(promql: string, opts: RangeOptions): Promise<RangeSeries[]>;
  /** True when the backend answers its health endpoint. */
  isOnline(): Promise<boolean>;
}

/**
 * The metrics providers a worker is configured with, by the name analyses use for them
 * (`provider` in the spec; factory.ts builds them from the worker's settings).
 */
export type MetricsProviders = ReadonlyMap<string, MetricsProvider>;
