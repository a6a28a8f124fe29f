/**
 * The series the traffic generator serves on /metrics, in the Prometheus text exposition format
 * (0.0.4): Istio's request count and duration metrics for requests a VirtualService routed, and
 * Envoy's per-cluster request stats (as Contour's Envoy serves them) for requests a Gateway API
 * route routed.
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
  for (const s of series) out.push(...histogramLines('istio_request_duration_milliseconds', s));
  return out.join('\n') + '\n';
}

/** The `_bucket` (cumulative), `_sum` and `_count` lines of one series' histogram. */
function histogramLines(name: string, s: IstioSeries): string[] {
  const out: string[] = [];
  let cumulative = 0;
  ISTIO_DURATION_BUCKETS_MS.forEach((le, i) => {
    cumulative += s.buckets[i]!;
    out.push(`${name}_bucket${renderLabels(s.labels, ['le', String(le)])} ${cumulative}`);
  });
  out.push(`${name}_bucket${renderLabels(s.labels, ['le', '+Inf'])} ${s.requests}`);
  out.push(`${name}_sum${renderLabels(s.labels)} ${s.sumMs}`);
  out.push(`${name}_count${renderLabels(s.labels)} ${s.requests}`);
  return out;
}

// ---- Envoy cluster stats, as Contour's Envoy serves them ----

/**
 * One upstream cluster's request stats, labelled `envoy_cluster_name` (Contour names a Service
 * port's cluster stats `<namespace>_<service>_<port>`). The histogram (`upstream_rq_time`, ms, on
 * Envoy's default buckets, which Istio's are) and `upstream_rq_total` count requests an upstream
 * answered; `byCode` also counts answers Envoy's router gave itself on the cluster's behalf (503
 * for no healthy upstream), as Envoy charges them to `upstream_rq_<code>`.
 */
export interface ClusterSeries {
  /** Requests sent upstream, with their durations: `upstream_rq_total`, `upstream_rq_time`. */
  upstream: IstioSeries;
  /** Responses by code: `upstream_rq{envoy_response_code}` and, by class, `upstream_rq_xx`. */
  byCode: Record<string, number>;
}

/** A cluster with no requests yet. */
export function newClusterSeries(cluster: string): ClusterSeries {
  return { upstream: newSeries({ envoy_cluster_name: cluster }), byCode: {} };
}

/** Counts one response of the cluster: `durationMs` when an upstream answered, undefined when Envoy answered for it. */
export function observeCluster(s: ClusterSeries, code: number, durationMs: number | undefined): void {
  s.byCode[String(code)] = (s.byCode[String(code)] ?? 0) + 1;
  if (durationMs !== undefined) observe(s.upstream, durationMs);
}

/**
 * The Prometheus text exposition of Envoy's per-cluster request stats, with the names and tags
 * Envoy's /stats/prometheus gives them: `envoy_cluster_upstream_rq_total`,
 * `envoy_cluster_upstream_rq{envoy_response_code}`, `envoy_cluster_upstream_rq_xx{envoy_response_code_class}`
 * and the histogram `envoy_cluster_upstream_rq_time` (ms).
 */
export function renderEnvoyClusterMetrics(clusters: readonly ClusterSeries[]): string {
  const out: string[] = ['# TYPE envoy_cluster_upstream_rq_total counter'];
  for (const c of clusters) out.push(`envoy_cluster_upstream_rq_total${renderLabels(c.upstream.labels)} ${c.upstream.requests}`);
  out.push('# TYPE envoy_cluster_upstream_rq counter');
  for (const c of clusters) {
    for (const [code, n] of Object.entries(c.byCode)) out.push(`envoy_cluster_upstream_rq${renderLabels({ envoy_response_code: code, ...c.upstream.labels })} ${n}`);
  }
  out.push('# TYPE envoy_cluster_upstream_rq_xx counter');
  for (const c of clusters) {
    const byClass = new Map<string, number>();
    for (const [code, n] of Object.entries(c.byCode)) byClass.set(code[0]!, (byClass.get(code[0]!) ?? 0) + n);
    for (const [cls, n] of byClass) out.push(`envoy_cluster_upstream_rq_xx${renderLabels({ envoy_response_code_class: cls, ...c.upstream.labels })} ${n}`);
  }
  out.push('# TYPE envoy_cluster_upstream_rq_time histogram');
  for (const c of clusters) out.push(...histogramLines('envoy_cluster_upstream_rq_time', c.upstream));
  return out.join('\n') + '\n';
}
