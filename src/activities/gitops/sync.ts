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
import { isAbsent, kubeFailure } from '../kube-errors';

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
  /** Called with progress while waiting (an activity's heartbeat). */
  heartbeat?: (details: string) => void;
  pollMs?: number;
  /** Resolves when the wait should stop early (an activity's cancellation). */
  cancelled?: Promise<never>;
}

const FLUX = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' } as const;
const FLUX_SOURCE = { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' } as const;
const ARGO = { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications' } as const;
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

export function createSync({ kube, heartbeat, pollMs = 500, cancelled }: SyncDeps) {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kube);
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);

  async function readLive(l: LiveExpectation['locator']): Promise<unknown> {
    const spec = { apiVersion: l.apiVersion, kind: l.kind, metadata: { name: l.name, namespace: l.namespace } };
    try {
      return await objects.read(spec);
    } catch (err) {
      if (isAbsent(err)) return undefined;
      throw kubeFailure(err, { kind: l.kind, namespace: l.namespace, name: l.name, resource: l.kind }, 'get');
    }
  }

  async function agentRevision(agent: AgentRef): Promise<string | undefined> {
    const api = agent.kind === 'FluxKustomization' ? FLUX : ARGO;
    const t = { kind: agent.kind === 'FluxKustomization' ? 'Kustomization' : 'Application', namespace: agent.namespace, name: agent.name, resource: `${api.plural}.${api.group}` };
    try {
      const o = await custom.getNamespacedCustomObject({ ...api, namespace: agent.namespace, name: agent.name }) as FluxKustomization & { status?: { sync?: { revision?: string } } };
      return agent.kind === 'FluxKustomization' ? o.status?.lastAppliedRevision : o.status?.sync?.revision;
    } catch (err) {
      throw kubeFailure(err, t, 'get');
    }
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
      const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
      const annotate = (api: { group: string; version: string; plural: string }, namespace: string, name: string, key: string, kind: string) =>
        custom.patchNamespacedCustomObject({ ...api, namespace, name, body: { metadata: { annotations: { [key]: at } } } }, merge)
          .catch((err: unknown) => { throw kubeFailure(err, { kind, namespace, name, resource: `${api.plural}.${api.group}` }, 'patch'); });
      if (agent.kind === 'ArgoApplication') {
        await annotate(ARGO, agent.namespace, agent.name, 'argocd.argoproj.io/refresh', 'Application');
        return;
      }
      const k = await custom.getNamespacedCustomObject({ ...FLUX, namespace: agent.namespace, name: agent.name })
        .catch((err: unknown) => { throw kubeFailure(err, { kind: 'Kustomization', namespace: agent.namespace, name: agent.name, resource: `${FLUX.plural}.${FLUX.group}` }, 'get'); }) as FluxKustomization;
      const src = k.spec?.sourceRef;
      if (src?.kind === 'GitRepository' && src.name) await annotate(FLUX_SOURCE, src.namespace ?? agent.namespace, src.name, REQUESTED_AT, 'GitRepository');
      await annotate(FLUX, agent.namespace, agent.name, REQUESTED_AT, 'Kustomization');
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
            message: `commit ${input.sha.slice(0, 12)} is not live after ${Math.round(input.timeoutMs / 1000)} s: ${left.join('; ')}. Check that the GitOps agent is running and applies this branch (spec.gitops.sync.timeout sets the wait)`,
            type: Failure.SyncTimeout,
          });
        }
        heartbeat?.(left[0]!);
        await (cancelled ? Promise.race([sleep(pollMs), cancelled]) : sleep(pollMs));
      }
    },
  };
}
