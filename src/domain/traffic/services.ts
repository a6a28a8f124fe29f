/**
 * Service routing, shared by the routers that send stable and canary traffic to two Services
 * (Istio's service mode, Gateway API): the canary Service Ramp creates when there is none, and the
 * narrowed selectors that keep each Service on its own version's pods during a rollout. Pure: the
 * cluster side is src/activities/traffic/services.ts.
 */
import type { Versions } from '../rollout/model';
import type { Routing } from '../spec/schema';
import { jsonEqual, JsonPatchOp, ObjectMeta, objectId, TrafficConfigError, versionGuard } from './objects';

/** The spec's service routing: the stable and canary Services. */
export type ServiceRouting = Extract<Routing, { mode: 'service' }>;

/** One port of a core/v1 Service. */
export interface ServicePort {
  name?: string;
  protocol?: string;
  appProtocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

/** A core/v1 Service, as far as Ramp reads it. */
export interface Service {
  metadata?: ObjectMeta;
  spec?: { ports?: ServicePort[]; selector?: Record<string, string>; [field: string]: unknown };
}

/** Label Ramp puts on objects it creates, so cleanup only deletes its own. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Value of MANAGED_BY_LABEL on Ramp's objects. */
export const MANAGED_BY = 'ramp';
/** The label the Deployment controller puts on each ReplicaSet's pods. */
export const POD_TEMPLATE_HASH = 'pod-template-hash';

/** Does a Service selector select pods with these labels? (Every selector entry must match.) */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * The canary Service for service mode: the target Service's ports, the stable Service's selector (as
 * it was before the rollout) with the version label set to the canary value, labelled as Ramp's.
 * Throws TrafficConfigError when the stable Service selects no pods by label (headless without
 * selector, ExternalName).
 */
export function buildCanaryService(input: {
  name: string;
  namespace: string;
  target: Service;
  stableSelector: Record<string, string> | undefined;
  stableName: string;
  versions: Pick<Versions, 'key' | 'canary'>;
}): Service & { metadata: ObjectMeta; spec: { ports: ServicePort[]; selector: Record<string, string> } } {
  const { name, namespace, target, stableSelector, versions } = input;
  const problems: string[] = [];
  if (!stableSelector || Object.keys(stableSelector).length === 0) {
    problems.push(`Service ${namespace}/${input.stableName} has no selector, so Ramp cannot derive the canary Service ${namespace}/${name} from it; create ${name} yourself, selecting the canary pods`);
  }
  const ports = target.spec?.ports ?? [];
  if (ports.length === 0) {
    problems.push(`${objectId('Service', target.metadata)} has no ports to copy to the canary Service ${namespace}/${name}; create ${name} yourself`);
  }
  if (problems.length > 0) throw new TrafficConfigError(problems);
  const selector = { ...stableSelector };
  delete selector[POD_TEMPLATE_HASH];
  return {
    metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    spec: {
      // nodePort is cluster-unique and the canary Service is ClusterIP, so it is not copied.
      ports: ports.map(({ nodePort: _nodePort, ...p }) => ({ ...p })),
      selector: { ...selector, [versions.key]: versions.canary },
    },
  };
}

/** What service routing needs done to the Services' selectors so that each selects only its own version's pods. */
export interface ServicePins {
  /** The stable Service's selector during the rollout, when it must change (it would select the canary's pods). */
  stable?: Record<string, string>;
  /** The canary Service's selector during the rollout, when it must change (it would select the stable's pods). */
  canary?: Record<string, string>;
  problems: string[];
}

/**
 * Service routing is only safe when the stable Service selects no canary pod and the canary
 * Service no stable pod. Guides often point both at every pod of the app (Argo Rollouts narrows them
 * itself during a rollout); Ramp narrows them too, and puts them back afterwards: the stable Service
 * by the stable ReplicaSet's pod-template-hash, the canary Service by the canary's version label.
 */
export function planServicePins(input: {
  namespace: string;
  stable: { name: string; selector?: Record<string, string> };
  /** Absent: Ramp creates the canary Service (from the stable's selector plus the version label). */
  canary?: { name: string; selector?: Record<string, string> };
  /** Labels of the stable's pods (pod template plus pod-template-hash). */
  stablePods: Record<string, string>;
  /** Labels the canary's pods will carry (the stable's template with the canary's version value). */
  canaryPods: Record<string, string>;
  versions: Pick<Versions, 'key' | 'canary'>;
  stableHash: string;
}): ServicePins {
  const { namespace, stable, canary, stablePods, canaryPods, versions } = input;
  const out: ServicePins = { problems: [] };
  const sid = `Service ${namespace}/${stable.name}`;
  if (!stable.selector || Object.keys(stable.selector).length === 0) {
    out.problems.push(`${sid} has no selector, so Ramp cannot tell which pods it sends traffic to; service routing needs a stable Service that selects the stable's pods by label`);
  } else if (!selects(stable.selector, stablePods)) {
    out.problems.push(`${sid} does not select the stable Deployment's pods (selector ${JSON.stringify(stable.selector)}); point spec.traffic.routing.stableService at the Service for them`);
  } else if (selects(stable.selector, canaryPods)) {
    out.stable = { ...stable.selector, [POD_TEMPLATE_HASH]: input.stableHash };
  }
  if (canary) {
    const cid = `Service ${namespace}/${canary.name}`;
    if (!canary.selector || Object.keys(canary.selector).length === 0) {
      out.problems.push(`${cid} has no selector; the canary Service must select the canary's pods by label`);
    } else {
      const pinned = selects(canary.selector, stablePods) ? { ...canary.selector, [versions.key]: versions.canary } : canary.selector;
      if (!selects(pinned, canaryPods)) {
        out.problems.push(`${cid} will not select the canary's pods (selector ${JSON.stringify(canary.selector)}, canary pods ${JSON.stringify(canaryPods)}); make it select the app's pods, or let Ramp create it (remove it)`);
      } else if (pinned !== canary.selector) out.canary = pinned;
    }
  }
  return out;
}

/** JSON Patch setting a Service's selector, guarded by the resourceVersion read; [] when unchanged. */
export function buildSelectorPatch(svc: Service, selector: Record<string, string>): JsonPatchOp[] {
  if (jsonEqual(svc.spec?.selector, selector)) return [];
  return [versionGuard(svc.metadata, 'Service'), { op: 'replace', path: '/spec/selector', value: selector }];
}
