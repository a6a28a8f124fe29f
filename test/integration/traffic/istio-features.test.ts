/**
 * The Istio router's routing features against the real apiserver and the upstream VirtualService
 * CRD: a header route, a mirror and sticky sessions added in front of (or on) the managed routes of
 * a MuShop-shaped VirtualService, each write run twice, other routes byte-identical, index selectors
 * unaffected by Ramp's entries, a concurrent edit failing the write instead of being lost, and every
 * undo giving back the object as it was.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createTrafficActivities } from '../../../src/activities/traffic/activities';
import type { IstioSnapshot } from '../../../src/activities/traffic/istio';
import type { RouteFeature, TrafficRefOf } from '../../../src/domain/rollout/calls';
import type { IstioTraffic } from '../../../src/domain/spec/schema';
import { createIstioRouter } from '../../../src/activities/traffic/istio';
import { InterceptingKubeConfig } from '../../support/intercept';
import { adminKubeConfig, uniqueName } from '../../support/stack';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;

interface HttpEntry { name?: string; match?: unknown[]; route: { destination: Record<string, unknown>; weight?: number; headers?: unknown }[]; [k: string]: unknown }
interface VS { metadata: { resourceVersion: string; generation: number }; spec: { http: HttpEntry[]; [k: string]: unknown } }

/** api and assets by prefix, a named `shop` route and the default route: Ramp manages `shop` ({index: 2}) and the default. */
function virtualService() {
  const stable = { host: 'storefront', subset: 'stable' };
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'storefront' },
    spec: {
      hosts: ['mushop.example.com'], gateways: ['mushop-gateway'],
      http: [
        { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api', port: { number: 8080 } } }], timeout: '10s' },
        { name: 'assets', match: [{ uri: { prefix: '/assets' } }], route: [{ destination: { host: 'assets', port: { number: 80 } } }] },
        { name: 'shop', match: [{ uri: { prefix: '/shop' } }, { uri: { prefix: '/cart' } }], route: [{ destination: stable }], retries: { attempts: 3 } },
        { route: [{ destination: stable, headers: { response: { set: { 'x-served-by': 'storefront' } } } }] },
      ],
    },
  };
}

