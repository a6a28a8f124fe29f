/**
 * The git store (docs/gitops.md, docs/decisions/0030-gitops-store.md): objects the rollout's
 * `spec.gitops.manifests` names are read from their files at the branch's head and changed by
 * commits; every other object is the cluster store's. A write:
 * 1. reads the object from its file and applies the router's JSON Patch to it (its `test` ops guard
 *    it against the file's content, as a resourceVersion guards a cluster write);
 * 2. in a rollback (`emergency`), first writes the same routes to the cluster, so a bad canary
 *    does not keep traffic while the commit is pushed and the agent syncs;
 * 3. commits the file edited in place (only the values that changed) and pushes without force;
 * 4. asks the agent to reconcile and waits until the cluster shows the commit (SyncTimeout after
 *    spec.gitops.syncTimeout).
 * The objects it returns carry a resourceVersion of their own (`git:<hash of the object>`), so the
 * routers' guarded patches work unchanged.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { applyPatch, JsonPatchError, type Operation } from 'fast-json-patch';
import type { RolloutCommit } from '../../domain/gitops/commit-message';
import type { ObjectLocator } from '../../domain/gitops/manifest-file';
import type { ProposedObject } from '../../domain/rollout/calls';
import type { GitOpsSpec } from '../../domain/spec/gitops';
import type { JsonPatchOp } from '../../domain/traffic/objects';
import { GitError, gitFailure } from '../../infra/git-errors';
import { Failure } from '../../shared/failures';
import type { ManifestRepo } from '../gitops/manifest-repo';
import type { createSync } from '../gitops/sync';
import { ObjectRef, ObjectStore, WriteNote } from './store';

/** Where an object lives in the repository, by kind and name. */
export interface GitPlacement {
  kind: string;
  name: string;
  path: string;
}

export interface GitStoreDeps {
  cluster: ObjectStore;
  manifests: ManifestRepo;
  sync: ReturnType<typeof createSync>;
  spec: GitOpsSpec;
  placements: GitPlacement[];
  /** The rollout (namespace/name) and run the commits name. */
  rollout: { namespace: string; name: string };
  runId: string;
  /** The commit date: the workflow's time, so a retried call makes the same commit. */
  now: () => Date;
  /** Whether commit a is in commit b's history (after a fetch). */
  isAncestor: (a: string, b: string) => Promise<boolean>;
  /**
   * Approval by merge: commit to this branch instead, and return without waiting for the agent
   * (nothing is live until the branch is merged). Each object proposed is reported to `onProposed`.
   */
  proposeTo?: string;
  onProposed?: (p: ProposedObject) => void;
}

const GIT_VERSION = 'git:';

/** Fields the apiserver sets that a manifest in git never carries. */
export function asManifest(obj: object): Record<string, unknown> {
  const o = structuredClone(obj) as Record<string, unknown> & { metadata?: Record<string, unknown> };
  delete o.status;
  if (o.metadata) {
    for (const k of ['resourceVersion', 'uid', 'generation', 'creationTimestamp', 'managedFields', 'selfLink']) delete o.metadata[k];
  }
  return o;
}

function versionOf(obj: unknown): string {
  return GIT_VERSION + createHash('sha256').update(JSON.stringify(asManifest(obj as object))).digest('hex').slice(0, 16);
}

function withVersion<T>(obj: unknown): T {
  const o = structuredClone(obj) as { metadata?: Record<string, unknown> };
  o.metadata = { ...(o.metadata ?? {}), resourceVersion: versionOf(obj) };
  return o as T;
}

/** Actions whose commit takes traffic off the canary: the emergency path writes the cluster too. */
const EMERGENCY_ACTIONS = new Set(['rollback', 'cleanup-route']);

