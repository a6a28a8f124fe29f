/**
 * The metrics provider interface: one implementation per backend (prometheus.ts today).
 * A query answers a typed outcome, never a silent NaN.
 */

export type QueryResult =
  /** One series, one finite sample. */
  | { kind: 'value'; value: number }
  /** No series matched, or the only sample is NaN/±Inf (e.g. a rate over no traffic). */
  | { kind: 'noData'; detail: string }
  /** The query matched several series where one was expected. */
  | { kind: 'manySeries'; count: number };

/** One series of an instant vector: its labels and its sample (NaN and ±Inf kept as numbers). */
export interface Series {
  labels: Record<string, string>;
  value: number;
}

/** One series of a range query: its labels and its samples, [epoch ms, value], oldest first. */
export interface RangeSeries {
  labels: Record<string, string>;
  points: [number, number][];
}

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
