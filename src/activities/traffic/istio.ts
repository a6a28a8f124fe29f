/**
 * The Istio traffic router: shifts traffic between stable and canary in the managed HTTP routes of
 * a VirtualService (networking.istio.io/v1), using DestinationRule subsets or separate Services.
 * Each change is computed by src/domain/traffic/istio.ts and written as one JSON Patch guarded by
 * the resourceVersion that was read, so a concurrent edit fails the write (and the retry reads
 * again) instead of being lost.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { SetWeightInput, SetWeightResult, TrafficRef, Weights } from '../../domain/rollout/calls';
import type { PlannedChange } from '../../domain/rollout/model';
import { checkDrift } from '../../domain/traffic/drift';
import {
  assertWeight, buildCanaryService, buildRestoreRoutesPatch, buildSetWeightPatch, buildSubsetsPatch, DestinationRule, ensureSubsets,
  inspectDestinationRule, inspectVirtualService, JsonPatchOp, MANAGED_BY, MANAGED_BY_LABEL, readWeights, restoreSubsets, routesToCanary, Service,
  SnapshotRoute, snapshotRoutes, Subset, SubsetRouting, TrafficConfigError, VirtualService,
} from '../../domain/traffic/istio';
import type { IstioTraffic } from '../../domain/spec/schema';
import { Failure } from '../../shared/failures';
import { kubeCall, kubeDelete, kubeGetOptional, kubeId, KubeTarget, target } from '../kube-errors';
import type { Inspection, TrafficRouter } from './router';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;

/** What the Istio router keeps to put things back: the managed routes and subsets as they were. */
export interface IstioSnapshot {
  routing: 'subset' | 'service';
  /** Each managed HTTP route, by its selector ('' for the default route), as it was. */
  routes: SnapshotRoute[];
  /** Subset mode: the DestinationRule's `spec.subsets` as they were (undefined when it had none). */
  subsets?: Subset[];
  /** Service mode: Ramp creates the canary Service (and deletes it afterwards). */
  createsCanaryService?: boolean;
  /** uid of the canary Service Ramp created: its delete carries it as a precondition. */
  canaryServiceUid?: string;
}

/** The router's change ids, in the order they are made. */
const CHANGE = { subsets: 'subsets', canaryService: 'canaryService', routes: 'routes' } as const;

