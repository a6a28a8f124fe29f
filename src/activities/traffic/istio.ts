/**
 * The Istio traffic router: shifts traffic between stable and canary in the managed HTTP routes of
 * a VirtualService (networking.istio.io/v1), using DestinationRule subsets or separate Services.
 * It takes clusters as the guides shape them: no DestinationRule (it creates one for the rollout),
 * a route to a plain host (it points it at the stable subset), hosts in any form Istio resolves,
 * unnamed routes, and Services that select every pod of the app (it narrows them for the rollout).
 * Every change is computed by src/domain/traffic/istio.ts and written as one JSON Patch guarded by
 * the resourceVersion that was read, so a concurrent edit fails the write (the retry reads again)
 * instead of being lost; every change is put back exactly from the snapshot afterwards.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { SetWeightInput, SetWeightResult, TrafficRefOf, Weights } from '../../domain/rollout/calls';
import type { PlannedChange, Versions } from '../../domain/rollout/model';
import type { IstioTraffic } from '../../domain/spec/schema';
import { checkDrift } from '../../domain/traffic/drift';
import {
  assertWeight, buildCanaryService, buildDestinationRule, buildRestoreRoutesPatch, buildSelectorPatch, buildSetWeightPatch, buildSubsetsPatch, DestinationRule,
  ensureSubsets, hostProblems, inspectVirtualService, managedRoutesInWords, IstioContext, JsonPatchOp, MANAGED_BY, MANAGED_BY_LABEL, planDestinationRule, planServicePins, POD_TEMPLATE_HASH,
  promotionSubsets, readWeights, rebaseSubsets, restoreSubsets, routesToCanary, Service, ServiceRouting, SnapshotRoute, snapshotRoutes, Subset, SubsetRouting, TrafficConfigError,
  VirtualService,
} from '../../domain/traffic/istio';
import type { DeploymentLike } from '../../domain/workload/canary';
import { deploymentReadiness } from '../../domain/workload/canary';
import { Failure } from '../../shared/failures';
import { kubeCall, kubeDelete, kubeGetOptional, kubeId, KubeTarget, target } from '../kube-errors';
import type { Inspection, TrafficRouter } from './router';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;

/** What the Istio router keeps to put things back exactly. */
export interface IstioSnapshot {
  routing: 'subset' | 'service';
  /** Each managed HTTP route, by its selector key, as it was. */
  routes: SnapshotRoute[];
  /** Subset mode: the DestinationRule used, whether Ramp creates it, its uid once created, and its subsets as they were. */
  destinationRule?: string;
  createsDestinationRule?: boolean;
  destinationRuleUid?: string;
  subsets?: Subset[];
  /** Service mode: the Services' selectors as they were, and during the rollout (when Ramp narrows them). */
  stableSelector?: Record<string, string>;
  stablePin?: Record<string, string>;
  canarySelector?: Record<string, string>;
  canaryPin?: Record<string, string>;
  /** Service mode: Ramp creates the canary Service (and deletes it afterwards), and its uid once created. */
  createsCanaryService?: boolean;
  canaryServiceUid?: string;
}

/** The router's change ids. */
const CHANGE = { subsets: 'subsets', pinStable: 'pinStable', pinCanary: 'pinCanary', canaryService: 'canaryService', routes: 'routes' } as const;

