/**
 * The Istio router against the real local apiserver: a MuShop-shaped VirtualService (api, assets and
 * a default route to storefront) is shifted 10 → 60 → 100 → 0 and put back, in both routing modes,
 * each operation run twice, with one write per weight change and nothing outside the managed route
 * touched.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createTrafficActivities } from '../../../src/activities/traffic/activities';
import { createIstioRouter, type IstioSnapshot } from '../../../src/activities/traffic/istio';
import { kubeFailure, target } from '../../../src/activities/kube-errors';
import type { TrafficRefOf } from '../../../src/domain/rollout/calls';
import type { IstioTraffic, Routing } from '../../../src/domain/spec/schema';
import { buildSetWeightPatch, jsonEqual, routeWeights, type RouteDestination, type VirtualService } from '../../../src/domain/traffic/istio';
import { adminKubeConfig, eventually, uniqueName } from '../../support/stack';

type TrafficRef = TrafficRefOf<IstioTraffic>;

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;
const versions = { key: 'version', stable: 'v1', canary: 'v2', stablePinned: true };

interface Obj {
  metadata: { name: string; resourceVersion: string; generation: number; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}
type VS = Obj & { spec: { http: { name?: string; route: RouteDestination[] }[] } };

const modes: { mode: Routing['mode']; routing: Routing; stableHost: string }[] = [
  { mode: 'subset', routing: { mode: 'subset', destinationRule: 'storefront', stableSubset: 'stable', canarySubset: 'canary' }, stableHost: 'storefront' },
  { mode: 'service', routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }, stableHost: 'storefront-stable' },
];

/** The MuShop guide's VirtualService: api and assets by path prefix, everything else to the storefront. */
function mushopVirtualService(stableDestination: Record<string, unknown>) {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'storefront' },
    spec: {
      hosts: ['mushop.example.com'],
      gateways: ['mushop-gateway'],
      http: [
        { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api', port: { number: 8080 } } }], timeout: '10s' },
        { name: 'assets', match: [{ uri: { prefix: '/assets' } }], route: [{ destination: { host: 'assets', port: { number: 80 } } }] },
        { route: [{ destination: stableDestination, headers: { response: { set: { 'x-served-by': 'storefront' } } } }], retries: { attempts: 3 } },
      ],
    },
  };
}

/** A kubeconfig for a ServiceAccount with no RBAC grants. */
async function unprivilegedKubeConfig(admin: k8s.KubeConfig, namespace: string): Promise<k8s.KubeConfig> {
  const core = admin.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'nobody' } } });
  const token = await core.createNamespacedServiceAccountToken({ namespace, name: 'nobody', body: { spec: { audiences: [], expirationSeconds: 600 } } });
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'c' }],
    users: [{ name: 'nobody', token: token.status!.token }],
    contexts: [{ name: 'c', cluster: 'c', user: 'nobody' }],
    currentContext: 'c',
  });
  return kc;
}

