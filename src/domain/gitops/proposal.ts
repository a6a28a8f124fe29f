/**
 * Approval by merge (docs/gitops.md): Ramp pushes the next step's commit to a branch of its own and
 * the rollout moves on once the target branch holds the change, whoever merged it.
 */

/** The branch a rollout proposes its changes on: one per rollout, as only one approval waits at a time. */
export function proposalBranch(rollout: { namespace: string; name: string }): string {
  return `ramp/${rollout.namespace}/${rollout.name}`;
}
