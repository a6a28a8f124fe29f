/**
 * The traffic generator routes as a Gateway API implementation would, against the real apiserver
 * (upstream Gateway API CRDs), the real controllers' EndpointSlices, KWOK's pods and the real
 * Prometheus: a request's path picks the HTTPRoute rule by Gateway API's match precedence, the
 * rule's backendRef weights pick a Service, its ready endpoints a pod. Requests are counted as
 * Contour's Envoy counts them, per upstream cluster `<namespace>_<service>_<port>`, and the
 * built-in `contour` counter template reads them back per Service.
 *
 * Shares are checked against the binomial sampling error of the requests counted (4 standard
 * deviations; exact when the expected share is 0 or 1). Waits poll for an outcome; nothing here
 * asserts how long something took.
 */
import * as k8s from '@kubernetes/client-node';
import axios from 'axios';
import type { DemoService } from '../../../scripts/traffic/demo-service';
import { sharesBetween, startTrafficGenerator, type TrafficGenerator, type TrafficGeneratorOptions, type TrafficStats } from '../../../scripts/traffic/generator';
import { COUNTER_TEMPLATES, renderCounterQueries } from '../../../src/domain/analysis/counters';
import { eventually, uniqueName } from '../../support/stack';
import { baseGeneratorOptions, expectBinomial, query, stackClients, startVersions, statsWhen, tearDownTraffic, V1, V2, waitForReadyEndpoints, webDeployment } from '../../support/traffic';

const GATEWAY_API = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;

// Waits poll for outcomes (pods ready, enough requests counted); a slow machine only makes them longer.
jest.setTimeout(300_000);

const { core, apps, custom } = stackClients();
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/**
 * A namespace with a stable (v1 ×2) and a canary (v2 ×1) Deployment and three Services: web-stable
 * and web-canary over one version each, web-api over the stable pods.
 */
async function createApp(namespace: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await apps.createNamespacedDeployment({ namespace, body: webDeployment('web', 'v1', V1, 2) });
  await apps.createNamespacedDeployment({ namespace, body: webDeployment('web-canary', 'v2', V2, 1) });
  const service = (name: string, version: string) => core.createNamespacedService({
    namespace, body: { metadata: { name }, spec: { selector: { app: 'web', version }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
  });
  await service('web-stable', 'v1');
  await service('web-canary', 'v2');
  await service('web-api', 'v1');
  await waitForReadyEndpoints(namespace, { 'web-stable': 2, 'web-canary': 1, 'web-api': 2 });
}

async function createRoute(namespace: string, kind: 'HTTPRoute' | 'GRPCRoute', rules: unknown[]): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...GATEWAY_API, namespace, plural: kind === 'HTTPRoute' ? 'httproutes' : 'grpcroutes',
    body: { apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name: 'web' }, spec: { parentRefs: [{ name: 'gateway', namespace: 'infra' }], rules } },
  });
}

/** Per-Service shares over at least `requests` more requests, over which the routing table did not change. */
async function serviceWindow(g: TrafficGenerator, requests: number) {
  const before = g.stats();
  const after = await statsWhen(g, `${requests} more requests`, (s) => s.requests - before.requests >= requests, 180_000);
  expect(after.tableChanges).toBe(before.tableChanges);
  const shares = sharesBetween(before, after, 'services');
  const sent = (service: string) => shares.byKey[service]?.sent ?? 0;
  return { before, after, requests: shares.requests, sent, unmatched: after.unmatched - before.unmatched };
}

const generatorOptions = (namespace: string, v: { v1: DemoService; v2: DemoService }, over: Partial<TrafficGeneratorOptions>): TrafficGeneratorOptions =>
  ({ ...baseGeneratorOptions(namespace, v, 9), ...over });

const tearDown = (namespace: string, generator: TrafficGenerator | undefined, versions: { v1: DemoService; v2: DemoService } | undefined) =>
  tearDownTraffic(core, namespace, generator, versions);

