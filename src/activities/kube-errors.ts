/**
 * Turning Kubernetes API errors into Temporal failures with a stable `type`, retryable or not on
 * purpose (the workflow matches on `type`), and messages naming kind, namespace/name and verb.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';

export function apiStatus(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

export function apiMessage(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        return (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        return body;
      }
    }
    return (body as { message?: string } | undefined)?.message ?? `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** What: "get Deployment mushop/storefront". */
export function kubeFailure(err: unknown, what: string): ApplicationFailure {
  const code = apiStatus(err);
  const msg = `${what} failed: ${code ? `HTTP ${code}: ` : ''}${apiMessage(err)}`;
  if (code === 403) {
    return ApplicationFailure.nonRetryable(`${msg} — grant Ramp's ServiceAccount this permission (see deploy/rbac.yaml)`, 'Forbidden');
  }
  if (code === 401) return ApplicationFailure.nonRetryable(`${msg} — check the worker's Kubernetes credentials`, 'Unauthorized');
  if (code === 409) return ApplicationFailure.retryable(msg, 'ConcurrentModification');
  if (code === 400 || code === 422) return ApplicationFailure.nonRetryable(msg, 'InvalidObject');
  // 404s are handled by callers (they know whether absence is an error); 5xx and network errors retry.
  return ApplicationFailure.retryable(msg, 'KubernetesApiError');
}
