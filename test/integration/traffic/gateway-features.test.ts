/**
 * Routing features of the Gateway API router (header routes, mirroring, sticky sessions) against
 * the real local apiserver and the upstream Gateway API v1.6.3 standard CRDs, on an HTTPRoute and a
 * GRPCRoute: Ramp's rules go before the managed ones and change nothing else, the selectors and
 * weights do not count them, weight changes keep them, undo gives back the route exactly, and a
 * retry writes nothing. The last block attaches an HTTPRoute to the stack's Gateway, whose status
 * Contour writes, to show that a real implementation accepts the header rule and the mirror.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createTrafficActivities } from '../../../src/activities/traffic/activities';
import type { GatewaySnapshot } from '../../../src/activities/traffic/gateway';
import { featureChange, type RouteFeature, type TrafficRefOf } from '../../../src/domain/rollout/calls';
import type { GatewayTraffic } from '../../../src/domain/spec/schema';
import type { BackendRef } from '../../../src/domain/traffic/gateway';
import { Failure } from '../../../src/shared/failures';
import { STACK_GATEWAY } from '../../../scripts/stack/kube-bootstrap';
import { contourAccepts, contourConditions, retriedWhilePending } from '../../support/contour';
import { adminKubeConfig, stackInfo, uniqueName } from '../../support/stack';

type TrafficRef = TrafficRefOf<GatewayTraffic>;
type Kind = GatewayTraffic['route']['kind'];

const GATEWAY = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;
const versions = { key: 'version', stable: 'v1', canary: 'v2', stablePinned: true };

interface Rule { name?: string; matches?: unknown[]; filters?: { type: string; requestMirror?: { percent?: number; backendRef: BackendRef } }[]; backendRefs: BackendRef[]; [field: string]: unknown }
interface Route {
  metadata: { name: string; resourceVersion: string; generation: number };
  spec: { parentRefs: unknown[]; hostnames?: string[]; rules: Rule[] };
  status?: { parents?: { controllerName: string; conditions: { type: string; status: string; reason: string; message: string; observedGeneration: number }[] }[] };
}

/** The ApplicationFailure a promise rejects with. */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

function newRef(namespace: string, kind: Kind, rules: GatewayTraffic['route']['rules']): TrafficRef {
  return {
    namespace, rollout: 'storefront', versions, targetService: 'storefront', stableDeployment: 'storefront', canaryDeployment: 'storefront-canary',
    traffic: {
      provider: 'gateway-api', route: { kind, name: 'storefront', rules },
      routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }, onDrift: 'pause',
    },
  };
}

