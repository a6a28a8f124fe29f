/**
 * The traffic generator routes as an Istio sidecar would, against the real apiserver, the real
 * controllers' EndpointSlices, KWOK's pods and the real Prometheus: route weights, then the host's
 * Service, its ready endpoints, the DestinationRule subset, a pod; the pod's image picks the demo
 * behaviour, its owning Deployment names the metrics.
 *
 * Shares are checked against the binomial sampling error of the requests counted (4 standard
 * deviations; exact when the expected share is 0 or 1). Nothing here asserts how long something
 * took: waits poll for an outcome, then the outcome and the order of events are asserted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import axios from 'axios';
import type { DemoService } from '../../../scripts/traffic/demo-service';
import {
  ISTIO_DURATION_BUCKETS_MS, sharesBetween, startTrafficGenerator, TrafficGeneratorError,
  type EntryStats, type TrafficGenerator, type TrafficGeneratorOptions,
} from '../../../scripts/traffic/generator';
import { BUILTIN_QUERIES, renderQuery } from '../../../src/domain/analysis/templates';
import { eventually, uniqueName } from '../../support/stack';
import { expectBinomial, query, stackClients, startVersions, statsWhen, V1, V2, webDeployment } from '../../support/traffic';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;
const STABLE = 'web-stable';
const CANARY = 'web-canary';

// Waits poll for outcomes (pods ready, enough requests counted); a slow machine only makes them longer.
jest.setTimeout(300_000);

const { info, core, apps, custom } = stackClients();
const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** The value of a one-row query, or undefined when it has no row yet. */
async function scalar(promql: string): Promise<number | undefined> {
  const [row] = await query(promql);
  return row ? Number(row.value[1]) : undefined;
}

/** A namespace with two Deployments of one app (stable v1 ×2, canary v2 ×1), as a canary guide has them. */
async function createApp(namespace: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await apps.createNamespacedDeployment({ namespace, body: webDeployment(STABLE, 'v1', V1, 2) });
  await apps.createNamespacedDeployment({ namespace, body: webDeployment(CANARY, 'v2', V2, 1) });
}

async function createService(namespace: string, name: string, selector: Record<string, string>): Promise<void> {
  await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } });
}

async function createVirtualService(namespace: string, hosts: string[], http: unknown[]): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...ISTIO, namespace, plural: 'virtualservices',
    body: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web' }, spec: { hosts, http } },
  });
}

async function patchRoutes(namespace: string, http: unknown[]): Promise<void> {
  await custom.patchNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'web', body: { spec: { http } } }, mergePatch);
}

async function patchDeployment(namespace: string, name: string, ops: unknown[]): Promise<void> {
  await apps.patchNamespacedDeployment({ namespace, name, body: ops }, jsonPatch);
}

const entryName = (e: { host: string; subset?: string }) => `${e.host}${e.subset ? `/${e.subset}` : ''}`;
const workloadsOf = (e: EntryStats) => [...new Set(e.endpoints.map((p) => p.workload))].sort();

/** Stats before and after at least `requests` more requests, over which the routing table did not change. */
async function trafficWindow(g: TrafficGenerator, requests: number) {
  const before = g.stats();
  const after = await statsWhen(g, `${requests} more requests`, (s) => s.requests - before.requests >= requests, 180_000);
  expect(after.tableChanges).toBe(before.tableChanges);
  return { before, after, ...sharesBetween(before, after), images: sharesBetween(before, after, 'images').byKey };
}

function generatorOptions(namespace: string, v: { v1: DemoService; v2: DemoService }, over: Partial<TrafficGeneratorOptions>): TrafficGeneratorOptions {
  return {
    kubeconfig: info.kubernetes.kubeconfig,
    namespace,
    virtualService: 'web',
    route: { default: true },
    images: { [V1]: v.v1.url, [V2]: v.v2.url },
    rps: 80,
    targetsDir: info.prometheus.targetsDir,
    seed: 7,
    maxDurationMs: 10 * 60_000,
    ...over,
  };
}

