/**
 * A rollout checked against a live cluster without starting it (`ramp validate --cluster`, `ramp
 * start --dry-run`): the rollout's own preflight — the worker's activity code, with the caller's
 * credentials — so the CLI finds exactly the problems a start would be refused for, all at once.
 * When there are none, the plan: what the rollout will create or change, in order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { kubeCall, target } from '../activities/kube-errors';
import { createPreflightActivities } from '../activities/preflight';
import { createTrafficActivities } from '../activities/traffic/activities';
import { createWorkloadActivities } from '../activities/workload';
import type { Weights } from '../domain/rollout/calls';
import { preflightArgs } from '../domain/rollout/machine';
import type { PlannedChange } from '../domain/rollout/model';
import { describeStep } from '../domain/rollout/state';
import type { ResolvedRollout } from '../domain/spec/schema';
import { buildCanaryDeployment, DeploymentLike, promotedStableTemplate } from '../domain/workload/canary';
import { Failure } from '../shared/failures';
import { loadKubeConfig } from '../infra/kube';

/** What the rollout will do, in order, as found on the cluster. */
export interface ClusterPlan {
  /** The apiserver checked, and the kubeconfig context used. */
  cluster: { server: string; context: string };
  /** The split of the managed routes now. */
  weights: Weights;
  /** The router's changes, in the order it makes them (`beforeCanary` ones before the canary exists). */
  changes: PlannedChange[];
  /** The canary Deployment the rollout creates. */
  canary: { namespace: string; name: string; container: string; image?: string; versionLabel: { key: string; value: string }; replicas: number };
  /** The steps, in words. */
  steps: string[];
  /** At promotion: the stable Deployment rolled to the canary's pod template. */
  promotion: { namespace: string; deployment: string; container: string; image?: string; versionLabel: { key: string; value: string } };
}

export type ClusterCheck = { ok: true; plan: ClusterPlan } | { ok: false; problems: string[] };

/** Thrown when the cluster could not be checked: no answer from the apiserver, or the caller's credentials were refused. */
export class ClusterUnreachableError extends Error {
  override name = 'ClusterUnreachableError';
}

/** Thrown when no usable kubeconfig is found; the message names the setting. */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

/** Failures that mean the cluster was not checked at all, rather than a problem with the rollout. */
const NOT_CHECKED: readonly string[] = [Failure.Unavailable, Failure.Unauthorized, Failure.Forbidden];

/**
 * The caller's kubeconfig, found as kubectl finds it: `--kubeconfig`, else KUBECONFIG (files
 * merged, the first one's context current), else in-cluster, else ~/.kube/config. Relative paths
 * are resolved with `resolve` (the user's directory).
 */
export function cliKubeConfig(flag: string | undefined, env: NodeJS.ProcessEnv, resolve: (p: string) => string): k8s.KubeConfig {
  const load = (file: string, setting: string) => {
    if (!fs.existsSync(file)) throw new KubeConfigError(`${setting}: ${file} not found`);
    const kc = new k8s.KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (err) {
      throw new KubeConfigError(`${setting}: ${file} is not a kubeconfig (${(err as Error).message})`);
    }
    return kc;
  };
  let kc: k8s.KubeConfig;
  if (flag) {
    kc = load(resolve(flag), '--kubeconfig');
  } else if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(path.delimiter).filter(Boolean).map(resolve);
    const found = files.filter((f) => fs.existsSync(f));
    if (found.length === 0) throw new KubeConfigError(`KUBECONFIG: none of ${files.join(', ')} exists`);
    kc = load(found[0]!, 'KUBECONFIG');
    for (const f of found.slice(1)) {
      try {
        kc.mergeConfig(load(f, 'KUBECONFIG'), true);
      } catch (err) {
        throw new KubeConfigError(`KUBECONFIG: cannot merge ${f} into ${found[0]} (${(err as Error).message}); pass one file with --kubeconfig`);
      }
    }
  } else {
    try {
      kc = loadKubeConfig(undefined, env);
    } catch (err) {
      throw new KubeConfigError(`${(err as Error).message} (or pass --kubeconfig)`);
    }
  }
  if (!kc.getCurrentCluster()) throw new KubeConfigError(`the kubeconfig's current context "${kc.getCurrentContext()}" names no cluster; pass --kubeconfig or set KUBECONFIG`);
  return kc;
}

