/**
 * Service routing on the cluster, for every router that sends stable and canary traffic to two
 * Services (Istio's service mode, Gateway API): it narrows the Services' selectors for the rollout
 * and puts them back, creates the canary Service when there is none and deletes only the one Ramp
 * created (by uid), and carries the stable Service through a promotion. The decisions are
 * src/domain/traffic/services.ts; a router plans these changes next to its own route changes and
 * passes them here by id.
 */
import * as k8s from '@kubernetes/client-node';
import type { TrafficRef } from '../../domain/rollout/calls';
import type { PlannedChange, Versions } from '../../domain/rollout/model';
import { TrafficConfigError } from '../../domain/traffic/objects';
import {
  buildCanaryService, buildSelectorPatch, MANAGED_BY, MANAGED_BY_LABEL, planServicePins, POD_TEMPLATE_HASH, Service, ServiceRouting,
} from '../../domain/traffic/services';
import type { DeploymentLike } from '../../domain/workload/canary';
import { deploymentReadiness } from '../../domain/workload/canary';
import { kubeCall, kubeDelete, kubeGetOptional, kubeId, KubeTarget, target } from '../kube-errors';

/** What service routing keeps in a router's snapshot (the field names are part of in-flight rollouts' snapshots). */
export interface ServiceSnapshot {
  /** The Services' selectors as they were, and during the rollout (when Ramp narrows them). */
  stableSelector?: Record<string, string>;
  stablePin?: Record<string, string>;
  canarySelector?: Record<string, string>;
  canaryPin?: Record<string, string>;
  /** Ramp creates the canary Service (and deletes it afterwards), and its uid once created. */
  createsCanaryService?: boolean;
  canaryServiceUid?: string;
}

/** Service routing's change ids. */
export const SERVICE_CHANGE = { pinStable: 'pinStable', pinCanary: 'pinCanary', canaryService: 'canaryService' } as const;
type ServiceChange = (typeof SERVICE_CHANGE)[keyof typeof SERVICE_CHANGE];

/** Is `change` one of service routing's changes? */
export function isServiceChange(change: string): change is ServiceChange {
  return (Object.values(SERVICE_CHANGE) as string[]).includes(change);
}

/** The stable Deployment and its pod-template labels; undefined when it does not exist (the workload preflight reports that). */
export async function readStableTemplate(kube: k8s.KubeConfig, ref: TrafficRef): Promise<{ d: DeploymentLike; labels: Record<string, string> } | undefined> {
  const deployments = kube.makeApiClient(k8s.AppsV1Api);
  const dt = target('Deployment', ref.namespace, ref.stableDeployment, 'spec.target.deployment');
  const d = await kubeGetOptional(dt, () => deployments.readNamespacedDeployment({ namespace: ref.namespace, name: ref.stableDeployment }) as Promise<DeploymentLike>);
  return d ? { d, labels: d.spec?.template.metadata?.labels ?? {} } : undefined;
}

/**
 * Service routing for one rollout. `refuseWhileRouted(what)` is the router's check that no route
 * still sends traffic to the canary Service: it throws CanaryStillRouted, naming the routes.
 */
