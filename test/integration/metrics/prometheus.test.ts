/**
 * The Prometheus provider and the metrics activities against the real local Prometheus. The
 * test serves Istio-named metrics for a made-up canary workload, Prometheus discovers the
 * endpoint through file SD and scrapes it every second, and the built-in Flagger queries read
 * them back. Traffic is a pure function of time, so the expected values are exact:
 *   - success rate: 19 of every 20 destination-reported requests answer 200, 1 answers 500 → 95 %;
 *     source-reported 500s also exist and must be ignored;
 *   - latency: per 50 requests, 45 take ≤ 25 ms, 4 take 25–50 ms, 1 takes 100–250 ms, so the p99
 *     interpolates to 175 ms inside the (100, 250] bucket.
 * The same endpoint serves the same workload's traffic under made-up, non-Istio names too
 * (`shop_http_*`, workload label `app_workload`: 1 in 10 requests a 503, 8 in 10 at or below
 * 50 ms), read through counter queries given as a user would in a spec.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { FORWARD_NON_RETRYABLE } from '../../../src/shared/failures';
import { ApplicationFailure } from '@temporalio/common';
import axios from 'axios';
import { createMetricsActivities } from '../../../src/activities/metrics/activities';
import { createMetricsProviders, MetricsProviderConfigError } from '../../../src/activities/metrics/factory';
import { createPrometheusProvider, PrometheusError } from '../../../src/activities/metrics/prometheus';
import type { MetricsProvider, MetricsProviders, QueryOptions } from '../../../src/activities/metrics/provider';
import { calibrateNoise } from '../../../src/domain/analysis/calibrate';
import { counterTemplatesFor } from '../../../src/domain/analysis/counters';
import { evaluateMeasurement } from '../../../src/domain/analysis/evaluate';
import { resolveSequentialConfig } from '../../../src/domain/analysis/sequential-judge';
import { BUILTIN_QUERIES, renderQuery } from '../../../src/domain/analysis/templates';
import { backgroundAnalysis, type AnalysisSpec, type MetricSpec } from '../../../src/domain/spec/analysis';
import { eventually, stackInfo, uniqueName } from '../../support/stack';

const BUCKETS = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '+Inf'];
/** Requests per 100 ms tick at or below each bucket bound (cumulative, as Prometheus buckets are). */
const PER_TICK_BELOW: Record<string, number> = { '0.5': 0, '1': 0, '5': 10, '10': 30, '25': 45, '50': 49, '100': 49, '250': 50, '500': 50, '1000': 50, '+Inf': 50 };

function newMetric(overrides: Partial<MetricSpec> = {}): MetricSpec {
  return { name: 'request-success-rate', thresholdRange: { min: 99 }, noData: 'inconclusive', vars: {}, window: 10_000, ...overrides };
}

function newAnalysis(metrics: MetricSpec[]): AnalysisSpec {
  return { interval: 10_000, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, metrics, count: 3 };
}

/** A worker's providers when it has just one, under the default name. */
const only = (provider: MetricsProvider): MetricsProviders => new Map([['prometheus', provider]]);

