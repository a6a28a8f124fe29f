/**
 * The traffic generator honours the routing features Ramp writes — header routes, mirrors and
 * sticky-session cookies — on a VirtualService and on an HTTPRoute, against the real apiserver
 * (upstream CRDs), the real controllers' EndpointSlices and KWOK's pods. The routing objects are
 * written by hand here exactly as Ramp's routers write them, so these tests say what each version
 * really receives, apart from Ramp's own code.
 *
 * Shares are checked against the binomial sampling error (4 standard deviations; exact when the
 * expected share is 0 or 1). Waits poll for an outcome; nothing here asserts how long something took.
 */
import * as k8s from '@kubernetes/client-node';
import axios from 'axios';
import type { DemoService } from '../../../scripts/traffic/demo-service';
import { startTrafficGenerator, type TrafficGenerator, type TrafficGeneratorOptions, type TrafficStats } from '../../../scripts/traffic/generator';
import { eventually, uniqueName } from '../../support/stack';
import { baseGeneratorOptions, expectBinomial, query, stackClients, startVersions, statsWhen, tearDownTraffic, V1, V2, webDeployment } from '../../support/traffic';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;
const GATEWAY_API = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;
const STABLE = 'web-stable';
const CANARY = 'web-canary';
/** The sticky cookie, as Ramp's routers name and match it. */
const STICKY_COOKIE = 'ramp-canary';
const stickyRegex = `^(.*?;\\s*)?${STICKY_COOKIE}=${CANARY}(;.*)?$`;

// Waits poll for outcomes (pods ready, enough requests counted); a slow machine only makes them longer.
jest.setTimeout(300_000);

const { core, apps, custom } = stackClients();
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** A namespace with web-stable (v1 ×2) and web-canary (v2 ×1), each with its own Service: service routing. */
async function createApp(namespace: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await apps.createNamespacedDeployment({ namespace, body: webDeployment(STABLE, 'v1', V1, 2) });
  await apps.createNamespacedDeployment({ namespace, body: webDeployment(CANARY, 'v2', V2, 1) });
  for (const [name, version] of [[STABLE, 'v1'], [CANARY, 'v2']] as const) {
    await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector: { app: 'web', version }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } });
  }
}

/** The managed route as Ramp's Istio router keeps it: stable and canary by weight, its own uri match. */
const primary = (stable: number, canary: number, extra: object = {}, canaryExtra: object = {}) => ({
  name: 'primary',
  match: [{ uri: { prefix: '/' } }],
  route: [{ destination: { host: STABLE }, weight: stable }, { destination: { host: CANARY }, weight: canary, ...canaryExtra }],
  ...extra,
});

/** Replaces the VirtualService's http entries; answers its new resourceVersion, which tells when the generator has read them. */
async function patchVirtualService(namespace: string, http: unknown[]): Promise<string> {
  const vs = (await custom.patchNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'web', body: { spec: { http } } }, mergePatch)) as { metadata: { resourceVersion: string } };
  return vs.metadata.resourceVersion;
}

const readVersion = (rv: string) => (s: TrafficStats) => s.resourceVersion === rv;

const generatorOptions = (namespace: string, v: { v1: DemoService; v2: DemoService }, over: Partial<TrafficGeneratorOptions>): TrafficGeneratorOptions =>
  ({ ...baseGeneratorOptions(namespace, v, 13), ...over });

const tearDown = (namespace: string, generator: TrafficGenerator | undefined, versions: { v1: DemoService; v2: DemoService } | undefined) =>
  tearDownTraffic(core, namespace, generator, versions);

/** What changed between two stats: requests routed, per request of the mix by workload, and user-facing and mirrored sends per workload. */
function delta(before: TrafficStats, after: TrafficStats) {
  const kind = (i: number, workload: string) => (after.byRequest[i]!.byWorkload[workload] ?? 0) - (before.byRequest[i]!.byWorkload[workload] ?? 0);
  const kindTotal = (i: number) => after.byRequest[i]!.requests - before.byRequest[i]!.requests;
  const sent = (w: string) => (after.workloads[w]?.sent ?? 0) - (before.workloads[w]?.sent ?? 0);
  const mirrored = (w: string) => (after.workloads[w]?.mirrored.sent ?? 0) - (before.workloads[w]?.mirrored.sent ?? 0);
  return { requests: after.requests - before.requests, kind, kindTotal, sent, mirrored, unmatched: after.unmatched - before.unmatched };
}

/** Stats once the generator routes by the object as last written (`ok`) and both workloads have ready pods, then after `requests` more. */
async function windowAfter(g: TrafficGenerator, what: string, ok: (s: TrafficStats) => boolean, requests: number) {
  const before = await statsWhen(g, what, (s) => ok(s) && s.entries.every((e) => e.endpoints.length > 0));
  const after = await statsWhen(g, `${requests} more requests`, (s) => s.requests - before.requests >= requests, 180_000);
  expect(after.tableChanges).toBe(before.tableChanges);
  return { before, after, ...delta(before, after) };
}

