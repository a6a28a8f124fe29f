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

export interface MetricsProvider {
  /** Evaluates an instant query. Throws (retryable) when the backend cannot be reached or rejects the query. */
  query(promql: string): Promise<QueryResult>;
  /** True when the backend answers its health endpoint. */
  isOnline(): Promise<boolean>;
}
