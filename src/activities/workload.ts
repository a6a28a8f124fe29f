/**
 * The workload controller: inspects the stable Deployment, creates the canary Deployment, waits for
 * readiness (heartbeating), promotes stable to the canary's pod template, and removes the canary.
 * Every activity is idempotent: create-or-update, delete-if-present.
 */
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CallResults, WaitInput, WorkloadRef } from '../domain/rollout/calls';
import type { Versions } from '../domain/rollout/model';
import { resolveVersions } from '../domain/workload/versions';
import {
  buildCanaryDeployment, checkStable, deploymentReadiness, DeploymentLike, gitPromotedStableTemplate, MANAGED_BY, promotedStableTemplate, ROLLOUT_LABEL,
} from '../domain/workload/canary';
import { Failure } from '../shared/failures';
import { isAbsent, kubeDelete, kubeFailure, kubeGetOptional, kubeId, target } from './kube-errors';
import { createStores, StoreScope, Stores } from './store/factory';
import { APIS, objectRef, ObjectStore } from './store/store';

export interface WorkloadDeps {
  kube: k8s.KubeConfig;
  /** Poll interval while waiting for readiness. */
  pollMs?: number;
  /** Where Deployments are written (the cluster, or git for a GitOps rollout); default: built from `kube`. */
  stores?: Stores;
}

/** Git mode: the commits a call pushed, for its result in history. */
function commitsOf(store: ObjectStore): { commits?: string[] } {
  return store.commits.length > 0 ? { commits: [...store.commits] } : {};
}

/** What a workload call's store needs to know about the rollout. */
function workloadScope(ref: WorkloadRef): StoreScope {
  return { namespace: ref.namespace, rollout: ref.rollout, stableDeployment: ref.stableDeployment, canaryDeployment: ref.canary.deploymentName, ...(ref.gitops ? { gitops: ref.gitops } : {}) };
}

