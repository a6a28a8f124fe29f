/**
 * The Gateway API router against the real local apiserver and the upstream Gateway API CRDs
 * (v1.6.3, standard channel): an HTTPRoute and a GRPCRoute with several rules (matches, filters,
 * another backend), two parentRefs and a named managed rule are shifted 0 → 10 → 50 → 100 and put
 * back, with one write per weight change and everything outside the managed backendRefs unchanged.
 *
 * Most tests write the route's status themselves, through the status subresource, as an
 * implementation's controller would (Accepted / ResolvedRefs with observedGeneration), to show what
 * the router does with each answer; the last block attaches routes to the stack's Gateway, whose
 * status Contour (a real controller) writes.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createTrafficActivities } from '../../../src/activities/traffic/activities';
import { createGatewayRouter, type GatewaySnapshot } from '../../../src/activities/traffic/gateway';
import type { TrafficRefOf } from '../../../src/domain/rollout/calls';
import type { GatewayTraffic } from '../../../src/domain/spec/schema';
import { ruleWeights, type BackendRef } from '../../../src/domain/traffic/gateway';
import { FORWARD_NON_RETRYABLE, Failure } from '../../../src/shared/failures';
import { InterceptingKubeConfig } from '../../support/intercept';
import { STACK_GATEWAY } from '../../../scripts/stack/kube-bootstrap';
import { contourAccepts, contourConditions, retriedWhilePending, type RouteWithStatus } from '../../support/contour';
import { adminKubeConfig, eventually, stackInfo, uniqueName } from '../../support/stack';

type TrafficRef = TrafficRefOf<GatewayTraffic>;
type Kind = GatewayTraffic['route']['kind'];

const GATEWAY = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;
const versions = { key: 'version', stable: 'v1', canary: 'v2', stablePinned: true };
/** A controller name no implementation in the stack uses, so nothing else writes these status entries. */
const CONTROLLER = 'example.com/recorded-gateway-controller';

interface Rule { name?: string; backendRefs: BackendRef[]; [field: string]: unknown }
interface Route {
  metadata: { name: string; resourceVersion: string; generation: number; annotations?: Record<string, string> };
  spec: { parentRefs: unknown[]; hostnames?: string[]; rules: Rule[] };
  status?: unknown;
}

