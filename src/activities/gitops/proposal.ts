/**
 * Approval by merge (docs/gitops.md): after trafficPropose pushed the next weight step's commit to
 * the rollout's own branch, `waitMerged` polls the target branch until its file holds the proposed
 * managed values — a merge commit, a squash, a rebase or a person's own edit all count, and the
 * proposal commit need not be fetchable (hosts delete merged branches) — then waits until the agent
 * has applied it. A branch deleted without that is a turned-down change. `withdrawProposal` deletes
 * the branch once the step is over, so nobody can merge a change the rollout has moved past.
 */
import type { CallResults, MergeWaitInput, TrafficRef } from '../../domain/rollout/calls';
import { asManifest, gitCall } from '../store/git';
import type { Stores } from '../store/factory';
import { trafficScope } from '../traffic/factory';

export interface ProposalDeps {
  stores: Stores;
  /** How often the target branch is fetched while waiting; default 3 s. */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createProposalActivities({ stores, pollMs = 3000 }: ProposalDeps) {
  return {
    /** Until `deadlineAt`: merged (and live), closed (the branch deleted unmerged), or still pending. */
    async waitMerged(ref: TrafficRef, input: MergeWaitInput): Promise<CallResults['waitMerged']> {
      const spec = ref.gitops!;
      const { repo, call, manifests, sync } = stores.gitFor(trafficScope(ref));
      const { path, object, ...locator } = input.expect;
      const into = spec.repository.branch;
      for (;;) {
        call.heartbeat(`waiting for ${input.branch} (${input.commit.slice(0, 12)}) to be merged into ${into}`);
        const merged = await gitCall(() => manifests.holds({ locator, path }, object));
        if (merged) {
          if (spec.agent) await sync.requestReconcile(spec.agent, new Date().toISOString());
          await sync.waitLive({
            sha: merged.head, agent: spec.agent, timeoutMs: spec.syncTimeoutMs, isAncestor: (a, b) => repo.isAncestor(a, b),
            expectations: [{ locator, expected: asManifest(object as object) }],
          });
          const by = merged.by ? `${merged.by.authorName} <${merged.by.authorEmail}>` : 'unknown';
          return { state: 'merged', head: merged.head, by };
        }
        if (await gitCall(() => repo.remoteBranchHead(input.branch)) === undefined) return { state: 'closed' };
        const left = input.deadlineAt - Date.now();
        if (left <= 0) return { state: 'pending' };
        const pause = sleep(Math.min(pollMs, left));
        await (call.cancelled ? Promise.race([pause, call.cancelled]) : pause);
      }
    },

    /** Deletes the proposal branch; absent counts as done. */
    async withdrawProposal(ref: TrafficRef, branch: string): Promise<CallResults['withdrawProposal']> {
      const { repo } = stores.gitFor(trafficScope(ref));
      return gitCall(() => repo.deleteBranch(branch));
    },
  };
}