const weightsAre = (stable: number, canary: number) => (s: TrafficStats) => s.entries.map((e) => e.weight).join() === `${stable},${canary}`;

describe('VirtualService: header route, mirror and sticky sessions', () => {
  const namespace = uniqueName('traffic-features');
  let versions: { v1: DemoService; v2: DemoService } | undefined;
  let generator: TrafficGenerator | undefined;
  const g = () => generator!;
  const lines: string[] = [];

  beforeAll(async () => {
    await createApp(namespace);
    await custom.createNamespacedCustomObject({
      ...ISTIO, namespace, plural: 'virtualservices',
      body: {
        apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web' },
        spec: {
          hosts: ['web'],
          http: [
            { name: 'ramp-header-beta', match: [{ uri: { prefix: '/' }, headers: { 'x-beta': { exact: '1' } } }], route: [{ destination: { host: CANARY }, weight: 100 }] },
            primary(100, 0),
          ],
        },
      },
    });
    versions = await startVersions(41);
    generator = await startTrafficGenerator(generatorOptions(namespace, versions, {
      virtualService: 'web',
      route: 'primary',
      // A quarter of the requests carry the header.
      requests: [{ path: '/shop', weight: 3 }, { path: '/shop', headers: { 'X-Beta': '1' }, weight: 1 }],
      clients: 40,
      log: (l) => lines.push(l),
    }));
  });

  afterAll(() => tearDown(namespace, generator, versions));

  it('(a) sends requests with the header only to the canary and the others only to the stable, at canary weight 0', async () => {
    const w = await windowAfter(g(), 'primary at 100/0', weightsAre(100, 0), 800);
    expect(w.unmatched).toBe(0);
    expect(w.kindTotal(1)).toBeGreaterThan(0);
    expect(w.kind(1, CANARY)).toBe(w.kindTotal(1));
    expect(w.kind(0, STABLE)).toBe(w.kindTotal(0));
    expectBinomial('canary share (the header requests)', w.sent(CANARY), w.requests, 0.25);
    expect(w.mirrored(CANARY)).toBe(0);
    expect(lines.some((l) => l.includes(`route ramp-header-beta: ${CANARY} 100 → 1× ${CANARY} (v2, ${V2})`))).toBe(true);
  });

  it('(b) mirrors 20 % to the canary at weight 0: mirrored copies only, counted by the canary\'s destination sidecar', async () => {
    const rv = await patchVirtualService(namespace, [primary(100, 0, { mirror: { host: CANARY }, mirrorPercentage: { value: 20 } })]);
    const w = await windowAfter(g(), 'the mirror read, the header route gone', readVersion(rv), 1500);
    // Every request, with or without the header, is the stable's; the canary answers none of them.
    expect(w.sent(CANARY)).toBe(0);
    expect(w.sent(STABLE)).toBe(w.requests);
    expectBinomial('mirrored to the canary', w.mirrored(CANARY), w.requests, 0.2);
    expect(w.mirrored(STABLE)).toBe(0);
    expect(w.after.workloads[CANARY]!.mirrored.completed).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes(`mirror of route primary: ${CANARY} 20 % → 1× ${CANARY} (v2, ${V2})`))).toBe(true);
    // The copies are counted where Istio counts them: the canary's destination-side istio_requests_total, no source-side series.
    await eventually('the canary\'s mirrored requests in Prometheus', async () => {
      const rows = await query(`sum(istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}",destination_workload="${CANARY}"})`);
      return rows.length > 0 && Number(rows[0]!.value[1]) > 0 ? true : undefined;
    }, 60_000, 500);
    const text = (await axios.get<string>(g().metricsUrl, { responseType: 'text' })).data;
    expect(text).not.toMatch(new RegExp(`istio_requests_total\\{reporter="source"[^}]*destination_workload="${CANARY}"`));
  });

  it('(c) keeps a client that got a canary answer on the canary after the weight drops from 20 to 10', async () => {
    const setCookie = { headers: { response: { add: { 'set-cookie': `${STICKY_COOKIE}=${CANARY}; Max-Age=600; Path=/` } } } };
    const stickyRoute = {
      name: 'ramp-header-sticky',
      match: [{ uri: { prefix: '/' }, headers: { cookie: { regex: stickyRegex } } }],
      route: [{ destination: { host: CANARY }, weight: 100, ...setCookie }],
    };
    const rv20 = await patchVirtualService(namespace, [stickyRoute, primary(80, 20, {}, setCookie)]);
    // Long enough at 20 % for many of the 40 clients to land on the canary once.
    await windowAfter(g(), 'primary at 80/20 with the sticky route', readVersion(rv20), 400);
    const rv10 = await patchVirtualService(namespace, [stickyRoute, primary(90, 10, {}, setCookie)]);
    const before = await statsWhen(g(), 'primary at 90/10', (s) => readVersion(rv10)(s) && weightsAre(90, 10)(s));
    const sticky = before.clients.map((c, i) => [i, c] as const).filter(([, c]) => c.cookies[STICKY_COOKIE] === CANARY).map(([i]) => i);
    const fresh = before.clients.map((c, i) => [i, c] as const).filter(([, c]) => c.cookies[STICKY_COOKIE] === undefined).map(([i]) => i);
    expect(sticky.length).toBeGreaterThan(0);
    expect(fresh.length).toBeGreaterThan(0);
    const after = await statsWhen(g(), '1200 more requests', (s) => s.requests - before.requests >= 1200, 180_000);
    const got = (i: number, w: string) => (after.clients[i]!.byWorkload[w] ?? 0) - (before.clients[i]!.byWorkload[w] ?? 0);
    const sent = (i: number) => after.clients[i]!.requests - before.clients[i]!.requests;
    // Every request of a client holding the cookie went to the canary, whatever the weights say.
    for (const i of sticky) {
      expect(sent(i)).toBeGreaterThan(0);
      expect({ client: i, canary: got(i, CANARY) }).toEqual({ client: i, canary: sent(i) });
    }
    // Clients without the cookie were split by weight: most of their requests went to the stable.
    expect(fresh.reduce((a, i) => a + got(i, STABLE), 0)).toBeGreaterThan(0);
  });
});

