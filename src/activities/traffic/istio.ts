/**
 * The Istio traffic router: shifts traffic between stable and canary in the managed HTTP routes of
 * a VirtualService (networking.istio.io/v1), using DestinationRule subsets or separate Services.
 * Each change is computed by src/domain/traffic/istio.ts and written as one JSON Patch guarded by
 * the resourceVersion that was read, so a concurrent edit fails the write instead of being lost.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import {
  assertWeight,
  buildCanaryService,
  buildRestoreRoutesPatch,
  buildSetWeightPatch,
  buildSubsetsPatch,
  DestinationRule,
  ensureSubsets,
  inspectDestinationRule,
  inspectVirtualService,
  JsonPatchOp,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  readWeights,
  restoreSubsets,
  routesToCanary,
  Service,
  snapshotRoutes,
  Subset,
  SubsetRouting,
  TrafficConfigError,
  VirtualService,
} from '../../domain/traffic/istio';
import type { TrafficRef, TrafficRouter, TrafficSnapshot, Weights } from './router';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;

type Kind = 'VirtualService' | 'DestinationRule' | 'Service';
type Verb = 'get' | 'create' | 'patch' | 'delete';

/** The RBAC resource of each kind, for "grant …" hints. */
const RESOURCE: Record<Kind, string> = {
  VirtualService: 'virtualservices.networking.istio.io',
  DestinationRule: 'destinationrules.networking.istio.io',
  Service: 'services',
};

/** An object the router reads or writes, and where its name comes from in the Rollout spec (for "fix …" hints). */
export interface Target {
  kind: Kind;
  namespace: string;
  name: string;
  /** The spec field that names it. */
  field: string;
}

function id(t: Target): string {
  return `${t.kind} ${t.namespace}/${t.name}`;
}

interface Status {
  reason?: string;
  message: string;
  /** Field-level causes; the apiserver gives them for schema violations, not for a failed JSON Patch op. */
  causes?: unknown[];
}

/** The apiserver's Status from an ApiException body, which client-node leaves as a JSON string. */
function statusOf(err: k8s.ApiException<unknown>): Status {
  let body: unknown = err.body;
  if (typeof err.body === 'string') {
    const text = err.body;
    try {
      body = JSON.parse(text);
    } catch {
      return { message: text || `HTTP ${err.code}` };
    }
  }
  const s = body as { reason?: string; message?: string; details?: { causes?: unknown[] } } | undefined;
  return { reason: s?.reason, message: s?.message ?? `HTTP ${err.code}`, causes: s?.details?.causes };
}

function isApiException(err: unknown): err is k8s.ApiException<unknown> {
  return err instanceof k8s.ApiException || (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'body' in err);
}

/**
 * True for the apiserver's answer to a JSON Patch whose `test` op failed (or a stale resourceVersion):
 * 409, or a 422 without field causes — the apiserver reports a failed patch op as a bare
 * "Invalid", while a schema violation names its fields. Ramp's patch paths exist in the object it
 * read, so a failed op means the object changed.
 */
function isConcurrentChange(err: k8s.ApiException<unknown>): boolean {
  if (err.code === 409) return true;
  const causes = statusOf(err).causes;
  return err.code === 422 && (causes === undefined || causes.length === 0);
}

/**
 * Maps a failed Kubernetes call to an ApplicationFailure with a stable type: missing objects and
 * missing permissions are not retried (a person must act), conflicts and server/network trouble are.
 */
export function kubeFailure(err: unknown, t: Target, verb: Verb): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const cause = err instanceof Error ? err : new Error(String(err));
  if (!isApiException(err)) {
    return ApplicationFailure.create({ message: `${verb} ${id(t)} failed: ${cause.message}`, type: 'KubernetesApiError', nonRetryable: false, cause });
  }
  const status = statusOf(err);
  const what = `${verb} ${id(t)} failed: HTTP ${err.code}${status.reason ? ` ${status.reason}` : ''}: ${status.message}`;
  const fail = (type: string, nonRetryable: boolean, message = what) => ApplicationFailure.create({ message, type, nonRetryable, cause });
  if (err.code === 404) return fail('TargetNotFound', true, `${id(t)} not found (${verb}); create it, or set ${t.field} to an existing ${t.kind}`);
  if (err.code === 403) {
    return fail('Forbidden', true, `${what}; grant the worker's identity "${verb}" on ${RESOURCE[t.kind]} in namespace ${t.namespace} (Role and RoleBinding)`);
  }
  if (verb === 'patch' && isConcurrentChange(err)) {
    return fail('ConcurrentModification', false, `${id(t)} changed between read and write, so the patch guarded by its resourceVersion was refused (HTTP ${err.code}: ${status.message}); the activity retry reads it again and re-applies`);
  }
  if (err.code === 401 || err.code === 408 || err.code === 429 || err.code >= 500) return fail('KubernetesApiError', false);
  return fail('KubernetesRequestRejected', true, `${what}; this request cannot succeed as it is: check the object and the Rollout's spec.traffic`);
}