export function createServiceRouting(kube: k8s.KubeConfig, ref: TrafficRef, routing: ServiceRouting, refuseWhileRouted: (what: string) => Promise<void>) {
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const apps = kube.makeApiClient(k8s.AppsV1Api);
  const namespace = ref.namespace;
  const versions: Versions = ref.versions ?? { key: 'version', stable: '', canary: '', stablePinned: false };
  const stableSvc = target('Service', namespace, routing.stableService, 'spec.traffic.routing.stableService');
  const canarySvc = target('Service', namespace, routing.canaryService, 'spec.traffic.routing.canaryService');
  const targetSvc = target('Service', namespace, ref.targetService, 'spec.target.service');

  const readService = (t: KubeTarget) => core.readNamespacedService({ namespace, name: t.name }) as Promise<Service>;
  const optionalService = (t: KubeTarget) => kubeGetOptional(t, () => readService(t));

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

  /**
   * Reads both Services and the stable's pods; adds what is wrong to `problems` and the changes to
   * make (pins before the canary, the canary Service after it) to `changes`; records the selectors
   * to put back in the returned snapshot part.
   */
  async function inspect(stable: { d: DeploymentLike; labels: Record<string, string> } | undefined, problems: string[], changes: PlannedChange[]): Promise<ServiceSnapshot> {
    const snapshot: ServiceSnapshot = {};
    const notFound = (t: KubeTarget) => `${kubeId(t)} not found; create it, or set ${t.field} to an existing ${t.kind}`;
    const key = versions.key;
    const stableService = await optionalService(stableSvc);
    if (!stableService) problems.push(notFound(stableSvc));
    const canary = await optionalService(canarySvc);
    // A canary Service labelled as Ramp's is a leftover of an earlier rollout: Ramp still owns it.
    const ours = canary?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
    snapshot.createsCanaryService = !canary || ours;
    if (stableService) snapshot.stableSelector = stableService.spec?.selector;
    if (canary && !ours) snapshot.canarySelector = canary.spec?.selector;
    if (stableService && stable) {
      // The hash is only needed (and the stable only needs to be fully rolled out) when the stable
      // Service would select the canary's pods.
      const plan = (hash: string) => planServicePins({
        namespace, stable: { name: routing.stableService, selector: stableService.spec?.selector }, ...(canary && !ours ? { canary: { name: routing.canaryService, selector: canary.spec?.selector } } : {}),
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
        changes.push({ id: SERVICE_CHANGE.pinStable, when: 'beforeCanary', description: `narrow Service ${namespace}/${routing.stableService} to the stable's pods for the rollout (selector ${JSON.stringify(pins.stable)})` });
      }
      if (pins.canary) {
        snapshot.canaryPin = pins.canary;
        changes.push({ id: SERVICE_CHANGE.pinCanary, when: 'beforeCanary', description: `narrow Service ${namespace}/${routing.canaryService} to the canary's pods for the rollout (selector ${JSON.stringify(pins.canary)})` });
      }
    }
    if (!canary) {
      const t = targetSvc.name === stableSvc.name ? stableService : await optionalService(targetSvc);
      if (!t) problems.push(notFound(targetSvc));
      if (stableService && t) {
        try {
          buildCanaryService({ name: routing.canaryService, namespace, target: t, stableSelector: stableService.spec?.selector, stableName: routing.stableService, versions });
        } catch (err) {
          if (!(err instanceof TrafficConfigError)) throw err;
          problems.push(...err.problems);
        }
      }
    }
    if (snapshot.createsCanaryService) {
      changes.push({ id: SERVICE_CHANGE.canaryService, when: 'afterCanary', description: `create Service ${namespace}/${routing.canaryService} selecting the canary's pods (${key}=${versions.canary})` });
    }
    return snapshot;
  }

  /** Makes one of service routing's changes; returns the snapshot part, with the canary Service's uid once created. */
  async function apply<S extends ServiceSnapshot>(snapshot: S, change: ServiceChange): Promise<S> {
    switch (change) {
      case SERVICE_CHANGE.pinStable:
        await setSelector(stableSvc, snapshot.stablePin!);
        return snapshot;
      case SERVICE_CHANGE.pinCanary:
        await setSelector(canarySvc, snapshot.canaryPin!);
        return snapshot;
      case SERVICE_CHANGE.canaryService: {
        const existing = await optionalService(canarySvc);
        if (existing) return { ...snapshot, canaryServiceUid: existing.metadata?.uid };
        const stable = await kubeCall(stableSvc, 'get', () => readService(stableSvc));
        const t = targetSvc.name === stableSvc.name ? stable : await kubeCall(targetSvc, 'get', () => readService(targetSvc));
        const body = buildCanaryService({ name: canarySvc.name, namespace, target: t, stableSelector: snapshot.stableSelector, stableName: stableSvc.name, versions });
        // An earlier attempt whose answer was lost may have created it: the retry finds it above.
        const created = await kubeCall(canarySvc, 'create', () => core.createNamespacedService({ namespace, body }) as Promise<Service>);
        return { ...snapshot, canaryServiceUid: created.metadata?.uid };
      }
    }
  }

  /** Takes one of service routing's changes back; a Service already gone, or not Ramp's, counts as absent. */
  async function undo(snapshot: ServiceSnapshot, change: ServiceChange): Promise<'undone' | 'absent'> {
    switch (change) {
      case SERVICE_CHANGE.pinStable:
        return setSelector(stableSvc, snapshot.stableSelector!);
      case SERVICE_CHANGE.pinCanary:
        return setSelector(canarySvc, snapshot.canarySelector!);
      case SERVICE_CHANGE.canaryService: {
        await refuseWhileRouted(kubeId(canarySvc));
        const svc = await optionalService(canarySvc);
        if (!svc) return 'absent';
        const uid = svc.metadata?.uid;
        // Someone replaced it with a Service of their own: not Ramp's to delete.
        if (svc.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY || (snapshot.canaryServiceUid !== undefined && uid !== snapshot.canaryServiceUid)) return 'absent';
        return kubeDelete(canarySvc, () => core.deleteNamespacedService({ namespace, name: canarySvc.name, body: { preconditions: { uid } } })).then((d) => (d === 'deleted' ? 'undone' : 'absent'));
      }
    }
  }

  /**
   * Promotion (docs/decisions/0015): the stable Service follows the stable's pods through the roll.
   * A selector that pins the version key keeps its pods' value: nothing to do. Otherwise the stable
   * Service must not select by version (nor by the old ReplicaSet's hash) while the stable rolls
   * (`begin`), and selects the new value once it is Available (`end`); the snapshot is rebased so
   * the cleanup keeps it so.
   */
  async function promote<S extends ServiceSnapshot>(snapshot: S, stage: 'begin' | 'end'): Promise<S> {
    if (versions.stablePinned) return snapshot;
    const original = snapshot.stableSelector ?? {};
    const during = Object.fromEntries(Object.entries(original).filter(([k]) => k !== versions.key && k !== POD_TEMPLATE_HASH));
    const after = versions.key in original ? { ...original, [versions.key]: versions.canary } : original;
    await setSelector(stableSvc, stage === 'begin' ? during : after);
    return stage === 'end' ? { ...snapshot, stableSelector: after } : snapshot;
  }

  return { inspect, apply, undo, promote };
}
