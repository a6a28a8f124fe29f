/**
 * Picks the store a call writes through: the cluster, or — for a rollout with `spec.gitops` — git
 * for the objects the spec places in the repository (git mode: the VirtualService, the
 * DestinationRule and both Deployments; cluster mode: only the stable Deployment, whose promoted
 * image must outlast the rollout). One git clone per rollout, reused by every call in this worker.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { agentFight, agentFightInWords } from '../../domain/gitops/field-owners';
import type { ProposedObject } from '../../domain/rollout/calls';
import type { GitOpsSpec } from '../../domain/spec/gitops';
import { GitRepo } from '../../infra/git';
import { ManifestRepo } from '../gitops/manifest-repo';
import { createSync } from '../gitops/sync';
import { createClusterStore } from './cluster';
import { createGitStore, GitPlacement, withGitFailures } from './git';
import { APIS, FIELD_MANAGER, ObjectRef, objectRef, ObjectStore } from './store';

export interface GitWorkerSettings {
  /** Where the worker keeps its clones (RAMP_GIT_WORKDIR). */
  workRoot: string;
  /** Who Ramp's commits are by (RAMP_GIT_AUTHOR_NAME / RAMP_GIT_AUTHOR_EMAIL). */
  author: { name: string; email: string };
}

export const DEFAULT_GIT_SETTINGS: GitWorkerSettings = {
  workRoot: path.join(os.tmpdir(), 'ramp-git'),
  author: { name: 'Ramp', email: 'ramp@localhost' },
};

/** What a store is for: the rollout and, when it has one, its GitOps spec. */
export interface StoreScope {
  namespace: string;
  rollout: string;
  gitops?: GitOpsSpec;
  stableDeployment: string;
  canaryDeployment: string;
  /** Istio's objects, for git mode. */
  virtualService?: string;
  destinationRule?: string;
}

/** The managed list of each kind: the field path whose owner a drift message names. */
const MANAGED_FIELD: Record<string, readonly string[]> = {
  VirtualService: ['spec', 'http'],
  DestinationRule: ['spec', 'subsets'],
  Deployment: ['spec', 'template'],
};

/** The drift message's "who": a GitOps agent that re-applied Ramp's fields, from managedFields. */
function agentBlame(o: ObjectRef, managedFields: unknown[]): string | undefined {
  const field = MANAGED_FIELD[o.kind];
  const fight = field ? agentFight(managedFields as Parameters<typeof agentFight>[0], field, FIELD_MANAGER) : undefined;
  return fight ? agentFightInWords(fight, { kind: o.kind, namespace: o.namespace, name: o.name }) : undefined;
}

/** Git mode places every object Ramp writes; cluster mode only the stable Deployment. */
export function placements(scope: StoreScope): GitPlacement[] {
  const g = scope.gitops!;
  const out: GitPlacement[] = [{ kind: 'Deployment', name: scope.stableDeployment, path: g.manifests.deployment }];
  if (g.mode !== 'git') return out;
  out.push({ kind: 'Deployment', name: scope.canaryDeployment, path: g.manifests.canaryDeployment });
  if (scope.virtualService && g.manifests.virtualService) out.push({ kind: 'VirtualService', name: scope.virtualService, path: g.manifests.virtualService });
  if (scope.destinationRule && g.manifests.destinationRule) out.push({ kind: 'DestinationRule', name: scope.destinationRule, path: g.manifests.destinationRule });
  return out;
}

/** The activity's run and schedule time: a retried call commits the same commit (same date). */
function callContext(): { runId: string; scheduledAt: Date; heartbeat: (d: string) => void; cancelled?: Promise<never> } {
  try {
    const ctx = Context.current();
    return {
      runId: ctx.info.workflowExecution?.runId ?? 'unknown-run',
      scheduledAt: new Date(ctx.info.scheduledTimestampMs),
      heartbeat: (d) => ctx.heartbeat(d),
      cancelled: ctx.cancelled,
    };
  } catch {
    // Outside an activity (a test calling a router directly): no run, no heartbeat.
    return { runId: 'direct-call', scheduledAt: new Date(), heartbeat: () => undefined };
  }
}

export function createStores(kube: k8s.KubeConfig, settings: GitWorkerSettings = DEFAULT_GIT_SETTINGS) {
  const cluster = createClusterStore(kube, agentBlame);
  const repos = new Map<string, GitRepo>();

  function repoFor(scope: StoreScope): GitRepo {
    const g = scope.gitops!;
    const key = createHash('sha256').update(`${g.repository.url}\n${g.repository.branch}\n${scope.namespace}/${scope.rollout}`).digest('hex').slice(0, 16);
    let repo = repos.get(key);
    if (!repo) {
      repo = new GitRepo({
        url: g.repository.url, branch: g.repository.branch, workDir: path.join(settings.workRoot, `${scope.namespace}-${scope.rollout}-${key}`),
        credentials: g.repository.credentials ?? {}, author: settings.author,
      });
      repos.set(key, repo);
    }
    return repo;
  }

  /** An object as the cluster has it, for the wait until a commit is live. */
  function readLive(l: { kind: string; namespace: string; name: string }): Promise<unknown> {
    const api = APIS[l.kind as keyof typeof APIS];
    return cluster.get(objectRef(api ?? { group: '', version: '', plural: l.kind }, { kind: l.kind, namespace: l.namespace, name: l.name, resource: api ? `${api.plural}.${api.group}` : l.kind }));
  }

  /** A GitOps rollout's clone, manifests and agent sync, for one call. */
  function gitFor(scope: StoreScope) {
    const repo = repoFor(scope);
    const call = callContext();
    return {
      repo,
      call,
      manifests: new ManifestRepo(repo),
      sync: createSync({ kube, readLive, heartbeat: call.heartbeat, ...(call.cancelled ? { cancelled: call.cancelled } : {}) }),
    };
  }

  return {
    cluster,
    gitFor,
    /** The store for one call of a rollout; `proposal`: commits go to that branch (approval by merge). */
    storeFor(scope: StoreScope, proposal?: { branch: string; onProposed: (p: ProposedObject) => void }): ObjectStore {
      if (!scope.gitops) return cluster;
      const { repo, call, manifests, sync } = gitFor(scope);
      return withGitFailures(createGitStore({
        cluster,
        manifests,
        sync,
        spec: scope.gitops,
        placements: placements(scope),
        rollout: { namespace: scope.namespace, name: scope.rollout },
        runId: call.runId,
        now: () => call.scheduledAt,
        isAncestor: (a, b) => repo.isAncestor(a, b),
        ...(proposal ? { proposeTo: proposal.branch, onProposed: proposal.onProposed } : {}),
      }));
    },
  };
}

export type Stores = ReturnType<typeof createStores>;