/** Runs a router method, turning the pure module's errors into non-retryable failures. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TrafficConfigError) throw ApplicationFailure.nonRetryable(err.message, 'TargetNotFound');
    if (err instanceof RangeError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidWeight');
    throw err;
  }
}

/** The Istio TrafficRouter for one rollout's traffic objects. */
export function createIstioRouter(kube: k8s.KubeConfig, ref: TrafficRef): TrafficRouter {
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const { namespace, traffic, versionLabel } = ref;
  const routing = traffic.routing;

  const vsTarget: Target = { kind: 'VirtualService', namespace, name: traffic.virtualService.name, field: 'spec.traffic.virtualService.name' };
  const drTarget: Target | undefined = routing.mode === 'subset'
    ? { kind: 'DestinationRule', namespace, name: routing.destinationRule, field: 'spec.traffic.routing.destinationRule' }
    : undefined;
  const stableSvc: Target | undefined = routing.mode === 'service'
    ? { kind: 'Service', namespace, name: routing.stableService, field: 'spec.traffic.routing.stableService' }
    : undefined;
  const canarySvc: Target | undefined = routing.mode === 'service'
    ? { kind: 'Service', namespace, name: routing.canaryService, field: 'spec.traffic.routing.canaryService' }
    : undefined;
  const targetSvc: Target = { kind: 'Service', namespace, name: ref.targetService, field: 'spec.target.service' };

  async function call<T>(t: Target, verb: Verb, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw kubeFailure(err, t, verb);
    }
  }

  /** The object, or undefined when the apiserver answers 404. */
  async function optional<T>(t: Target, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (isApiException(err) && err.code === 404) return undefined;
      throw kubeFailure(err, t, 'get');
    }
  }

  const plural = (t: Target) => (t.kind === 'VirtualService' ? 'virtualservices' : 'destinationrules');
  const readCustom = <T>(t: Target) => custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: plural(t), name: t.name }) as Promise<T>;
  const readService = (t: Target) => core.readNamespacedService({ namespace, name: t.name }) as Promise<Service>;

  const getVs = () => call(vsTarget, 'get', () => readCustom<VirtualService>(vsTarget));
  const getDr = () => call(drTarget!, 'get', () => readCustom<DestinationRule>(drTarget!));

  /** One JSON Patch write; the answer is the object as stored. */
  function patch<T>(t: Target, ops: JsonPatchOp[]): Promise<T> {
    return call(t, 'patch', () =>
      custom.patchNamespacedCustomObject(
        { ...ISTIO, namespace, plural: plural(t), name: t.name, body: ops },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      ) as Promise<T>,
    );
  }

  function checkSnapshot(snapshot: TrafficSnapshot): void {
    if (snapshot.routing !== routing.mode) {
      throw ApplicationFailure.nonRetryable(
        `traffic snapshot was taken in ${snapshot.routing} mode but spec.traffic.routing.mode is ${routing.mode}; the routing mode cannot change during a rollout`,
        'SnapshotMismatch',
      );
    }
  }

  /** Weights of every managed route; throws WeightNotApplied unless each carries `want`. */
  function verifyWeights(vs: VirtualService, want: Weights): Weights {
    const got = readWeights(vs, traffic);
    const off = got.filter((r) => r.weights.stable !== want.stable || r.weights.canary !== want.canary);
    if (off.length > 0) {
      const detail = off.map((r) => `${r.name || 'default'}: stable ${r.weights.stable}, canary ${r.weights.canary}`).join('; ');
      throw ApplicationFailure.retryable(
        `${id(vsTarget)} does not carry stable ${want.stable} / canary ${want.canary} after the write (${detail}); something (a GitOps sync, an admission webhook) may be rewriting it`,
        'WeightNotApplied',
      );
    }
    return want;
  }

  async function setWeight(canaryWeight: number): Promise<Weights> {
    assertWeight(canaryWeight);
    const want = { stable: 100 - canaryWeight, canary: canaryWeight };
    const vs = await getVs();
    const ops = buildSetWeightPatch(vs, traffic, canaryWeight);
    if (ops.length === 0) return verifyWeights(vs, want);
    return verifyWeights(await patch<VirtualService>(vsTarget, ops), want);
  }

  return {
    preflight: () => guarded(async () => {
      const problems: string[] = [];
      const notFound = (t: Target) => `${id(t)} not found; create it, or set ${t.field} to an existing ${t.kind}`;

      const vs = await optional(vsTarget, () => readCustom<VirtualService>(vsTarget));
      if (!vs) problems.push(notFound(vsTarget));
      else problems.push(...inspectVirtualService(vs, traffic));

      if (drTarget) {
        const dr = await optional(drTarget, () => readCustom<DestinationRule>(drTarget));
        if (!dr) problems.push(notFound(drTarget));
        else problems.push(...inspectDestinationRule(dr, traffic, namespace));
      }
      if (stableSvc && canarySvc) {
        const stable = await optional(stableSvc, () => readService(stableSvc));
        if (!stable) problems.push(notFound(stableSvc));
        // A missing canary Service is fine (prepare creates it) if it can be derived from the others.
        const canary = await optional(canarySvc, () => readService(canarySvc));
        if (!canary) {
          const target = targetSvc.name === stableSvc.name ? stable : await optional(targetSvc, () => readService(targetSvc));
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
      }
      if (problems.length > 0) {
        const list = problems.map((p, i) => `(${i + 1}) ${p}`).join('; ');
        throw ApplicationFailure.nonRetryable(`traffic preflight in namespace ${namespace} found ${problems.length} problem(s): ${list}`, 'TargetNotFound');
      }
    }),

    snapshot: () => guarded(async () => {
      const vs = await getVs();
      const snapshot: TrafficSnapshot = { routes: snapshotRoutes(vs, traffic), routing: routing.mode };
      if (drTarget) {
        const subsets = (await getDr()).spec?.subsets;
        if (subsets !== undefined) snapshot.subsets = JSON.parse(JSON.stringify(subsets)) as Subset[];
      }
      if (canarySvc) {
        const canary = await optional(canarySvc, () => readService(canarySvc));
        // One labelled as Ramp's is a leftover of an earlier rollout: Ramp still owns it.
        snapshot.createdCanaryService = !canary || canary.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
      }
      return snapshot;
    }),

    prepare: (snapshot) => guarded(async () => {
      checkSnapshot(snapshot);
      if (drTarget) {
        const dr = await getDr();
        const ops = buildSubsetsPatch(dr, ensureSubsets(dr.spec?.subsets, routing as SubsetRouting, versionLabel));
        if (ops.length > 0) await patch(drTarget, ops);
      }
      if (stableSvc && canarySvc) {
        const existing = await optional(canarySvc, () => readService(canarySvc));
        if (!existing) {
          const stable = await call(stableSvc, 'get', () => readService(stableSvc));
          const target = targetSvc.name === stableSvc.name ? stable : await call(targetSvc, 'get', () => readService(targetSvc));
          const body = buildCanaryService({ name: canarySvc.name, namespace, target, stable, versionLabel });
          try {
            await core.createNamespacedService({ namespace, body });
          } catch (err) {
            // Created by a previous attempt of this activity: the state is what we want.
            if (!(isApiException(err) && err.code === 409)) throw kubeFailure(err, canarySvc, 'create');
          }
        }
      }
      return setWeight(0);
    }),

    setWeight: (canaryWeight) => guarded(() => setWeight(canaryWeight)),

    getWeights: () => guarded(async () => {
      const routes = readWeights(await getVs(), traffic);
      return routes[0]!.weights;
    }),

    restoreRoutes: (snapshot) => guarded(async () => {
      checkSnapshot(snapshot);
      // A deleted VirtualService routes nothing to the canary: the goal already holds.
      const vs = await optional(vsTarget, () => readCustom<VirtualService>(vsTarget));
      if (!vs) return;
      const ops = buildRestoreRoutesPatch(vs, snapshot.routes);
      if (ops.length === 0) return;
      const after = await patch<VirtualService>(vsTarget, ops);
      const back = buildRestoreRoutesPatch(after, snapshot.routes);
      if (back.length > 0) {
        throw ApplicationFailure.retryable(`${id(vsTarget)} managed routes differ from the snapshot after the write; something may be rewriting it`, 'WeightNotApplied');
      }
    }),

    removeCanaryDestination: (snapshot) => guarded(async () => {
      checkSnapshot(snapshot);
      // Removing a destination that still gets traffic would fail those requests (503s).
      const vs = await optional(vsTarget, () => readCustom<VirtualService>(vsTarget));
      const routed = vs ? routesToCanary(vs, traffic) : [];
      if (routed.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `${id(vsTarget)} HTTP route(s) ${routed.join(', ')} still send traffic to the canary; restore the routes (restoreRoutes) before removing the canary destination`,
          'CanaryStillRouted',
        );
      }
      if (drTarget) {
        const dr = await optional(drTarget, () => readCustom<DestinationRule>(drTarget));
        if (!dr) return;
        const ops = buildSubsetsPatch(dr, restoreSubsets(dr.spec?.subsets, snapshot.subsets as Subset[] | undefined, routing as SubsetRouting));
        if (ops.length > 0) await patch(drTarget, ops);
        return;
      }
      if (canarySvc && snapshot.createdCanaryService) {
        const svc = await optional(canarySvc, () => readService(canarySvc));
        // Someone replaced it with a Service of their own: not Ramp's to delete.
        if (!svc || svc.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) return;
        try {
          await core.deleteNamespacedService({ namespace, name: canarySvc.name });
        } catch (err) {
          if (!(isApiException(err) && err.code === 404)) throw kubeFailure(err, canarySvc, 'delete');
        }
      }
    }),
  };
}
