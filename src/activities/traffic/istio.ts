/**
 * The Istio traffic router: shifts traffic between stable and canary in the managed HTTP routes of
 * a VirtualService (networking.istio.io/v1), using DestinationRule subsets or separate Services.
 * It takes clusters as the guides shape them: no DestinationRule (it creates one for the rollout),
 * a route to a plain host (it points it at the stable subset), hosts in any form Istio resolves,
 * unnamed routes, and Services that select every pod of the app (it narrows them for the rollout).
 * Every change is computed by src/domain/traffic/istio.ts and written as one JSON Patch guarded by
 * the resourceVersion that was read, so a concurrent edit fails the write (the retry reads again)
 * instead of being lost; every change is put back exactly from the snapshot afterwards. Routing
 * features are entries named `ramp-*` in front of the managed routes (header routes, sticky
 * sessions) or fields on them (the mirror), each written and taken back the same way.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { RouteFeature, SetWeightInput, SetWeightResult, TrafficRefOf, Weights } from '../../domain/rollout/calls';
import type { PlannedChange, Versions } from '../../domain/rollout/model';
import type { IstioTraffic } from '../../domain/spec/schema';
import {
  buildDestinationRule, buildRemoveFeaturePatch, buildRestoreRoutesPatch, buildSetFeaturePatch, buildSetWeightPatch, buildSubsetsPatch, DestinationRule,
  ensureSubsets, hostProblems, inspectVirtualService, managedRoutesInWords, IstioContext, planDestinationRule,
  promotionSubsets, readWeights, rebaseSubsets, restoreSubsets, routesToCanary, SnapshotRoute, snapshotRoutes, Subset, SubsetRouting,
  VirtualService,
} from '../../domain/traffic/istio';
import { assertWeight, JsonPatchOp } from '../../domain/traffic/objects';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../domain/traffic/services';
import { Failure } from '../../shared/failures';
import { kubeId, KubeTarget, target } from '../kube-errors';
import { createClusterStore } from '../store/cluster';
import { APIS, ObjectRef, objectRef, ObjectStore, WriteNote } from '../store/store';
import type { Inspection, TrafficRouter } from './router';
import { createServiceRouting, isServiceChange, readStableTemplate, ServiceSnapshot } from './services';
import { driftFound, splitOf, verifySplit, withFailures } from './weights';

/** What the Istio router keeps to put things back exactly. */
export interface IstioSnapshot extends ServiceSnapshot {
  routing: 'subset' | 'service';
  /** Each managed HTTP route, by its selector key, as it was. */
  routes: SnapshotRoute[];
  /** Subset mode: the DestinationRule used, whether Ramp creates it, its uid once created, and its subsets as they were. */
  destinationRule?: string;
  createsDestinationRule?: boolean;
  destinationRuleUid?: string;
  subsets?: Subset[];
  /** Sticky sessions once set: every weight written afterwards keeps the cookie on the canary entries. */
  sticky?: { cookie: string; maxAgeSeconds: number };
  // Service mode: the ServiceSnapshot fields.
}

/** The router's change ids. */
const CHANGE = { subsets: 'subsets', routes: 'routes' } as const;

/**
 * The Istio TrafficRouter for one rollout's traffic objects. The store decides where its objects are
 * read and written: the cluster (default), or git files for a GitOps rollout.
 */