describe('subset routing: a Service over both versions, a DestinationRule with subsets', () => {
  const namespace = uniqueName('traffic-subset');
  let versions: { v1: DemoService; v2: DemoService } | undefined;
  let generator: TrafficGenerator | undefined;
  const g = () => generator!;
  const lines: string[] = [];

  const routes = (stable: number, canary: number) => [
    // Routes before the followed one: it must be picked by name.
    { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api' } }] },
    { match: [{ headers: { 'x-canary': { exact: 'yes' } } }], route: [{ destination: { host: 'web', subset: 'canary' } }] },
    { name: 'primary', route: [{ destination: { host: 'web', subset: 'stable' }, weight: stable }, { destination: { host: 'web', subset: 'canary' }, weight: canary }] },
  ];
  const promTotals = async (): Promise<Record<string, number>> => {
    const rows = await query(`sum by (destination_workload) (istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}"})`);
    return Object.fromEntries(rows.map((r) => [r.metric.destination_workload!, Number(r.value[1])]));
  };

  beforeAll(async () => {
    await createApp(namespace);
    await createService(namespace, 'web', { app: 'web' });
    await custom.createNamespacedCustomObject({
      ...ISTIO, namespace, plural: 'destinationrules',
      body: {
        apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'web' },
        spec: { host: 'web', subsets: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }] },
      },
    });
    await createVirtualService(namespace, ['web', 'web.example.com'], routes(90, 10));
    versions = await startVersions(11);
    generator = await startTrafficGenerator(generatorOptions(namespace, versions, { route: 'primary', log: (l) => lines.push(l) }));
  });

  afterAll(async () => {
    await generator?.stop();
    await Promise.all([versions?.v1.close(), versions?.v2.close()]);
    if (generator) fs.rmSync(generator.targetFile, { force: true });
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it('routes 90/10 by subset to the pods each subset selects, attributed to their Deployments', async () => {
    const ready = await statsWhen(g(), 'both subsets resolved to their ready pods', (s) =>
      s.entries.length === 2 && s.entries[0]!.endpoints.length === 2 && s.entries[1]!.endpoints.length === 1);
    expect(ready.route).toBe('route "primary"');
    expect(ready.hosts).toEqual(['web', 'web.example.com']);
    expect(ready.entries.map((e) => [entryName(e), e.weight, e.service, workloadsOf(e)])).toEqual([
      ['web/stable', 90, 'web', [STABLE]],
      ['web/canary', 10, 'web', [CANARY]],
    ]);
    expect(ready.entries[0]!.endpoints.every((e) => e.version === 'v1' && e.image === V1)).toBe(true);
    expect(ready.entries[1]!.endpoints.every((e) => e.version === 'v2' && e.image === V2)).toBe(true);
    expect(ready.workloads[CANARY]!.expectedShare).toBeCloseTo(0.1, 10);

    const w = await trafficWindow(g(), 800);
    expectBinomial('canary share', w.byKey[CANARY]!.sent, w.requests, 0.1);
    expectBinomial('stable share', w.byKey[STABLE]!.sent, w.requests, 0.9);
    expect(w.images[V2]!.sent).toBe(w.byKey[CANARY]!.sent);
    expect(w.after.noEndpoint - w.before.noEndpoint).toBe(0);
    // The two stable pods share their subset's requests.
    // (Counted within the window: before the pods of a fresh namespace were ready, requests had none.)
    expect(w.byKey.unknown?.sent ?? 0).toBe(0);
    expect(lines.some((l) => l.includes(`web/canary 10 → 1× ${CANARY} (v2, ${V2})`))).toBe(true);
  });

  it('writes its file-SD target and serves Istio-named series per workload, version and revision', async () => {
    const target = JSON.parse(fs.readFileSync(g().targetFile, 'utf8')) as { targets: string[] }[];
    expect(g().targetFile).toBe(`${info.prometheus.targetsDir}/traffic-${namespace}.json`);
    expect(target[0]!.targets).toEqual([new URL(g().metricsUrl).host]);
    const text = (await axios.get<string>(g().metricsUrl, { responseType: 'text' })).data;
    expect(text).toContain('# TYPE istio_requests_total counter');
    expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram');
    expect(text).toMatch(new RegExp(
      `istio_requests_total\\{reporter="destination",source_workload="ramp-traffic",source_workload_namespace="${namespace}",destination_workload="${CANARY}",`
      + `destination_workload_namespace="${namespace}",destination_version="v2",destination_canonical_service="web",destination_canonical_revision="v2",`
      + `destination_service="web.${namespace}.svc.cluster.local",destination_service_name="web",destination_service_namespace="${namespace}",`
      + 'request_protocol="http",response_code="200",response_flags="-"\\} \\d+'));
    expect(text).toMatch(/istio_request_duration_milliseconds_bucket\{[^}]*le="\+Inf"\} \d+/);
  });

  it('shows Prometheus the same split, the counts it sent, and Istio’s default duration buckets', async () => {
    await eventually('both workloads in Prometheus', async () => {
      const t = await promTotals();
      return t[STABLE] && t[CANARY] ? t : undefined;
    }, 60_000, 500);
    // A scrape strictly after `before` and strictly before `after` (scrape interval 1 s).
    const before = g().stats();
    await eventually('a scrape after the first stats', async () => {
      const t = await promTotals();
      return (t[STABLE] ?? 0) >= before.workloads[STABLE]!.completed ? t : undefined;
    }, 30_000, 500);
    const totals = await promTotals();
    const after = g().stats();
    for (const w of [STABLE, CANARY]) {
      expect(totals[w]).toBeGreaterThanOrEqual(before.workloads[w]!.completed);
      expect(totals[w]).toBeLessThanOrEqual(after.workloads[w]!.completed);
    }
    const versions = await query(`sum by (destination_workload, destination_version) (istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}"})`);
    expect(versions.map((r) => `${r.metric.destination_workload}=${r.metric.destination_version}`).sort()).toEqual([`${CANARY}=v2`, `${STABLE}=v1`]);

    const buckets = await query(`count by (le) (istio_request_duration_milliseconds_bucket{destination_workload_namespace="${namespace}",destination_workload="${STABLE}",response_code="200"})`);
    const le = (v: string) => (v === '+Inf' ? Infinity : Number(v));
    expect(buckets.map((b) => le(b.metric.le!)).sort((a, b) => a - b)).toEqual([...ISTIO_DURATION_BUCKETS_MS, Infinity]);
    expect(await scalar(`sum(istio_request_duration_milliseconds_count{destination_workload_namespace="${namespace}"}) - sum(istio_requests_total{destination_workload_namespace="${namespace}"})`)).toBe(0);
    const p50 = await scalar(`histogram_quantile(0.5, sum by (le) (rate(istio_request_duration_milliseconds_bucket{destination_workload_namespace="${namespace}",destination_workload="${STABLE}"}[30s])))`);
    expect(p50).toBeGreaterThan(0);
  });

  it('follows a weight change to 0/100: then the stable subset gets nothing, and the success-rate query sees the canary’s errors', async () => {
    const s0 = g().stats();
    await patchRoutes(namespace, routes(0, 100));
    const switched = await statsWhen(g(), 'the generator to see 0/100', (s) => s.entries.map((e) => e.weight).join('/') === '0/100');
    expect(switched.weightChanges).toBe(s0.weightChanges + 1);
    expect(switched.resourceVersion).not.toBe(s0.resourceVersion);

    const w = await trafficWindow(g(), 600);
    expectBinomial('stable share at weight 0', w.byKey[STABLE]!.sent, w.requests, 0);
    expectBinomial('canary share at weight 100', w.byKey[CANARY]!.sent, w.requests, 1);

    // Prometheus sees the same: the stable workload's counter stops.
    await eventually('no new stable requests in Prometheus', async () => {
      const v = await scalar(`sum(increase(istio_requests_total{destination_workload_namespace="${namespace}",destination_workload="${STABLE}"}[3s]))`);
      return v === 0 ? v : undefined;
    }, 30_000, 500);
    // The built-in query over one minute; the canary's requests in that minute bound its sampling error.
    const promql = renderQuery(BUILTIN_QUERIES['request-success-rate'], { namespace, target: CANARY, interval: '1m' });
    const [rate, n] = await eventually('a minute with enough canary requests', async () => {
      const count = await scalar(`sum(increase(istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}",destination_workload="${CANARY}"}[1m]))`);
      const r = await scalar(promql);
      return count !== undefined && count >= 1_000 && r !== undefined ? [r, count] as const : undefined;
    }, 120_000, 1_000);
    console.log(`request-success-rate of the canary: ${rate.toFixed(1)} % over ${Math.round(n)} requests`);
    expectBinomial('canary success rate', Math.round((rate / 100) * n), Math.round(n), 0.9);
    // v1 never answered 5xx: over five minutes, the stable workload's success rate is 100 %.
    expect(await scalar(renderQuery(BUILTIN_QUERIES['request-success-rate'], { namespace, target: STABLE, interval: '5m' }))).toBe(100);
  });

  it('turns the canary bad mid-run through POST /control', async () => {
    const control = `${versions!.v2.url}control`;
    const rejected = await axios.post(control, { errorRate: 2 }, { validateStatus: () => true });
    expect(rejected.status).toBe(400);
    expect(rejected.data.error).toMatch(/errorRate must be a number from 0 to 1/);
    const accepted = await axios.post(control, { errorRate: 0.5 });
    expect(accepted.data).toEqual({ version: 'v2', errorRate: 0.5, latencyMs: { median: 5, p99: 25 } });

    // Count from the point where as many canary requests have been answered as had been sent at the change.
    const sentAtChange = g().stats().workloads[CANARY]!.sent;
    const s0 = await statsWhen(g(), 'requests sent before the change answered', (s) => s.workloads[CANARY]!.completed >= sentAtChange);
    const w = await trafficWindow(g(), 400);
    const completed = w.after.workloads[CANARY]!.completed - s0.workloads[CANARY]!.completed;
    const errors = w.after.workloads[CANARY]!.errors - s0.workloads[CANARY]!.errors;
    expectBinomial('canary errors after POST /control', errors, completed, 0.5);
    versions!.v2.setBehaviour({ errorRate: 0.1 });
  });

  it('answers 503 for a subset that selects no ready pod, attributed to "unknown" and reported by the source', async () => {
    // All traffic goes to the canary subset; the canary Deployment scales to zero, so its endpoints go.
    await patchDeployment(namespace, CANARY, [{ op: 'replace', path: '/spec/replicas', value: 0 }]);
    const empty = await statsWhen(g(), 'the canary subset to lose its endpoints', (s) => s.entries[1]!.endpoints.length === 0);
    expect(empty.entries[1]!.noEndpointReason).toBe('Service web: no ready endpoint with version=v2 (subset canary)');
    expect(empty.workloads.unknown!.expectedShare).toBe(1);

    const w = await trafficWindow(g(), 300);
    expect(w.after.noEndpoint - w.before.noEndpoint).toBe(w.requests);
    expect(w.after.entries[1]!.noEndpoint - w.before.entries[1]!.noEndpoint).toBe(w.requests);
    expect(w.byKey.unknown!.share).toBe(1);
    expect(w.after.workloads.unknown!.byCode['503']).toBe(w.after.workloads.unknown!.sent);
    expect(w.after.workloads[CANARY]!.sent).toBe(w.before.workloads[CANARY]!.sent);

    const sourceSelector = `reporter="source",source_workload_namespace="${namespace}",destination_workload="unknown",response_code="503"`;
    const uh = await eventually('the 503s in Prometheus', () => scalar(`sum(istio_requests_total{${sourceSelector},response_flags="UH"})`).then((v) => (v && v > 0 ? v : undefined)), 30_000, 500);
    expect(uh).toBeLessThanOrEqual(g().stats().noEndpoint);
    // The destination-reported series Ramp's analysis reads do not count them: no sidecar of the namespace saw them.
    expect(await scalar(`sum(istio_requests_total{reporter="destination",source_workload_namespace="${namespace}",destination_workload="unknown"})`)).toBeUndefined();

    // A subset no DestinationRule defines: Envoy has no cluster for it.
    await patchRoutes(namespace, [{ name: 'primary', route: [{ destination: { host: 'web', subset: 'stable' }, weight: 50 }, { destination: { host: 'web', subset: 'beta' }, weight: 50 }] }]);
    const undefinedSubset = await statsWhen(g(), 'the route to name subset beta', (s) => s.entries[1]?.subset === 'beta');
    expect(undefinedSubset.entries[1]!.noEndpointReason).toBe('subset beta of web: no DestinationRule defines it');
    const w2 = await trafficWindow(g(), 300);
    expect(w2.after.entries[1]!.noEndpoint - w2.before.entries[1]!.noEndpoint).toBe(w2.after.entries[1]!.picked - w2.before.entries[1]!.picked);
    expect(w2.after.entries[0]!.noEndpoint - w2.before.entries[0]!.noEndpoint).toBe(0);
    expectBinomial('share without endpoint', w2.byKey.unknown!.sent, w2.requests, 0.5);
    await eventually('NC in Prometheus', () => scalar(`sum(istio_requests_total{${sourceSelector},response_flags="NC"})`).then((v) => (v && v > 0 ? v : undefined)), 30_000, 500);
  });

  it('after a promotion (stable runs the canary’s image), the stable workload serves the canary behaviour', async () => {
    await patchRoutes(namespace, routes(100, 0));
    await patchDeployment(namespace, STABLE, [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: V2 }]);
    const promoted = await statsWhen(g(), 'the stable subset to hold only pods running the canary image', (s) => {
      const e = s.entries[0]!.endpoints;
      return s.entries[0]!.weight === 100 && e.length === 2 && e.every((p) => p.image === V2);
    }, 120_000);
    expect(workloadsOf(promoted.entries[0]!)).toEqual([STABLE]);
    // The version label is stable's, as Ramp's promotion keeps it.
    expect(promoted.entries[0]!.endpoints.every((p) => p.version === 'v1')).toBe(true);
    await statsWhen(g(), 'every request to a pod running the old image answered', (s) => s.images[V1]!.completed === s.images[V1]!.sent);
    const answered = (d: DemoService) => Object.values(d.counts()).reduce((a, b) => a + b, 0);
    const v1Before = answered(versions!.v1);
    const v2Before = answered(versions!.v2);

    const w = await trafficWindow(g(), 600);
    expectBinomial('stable workload share', w.byKey[STABLE]!.sent, w.requests, 1);
    expectBinomial('canary image share', w.images[V2]!.sent, w.requests, 1);
    expect(w.images[V1]!.sent).toBe(0);
    const completed = w.after.workloads[STABLE]!.completed - w.before.workloads[STABLE]!.completed;
    // v1 answered nothing more; v2 answered the stable workload's requests.
    expect(answered(versions!.v1)).toBe(v1Before);
    expect(answered(versions!.v2) - v2Before).toBeGreaterThanOrEqual(completed);
    const errors = w.after.workloads[STABLE]!.errors - w.before.workloads[STABLE]!.errors;
    expectBinomial('stable workload errors with the canary behaviour (10 %)', errors, completed, 0.1);
    // v1 never answers 500: 5xx of the stable workload are the canary behaviour's, labelled with stable's name.
    await eventually('stable 5xx in Prometheus', () => scalar(`sum(istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}",destination_workload="${STABLE}",response_code="500"})`).then((v) => (v && v > 0 ? v : undefined)), 30_000, 500);
  });

  it('resolves the FQDN of the Service to the same pods as its short name; `web.<ns>` names no Service to Istio', async () => {
    const fqdn = `web.${namespace}.svc.cluster.local`;
    await patchRoutes(namespace, [{
      name: 'primary',
      route: [
        { destination: { host: fqdn, subset: 'stable' }, weight: 40 },
        { destination: { host: 'web', subset: 'stable' }, weight: 40 },
        { destination: { host: `web.${namespace}`, subset: 'stable' }, weight: 20 },
      ],
    }]);
    const s = await statsWhen(g(), 'the three host forms', (x) => x.entries.length === 3 && x.entries[0]!.host === fqdn);
    const pods = (e: EntryStats) => e.endpoints.map((p) => p.pod);
    expect(s.entries[0]!.fqdn).toBe(fqdn);
    expect(s.entries[1]!.fqdn).toBe(fqdn);
    expect(s.entries[0]!.service).toBe('web');
    expect(pods(s.entries[0]!)).toHaveLength(2);
    expect(pods(s.entries[0]!)).toEqual(pods(s.entries[1]!));
    expect(s.entries[2]!.noEndpointReason).toBe(`host web.${namespace}: no Service of namespace ${namespace} has the hostname web.${namespace}`);

    const w = await trafficWindow(g(), 500);
    const picked = (i: number) => w.after.entries[i]!.picked - w.before.entries[i]!.picked;
    const noEndpoint = (i: number) => w.after.entries[i]!.noEndpoint - w.before.entries[i]!.noEndpoint;
    expect([noEndpoint(0), noEndpoint(1), noEndpoint(2)]).toEqual([0, 0, picked(2)]);
    expectBinomial('the FQDN entry', picked(0), w.requests, 0.4);
    expectBinomial('the stable workload', w.byKey[STABLE]!.sent, w.requests, 0.8);
  });

  it('keeps the last routing when the VirtualService goes away, and cleans up its target file on stop', async () => {
    const kept = g().stats().entries.map((e) => [e.host, e.weight]);
    await custom.deleteNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'web' });
    const noticed = await statsWhen(g(), 'the generator to notice', (s) => s.lastError !== undefined);
    expect(noticed.lastError).toMatch(/VirtualService .*\/web: it does not exist/);
    const w = await trafficWindow(g(), 100);
    expect(w.after.entries.map((e) => [e.host, e.weight])).toEqual(kept);
    expect(w.byKey[STABLE]!.sent).toBeGreaterThan(0);

    await g().stop();
    expect(fs.existsSync(g().targetFile)).toBe(false);
    await expect(g().done).resolves.toBe('stopped');
    const final = g().stats();
    expect(final.stopped).toBe('stopped');
    expect(final.inFlight).toBe(0);
    await expect(axios.get(g().metricsUrl, { timeout: 2_000 })).rejects.toThrow();
  });
});

