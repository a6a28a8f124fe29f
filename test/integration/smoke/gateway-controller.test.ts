/**
 * The stack's Gateway API controller is real: Contour, built from the Go module proxy and running
 * against the local apiserver, writes route status for routes attached to the stack's Gateway.
 * The Gateway API router counts a weight as applied only once the route is accepted at the
 * generation it wrote; these tests show the status that rule reads is what a controller reports.
 */
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, eventually, gatewayParentRef, stackInfo, uniqueName } from '../../support/stack';

const GW = { group: 'gateway.networking.k8s.io', version: 'v1' };

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

interface RouteParentStatus {
  parentRef: { namespace?: string; name: string; sectionName?: string };
  controllerName: string;
  conditions: Condition[];
}

interface Route {
  metadata: { name: string; generation: number };
  spec: { rules: { backendRefs: { name: string; port: number; weight?: number }[] }[] };
  status?: { parents?: RouteParentStatus[] };
}

type Plural = 'httproutes' | 'grpcroutes';

describe('Gateway API controller (Contour) writes route status', () => {
  const info = stackInfo();
  const kc = adminKubeConfig(info);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName('smoke-gwc');
  const parentRef = gatewayParentRef(info);

  const service = (name: string, port: number): k8s.V1Service => ({
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ name: 'web', port, targetPort: port }] },
  });

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (const s of [service('stable', 80), service('canary', 80), service('grpc-stable', 9090), service('grpc-canary', 9090)]) {
      await core.createNamespacedService({ namespace, body: s });
    }
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  const route = (kind: 'HTTPRoute' | 'GRPCRoute', name: string, refs: [string, number, number][], sectionName = parentRef.sectionName) => ({
    apiVersion: `${GW.group}/${GW.version}`,
    kind,
    metadata: { name },
    spec: {
      parentRefs: [{ ...parentRef, sectionName }],
      // Contour refuses a route whose matches equal another route's on the same listener
      // (RuleMatchConflict): every test's routes get a hostname of their own.
      hostnames: [`${namespace}.example`],
      rules: [{ backendRefs: refs.map(([svc, port, weight]) => ({ name: svc, port, weight })) }],
    },
  });

  const read = async (plural: Plural, name: string) =>
    (await custom.getNamespacedCustomObject({ ...GW, namespace, plural, name })) as Route;

  /** This Gateway's entry in the route's status, as written by Contour. */
  const ourParent = (r: Route) =>
    r.status?.parents?.find(
      (p) => p.parentRef.name === parentRef.name && p.parentRef.namespace === parentRef.namespace && p.controllerName === info.gateway.controllerName,
    );
  const condition = (p: RouteParentStatus, type: string) => p.conditions.find((c) => c.type === type);

  /** Waits until both conditions were reported for generation, and returns the route then. */
  const statusAt = (plural: Plural, name: string, generation: number) =>
    eventually(`${plural} ${namespace}/${name} status at generation ${generation}`, async () => {
      const r = await read(plural, name);
      const p = ourParent(r);
      const accepted = p && condition(p, 'Accepted');
      const resolved = p && condition(p, 'ResolvedRefs');
      return accepted?.observedGeneration === generation && resolved?.observedGeneration === generation ? r : undefined;
    }, 30_000);

  /** Writes new weights on the route's rule with a JSON merge patch; returns the new generation. */
  const setWeights = async (plural: Plural, r: Route, weights: number[]) => {
    const rules = r.spec.rules.map((rule) => ({ ...rule, backendRefs: rule.backendRefs.map((b, i) => ({ ...b, weight: weights[i] })) }));
    const patched = (await custom.patchNamespacedCustomObject(
      { ...GW, namespace, plural, name: r.metadata.name, body: { spec: { rules } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )) as Route;
    return patched.metadata.generation;
  };

  it.each([
    ['HTTPRoute', 'httproutes', 'stable', 'canary', 80],
    ['GRPCRoute', 'grpcroutes', 'grpc-stable', 'grpc-canary', 9090],
  ] as const)('accepts a %s with resolved backends, and follows its generation when a weight changes', async (kind, plural, stable, canary, port) => {
    const name = `${plural}-weights`;
    await custom.createNamespacedCustomObject({ ...GW, namespace, plural, body: route(kind, name, [[stable, port, 90], [canary, port, 10]]) });

    const first = await statusAt(plural, name, 1);
    expect(first.metadata.generation).toBe(1);
    const p1 = ourParent(first)!;
    expect(condition(p1, 'Accepted')).toMatchObject({ status: 'True', observedGeneration: 1 });
    expect(condition(p1, 'ResolvedRefs')).toMatchObject({ status: 'True', observedGeneration: 1 });

    // A weight change is a spec change: the generation moves, and the status follows it.
    const generation = await setWeights(plural, first, [50, 50]);
    expect(generation).toBe(2);
    const second = await statusAt(plural, name, 2);
    expect(second.spec.rules[0]!.backendRefs.map((b) => b.weight)).toEqual([50, 50]);
    const p2 = ourParent(second)!;
    expect(condition(p2, 'Accepted')).toMatchObject({ status: 'True', observedGeneration: 2 });
    expect(condition(p2, 'ResolvedRefs')).toMatchObject({ status: 'True', observedGeneration: 2 });

    // The Gateway counts the route among its listener's attached routes.
    const gw = (await custom.getNamespacedCustomObject({ ...GW, namespace: parentRef.namespace, plural: 'gateways', name: parentRef.name })) as {
      status: { listeners: { name: string; attachedRoutes: number }[] };
    };
    expect(gw.status.listeners.find((l) => l.name === parentRef.sectionName)!.attachedRoutes).toBeGreaterThanOrEqual(1);
  });

  it('reports ResolvedRefs=False (BackendNotFound) for a backendRef to a Service that does not exist', async () => {
    const name = 'missing-backend';
    await custom.createNamespacedCustomObject({ ...GW, namespace, plural: 'httproutes', body: route('HTTPRoute', name, [['stable', 80, 90], ['no-such-service', 80, 10]]) });
    const r = await statusAt('httproutes', name, 1);
    const resolved = condition(ourParent(r)!, 'ResolvedRefs')!;
    expect(resolved).toMatchObject({ status: 'False', reason: 'BackendNotFound', observedGeneration: 1 });
    expect(resolved.message).toContain('no-such-service');
  });

  it('does not accept a route whose parentRef names a listener the Gateway does not have', async () => {
    const name = 'no-listener';
    await custom.createNamespacedCustomObject({ ...GW, namespace, plural: 'httproutes', body: route('HTTPRoute', name, [['stable', 80, 90], ['canary', 80, 10]], 'no-such-listener') });
    const r = await eventually(`httproutes ${namespace}/${name} Accepted at generation 1`, async () => {
      const got = await read('httproutes', name);
      const accepted = got.status?.parents?.find((p) => p.controllerName === info.gateway.controllerName)?.conditions.find((c) => c.type === 'Accepted');
      return accepted?.observedGeneration === 1 ? got : undefined;
    }, 30_000);
    const accepted = r.status!.parents!.find((p) => p.controllerName === info.gateway.controllerName)!.conditions.find((c) => c.type === 'Accepted')!;
    expect(accepted).toMatchObject({ status: 'False', reason: 'NoMatchingParent' });
    expect(accepted.message).not.toBe('');
  });
});