const allResolved = (s: TrafficStats) => s.entries.length > 0 && s.entries.every((e) => e.endpoints.length > 0);

describe('HTTPRoute: a weighted rule and a path-matched rule', () => {
  const namespace = uniqueName('gw-traffic');
  let versions: { v1: DemoService; v2: DemoService } | undefined;
  let generator: TrafficGenerator | undefined;
  const g = () => generator!;
  const lines: string[] = [];
  const cluster = (service: string) => `${namespace}_${service}_80`;

  // The catch-all rule comes first: /api requests must still go to the more specific rule.
  const rules = (stable: number, canary: number) => [
    { name: 'split', backendRefs: [{ name: 'web-stable', port: 80, weight: stable }, { name: 'web-canary', port: 80, weight: canary }] },
    { name: 'api', matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'web-api', port: 80 }] },
  ];

  beforeAll(async () => {
    await createApp(namespace);
    await createRoute(namespace, 'HTTPRoute', rules(80, 20));
    versions = await startVersions(21);
    generator = await startTrafficGenerator(generatorOptions(namespace, versions, {
      gatewayRoute: { kind: 'HTTPRoute', name: 'web' },
      // A quarter of the requests are API calls; /apiary is not under /api (whole path elements).
      requests: [{ path: '/', weight: 2 }, { path: '/apiary', weight: 1 }, { path: '/api/cart', weight: 1 }],
      log: (l) => lines.push(l),
    }));
  });

  afterAll(() => tearDown(namespace, generator, versions));

  it('sends each rule\'s requests to its own backendRefs, split by weight', async () => {
    const ready = await statsWhen(g(), 'every backendRef resolved to ready pods', allResolved);
    // The generator started once every pod was ready: no request was answered 503 for want of one
    // (those would count as the stable's errors in Prometheus below).
    expect(ready.noEndpoint).toBe(0);
    expect(ready.route).toBe('HTTPRoute web');
    expect(ready.entries.map((e) => [e.rule, e.host, e.port, e.weight, e.cluster, e.endpoints.length])).toEqual([
      ['split', 'web-stable', 80, 80, cluster('web-stable'), 2],
      ['split', 'web-canary', 80, 20, cluster('web-canary'), 1],
      ['api', 'web-api', 80, 1, cluster('web-api'), 2],
    ]);
    expect(ready.services['web-api']!.expectedShare).toBeCloseTo(0.25, 10);
    expect(ready.services['web-canary']!.expectedShare).toBeCloseTo(0.15, 10);

    const w = await serviceWindow(g(), 1200);
    expect(w.unmatched).toBe(0);
    expectBinomial('web-api (the /api rule)', w.sent('web-api'), w.requests, 0.25);
    expectBinomial('web-stable (80 of the rest)', w.sent('web-stable'), w.requests, 0.6);
    expectBinomial('web-canary (20 of the rest)', w.sent('web-canary'), w.requests, 0.15);
    // Only the api rule's entry took requests for web-api: the split rule never names it.
    const apiPicked = w.after.entries.find((e) => e.rule === 'api')!.picked - w.before.entries.find((e) => e.rule === 'api')!.picked;
    expect(apiPicked).toBe(w.sent('web-api'));
    expect(lines.some((l) => l.includes('rule api: web-api:80 1 → 2× web (v1, registry.local/web:v1)'))).toBe(true);
  });

  it('serves Envoy cluster stats per Service as Contour names them, and no Istio series', async () => {
    const text = (await axios.get<string>(g().metricsUrl, { responseType: 'text' })).data;
    expect(text).not.toContain('istio_requests_total');
    expect(text).toMatch(new RegExp(`^envoy_cluster_upstream_rq_total\\{envoy_cluster_name="${cluster('web-canary')}"\\} \\d+$`, 'm'));
    expect(text).toMatch(new RegExp(`^envoy_cluster_upstream_rq\\{envoy_response_code="200",envoy_cluster_name="${cluster('web-stable')}"\\} \\d+$`, 'm'));
    expect(text).toMatch(new RegExp(`^envoy_cluster_upstream_rq_time_bucket\\{envoy_cluster_name="${cluster('web-api')}",le="\\+Inf"\\} \\d+$`, 'm'));
  });

  it('lets Prometheus read the counters per Service with the built-in contour template', async () => {
    const q = renderCounterQueries(COUNTER_TEMPLATES.contour, namespace, ['web-canary', 'web-stable']);
    const rows = await eventually('both arms in Prometheus', async () => {
      const r = await query(q.requests);
      return r.length === 2 ? r : undefined;
    }, 60_000, 500);
    expect(rows.map((r) => r.metric.upstream_service).sort()).toEqual(['web-canary', 'web-stable']);
    const before = g().stats();
    // Prometheus' counts lag the generator's by at most a scrape: once it has caught up with `before`
    // on both arms, it is between `before` and now. (Waiting on one arm only let a scrape taken before
    // `before` pass when that arm had no request in between, with the other arm still behind.)
    const totals = await eventually('a scrape after the stats', async () => {
      const t = Object.fromEntries((await query(q.requests)).map((r) => [r.metric.upstream_service!, Number(r.value[1])]));
      return ['web-stable', 'web-canary'].every((s) => (t[s] ?? 0) >= before.services[s]!.completed) ? t : undefined;
    }, 30_000, 500);
    const after = g().stats();
    for (const s of ['web-stable', 'web-canary']) {
      expect(totals[s]).toBeGreaterThanOrEqual(before.services[s]!.completed);
      expect(totals[s]).toBeLessThanOrEqual(after.services[s]!.completed);
    }
    // The canary answers 10 % errors, the stable none: the errors query sees them on the canary only.
    const errors = Object.fromEntries((await query(q.errors)).map((r) => [r.metric.upstream_service!, Number(r.value[1])]));
    expect(errors['web-canary']).toBeGreaterThan(0);
    expect(errors['web-stable'] ?? 0).toBe(0);
    const buckets = await query(q.latencyBuckets);
    expect(new Set(buckets.map((b) => b.metric.upstream_service))).toEqual(new Set(['web-canary', 'web-stable']));
  });

  it('follows a weight change to 0/100: then the stable Service receives nothing new', async () => {
    const s0 = g().stats();
    await custom.patchNamespacedCustomObject({ ...GATEWAY_API, namespace, plural: 'httproutes', name: 'web', body: { spec: { rules: rules(0, 100) } } }, mergePatch);
    const switched = await statsWhen(g(), 'the generator to see 0/100', (s) => s.entries.filter((e) => e.rule === 'split').map((e) => e.weight).join('/') === '0/100');
    expect(switched.weightChanges).toBe(s0.weightChanges + 1);
    expect(switched.resourceVersion).not.toBe(s0.resourceVersion);

    const w = await serviceWindow(g(), 800);
    expect(w.sent('web-stable')).toBe(0);
    expectBinomial('web-canary at weight 100', w.sent('web-canary'), w.requests, 0.75);
    expectBinomial('web-api unchanged', w.sent('web-api'), w.requests, 0.25);

    // Prometheus: once a scrape has seen every answer stable gave, its counter stays put while the canary's grows.
    // (Summed over codes: answers for a Service without ready endpoints, while the pods started, count there too.)
    const stableQuery = `sum(envoy_cluster_upstream_rq{envoy_cluster_name="${cluster('web-stable')}"})`;
    const canaryQuery = `sum(envoy_cluster_upstream_rq{envoy_cluster_name="${cluster('web-canary')}"})`;
    const stableDone = g().stats().services['web-stable']!.completed;
    const first = await eventually('a scrape with every stable request', async () => {
      const [s] = await query(stableQuery);
      const [c] = await query(canaryQuery);
      return s && c && Number(s.value[1]) === stableDone ? { stable: Number(s.value[1]), canary: Number(c.value[1]) } : undefined;
    }, 30_000, 500);
    const later = await eventually('the canary counter to grow', async () => {
      const [c] = await query(canaryQuery);
      return c && Number(c.value[1]) > first.canary ? Number(c.value[1]) : undefined;
    }, 30_000, 500);
    expect(later).toBeGreaterThan(first.canary);
    const [stableLater] = await query(stableQuery);
    expect(Number(stableLater!.value[1])).toBe(first.stable);
  });
});

