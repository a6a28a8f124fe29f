/**
 * The Gateway API traffic router: shifts traffic between the stable and canary Services in the
 * managed rules of an HTTPRoute or GRPCRoute (gateway.networking.k8s.io/v1). Every change is computed
 * by src/domain/traffic/gateway.ts and written as one JSON Patch guarded by the resourceVersion that
 * was read, so a concurrent edit fails the write (the retry reads again) instead of being lost.
 * A weight counts as applied once read back and, where an implementation reports on the route,
 * once it has accepted the route at the generation written: a route it rejects fails the step
 * (RouteNotAccepted, and the rollout rolls back); one it has not reported on yet is retried
 * (RoutePending). The Services (canary Service, narrowed selectors) are services.ts's, as for Istio.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { featureChange, type RouteFeature, type SetWeightInput, type SetWeightResult, type TrafficRefOf, type Weights } from '../../domain/rollout/calls';
import type { PlannedChange } from '../../domain/rollout/model';
import type { GatewayTraffic } from '../../domain/spec/schema';
import {
  Acceptance, buildFeaturePatch, buildRestorePatch, buildSetWeightPatch, FeatureError, FeaturePlan, GatewayContext, GatewayRoute, inspectRoute, managedRulesInWords, readWeights, routeAcceptance,
  rulesToCanary, SnapshotRule, snapshotRules,
} from '../../domain/traffic/gateway';
import { assertWeight, JsonPatchOp } from '../../domain/traffic/objects';
import { Failure } from '../../shared/failures';
import { kubeCall, kubeGetOptional, kubeId, KubeTarget } from '../kube-errors';
import type { Inspection, TrafficRouter } from './router';
import { createServiceRouting, isServiceChange, readStableTemplate, ServiceSnapshot } from './services';
import { driftFound, splitOf, verifySplit, withFailures } from './weights';

const GATEWAY = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;

/** What the Gateway API router keeps to put things back exactly. */
export interface GatewaySnapshot extends ServiceSnapshot {
  provider: 'gateway-api';
  /** The route's kind when the snapshot was taken: the kind cannot change during a rollout. */
  kind: GatewayTraffic['route']['kind'];
  /** Each managed rule, by its key, with its backendRefs as they were. */
  rules: SnapshotRule[];
  /** The rules each routing feature added, by change id (`header:<name>`, `sticky`), so undo removes exactly those. */
  features?: Record<string, string[]>;
}

/** The router's own change id (service routing's are services.ts's). */
const CHANGE = { routes: 'routes' } as const;

/** A routing feature's change id (`featureChange`): `header:<name>`, `mirror`, `sticky`. */
function isFeatureChange(change: string): boolean {
  return change.startsWith('header:') || change === 'mirror' || change === 'sticky';
}

export interface GatewayRouterOptions {
  /**
   * How long a write waits, re-reading the route, for its implementation to report on the new
   * generation before the call fails as RoutePending (and the activity is retried). Default 3 s:
   * implementations usually answer within it, so a weight step rarely needs a retry.
   */
  acceptanceWaitMs?: number;
  /** Pause between those reads. Default 250 ms. */
  acceptancePollMs?: number;
}