/** A shop's route: an api rule to another Service, the named storefront rule (matches, a filter), and a legacy rule. */
function shopRoute(kind: Kind, name: string) {
  const http = kind === 'HTTPRoute';
  const filters = [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-served-by', value: 'storefront' }] } }];
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind,
    metadata: { name },
    spec: {
      parentRefs: [{ name: 'public', sectionName: 'https' }, { name: 'internal' }],
      hostnames: ['shop.example.com'],
      rules: [
        {
          name: 'api',
          matches: http ? [{ path: { type: 'PathPrefix', value: '/api' } }] : [{ method: { service: 'shop.Api' } }],
          backendRefs: [{ name: 'api', port: http ? 80 : 9000 }],
        },
        {
          name: 'storefront',
          matches: http
            ? [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x-region', value: 'eu' }] }, { path: { type: 'PathPrefix', value: '/shop' } }]
            : [{ method: { service: 'shop.Storefront' } }],
          filters,
          backendRefs: [{ name: 'storefront-stable', port: http ? 80 : 9090 }],
        },
        {
          name: 'legacy',
          matches: http ? [{ path: { type: 'Exact', value: '/old' } }] : [{ method: { service: 'shop.Legacy' } }],
          backendRefs: [{ name: 'storefront-legacy', port: http ? 80 : 9090, weight: 5 }],
        },
      ],
    },
  };
}

/** The ApplicationFailure a promise rejects with. */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe.each<Kind>(['HTTPRoute', 'GRPCRoute'])('Gateway API traffic router, %s', (kind) => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName(`gw-${kind.toLowerCase()}`);
  const plural = kind === 'HTTPRoute' ? 'httproutes' : 'grpcroutes';
  const ref: TrafficRef = {
    namespace,
    rollout: 'storefront',
    traffic: {
      provider: 'gateway-api', route: { kind, name: 'storefront', rules: [{ name: 'storefront' }] },
      routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }, onDrift: 'pause',
    },
    versions,
    targetService: 'storefront',
    stableDeployment: 'storefront',
    canaryDeployment: 'storefront-canary',
  };
  // Activities get plain JSON, as the workflow sends it.
  const plainRef = () => JSON.parse(JSON.stringify(ref)) as TrafficRef;
  const activities = createTrafficActivities({ kube: kc });
  const c = { traffic: ref.traffic, namespace };

  const readRoute = async () => (await custom.getNamespacedCustomObject({ ...GATEWAY, namespace, plural, name: 'storefront' })) as Route;
  const mergePatch = (body: unknown) => custom.patchNamespacedCustomObject({ ...GATEWAY, namespace, plural, name: 'storefront', body }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  const managed = (r: Route) => r.spec.rules[1]!;
  /** Writes status.parents as an implementation would, both parents answering alike. */
  const writeStatus = (accepted: 'True' | 'False', observedGeneration: number, reason = 'Accepted', message = 'Route is accepted') => custom.patchNamespacedCustomObjectStatus(
    {
      ...GATEWAY, namespace, plural, name: 'storefront',
      body: {
        status: {
          parents: ['public', 'internal'].map((gw) => ({
            parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: gw },
            controllerName: CONTROLLER,
            conditions: [
              { type: 'Accepted', status: gw === 'internal' ? accepted : 'True', reason: gw === 'internal' ? reason : 'Accepted', message: gw === 'internal' ? message : 'Route is accepted', observedGeneration, lastTransitionTime: new Date().toISOString() },
              { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'Resolved all references', observedGeneration, lastTransitionTime: new Date().toISOString() },
            ],
          })),
        },
      },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  const clearStatus = () => custom.patchNamespacedCustomObjectStatus(
    { ...GATEWAY, namespace, plural, name: 'storefront', body: { status: { parents: [] } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );

  let before: Route;
  let snapshot: GatewaySnapshot;

  /** Everything but the managed rule's backendRefs, exactly as the apiserver serialized it before the rollout. */
  const expectOnlyManagedRefsChanged = (now: Route) => {
    expect(JSON.stringify(now.spec.parentRefs)).toBe(JSON.stringify(before.spec.parentRefs));
    expect(JSON.stringify(now.spec.hostnames)).toBe(JSON.stringify(before.spec.hostnames));
    expect(JSON.stringify(now.spec.rules[0])).toBe(JSON.stringify(before.spec.rules[0]));
    expect(JSON.stringify(now.spec.rules[2])).toBe(JSON.stringify(before.spec.rules[2]));
    expect(JSON.stringify({ ...managed(now), backendRefs: undefined })).toBe(JSON.stringify({ ...managed(before), backendRefs: undefined }));
  };

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const ports = [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'grpc', port: 9090, targetPort: 9090, protocol: 'TCP' }];
    await core.createNamespacedService({ namespace, body: { metadata: { name: 'storefront' }, spec: { ports, selector: { app: 'storefront' } } } });
    await core.createNamespacedService({ namespace, body: { metadata: { name: 'storefront-stable' }, spec: { ports, selector: { app: 'storefront', version: 'v1' } } } });
    await custom.createNamespacedCustomObject({ ...GATEWAY, namespace, plural, body: shopRoute(kind, 'storefront') });
    before = await readRoute();
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('inspect finds nothing wrong, twice, plans the canary Service and the rule, and writes nothing', async () => {
    const a = await activities.inspectTraffic(plainRef());
    expect(await activities.inspectTraffic(plainRef())).toEqual(a);
    expect(a.problems).toEqual([]);
    expect(a.changes.map((ch) => [ch.id, ch.when])).toEqual([['canaryService', 'afterCanary'], ['routes', 'afterCanary']]);
    expect(a.changes[1]!.description).toBe(`add the canary Service storefront-canary at 0 % to rule(s) storefront of ${kind} ${namespace}/storefront`);
    expect(a.weights).toEqual({ stable: 100, canary: 0 });
    snapshot = a.snapshot as GatewaySnapshot;
    // The apiserver filled in the API's defaults (group, kind, weight 1): the snapshot keeps them as stored.
    expect(snapshot.rules).toEqual([{ key: 'name:storefront', backendRefs: managed(before).backendRefs }]);
    expect((await readRoute()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('inspect names every problem and its fix, all at once', async () => {
    const missing = await activities.inspectTraffic({ ...plainRef(), traffic: { ...ref.traffic, route: { kind, name: 'nope', rules: [] } } });
    expect(missing.problems).toEqual([`${kind} ${namespace}/nope not found; create it, or set spec.traffic.route.name (and spec.traffic.route.kind) to an existing route`]);
    const wrong = await activities.inspectTraffic({ ...plainRef(), traffic: { ...ref.traffic, route: { kind, name: 'storefront', rules: [{ name: 'main' }, { index: 2 }] } } });
    expect(wrong.problems).toEqual([
      `${kind} ${namespace}/storefront has no rule named "main" (rules: "api", "storefront", "legacy"); set spec.traffic.route.rules to select the rules Ramp should manage`,
      `${kind} ${namespace}/storefront rule "legacy" has no backendRef to Service ${namespace}/storefront-stable (backendRefs: Service storefront-legacy:${kind === 'HTTPRoute' ? 80 : 9090}); send the rule to it, or set spec.traffic.routing.stableService to match`,
    ]);
  });

  it('applying its changes creates the canary Service and adds the canary ref at 0 in one write; again changes nothing', async () => {
    const svc = await activities.trafficApply(plainRef(), snapshot, 'canaryService');
    snapshot = svc.snapshot as GatewaySnapshot;
    const created = await core.readNamespacedService({ namespace, name: 'storefront-canary' });
    expect(created.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'ramp' });
    expect(created.spec?.selector).toEqual({ app: 'storefront', version: 'v2' });
    expect(snapshot.canaryServiceUid).toBe(created.metadata?.uid);
    expect((await activities.trafficApply(plainRef(), snapshot, 'canaryService')).snapshot).toEqual(snapshot);

    const res = await activities.trafficApply(plainRef(), snapshot, 'routes');
    expect(res.weights).toEqual({ stable: 100, canary: 0 });
    const after = await readRoute();
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    const port = kind === 'HTTPRoute' ? 80 : 9090;
    expect(managed(after).backendRefs).toEqual([
      { group: '', kind: 'Service', name: 'storefront-stable', port, weight: 100 },
      { group: '', kind: 'Service', name: 'storefront-canary', port, weight: 0 },
    ]);
    expectOnlyManagedRefsChanged(after);
    await activities.trafficApply(plainRef(), snapshot, 'routes');
    expect((await readRoute()).metadata.resourceVersion).toBe(after.metadata.resourceVersion);
  });

  it.each([10, 50, 100])('setWeight %i: one write (generation +1), both refs weighted, nothing else touched; a repeat writes nothing', async (w) => {
    const was = await readRoute();
    const expected = ruleWeights(managed(was).backendRefs, c).canary;
    const res = await activities.trafficSetWeight(plainRef(), snapshot, { weight: w, expected, force: false });
    expect(res).toEqual({ applied: true, weights: { stable: 100 - w, canary: w } });
    const now = await readRoute();
    expect(now.metadata.generation).toBe(was.metadata.generation + 1);
    expect(managed(now).backendRefs.map((b) => [b.name, b.weight])).toEqual([['storefront-stable', 100 - w], ['storefront-canary', w]]);
    expectOnlyManagedRefsChanged(now);
    expect(await activities.trafficSetWeight(plainRef(), snapshot, { weight: w, expected: w, force: false })).toEqual(res);
    expect((await readRoute()).metadata.resourceVersion).toBe(now.metadata.resourceVersion);
  });

  it('weights someone else set are reported and not overwritten; force re-asserts', async () => {
    const now = await readRoute();
    const rules = now.spec.rules.map((r, i) => (i === 1 ? { ...r, backendRefs: [{ ...r.backendRefs[0]!, weight: 70 }, { ...r.backendRefs[1]!, weight: 30 }] } : r));
    await mergePatch({ spec: { rules } });
    const drifted = await activities.trafficSetWeight(plainRef(), snapshot, { weight: 100, expected: 100, force: false });
    expect(drifted).toEqual({ applied: false, found: { stable: 70, canary: 30 }, detail: `${kind} ${namespace}/storefront (storefront: stable 70, canary 30): canary weight is 30%, Ramp set 100%` });
    expect(managed(await readRoute()).backendRefs.map((b) => b.weight)).toEqual([70, 30]);
    expect(await activities.trafficSetWeight(plainRef(), snapshot, { weight: 100, expected: 100, force: true })).toEqual({ applied: true, weights: { stable: 0, canary: 100 } });
    expectOnlyManagedRefsChanged(await readRoute());
  });

  it('an edit between its read and its write fails the write as a Conflict; the retry keeps that edit', async () => {
    const intercepting = new InterceptingKubeConfig(kc).on({
      matches: (req) => req.method === 'PATCH' && req.path.endsWith(`/${plural}/storefront`),
      // Someone else changes the route (an annotation) after the router read it.
      before: async () => {
        await mergePatch({ metadata: { annotations: { 'example.com/touched': 'yes' } } });
      },
    });
    const router = createGatewayRouter(intercepting, plainRef());
    const was = await readRoute();
    const f = await failureOf(router.setWeight(snapshot, { weight: 50, expected: 100, force: false }));
    expect(f.type).toBe(Failure.Conflict);
    expect(f.message).toContain(`patch ${kind} ${namespace}/storefront failed: it changed between read and write`);
    const edited = await readRoute();
    expect(edited.metadata.generation).toBe(was.metadata.generation);
    expect(managed(edited).backendRefs.map((b) => b.weight)).toEqual([0, 100]);
    // The activity's retry reads again and writes once, on top of the other edit.
    expect(await router.setWeight(snapshot, { weight: 50, expected: 100, force: false })).toEqual({ applied: true, weights: { stable: 50, canary: 50 } });
    const now = await readRoute();
    expect(now.metadata.annotations).toEqual({ 'example.com/touched': 'yes' });
    expect(now.metadata.generation).toBe(was.metadata.generation + 1);
    await custom.patchNamespacedCustomObject(
      { ...GATEWAY, namespace, plural, name: 'storefront', body: [{ op: 'remove', path: '/metadata/annotations' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  });

  describe('route status written by an implementation', () => {
    afterEach(async () => {
      await clearStatus();
    });

    it('accepted only at an older generation: the write is pending, a retryable failure; accepted at the new one: applied', async () => {
      const was = await readRoute();
      await writeStatus('True', was.metadata.generation);
      const router = createGatewayRouter(kc, plainRef(), { acceptanceWaitMs: 300, acceptancePollMs: 100 });
      const f = await failureOf(router.setWeight(snapshot, { weight: 10, expected: 50, force: false }));
      expect(f.type).toBe(Failure.RoutePending);
      expect(FORWARD_NON_RETRYABLE).not.toContain(f.type);
      const generation = was.metadata.generation + 1;
      expect(f.message).toBe(`${kind} ${namespace}/storefront at generation ${generation} is not yet accepted by every parent (Gateway ${namespace}/public: Accepted at generation ${generation - 1}; Gateway ${namespace}/public: ResolvedRefs at generation ${generation - 1}; Gateway ${namespace}/internal: Accepted at generation ${generation - 1}; Gateway ${namespace}/internal: ResolvedRefs at generation ${generation - 1}); retried until its Gateway API implementation reports on it`);
      expect((await readRoute()).metadata.generation).toBe(generation);
      // The implementation catches up; the retry writes nothing more and counts the weight as applied.
      await writeStatus('True', generation);
      expect(await router.setWeight(snapshot, { weight: 10, expected: 50, force: false })).toEqual({ applied: true, weights: { stable: 90, canary: 10 } });
      expect((await readRoute()).metadata.generation).toBe(generation);
    });

    it('a write waits, reading again, until the implementation accepts the new generation', async () => {
      const was = await readRoute();
      await writeStatus('True', was.metadata.generation);
      const router = createGatewayRouter(kc, plainRef(), { acceptanceWaitMs: 20_000, acceptancePollMs: 100 });
      const order: string[] = [];
      const writing = router.setWeight(snapshot, { weight: 20, expected: 10, force: false }).then((r) => {
        order.push('applied');
        return r;
      });
      const generation = await eventually('the weight write', async () => {
        const g = (await readRoute()).metadata.generation;
        return g > was.metadata.generation ? g : undefined;
      });
      order.push('written');
      // Marked before the status write starts: the router may see the status before this process
      // hears the write's answer, but never before the write was sent.
      order.push('accepting');
      await writeStatus('True', generation);
      expect(await writing).toEqual({ applied: true, weights: { stable: 80, canary: 20 } });
      expect(order).toEqual(['written', 'accepting', 'applied']);
    });

    it('not accepted at the new generation: the step fails with the parent, reason and message, and is not retried', async () => {
      const was = await readRoute();
      await writeStatus('True', was.metadata.generation);
      const router = createGatewayRouter(kc, plainRef(), { acceptanceWaitMs: 20_000, acceptancePollMs: 100 });
      const writing = failureOf(router.setWeight(snapshot, { weight: 30, expected: 20, force: false }));
      const generation = await eventually('the weight write', async () => {
        const g = (await readRoute()).metadata.generation;
        return g > was.metadata.generation ? g : undefined;
      });
      await writeStatus('False', generation, 'NotAllowedByListeners', 'No listeners included by this parent ref allowed this attachment.');
      const f = await writing;
      expect(f.type).toBe(Failure.RouteNotAccepted);
      expect(FORWARD_NON_RETRYABLE).toContain(f.type);
      expect(f.message).toBe(`${kind} ${namespace}/storefront at generation ${generation} is not accepted by Gateway ${namespace}/internal: Accepted False, reason NotAllowedByListeners: No listeners included by this parent ref allowed this attachment.; fix the route or its backends (kubectl -n ${namespace} describe ${kind.toLowerCase()} storefront)`);
      // Before a rollout, the same status is a preflight problem.
      const inspected = await activities.inspectTraffic(plainRef());
      expect(inspected.problems).toEqual([f.message]);
    });
  });

  it('refuses to delete the canary Service while a rule still sends to it', async () => {
    const f = await failureOf(activities.trafficUndo(plainRef(), snapshot, 'canaryService'));
    expect(f.type).toBe(Failure.CanaryStillRouted);
    expect(f.message).toBe(`${kind} ${namespace}/storefront rule(s) storefront still send traffic to Service ${namespace}/storefront-canary; restore the route's backendRefs first`);
    await core.readNamespacedService({ namespace, name: 'storefront-canary' });
  });

  it('undoing the rule puts the whole spec back exactly, without waiting on status; again changes nothing', async () => {
    expect(await activities.trafficUndo(plainRef(), snapshot, 'routes')).toEqual({ done: 'undone' });
    const now = await readRoute();
    expect(JSON.stringify(now.spec)).toBe(JSON.stringify(before.spec));
    expect(await activities.trafficUndo(plainRef(), snapshot, 'routes')).toEqual({ done: 'undone' });
    expect((await readRoute()).metadata.resourceVersion).toBe(now.metadata.resourceVersion);
  });

  it('undoing the canary Service deletes Ramp\'s by uid; again counts as absent', async () => {
    expect(await activities.trafficUndo(plainRef(), snapshot, 'canaryService')).toEqual({ done: 'undone' });
    await eventually('the canary Service gone', async () => core.readNamespacedService({ namespace, name: 'storefront-canary' }).then(() => undefined, () => true));
    expect(await activities.trafficUndo(plainRef(), snapshot, 'canaryService')).toEqual({ done: 'absent' });
  });

  it('a snapshot of another router is refused, and undoing with the route gone counts as absent', async () => {
    const f = await failureOf(activities.trafficSetWeight(plainRef(), { routing: 'service', routes: [] }, { weight: 10, expected: 0, force: false }));
    expect(f.type).toBe(Failure.TrafficChanged);
    await custom.deleteNamespacedCustomObject({ ...GATEWAY, namespace, plural, name: 'storefront' });
    expect(await activities.trafficUndo(plainRef(), snapshot, 'routes')).toEqual({ done: 'absent' });
  });
});

describe('Gateway API traffic router: Services that select every pod of the app (the Argo Rollouts guide\'s shape)', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName('gw-pins');
  const ref: TrafficRef = {
    namespace,
    rollout: 'shop',
    traffic: {
      provider: 'gateway-api', route: { kind: 'HTTPRoute', name: 'shop', rules: [] },
      routing: { mode: 'service', stableService: 'shop-stable', canaryService: 'shop-canary' }, onDrift: 'pause',
    },
    versions: { key: 'version', stable: 'v1', canary: 'v2', stablePinned: false },
    targetService: 'shop-stable',
    stableDeployment: 'shop',
    canaryDeployment: 'shop-canary',
  };
  const activities = createTrafficActivities({ kube: kc });
  const selectorOf = async (name: string) => (await core.readNamespacedService({ namespace, name })).spec?.selector;
  let snapshot: GatewaySnapshot;
  let hash: string;

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'shop' },
        spec: {
          replicas: 1, selector: { matchLabels: { app: 'shop' } },
          template: { metadata: { labels: { app: 'shop', version: 'v1' } }, spec: { containers: [{ name: 'app', image: 'shop:v1' }] } },
        },
      },
    });
    for (const name of ['shop-stable', 'shop-canary']) {
      await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector: { app: 'shop' }, ports: [{ name: 'http', port: 80 }] } } });
    }
    await custom.createNamespacedCustomObject({
      ...GATEWAY, namespace, plural: 'httproutes',
      body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop' }, spec: { parentRefs: [{ name: 'public' }], rules: [{ backendRefs: [{ name: 'shop-stable', port: 80 }] }] } },
    });
    hash = await eventually('the stable Deployment Available with one ReplicaSet', async () => {
      const d = await apps.readNamespacedDeployment({ namespace, name: 'shop' });
      if (d.status?.availableReplicas !== 1 || d.status.updatedReplicas !== 1) return undefined;
      const sets = (await apps.listNamespacedReplicaSet({ namespace })).items;
      return sets.length === 1 ? sets[0]!.metadata?.labels?.['pod-template-hash'] : undefined;
    }, 60_000);
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('plans to narrow both Services before the canary, and no canary Service of its own (one exists)', async () => {
    const a = await activities.inspectTraffic(ref);
    expect(a.problems).toEqual([]);
    expect(a.changes.map((ch) => [ch.id, ch.when])).toEqual([['pinStable', 'beforeCanary'], ['pinCanary', 'beforeCanary'], ['routes', 'afterCanary']]);
    snapshot = a.snapshot as GatewaySnapshot;
    expect(snapshot).toMatchObject({ stablePin: { app: 'shop', 'pod-template-hash': hash }, canaryPin: { app: 'shop', version: 'v2' }, createsCanaryService: false });
  });

  it('narrows each Service to its own pods, and puts both back', async () => {
    for (const change of ['pinStable', 'pinCanary', 'routes']) snapshot = (await activities.trafficApply(ref, snapshot, change)).snapshot as GatewaySnapshot;
    expect(await selectorOf('shop-stable')).toEqual({ app: 'shop', 'pod-template-hash': hash });
    expect(await selectorOf('shop-canary')).toEqual({ app: 'shop', version: 'v2' });
    expect(await activities.trafficUndo(ref, snapshot, 'routes')).toEqual({ done: 'undone' });
    expect(await activities.trafficUndo(ref, snapshot, 'pinCanary')).toEqual({ done: 'undone' });
    expect(await activities.trafficUndo(ref, snapshot, 'pinStable')).toEqual({ done: 'undone' });
    expect(await selectorOf('shop-stable')).toEqual({ app: 'shop' });
    expect(await selectorOf('shop-canary')).toEqual({ app: 'shop' });
  });

  it('promotion: the stable Service stops selecting by ReplicaSet while the stable rolls, and keeps the original selector after', async () => {
    snapshot = (await activities.trafficApply(ref, snapshot, 'pinStable')).snapshot as GatewaySnapshot;
    expect(await selectorOf('shop-stable')).toEqual({ app: 'shop', 'pod-template-hash': hash });
    snapshot = (await activities.trafficPromote(ref, snapshot, 'begin')).snapshot as GatewaySnapshot;
    expect(await selectorOf('shop-stable')).toEqual({ app: 'shop' });
    snapshot = (await activities.trafficPromote(ref, snapshot, 'end')).snapshot as GatewaySnapshot;
    expect(await selectorOf('shop-stable')).toEqual({ app: 'shop' });
    expect(snapshot.stableSelector).toEqual({ app: 'shop' });
  });
});

