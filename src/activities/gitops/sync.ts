/**
 * After a commit is pushed, the change counts only once it is live: the cluster's objects show the
 * committed values of every field Ramp manages (src/domain/gitops/managed.ts), and, where the
 * GitOps agent reports what it applied, its revision is the commit or a later one. A change that is
 * not live within the timeout fails with SyncTimeout, naming what is still missing.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { managedDiff } from '../../domain/gitops/managed';
import { locatorInWords, ObjectLocator } from '../../domain/gitops/manifest-file';
import { Failure } from '../../shared/failures';
import { kubeFailure } from '../kube-errors';

/** The agent that applies the repository, when it reports the revision it applied. */
export type AgentRef =
  | { kind: 'FluxKustomization'; namespace: string; name: string }
  | { kind: 'ArgoApplication'; namespace: string; name: string };

/** One object the commit changed and what it should now hold (null: gone). */
export interface LiveExpectation {
  locator: ObjectLocator & { namespace: string };
  expected: unknown;
}

export interface SyncDeps {
  kube: k8s.KubeConfig;
  /** Reads an object as the cluster has it (the cluster store), undefined when absent. */
  readLive: (l: LiveExpectation['locator']) => Promise<unknown>;
  /** Called with progress while waiting (an activity's heartbeat). */
  heartbeat?: (details: string) => void;
  pollMs?: number;
  /** Resolves when the wait should stop early (an activity's cancellation). */
  cancelled?: Promise<never>;
}

const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FluxKustomization {
  spec?: { sourceRef?: { kind?: string; name?: string; namespace?: string } };
  status?: { lastAppliedRevision?: string };
}

/**
 * The commit an agent reports as applied: Flux writes `<branch>@sha1:<sha>` in
 * Kustomization.status.lastAppliedRevision, Argo CD the sha in Application.status.sync.revision.
 */
export function appliedCommit(revision: string | undefined): string | undefined {
  if (!revision) return undefined;
  const m = /(?:^|@sha1:|:)([0-9a-f]{40})$/.exec(revision);
  return m?.[1];
}

const KUSTOMIZATION = (namespace: string, name: string) => ({ kind: 'Kustomization', namespace, name, resource: 'kustomizations.kustomize.toolkit.fluxcd.io' });
const GIT_REPOSITORY = (namespace: string, name: string) => ({ kind: 'GitRepository', namespace, name, resource: 'gitrepositories.source.toolkit.fluxcd.io' });
const APPLICATION = (namespace: string, name: string) => ({ kind: 'Application', namespace, name, resource: 'applications.argoproj.io' });

/** Runs one call on an agent's object; a failure comes back through the Kubernetes error policy. */
async function agentCall<T>(t: ReturnType<typeof KUSTOMIZATION>, verb: 'get' | 'patch', fn: () => Promise<unknown>): Promise<T> {
  try {
    return await fn() as T;
  } catch (err) {
    throw kubeFailure(err, t, verb);
  }
}