describe('Istio router: header routes, mirroring, sticky sessions', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName('istio-features');
  const ref: TrafficRefOf<IstioTraffic> = {
    namespace, rollout: 'storefront',
    traffic: {
      provider: 'istio', virtualService: { name: 'storefront', routes: [{ index: 2 }, { default: true }] }, host: 'storefront',
      routing: { mode: 'subset', destinationRule: 'storefront', stableSubset: 'stable', canarySubset: 'canary' }, onDrift: 'pause',
    },
    versions: { key: 'version', stable: 'v1', canary: 'v2', stablePinned: true },
    targetService: 'storefront', stableDeployment: 'storefront', canaryDeployment: 'storefront-canary',
  };
  const plainRef = () => JSON.parse(JSON.stringify(ref)) as typeof ref;
  const activities = createTrafficActivities({ kube: kc });
  const readVs = async () => (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront' })) as VS;
  const names = (vs: VS) => vs.spec.http.map((r) => r.name ?? '(default)');
  const canary = { host: 'storefront', subset: 'canary' };

  let atZero: VS;
  let snapshot: IstioSnapshot;

  /** api and assets exactly as the apiserver stored them before any feature. */
  const expectOthersUntouched = (vs: VS) => {
    expect(JSON.stringify(vs.spec.http.slice(0, 2))).toBe(JSON.stringify(atZero.spec.http.slice(0, 2)));
    expect({ ...vs.spec, http: undefined }).toEqual({ ...atZero.spec, http: undefined });
  };

  /** Runs a write twice (a retried activity): the second leaves the object's generation as the first did. */
  async function twice<T>(write: () => Promise<T>): Promise<{ result: T; vs: VS }> {
    const result = await write();
    const vs = await readVs();
    expect(await write()).toEqual(result);
    expect((await readVs()).metadata.generation).toBe(vs.metadata.generation);
    return { result, vs };
  }

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', body: virtualService() });
    await custom.createNamespacedCustomObject({
      ...ISTIO, namespace, plural: 'destinationrules',
      body: { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'storefront' }, spec: { host: 'storefront', subsets: [{ name: 'stable', labels: { version: 'v1' } }] } },
    });
    const inspection = await activities.inspectTraffic(plainRef());
    expect(inspection.problems).toEqual([]);
    snapshot = inspection.snapshot as IstioSnapshot;
    snapshot = (await activities.trafficApply(plainRef(), snapshot, 'subsets')).snapshot as IstioSnapshot;
    snapshot = (await activities.trafficApply(plainRef(), snapshot, 'routes')).snapshot as IstioSnapshot;
    atZero = await readVs();
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  const beta: RouteFeature = { kind: 'header', name: 'beta', match: [{ header: 'x-canary', value: { exact: 'true' } }, { cookie: 'team', value: { prefix: 'qa' } }] };

  it('a header route is its own entry before each managed route; index selectors, weights and undo ignore it', async () => {
    const { result, vs } = await twice(() => activities.trafficSetFeature(plainRef(), snapshot, beta));
    expect(vs.metadata.generation).toBe(atZero.metadata.generation + 1);
    expect(result.snapshot).toEqual(snapshot);
    expect(names(vs)).toEqual(['api', 'assets', 'ramp-header-beta', 'shop', 'ramp-header-beta-2', '(default)']);
    const conditions = { headers: { 'x-canary': { exact: 'true' }, cookie: { regex: '^(.*?;\\s*)?team=qa[^;]*(;.*)?$' } } };
    expect(vs.spec.http[2]).toEqual({
      name: 'ramp-header-beta',
      match: [{ uri: { prefix: '/shop' }, ...conditions }, { uri: { prefix: '/cart' }, ...conditions }],
      route: [{ destination: canary, weight: 100 }],
      retries: { attempts: 3 },
    });
    expect(vs.spec.http[4]!.match).toEqual([conditions]);
    expect(vs.spec.http[4]!.route).toEqual([{ destination: canary, headers: { response: { set: { 'x-served-by': 'storefront' } } }, weight: 100 }]);
    expect(JSON.stringify([vs.spec.http[3], vs.spec.http[5]])).toBe(JSON.stringify(atZero.spec.http.slice(2)));
    expectOthersUntouched(vs);

    // {index: 2} still means `shop`: a weight step moves the managed routes, never Ramp's entries.
    const w = await activities.trafficSetWeight(plainRef(), snapshot, { weight: 30, expected: 0, force: false });
    expect(w).toEqual({ applied: true, weights: { stable: 70, canary: 30 } });
    const at30 = await readVs();
    expect(at30.spec.http[3]!.route.map((d) => d.weight)).toEqual([70, 30]);
    expect(at30.spec.http[5]!.route.map((d) => d.weight)).toEqual([70, 30]);
    expect(JSON.stringify([at30.spec.http[2], at30.spec.http[4]])).toBe(JSON.stringify([vs.spec.http[2], vs.spec.http[4]]));

    // A second header route sits beside the first; undoing the first removes exactly its entries.
    await activities.trafficSetFeature(plainRef(), snapshot, { kind: 'header', name: 'ops', match: [{ query: 'ops', value: { exact: '1' } }] });
    expect(await activities.trafficUndo(plainRef(), snapshot, 'header:beta')).toEqual({ done: 'undone' });
    expect(await activities.trafficUndo(plainRef(), snapshot, 'header:beta')).toEqual({ done: 'undone' });
    const left = await readVs();
    expect(names(left)).toEqual(['api', 'assets', 'ramp-header-ops', 'shop', 'ramp-header-ops-2', '(default)']);
    await activities.trafficUndo(plainRef(), snapshot, 'header:ops');
    await activities.trafficSetWeight(plainRef(), snapshot, { weight: 0, expected: 30, force: false });
    expect(JSON.stringify((await readVs()).spec)).toBe(JSON.stringify(atZero.spec));
  });

  it('a mirror is set on each managed route, replaced by a new percentage, and undone to exactly what was there', async () => {
    const { vs } = await twice(() => activities.trafficSetFeature(plainRef(), snapshot, { kind: 'mirror', percent: 20 }));
    for (const i of [2, 3]) {
      expect(vs.spec.http[i]!.mirror).toEqual(canary);
      expect(vs.spec.http[i]!.mirrorPercentage).toEqual({ value: 20 });
    }
    expectOthersUntouched(vs);
    await activities.trafficSetFeature(plainRef(), snapshot, { kind: 'mirror', percent: 100 });
    expect((await readVs()).spec.http[3]!.mirrorPercentage).toEqual({ value: 100 });
    expect(await activities.trafficUndo(plainRef(), snapshot, 'mirror')).toEqual({ done: 'undone' });
    expect(await activities.trafficUndo(plainRef(), snapshot, 'mirror')).toEqual({ done: 'undone' });
    expect(JSON.stringify((await readVs()).spec)).toBe(JSON.stringify(atZero.spec));
  });

  it('sticky sessions: canary responses set the cookie through weight changes, a ramp-sticky entry honours it, undo clears both', async () => {
    const { result } = await twice(() => activities.trafficSetFeature(plainRef(), snapshot, { kind: 'sticky', cookie: 'ramp-canary', maxAgeSeconds: 3600 }));
    const sticky = result.snapshot as IstioSnapshot;
    expect(sticky.sticky).toEqual({ cookie: 'ramp-canary', maxAgeSeconds: 3600 });
    await activities.trafficSetWeight(plainRef(), sticky, { weight: 50, expected: 0, force: false });
    const vs = await readVs();
    expect(names(vs)).toEqual(['api', 'assets', 'ramp-sticky', 'shop', 'ramp-sticky-2', '(default)']);
    expect(vs.spec.http[2]!.match![1]).toEqual({ uri: { prefix: '/cart' }, headers: { cookie: { regex: '^(.*?;\\s*)?ramp-canary=v2(;.*)?$' } } });
    expect(vs.spec.http[3]!.route[1]).toEqual({ destination: canary, headers: { response: { add: { 'set-cookie': 'ramp-canary=v2; Max-Age=3600; Path=/' } } }, weight: 50 });
    expect(vs.spec.http[5]!.route[1]!.headers).toEqual({ response: { set: { 'x-served-by': 'storefront' }, add: { 'set-cookie': 'ramp-canary=v2; Max-Age=3600; Path=/' } } });
    expect(vs.spec.http[5]!.route[0]!.headers).toEqual({ response: { set: { 'x-served-by': 'storefront' } } });
    expectOthersUntouched(vs);

    expect(await activities.trafficUndo(plainRef(), sticky, 'sticky')).toEqual({ done: 'undone' });
    expect(await activities.trafficUndo(plainRef(), sticky, 'sticky')).toEqual({ done: 'undone' });
    await activities.trafficSetWeight(plainRef(), snapshot, { weight: 0, expected: 50, force: false });
    expect(JSON.stringify((await readVs()).spec)).toBe(JSON.stringify(atZero.spec));
  });

  it('a route someone adds between Ramp\'s read and its write fails the write (Conflict, nothing written); the retry keeps it', async () => {
    const watched = new InterceptingKubeConfig(kc);
    const other = { name: 'promo', match: [{ uri: { prefix: '/promo' } }], route: [{ destination: { host: 'promo' } }] };
    watched.on({
      matches: (req) => req.method === 'PATCH' && req.path.split('?')[0]!.endsWith('/virtualservices/storefront'),
      before: async () => {
        await custom.patchNamespacedCustomObject(
          { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'add', path: '/spec/http/-', value: other }] },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
        );
      },
    });
    const router = createIstioRouter(watched, plainRef());
    const err = await router.setFeature(snapshot, beta).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('Conflict');
    const edited = await readVs();
    expect(names(edited)).toEqual(['api', 'assets', 'shop', '(default)', 'promo']);

    // The retry reads again and writes around the other writer's route.
    await router.setFeature(snapshot, beta);
    expect(names(await readVs())).toEqual(['api', 'assets', 'ramp-header-beta', 'shop', 'ramp-header-beta-2', '(default)', 'promo']);
    await router.undo(snapshot, 'header:beta');
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'test', path: '/spec/http/4/name', value: 'promo' }, { op: 'remove', path: '/spec/http/4' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    expect(JSON.stringify((await readVs()).spec)).toBe(JSON.stringify(atZero.spec));
  });

  it('the routes undo and the subsets undo leave nothing of Ramp behind; the subsets wait until no header route sends to the canary', async () => {
    await activities.trafficSetFeature(plainRef(), snapshot, beta);
    await activities.trafficUndo(plainRef(), snapshot, 'routes');
    const refused = await activities.trafficUndo(plainRef(), snapshot, 'subsets').then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect((refused as ApplicationFailure).type).toBe('CanaryStillRouted');
    expect((refused as ApplicationFailure).message).toContain('ramp-header-beta');
    await activities.trafficUndo(plainRef(), snapshot, 'header:beta');
    await activities.trafficUndo(plainRef(), snapshot, 'subsets');
    const vs = await readVs();
    expect(vs.spec.http.map((r) => r.name ?? '(default)')).toEqual(['api', 'assets', 'shop', '(default)']);
    // As created (the apiserver orders keys its own way, so compared by value).
    expect(vs.spec.http).toEqual(virtualService().spec.http);
  });
});
