/**
 * The one Kubernetes error policy: every activity turns a failed API call into an ApplicationFailure
 * here, with a stable `type` (src/shared/failures.ts) and a message naming the verb, the object, the
 * apiserver's answer and the fix. `classifyKubeError` is the policy as a pure table
 * (docs/decisions/0012-error-policy.md); `kubeFailure` applies it to a thrown error.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { Failure } from '../shared/failures';

/** What a call did: the verb of the RBAC rule it needs. */
export type Verb = 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete';

/** An object an activity reads or writes, for messages: kind, namespace/name and where the spec names it. */
export interface KubeTarget {
  kind: string;
  namespace: string;
  name: string;
  /** The RBAC resource, e.g. "deployments.apps" or "virtualservices.networking.istio.io", for "grant …" hints. */
  resource: string;
  /** The Rollout spec field that names the object, for "fix …" hints. */
  field?: string;
}

/** A failed call as the policy sees it. */
export interface KubeErrorFacts {
  /** The HTTP status, or 'network' when no answer came (refused, reset, DNS, TLS, client timeout). */
  status: number | 'network';
  verb: Verb;
  /** The apiserver listed field causes (a schema violation) — absent for a failed JSON-Patch `test`. */
  causes: boolean;
  /**
   * A 404 that names no object: the apiserver does not serve the path's type right now. After a
   * restart it answers before its CRD informers sync, so a VirtualService read gets this for a few
   * seconds; counting it as an absent object would let an undo "succeed" while traffic still flows.
   */
  typeNotServed?: boolean;
}

export interface KubeErrorClass {
  type: Failure;
  /** Hint appended to the message: what a person should do. */
  fix?: string;
}

/**
 * The policy. Whether a type is retried is decided by the workflow's retry budgets
 * (FORWARD_NON_RETRYABLE, UNDO_NON_RETRYABLE), not here, so a rollback can keep retrying what the
 * forward path gives up on.
 */
export function classifyKubeError({ status, verb, causes, typeNotServed }: KubeErrorFacts, t: Pick<KubeTarget, 'kind' | 'namespace' | 'resource' | 'field'>): KubeErrorClass {
  if (status === 'network') return { type: Failure.Unavailable };
  switch (status) {
    case 401:
      return { type: Failure.Unauthorized, fix: "check the worker's Kubernetes credentials (KUBECONFIG, or its ServiceAccount token)" };
    case 403:
      return { type: Failure.Forbidden, fix: `grant the worker's identity "${verb}" on ${t.resource} in namespace ${t.namespace} (deploy/rbac.yaml)` };
    case 404:
      if (typeNotServed) return { type: Failure.Unavailable, fix: `the apiserver does not serve ${t.resource} right now: it is starting, or the CRD is not installed (install it)` };
      return { type: Failure.NotFound, fix: t.field ? `create it, or set ${t.field} to an existing ${t.kind}` : 'create it, or fix the Rollout spec' };
    case 409:
      return { type: Failure.Conflict };
    case 422:
      // A JSON Patch whose `test` op fails is answered 422 with no field causes: the object changed
      // since it was read. A schema violation names its fields.
      if (!causes && verb === 'patch') return { type: Failure.Conflict };
      return { type: Failure.Invalid, fix: 'the apiserver refuses this object; check the object and the Rollout spec' };
    case 400:
      return { type: Failure.Invalid, fix: 'the apiserver refuses this request; check the object and the Rollout spec' };
    case 408: case 429:
      return { type: Failure.Unavailable };
    default:
      if (status >= 500) return { type: Failure.Unavailable };
      return { type: Failure.Invalid, fix: 'the apiserver refuses this request; check the object and the Rollout spec' };
  }
}

/**
 * Every type classifyKubeError and kubeFailure give a failed Kubernetes call: the worker counts an
 * activity failure of one of these types as a Kubernetes call error (src/worker/interceptors.ts).
 */
