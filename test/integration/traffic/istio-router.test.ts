/**
 * The Istio router against the real local apiserver: a MuShop-shaped VirtualService (api, assets and
 * a default route to storefront) is shifted 10 → 60 → 100 → 0 and put back, in both routing modes,
 * each operation run twice, with one write per weight change and nothing outside the managed route
 * touched.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createTrafficActivities } from '../../../src/activities/traffic/activities';
import { createIstioRouter, kubeFailure } from '../../../src/activities/traffic/istio';
import type { TrafficRef, TrafficSnapshot } from '../../../src/activities/traffic/router';
import type { Routing } from '../../../src/domain/spec/schema';
import { buildSetWeightPatch, jsonEqual, routeWeights, type RouteDestination, type VirtualService } from '../../../src/domain/traffic/istio';
import { adminKubeConfig, eventually, uniqueName } from '../../support/stack';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;
const versionLabel = { key: 'version', stable: 'v1', canary: 'v2' };

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
    traffic: { provider: 'istio', virtualService: { name: 'storefront', routes: [] }, host: 'storefront', routing, onDrift: 'pause' },
    versionLabel,
    targetService: 'storefront',
  };
  // Activities get plain JSON, as the workflow sends it.
  const plainRef = () => JSON.parse(JSON.stringify(ref)) as TrafficRef;
  const activities = createTrafficActivities({ kube: kc });

  const readVs = async () => (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront' })) as VS;
  const readDr = async () => (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', name: 'storefront' })) as Obj;
  const defaultRoute = (vs: VS) => vs.spec.http[2]!.route;

  let vsBefore: VS;
  let drBefore: Obj | undefined;
  let snapshot: TrafficSnapshot;

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

  it('preflight passes, twice', async () => {
    await activities.trafficPreflight(plainRef());
    await activities.trafficPreflight(plainRef());
  });

  it('preflight names every missing object and how to fix it', async () => {
    const missing: TrafficRef = {
      ...ref,
      traffic: {
        ...ref.traffic,
        virtualService: { name: 'nope-vs', routes: [] },
        routing: routing.mode === 'subset' ? { ...routing, destinationRule: 'nope-dr' } : { ...routing, stableService: 'nope-stable' },
      },
      targetService: 'nope-target',
    };
    const f = await failureOf(activities.trafficPreflight(missing));
    expect(f.type).toBe('TargetNotFound');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain(`VirtualService ${namespace}/nope-vs not found; create it, or set spec.traffic.virtualService.name`);
    if (mode === 'subset') {
      expect(f.message).toContain(`DestinationRule ${namespace}/nope-dr not found; create it, or set spec.traffic.routing.destinationRule`);
      expect(f.message).toContain('found 2 problem(s)');
    } else {
      expect(f.message).toContain(`Service ${namespace}/nope-stable not found; create it, or set spec.traffic.routing.stableService`);
      // The canary Service is absent, so the Service it would be copied from must exist.
      expect(f.message).toContain(`Service ${namespace}/nope-target not found; create it, or set spec.target.service`);
      expect(f.message).toContain('found 3 problem(s)');
    }

    const noRoute = await failureOf(activities.trafficPreflight({ ...ref, traffic: { ...ref.traffic, virtualService: { name: 'storefront', routes: ['primary', 'beta'] } } }));
    expect(noRoute.type).toBe('TargetNotFound');
    expect(noRoute.message).toContain(`VirtualService ${namespace}/storefront has no HTTP route named "primary" (routes: api, assets, #2 (unnamed)); set spec.traffic.virtualService.routes to one of them`);
    expect(noRoute.message).toContain('no HTTP route named "beta"');
  });

  it('maps 403 to a non-retryable Forbidden naming verb and resource', async () => {
    const nobody = await unprivilegedKubeConfig(kc, namespace);
    const f = await failureOf(createIstioRouter(nobody, ref).getWeights());
    expect(f.type).toBe('Forbidden');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain(`get VirtualService ${namespace}/storefront failed: HTTP 403 Forbidden`);
    expect(f.message).toContain(`grant the worker's identity "get" on virtualservices.networking.istio.io in namespace ${namespace}`);
  });

  it('snapshots the managed route and the canary destination, the same twice, without writing', async () => {
    snapshot = await activities.trafficSnapshot(plainRef());
    expect(await activities.trafficSnapshot(plainRef())).toEqual(snapshot);
    expect(snapshot.routing).toBe(mode);
    expect(snapshot.routes).toEqual([{ name: '', route: vsBefore.spec.http[2]!.route }]);
    if (mode === 'subset') {
      expect(snapshot.subsets).toEqual((drBefore!.spec as { subsets: unknown[] }).subsets);
      expect(snapshot.createdCanaryService).toBeUndefined();
    } else {
      expect(snapshot.createdCanaryService).toBe(true);
      expect(snapshot.subsets).toBeUndefined();
    }
    expect((await readVs()).metadata.resourceVersion).toBe(vsBefore.metadata.resourceVersion);
  });

  it('prepare adds the canary destination at weight 0, and again changes nothing', async () => {
    expect(await activities.trafficPrepare(plainRef(), snapshot)).toEqual({ stable: 100, canary: 0 });
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
    }
    const dr1 = mode === 'subset' ? await readDr() : undefined;

    expect(await activities.trafficPrepare(plainRef(), snapshot)).toEqual({ stable: 100, canary: 0 });
    expect((await readVs()).metadata.resourceVersion).toBe(vs1.metadata.resourceVersion);
    if (dr1) expect((await readDr()).metadata.resourceVersion).toBe(dr1.metadata.resourceVersion);
  });

  it.each([10, 60, 100, 0])('setWeight %i writes once, verifies, and a repeat writes nothing', async (w) => {
    const before = await readVs();
    expect(await activities.trafficSetWeight(plainRef(), w)).toEqual({ stable: 100 - w, canary: w });
    const after = await readVs();
    // Generation counts spec writes: exactly one PATCH.
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    expect(routeWeights(defaultRoute(after), ref.traffic)).toEqual({ stable: 100 - w, canary: w });
    expect(defaultRoute(after).map((d) => [d.destination.host, d.destination.subset, d.weight])).toEqual([
      [stableHost, stableDestination.subset, 100 - w],
      [canaryDestination.host, canaryDestination.subset, w],
    ]);
    expectOtherRoutesUntouched(after);
    expect(await activities.trafficGetWeights(plainRef())).toEqual({ stable: 100 - w, canary: w });

    expect(await activities.trafficSetWeight(plainRef(), w)).toEqual({ stable: 100 - w, canary: w });
    const again = await readVs();
    expect(again.metadata.resourceVersion).toBe(after.metadata.resourceVersion);
    expect(again.metadata.generation).toBe(after.metadata.generation);
  });

  it('rejects an invalid weight without writing', async () => {
    const f = await failureOf(activities.trafficSetWeight(plainRef(), 101));
    expect(f.type).toBe('InvalidWeight');
    expect(f.nonRetryable).toBe(true);
  });

  it('a patch built from a stale read is rejected and mapped to ConcurrentModification', async () => {
    const stale = (await readVs()) as unknown as VirtualService;
    const ops = buildSetWeightPatch(stale, ref.traffic, 30);
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
    const f = kubeFailure(err, { kind: 'VirtualService', namespace, name: 'storefront', field: 'spec.traffic.virtualService.name' }, 'patch');
    expect(f.type).toBe('ConcurrentModification');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toContain(`VirtualService ${namespace}/storefront changed between read and write`);
    // Nothing was written: the concurrent edit stands and the weights did not move.
    const now = await readVs();
    expect(now.metadata.resourceVersion).toBe(edited.metadata.resourceVersion);
    expect(routeWeights(defaultRoute(now), ref.traffic)).toEqual({ stable: 100, canary: 0 });
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'remove', path: '/metadata/annotations' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  });

  it('maps a schema rejection to a non-retryable error, not to a concurrent change', async () => {
    const vs = await readVs();
    const err = await custom
      .patchNamespacedCustomObject(
        { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'test', path: '/metadata/resourceVersion', value: vs.metadata.resourceVersion }, { op: 'replace', path: '/spec/http/2/route/0/weight', value: 'ten' }] },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      )
      .then(() => undefined, (e: unknown) => e);
    const f = kubeFailure(err, { kind: 'VirtualService', namespace, name: 'storefront', field: 'spec.traffic.virtualService.name' }, 'patch');
    expect(f.type).toBe('KubernetesRequestRejected');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('spec.http[2].route[0].weight');
  });

  it('maps an unreachable apiserver to a retryable error naming object and operation', async () => {
    const down = new k8s.KubeConfig();
    down.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 'x' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const f = await failureOf(createIstioRouter(down, ref).setWeight(10));
    expect(f.type).toBe('KubernetesApiError');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toMatch(new RegExp(`^get VirtualService ${namespace}/storefront failed: .+`));
  });

  it("keeps another writer's change to a route it does not manage", async () => {
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'replace', path: '/spec/http/0/timeout', value: '20s' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    await activities.trafficSetWeight(plainRef(), 20);
    const vs = await readVs();
    expect((vs.spec.http[0] as { timeout?: string }).timeout).toBe('20s');
    expect(routeWeights(defaultRoute(vs), ref.traffic)).toEqual({ stable: 80, canary: 20 });
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront', body: [{ op: 'replace', path: '/spec/http/0/timeout', value: '10s' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  });

  it('refuses to remove the canary destination while it still gets traffic', async () => {
    const f = await failureOf(activities.trafficRemoveCanaryDestination(plainRef(), snapshot));
    expect(f.type).toBe('CanaryStillRouted');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('#2 (unnamed)');
    if (mode === 'subset') expect(((await readDr()).spec as { subsets: unknown[] }).subsets).toHaveLength(3);
    else await core.readNamespacedService({ namespace, name: 'storefront-canary' });
  });

  it('restoreRoutes puts the VirtualService spec back exactly, and again changes nothing', async () => {
    await activities.trafficRestoreRoutes(plainRef(), snapshot);
    const vs = await readVs();
    expect(vs.spec).toEqual(vsBefore.spec);
    expect(JSON.stringify(vs.spec)).toBe(JSON.stringify(vsBefore.spec));
    await activities.trafficRestoreRoutes(plainRef(), snapshot);
    expect((await readVs()).metadata.resourceVersion).toBe(vs.metadata.resourceVersion);
  });

  it('removeCanaryDestination puts the destination back as it was, and again changes nothing', async () => {
    await activities.trafficRemoveCanaryDestination(plainRef(), snapshot);
    if (mode === 'subset') {
      const dr = await readDr();
      expect(dr.spec).toEqual(drBefore!.spec);
      expect(JSON.stringify(dr.spec)).toBe(JSON.stringify(drBefore!.spec));
      await activities.trafficRemoveCanaryDestination(plainRef(), snapshot);
      expect((await readDr()).metadata.resourceVersion).toBe(dr.metadata.resourceVersion);
    } else {
      // Deletion is asynchronous only for finalizers; a Service has none, but allow for it.
      await eventually('canary Service deleted', async () =>
        core.readNamespacedService({ namespace, name: 'storefront-canary' }).then(() => undefined, (e: k8s.ApiException<unknown>) => (e.code === 404 ? true : undefined)),
      );
      await activities.trafficRemoveCanaryDestination(plainRef(), snapshot);
      const names = (await core.listNamespacedService({ namespace })).items.map((s) => s.metadata?.name).sort();
      expect(names).toEqual(['storefront', 'storefront-stable']);
    }
    expect(jsonEqual((await readVs()).spec, vsBefore.spec)).toBe(true);
  });
});