describe('HTTPRoute: header rule and RequestMirror', () => {
  const namespace = uniqueName('gw-features');
  let versions: { v1: DemoService; v2: DemoService } | undefined;
  let generator: TrafficGenerator | undefined;
  const g = () => generator!;
  const cluster = (service: string) => `${namespace}_${service}_80`;

  beforeAll(async () => {
    await createApp(namespace);
    await custom.createNamespacedCustomObject({
      ...GATEWAY_API, namespace, plural: 'httproutes',
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web' },
        spec: {
          parentRefs: [{ name: 'gateway', namespace: 'infra' }],
          // A hostname of its own: Contour refuses equal matches of two routes on one listener.
          hostnames: [`${namespace}.example`],
          rules: [
            { name: 'ramp-header-beta', matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'x-beta', value: '1' }] }], backendRefs: [{ name: CANARY, port: 80, weight: 1 }] },
            {
              name: 'split',
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: CANARY, port: 80 }, percent: 20 } }],
              backendRefs: [{ name: STABLE, port: 80, weight: 100 }, { name: CANARY, port: 80, weight: 0 }],
            },
          ],
        },
      },
    });
    versions = await startVersions(51);
    generator = await startTrafficGenerator(generatorOptions(namespace, versions, {
      gatewayRoute: { kind: 'HTTPRoute', name: 'web' },
      requests: [{ path: '/shop', weight: 3 }, { path: '/shop', headers: { 'x-beta': '1' }, weight: 1 }],
    }));
  });

  afterAll(() => tearDown(namespace, generator, versions));

  it('(d) sends header requests only to the canary, mirrors 20 % of the others, and counts the copies in the canary\'s cluster', async () => {
    const w = await windowAfter(g(), 'every backendRef resolved', () => true, 1500);
    expect(w.unmatched).toBe(0);
    expect(w.kind(1, CANARY)).toBe(w.kindTotal(1));
    expect(w.kind(0, STABLE)).toBe(w.kindTotal(0));
    expectBinomial('canary share (the header requests)', w.sent(CANARY), w.requests, 0.25);
    // Only the split rule mirrors: a fifth of its three quarters.
    expectBinomial('mirrored to the canary', w.mirrored(CANARY), w.kindTotal(0), 0.2);
    expect(w.mirrored(STABLE)).toBe(0);
    // Envoy counts a shadow on the mirror's cluster: the canary cluster's responses (by code: those
    // an upstream gave and those Envoy gave for it, e.g. a 503 when a connection to a busy pod reset,
    // which `upstream_rq_total` leaves out) are its user-facing plus its mirrored requests, so they
    // lie between that sum just before and just after /metrics is read.
    const served = (s: TrafficStats) => s.services[CANARY]!.completed + s.services[CANARY]!.mirrored.completed;
    const s0 = g().stats();
    const text = (await axios.get<string>(g().metricsUrl, { responseType: 'text' })).data;
    const s1 = g().stats();
    const byCode = [...text.matchAll(new RegExp(`^envoy_cluster_upstream_rq\\{envoy_response_code="\\d+",envoy_cluster_name="${cluster(CANARY)}"\\} (\\d+)$`, 'gm'))];
    expect(byCode.length).toBeGreaterThan(0);
    const total = byCode.reduce((sum, m) => sum + Number(m[1]), 0);
    expect(total).toBeGreaterThanOrEqual(served(s0));
    expect(total).toBeLessThanOrEqual(served(s1));
    expect(s0.services[CANARY]!.mirrored.completed).toBeGreaterThan(0);
  });
});