export function createIstioRouter(kube: k8s.KubeConfig, ref: TrafficRefOf<IstioTraffic>, store: ObjectStore = createClusterStore(kube)): TrafficRouter {
  const namespace = ref.namespace;
  const traffic: IstioTraffic = ref.traffic;
  const routing = traffic.routing;
  const c: IstioContext = { traffic, namespace };
  const versions: Versions = ref.versions ?? { key: 'version', stable: '', canary: '', stablePinned: false };

  const vsTarget = target('VirtualService', namespace, traffic.virtualService.name, 'spec.traffic.virtualService.name');
  const drTarget = (name: string) => target('DestinationRule', namespace, name, 'spec.traffic.routing.destinationRule');
  const services = routing.mode === 'service' ? createServiceRouting(kube, ref, routing, refuseWhileRouted) : undefined;

  const refOf = (t: KubeTarget): ObjectRef => objectRef(t.kind === 'VirtualService' ? APIS.VirtualService : APIS.DestinationRule, t);
  const vsRef = refOf(vsTarget);
  const drRef = (name: string) => refOf(drTarget(name));
  const optionalVs = () => store.get<VirtualService>(vsRef);
  const optionalDr = (name: string) => store.get<DestinationRule>(drRef(name));
  /** An object the step needs: absent is a NotFound failure naming the spec field. */
  function required<T>(t: KubeTarget, found: T | undefined): T {
    if (found !== undefined) return found;
    throw ApplicationFailure.create({ message: `${kubeId(t)} not found — create it, or set ${t.field} to an existing ${t.kind}`, type: Failure.NotFound });
  }
  const getVs = async () => required(vsTarget, await optionalVs());

  /** One JSON Patch write on an Istio object; the answer is the object as stored. */
  function patch<T>(t: KubeTarget, ops: JsonPatchOp[], note: WriteNote): Promise<T> {
    return store.patch<T>(refOf(t), ops, note);
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
  const weightsOf = (vs: VirtualService) => splitOf(readWeights(vs, c));
  /** Weights of every managed route after a write; NotApplied unless each carries `want`. */
  const verifyWeights = (vs: VirtualService, want: Weights) => verifySplit(kubeId(vsTarget), weightsOf(vs), want);

  /** The context a snapshot's writes use: with sticky sessions when they are set. */
  const contextOf = (snapshot: IstioSnapshot): IstioContext => (snapshot.sticky ? { ...c, sticky: { ...snapshot.sticky, value: versions.canary } } : c);

  async function writeWeight(vs: VirtualService, canaryWeight: number, snapshot: IstioSnapshot, note: WriteNote): Promise<Weights> {
    const want = { stable: 100 - canaryWeight, canary: canaryWeight };
    const ops = buildSetWeightPatch(vs, contextOf(snapshot), canaryWeight);
    if (ops.length === 0) return verifyWeights(vs, want);
    return verifyWeights(await patch<VirtualService>(vsTarget, ops, { ...note, weights: want }), want);
  }

  const inspect = async (): Promise<Inspection> => {
    const problems: string[] = [...hostProblems(c)];
    const notFound = (t: KubeTarget) => `${kubeId(t)} not found; create it, or set ${t.field} to an existing ${t.kind}`;
    const vs = await optionalVs();
    if (!vs) problems.push(notFound(vsTarget));
    else problems.push(...inspectVirtualService(vs, c));

    const snapshot: IstioSnapshot = { routing: routing.mode, routes: [] };
    const changes: PlannedChange[] = [];
    const managed = managedRoutesInWords(traffic.virtualService.routes);
    const stable = await readStableTemplate(kube, ref);
    const key = versions.key;

    if (routing.mode === 'subset') {
      const r = routing;
      if (versions.stable === '' && stable) {
        problems.push(`Deployment ${namespace}/${ref.stableDeployment}: its pods carry no "${key}" label, so no subset can select them; add one to its pod template (a rolling restart of the stable): \`kubectl -n ${namespace} patch deployment ${ref.stableDeployment} --type merge -p '{"spec":{"template":{"metadata":{"labels":{"${key}":"<its version>"}}}}}'\`, or use service routing`);
      }
      const rules = await store.list<DestinationRule>(drRef('(list)'));
      const plan = planDestinationRule(rules, c, ref.rollout);
      const subsets = `${r.stableSubset} (${key}=${versions.stable}) and ${r.canarySubset} (${key}=${versions.canary})`;
      if (plan.kind === 'problem') problems.push(plan.problem);
      else if (plan.kind === 'create') {
        snapshot.destinationRule = plan.name;
        snapshot.createsDestinationRule = true;
        changes.push({ id: CHANGE.subsets, when: 'afterCanary', description: `create DestinationRule ${namespace}/${plan.name} for host ${traffic.host} with subsets ${subsets}` });
      } else {
        snapshot.destinationRule = plan.rule.metadata!.name!;
        if (plan.rule.spec?.subsets !== undefined) snapshot.subsets = JSON.parse(JSON.stringify(plan.rule.spec.subsets)) as Subset[];
        changes.push({ id: CHANGE.subsets, when: 'afterCanary', description: `set subsets ${subsets} in DestinationRule ${namespace}/${snapshot.destinationRule}` });
      }
    } else {
      Object.assign(snapshot, await services!.inspect(stable, problems, changes));
    }
    changes.push({ id: CHANGE.routes, when: 'afterCanary', description: `add the canary at 0 % to ${managed} of ${kubeId(vsTarget)}`, carriesTraffic: true });
    let weights: Weights = { stable: 100, canary: 0 };
    if (vs && problems.length === 0) {
      snapshot.routes = snapshotRoutes(vs, c);
      weights = weightsOf(vs).weights;
    }
    return { problems, changes, snapshot, weights };
  };

  const apply = async (raw: unknown, change: string): Promise<{ snapshot: unknown; weights?: Weights }> => {
    const snapshot = snapshotOf(raw);
    if (services && isServiceChange(change)) return { snapshot: await services.apply(snapshot, change) };
    switch (change) {
      case CHANGE.subsets: {
        const name = snapshot.destinationRule!;
        const existing = await optionalDr(name);
        if (snapshot.createsDestinationRule) {
          if (existing) return { snapshot: { ...snapshot, destinationRuleUid: existing.metadata?.uid } };
          const body = buildDestinationRule(name, c, versions);
          // An earlier attempt whose answer was lost may have created it: the retry finds it above.
          const created = await store.create<DestinationRule>(drRef(name), body, { action: 'prepare' });
          return { snapshot: { ...snapshot, destinationRuleUid: created.metadata?.uid } };
        }
        const dr = required(drTarget(name), existing);
        const ops = buildSubsetsPatch(dr, ensureSubsets(dr.spec?.subsets, routing as SubsetRouting, versions));
        if (ops.length > 0) await patch(drTarget(name), ops, { action: 'prepare', reason: 'add the canary subset' });
        return { snapshot };
      }
      case CHANGE.routes:
        return { snapshot, weights: await writeWeight(await getVs(), 0, snapshot, { action: 'prepare', reason: 'add the canary at 0 %' }) };
      default:
        throw ApplicationFailure.create({ message: `the Istio router has no change "${change}"`, type: Failure.Invalid });
    }
  };

  const setWeight = async (raw: unknown, input: SetWeightInput): Promise<SetWeightResult> => {
    const snapshot = snapshotOf(raw);
    assertWeight(input.weight);
    const vs = await getVs();
    const drift = driftFound(kubeId(vsTarget), weightsOf(vs), input, 'routes');
    if (drift && !drift.applied) {
      const who = await store.blame(vsRef);
      return who ? { ...drift, detail: `${drift.detail}; ${who}` } : drift;
    }
    const step = input.step === undefined ? {} : { step: { index: input.step, kind: 'setWeight' } };
    return { applied: true, weights: await writeWeight(vs, input.weight, snapshot, { action: 'setWeight', ...step }) };
  };

  /** Removing a destination that still gets traffic would fail those requests (503s). */
  async function refuseWhileRouted(what: string): Promise<void> {
    const vs = await optionalVs();
    const routed = vs ? routesToCanary(vs, c) : [];
    if (routed.length > 0) {
      throw ApplicationFailure.create({ message: `${kubeId(vsTarget)} HTTP route(s) ${routed.join(', ')} still send traffic to ${what}; restore the routes first`, type: Failure.CanaryStillRouted });
    }
  }

  const undo = async (raw: unknown, change: string): Promise<'undone' | 'absent'> => {
    const snapshot = snapshotOf(raw);
    if (services && isServiceChange(change)) return services.undo(snapshot, change);
    if (change.startsWith('header:')) return undoFeature(snapshot, change);
    switch (change) {
      case CHANGE.routes: {
        const vs = await optionalVs();
        if (!vs) return 'absent';
        const { ops, missing } = buildRestoreRoutesPatch(vs, snapshot.routes);
        if (ops.length > 0) {
          const after = await patch<VirtualService>(vsTarget, ops, { action: 'cleanup-route', weights: { stable: 100, canary: 0 }, reason: 'restore the managed routes as they were before the rollout' });
          if (buildRestoreRoutesPatch(after, snapshot.routes).ops.length > 0) {
            throw ApplicationFailure.create({ message: `${kubeId(vsTarget)} managed routes differ from the snapshot after the write; something may be rewriting it`, type: Failure.NotApplied });
          }
        }
        return missing.length === snapshot.routes.length ? 'absent' : 'undone';
      }
      case 'mirror': case 'sticky':
        return undoFeature(snapshot, change);
      case CHANGE.subsets: {
        await refuseWhileRouted('the canary subset');
        const name = snapshot.destinationRule!;
        const dr = await optionalDr(name);
        if (!dr) return 'absent';
        if (snapshot.createsDestinationRule) {
          // Only the rule Ramp created (by uid): one someone else put in its place stays.
          if (dr.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY || (snapshot.destinationRuleUid !== undefined && dr.metadata?.uid !== snapshot.destinationRuleUid)) return 'absent';
          return store.delete(drRef(name), dr.metadata?.uid, { action: 'cleanup-subset', reason: 'remove the DestinationRule Ramp created' })
            .then((d) => (d === 'deleted' ? 'undone' : 'absent'));
        }
        const ops = buildSubsetsPatch(dr, restoreSubsets(dr.spec?.subsets, snapshot.subsets, routing as SubsetRouting));
        if (ops.length > 0) await patch(drTarget(name), ops, { action: 'cleanup-subset', reason: 'remove the canary subset' });
        return 'undone';
      }
      default:
        throw ApplicationFailure.create({ message: `the Istio router has no change "${change}"`, type: Failure.Invalid });
    }
  };

  /**
   * Promotion (docs/decisions/0015). A stable whose selector pins the version key keeps its pods'
   * value: nothing to do. Otherwise its pods change value as it rolls, so the stable destination
   * must not select by version while it does (`begin`), and selects the new value once it is
   * Available (`end`); the snapshot is rebased so the cleanup keeps it so.
   */
  const promote = async (raw: unknown, stage: 'begin' | 'end'): Promise<{ snapshot: unknown }> => {
    const snapshot = snapshotOf(raw);
    // A stable Deployment in git keeps its version label at promotion (gitPromotedStableTemplate):
    // its destination keeps selecting it, as when the label is pinned.
    if (versions.stablePinned || store.inGit({ kind: 'Deployment', name: ref.stableDeployment })) return { snapshot };
    if (routing.mode === 'subset') {
      const name = snapshot.destinationRule!;
      const dr = required(drTarget(name), await optionalDr(name));
      const ops = buildSubsetsPatch(dr, promotionSubsets(dr.spec?.subsets, routing, versions, stage));
      if (ops.length > 0) await patch(drTarget(name), ops, { action: 'promote', reason: stage === 'begin' ? 'the stable subset stops selecting by version while the stable rolls' : 'the stable subset selects the new version' });
      return { snapshot: stage === 'end' ? { ...snapshot, subsets: rebaseSubsets(snapshot.subsets, routing, versions) } : snapshot };
    }
    return { snapshot: await services!.promote(snapshot, stage) };
  };

  /** After a feature write, the VirtualService must carry it: a second patch computed from the answer must be empty. */
  function verifyFeature(after: VirtualService, rest: JsonPatchOp[], what: string): void {
    if (rest.length > 0) {
      throw ApplicationFailure.create({ message: `${kubeId(vsTarget)} does not carry ${what} after the write; something may be rewriting it`, type: Failure.NotApplied });
    }
  }

  const setFeature = async (raw: unknown, feature: RouteFeature): Promise<{ snapshot: unknown }> => {
    const snapshot = snapshotOf(raw);
    const next: IstioSnapshot = feature.kind === 'sticky' ? { ...snapshot, sticky: { cookie: feature.cookie, maxAgeSeconds: feature.maxAgeSeconds } } : snapshot;
    const ctx = contextOf(next);
    const what = `${feature.kind === 'header' ? `header route ${feature.name}` : feature.kind}`;
    const vs = await getVs();
    const ops = buildSetFeaturePatch(vs, ctx, feature);
    if (ops.length > 0) {
      const after = await patch<VirtualService>(vsTarget, ops, { action: 'setWeight', reason: `set ${what}` });
      verifyFeature(after, buildSetFeaturePatch(after, ctx, feature), what);
    }
    return { snapshot: next };
  };

  /** Takes a feature back; a VirtualService that is gone has nothing left to undo. */
  async function undoFeature(snapshot: IstioSnapshot, change: string): Promise<'undone' | 'absent'> {
    const vs = await optionalVs();
    if (!vs) return 'absent';
    const ctx = contextOf(snapshot);
    const ops = buildRemoveFeaturePatch(vs, ctx, change, snapshot.routes);
    if (ops.length === 0) return 'undone';
    const after = await patch<VirtualService>(vsTarget, ops, { action: 'cleanup-route', reason: `remove ${change}` });
    verifyFeature(after, buildRemoveFeaturePatch(after, ctx, change, snapshot.routes), `the undo of ${change}`);
    return 'undone';
  }

  return withFailures({ writes: store.inGit(vsRef) ? 'slow' : 'local', inspect, apply, setWeight, undo, promote, setFeature });
}