describe('GRPCRoute: a method-matched weighted rule and a default rule', () => {
  const namespace = uniqueName('gw-grpc');
  let versions: { v1: DemoService; v2: DemoService } | undefined;
  let generator: TrafficGenerator | undefined;

  beforeAll(async () => {
    await createApp(namespace);
    await createRoute(namespace, 'GRPCRoute', [
      { backendRefs: [{ name: 'web-api', port: 80 }] },
      // No weights: each ref has Gateway API's default weight 1, so they split evenly.
      { matches: [{ method: { type: 'Exact', service: 'shop.Cart' } }], backendRefs: [{ name: 'web-stable', port: 80 }, { name: 'web-canary', port: 80 }] },
      // A ref to a Service that does not exist is invalid: the gateway answers 500 and no cluster counts it.
      { matches: [{ method: { service: 'shop.Gone' } }], backendRefs: [{ name: 'no-such-service', port: 80 }] },
    ]);
    versions = await startVersions(21);
    generator = await startTrafficGenerator(generatorOptions(namespace, versions, {
      gatewayRoute: { kind: 'GRPCRoute', name: 'web' },
      requests: [{ path: '/shop.Cart/Add', method: 'POST' }, { path: '/shop.Orders/List', method: 'POST' }, { path: '/shop.Gone/Get', method: 'POST' }],
    }));
  });

  afterAll(() => tearDown(namespace, generator, versions));

  it('sends shop.Cart calls to its rule\'s refs at the default weight 1 each, every other call to the default rule, and answers 500 for an invalid ref', async () => {
    const g = generator!;
    const ready = await statsWhen(g, 'every valid backendRef resolved to ready pods', (s) => s.entries.length === 4 && s.entries.every((e) => e.invalid !== undefined || e.endpoints.length > 0));
    expect(ready.route).toBe('GRPCRoute web');
    expect(ready.entries.map((e) => [e.rule, e.host, e.weight, e.invalid !== undefined])).toEqual([
      ['#0', 'web-api', 1, false], ['#1', 'web-stable', 1, false], ['#1', 'web-canary', 1, false], ['#2', 'no-such-service', 1, true],
    ]);
    expect(ready.entries[3]!.invalid).toMatch(/backendRef no-such-service: .*no EndpointSlice/);
    const w = await serviceWindow(g, 900);
    expect(w.unmatched).toBe(0);
    expectBinomial('web-api (shop.Orders)', w.sent('web-api'), w.requests, 1 / 3);
    expectBinomial('web-stable (half of shop.Cart)', w.sent('web-stable'), w.requests, 1 / 6);
    expectBinomial('web-canary (half of shop.Cart)', w.sent('web-canary'), w.requests, 1 / 6);
    expectBinomial('no-such-service (shop.Gone)', w.sent('no-such-service'), w.requests, 1 / 3);
    const gone = w.after.services['no-such-service']!;
    expect(gone.errors).toBe(gone.completed);
    expect(Object.keys(gone.byCode)).toEqual(['500']);
    const text = (await axios.get<string>(g.metricsUrl, { responseType: 'text' })).data;
    expect(text).not.toContain('no-such-service');
    expect(text).toContain(`envoy_cluster_name="${namespace}_web-api_80"`);
  });
});
