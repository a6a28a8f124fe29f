/**
 * What a metrics query answers, as the pure analysis code reads it. Every metrics provider
 * (src/activities/metrics/) returns these types, so measurements and counters can be evaluated
 * without knowing the backend: a typed outcome, never a silent NaN.
 */

/** The answer to a query that should give one value. */
export type QueryResult =
  /** One series, one finite sample. */
  | { kind: 'value'; value: number }
  /** No series matched, or the only sample is NaN/±Inf (e.g. a rate over no traffic). */
  | { kind: 'noData'; detail: string }
  /** The query matched several series where one was expected. */
  | { kind: 'manySeries'; count: number };

/** A query that could not be answered: the backend was unreachable or rejected it. */
export interface QueryFailure {
  kind: 'error';
  /** What went wrong, naming the backend's endpoint and the query. */
  message: string;
}

/** One series of an instant vector: its labels and its sample (NaN and ±Inf kept as numbers). */
export interface Series {
  /** The series' labels, e.g. `{ destination_workload: 'storefront', le: '100' }`. */
  labels: Record<string, string>;
  /** Its sample at the evaluation time. */
  value: number;
}

/** One series of a range query: its labels and its samples, [epoch ms, value], oldest first. */
export interface RangeSeries {
  /** The series' labels. */
  labels: Record<string, string>;
  /** Its samples at the query's evaluation times where it had one. */
  points: [number, number][];
}
