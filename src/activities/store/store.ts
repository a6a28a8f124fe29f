/**
 * Where a router's and the workload controller's objects are read and written. The routers compute
 * every change purely (src/domain/traffic) and hand it to a store as a guarded JSON Patch, a create
 * or a delete:
 * - the cluster store writes the apiserver under Ramp's field manager (cluster.ts);
 * - the git store commits the change to the file that holds the object, pushes it and waits until
 *   the agent has applied it (git.ts), so a GitOps agent never undoes it.
 * A write names what it is for (a WriteNote), which the git store turns into the commit message.
 */
import type { CommitAction } from '../../domain/gitops/commit-message';
import type { JsonPatchOp } from '../../domain/traffic/objects';
import type { KubeTarget } from '../kube-errors';

/** The field manager of every write Ramp makes to the apiserver (managedFields show it). */
export const FIELD_MANAGER = 'ramp';

/** A namespaced object of any API group (not the core group): how to reach it and how messages name it. */
export interface ObjectRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespace: string;
  name: string;
  /** For messages and the error policy. */
  target: KubeTarget;
}

/** What a write is for: the commit's action, step, weights and reason. */
export interface WriteNote {
  action: CommitAction;
  step?: { index: number; kind: string };
  weights?: { stable: number; canary: number };
  reason?: string;
}

export interface ObjectStore {
  /** Whether the object lives in git (its writes are commits; it has no uid of its own there). */
  inGit(o: Pick<ObjectRef, 'kind' | 'name'>): boolean;
  /** The object, or undefined when it does not exist. */
  get<T>(o: ObjectRef): Promise<T | undefined>;
  /** The objects of the kind in the namespace, as the cluster has them. */
  list<T>(o: Omit<ObjectRef, 'name'>): Promise<T[]>;
  /** Applies the patch (its `test` ops guard it) and returns the object as stored. */
  patch<T>(o: ObjectRef, ops: JsonPatchOp[], note: WriteNote): Promise<T>;
  /** Creates the object and returns it as stored (with its uid). */
  create<T>(o: ObjectRef, body: object, note: WriteNote): Promise<T>;
  /** Deletes the object (only the one with `uid`, when given); absent counts as done. */
  delete(o: ObjectRef, uid: string | undefined, note: WriteNote): Promise<'deleted' | 'absent'>;
  /**
   * Who last changed the object outside Ramp, in words ("commit 1a2b3c by …", "the GitOps agent
   * kustomize-controller …"), for a drift message; undefined when nothing says.
   */
  blame(o: ObjectRef): Promise<string | undefined>;
  /** The commits this store pushed, oldest first (always empty for the cluster store). */
  readonly commits: readonly string[];
}

/** An ObjectRef for an object of a router's or the workload controller's kinds. */
export function objectRef(api: { group: string; version: string; plural: string }, target: KubeTarget): ObjectRef {
  return { ...api, kind: target.kind, namespace: target.namespace, name: target.name, target };
}

export const APIS = {
  VirtualService: { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' },
  DestinationRule: { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules' },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments' },
} as const;
