/**
 * Istio's request count and duration metrics in the Prometheus text exposition format (0.0.4):
 * the series the traffic generator serves on /metrics, with Istio's names and default buckets.
 */

/**
 * Istio's default buckets for `istio_request_duration_milliseconds` (Envoy's default histogram
 * buckets, in ms): 0.5 ms to one hour.
 */
export const ISTIO_DURATION_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** One label set's counter and histogram. */
export interface IstioSeries {
  labels: Readonly<Record<string, string>>;
  /** istio_requests_total. */
  requests: number;
  /** Non-cumulative count per bucket of ISTIO_DURATION_BUCKETS_MS, then one for above the last. */
  buckets: number[];
  /** Sum of durations, ms. */
  sumMs: number;
}

/** A series with no requests yet. */
export function newSeries(labels: Readonly<Record<string, string>>): IstioSeries {
  return { labels, requests: 0, buckets: new Array<number>(ISTIO_DURATION_BUCKETS_MS.length + 1).fill(0), sumMs: 0 };
}

/** The bucket index of a duration: the first bucket whose upper bound is at least it. */
export function bucketIndex(ms: number): number {
  const i = ISTIO_DURATION_BUCKETS_MS.findIndex((le) => ms <= le);
  return i === -1 ? ISTIO_DURATION_BUCKETS_MS.length : i;
}

/** Counts one request of `durationMs` in the series. */
export function observe(s: IstioSeries, durationMs: number): void {
  s.requests++;
  s.buckets[bucketIndex(durationMs)]!++;
  s.sumMs += durationMs;
}

/** A label value in the text exposition format: backslash, double quote and newline escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderLabels(labels: Readonly<Record<string, string>>, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return `{${pairs.join(',')}}`;
}

/** The Prometheus text exposition (format 0.0.4) of Istio's request count and duration metrics. */
export function renderIstioMetrics(series: readonly IstioSeries[]): string {
  const out: string[] = [
    '# HELP istio_requests_total Requests handled, as counted by the sidecars (played by the Ramp traffic generator).',
    '# TYPE istio_requests_total counter',
  ];
  for (const s of series) out.push(`istio_requests_total${renderLabels(s.labels)} ${s.requests}`);
  out.push(
    '# HELP istio_request_duration_milliseconds Request duration as seen by the sidecars (played by the Ramp traffic generator).',
    '# TYPE istio_request_duration_milliseconds histogram',
  );
  for (const s of series) {
    let cumulative = 0;
    ISTIO_DURATION_BUCKETS_MS.forEach((le, i) => {
      cumulative += s.buckets[i]!;
      out.push(`istio_request_duration_milliseconds_bucket${renderLabels(s.labels, ['le', String(le)])} ${cumulative}`);
    });
    out.push(`istio_request_duration_milliseconds_bucket${renderLabels(s.labels, ['le', '+Inf'])} ${s.requests}`);
    out.push(`istio_request_duration_milliseconds_sum${renderLabels(s.labels)} ${s.sumMs}`);
    out.push(`istio_request_duration_milliseconds_count${renderLabels(s.labels)} ${s.requests}`);
  }
  return out.join('\n') + '\n';
}