export function createGitStore(d: GitStoreDeps): ObjectStore {
  const placed = (o: { kind: string; name: string }) => d.placements.find((p) => p.kind === o.kind && p.name === o.name);
  const locator = (o: ObjectRef): ObjectLocator => ({ apiVersion: `${o.group}/${o.version}`, kind: o.kind, name: o.name, namespace: o.namespace });
  const commitOf = (note: WriteNote): RolloutCommit => ({ rollout: d.rollout, runId: d.runId, ...note });

  async function read(o: ObjectRef, path: string): Promise<Record<string, unknown> | undefined> {
    return await d.manifests.read({ locator: locator(o), path }) as Record<string, unknown> | undefined;
  }

  const pushed: string[] = [];

  /** Commits, pushes, and waits until the cluster shows `expected` (null: the object gone). */
  async function commitLive(o: ObjectRef, path: string, expected: object | null, note: WriteNote): Promise<void> {
    // The emergency write goes first: traffic leaves the canary at once, even while the git server
    // is unreachable. An agent reconciling the previous commit before the push lands may put the
    // old routes back for a moment; the reconcile Ramp requests after the push applies the new ones.
    if (d.proposeTo !== undefined) {
      const { sha, committed } = await d.manifests.commit([{ locator: locator(o), path, after: expected }], commitOf(note), d.now(), d.proposeTo);
      if (committed) {
        pushed.push(sha);
        d.onProposed?.({ ...locator(o), namespace: o.namespace, path, object: expected });
      }
      return;
    }
    const emergency = expected !== null && d.spec.emergency && EMERGENCY_ACTIONS.has(note.action) && o.kind === 'VirtualService';
    if (emergency) await emergencyWrite(o, expected);
    const { sha, committed } = await d.manifests.commit([{ locator: locator(o), path, after: expected }], commitOf(note), d.now());
    if (committed) pushed.push(sha);
    if (d.spec.agent) await d.sync.requestReconcile(d.spec.agent, d.now().toISOString());
    const live = { locator: { ...locator(o), namespace: o.namespace }, expected: expected === null ? null : asManifest(expected) };
    try {
      await d.sync.waitLive({ sha, agent: d.spec.agent, timeoutMs: d.spec.syncTimeoutMs, isAncestor: d.isAncestor, expectations: [live] });
    } catch (err) {
      // The routes restored by the emergency write are safe whether or not the agent applies the
      // commit now: when it comes back it applies the same values. Waiting longer would only hold
      // the rest of the rollback; the cluster check proves the emergency write still stands.
      if (!(emergency && err instanceof ApplicationFailure && err.type === Failure.SyncTimeout)) throw err;
      await d.sync.waitLive({ sha, agent: undefined, timeoutMs: 0, isAncestor: d.isAncestor, expectations: [live] }).catch(() => { throw err; });
    }
  }

  /**
   * The rollback's routes, written to the cluster beside the commit: the agent applies the same
   * values from git, so the two converge instead of fighting.
   */
  async function emergencyWrite(o: ObjectRef, after: object): Promise<void> {
    const live = await d.cluster.get<{ metadata?: { resourceVersion?: string }; spec?: { http?: unknown } }>(o);
    const http = (after as { spec?: { http?: unknown } }).spec?.http;
    if (!live?.metadata?.resourceVersion || http === undefined) return;
    await d.cluster.patch(o, [
      { op: 'test', path: '/metadata/resourceVersion', value: live.metadata.resourceVersion },
      { op: 'replace', path: '/spec/http', value: http },
    ], { action: 'emergency' });
  }

  return {
    inGit: (o) => placed(o) !== undefined,
    commits: pushed,

    async get<T>(o: ObjectRef): Promise<T | undefined> {
      const p = placed(o);
      if (!p) return d.cluster.get<T>(o);
      const obj = await read(o, p.path);
      return obj === undefined ? undefined : withVersion<T>(obj);
    },

    list: (o) => d.cluster.list(o),

    async patch<T>(o: ObjectRef, ops: JsonPatchOp[], note: WriteNote): Promise<T> {
      const p = placed(o);
      if (!p) return d.cluster.patch<T>(o, ops, note);
      const current = await read(o, p.path);
      if (current === undefined) {
        throw ApplicationFailure.create({ message: `${p.path} in ${d.spec.repository.url} holds no ${o.kind} ${o.namespace}/${o.name}; add it, or fix spec.gitops.manifests`, type: Failure.NotFound });
      }
      let after: object;
      try {
        after = applyPatch(withVersion<object>(current), ops as Operation[], true, false).newDocument;
      } catch (err) {
        if (err instanceof JsonPatchError && err.name === 'TEST_OPERATION_FAILED') {
          throw ApplicationFailure.create({ message: `${o.kind} ${o.namespace}/${o.name} in ${p.path} changed between read and write; the retry reads it again`, type: Failure.Conflict });
        }
        throw ApplicationFailure.create({ message: `${o.kind} ${o.namespace}/${o.name} in ${p.path}: the change does not apply to the file's object (${(err as Error).message}); check the file`, type: Failure.Invalid });
      }
      const manifest = asManifest(after);
      await commitLive(o, p.path, manifest, note);
      return withVersion<T>(manifest);
    },

    async create<T>(o: ObjectRef, body: object, note: WriteNote): Promise<T> {
      const p = placed(o);
      if (!p) return d.cluster.create<T>(o, body, note);
      await commitLive(o, p.path, asManifest(body), note);
      // The uid is the cluster's: a later delete of the canary is checked against it.
      const live = await d.cluster.get<T>(o);
      if (!live) throw ApplicationFailure.create({ message: `${o.kind} ${o.namespace}/${o.name} is live per the agent but not found in the cluster`, type: Failure.NotApplied });
      return live;
    },

    async delete(o: ObjectRef, uid: string | undefined, note: WriteNote): Promise<'deleted' | 'absent'> {
      const p = placed(o);
      if (!p) return d.cluster.delete(o, uid, note);
      if (await read(o, p.path) === undefined) return 'absent';
      await commitLive(o, p.path, null, note);
      return 'deleted';
    },

    async blame(o: ObjectRef): Promise<string | undefined> {
      const p = placed(o);
      if (!p) return d.cluster.blame(o);
      const c = await d.manifests.lastForeignCommit(p.path, `${d.rollout.namespace}/${d.rollout.name}`);
      return c ? `changed in git by commit ${c.sha.slice(0, 12)} by ${c.authorName} <${c.authorEmail}> ("${c.subject}") in ${p.path}; revert it or make the values Ramp's again` : undefined;
    },
  };
}

