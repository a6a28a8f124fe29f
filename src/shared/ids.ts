/**
 * How rollouts are named in Temporal. The workflow id is derived from the target Deployment's
 * namespace and name, so two rollouts of one target can never run at once (Temporal refuses a
 * second start with the same id while the first runs). Kubernetes names cannot hold "/", so the
 * id is unambiguous: rollout/<namespace>/<deployment>.
 */
export function rolloutWorkflowId(namespace: string, deployment: string): string {
  return `rollout/${namespace}/${deployment}`;
}

/** The RampTarget search attribute value of a target. */
export function targetKey(namespace: string, deployment: string): string {
  return `${namespace}/${deployment}`;
}