describe('service routing where both Services select every pod (the Argo Rollouts + Istio guide’s shape)', () => {
  const namespace = uniqueName('traffic-service');
  let versions: { v1: DemoService; v2: DemoService } | undefined;
  let generator: TrafficGenerator | undefined;
  const g = () => generator!;
  let scratch: string | undefined;

  beforeAll(async () => {
    await createApp(namespace);
    await createService(namespace, 'web-stable', { app: 'web' });
    await createService(namespace, 'web-canary', { app: 'web' });
    // One unnamed route without match: followed as "the default route".
    await createVirtualService(namespace, ['web', `web.${namespace}.svc.cluster.local`], [
      { route: [{ destination: { host: 'web-stable' }, weight: 100 }, { destination: { host: 'web-canary' }, weight: 0 }] },
    ]);
    versions = await startVersions(11);
    generator = await startTrafficGenerator(generatorOptions(namespace, versions, { route: { default: true }, rps: 60, seed: 9 }));
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'traffic-targets-'));
  });

  afterAll(async () => {
    await generator?.stop();
    await Promise.all([versions?.v1.close(), versions?.v2.close()]);
    if (generator) fs.rmSync(generator.targetFile, { force: true });
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it('at canary weight 0 the canary’s pods still get traffic through the stable Service', async () => {
    // Both Services' EndpointSlices are resolved (each is written by the controller on its own).
    const s = await statsWhen(g(), 'both Services’ three pods', (x) => x.entries[0]!.endpoints.length === 3 && x.entries[1]!.endpoints.length === 3);
    expect(s.route).toBe('the default route (the first without match)');
    expect(s.entries.map((e) => [e.host, e.weight, workloadsOf(e)])).toEqual([['web-stable', 100, [CANARY, STABLE]], ['web-canary', 0, [CANARY, STABLE]]]);
    expect(s.workloads[CANARY]!.expectedShare).toBeCloseTo(1 / 3, 10);

    const w = await trafficWindow(g(), 600);
    expectBinomial('canary share at weight 0', w.byKey[CANARY]!.sent, w.requests, 1 / 3);
    expect(w.after.entries[1]!.picked).toBe(0);
    // Prometheus shows it too: the canary workload, reached through Service web-stable.
    await eventually('canary requests through web-stable in Prometheus', () => scalar(
      `sum(istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}",destination_workload="${CANARY}",destination_service_name="web-stable"})`,
    ).then((v) => (v && v > 0 ? v : undefined)), 60_000, 500);
  });

  it('with each ReplicaSet’s pod-template-hash in its Service’s selector, the split is exact', async () => {
    const pods = await core.listNamespacedPod({ namespace });
    const hashOf = (version: string) => pods.items.find((p) => p.metadata?.labels?.version === version)!.metadata!.labels!['pod-template-hash']!;
    for (const [service, version] of [['web-stable', 'v1'], ['web-canary', 'v2']] as const) {
      await core.patchNamespacedService({ namespace, name: service, body: [{ op: 'replace', path: '/spec/selector', value: { app: 'web', 'pod-template-hash': hashOf(version) } }] }, jsonPatch);
    }
    const s = await statsWhen(g(), 'each Service to select only its own pods', (x) => x.entries[0]!.endpoints.length === 2 && x.entries[1]!.endpoints.length === 1);
    expect(s.entries.map((e) => workloadsOf(e))).toEqual([[STABLE], [CANARY]]);

    const w = await trafficWindow(g(), 400);
    // A workload that got nothing in the window may have no entry yet: that is 0 sent.
    expectBinomial('canary share at weight 0', w.byKey[CANARY]?.sent ?? 0, w.requests, 0);

    await patchRoutes(namespace, [{ route: [{ destination: { host: 'web-stable' }, weight: 90 }, { destination: { host: 'web-canary' }, weight: 10 }] }]);
    await statsWhen(g(), 'weights 90/10', (x) => x.entries[1]!.weight === 10);
    const w10 = await trafficWindow(g(), 800);
    expectBinomial('canary share at weight 10', w10.byKey[CANARY]!.sent, w10.requests, 0.1);

    // An abort: all back on stable; the canary gets nothing more.
    await patchRoutes(namespace, [{ route: [{ destination: { host: 'web-stable' }, weight: 100 }, { destination: { host: 'web-canary' }, weight: 0 }] }]);
    await statsWhen(g(), 'weights 100/0', (x) => x.entries[1]!.weight === 0);
    const w0 = await trafficWindow(g(), 300);
    expect(w0.byKey[CANARY]!.sent).toBe(0);
  });

  it('follows an unnamed route by index as by "default", and names the routes when the one asked for is missing', async () => {
    const byIndex = await startTrafficGenerator(generatorOptions(namespace, versions!, { route: { index: 0 }, rps: 20, targetsDir: scratch! }));
    try {
      const main = g().stats();
      const s = await statsWhen(byIndex, 'requests by index', (x) => x.requests >= 20);
      expect(s.route).toBe('route #0');
      expect(s.entries.map((e) => [e.host, e.weight, e.endpoints.map((p) => p.pod)])).toEqual(main.entries.map((e) => [e.host, e.weight, e.endpoints.map((p) => p.pod)]));
      expect(s.noEndpoint).toBe(0);
    } finally {
      await byIndex.stop();
    }
    const missing = startTrafficGenerator(generatorOptions(namespace, versions!, { route: 'primary', targetsDir: scratch! }));
    await expect(missing).rejects.toThrow(TrafficGeneratorError);
    await expect(missing).rejects.toThrow(/cannot follow route "primary" of VirtualService .*\/web: it has no route "primary" \(routes: #0 \(unnamed\) \(no match\)\)/);
    await expect(startTrafficGenerator(generatorOptions(namespace, versions!, { route: { index: 1 }, targetsDir: scratch! }))).rejects.toThrow(/it has no route #1/);
  });
});
