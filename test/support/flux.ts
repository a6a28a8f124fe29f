/**
 * Flux objects for tests on the local stack, whose source-controller and kustomize-controller are
 * real (docs/decisions/0029): a credentials Secret and a GitRepository for a repository on the
 * stack's git server, a Kustomization applying a path of it, and waits on what the controllers
 * report in status. GitOps tests build on these; they never write status themselves.
 */
import * as fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { TestRepo } from './git';
import { eventually } from './stack';

export const SOURCE = { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' } as const;
export const KUSTOMIZE = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' } as const;
type FluxApi = typeof SOURCE | typeof KUSTOMIZE;

/** The annotation that asks a Flux controller to reconcile now (what `flux reconcile` sets). */
export const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

/** The status fields of a GitRepository or Kustomization the tests read. */
export interface FluxStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** The last `reconcile.fluxcd.io/requestedAt` value the controller acted on. */
  lastHandledReconcileAt?: string;
  /** GitRepository: what it fetched, as `<branch>@sha1:<sha>`. */
  artifact?: { revision: string; url: string };
  /** Kustomization: the source revision it last applied completely. */
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
}

export interface FluxObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation?: number; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: FluxStatus;
}

/** The revision Flux reports for a commit on a branch: `<branch>@sha1:<sha>`. */
export function gitRevision(branch: string, sha: string): string {
  return `${branch}@sha1:${sha}`;
}

/** A basic-auth Secret for a repository on the stack's git server, in the keys source-controller reads. */
export function gitCredentialsSecret(name: string, repo: TestRepo): k8s.V1Secret {
  return {
    metadata: { name },
    type: 'Opaque',
    stringData: { username: repo.username, password: fs.readFileSync(repo.passwordFile, 'utf8').trim() },
  };
}

/** A GitRepository following the repository's branch, authenticating with secretName. */
export function gitRepository(namespace: string, name: string, repo: TestRepo, opts: { secretName: string; interval: string }): FluxObject {
  return {
    apiVersion: `${SOURCE.group}/${SOURCE.version}`,
    kind: 'GitRepository',
    metadata: { name, namespace },
    spec: { url: repo.url, ref: { branch: repo.branch }, secretRef: { name: opts.secretName }, interval: opts.interval, timeout: '20s' },
  };
}

/** A Kustomization applying `path` of a GitRepository in the same namespace. */
export function kustomization(
  namespace: string,
  name: string,
  opts: { source: string; path: string; interval: string; prune: boolean; retryInterval?: string },
): FluxObject {
  return {
    apiVersion: `${KUSTOMIZE.group}/${KUSTOMIZE.version}`,
    kind: 'Kustomization',
    metadata: { name, namespace },
    spec: {
      sourceRef: { kind: 'GitRepository', name: opts.source },
      path: opts.path,
      interval: opts.interval,
      retryInterval: opts.retryInterval ?? opts.interval,
      prune: opts.prune,
      timeout: '30s',
    },
  };
}

function apiOf(o: FluxObject): FluxApi {
  if (o.kind === 'GitRepository') return SOURCE;
  if (o.kind === 'Kustomization') return KUSTOMIZE;
  throw new Error(`test/support/flux.ts handles GitRepository and Kustomization, not ${o.kind}`);
}

export async function createFluxObject(kc: k8s.KubeConfig, o: FluxObject): Promise<void> {
  await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({ ...apiOf(o), namespace: o.metadata.namespace, body: o });
}

export async function readFluxObject(kc: k8s.KubeConfig, api: FluxApi, namespace: string, name: string): Promise<FluxObject> {
  return (await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ ...api, namespace, name })) as FluxObject;
}

/** JSON merge patch of a Flux object's metadata or spec (status is the controllers'). */
export async function patchFluxObject(
  kc: k8s.KubeConfig,
  api: FluxApi,
  namespace: string,
  name: string,
  patch: { metadata?: { annotations: Record<string, string> }; spec?: Record<string, unknown> },
): Promise<FluxObject> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  return (await custom.patchNamespacedCustomObject(
    { ...api, namespace, name, body: patch },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  )) as FluxObject;
}

/** Ready's condition as the controller reported it for the object's current generation, if it has. */
export function readyAtGeneration(o: FluxObject): Condition | undefined {
  const ready = o.status?.conditions?.find((c) => c.type === 'Ready');
  return ready && o.status?.observedGeneration === o.metadata.generation ? ready : undefined;
}

function describeStatus(o: FluxObject): string {
  const ready = o.status?.conditions?.find((c) => c.type === 'Ready');
  return `${o.kind} ${o.metadata.namespace}/${o.metadata.name}: Ready=${ready?.status ?? '(none)'} ${ready?.reason ?? ''} ${ready?.message ?? ''}`.trim();
}

/**
 * Waits until the Kustomization reports `lastAppliedRevision` = revision with Ready=True, and
 * returns it then. On timeout the error carries the last status it saw (why Flux is stuck).
 */
export async function waitForAppliedRevision(kc: k8s.KubeConfig, namespace: string, name: string, revision: string, timeoutMs = 60_000): Promise<FluxObject> {
  let last: FluxObject | undefined;
  try {
    return await eventually(
      `Kustomization ${namespace}/${name} to apply ${revision}`,
      async () => {
        last = await readFluxObject(kc, KUSTOMIZE, namespace, name);
        return last.status?.lastAppliedRevision === revision && readyAtGeneration(last)?.status === 'True' ? last : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    const seen = last ? `; last seen ${describeStatus(last)}, lastAppliedRevision ${last.status?.lastAppliedRevision ?? '(none)'}` : '';
    throw new Error(`${(err as Error).message}${seen}`, { cause: err });
  }
}

/**
 * Asks the object's controller to reconcile now, as `flux reconcile` does: sets
 * `reconcile.fluxcd.io/requestedAt` to a new token. Returns the token; the controller reports it in
 * `status.lastHandledReconcileAt` once acted on.
 */
export async function requestReconcile(kc: k8s.KubeConfig, api: FluxApi, namespace: string, name: string): Promise<string> {
  const token = new Date().toISOString();
  await patchFluxObject(kc, api, namespace, name, { metadata: { annotations: { [REQUESTED_AT]: token } } });
  return token;
}