describe.each<Kind>(['HTTPRoute', 'GRPCRoute'])('Gateway API routing features, %s', (kind) => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName(`gwf-${kind.toLowerCase()}`);
  const plural = kind === 'HTTPRoute' ? 'httproutes' : 'grpcroutes';
  const http = kind === 'HTTPRoute';
  const port = http ? 80 : 9090;
  // The named storefront rule and the unnamed catch-all (selected by index) are managed; the api rule is not.
  const ref = newRef(namespace, kind, [{ name: 'storefront' }, { index: 2 }]);
  const activities = createTrafficActivities({ kube: kc });
  const readRoute = async () => (await custom.getNamespacedCustomObject({ ...GATEWAY, namespace, plural, name: 'storefront' })) as Route;
  const names = (r: Route) => r.spec.rules.map((x) => x.name ?? '(unnamed)');
  const userRules = (r: Route) => r.spec.rules.filter((x) => !x.name?.startsWith('ramp-'));
  const canaryRef = { group: '', kind: 'Service', name: 'storefront-canary', port, weight: 1 };
  const header: RouteFeature = { kind: 'header', name: 'beta', match: [{ header: 'x-canary', value: { exact: 'true' } }, ...(http ? [{ cookie: 'tier', value: { prefix: 'gold' } }] : [])] };
  const conditions = [{ name: 'x-canary', type: 'Exact', value: 'true' }, ...(http ? [{ name: 'Cookie', type: 'RegularExpression', value: '^(.*?;\\s*)?tier=gold[^;]*(;.*)?$' }] : [])];

  let before: Route;
  let snapshot: GatewaySnapshot;
  let expected = 0;
  const setWeight = async (w: number) => {
    expect(await activities.trafficSetWeight(ref, snapshot, { weight: w, expected, force: false })).toEqual({ applied: true, weights: { stable: 100 - w, canary: w } });
    expected = w;
  };

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const ports = [{ name: 'web', port }];
    for (const [name, version] of [['storefront-stable', 'v1'], ['storefront-canary', 'v2']] as const) {
      await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { ports, selector: { app: 'storefront', version } } } });
    }
    await custom.createNamespacedCustomObject({
      ...GATEWAY, namespace, plural,
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name: 'storefront' },
        spec: {
          parentRefs: [{ name: 'public', sectionName: 'https' }, { name: 'internal' }],
          hostnames: ['shop.example.com'],
          rules: [
            { name: 'api', matches: http ? [{ path: { type: 'PathPrefix', value: '/api' } }] : [{ method: { service: 'shop.Api' } }], backendRefs: [{ name: 'api', port }] },
            {
              name: 'storefront',
              matches: http ? [{ path: { type: 'PathPrefix', value: '/shop' }, headers: [{ name: 'x-region', value: 'eu' }] }, { path: { type: 'Exact', value: '/' } }] : [{ method: { service: 'shop.Storefront' } }],
              filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-served-by', value: 'storefront' }] } }],
              backendRefs: [{ name: 'storefront-stable', port }],
            },
            { backendRefs: [{ name: 'storefront-stable', port }] },
          ],
        },
      },
    });
    before = await readRoute();
    snapshot = (await activities.inspectTraffic(ref)).snapshot as GatewaySnapshot;
    snapshot = (await activities.trafficApply(ref, snapshot, 'routes')).snapshot as GatewaySnapshot;
    await setWeight(10);
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('a header route: one write adding a rule before each managed rule, nothing else changed; a retry writes nothing', async () => {
    const was = await readRoute();
    snapshot = (await activities.trafficSetFeature(ref, snapshot, header)).snapshot as GatewaySnapshot;
    const now = await readRoute();
    expect(now.metadata.generation).toBe(was.metadata.generation + 1);
    expect(names(now)).toEqual(['api', 'ramp-header-beta', 'storefront', 'ramp-header-beta-2', '(unnamed)']);
    const storefront = was.spec.rules[1]!;
    expect(now.spec.rules[1]).toEqual({
      name: 'ramp-header-beta',
      matches: (storefront.matches as { headers?: unknown[] }[]).map((m) => ({ ...m, headers: [...(m.headers ?? []), ...conditions] })),
      filters: storefront.filters,
      backendRefs: [canaryRef],
    });
    // The catch-all as stored has the CRD's default match (HTTPRoute) or none (GRPCRoute).
    expect(now.spec.rules[3]).toEqual({ name: 'ramp-header-beta-2', matches: [{ ...(http ? { path: { type: 'PathPrefix', value: '/' } } : {}), headers: conditions }], backendRefs: [canaryRef] });
    expect(JSON.stringify(userRules(now))).toBe(JSON.stringify(was.spec.rules));
    expect(JSON.stringify(now.spec.parentRefs)).toBe(JSON.stringify(before.spec.parentRefs));
    expect(JSON.stringify(now.spec.hostnames)).toBe(JSON.stringify(before.spec.hostnames));
    expect(snapshot.features).toEqual({ 'header:beta': ['ramp-header-beta', 'ramp-header-beta-2'] });

    expect((await activities.trafficSetFeature(ref, snapshot, header)).snapshot).toEqual(snapshot);
    expect((await readRoute()).metadata.resourceVersion).toBe(now.metadata.resourceVersion);
  });

  it('the index selector still finds the catch-all, and inspection and weights ignore Ramp\'s rules', async () => {
    const seen = await activities.inspectTraffic(ref);
    expect(seen.problems).toEqual([]);
    expect(seen.weights).toEqual({ stable: 90, canary: 10 });
    expect((seen.snapshot as GatewaySnapshot).rules.map((r) => r.key)).toEqual(['name:storefront', 'index:2']);
  });

  it('weights changed after a feature keep it; a weight written by someone else is still found as drift', async () => {
    const was = await readRoute();
    await setWeight(50);
    const now = await readRoute();
    expect(now.metadata.generation).toBe(was.metadata.generation + 1);
    expect(JSON.stringify(now.spec.rules.filter((r) => r.name?.startsWith('ramp-')))).toBe(JSON.stringify(was.spec.rules.filter((r) => r.name?.startsWith('ramp-'))));
    expect(now.spec.rules[4]!.backendRefs.map((b) => [b.name, b.weight])).toEqual([['storefront-stable', 50], ['storefront-canary', 50]]);
    const drift = await activities.trafficSetWeight(ref, snapshot, { weight: 60, expected: 40, force: false });
    expect(drift).toMatchObject({ applied: false, found: { stable: 50, canary: 50 } });
  });

  it('a mirror: a RequestMirror filter on each managed rule; a new percent replaces it; undo removes exactly it', async () => {
    const was = await readRoute();
    const mirror = (percent: number) => ({ type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'storefront-canary', port }, percent } });
    snapshot = (await activities.trafficSetFeature(ref, snapshot, { kind: 'mirror', percent: 20 })).snapshot as GatewaySnapshot;
    let now = await readRoute();
    expect(now.metadata.generation).toBe(was.metadata.generation + 1);
    expect(now.spec.rules[2]!.filters).toEqual([...was.spec.rules[2]!.filters!, mirror(20)]);
    expect(now.spec.rules[4]!.filters).toEqual([mirror(20)]);
    expect(JSON.stringify(now.spec.rules[1])).toBe(JSON.stringify(was.spec.rules[1]));
    snapshot = (await activities.trafficSetFeature(ref, snapshot, { kind: 'mirror', percent: 35 })).snapshot as GatewaySnapshot;
    now = await readRoute();
    expect(now.spec.rules[4]!.filters).toEqual([mirror(35)]);
    await activities.trafficSetFeature(ref, snapshot, { kind: 'mirror', percent: 35 });
    expect((await readRoute()).metadata.resourceVersion).toBe(now.metadata.resourceVersion);
    expect(await activities.trafficUndo(ref, snapshot, 'mirror')).toEqual({ done: 'undone' });
    expect(JSON.stringify((await readRoute()).spec)).toBe(JSON.stringify(was.spec));
    expect(await activities.trafficUndo(ref, snapshot, 'mirror')).toEqual({ done: 'absent' });
  });

  if (http) {
    it('sticky sessions: the canary ref sets the cookie, a rule matches it; a weight change keeps both; undo is exact', async () => {
      const was = await readRoute();
      const sticky: RouteFeature = { kind: 'sticky', cookie: 'ramp-canary', maxAgeSeconds: 86400 };
      snapshot = (await activities.trafficSetFeature(ref, snapshot, sticky)).snapshot as GatewaySnapshot;
      let now = await readRoute();
      expect(names(now)).toEqual(['api', 'ramp-header-beta', 'ramp-sticky', 'storefront', 'ramp-header-beta-2', 'ramp-sticky-2', '(unnamed)']);
      const setCookie = [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'Set-Cookie', value: 'ramp-canary=v2; Max-Age=86400; Path=/' }] } }];
      expect(now.spec.rules[6]!.backendRefs[1]).toEqual({ group: '', kind: 'Service', name: 'storefront-canary', port, weight: 50, filters: setCookie });
      expect(now.spec.rules[5]!.matches).toEqual([{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'Cookie', type: 'RegularExpression', value: '^(.*?;\\s*)?ramp-canary=v2(;.*)?$' }] }]);
      await setWeight(70);
      now = await readRoute();
      expect(now.spec.rules[6]!.backendRefs[1]).toEqual({ group: '', kind: 'Service', name: 'storefront-canary', port, weight: 70, filters: setCookie });
      await setWeight(50);
      expect(await activities.trafficUndo(ref, snapshot, 'sticky')).toEqual({ done: 'undone' });
      expect(JSON.stringify((await readRoute()).spec)).toBe(JSON.stringify(was.spec));
    });
  } else {
    it('sticky sessions and query parameters are refused on a GRPCRoute, naming the spec, and nothing is written', async () => {
      const was = await readRoute();
      const sticky = await failureOf(activities.trafficSetFeature(ref, snapshot, { kind: 'sticky', cookie: 'ramp-canary', maxAgeSeconds: 60 }));
      expect([sticky.type, sticky.nonRetryable]).toEqual([Failure.Invalid, true]);
      expect(sticky.message).toBe(`GRPCRoute ${namespace}/storefront: spec.traffic.stickySession needs cookies, which a GRPCRoute cannot match or set; remove spec.traffic.stickySession, or route the service with an HTTPRoute`);
      const query = await failureOf(activities.trafficSetFeature(ref, snapshot, { kind: 'header', name: 'q', match: [{ query: 'canary', value: { exact: '1' } }] }));
      expect([query.type, query.nonRetryable]).toEqual([Failure.Invalid, true]);
      expect(query.message).toMatch(/step setHeaderRoute "q" matches query parameter "canary", but a GRPCRoute matches only headers and methods/);
      expect((await readRoute()).metadata.resourceVersion).toBe(was.metadata.resourceVersion);
    });
  }

  it('undoing the header route gives back the route as it was before it, at the current weight', async () => {
    const now = await readRoute();
    expect(await activities.trafficUndo(ref, snapshot, featureChange(header))).toEqual({ done: 'undone' });
    const after = await readRoute();
    expect(after.metadata.generation).toBe(now.metadata.generation + 1);
    expect(JSON.stringify(after.spec.rules)).toBe(JSON.stringify(userRules(now)));
    expect(await activities.trafficUndo(ref, snapshot, featureChange(header))).toEqual({ done: 'absent' });
  });

  it('restoring the backendRefs (routes) leaves Ramp\'s rules and the mirror for their own undo; once all are undone the route is exactly as before', async () => {
    snapshot = (await activities.trafficSetFeature(ref, snapshot, header)).snapshot as GatewaySnapshot;
    snapshot = (await activities.trafficSetFeature(ref, snapshot, { kind: 'mirror', percent: 20 })).snapshot as GatewaySnapshot;
    // Restoring the backendRefs first touches only them: Ramp's rules and the mirror stay for their own undo.
    expect(await activities.trafficUndo(ref, snapshot, 'routes')).toEqual({ done: 'undone' });
    const mid = await readRoute();
    expect(names(mid)).toEqual(['api', 'ramp-header-beta', 'storefront', 'ramp-header-beta-2', '(unnamed)']);
    expect(mid.spec.rules[4]!.filters?.map((f) => f.type)).toEqual(['RequestMirror']);
    expect(await activities.trafficUndo(ref, snapshot, 'mirror')).toEqual({ done: 'undone' });
    expect(await activities.trafficUndo(ref, snapshot, featureChange(header))).toEqual({ done: 'undone' });
    expect(JSON.stringify((await readRoute()).spec)).toBe(JSON.stringify(before.spec));
  });
});