/** The Istio TrafficRouter for one rollout's traffic objects. */
export function createIstioRouter(kube: k8s.KubeConfig, ref: TrafficRefOf<IstioTraffic>): TrafficRouter {
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const apps = kube.makeApiClient(k8s.AppsV1Api);
  const namespace = ref.namespace;
  const traffic: IstioTraffic = ref.traffic;
  const routing = traffic.routing;
  const c: IstioContext = { traffic, namespace };
  const versions: Versions = ref.versions ?? { key: 'version', stable: '', canary: '', stablePinned: false };

  const vsTarget = target('VirtualService', namespace, traffic.virtualService.name, 'spec.traffic.virtualService.name');
  const drTarget = (name: string) => target('DestinationRule', namespace, name, 'spec.traffic.routing.destinationRule');
  const svcRouting = routing.mode === 'service' ? routing : undefined;
  const stableSvc = svcRouting && target('Service', namespace, svcRouting.stableService, 'spec.traffic.routing.stableService');
  const canarySvc = svcRouting && target('Service', namespace, svcRouting.canaryService, 'spec.traffic.routing.canaryService');
  const targetSvc = target('Service', namespace, ref.targetService, 'spec.target.service');

  const plural = (t: KubeTarget) => (t.kind === 'VirtualService' ? 'virtualservices' : 'destinationrules');
  const readCustom = <T>(t: KubeTarget) => custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: plural(t), name: t.name }) as Promise<T>;
  const readService = (t: KubeTarget) => core.readNamespacedService({ namespace, name: t.name }) as Promise<Service>;
  const getVs = () => kubeCall(vsTarget, 'get', () => readCustom<VirtualService>(vsTarget));
  const optionalVs = () => kubeGetOptional(vsTarget, () => readCustom<VirtualService>(vsTarget));
  const optionalDr = (name: string) => kubeGetOptional(drTarget(name), () => readCustom<DestinationRule>(drTarget(name)));
  const optionalService = (t: KubeTarget) => kubeGetOptional(t, () => readService(t));

  /** One JSON Patch write on an Istio object; the answer is the object as stored. */
  function patch<T>(t: KubeTarget, ops: JsonPatchOp[]): Promise<T> {
    return kubeCall(t, 'patch', () => custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: plural(t), name: t.name, body: ops },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    ) as Promise<T>);
  }

  /** Sets a Service's selector in one guarded write (nothing when it already is). */
  async function setSelector(t: KubeTarget, selector: Record<string, string>): Promise<'undone' | 'absent'> {
    const svc = await optionalService(t);
    if (!svc) return 'absent';
    const ops = buildSelectorPatch(svc, selector);
    if (ops.length > 0) {
      await kubeCall(t, 'patch', () => core.patchNamespacedService({ namespace, name: t.name, body: ops }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch)));
    }
    return 'undone';
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
  function weightsOf(vs: VirtualService): { weights: Weights; agree: boolean; detail: string } {
    const got = readWeights(vs, c);
    const first = got[0]!.weights;
    const agree = got.every((g) => g.weights.canary === first.canary && g.weights.stable === first.stable);
    const detail = got.map((g) => `${g.name}: stable ${g.weights.stable}, canary ${g.weights.canary}`).join('; ');
    return { weights: first, agree, detail };
  }

  /** Weights of every managed route after a write; NotApplied unless each carries `want`. */
  function verifyWeights(vs: VirtualService, want: Weights): Weights {
    const { weights, agree, detail } = weightsOf(vs);
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
    const ops = buildSetWeightPatch(vs, c, canaryWeight);
    if (ops.length === 0) return verifyWeights(vs, want);
    return verifyWeights(await patch<VirtualService>(vsTarget, ops), want);
  }

  /** The stable Deployment's pod-template labels (undefined when it does not exist: the workload preflight reports that). */
  async function stableTemplate(): Promise<{ d: DeploymentLike; labels: Record<string, string> } | undefined> {
    const dt = target('Deployment', namespace, ref.stableDeployment, 'spec.target.deployment');
    const d = await kubeGetOptional(dt, () => apps.readNamespacedDeployment({ namespace, name: ref.stableDeployment }) as Promise<DeploymentLike>);
    return d ? { d, labels: d.spec?.template.metadata?.labels ?? {} } : undefined;
  }

  /** The pod-template-hash of the stable's one current ReplicaSet, which tells its pods from the canary's; a problem when it cannot. */
  async function stableHash(d: DeploymentLike, problems: string[]): Promise<string | undefined> {
    const ready = deploymentReadiness(d);
    if (ready.state !== 'ready') {
      problems.push(`${ready.message}: the stable Deployment is still rolling out, so its pods cannot be told from the canary's by ReplicaSet; wait for \`kubectl -n ${namespace} rollout status deployment/${ref.stableDeployment}\` to finish`);
      return undefined;
    }
    const rsTarget = target('ReplicaSet', namespace, `(of ${ref.stableDeployment})`);
    const sets = await kubeCall(rsTarget, 'list', () => apps.listNamespacedReplicaSet({ namespace }));
    const revision = d.metadata?.annotations?.['deployment.kubernetes.io/revision'];
    const current = sets.items.find((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid && o.controller)
      && rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] === revision);
    const hash = current?.metadata?.labels?.[POD_TEMPLATE_HASH];
    if (!hash) problems.push(`Deployment ${namespace}/${ref.stableDeployment}: its current ReplicaSet (revision ${revision ?? '?'}) was not found, so its pods cannot be told from the canary's; check \`kubectl -n ${namespace} get rs\``);
    return hash;
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
    const stable = await stableTemplate();
    const key = versions.key;

    if (routing.mode === 'subset') {
      const r = routing;
      if (versions.stable === '' && stable) {
        problems.push(`Deployment ${namespace}/${ref.stableDeployment}: its pods carry no "${key}" label, so no subset can select them; add one to its pod template (a rolling restart of the stable): \`kubectl -n ${namespace} patch deployment ${ref.stableDeployment} --type merge -p '{"spec":{"template":{"metadata":{"labels":{"${key}":"<its version>"}}}}}'\`, or use service routing`);
      }
      const rules = await kubeCall(drTarget('(list)'), 'list', () => custom.listNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules' }) as Promise<{ items: DestinationRule[] }>);
      const plan = planDestinationRule(rules.items, c, ref.rollout);
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
      const r: ServiceRouting = routing;
      const stableService = await optionalService(stableSvc!);
      if (!stableService) problems.push(notFound(stableSvc!));
      const canary = await optionalService(canarySvc!);
      // A canary Service labelled as Ramp's is a leftover of an earlier rollout: Ramp still owns it.
      const ours = canary?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
      snapshot.createsCanaryService = !canary || ours;
      if (stableService) snapshot.stableSelector = stableService.spec?.selector;
      if (canary && !ours) snapshot.canarySelector = canary.spec?.selector;
      if (stableService && stable) {
        // The hash is only needed (and the stable only needs to be fully rolled out) when the stable
        // Service would select the canary's pods.
        const plan = (hash: string) => planServicePins({
          namespace, stable: { name: r.stableService, selector: stableService.spec?.selector }, ...(canary && !ours ? { canary: { name: r.canaryService, selector: canary.spec?.selector } } : {}),
          stablePods: { ...stable.labels, [POD_TEMPLATE_HASH]: hash }, canaryPods: { ...stable.labels, [key]: versions.canary }, versions, stableHash: hash,
        });
        let pins = plan('(current)');
        if (pins.stable) {
          const hash = await stableHash(stable.d, problems);
          pins = hash ? plan(hash) : { ...pins, stable: undefined };
        }
        problems.push(...pins.problems);
        if (pins.stable) {
          snapshot.stablePin = pins.stable;
          changes.push({ id: CHANGE.pinStable, when: 'beforeCanary', description: `narrow Service ${namespace}/${r.stableService} to the stable's pods for the rollout (selector ${JSON.stringify(pins.stable)})` });
        }
        if (pins.canary) {
          snapshot.canaryPin = pins.canary;
          changes.push({ id: CHANGE.pinCanary, when: 'beforeCanary', description: `narrow Service ${namespace}/${r.canaryService} to the canary's pods for the rollout (selector ${JSON.stringify(pins.canary)})` });
        }
      }
      if (!canary) {
        const target = targetSvc.name === stableSvc!.name ? stableService : await optionalService(targetSvc);
        if (!target) problems.push(notFound(targetSvc));
        if (stableService && target) {
          try {
            buildCanaryService({ name: r.canaryService, namespace, target, stableSelector: stableService.spec?.selector, stableName: r.stableService, versions });
          } catch (err) {
            if (!(err instanceof TrafficConfigError)) throw err;
            problems.push(...err.problems);
          }
        }
      }
      if (snapshot.createsCanaryService) {
        changes.push({ id: CHANGE.canaryService, when: 'afterCanary', description: `create Service ${namespace}/${r.canaryService} selecting the canary's pods (${key}=${versions.canary})` });
      }
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
    switch (change) {
      case CHANGE.subsets: {
        const name = snapshot.destinationRule!;
        const existing = await optionalDr(name);
        if (snapshot.createsDestinationRule) {
          if (existing) return { snapshot: { ...snapshot, destinationRuleUid: existing.metadata?.uid } };
          const body = buildDestinationRule(name, c, versions);
          // An earlier attempt whose answer was lost may have created it: the retry finds it above.
          const created = await kubeCall(drTarget(name), 'create', () => custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', body }) as Promise<DestinationRule>);
          return { snapshot: { ...snapshot, destinationRuleUid: created.metadata?.uid } };
        }
        const dr = existing ?? await kubeCall(drTarget(name), 'get', () => readCustom<DestinationRule>(drTarget(name)));
        const ops = buildSubsetsPatch(dr, ensureSubsets(dr.spec?.subsets, routing as SubsetRouting, versions));
        if (ops.length > 0) await patch(drTarget(name), ops);
        return { snapshot };
      }
      case CHANGE.pinStable:
        await setSelector(stableSvc!, snapshot.stablePin!);
        return { snapshot };
      case CHANGE.pinCanary:
        await setSelector(canarySvc!, snapshot.canaryPin!);
        return { snapshot };
      case CHANGE.canaryService: {
        const existing = await optionalService(canarySvc!);
        if (existing) return { snapshot: { ...snapshot, canaryServiceUid: existing.metadata?.uid } };
        const stable = await kubeCall(stableSvc!, 'get', () => readService(stableSvc!));
        const target = targetSvc.name === stableSvc!.name ? stable : await kubeCall(targetSvc, 'get', () => readService(targetSvc));
        const body = buildCanaryService({ name: canarySvc!.name, namespace, target, stableSelector: snapshot.stableSelector, stableName: stableSvc!.name, versions });
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
    const now = weightsOf(vs);
    if (!input.force) {
      const seen = now.agree ? checkDrift(now.weights.canary, input.expected, input.weight, input.ahead) : 'drift';
      if (seen === 'drift') {
        const found = now.agree ? `canary weight is ${now.weights.canary}%` : 'the managed routes disagree';
        return { applied: false, found: now.weights, detail: `${kubeId(vsTarget)} (${now.detail}): ${found}, Ramp set ${input.expected}%` };
      }
    }
    return { applied: true, weights: await writeWeight(vs, input.weight) };
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
        await refuseWhileRouted('the canary subset');
        const name = snapshot.destinationRule!;
        const dr = await optionalDr(name);
        if (!dr) return 'absent';
        if (snapshot.createsDestinationRule) {
          // Only the rule Ramp created (by uid): one someone else put in its place stays.
          if (dr.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY || (snapshot.destinationRuleUid !== undefined && dr.metadata?.uid !== snapshot.destinationRuleUid)) return 'absent';
          return kubeDelete(drTarget(name), () => custom.deleteNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', name, body: { preconditions: { uid: dr.metadata!.uid! } } }))
            .then((d) => (d === 'deleted' ? 'undone' : 'absent'));
        }
        const ops = buildSubsetsPatch(dr, restoreSubsets(dr.spec?.subsets, snapshot.subsets, routing as SubsetRouting));
        if (ops.length > 0) await patch(drTarget(name), ops);
        return 'undone';
      }
      case CHANGE.pinStable:
        return setSelector(stableSvc!, snapshot.stableSelector!);
      case CHANGE.pinCanary:
        return setSelector(canarySvc!, snapshot.canarySelector!);
      case CHANGE.canaryService: {
        await refuseWhileRouted(kubeId(canarySvc!));
        const svc = await optionalService(canarySvc!);
        if (!svc) return 'absent';
        const uid = svc.metadata?.uid;
        // Someone replaced it with a Service of their own: not Ramp's to delete.
        if (svc.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY || (snapshot.canaryServiceUid !== undefined && uid !== snapshot.canaryServiceUid)) return 'absent';
        return kubeDelete(canarySvc!, () => core.deleteNamespacedService({ namespace, name: canarySvc!.name, body: { preconditions: { uid } } })).then((d) => (d === 'deleted' ? 'undone' : 'absent'));
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
    if (versions.stablePinned) return { snapshot };
    if (routing.mode === 'subset') {
      const name = snapshot.destinationRule!;
      const dr = await kubeCall(drTarget(name), 'get', () => readCustom<DestinationRule>(drTarget(name)));
      const ops = buildSubsetsPatch(dr, promotionSubsets(dr.spec?.subsets, routing, versions, stage));
      if (ops.length > 0) await patch(drTarget(name), ops);
      return { snapshot: stage === 'end' ? { ...snapshot, subsets: rebaseSubsets(snapshot.subsets, routing, versions) } : snapshot };
    }
    // Service routing: the stable Service follows the stable's pods through the roll.
    const original = snapshot.stableSelector ?? {};
    const during = Object.fromEntries(Object.entries(original).filter(([k]) => k !== versions.key && k !== POD_TEMPLATE_HASH));
    const after = versions.key in original ? { ...original, [versions.key]: versions.canary } : original;
    await setSelector(stableSvc!, stage === 'begin' ? during : after);
    return { snapshot: stage === 'end' ? { ...snapshot, stableSelector: after } : snapshot };
  };

  return {
    writes: 'local',
    inspect: () => guarded(inspect),
    apply: (snapshot, change) => guarded(() => apply(snapshot, change)),
    setWeight: (snapshot, input) => guarded(() => setWeight(snapshot, input)),
    undo: (snapshot, change) => guarded(() => undo(snapshot, change)),
    promote: (snapshot, stage) => guarded(() => promote(snapshot, stage)),
  };
}