/** What the preflight learns about the stable Deployment. */
export interface WorkloadInspection {
  /** Every problem found, each with its fix; empty when the rollout can go ahead. */
  problems: string[];
  versions?: Versions;
  stableImage?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SPEC_HASH = 'ramp.dev/spec-hash';

function specHash(spec: unknown): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

/** How often a promotion re-reads and re-applies after the Deployment changed under it, within one attempt. */
const PROMOTE_CONFLICT_RETRIES = 5;

export function createWorkloadActivities({ kube, pollMs = 500, stores = createStores(kube) }: WorkloadDeps) {
  const apps = kube.makeApiClient(k8s.AppsV1Api);
  const core = kube.makeApiClient(k8s.CoreV1Api);

  const deployment = (namespace: string, name: string, field?: string) => target('Deployment', namespace, name, field);
  const deploymentRef = (namespace: string, name: string, field?: string) => objectRef(APIS.Deployment, deployment(namespace, name, field));
  /** As the cluster has it: readiness is the cluster's. */
  const readLive = (namespace: string, name: string) =>
    kubeGetOptional(deployment(namespace, name), () => apps.readNamespacedDeployment({ name, namespace }) as Promise<DeploymentLike>);
  /** As the rollout's store has it: the cluster, or the file in git that holds it. */
  const readIn = (store: ObjectStore, namespace: string, name: string, field?: string) => store.get<DeploymentLike>(deploymentRef(namespace, name, field));

  function isOurs(d: DeploymentLike, ref: WorkloadRef): boolean {
    return d.metadata?.labels?.[MANAGED_BY.key] === MANAGED_BY.value && d.metadata?.labels?.[ROLLOUT_LABEL] === ref.rollout;
  }

  return {
    /** Reads the stable Deployment, its Service and the canary's name; lists every problem. Writes nothing. */
    async inspectWorkload(ref: WorkloadRef): Promise<WorkloadInspection> {
      const problems: string[] = [];
      const store = stores.storeFor(workloadScope(ref));
      const stable = await readIn(store, ref.namespace, ref.stableDeployment, 'spec.target.deployment');
      if (!stable) problems.push(`${kubeId(deployment(ref.namespace, ref.stableDeployment))} not found; create it, or set spec.target.deployment to an existing Deployment`);
      const svc = target('Service', ref.namespace, ref.service, 'spec.target.service');
      if (!(await kubeGetOptional(svc, () => core.readNamespacedService({ name: ref.service, namespace: ref.namespace })))) {
        problems.push(`${kubeId(svc)} not found; create it, or set spec.target.service to an existing Service`);
      }
      if (!stable) return { problems };
      problems.push(...checkStable(stable, ref.canary));
      const resolved = resolveVersions(stable, ref.canary);
      problems.push(...resolved.problems);
      const existing = await readIn(store, ref.namespace, ref.canary.deploymentName);
      if (existing && !isOurs(existing, ref)) {
        problems.push(`Deployment ${ref.namespace}/${ref.canary.deploymentName} already exists and is not Ramp's canary for rollout ${ref.rollout}; set spec.canary.deploymentName to a free name`);
      }
      const containers = stable.spec?.template.spec?.containers ?? [];
      const c = ref.canary.container === undefined ? containers[0] : containers.find((x) => x.name === ref.canary.container);
      return { problems, ...(resolved.versions ? { versions: resolved.versions } : {}), stableImage: c?.image };
    },

    /** Creates the canary Deployment, or brings Ramp's existing one to the wanted spec. Returns its uid. */
    async ensureCanary(ref: WorkloadRef): Promise<CallResults['ensureCanary']> {
      const store = stores.storeFor(workloadScope(ref));
      const stable = await readIn(store, ref.namespace, ref.stableDeployment, 'spec.target.deployment');
      if (!stable) throw ApplicationFailure.create({ message: `Deployment ${ref.namespace}/${ref.stableDeployment} disappeared during the rollout`, type: Failure.NotFound });
      if (!ref.versions) throw ApplicationFailure.create({ message: 'ensureCanary needs the versions the preflight resolved', type: Failure.Invalid });
      let wanted: DeploymentLike;
      try {
        wanted = buildCanaryDeployment(stable, ref.canary, ref.rollout, ref.versions);
      } catch (err) {
        throw ApplicationFailure.create({ message: (err as Error).message, type: Failure.Invalid });
      }
      const name = ref.canary.deploymentName;
      // The hash of what we want, kept on the object: an unchanged canary is not written again
      // (no new generation, no new ReplicaSet) when this activity is retried.
      const hash = specHash(wanted.spec);
      wanted.metadata = { ...wanted.metadata, annotations: { ...(wanted.metadata?.annotations ?? {}), [SPEC_HASH]: hash } };
      const c = wanted.spec!.template.spec!.containers;
      const image = (ref.canary.container ? c.find((x) => x.name === ref.canary.container) : c[0])?.image;
      const existing = await readIn(store, ref.namespace, name);
      if (existing && !isOurs(existing, ref)) {
        throw ApplicationFailure.create({ message: `Deployment ${ref.namespace}/${name} exists and is not Ramp's canary for rollout ${ref.rollout}; set spec.canary.deploymentName to a free name`, type: Failure.NotOurs });
      }
      const live = async () => (existing?.metadata?.uid ? existing : await readLive(ref.namespace, name));
      if (existing && existing.metadata?.annotations?.[SPEC_HASH] === hash) return { name, image, uid: (await live())?.metadata?.uid ?? '' };
      const note = { action: 'deploy-canary' as const, reason: `canary ${image ?? ''}`.trim() };
      let written: DeploymentLike;
      if (!existing) {
        // Created by an earlier attempt whose answer was lost: the retry reads and reconciles it.
        written = await store.create<DeploymentLike>(deploymentRef(ref.namespace, name, 'spec.canary.deploymentName'), wanted, note);
      } else {
        written = await store.patch<DeploymentLike>(deploymentRef(ref.namespace, name, 'spec.canary.deploymentName'), [
          { op: 'test', path: '/metadata/resourceVersion', value: existing.metadata?.resourceVersion },
          { op: 'replace', path: '/metadata/labels', value: wanted.metadata?.labels ?? {} },
          { op: 'replace', path: '/metadata/annotations', value: { ...(existing.metadata?.annotations ?? {}), ...(wanted.metadata?.annotations ?? {}) } },
          { op: 'replace', path: '/spec', value: wanted.spec },
        ], note);
        if (!written.metadata?.uid) written = (await readLive(ref.namespace, name)) ?? written;
      }
      return { name, image, uid: written.metadata?.uid ?? '', ...commitsOf(store) };
    },

    /**
     * Waits until the Deployment has rolled out completely, heartbeating its progress. Past
     * `deadlineAt` or on the controller's ProgressDeadlineExceeded it fails with ProgressDeadlineExceeded.
     */
    async waitAvailable(input: WaitInput): Promise<string> {
      const ctx = Context.current();
      for (;;) {
        const d = await readLive(input.namespace, input.name);
        if (!d) throw ApplicationFailure.create({ message: `Deployment ${input.namespace}/${input.name} not found while waiting for it`, type: Failure.NotFound });
        const r = deploymentReadiness(d);
        if (r.state === 'ready') return r.message;
        if (r.state === 'failed') throw ApplicationFailure.create({ message: r.message, type: Failure.ProgressDeadlineExceeded });
        if (Date.now() > input.deadlineAt) {
          throw ApplicationFailure.create({ message: `${r.message}; not ready within the progress deadline (spec.progressDeadline)`, type: Failure.ProgressDeadlineExceeded });
        }
        ctx.heartbeat(r.message);
        await Promise.race([sleep(pollMs), ctx.cancelled]);
      }
    },

    /**
     * Rolls stable to the canary's pod template. The write is guarded by the resourceVersion it read,
     * so it never overwrites a template someone else changed meanwhile; when anything else wrote the
     * Deployment in between (its controller, an HPA), it reads again and re-applies.
     */
    async promoteStable(ref: WorkloadRef): Promise<CallResults['promoteStable']> {
      const store = stores.storeFor(workloadScope(ref));
      for (let attempt = 0; ; attempt++) {
        const canary = await readIn(store, ref.namespace, ref.canary.deploymentName);
        const stable = await readIn(store, ref.namespace, ref.stableDeployment);
        if (!canary || !stable) {
          const missing = !canary ? `the canary Deployment ${ref.namespace}/${ref.canary.deploymentName}` : `the stable Deployment ${ref.namespace}/${ref.stableDeployment}`;
          throw ApplicationFailure.create({ message: `cannot promote: ${missing} was deleted during the rollout`, type: Failure.NotFound });
        }
        if (!ref.versions) throw ApplicationFailure.create({ message: 'promoteStable needs the versions the preflight resolved', type: Failure.Invalid });
        const inGit = store.inGit(deploymentRef(ref.namespace, ref.stableDeployment));
        const template = inGit ? gitPromotedStableTemplate(stable.spec!.template, canary.spec!.template) : promotedStableTemplate(canary.spec!.template, ref.versions);
        const image = template.spec?.containers.find((c) => ref.canary.container === undefined || c.name === ref.canary.container)?.image;
        if (JSON.stringify(template) === JSON.stringify(stable.spec!.template)) return { image };
        try {
          await store.patch(deploymentRef(ref.namespace, ref.stableDeployment, 'spec.target.deployment'), [
            { op: 'test', path: '/metadata/resourceVersion', value: stable.metadata?.resourceVersion },
            { op: 'replace', path: '/spec/template', value: template },
          ], { action: 'promote', reason: `stable takes ${image ?? 'the canary\'s pod template'}` });
          return { image, ...commitsOf(store) };
        } catch (err) {
          if (!(err instanceof ApplicationFailure) || err.type !== Failure.Conflict || attempt >= PROMOTE_CONFLICT_RETRIES) throw err;
        }
      }
    },

    /**
     * Scales the canary to zero and deletes it; absent counts as done. Only ever touches Ramp's canary:
     * a Deployment that replaced it under the same name (another uid) is left alone, and the delete
     * carries the uid as a precondition, so a replacement in between is never deleted either.
     */
    async removeCanary(ref: WorkloadRef): Promise<'deleted' | 'absent'> {
      const name = ref.canary.deploymentName;
      const t = deployment(ref.namespace, name, 'spec.canary.deploymentName');
      const store = stores.storeFor(workloadScope(ref));
      const d = await readIn(store, ref.namespace, name);
      if (!d) return 'absent';
      // Ramp's canary was deleted and another Deployment took its name: Ramp's is gone, this one is not Ramp's.
      if (!store.inGit(deploymentRef(ref.namespace, name)) && ref.canaryUid !== undefined && d.metadata?.uid !== ref.canaryUid) return 'absent';
      if (!isOurs(d, ref)) {
        throw ApplicationFailure.create({
          message: `refusing to delete Deployment ${ref.namespace}/${name}: it is not Ramp's canary for rollout ${ref.rollout} (its labels were changed); delete it yourself if it is a leftover`,
          type: Failure.NotOurs,
        });
      }
      // In git the canary's file is removed in one commit; the agent prunes the Deployment.
      if (store.inGit(deploymentRef(ref.namespace, name))) return store.delete(deploymentRef(ref.namespace, name), undefined, { action: 'cleanup-canary' });
      const uid = d.metadata!.uid!;
      if ((d.spec?.replicas ?? 0) > 0) {
        try {
          await apps.patchNamespacedDeploymentScale(
            { name, namespace: ref.namespace, body: { spec: { replicas: 0 } } },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          );
        } catch (err) {
          if (isAbsent(err)) return 'absent';
          throw kubeFailure(err, t, 'patch');
        }
      }
      return kubeDelete(t, () => apps.deleteNamespacedDeployment({ name, namespace: ref.namespace, propagationPolicy: 'Background', body: { preconditions: { uid } } }));
    },
  };
}

export type WorkloadActivities = ReturnType<typeof createWorkloadActivities>;