/** The ApplicationFailure a promise rejects with. */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe.each(modes)('Istio traffic router, $mode mode', ({ mode, routing, stableHost }) => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName(`traffic-${mode}`);
  const stableDestination = mode === 'subset' ? { host: 'storefront', subset: 'stable' } : { host: 'storefront-stable' };
  const canaryDestination = mode === 'subset' ? { host: 'storefront', subset: 'canary' } : { host: 'storefront-canary' };

  const ref: TrafficRef = {
    namespace,
    rollout: 'storefront',
    traffic: { provider: 'istio', virtualService: { name: 'storefront', routes: [] }, host: stableHost, routing, onDrift: 'pause' },
    versions,
    targetService: 'storefront',
    stableDeployment: 'storefront',
    canaryDeployment: 'storefront-canary',
  };
  // Activities get plain JSON, as the workflow sends it.
  const plainRef = () => JSON.parse(JSON.stringify(ref)) as TrafficRef;
  const activities = createTrafficActivities({ kube: kc });

  const readVs = async () => (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront' })) as VS;
  const readDr = async () => (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', name: 'storefront' })) as Obj;
  const defaultRoute = (vs: VS) => vs.spec.http[2]!.route;

  let vsBefore: VS;
  let drBefore: Obj | undefined;
  let snapshot: IstioSnapshot;
  const destinationChange = mode === 'subset' ? 'subsets' : 'canaryService';
  const vsTarget = () => target('VirtualService', namespace, 'storefront', 'spec.traffic.virtualService.name');

  /** The api and assets routes exactly as created, serialized by the apiserver. */
  const expectOtherRoutesUntouched = (vs: VS) => {
    expect(JSON.stringify(vs.spec.http[0])).toBe(JSON.stringify(vsBefore.spec.http[0]));
    expect(JSON.stringify(vs.spec.http[1])).toBe(JSON.stringify(vsBefore.spec.http[1]));
    expect({ ...vs.spec, http: undefined }).toEqual({ ...vsBefore.spec, http: undefined });
  };

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', body: mushopVirtualService(stableDestination) });
    if (mode === 'subset') {
      await custom.createNamespacedCustomObject({
        ...ISTIO, namespace, plural: 'destinationrules',
        body: {
          apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'storefront' },
          spec: { host: 'storefront', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } }, subsets: [{ name: 'legacy', labels: { version: 'v0' } }, { name: 'stable', labels: { app: 'storefront', version: 'v1' } }] },
        },
      });
      drBefore = await readDr();
    } else {
      const ports = [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }];
      await core.createNamespacedService({ namespace, body: { metadata: { name: 'storefront' }, spec: { ports, selector: { app: 'storefront' } } } });
      await core.createNamespacedService({ namespace, body: { metadata: { name: 'storefront-stable' }, spec: { ports, selector: { app: 'storefront', version: 'v1' } } } });
    }
    vsBefore = await readVs();
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('inspect finds nothing wrong, twice, plans its changes and snapshots without writing', async () => {
    const a = await activities.inspectTraffic(plainRef());
    expect(await activities.inspectTraffic(plainRef())).toEqual(a);
    expect(a.problems).toEqual([]);
    expect(a.writes).toBe('local');
    expect(a.weights).toEqual({ stable: 100, canary: 0 });
    expect(a.changes.map((c) => [c.id, c.when, c.carriesTraffic ?? false])).toEqual([[destinationChange, 'afterCanary', false], ['routes', 'afterCanary', true]]);
    snapshot = a.snapshot as IstioSnapshot;
    expect(snapshot.routing).toBe(mode);
    expect(snapshot.routes).toEqual([{ selector: 'default', route: vsBefore.spec.http[2]!.route }]);
    if (mode === 'subset') {
      expect(snapshot.subsets).toEqual((drBefore!.spec as { subsets: unknown[] }).subsets);
      expect(snapshot.createsCanaryService).toBeUndefined();
    } else {
      expect(snapshot.createsCanaryService).toBe(true);
      expect(snapshot.subsets).toBeUndefined();
    }
    expect((await readVs()).metadata.resourceVersion).toBe(vsBefore.metadata.resourceVersion);
  });

  it('inspect names every missing object and how to fix it, all at once', async () => {
    const missing: TrafficRef = {
      ...ref,
      traffic: {
        ...ref.traffic,
        virtualService: { name: 'nope-vs', routes: [] },
        ...(routing.mode === 'service' ? { host: 'nope-stable' } : {}),
        routing: routing.mode === 'subset' ? { ...routing, destinationRule: 'nope-dr' } : { ...routing, stableService: 'nope-stable' },
      },
      targetService: 'nope-target',
    };
    const { problems } = await activities.inspectTraffic(missing);
    expect(problems).toContain(`VirtualService ${namespace}/nope-vs not found; create it, or set spec.traffic.virtualService.name to an existing VirtualService`);
    if (mode === 'subset') {
      // A named rule that does not exist would be created for the rollout — but another already covers the host.
      expect(problems).toContain(`DestinationRule ${namespace}/nope-dr not found, and DestinationRule ${namespace}/storefront already covers host storefront; set spec.traffic.routing.destinationRule to it (two rules for one host conflict in Istio)`);
      expect(problems).toHaveLength(2);
    } else {
      expect(problems).toContain(`Service ${namespace}/nope-stable not found; create it, or set spec.traffic.routing.stableService to an existing Service`);
      // The canary Service is absent, so the Service it would be copied from must exist.
      expect(problems).toContain(`Service ${namespace}/nope-target not found; create it, or set spec.target.service to an existing Service`);
      expect(problems).toHaveLength(3);
    }

    const noRoute = await activities.inspectTraffic({ ...ref, traffic: { ...ref.traffic, virtualService: { name: 'storefront', routes: [{ name: 'primary' }, { name: 'beta' }] } } });
    expect(noRoute.problems).toContain(`VirtualService ${namespace}/storefront has no HTTP route named "primary" (routes: "api", "assets", #2 (unnamed; select it with {index: 2} or {default: true})); set spec.traffic.virtualService.routes to select the routes Ramp should manage`);
    expect(noRoute.problems.join('\n')).toContain('no HTTP route named "beta"');
  });

  it('maps 403 to Forbidden naming verb and resource', async () => {
    const nobody = await unprivilegedKubeConfig(kc, namespace);
    const f = await failureOf(createIstioRouter(nobody, ref).setWeight(snapshot, { weight: 10, expected: 0, force: false }));
    expect(f.type).toBe('Forbidden');
    expect(f.message).toContain(`get VirtualService ${namespace}/storefront failed: HTTP 403 Forbidden`);
    expect(f.message).toContain(`grant the worker's identity "get" on virtualservices.networking.istio.io in namespace ${namespace}`);
  });

  it('applying its changes adds the canary destination at weight 0; applying them again changes nothing', async () => {
    snapshot = (await activities.trafficApply(plainRef(), snapshot, destinationChange)).snapshot as IstioSnapshot;
    expect(await activities.trafficApply(plainRef(), snapshot, 'routes')).toEqual({ snapshot, weights: { stable: 100, canary: 0 } });
    const vs1 = await readVs();
    expect(vs1.metadata.generation).toBe(vsBefore.metadata.generation + 1);
    expect(defaultRoute(vs1)).toEqual([
      { destination: stableDestination, headers: { response: { set: { 'x-served-by': 'storefront' } } }, weight: 100 },
      { destination: canaryDestination, headers: { response: { set: { 'x-served-by': 'storefront' } } }, weight: 0 },
    ]);
    expectOtherRoutesUntouched(vs1);

    if (mode === 'subset') {
      const dr = await readDr();
      expect(dr.spec).toEqual({
        ...drBefore!.spec,
        subsets: [
          { name: 'legacy', labels: { version: 'v0' } },
          { name: 'stable', labels: { app: 'storefront', version: 'v1' } },
          { name: 'canary', labels: { version: 'v2' } },
        ],
      });
    } else {
      const svc = await core.readNamespacedService({ namespace, name: 'storefront-canary' });
      expect(svc.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'ramp' });
      expect(svc.spec?.selector).toEqual({ app: 'storefront', version: 'v2' });
      expect(svc.spec?.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
      // Its uid is kept, so only this Service is ever deleted.
      expect(snapshot.canaryServiceUid).toBe(svc.metadata?.uid);
    }
    const dr1 = mode === 'subset' ? await readDr() : undefined;

    await activities.trafficApply(plainRef(), snapshot, destinationChange);
    await activities.trafficApply(plainRef(), snapshot, 'routes');
    expect((await readVs()).metadata.resourceVersion).toBe(vs1.metadata.resourceVersion);
    if (dr1) expect((await readDr()).metadata.resourceVersion).toBe(dr1.metadata.resourceVersion);
  });

  let expected = 0;
  it.each([10, 60, 100, 0])('setWeight %i writes once, verifies, and a repeat writes nothing', async (w) => {
    const before = await readVs();
    expect(await activities.trafficSetWeight(plainRef(), snapshot, { weight: w, expected, force: false })).toEqual({ applied: true, weights: { stable: 100 - w, canary: w } });
    const after = await readVs();
    // Generation counts spec writes: exactly one PATCH.
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    expect(routeWeights(defaultRoute(after), { traffic: ref.traffic, namespace })).toEqual({ stable: 100 - w, canary: w });
    expect(defaultRoute(after).map((d) => [d.destination.host, d.destination.subset, d.weight])).toEqual([
      [stableHost, stableDestination.subset, 100 - w],
      [canaryDestination.host, canaryDestination.subset, w],
    ]);
    expectOtherRoutesUntouched(after);
    // A repeat (a retried activity whose answer was lost) finds its own write: nothing to do.
    expect(await activities.trafficSetWeight(plainRef(), snapshot, { weight: w, expected, force: false })).toEqual({ applied: true, weights: { stable: 100 - w, canary: w } });
    const again = await readVs();
    expect(again.metadata.resourceVersion).toBe(after.metadata.resourceVersion);
    expected = w;
  });

  it('weights changed outside Ramp are reported and not overwritten; force re-asserts', async () => {
    await activities.trafficSetWeight(plainRef(), snapshot, { weight: 25, expected: 0, force: true });
    const before = await readVs();
    const drift = await activities.trafficSetWeight(plainRef(), snapshot, { weight: 50, expected: 10, force: false });
    expect(drift).toEqual({ applied: false, found: { stable: 75, canary: 25 }, detail: `VirtualService ${namespace}/storefront (default: stable 75, canary 25): canary weight is 25%, Ramp set 10%` });
    expect((await readVs()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(await activities.trafficSetWeight(plainRef(), snapshot, { weight: 0, expected: 10, force: true })).toEqual({ applied: true, weights: { stable: 100, canary: 0 } });
  });

  it('rejects an invalid weight without writing', async () => {
    const f = await failureOf(activities.trafficSetWeight(plainRef(), snapshot, { weight: 101, expected: 0, force: false }));
    expect(f.type).toBe('Invalid');
  });

  it('a patch built from a stale read is rejected and mapped to Conflict', async () => {
    const stale = (await readVs()) as unknown as VirtualService;
    const ops = buildSetWeightPatch(stale, { traffic: ref.traffic, namespace }, 30);
    // Someone else edits the object between our read and our write.
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: { metadata: { annotations: { 'example.com/touched': 'yes' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const edited = await readVs();
    const err = await custom
      .patchNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: ops }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch))
      .then(() => undefined, (e: unknown) => e);
    expect([409, 422]).toContain((err as k8s.ApiException<unknown>).code);
    const f = kubeFailure(err, vsTarget(), 'patch');
    expect(f.type).toBe('Conflict');
    expect(f.message).toContain(`patch VirtualService ${namespace}/storefront failed: it changed between read and write`);
    // Nothing was written: the concurrent edit stands and the weights did not move.
    const now = await readVs();
    expect(now.metadata.resourceVersion).toBe(edited.metadata.resourceVersion);
    expect(routeWeights(defaultRoute(now), { traffic: ref.traffic, namespace })).toEqual({ stable: 100, canary: 0 });
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'remove', path: '/metadata/annotations' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  });

  it('maps a schema rejection to Invalid, not to a concurrent change', async () => {
    const vs = await readVs();
    const err = await custom
      .patchNamespacedCustomObject(
        { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'test', path: '/metadata/resourceVersion', value: vs.metadata.resourceVersion }, { op: 'replace', path: '/spec/http/2/route/0/weight', value: 'ten' }] },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      )
      .then(() => undefined, (e: unknown) => e);
    const f = kubeFailure(err, vsTarget(), 'patch');
    expect(f.type).toBe('Invalid');
    expect(f.message).toContain('spec.http[2].route[0].weight');
  });

  it('maps an unreachable apiserver to Unavailable naming object and operation', async () => {
    const down = new k8s.KubeConfig();
    down.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 'x' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const f = await failureOf(createIstioRouter(down, ref).setWeight(snapshot, { weight: 10, expected: 0, force: false }));
    expect(f.type).toBe('Unavailable');
    expect(f.message).toMatch(new RegExp(`^get VirtualService ${namespace}/storefront failed: .+`));
  });

  it("keeps another writer's change to a route it does not manage", async () => {
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'replace', path: '/spec/http/0/timeout', value: '20s' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    await activities.trafficSetWeight(plainRef(), snapshot, { weight: 20, expected: 0, force: false });
    const vs = await readVs();
    expect((vs.spec.http[0] as { timeout?: string }).timeout).toBe('20s');
    expect(routeWeights(defaultRoute(vs), { traffic: ref.traffic, namespace })).toEqual({ stable: 80, canary: 20 });
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'replace', path: '/spec/http/0/timeout', value: '10s' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  });

  it('refuses to remove the canary destination while it still gets traffic', async () => {
    const f = await failureOf(activities.trafficUndo(plainRef(), snapshot, destinationChange));
    expect(f.type).toBe('CanaryStillRouted');
    expect(f.message).toContain('#2 (unnamed)');
    if (mode === 'subset') expect(((await readDr()).spec as { subsets: unknown[] }).subsets).toHaveLength(3);
    else await core.readNamespacedService({ namespace, name: 'storefront-canary' });
  });

  it('undoing the routes puts the VirtualService spec back exactly, and again changes nothing', async () => {
    expect(await activities.trafficUndo(plainRef(), snapshot, 'routes')).toEqual({ done: 'undone' });
    const vs = await readVs();
    expect(vs.spec).toEqual(vsBefore.spec);
    expect(JSON.stringify(vs.spec)).toBe(JSON.stringify(vsBefore.spec));
    await activities.trafficUndo(plainRef(), snapshot, 'routes');
    expect((await readVs()).metadata.resourceVersion).toBe(vs.metadata.resourceVersion);
  });

  it('undoing the canary destination puts it back as it was, and again changes nothing', async () => {
    await activities.trafficUndo(plainRef(), snapshot, destinationChange);
    if (mode === 'subset') {
      const dr = await readDr();
      expect(dr.spec).toEqual(drBefore!.spec);
      expect(JSON.stringify(dr.spec)).toBe(JSON.stringify(drBefore!.spec));
      await activities.trafficUndo(plainRef(), snapshot, destinationChange);
      expect((await readDr()).metadata.resourceVersion).toBe(dr.metadata.resourceVersion);
    } else {
      // Deletion is asynchronous only for finalizers; a Service has none, but allow for it.
      await eventually('canary Service deleted', async () =>
        core.readNamespacedService({ namespace, name: 'storefront-canary' }).then(() => undefined, (e: k8s.ApiException<unknown>) => (e.code === 404 ? true : undefined)),
      );
      expect(await activities.trafficUndo(plainRef(), snapshot, destinationChange)).toEqual({ done: 'absent' });
      const names = (await core.listNamespacedService({ namespace })).items.map((s) => s.metadata?.name).sort();
      expect(names).toEqual(['storefront', 'storefront-stable']);
    }
    expect(jsonEqual((await readVs()).spec, vsBefore.spec)).toBe(true);
  });

  it('undoing with the VirtualService gone counts as undone', async () => {
    await custom.deleteNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront' });
    expect(await activities.trafficUndo(plainRef(), snapshot, 'routes')).toEqual({ done: 'absent' });
  });
});
