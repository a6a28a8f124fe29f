/**
 * The workload controller: checks the stable Deployment and Service, creates the canary
 * Deployment, waits for readiness (heartbeating), promotes stable to the canary's pod template,
 * and removes the canary. Every activity is idempotent: create-or-update, delete-if-present.
 */
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CanarySpec } from '../domain/spec/schema';
import {
  buildCanaryDeployment, checkStable, deploymentReadiness, DeploymentLike, MANAGED_BY, promotedStableTemplate, ROLLOUT_LABEL,
} from '../domain/workload/canary';
import { apiStatus, kubeFailure } from './kube-errors';

export interface WorkloadRef {
  namespace: string;
  /** metadata.name of the Rollout: the canary is labelled with it. */
  rollout: string;
  stableDeployment: string;
  service: string;
  canary: CanarySpec;
}

export interface WorkloadDeps {
  kube: k8s.KubeConfig;
  /** Poll interval while waiting for readiness. */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SPEC_HASH = 'ramp.dev/spec-hash';

function specHash(spec: unknown): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

export function createWorkloadActivities({ kube, pollMs = 500 }: WorkloadDeps) {
  const apps = kube.makeApiClient(k8s.AppsV1Api);
  const core = kube.makeApiClient(k8s.CoreV1Api);

  async function readDeployment(namespace: string, name: string): Promise<DeploymentLike | undefined> {
    try {
      return (await apps.readNamespacedDeployment({ name, namespace })) as DeploymentLike;
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw kubeFailure(err, `get Deployment ${namespace}/${name}`);
    }
  }

  function isOurs(d: DeploymentLike, ref: WorkloadRef): boolean {
    return d.metadata?.labels?.[MANAGED_BY.key] === MANAGED_BY.value && d.metadata?.labels?.[ROLLOUT_LABEL] === ref.rollout;
  }

  return {
    /** Fails fast (non-retryable TargetNotFound / InvalidTarget) when the stable Deployment or Service is missing or unusable. */
    async workloadPreflight(ref: WorkloadRef): Promise<{ stableImage?: string; stableReplicas: number }> {
      const missing: string[] = [];
      const stable = await readDeployment(ref.namespace, ref.stableDeployment);
      if (!stable) missing.push(`Deployment ${ref.namespace}/${ref.stableDeployment} (spec.target.deployment)`);
      try {
        await core.readNamespacedService({ name: ref.service, namespace: ref.namespace });
      } catch (err) {
        if (apiStatus(err) !== 404) throw kubeFailure(err, `get Service ${ref.namespace}/${ref.service}`);
        missing.push(`Service ${ref.namespace}/${ref.service} (spec.target.service)`);
      }
      if (missing.length > 0) {
        throw ApplicationFailure.nonRetryable(`not found: ${missing.join('; ')}. Create them or fix the spec; nothing was changed.`, 'TargetNotFound');
      }
      const problems = checkStable(stable!, ref.canary);
      const existing = await readDeployment(ref.namespace, ref.canary.deploymentName);
      if (existing && !isOurs(existing, ref)) {
        problems.push(`Deployment ${ref.namespace}/${ref.canary.deploymentName} already exists and is not Ramp's canary for rollout ${ref.rollout}; set spec.canary.deploymentName to a free name`);
      }
      if (problems.length > 0) throw ApplicationFailure.nonRetryable(problems.join('\n'), 'InvalidTarget');
      const containers = stable!.spec!.template.spec!.containers;
      const c = ref.canary.container === undefined ? containers[0] : containers.find((x) => x.name === ref.canary.container);
      return { stableImage: c?.image, stableReplicas: stable!.spec!.replicas ?? 1 };
    },

    /** Creates the canary Deployment, or brings Ramp's existing one to the wanted spec. */
    async ensureCanary(ref: WorkloadRef): Promise<{ name: string; image?: string }> {
      const stable = await readDeployment(ref.namespace, ref.stableDeployment);
      if (!stable) throw ApplicationFailure.nonRetryable(`Deployment ${ref.namespace}/${ref.stableDeployment} disappeared`, 'TargetNotFound');
      let wanted: DeploymentLike;
      try {
        wanted = buildCanaryDeployment(stable, ref.canary, ref.rollout);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidTarget');
      }
      const name = ref.canary.deploymentName;
      // The hash of what we want, kept on the object: an unchanged canary is not written again
      // (no new generation, no new ReplicaSet) when this activity is retried.
      const hash = specHash(wanted.spec);
      wanted.metadata = { ...wanted.metadata, annotations: { ...(wanted.metadata?.annotations ?? {}), [SPEC_HASH]: hash } };
      const existing = await readDeployment(ref.namespace, name);
      const c = wanted.spec!.template.spec!.containers;
      const image = (ref.canary.container ? c.find((x) => x.name === ref.canary.container) : c[0])?.image;
      if (existing && isOurs(existing, ref) && existing.metadata?.annotations?.[SPEC_HASH] === hash) return { name, image };
      try {
        if (!existing) {
          await apps.createNamespacedDeployment({ namespace: ref.namespace, body: wanted as k8s.V1Deployment });
        } else {
          if (!isOurs(existing, ref)) {
            throw ApplicationFailure.nonRetryable(`Deployment ${ref.namespace}/${name} exists and is not Ramp's canary for rollout ${ref.rollout}`, 'InvalidTarget');
          }
          wanted.metadata = { ...wanted.metadata, resourceVersion: existing.metadata?.resourceVersion };
          await apps.replaceNamespacedDeployment({ name, namespace: ref.namespace, body: wanted as k8s.V1Deployment });
        }
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw kubeFailure(err, `${existing ? 'update' : 'create'} Deployment ${ref.namespace}/${name}`);
      }
      return { name, image };
    },

    /**
     * Waits until the Deployment has rolled out completely, heartbeating its progress. Past
     * `deadlineAt` (epoch ms, fixed by the workflow so retries keep it) or on the controller's
     * ProgressDeadlineExceeded it fails non-retryably with type ProgressDeadlineExceeded.
     */
    async waitAvailable(input: { namespace: string; name: string; deadlineAt: number }): Promise<string> {
      const ctx = Context.current();
      for (;;) {
        const d = await readDeployment(input.namespace, input.name);
        if (!d) throw ApplicationFailure.nonRetryable(`Deployment ${input.namespace}/${input.name} not found while waiting for it`, 'TargetNotFound');
        const r = deploymentReadiness(d);
        if (r.state === 'ready') return r.message;
        if (r.state === 'failed') throw ApplicationFailure.nonRetryable(r.message, 'ProgressDeadlineExceeded');
        if (Date.now() > input.deadlineAt) {
          throw ApplicationFailure.nonRetryable(`${r.message}; not ready within the progress deadline (spec.progressDeadline)`, 'ProgressDeadlineExceeded');
        }
        ctx.heartbeat(r.message);
        await Promise.race([sleep(pollMs), ctx.cancelled]);
      }
    },

    /** Rolls stable to the canary's pod template (keeping stable's version label). */
    async promoteStable(ref: WorkloadRef): Promise<void> {
      const canary = await readDeployment(ref.namespace, ref.canary.deploymentName);
      const stable = await readDeployment(ref.namespace, ref.stableDeployment);
      if (!canary || !stable) {
        throw ApplicationFailure.nonRetryable(`cannot promote: ${!canary ? `canary Deployment ${ref.namespace}/${ref.canary.deploymentName}` : `stable Deployment ${ref.namespace}/${ref.stableDeployment}`} not found`, 'TargetNotFound');
      }
      const template = promotedStableTemplate(canary.spec!.template, ref.canary.versionLabel);
      if (JSON.stringify(template) === JSON.stringify(stable.spec!.template)) return; // already promoted
      try {
        await apps.patchNamespacedDeployment(
          {
            name: ref.stableDeployment,
            namespace: ref.namespace,
            body: [
              { op: 'test', path: '/metadata/resourceVersion', value: stable.metadata?.resourceVersion },
              { op: 'replace', path: '/spec/template', value: template },
            ],
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
        );
      } catch (err) {
        throw kubeFailure(err, `patch Deployment ${ref.namespace}/${ref.stableDeployment} (promote)`);
      }
    },

    /** Scales the canary to zero and deletes it; absent counts as done. Only ever touches Ramp's canary. */
    async removeCanary(ref: WorkloadRef): Promise<'deleted' | 'absent'> {
      const name = ref.canary.deploymentName;
      const d = await readDeployment(ref.namespace, name);
      if (!d) return 'absent';
      if (!isOurs(d, ref)) throw ApplicationFailure.nonRetryable(`refusing to delete Deployment ${ref.namespace}/${name}: it is not Ramp's canary for rollout ${ref.rollout}`, 'InvalidTarget');
      try {
        if ((d.spec?.replicas ?? 0) > 0) {
          await apps.patchNamespacedDeploymentScale(
            { name, namespace: ref.namespace, body: { spec: { replicas: 0 } } },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          );
        }
        await apps.deleteNamespacedDeployment({ name, namespace: ref.namespace, propagationPolicy: 'Background' });
      } catch (err) {
        if (apiStatus(err) === 404) return 'absent';
        throw kubeFailure(err, `remove canary Deployment ${ref.namespace}/${name}`);
      }
      return 'deleted';
    },
  };
}

export type WorkloadActivities = ReturnType<typeof createWorkloadActivities>;