export function createSync({ kube, readLive, heartbeat, pollMs = 500, cancelled }: SyncDeps) {
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const merge = () => k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  async function agentRevision(agent: AgentRef): Promise<string | undefined> {
    const { namespace, name } = agent;
    if (agent.kind === 'FluxKustomization') {
      const k = await agentCall<FluxKustomization>(KUSTOMIZATION(namespace, name), 'get', () => custom.getNamespacedCustomObject({ group: 'kustomize.toolkit.fluxcd.io', version: 'v1', namespace, plural: 'kustomizations', name }));
      return k.status?.lastAppliedRevision;
    }
    const a = await agentCall<{ status?: { sync?: { revision?: string } } }>(APPLICATION(namespace, name), 'get', () => custom.getNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace, plural: 'applications', name }));
    return a.status?.sync?.revision;
  }

  /** What is not yet live, in words; empty when everything is. */
  async function missing(expectations: LiveExpectation[], sha: string, agent: AgentRef | undefined, isAncestor: (a: string, b: string) => Promise<boolean>): Promise<string[]> {
    const out: string[] = [];
    if (agent) {
      const applied = appliedCommit(await agentRevision(agent));
      if (applied === undefined) out.push(`${agent.kind} ${agent.namespace}/${agent.name} reports no applied revision yet`);
      else if (applied !== sha && !(await isAncestor(sha, applied))) out.push(`${agent.kind} ${agent.namespace}/${agent.name} applied ${applied.slice(0, 12)}, not yet ${sha.slice(0, 12)}`);
    }
    for (const e of expectations) {
      const live = await readLive(e.locator);
      if (e.expected === null) {
        if (live !== undefined) out.push(`${locatorInWords(e.locator)} still exists in the cluster`);
        continue;
      }
      if (live === undefined) {
        out.push(`${locatorInWords(e.locator)} does not exist in the cluster yet`);
        continue;
      }
      for (const d of managedDiff(e.expected, live)) out.push(`${locatorInWords(e.locator)} ${d.path} is ${JSON.stringify(d.actual)} in the cluster, ${JSON.stringify(d.expected)} in the commit`);
    }
    return out;
  }

  return {
    readLive,
    agentRevision,

    /**
     * Asks the agent to fetch and apply now instead of at its next interval: Flux reconciles an
     * object when its `reconcile.fluxcd.io/requestedAt` annotation changes (as `flux reconcile
     * --with-source` does); Argo CD refreshes on `argocd.argoproj.io/refresh`.
     */
    async requestReconcile(agent: AgentRef, at: string): Promise<void> {
      const { namespace, name } = agent;
      if (agent.kind === 'ArgoApplication') {
        const body = { metadata: { annotations: { 'argocd.argoproj.io/refresh': 'normal' } } };
        await agentCall(APPLICATION(namespace, name), 'patch', () => custom.patchNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace, plural: 'applications', name, body }, merge()));
        return;
      }
      const body = { metadata: { annotations: { [REQUESTED_AT]: at } } };
      const k = await agentCall<FluxKustomization>(KUSTOMIZATION(namespace, name), 'get', () => custom.getNamespacedCustomObject({ group: 'kustomize.toolkit.fluxcd.io', version: 'v1', namespace, plural: 'kustomizations', name }));
      const src = k.spec?.sourceRef;
      if (src?.kind === 'GitRepository' && src.name) {
        const srcNs = src.namespace ?? namespace;
        const srcName = src.name;
        await agentCall(GIT_REPOSITORY(srcNs, srcName), 'patch', () => custom.patchNamespacedCustomObject({ group: 'source.toolkit.fluxcd.io', version: 'v1', namespace: srcNs, plural: 'gitrepositories', name: srcName, body }, merge()));
      }
      await agentCall(KUSTOMIZATION(namespace, name), 'patch', () => custom.patchNamespacedCustomObject({ group: 'kustomize.toolkit.fluxcd.io', version: 'v1', namespace, plural: 'kustomizations', name, body }, merge()));
    },

    /**
     * Waits until the commit is live (see the module comment), heartbeating what is still missing;
     * SyncTimeout after `timeoutMs`. `isAncestor(a, b)` says whether commit a is in b's history, so
     * an agent that already applied a later commit counts.
     */
    async waitLive(input: { sha: string; expectations: LiveExpectation[]; agent?: AgentRef; timeoutMs: number; isAncestor: (a: string, b: string) => Promise<boolean> }): Promise<{ elapsedMs: number }> {
      const start = Date.now();
      for (;;) {
        const left = await missing(input.expectations, input.sha, input.agent, input.isAncestor);
        if (left.length === 0) return { elapsedMs: Date.now() - start };
        if (Date.now() - start > input.timeoutMs) {
          throw ApplicationFailure.create({
            message: `commit ${input.sha.slice(0, 12)} is not live after ${Math.round(input.timeoutMs / 1000)} s: ${left.join('; ')}. Check that the GitOps agent is running and applies this branch (spec.gitops.syncTimeout sets the wait)`,
            type: Failure.SyncTimeout,
          });
        }
        heartbeat?.(left[0]!);
        await (cancelled ? Promise.race([sleep(pollMs), cancelled]) : sleep(pollMs));
      }
    },
  };
}