/** Runs a git call with its GitError turned into the ApplicationFailure the retry policies match on (see withGitFailures). */
export async function gitCall<R>(call: () => Promise<R>): Promise<R> {
  try {
    return await call();
  } catch (err) {
    throw err instanceof GitError ? gitFailure(err) : err;
  }
}

/**
 * The store with git's errors turned into the ApplicationFailures the workflow's retry policies
 * match on. A GitError that reached Temporal as it is would carry the type "GitError": an outage
 * would not read as GitUnreachable, and a refused password (GitAuthFailed) would be retried for
 * the whole budget instead of ending the step.
 */
export function withGitFailures(s: ObjectStore): ObjectStore {
  const guard = gitCall;
  return {
    inGit: (o) => s.inGit(o),
    get commits() {
      return s.commits;
    },
    get: <T>(o: ObjectRef) => guard(() => s.get<T>(o)),
    list: <T>(o: Omit<ObjectRef, 'name'>) => guard(() => s.list<T>(o)),
    patch: <T>(o: ObjectRef, ops: JsonPatchOp[], note: WriteNote) => guard(() => s.patch<T>(o, ops, note)),
    create: <T>(o: ObjectRef, body: object, note: WriteNote) => guard(() => s.create<T>(o, body, note)),
    delete: (o, uid, note) => guard(() => s.delete(o, uid, note)),
    blame: (o) => guard(() => s.blame(o)),
  };
}