describe.each<Kind>(['HTTPRoute', 'GRPCRoute'])('Gateway API traffic router, %s attached to the stack\'s Gateway (Contour writes its status)', (kind) => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  // stack.json names the Gateway; a stack brought up before it did has the same one (kube-bootstrap.ts).
  const gateway = (stackInfo() as Partial<ReturnType<typeof stackInfo>>).gateway ?? STACK_GATEWAY;
  const namespace = uniqueName(`gw-contour-${kind.toLowerCase()}`);
  const plural = kind === 'HTTPRoute' ? 'httproutes' : 'grpcroutes';
  const port = kind === 'HTTPRoute' ? 80 : 9090;
  const ref: TrafficRef = {
    namespace,
    rollout: 'storefront',
    traffic: {
      provider: 'gateway-api', route: { kind, name: 'storefront', rules: [] },
      routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }, onDrift: 'pause',
    },
    versions,
    targetService: 'storefront-stable',
    stableDeployment: 'storefront',
    canaryDeployment: 'storefront-canary',
  };
  const activities = createTrafficActivities({ kube: kc });
  const readRoute = async () => (await custom.getNamespacedCustomObject({ ...GATEWAY, namespace, plural, name: 'storefront' })) as Route & RouteWithStatus;
  /** Contour's conditions on the route, as [type, status, reason, observedGeneration]. */
  const contourSays = async () => contourConditions(await readRoute(), gateway.controllerName);
  let snapshot: GatewaySnapshot;

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedService({ namespace, body: { metadata: { name: 'storefront-stable' }, spec: { selector: { app: 'storefront', version: 'v1' }, ports: [{ name: 'web', port }] } } });
    await custom.createNamespacedCustomObject({
      ...GATEWAY, namespace, plural,
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name: 'storefront' },
        spec: {
          parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: gateway.namespace, name: gateway.name, sectionName: gateway.listener }],
          // Contour refuses a route whose matches equal another route's on the same listener (RuleMatchConflict).
          hostnames: [`${namespace}.example`],
          rules: [{ backendRefs: [{ name: 'storefront-stable', port }] }],
        },
      },
    });
    await contourAccepts(readRoute, gateway.controllerName);
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('adding a canary ref to a Service that does not exist yet fails as RouteNotAccepted with Contour\'s reason', async () => {
    snapshot = (await activities.inspectTraffic(ref)).snapshot as GatewaySnapshot;
    // The canary Service is created by its own change, before the routes; skipping it leaves the ref unresolvable.
    const f = await failureOf(activities.trafficApply(ref, snapshot, 'routes'));
    expect(f.type).toBe(Failure.RouteNotAccepted);
    const { generation } = await contourSays();
    expect(f.message).toMatch(new RegExp(`^${kind} ${namespace}/storefront at generation ${generation} is not accepted by Gateway ${gateway.namespace}/${gateway.name} section ${gateway.listener}: ResolvedRefs False, reason BackendNotFound: `));
    expect(await activities.trafficUndo(ref, snapshot, 'routes')).toEqual({ done: 'undone' });
  });

  it('with the canary Service there, each weight counts as applied once Contour has accepted that generation', async () => {
    snapshot = (await activities.trafficApply(ref, snapshot, 'canaryService')).snapshot as GatewaySnapshot;
    await retriedWhilePending(() => activities.trafficApply(ref, snapshot, 'routes'));
    let expected = 0;
    for (const w of [10, 50, 100]) {
      expect(await retriedWhilePending(() => activities.trafficSetWeight(ref, snapshot, { weight: w, expected, force: false }))).toEqual({ applied: true, weights: { stable: 100 - w, canary: w } });
      const s = await contourSays();
      // Read right after the call returned: the controller had already reported on the generation written.
      expect(s.conditions).toEqual([['Accepted', 'True', 'Accepted', s.generation], ['ResolvedRefs', 'True', 'ResolvedRefs', s.generation]]);
      expected = w;
    }
    expect(await activities.trafficUndo(ref, snapshot, 'routes')).toEqual({ done: 'undone' });
    expect(await activities.trafficUndo(ref, snapshot, 'canaryService')).toEqual({ done: 'undone' });
  });
});