describe('Prometheus metrics provider (real Prometheus)', () => {
  const info = stackInfo();
  const id = uniqueName('metrics');
  const namespace = `ns-${id}`;
  const canary = `${id}-canary`;
  const idle = `${id}-idle`;
  const vars = { namespace, target: canary };
  const prometheus = createPrometheusProvider({ http: axios.create(), url: info.prometheus.url });
  const activities = createMetricsActivities({ metrics: only(prometheus) });
  /** The look time of the measurements: set once the test workload's rate windows are full. */
  let at: string;
  let server: http.Server;
  let targetFile: string;
  const t0 = Date.now();

  function exposition(): string {
    const ticks = Math.floor((Date.now() - t0) / 100);
    const labels = (workload: string, reporter = 'destination') =>
      `reporter="${reporter}",destination_workload="${workload}",destination_workload_namespace="${namespace}"`;
    const lines = [
      '# TYPE istio_requests_total counter',
      `istio_requests_total{${labels(canary)},response_code="200"} ${ticks * 19}`,
      `istio_requests_total{${labels(canary)},response_code="500"} ${ticks}`,
      // What the calling side reports; the built-in queries take only the destination's view.
      `istio_requests_total{${labels(canary, 'source')},response_code="500"} ${ticks * 50}`,
      // A workload whose counters never move: its rate is 0/0, NaN.
      `istio_requests_total{${labels(idle)},response_code="200"} 5`,
      '# TYPE istio_request_duration_milliseconds histogram',
      ...BUCKETS.map((le) => `istio_request_duration_milliseconds_bucket{${labels(canary)},le="${le}"} ${ticks * PER_TICK_BELOW[le]!}`),
      `istio_request_duration_milliseconds_sum{${labels(canary)}} ${ticks * 700}`,
      `istio_request_duration_milliseconds_count{${labels(canary)}} ${ticks * 50}`,
      // The same canary under names a mesh does not define, and a baseline that stands still.
      '# TYPE shop_http_requests_total counter',
      `shop_http_requests_total{k8s_namespace="${namespace}",app_workload="${canary}",code="200"} ${ticks * 9}`,
      `shop_http_requests_total{k8s_namespace="${namespace}",app_workload="${canary}",code="503"} ${ticks}`,
      `shop_http_requests_total{k8s_namespace="${namespace}",app_workload="${idle}",code="200"} 7`,
      '# TYPE shop_http_latency_ms histogram',
      ...[['10', 2], ['50', 8], ['200', 10], ['+Inf', 10]].map(([le, n]) => `shop_http_latency_ms_bucket{k8s_namespace="${namespace}",app_workload="${canary}",le="${le}"} ${ticks * Number(n)}`),
      `shop_http_latency_ms_count{k8s_namespace="${namespace}",app_workload="${canary}"} ${ticks * 10}`,
    ];
    return `${lines.join('\n')}\n`;
  }

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(exposition());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    targetFile = path.join(info.prometheus.targetsDir, `${id}.json`);
    fs.writeFileSync(targetFile, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { ramp_test: id } }]));

    // Wait until the rate windows hold enough samples for both built-in queries to answer.
    const successRate = renderQuery(BUILTIN_QUERIES['request-success-rate'], { ...vars, interval: '10s' });
    await eventually('a success rate for the test workload', async () => {
      const r = await prometheus.query(successRate);
      return r.kind === 'value' ? r : undefined;
    }, 60_000, 500);
    // Absolute rates are only right once the series is older than the 10 s window (Prometheus
    // does not extrapolate a young counter back past its first sample); ratios are right at once.
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 12_000 - Date.now())));
    at = new Date().toISOString();
  });

  afterAll(async () => {
    if (targetFile) fs.rmSync(targetFile, { force: true });
    if (server) await new Promise((r) => server.close(r));
  });

  it('answers its health endpoint', async () => {
    await expect(prometheus.isOnline()).resolves.toBe(true);
  });

  it('computes the built-in request-success-rate: 95 % of destination-reported requests', async () => {
    const r = await prometheus.query(renderQuery(BUILTIN_QUERIES['request-success-rate'], { ...vars, interval: '10s' }));
    expect(r.kind).toBe('value');
    expect(r.kind === 'value' && r.value).toBeCloseTo(95, 1);
  });

  it('computes the built-in request-duration p99 inside the (100, 250] ms bucket', async () => {
    const r = await prometheus.query(renderQuery(BUILTIN_QUERIES['request-duration'], { ...vars, interval: '10s' }));
    expect(r.kind).toBe('value');
    const p99 = r.kind === 'value' ? r.value : NaN;
    expect(p99).toBeGreaterThan(100);
    expect(p99).toBeLessThanOrEqual(250);
    expect(p99).toBeCloseTo(175, 0);
  });

  it('measures an analysis: pass and fail against thresholds, one measurement per metric in spec order', async () => {
    const analysis = newAnalysis([
      newMetric({ name: 'request-success-rate', thresholdRange: { min: 90 } }),
      newMetric({ name: 'request-duration', thresholdRange: { max: 500 } }),
    ]);
    const strict = newAnalysis([
      newMetric({ name: 'request-success-rate', thresholdRange: { min: 99 } }),
      newMetric({ name: 'request-duration', thresholdRange: { max: 100 } }),
    ]);

    const passed = await activities.measureAnalysis({ analysis, vars, at });
    expect(passed.map((m) => [m.metric, m.phase, m.at])).toEqual([
      ['request-success-rate', 'Successful', at],
      ['request-duration', 'Successful', at],
    ]);

    const failed = await activities.measureAnalysis({ analysis: strict, vars, at });
    expect(failed.map((m) => m.phase)).toEqual(['Failed', 'Failed']);
    expect(failed[0]!.message).toMatch(/^value 9[45](\.\d+)? below min 99$/);
    expect(failed[1]!.message).toMatch(/^value 1\d\d(\.\d+)? above max 100$/);
  });

  it('measures at the look time the workflow passes, not at Prometheus\' now: a counter read at a past `at` is the value it had then', async () => {
    const query = 'sum(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"})';
    const analysis = newAnalysis([newMetric({ name: 'canary-requests', query, thresholdRange: { min: 0 } })]);
    const past = Date.now() - 5000;
    const [then] = await activities.measureAnalysis({ analysis, vars, at: new Date(past).toISOString() });
    const [now] = await activities.measureAnalysis({ analysis, vars, at: new Date().toISOString() });
    const asOfPast = await prometheus.query(renderQuery(query, vars), { time: past });
    expect(asOfPast.kind).toBe('value');
    // The canary's destination counters grow by 200 a second: 5 s apart, about 1,000 apart.
    expect(then!.value).toBe(asOfPast.kind === 'value' ? asOfPast.value : NaN);
    expect(now!.value! - then!.value!).toBeGreaterThan(500);
  });

  it('takes the rate window from the analysis interval when the metric has none', async () => {
    const sent: string[] = [];
    const recording = { ...prometheus, query: (q: string, o?: QueryOptions) => { sent.push(q); return prometheus.query(q, o); } };
    const analysis = { ...newAnalysis([newMetric({ window: undefined, thresholdRange: { min: 90 } })]), interval: 5000 };
    const [m] = await createMetricsActivities({ metrics: only(recording) }).measureAnalysis({ analysis, vars, at });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain('[5s]');
    expect(sent[0]).not.toContain('[10s]');
    expect(m!.phase).toBe('Successful');
    expect(m!.value).toBeCloseTo(95, 1);
  });

  it('a custom query gets the metric vars and the Ramp vars', async () => {
    const metric = newMetric({
      name: 'server-errors-per-second',
      query: 'sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",'
        + 'destination_workload="{{ target }}",response_code=~"{{ codes }}"}[{{ interval }}]))',
      vars: { codes: '5..' },
      thresholdRange: { max: 20 },
    });
    const [m] = await activities.measureAnalysis({ analysis: newAnalysis([metric]), vars, at });
    // One 500 per 100 ms tick: 10 per second. A rate (unlike the ratios above) carries the scrape's
    // timing jitter: Prometheus stamps a sample when the scrape starts, the endpoint reads the clock
    // when it answers, and loaded CI machines measured 8.8/s and 6.77/s. What the test must tell
    // apart is an order of magnitude: the destination reporter's 500s (10/s) from the source
    // reporter's (500/s), from the 200s (190/s, had `codes` not reached the query) and from no match.
    expect(m!.phase).toBe('Successful');
    expect(m!.value).toBeGreaterThan(2);
    expect(m!.value).toBeLessThan(50);
  });

  it('queryVector answers every series with its labels: histogram buckets by le, +Inf included', async () => {
    const series = await prometheus.queryVector(
      `sum by (le) (istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload="${canary}",destination_workload_namespace="${namespace}"})`);
    expect(series.map((x) => x.labels.le).sort()).toEqual([...BUCKETS].sort());
    const byLe = Object.fromEntries(series.map((x) => [x.labels.le!, x.value]));
    expect(byLe['+Inf']).toBeGreaterThan(0);
    // The answer is one scrape's counters, so the shares are exact: 45 of 50 per tick at or below 25 ms.
    expect(byLe['25']! / byLe['+Inf']!).toBeCloseTo(45 / 50, 6);
  });

  it('queryRange answers a time series per series, oldest first, one point per step', async () => {
    const end = Date.now();
    const [s, ...rest] = await prometheus.queryRange(
      `sum(istio_requests_total{reporter="destination",destination_workload="${canary}",destination_workload_namespace="${namespace}"})`,
      { start: end - 8000, end, stepMs: 2000 });
    expect(rest).toEqual([]);
    expect(s!.points.length).toBeGreaterThanOrEqual(4);
    expect(s!.points.length).toBeLessThanOrEqual(5);
    const times = s!.points.map(([t]) => t);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[1]! - times[0]!).toBe(2000);
    // A counter: never down, and rising with the ticks.
    const values = s!.points.map(([, v]) => v);
    expect(values.at(-1)!).toBeGreaterThan(values[0]!);
  });

  it('queryRange refuses an inverted range before sending anything', async () => {
    await expect(prometheus.queryRange('up', { start: 2000, end: 1000, stepMs: 1000 })).rejects.toThrow(/need start ≤ end and a positive step/);
  });

  it('readCounters: both workloads\' cumulative counters at one fixed time, the same when read again', async () => {
    const t = Date.now() - 2000;
    const input = { namespace, canary, baseline: idle, at: t };
    const first = await activities.readCounters(input);
    if (!first.ok) throw new Error(first.error);
    // Destination-reported only: 19 × 200 + 1 × 500 per tick; the source reporter's 50 × 500 are not counted.
    expect(first.canary.errors / first.canary.requests).toBeCloseTo(1 / 20, 6);
    expect(first.canary.latency!.buckets.map((b) => b.le)).toEqual(BUCKETS.filter((b) => b !== '+Inf').map(Number));
    expect(first.canary.latency!.count).toBe(first.canary.latency!.buckets.at(-1)!.count);
    expect(first.canary.latency!.buckets[4]!.count / first.canary.latency!.count).toBeCloseTo(45 / 50, 6);
    // The idle workload served 5 requests, no 5xx, and exposes no histogram.
    expect(first.baseline).toEqual({ requests: 5, errors: 0 });
    // Evaluated at `at`, a retried activity reads exactly the same counters.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await activities.readCounters(input)).toEqual(first);
  });

  it('readCounters through counter queries a user gave in the spec: other metric names, another workload label', async () => {
    const spec = backgroundAnalysis.parse({
      interval: '15s',
      judge: { sequential: {} },
      counters: {
        requests: 'sum by (app_workload) (shop_http_requests_total{k8s_namespace="{{namespace}}", app_workload=~"{{workloads}}"})',
        errors: 'sum by (app_workload) (shop_http_requests_total{k8s_namespace="{{namespace}}", app_workload=~"{{workloads}}", code=~"5.."})',
        latencyBuckets: 'sum by (app_workload, le) (shop_http_latency_ms_bucket{k8s_namespace="{{namespace}}", app_workload=~"{{workloads}}"})',
        workloadLabel: 'app_workload',
      },
    });
    const queries = counterTemplatesFor(spec.counters, 'istio');
    const input = { namespace, canary, baseline: idle, at: Date.now() - 2000, provider: spec.provider, queries };
    const r = await activities.readCounters(input);
    if (!r.ok) throw new Error(r.error);
    // 1 in 10 requests a 503; 8 in 10 at or below 50 ms; +Inf as the count.
    expect(r.canary.requests).toBeGreaterThan(0);
    expect(r.canary.errors / r.canary.requests).toBeCloseTo(1 / 10, 6);
    expect(r.canary.latency!.buckets.map((b) => b.le)).toEqual([10, 50, 200]);
    expect(r.canary.latency!.count).toBe(r.canary.requests);
    expect(r.canary.latency!.buckets[1]!.count / r.canary.latency!.count).toBeCloseTo(8 / 10, 6);
    // The baseline served 7 requests, no 5xx, and exposes no histogram.
    expect(r.baseline).toEqual({ requests: 7, errors: 0 });
    // Without queries, the same read takes Istio's: the same scrape, 20 requests a tick where these count 10.
    const viaIstio = await activities.readCounters({ ...input, queries: undefined });
    if (!viaIstio.ok) throw new Error(viaIstio.error);
    expect(viaIstio.canary.requests).toBe(2 * r.canary.requests);

    const history = await activities.readBaselineHistory({ namespace, baseline: canary, end: Date.now() - 1500, stepMs: 1000, steps: 3, queries });
    if (!history.ok) throw new Error(history.error);
    expect(history.samples.length).toBeGreaterThanOrEqual(2);
    expect(history.samples.every((a) => a.latency?.buckets.length === 3)).toBe(true);
  });

  it('counter queries that do not render fail the activity as non-retryable InvalidAnalysis, before any query', async () => {
    const queries = { ...counterTemplatesFor(undefined, 'istio'), errors: 'sum by (destination_workload) (istio_requests_total{destination_workload=~"{{ workloads }}",code="{{ code }}"})' };
    const err = await activities.readCounters({ namespace, canary, baseline: idle, at: Date.now(), queries }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('InvalidAnalysis');
    expect(FORWARD_NON_RETRYABLE).toContain((err as ApplicationFailure).type);
    expect((err as ApplicationFailure).message).toMatch(/^counter query errors uses \{\{ code \}\}/);
  });

  it('each activity asks the provider its analysis names; a name the worker does not have fails as non-retryable InvalidAnalysis naming those it has', async () => {
    const down = createPrometheusProvider({ http: axios.create(), url: 'http://127.0.0.1:1', timeoutMs: 2000 });
    const two = createMetricsActivities({ metrics: new Map([['prometheus', down], ['local', prometheus]]) });
    const analysis = newAnalysis([newMetric({ thresholdRange: { min: 90 } })]);
    expect((await two.measureAnalysis({ analysis, vars, at }))[0]!.phase).toBe('Error');
    expect((await two.measureAnalysis({ analysis: { ...analysis, provider: 'local' }, vars, at }))[0]!.phase).toBe('Successful');
    expect((await two.readCounters({ namespace, canary, baseline: idle, at: Date.now() - 2000 })).ok).toBe(false);
    expect((await two.readCounters({ namespace, canary, baseline: idle, at: Date.now() - 2000, provider: 'local' })).ok).toBe(true);

    for (const call of [
      () => two.measureAnalysis({ analysis: { ...analysis, provider: 'thanos' }, vars, at }),
      () => two.readCounters({ namespace, canary, baseline: idle, at: Date.now(), provider: 'thanos' }),
      () => two.readBaselineHistory({ namespace, baseline: canary, end: Date.now(), stepMs: 1000, steps: 3, provider: 'thanos' }),
    ]) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      const f = err as ApplicationFailure;
      expect(f.type).toBe('InvalidAnalysis');
      expect(FORWARD_NON_RETRYABLE).toContain(f.type);
      expect(f.message).toBe('metrics provider "thanos" is not configured on this worker (configured: prometheus, local); name one of those in the analysis\' provider, or configure it on the worker');
    }
  });

  it('the worker\'s providers are built from its settings, one entry each, names checked', async () => {
    const http = axios.create();
    const providers = createMetricsProviders([
      { name: 'prometheus', type: 'prometheus', url: info.prometheus.url },
      { name: 'prometheus-eu', type: 'prometheus', url: 'http://127.0.0.1:1', timeoutMs: 2000 },
    ], { http });
    expect([...providers.keys()]).toEqual(['prometheus', 'prometheus-eu']);
    await expect(providers.get('prometheus')!.isOnline()).resolves.toBe(true);
    await expect(providers.get('prometheus-eu')!.isOnline()).resolves.toBe(false);
    expect(() => createMetricsProviders([{ name: 'a', type: 'prometheus', url: 'http://x' }, { name: 'a', type: 'prometheus', url: 'http://y' }], { http }))
      .toThrow(new MetricsProviderConfigError('metrics provider "a" is configured twice'));
    expect(() => createMetricsProviders([{ name: 'Prom_1', type: 'prometheus', url: 'http://x' }], { http }))
      .toThrow(/metrics provider name "Prom_1" cannot be named by an analysis/);
  });

  it('readCounters with Prometheus unreachable is a result naming the endpoint, not a thrown failure', async () => {
    const down = createMetricsActivities({ metrics: only(createPrometheusProvider({ http: axios.create(), url: 'http://127.0.0.1:1', timeoutMs: 2000 })) });
    const r = await down.readCounters({ namespace, canary, baseline: idle, at: Date.now() });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^Prometheus query failed: POST http:\/\/127\.0\.0\.1:1\/api\/v1\/query: cannot reach Prometheus \(ECONNREFUSED/);
  });

  it('readBaselineHistory: a workload\'s counters one step apart, cut where the workload had no samples yet, and a steady workload calibrates', async () => {
    // The server started moments ago: ask for more steps than it has history, and get only those it has.
    const end = Date.now() - 1500;
    const r = await activities.readBaselineHistory({ namespace, baseline: canary, end, stepMs: 1000, steps: 600 });
    if (!r.ok) throw new Error(r.error);
    expect(r.samples.length).toBeGreaterThanOrEqual(2);
    expect(r.samples.length).toBeLessThan(600);
    // Consecutive samples: counters never go down, and each step's increments keep the served shares:
    // 1 in 20 requests a 5xx, 45 in 50 at or below 25 ms.
    const steps = r.samples.slice(1).map((a, i) => ({
      requests: a.requests - r.samples[i]!.requests,
      errors: a.errors - r.samples[i]!.errors,
      fast: a.latency!.buckets[4]!.count - r.samples[i]!.latency!.buckets[4]!.count,
      count: a.latency!.count - r.samples[i]!.latency!.count,
    }));
    const moving = steps.filter((d) => d.requests > 0);
    expect(moving.length).toBeGreaterThan(0);
    for (const d of steps) expect(d.requests).toBeGreaterThanOrEqual(0);
    for (const d of moving) {
      expect(d.errors / d.requests).toBeCloseTo(1 / 20, 6);
      expect(d.fast / d.count).toBeCloseTo(45 / 50, 6);
    }

    // Wait until 8 steps of 1 s are there, then calibrate a judge with 1 s batches on them: traffic
    // that is a pure function of time scatters less than Poisson, so the slow-request prior (10
    // slow requests a second) is narrowed to the floor.
    const eight = await eventually('8 steps of history', async () => {
      const h = await activities.readBaselineHistory({ namespace, baseline: canary, end: Date.now() - 1500, stepMs: 1000, steps: 8 });
      if (!h.ok || h.samples.length < 9) throw new Error(`history so far: ${h.ok ? h.samples.length : h.error}`);
      return h.samples;
    }, 30_000, 1000);
    const cal = calibrateNoise(resolveSequentialConfig({ batchMs: 1000 }), eight);
    expect(cal.batches).toBe(8);
    expect(cal.latency?.slowMs).toBe(25);
    expect(cal.latencyNoise).toBe(0.35);
  });

  it('readBaselineHistory with Prometheus unreachable is a result naming the endpoint, not a thrown failure', async () => {
    const down = createMetricsActivities({ metrics: only(createPrometheusProvider({ http: axios.create(), url: 'http://127.0.0.1:1', timeoutMs: 2000 })) });
    const r = await down.readBaselineHistory({ namespace, baseline: canary, end: Date.now(), stepMs: 60_000, steps: 30 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^Prometheus query failed: POST http:\/\/127\.0\.0\.1:1\/api\/v1\/query_range: cannot reach Prometheus/);
  });

  it('a workload without traffic has no data: Inconclusive by default, Failed with noData: fail, never Successful', async () => {
    const ghost = { namespace, target: `${id}-ghost` };
    const analysis = newAnalysis([
      newMetric({ name: 'request-success-rate', thresholdRange: { min: 0 } }),
      newMetric({ name: 'request-duration', thresholdRange: { max: 1e9 }, noData: 'fail' }),
    ]);
    const ms = await activities.measureAnalysis({ analysis, vars: ghost, at });
    expect(ms.map((m) => m.phase)).toEqual(['Inconclusive', 'Failed']);
    expect(ms[0]!.message).toBe('no data: the query matched no series');
    expect(ms[1]!.message).toBe('no data (noData: fail): the query matched no series');
  });

  it('a workload whose counters stand still yields NaN, which is no data too', async () => {
    const r = await prometheus.query(renderQuery(BUILTIN_QUERIES['request-success-rate'], { namespace, target: idle, interval: '10s' }));
    expect(r).toEqual({ kind: 'noData', detail: 'the only sample is NaN' });
    expect(evaluateMeasurement(newMetric({ thresholdRange: { min: 0 } }), r).phase).toBe('Inconclusive');
  });

  it('a query matching several series is manySeries, and an Error measurement', async () => {
    const q = `sum by (response_code) (rate(istio_requests_total{destination_workload_namespace="${namespace}",destination_workload="${canary}"}[10s]))`;
    const r = await prometheus.query(q);
    expect(r).toEqual({ kind: 'manySeries', count: 2 });
    const m = evaluateMeasurement(newMetric(), r);
    expect(m.phase).toBe('Error');
    expect(m.message).toMatch(/returned 2 series where one was expected/);
  });

  it('a syntactically bad query throws an error naming the URL, the query and Prometheus\' message', async () => {
    const bad = 'sum(rate(istio_requests_total[10s])';
    const err = await prometheus.query(bad).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    const e = err as PrometheusError;
    expect(e.errorType).toBe('bad_data');
    expect(e.httpStatus).toBe(400);
    expect(e.message).toContain(`${info.prometheus.url}/api/v1/query`);
    expect(e.message).toContain(`query: ${bad}`);
    expect(e.message).toMatch(/bad_data: .*parse error/);
  });

  it('the activity turns a bad query into an Error measurement carrying Prometheus\' message', async () => {
    const [m] = await activities.measureAnalysis({ analysis: newAnalysis([newMetric({ name: 'broken', query: 'sum(up' })]), vars, at });
    expect(m!.phase).toBe('Error');
    expect(m!.message).toMatch(/parse error/);
  });

  it('an unreachable Prometheus gives Error measurements, never Successful, and is not online', async () => {
    const down = createPrometheusProvider({ http: axios.create(), url: 'http://127.0.0.1:1', timeoutMs: 2000 });
    await expect(down.isOnline()).resolves.toBe(false);
    const ms = await createMetricsActivities({ metrics: only(down) }).measureAnalysis({
      analysis: newAnalysis([newMetric({ thresholdRange: { min: 0 } }), newMetric({ name: 'request-duration', thresholdRange: { max: 1e9 }, noData: 'fail' })]),
      vars,
      at,
    });
    expect(ms.map((m) => m.phase)).toEqual(['Error', 'Error']);
    expect(ms[0]!.message).toMatch(/^Prometheus query failed: POST http:\/\/127\.0\.0\.1:1\/api\/v1\/query: cannot reach Prometheus \(ECONNREFUSED/);
  });

  it('an undefined template variable fails the activity as non-retryable InvalidAnalysis before any query', async () => {
    // The real provider, counting calls: none may happen when a template is broken.
    let calls = 0;
    const counting = { ...prometheus, query: (q: string, o?: QueryOptions) => { calls++; return prometheus.query(q, o); } };
    const acts = createMetricsActivities({ metrics: only(counting) });
    const metric = newMetric({ name: 'x', query: 'up{a="{{ foo }}"}' });
    const err = await acts.measureAnalysis({ analysis: newAnalysis([newMetric(), metric]), vars, at }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const f = err as ApplicationFailure;
    expect(f.type).toBe('InvalidAnalysis');
    expect(FORWARD_NON_RETRYABLE).toContain(f.type);
    expect(f.message).toMatch(/^query for metric "x" uses \{\{ foo \}\} but no variable "foo" is defined; defined: namespace, target, interval/);
    expect(calls).toBe(0);
  });
});
