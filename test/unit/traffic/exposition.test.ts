import { bucketIndex, escapeLabel, ISTIO_DURATION_BUCKETS_MS, newClusterSeries, newSeries, observe, observeCluster, renderEnvoyClusterMetrics, renderIstioMetrics } from '../../../scripts/traffic/exposition';

describe('bucketIndex: the first bucket whose bound is at least the duration', () => {
  const table: { ms: number; le: number | '+Inf' }[] = [
    { ms: 0, le: 0.5 },
    { ms: 0.5, le: 0.5 },
    { ms: 0.6, le: 1 },
    { ms: 20, le: 25 },
    { ms: 3_600_000, le: 3_600_000 },
    { ms: 3_600_001, le: '+Inf' },
  ];
  it.each(table)('$ms ms → le $le', ({ ms, le }) => {
    const i = bucketIndex(ms);
    expect(i === ISTIO_DURATION_BUCKETS_MS.length ? '+Inf' : ISTIO_DURATION_BUCKETS_MS[i]).toBe(le);
  });
});

describe('escapeLabel', () => {
  const table: [string, string][] = [['plain', 'plain'], ['a"b', 'a\\"b'], ['a\\b', 'a\\\\b'], ['a\nb', 'a\\nb']];
  it.each(table)('%j → %j', (value, want) => {
    expect(escapeLabel(value)).toBe(want);
  });
});

describe('renderIstioMetrics', () => {
  it('renders the counter and a cumulative histogram per label set', () => {
    const s = newSeries({ reporter: 'destination', destination_workload: 'web', response_code: '200' });
    for (const ms of [0.2, 3, 3, 70_000]) observe(s, ms);
    const text = renderIstioMetrics([s]);
    const labels = 'reporter="destination",destination_workload="web",response_code="200"';
    expect(text).toContain('# TYPE istio_requests_total counter');
    expect(text).toContain(`istio_requests_total{${labels}} 4`);
    expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram');
    expect(text).toContain(`istio_request_duration_milliseconds_bucket{${labels},le="0.5"} 1`);
    expect(text).toContain(`istio_request_duration_milliseconds_bucket{${labels},le="1"} 1`);
    expect(text).toContain(`istio_request_duration_milliseconds_bucket{${labels},le="5"} 3`);
    expect(text).toContain(`istio_request_duration_milliseconds_bucket{${labels},le="60000"} 3`);
    expect(text).toContain(`istio_request_duration_milliseconds_bucket{${labels},le="300000"} 4`);
    expect(text).toContain(`istio_request_duration_milliseconds_bucket{${labels},le="+Inf"} 4`);
    expect(text).toContain(`istio_request_duration_milliseconds_sum{${labels}} 70006.2`);
    expect(text).toContain(`istio_request_duration_milliseconds_count{${labels}} 4`);
    expect(text.split('\n').filter((l) => l.startsWith('istio_request_duration_milliseconds_bucket'))).toHaveLength(ISTIO_DURATION_BUCKETS_MS.length + 1);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('renders only the headers with no series', () => {
    expect(renderIstioMetrics([]).split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([]);
  });
});

describe('renderEnvoyClusterMetrics: Envoy cluster stats as Contour\'s Envoy serves them', () => {
  it('renders rq_total and the histogram from upstream answers, codes (and classes) from every answer', () => {
    const c = newClusterSeries('shop_web-canary_80');
    observeCluster(c, 200, 3);
    observeCluster(c, 200, 70_000);
    observeCluster(c, 500, 0.2);
    // No healthy upstream: Envoy's router answers 503 and charges it to the cluster, without an upstream request.
    observeCluster(c, 503, undefined);
    const text = renderEnvoyClusterMetrics([c]);
    const l = 'envoy_cluster_name="shop_web-canary_80"';
    const lines = text.split('\n');
    expect(lines).toContain(`envoy_cluster_upstream_rq_total{${l}} 3`);
    expect(lines).toContain(`envoy_cluster_upstream_rq{envoy_response_code="200",${l}} 2`);
    expect(lines).toContain(`envoy_cluster_upstream_rq{envoy_response_code="500",${l}} 1`);
    expect(lines).toContain(`envoy_cluster_upstream_rq{envoy_response_code="503",${l}} 1`);
    expect(lines).toContain(`envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",${l}} 2`);
    expect(lines).toContain(`envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",${l}} 2`);
    expect(lines).toContain('# TYPE envoy_cluster_upstream_rq_time histogram');
    expect(lines).toContain(`envoy_cluster_upstream_rq_time_bucket{${l},le="0.5"} 1`);
    expect(lines).toContain(`envoy_cluster_upstream_rq_time_bucket{${l},le="5"} 2`);
    expect(lines).toContain(`envoy_cluster_upstream_rq_time_bucket{${l},le="+Inf"} 3`);
    expect(lines).toContain(`envoy_cluster_upstream_rq_time_count{${l}} 3`);
    expect(lines).toContain(`envoy_cluster_upstream_rq_time_sum{${l}} 70003.2`);
    expect(lines.filter((x) => x.startsWith('istio_'))).toEqual([]);
  });
});