describe('Gateway API routing features on an HTTPRoute attached to the stack\'s Gateway (Contour writes its status)', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const gateway = (stackInfo() as Partial<ReturnType<typeof stackInfo>>).gateway ?? STACK_GATEWAY;
  const namespace = uniqueName('gwf-contour');
  const ref = newRef(namespace, 'HTTPRoute', []);
  const activities = createTrafficActivities({ kube: kc });
  const readRoute = async () => (await custom.getNamespacedCustomObject({ ...GATEWAY, namespace, plural: 'httproutes', name: 'storefront' })) as Route;
  const acceptedNow = async () => {
    const s = contourConditions(await readRoute(), gateway.controllerName);
    expect(s.conditions).toEqual([['Accepted', 'True', 'Accepted', s.generation], ['ResolvedRefs', 'True', 'ResolvedRefs', s.generation]]);
  };

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (const [name, version] of [['storefront-stable', 'v1'], ['storefront-canary', 'v2']] as const) {
      await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { ports: [{ name: 'web', port: 80 }], selector: { app: 'storefront', version } } } });
    }
    await custom.createNamespacedCustomObject({
      ...GATEWAY, namespace, plural: 'httproutes',
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'storefront' },
        spec: {
          parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: gateway.namespace, name: gateway.name, sectionName: gateway.listener }],
          // Contour refuses a route whose matches equal another route's on the same listener (RuleMatchConflict).
          hostnames: [`${namespace}.example`],
          rules: [{ backendRefs: [{ name: 'storefront-stable', port: 80 }] }],
        },
      },
    });
    await contourAccepts(readRoute, gateway.controllerName);
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('Contour accepts the header rule and the RequestMirror filter with percent at the generation written', async () => {
    let snapshot = (await activities.inspectTraffic(ref)).snapshot as GatewaySnapshot;
    snapshot = (await retriedWhilePending(() => activities.trafficApply(ref, snapshot, 'routes'))).snapshot as GatewaySnapshot;
    await retriedWhilePending(() => activities.trafficSetWeight(ref, snapshot, { weight: 10, expected: 0, force: false }));
    const header: RouteFeature = { kind: 'header', name: 'beta', match: [{ header: 'x-canary', value: { exact: 'true' } }, { cookie: 'tier', value: { exact: 'gold' } }] };
    snapshot = (await retriedWhilePending(() => activities.trafficSetFeature(ref, snapshot, header))).snapshot as GatewaySnapshot;
    await acceptedNow();
    snapshot = (await retriedWhilePending(() => activities.trafficSetFeature(ref, snapshot, { kind: 'mirror', percent: 20 }))).snapshot as GatewaySnapshot;
    await acceptedNow();
    const route = await readRoute();
    expect(route.spec.rules.map((r) => r.name ?? '(unnamed)')).toEqual(['ramp-header-beta', '(unnamed)']);
    expect(route.spec.rules[1]!.filters?.[0]?.requestMirror?.percent).toBe(20);
    snapshot = (await retriedWhilePending(() => activities.trafficSetFeature(ref, snapshot, { kind: 'sticky', cookie: 'ramp-canary', maxAgeSeconds: 3600 }))).snapshot as GatewaySnapshot;
    await acceptedNow();
    for (const change of ['sticky', 'mirror', featureChange(header), 'routes']) expect(await activities.trafficUndo(ref, snapshot, change)).toEqual({ done: 'undone' });
  });
});