export const KUBE_CALL_FAILURES: readonly Failure[] = [
  Failure.NotFound, Failure.Unauthorized, Failure.Forbidden, Failure.Invalid, Failure.Conflict, Failure.Unavailable,
];

interface ApiStatusBody {
  reason?: string;
  message?: string;
  details?: { name?: string; causes?: unknown[] };
}

function isApiException(err: unknown): err is k8s.ApiException<unknown> {
  return err instanceof k8s.ApiException
    || (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'body' in err);
}

/**
 * Whether a failed call says the object does not exist: a 404 whose Status names it. A 404 naming
 * nothing is a path the apiserver does not serve (see KubeErrorFacts.typeNotServed).
 */
export function isAbsent(err: unknown): boolean {
  return isApiException(err) && err.code === 404 && Boolean(statusBody(err).details?.name);
}

/** The apiserver's Status object from an ApiException body (client-node leaves it as a JSON string). */
function statusBody(err: k8s.ApiException<unknown>): ApiStatusBody {
  const body: unknown = err.body;
  if (typeof body !== 'string') return (body ?? {});
  try {
    const parsed: unknown = JSON.parse(body);
    return (parsed ?? {});
  } catch {
    return { message: body || `HTTP ${err.code}` };
  }
}

export function kubeId(t: Pick<KubeTarget, 'kind' | 'namespace' | 'name'>): string {
  return `${t.kind} ${t.namespace}/${t.name}`;
}

/** The ApplicationFailure for a failed call on `t` (an ApplicationFailure passes through unchanged). */
export function kubeFailure(err: unknown, t: KubeTarget, verb: Verb): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const cause = err instanceof Error ? err : new Error(String(err));
  if (!isApiException(err)) {
    return ApplicationFailure.create({ message: `${verb} ${kubeId(t)} failed: ${cause.message}`, type: Failure.Unavailable, cause });
  }
  const body = statusBody(err);
  const causes = (body.details?.causes?.length ?? 0) > 0;
  const typeNotServed = err.code === 404 && !body.details?.name;
  const { type, fix } = classifyKubeError({ status: err.code, verb, causes, typeNotServed }, t);
  const answer = `HTTP ${err.code}${body.reason ? ` ${body.reason}` : ''}: ${body.message ?? 'no message'}`;
  const what = type === Failure.Conflict
    ? `${verb} ${kubeId(t)} failed: it changed between read and write (${answer}); the retry reads it again`
    : `${verb} ${kubeId(t)} failed: ${answer}`;
  return ApplicationFailure.create({ message: fix ? `${what} — ${fix}` : what, type, cause });
}

/** Runs one call on `t`; a failure comes back as kubeFailure's ApplicationFailure. */
export async function kubeCall<T>(t: KubeTarget, verb: Verb, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw kubeFailure(err, t, verb);
  }
}

/** Like kubeCall for a read, but an absent object (404) is undefined instead of a failure. */
export async function kubeGetOptional<T>(t: KubeTarget, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isAbsent(err)) return undefined;
    throw kubeFailure(err, t, 'get');
  }
}

/** Runs a delete; an object already gone (404) counts as deleted. */
export async function kubeDelete(t: KubeTarget, fn: () => Promise<unknown>): Promise<'deleted' | 'absent'> {
  try {
    await fn();
    return 'deleted';
  } catch (err) {
    if (isAbsent(err)) return 'absent';
    throw kubeFailure(err, t, 'delete');
  }
}

/** RBAC resource names of the kinds Ramp touches. */
export const RESOURCES = {
  Deployment: 'deployments.apps',
  Service: 'services',
  Pod: 'pods',
  ReplicaSet: 'replicasets.apps',
  VirtualService: 'virtualservices.networking.istio.io',
  DestinationRule: 'destinationrules.networking.istio.io',
} as const;

/** A KubeTarget for one of the kinds in RESOURCES. */
export function target(kind: keyof typeof RESOURCES, namespace: string, name: string, field?: string): KubeTarget {
  return { kind, namespace, name, resource: RESOURCES[kind], ...(field ? { field } : {}) };
}