/** The container `image` applies to: the named one, else the first. */
function containerOf(template: DeploymentLike['spec'], name: string | undefined) {
  const containers = template?.template.spec?.containers ?? [];
  return name === undefined ? containers[0] : containers.find((c) => c.name === name);
}

/**
 * Runs the rollout's preflight against the cluster `kube` points at and, when it finds no problem,
 * builds the plan. Writes nothing. Throws ClusterUnreachableError when the cluster could not be
 * checked (after `timeoutMs` at the latest).
 */
export async function checkOnCluster(spec: ResolvedRollout, kube: k8s.KubeConfig, timeoutMs = 30_000): Promise<ClusterCheck> {
  const server = kube.getCurrentCluster()?.server ?? '(no server)';
  const who = `context ${kube.getCurrentContext()}, user ${kube.getCurrentUser()?.name ?? '(none)'}`;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClusterUnreachableError(`no answer from the Kubernetes apiserver at ${server} within ${timeoutMs / 1000}s (${who})`)), timeoutMs);
  });
  try {
    return await Promise.race([check(spec, kube, server), deadline]);
  } catch (err) {
    if (err instanceof ApplicationFailure && NOT_CHECKED.includes(err.type ?? '')) {
      // The failure's own hint speaks of the worker; here it is the CLI's credentials that were used.
      throw new ClusterUnreachableError(`cannot check the rollout on ${server} (${who}): ${err.message}`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function check(spec: ResolvedRollout, kube: k8s.KubeConfig, server: string): Promise<ClusterCheck> {
  try {
    return await plan(spec, kube, server);
  } catch (err) {
    // As in a rollout: a preflight failure other than an unreachable cluster is a problem to fix before starting.
    if (err instanceof ApplicationFailure && !NOT_CHECKED.includes(err.type ?? '')) return { ok: false, problems: [err.message] };
    throw err;
  }
}

async function plan(spec: ResolvedRollout, kube: k8s.KubeConfig, server: string): Promise<ClusterCheck> {
  const workload = createWorkloadActivities({ kube });
  const traffic = createTrafficActivities({ kube });
  const res = await createPreflightActivities({ workload, traffic }).preflight(...preflightArgs(spec));
  if (!res.ok) return { ok: false, problems: res.problems };

  // The canary exactly as the rollout will create it: built from the stable Deployment as it is now.
  const ns = spec.metadata.namespace;
  const c = spec.spec.canary;
  const t = target('Deployment', ns, spec.spec.target.deployment, 'spec.target.deployment');
  const stable = await kubeCall(t, 'get', () => kube.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: t.name, namespace: ns }) as Promise<DeploymentLike>);
  const versions = res.runtime.versions;
  const canary = buildCanaryDeployment(stable, c, spec.metadata.name, versions);
  const canaryContainer = containerOf(canary.spec, c.container);
  const promoted = promotedStableTemplate(canary.spec!.template, versions);
  const promotedContainer = promoted.spec?.containers.find((x) => x.name === canaryContainer?.name);
  return {
    ok: true,
    plan: {
      cluster: { server, context: kube.getCurrentContext() },
      weights: res.weights,
      changes: res.runtime.changes,
      canary: {
        namespace: ns, name: c.deploymentName, container: canaryContainer?.name ?? '(none)', image: canaryContainer?.image,
        versionLabel: { key: versions.key, value: versions.canary }, replicas: canary.spec?.replicas ?? c.replicas,
      },
      steps: spec.spec.steps.map(describeStep),
      promotion: {
        namespace: ns, deployment: spec.spec.target.deployment, container: promotedContainer?.name ?? '(none)', image: promotedContainer?.image,
        // The value the stable's pods carry after the promotion (decisions/0015).
        versionLabel: { key: versions.key, value: promoted.metadata?.labels?.[versions.key] ?? versions.stable },
      },
    },
  };
}