/** The Istio TrafficRouter for one rollout's traffic objects. */
export function createIstioRouter(kube: k8s.KubeConfig, ref: TrafficRef): TrafficRouter {
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const namespace = ref.namespace;
  const traffic: IstioTraffic = ref.traffic;
  const routing = traffic.routing;
  const versionLabel = ref.versions ?? { key: '', stable: '', canary: '' };

  const vsTarget = target('VirtualService', namespace, traffic.virtualService.name, 'spec.traffic.virtualService.name');
  const drTarget: KubeTarget | undefined = routing.mode === 'subset' ? target('DestinationRule', namespace, routing.destinationRule, 'spec.traffic.routing.destinationRule') : undefined;
  const stableSvc = routing.mode === 'service' ? target('Service', namespace, routing.stableService, 'spec.traffic.routing.stableService') : undefined;
  const canarySvc = routing.mode === 'service' ? target('Service', namespace, routing.canaryService, 'spec.traffic.routing.canaryService') : undefined;
  const targetSvc = target('Service', namespace, ref.targetService, 'spec.target.service');

  const plural = (t: KubeTarget) => (t.kind === 'VirtualService' ? 'virtualservices' : 'destinationrules');
  const readCustom = <T>(t: KubeTarget) => custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: plural(t), name: t.name }) as Promise<T>;
  const readService = (t: KubeTarget) => core.readNamespacedService({ namespace, name: t.name }) as Promise<Service>;
  const getVs = () => kubeCall(vsTarget, 'get', () => readCustom<VirtualService>(vsTarget));
  const optionalVs = () => kubeGetOptional(vsTarget, () => readCustom<VirtualService>(vsTarget));
  const optionalDr = () => kubeGetOptional(drTarget!, () => readCustom<DestinationRule>(drTarget!));

  /** One JSON Patch write; the answer is the object as stored. */
  function patch<T>(t: KubeTarget, ops: JsonPatchOp[]): Promise<T> {
    return kubeCall(t, 'patch', () => custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: plural(t), name: t.name, body: ops },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    ) as Promise<T>);
  }

  /** The pure module's "this object does not look as expected" errors, as failures. */
  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TrafficConfigError) throw ApplicationFailure.create({ message: err.message, type: Failure.TrafficChanged });
      if (err instanceof RangeError) throw ApplicationFailure.create({ message: err.message, type: Failure.Invalid });
      throw err;
    }
  }

  function snapshotOf(raw: unknown): IstioSnapshot {
    const s = raw as IstioSnapshot;
    if (s?.routing !== routing.mode) {
      throw ApplicationFailure.create({
        message: `the traffic snapshot was taken in ${String(s?.routing)} mode but spec.traffic.routing.mode is ${routing.mode}; the routing mode cannot change during a rollout`,
        type: Failure.TrafficChanged,
      });
    }
    return s;
  }

  /** The canary weight of every managed route; one value when they agree. */
  function canaryWeightOf(vs: VirtualService): { weights: Weights; agree: boolean; detail: string } {
    const got = readWeights(vs, traffic);
    const first = got[0]!.weights;
    const agree = got.every((g) => g.weights.canary === first.canary && g.weights.stable === first.stable);
    const detail = got.map((g) => `${g.name || 'default'}: stable ${g.weights.stable}, canary ${g.weights.canary}`).join('; ');
    return { weights: first, agree, detail };
  }

  /** Weights of every managed route after a write; NotApplied unless each carries `want`. */
  function verifyWeights(vs: VirtualService, want: Weights): Weights {
    const { weights, agree, detail } = canaryWeightOf(vs);
    if (!agree || weights.canary !== want.canary || weights.stable !== want.stable) {
      throw ApplicationFailure.create({
        message: `${kubeId(vsTarget)} does not carry stable ${want.stable} / canary ${want.canary} after the write (${detail}); something (a GitOps sync, an admission webhook) may be rewriting it`,
        type: Failure.NotApplied,
      });
    }
    return want;
  }

  async function writeWeight(vs: VirtualService, canaryWeight: number): Promise<Weights> {
    const want = { stable: 100 - canaryWeight, canary: canaryWeight };
    const ops = buildSetWeightPatch(vs, traffic, canaryWeight);
    if (ops.length === 0) return verifyWeights(vs, want);
    return verifyWeights(await patch<VirtualService>(vsTarget, ops), want);
  }

  const inspect = async (): Promise<Inspection> => {
    const problems: string[] = [];
    const notFound = (t: KubeTarget) => `${kubeId(t)} not found; create it, or set ${t.field} to an existing ${t.kind}`;
    const vs = await optionalVs();
    if (!vs) problems.push(notFound(vsTarget));
    else problems.push(...inspectVirtualService(vs, traffic));

    const snapshot: IstioSnapshot = { routing: routing.mode, routes: [] };
    const changes: PlannedChange[] = [];
    const managed = traffic.virtualService.routes.length === 0 ? 'the default route' : `route(s) ${traffic.virtualService.routes.join(', ')}`;
    if (drTarget) {
      const dr = await optionalDr();
      if (!dr) problems.push(notFound(drTarget));
      else {
        problems.push(...inspectDestinationRule(dr, traffic, namespace));
        if (dr.spec?.subsets !== undefined) snapshot.subsets = JSON.parse(JSON.stringify(dr.spec.subsets)) as Subset[];
      }
      const r = routing as SubsetRouting;
      changes.push({ id: CHANGE.subsets, when: 'afterCanary', description: `set subsets ${r.stableSubset} (${versionLabel.key}=${versionLabel.stable}) and ${r.canarySubset} (${versionLabel.key}=${versionLabel.canary}) in ${kubeId(drTarget)}` });
    }
    if (stableSvc && canarySvc) {
      const stable = await kubeGetOptional(stableSvc, () => readService(stableSvc));
      if (!stable) problems.push(notFound(stableSvc));
      const canary = await kubeGetOptional(canarySvc, () => readService(canarySvc));
      // A canary Service labelled as Ramp's is a leftover of an earlier rollout: Ramp still owns it.
      snapshot.createsCanaryService = !canary || canary.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
      if (!canary) {
        const target = targetSvc.name === stableSvc.name ? stable : await kubeGetOptional(targetSvc, () => readService(targetSvc));
        if (!target) problems.push(notFound(targetSvc));
        if (stable && target) {
          try {
            buildCanaryService({ name: canarySvc.name, namespace, target, stable, versionLabel });
          } catch (err) {
            if (!(err instanceof TrafficConfigError)) throw err;
            problems.push(...err.problems);
          }
        }
      }
      if (snapshot.createsCanaryService) changes.push({ id: CHANGE.canaryService, when: 'afterCanary', description: `create ${kubeId(canarySvc)} selecting ${versionLabel.key}=${versionLabel.canary}` });
    }
    changes.push({ id: CHANGE.routes, when: 'afterCanary', description: `add the canary at 0 % to ${managed} of ${kubeId(vsTarget)}`, carriesTraffic: true });
    let weights: Weights = { stable: 100, canary: 0 };
    if (vs && problems.length === 0) {
      snapshot.routes = snapshotRoutes(vs, traffic);
      weights = canaryWeightOf(vs).weights;
    }
    return { problems, changes, snapshot, weights };
  };

  const apply = async (raw: unknown, change: string): Promise<{ snapshot: unknown; weights?: Weights }> => {
    const snapshot = snapshotOf(raw);
    switch (change) {
      case CHANGE.subsets: {
        const dr = await kubeCall(drTarget!, 'get', () => readCustom<DestinationRule>(drTarget!));
        const ops = buildSubsetsPatch(dr, ensureSubsets(dr.spec?.subsets, routing as SubsetRouting, versionLabel));
        if (ops.length > 0) await patch(drTarget!, ops);
        return { snapshot };
      }
      case CHANGE.canaryService: {
        const existing = await kubeGetOptional(canarySvc!, () => readService(canarySvc!));
        if (existing) return { snapshot: { ...snapshot, canaryServiceUid: existing.metadata?.uid } };
        const stable = await kubeCall(stableSvc!, 'get', () => readService(stableSvc!));
        const target = targetSvc.name === stableSvc!.name ? stable : await kubeCall(targetSvc, 'get', () => readService(targetSvc));
        const body = buildCanaryService({ name: canarySvc!.name, namespace, target, stable, versionLabel });
        // An earlier attempt whose answer was lost may have created it: the retry finds it above.
        const created = await kubeCall(canarySvc!, 'create', () => core.createNamespacedService({ namespace, body }) as Promise<Service>);
        return { snapshot: { ...snapshot, canaryServiceUid: created.metadata?.uid } };
      }
      case CHANGE.routes:
        return { snapshot, weights: await writeWeight(await getVs(), 0) };
      default:
        throw ApplicationFailure.create({ message: `the Istio router has no change "${change}"`, type: Failure.Invalid });
    }
  };

  const setWeight = async (raw: unknown, input: SetWeightInput): Promise<SetWeightResult> => {
    snapshotOf(raw);
    assertWeight(input.weight);
    const vs = await getVs();
    const now = canaryWeightOf(vs);
    if (!input.force) {
      const seen = now.agree ? checkDrift(now.weights.canary, input.expected, input.weight) : 'drift';
      if (seen === 'drift') {
        return { applied: false, found: now.weights, detail: `${kubeId(vsTarget)} ${now.detail}, where Ramp set canary ${input.expected}` };
      }
    }
    return { applied: true, weights: await writeWeight(vs, input.weight) };
  };

  const undo = async (raw: unknown, change: string): Promise<'undone' | 'absent'> => {
    const snapshot = snapshotOf(raw);
    switch (change) {
      case CHANGE.routes: {
        const vs = await optionalVs();
        if (!vs) return 'absent';
        const { ops, missing } = buildRestoreRoutesPatch(vs, snapshot.routes);
        if (ops.length > 0) {
          const after = await patch<VirtualService>(vsTarget, ops);
          if (buildRestoreRoutesPatch(after, snapshot.routes).ops.length > 0) {
            throw ApplicationFailure.create({ message: `${kubeId(vsTarget)} managed routes differ from the snapshot after the write; something may be rewriting it`, type: Failure.NotApplied });
          }
        }
        return missing.length === snapshot.routes.length ? 'absent' : 'undone';
      }
      case CHANGE.subsets: {
        // Removing a subset that still gets traffic would fail those requests (503s).
        const vs = await optionalVs();
        const routed = vs ? routesToCanary(vs, traffic) : [];
        if (routed.length > 0) {
          throw ApplicationFailure.create({
            message: `${kubeId(vsTarget)} HTTP route(s) ${routed.join(', ')} still send traffic to the canary subset; restore the routes first`,
            type: Failure.CanaryStillRouted,
          });
        }
        const dr = await optionalDr();
        if (!dr) return 'absent';
        const ops = buildSubsetsPatch(dr, restoreSubsets(dr.spec?.subsets, snapshot.subsets, routing as SubsetRouting));
        if (ops.length > 0) await patch(drTarget!, ops);
        return 'undone';
      }
      case CHANGE.canaryService: {
        const vs = await optionalVs();
        const routed = vs ? routesToCanary(vs, traffic) : [];
        if (routed.length > 0) {
          throw ApplicationFailure.create({
            message: `${kubeId(vsTarget)} HTTP route(s) ${routed.join(', ')} still send traffic to ${kubeId(canarySvc!)}; restore the routes first`,
            type: Failure.CanaryStillRouted,
          });
        }
        const svc = await kubeGetOptional(canarySvc!, () => readService(canarySvc!));
        if (!svc) return 'absent';
        const uid = svc.metadata?.uid;
        // Someone replaced it with a Service of their own: not Ramp's to delete.
        if (svc.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY || (snapshot.canaryServiceUid !== undefined && uid !== snapshot.canaryServiceUid)) return 'absent';
        return kubeDelete(canarySvc!, () => core.deleteNamespacedService({ namespace, name: canarySvc!.name, body: { preconditions: { uid } } })).then((r) => (r === 'deleted' ? 'undone' : 'absent'));
      }
      default:
        throw ApplicationFailure.create({ message: `the Istio router has no change "${change}"`, type: Failure.Invalid });
    }
  };

  return {
    writes: 'local',
    inspect: () => guarded(inspect),
    apply: (snapshot, change) => guarded(() => apply(snapshot, change)),
    setWeight: (snapshot, input) => guarded(() => setWeight(snapshot, input)),
    undo: (snapshot, change) => guarded(() => undo(snapshot, change)),
    promote: (snapshot) => guarded(() => Promise.resolve({ snapshot: snapshotOf(snapshot) })),
  };
}