/** The Gateway API TrafficRouter for one rollout's route. */
export function createGatewayRouter(kube: k8s.KubeConfig, ref: TrafficRefOf<GatewayTraffic>, options: GatewayRouterOptions = {}): TrafficRouter {
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const namespace = ref.namespace;
  const traffic: GatewayTraffic = ref.traffic;
  const kind = traffic.route.kind;
  const c: GatewayContext = { traffic, namespace };
  const waitMs = options.acceptanceWaitMs ?? 3000;
  const pollMs = options.acceptancePollMs ?? 250;

  const routePlural = () => (kind === 'HTTPRoute' ? 'httproutes' : 'grpcroutes');
  const routeTarget: KubeTarget = { kind, namespace, name: traffic.route.name, resource: `${routePlural()}.${GATEWAY.group}`, field: 'spec.traffic.route.name' };
  const read = () => custom.getNamespacedCustomObject({ ...GATEWAY, namespace, plural: routePlural(), name: traffic.route.name }) as Promise<GatewayRoute>;
  const getRoute = () => kubeCall(routeTarget, 'get', read);
  const optionalRoute = () => kubeGetOptional(routeTarget, read);
  const services = createServiceRouting(kube, ref, traffic.routing, refuseWhileRouted);

  /** One JSON Patch write on the route; the answer is the route as stored. */
  function patch(ops: JsonPatchOp[]): Promise<GatewayRoute> {
    return kubeCall(routeTarget, 'patch', () => custom.patchNamespacedCustomObject(
      { ...GATEWAY, namespace, plural: routePlural(), name: traffic.route.name, body: ops },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    ) as Promise<GatewayRoute>);
  }


  function snapshotOf(raw: unknown): GatewaySnapshot {
    const s = raw as GatewaySnapshot;
    if (s?.provider !== 'gateway-api' || s.kind !== kind) {
      throw ApplicationFailure.create({
        message: `the traffic snapshot was taken by another router (${s?.provider === 'gateway-api' ? `gateway-api ${String(s.kind)}` : 'not gateway-api'}), but spec.traffic is a gateway-api ${kind}; the traffic router cannot change during a rollout`,
        type: Failure.TrafficChanged,
      });
    }
    return s;
  }

  /** The split of every managed rule; one value when they agree. */
  const weightsOf = (route: GatewayRoute) => splitOf(readWeights(route, c));

  /** The failure for a route its implementation rejects or has not reported on; undefined when it may serve the weights. */
  function acceptanceFailure(a: Acceptance, generation: number): ApplicationFailure | undefined {
    if (a.state === 'rejected') {
      return ApplicationFailure.create({
        message: `${kubeId(routeTarget)} at generation ${generation} is not accepted by ${a.parent}: ${a.condition} False, reason ${a.reason}: ${a.message}; fix the route or its backends (kubectl -n ${namespace} describe ${kind.toLowerCase()} ${traffic.route.name})`,
        type: Failure.RouteNotAccepted,
      });
    }
    if (a.state === 'pending') {
      return ApplicationFailure.create({
        message: `${kubeId(routeTarget)} at generation ${generation} is not yet accepted by every parent (${a.detail}); retried until its Gateway API implementation reports on it`,
        type: Failure.RoutePending,
      });
    }
    return undefined;
  }

  /**
   * Waits (re-reading) for the route's implementations to accept `written`'s generation. Another
   * write since then is someone else's: the weights read back are checked again by the caller's
   * retry, not here.
   */
  async function awaitAcceptance(written: GatewayRoute): Promise<void> {
    const generation = written.metadata?.generation ?? 0;
    let failure = acceptanceFailure(routeAcceptance(written, generation), generation);
    for (let waited = 0; failure?.type === Failure.RoutePending && waited < waitMs; waited += pollMs) {
      await new Promise((r) => setTimeout(r, pollMs));
      failure = acceptanceFailure(routeAcceptance(await getRoute(), generation), generation);
    }
    if (failure) throw failure;
  }

  async function writeWeight(route: GatewayRoute, canaryWeight: number): Promise<Weights> {
    const want = { stable: 100 - canaryWeight, canary: canaryWeight };
    const ops = buildSetWeightPatch(route, c, canaryWeight);
    const written = ops.length === 0 ? route : await patch(ops);
    verifySplit(kubeId(routeTarget), weightsOf(written), want);
    await awaitAcceptance(written);
    return want;
  }

  /** Removing the canary Service while a rule still sends to it would fail those requests. */
  async function refuseWhileRouted(what: string): Promise<void> {
    const route = await optionalRoute();
    const routed = route ? rulesToCanary(route, c) : [];
    if (routed.length > 0) {
      throw ApplicationFailure.create({ message: `${kubeId(routeTarget)} rule(s) ${routed.join(', ')} still send traffic to ${what}; restore the route's backendRefs first`, type: Failure.CanaryStillRouted });
    }
  }

  const inspect = async (): Promise<Inspection> => {
    const problems: string[] = [];
    const route = await optionalRoute();
    if (!route) problems.push(`${kubeId(routeTarget)} not found; create it, or set spec.traffic.route.name (and spec.traffic.route.kind) to an existing route`);
    else {
      problems.push(...inspectRoute(route, c));
      const generation = route.metadata?.generation ?? 0;
      const a = routeAcceptance(route, generation);
      // A route already rejected would fail the first weight step: say so before any change.
      if (a.state === 'rejected') problems.push(acceptanceFailure(a, generation)!.message);
    }
    const changes: PlannedChange[] = [];
    const snapshot: GatewaySnapshot = { provider: 'gateway-api', kind, rules: [], ...await services.inspect(await readStableTemplate(kube, ref), problems, changes) };
    changes.push({ id: CHANGE.routes, when: 'afterCanary', description: `add the canary Service ${traffic.routing.canaryService} at 0 % to ${managedRulesInWords(traffic.route.rules)} of ${kubeId(routeTarget)}`, carriesTraffic: true });
    let weights: Weights = { stable: 100, canary: 0 };
    if (route && problems.length === 0) {
      snapshot.rules = snapshotRules(route, c);
      weights = weightsOf(route).weights;
    }
    return { problems, changes, snapshot, weights };
  };

  const apply = async (raw: unknown, change: string): Promise<{ snapshot: unknown; weights?: Weights }> => {
    const snapshot = snapshotOf(raw);
    if (isServiceChange(change)) return { snapshot: await services.apply(snapshot, change) };
    if (change === CHANGE.routes) return { snapshot, weights: await writeWeight(await getRoute(), 0) };
    throw ApplicationFailure.create({ message: `the Gateway API router has no change "${change}"`, type: Failure.Invalid });
  };

  const setWeight = async (raw: unknown, input: SetWeightInput): Promise<SetWeightResult> => {
    snapshotOf(raw);
    assertWeight(input.weight);
    const route = await getRoute();
    const drift = driftFound(kubeId(routeTarget), weightsOf(route), input, 'rules');
    if (drift) return drift;
    return { applied: true, weights: await writeWeight(route, input.weight) };
  };

  /**
   * Restoring the backendRefs does not wait for the implementation: a rollback must not hang on a
   * controller, and what it writes back is the route as it was before the rollout.
   */
  const undo = async (raw: unknown, change: string): Promise<'undone' | 'absent'> => {
    const snapshot = snapshotOf(raw);
    if (isServiceChange(change)) return services.undo(snapshot, change);
    if (isFeatureChange(change)) return undoFeature(snapshot, change);
    if (change !== CHANGE.routes) throw ApplicationFailure.create({ message: `the Gateway API router has no change "${change}"`, type: Failure.Invalid });
    const route = await optionalRoute();
    if (!route) return 'absent';
    const { ops, missing } = buildRestorePatch(route, c, snapshot.rules);
    if (ops.length > 0) {
      const after = await patch(ops);
      if (buildRestorePatch(after, c, snapshot.rules).ops.length > 0) {
        throw ApplicationFailure.create({ message: `${kubeId(routeTarget)} managed rules differ from the snapshot after the write; something may be rewriting it`, type: Failure.NotApplied });
      }
    }
    return missing.length === snapshot.rules.length ? 'absent' : 'undone';
  };

  const promote = async (raw: unknown, stage: 'begin' | 'end'): Promise<{ snapshot: unknown }> => ({ snapshot: await services.promote(snapshotOf(raw), stage) });

  /** The patch for a feature (undefined: its undo); a feature the route cannot express is a non-retryable Invalid failure. */
  function featurePlan(route: GatewayRoute, snapshot: GatewaySnapshot, change: string, feature?: RouteFeature): FeaturePlan {
    const recorded = snapshot.features ?? {};
    const others = Object.entries(recorded).flatMap(([id, names]) => (id === change ? [] : names));
    try {
      return buildFeaturePatch(route, c, { change, feature, owned: recorded[change] ?? [], others, canaryVersion: ref.versions?.canary });
    } catch (err) {
      if (err instanceof FeatureError) throw ApplicationFailure.create({ message: `${kubeId(routeTarget)}: ${err.message}`, type: Failure.Invalid, nonRetryable: true });
      throw err;
    }
  }

  /** Writes a feature's patch and reads it back: the route as stored must need no further op. */
  async function writeFeature(route: GatewayRoute, snapshot: GatewaySnapshot, change: string, feature?: RouteFeature): Promise<{ written: GatewayRoute; plan: FeaturePlan }> {
    const plan = featurePlan(route, snapshot, change, feature);
    const written = plan.ops.length === 0 ? route : await patch(plan.ops);
    if (featurePlan(written, snapshot, change, feature).ops.length > 0) {
      throw ApplicationFailure.create({ message: `${kubeId(routeTarget)} does not carry ${change} as written after the write; something may be rewriting the route`, type: Failure.NotApplied });
    }
    return { written, plan };
  }

  /**
   * One guarded write per feature; like a weight, it counts once the route's implementation has
   * accepted the written generation (a refused header rule or mirror filter fails the step).
   */
  const setFeature = async (raw: unknown, feature: RouteFeature): Promise<{ snapshot: unknown }> => {
    const snapshot = snapshotOf(raw);
    const change = featureChange(feature);
    const { written, plan } = await writeFeature(await getRoute(), snapshot, change, feature);
    await awaitAcceptance(written);
    return { snapshot: { ...snapshot, features: { ...snapshot.features, [change]: plan.rules } } };
  };

  /** Takes a feature back; like the backendRefs' restore, it does not wait for the implementation. */
  async function undoFeature(snapshot: GatewaySnapshot, change: string): Promise<'undone' | 'absent'> {
    const route = await optionalRoute();
    if (!route) return 'absent';
    const { plan } = await writeFeature(route, snapshot, change);
    return plan.ops.length > 0 ? 'undone' : 'absent';
  }

  return withFailures({ writes: 'local', inspect, apply, setWeight, undo, promote, setFeature });
}
