/**
 * The traffic generator against the real apiserver and the real Prometheus: it splits requests
 * between two demo service versions by a VirtualService's weights, Prometheus scrapes its
 * Istio-named series, a weight change is followed within moments, and the built-in success-rate
 * query sees the canary's errors.
 */
import * as fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import axios from 'axios';
import { startDemoService, type DemoService } from '../../../scripts/traffic/demo-service';
import { ISTIO_DURATION_BUCKETS_MS, startTrafficGenerator, type TrafficGenerator, type TrafficStats } from '../../../scripts/traffic/generator';
import { BUILTIN_QUERIES, renderQuery } from '../../../src/domain/analysis/templates';
import { adminKubeConfig, eventually, sleep, stackInfo, uniqueName } from '../../support/stack';

const ISTIO = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' } as const;
const STABLE = 'storefront-original';
const CANARY = 'storefront-original-canary';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

function primaryRoute(stableWeight: number, canaryWeight: number) {
  return {
    name: 'primary',
    route: [
      { destination: { host: 'storefront', subset: 'stable' }, weight: stableWeight },
      { destination: { host: 'storefront', subset: 'canary' }, weight: canaryWeight },
    ],
  };
}

// A route before the managed one, so the generator must pick `primary` by name.
const apiRoute = { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api' } }] };

describe('traffic generator on the real stack', () => {
  const info = stackInfo();
  const kc = adminKubeConfig(info);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName('traffic-gen');
  let stable: DemoService | undefined;
  let canary: DemoService | undefined;
  let generator: TrafficGenerator | undefined;

  const query = async (promql: string): Promise<Sample[]> => {
    const res = await axios.get<{ status: string; data: { result: Sample[] } }>(`${info.prometheus.url}/api/v1/query`, { params: { query: promql }, timeout: 5_000 });
    expect(res.data.status).toBe('success');
    return res.data.data.result;
  };
  /** Cumulative request counts per workload, as Prometheus last scraped them. */
  const promTotals = async (): Promise<Record<string, number>> => {
    const rows = await query(`sum by (destination_workload) (istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}"})`);
    return Object.fromEntries(rows.map((r) => [r.metric.destination_workload!, Number(r.value[1])]));
  };
  const sentTo = (s: TrafficStats, workload: string) => s.workloads[workload]!.sent;
  /** The generator's stats once `ok` holds for them. */
  const statsWhen = (what: string, ok: (s: TrafficStats) => boolean, timeoutMs: number, everyMs = 50) =>
    eventually(what, () => {
      const s = generator!.stats();
      return Promise.resolve(ok(s) ? s : undefined);
    }, timeoutMs, everyMs);

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await custom.createNamespacedCustomObject({
      ...ISTIO, namespace,
      body: {
        apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'storefront' },
        spec: { hosts: ['storefront'], http: [apiRoute, primaryRoute(80, 20)] },
      },
    });
    stable = await startDemoService({ version: 'v1', seed: 11, errorRate: 0, latencyMs: { median: 3, p99: 15 } });
    canary = await startDemoService({ version: 'v2', seed: 12, errorRate: 0.1, latencyMs: { median: 5, p99: 25 } });
    generator = await startTrafficGenerator({
      kubeconfig: info.kubernetes.kubeconfig,
      namespace,
      virtualService: 'storefront',
      route: 'primary',
      destinations: [
        { match: { host: 'storefront', subset: 'stable' }, workload: STABLE, url: stable.url },
        { match: { host: 'storefront', subset: 'canary' }, workload: CANARY, url: canary.url },
      ],
      rps: 50,
      targetsDir: info.prometheus.targetsDir,
      seed: 7,
      maxDurationMs: 5 * 60_000,
    });
  });

  afterAll(async () => {
    await generator?.stop();
    await Promise.all([stable?.close(), canary?.close()]);
    if (generator) fs.rmSync(generator.targetFile, { force: true });
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it('writes its file-SD target and serves Istio-named series on /metrics', async () => {
    const target = JSON.parse(fs.readFileSync(generator!.targetFile, 'utf8')) as { targets: string[] }[];
    expect(generator!.targetFile).toBe(`${info.prometheus.targetsDir}/traffic-${namespace}.json`);
    expect(target[0]!.targets).toEqual([new URL(generator!.metricsUrl).host]);
    await statsWhen('requests to both versions', (s) => s.workloads[STABLE]!.completed > 0 && s.workloads[CANARY]!.completed > 0, 10_000);
    const text = (await axios.get<string>(generator!.metricsUrl, { responseType: 'text' })).data;
    expect(text).toContain('# TYPE istio_requests_total counter');
    expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram');
    expect(text).toMatch(new RegExp(`istio_requests_total\\{reporter="destination",.*destination_workload="${CANARY}",destination_workload_namespace="${namespace}",.*response_code="200"`));
    expect(text).toMatch(/istio_request_duration_milliseconds_bucket\{[^}]*le="\+Inf"\} \d+/);
  });

  it('shows both workloads in Prometheus within 15 s, split 80/20 and the canary at about 10 % 5xx', async () => {
    const t0 = Date.now();
    await eventually('both workloads in Prometheus', async () => {
      const totals = await promTotals();
      return totals[STABLE] && totals[CANARY] ? totals : undefined;
    }, 15_000, 500);
    console.log(`both workloads in Prometheus after ${Date.now() - t0} ms`);

    // Enough canary requests for its error share to be meaningful (about 10 s at 10 requests/s).
    const totals = await eventually('about 500 requests in Prometheus', async () => {
      const t = await promTotals();
      return (t[STABLE] ?? 0) + (t[CANARY] ?? 0) >= 500 ? t : undefined;
    }, 30_000, 500);
    const canaryShare = totals[CANARY]! / (totals[STABLE]! + totals[CANARY]!);
    expect(Math.abs(canaryShare - 0.2)).toBeLessThanOrEqual(0.1);

    const byCode = await query(`sum by (destination_workload, response_code) (istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}"})`);
    const count = (workload: string, code: RegExp) => byCode
      .filter((r) => r.metric.destination_workload === workload && code.test(r.metric.response_code!))
      .reduce((a, r) => a + Number(r.value[1]), 0);
    const canary5xx = count(CANARY, /^5/) / count(CANARY, /./);
    console.log(`Prometheus: ${JSON.stringify(totals)}; canary share ${(canaryShare * 100).toFixed(1)}%, canary 5xx ${(canary5xx * 100).toFixed(1)}%`);
    expect(Math.abs(canary5xx - 0.1)).toBeLessThanOrEqual(0.05);
    expect(count(STABLE, /^5/)).toBe(0);
  });

  it('exposes counts that match what it sent, with Istio’s default duration buckets', async () => {
    // A scrape strictly after `before` and strictly before `after` (scrape interval 1 s).
    const before = generator!.stats();
    await sleep(2_500);
    const totals = await promTotals();
    const after = generator!.stats();
    for (const w of [STABLE, CANARY]) {
      expect(totals[w]).toBeGreaterThanOrEqual(before.workloads[w]!.completed);
      expect(totals[w]).toBeLessThanOrEqual(after.workloads[w]!.completed);
    }

    const buckets = await query(`count by (le) (istio_request_duration_milliseconds_bucket{destination_workload_namespace="${namespace}",destination_workload="${STABLE}"})`);
    const le = (v: string) => (v === '+Inf' ? Infinity : Number(v));
    expect(buckets.map((b) => le(b.metric.le!)).sort((a, b) => a - b)).toEqual([...ISTIO_DURATION_BUCKETS_MS, Infinity]);
    const [counts] = await query(`sum(istio_request_duration_milliseconds_count{destination_workload_namespace="${namespace}"}) - sum(istio_requests_total{destination_workload_namespace="${namespace}"})`);
    expect(Number(counts!.value[1])).toBe(0);
    // The demo service's median is 3 ms; over local HTTP the p50 stays well under 250 ms.
    const [p50] = await query(`histogram_quantile(0.5, sum by (le) (rate(istio_request_duration_milliseconds_bucket{destination_workload_namespace="${namespace}",destination_workload="${STABLE}"}[30s])))`);
    expect(Number(p50!.value[1])).toBeGreaterThan(0);
    expect(Number(p50!.value[1])).toBeLessThan(250);
  });

  it('follows a merge patch to 0/100 at once: new requests go only to the canary', async () => {
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, name: 'storefront', body: { spec: { http: [apiRoute, primaryRoute(0, 100)] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const t0 = Date.now();
    const switched = await statsWhen('the generator to see 0/100', (s) => s.workloads[STABLE]!.weight === 0 && s.workloads[CANARY]!.weight === 100, 5_000, 10);
    const lag = Date.now() - t0;
    console.log(`generator followed the patch after ${lag} ms`);
    expect(lag).toBeLessThan(2_000);

    await sleep(2_000);
    const later = generator!.stats();
    expect(sentTo(later, STABLE)).toBe(sentTo(switched, STABLE));
    expect(sentTo(later, CANARY) - sentTo(switched, CANARY)).toBeGreaterThanOrEqual(80);

    // Prometheus sees the same: the stable workload's counter stops, the canary's keeps rising.
    await eventually('no new stable requests in Prometheus', async () => {
      const [row] = await query(`sum(increase(istio_requests_total{destination_workload_namespace="${namespace}",destination_workload="${STABLE}"}[3s]))`);
      return row && Number(row.value[1]) === 0 ? row : undefined;
    }, 10_000, 500);
    const [canaryRate] = await query(`sum(rate(istio_requests_total{destination_workload_namespace="${namespace}",destination_workload="${CANARY}"}[3s]))`);
    expect(Number(canaryRate!.value[1])).toBeGreaterThan(30);
  });

  it('gives the canary a success rate of about 90 % by the built-in Flagger-style query', async () => {
    // Wait for a minute's window to hold mostly 0/100 traffic: about 600 canary requests in 15 s.
    await sleep(10_000);
    const rate = async (target: string) => {
      const promql = renderQuery(BUILTIN_QUERIES['request-success-rate'], { namespace, target, interval: '1m' });
      const [row] = await query(promql);
      return Number(row!.value[1]);
    };
    const canaryRate = await rate(CANARY);
    const stableRate = await rate(STABLE);
    console.log(`request-success-rate: canary ${canaryRate.toFixed(1)} %, stable ${stableRate.toFixed(1)} %`);
    expect(Math.abs(canaryRate - 90)).toBeLessThanOrEqual(5);
    // The stable workload got no requests for the last few seconds but had some in the window.
    expect(stableRate).toBe(100);
  });

  it('turns the canary bad mid-run through POST /control', async () => {
    const control = `${canary!.url}control`;
    const rejected = await axios.post(control, { errorRate: 2 }, { validateStatus: () => true });
    expect(rejected.status).toBe(400);
    expect(rejected.data.error).toMatch(/errorRate must be a number from 0 to 1/);

    const s0 = generator!.stats();
    const accepted = await axios.post(control, { errorRate: 0.5, latencyMs: { median: 20, p99: 60 } });
    expect(accepted.data).toEqual({ version: 'v2', errorRate: 0.5, latencyMs: { median: 20, p99: 60 } });
    expect((await axios.get(control)).data).toEqual(accepted.data);
    await sleep(3_000);
    const s1 = generator!.stats();
    const completed = s1.workloads[CANARY]!.completed - s0.workloads[CANARY]!.completed;
    const errors = s1.workloads[CANARY]!.errors - s0.workloads[CANARY]!.errors;
    console.log(`after POST /control: ${errors}/${completed} canary errors`);
    expect(completed).toBeGreaterThanOrEqual(100);
    expect(Math.abs(errors / completed - 0.5)).toBeLessThanOrEqual(0.15);
    canary!.setBehaviour({ errorRate: 0.1, latencyMs: { median: 5, p99: 25 } });
  });

  it('keeps the last weights when the VirtualService goes away, and cleans up its target file on stop', async () => {
    await custom.deleteNamespacedCustomObject({ ...ISTIO, namespace, name: 'storefront' });
    await statsWhen('the generator to notice', (s) => s.lastError !== undefined, 5_000);
    const s0 = generator!.stats();
    await sleep(1_000);
    const s1 = generator!.stats();
    expect(s1.weights.map((w) => [w.workload, w.weight])).toEqual([[STABLE, 0], [CANARY, 100]]);
    expect(sentTo(s1, CANARY) - sentTo(s0, CANARY)).toBeGreaterThanOrEqual(40);

    await generator!.stop();
    expect(fs.existsSync(generator!.targetFile)).toBe(false);
    await expect(generator!.done).resolves.toBe('stopped');
    const final = generator!.stats();
    expect(final.stopped).toBe('stopped');
    expect(final.inFlight).toBe(0);
    await expect(axios.get(generator!.metricsUrl, { timeout: 2_000 })).rejects.toThrow();
  });
});
