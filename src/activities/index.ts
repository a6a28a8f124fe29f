/** Every activity the worker registers, built from injected clients. */
import type * as k8s from '@kubernetes/client-node';
import type { AxiosInstance } from 'axios';
import type { RolloutCalls } from '../domain/rollout/calls';
import { createDoctorActivities } from './doctor';
import { createProposalActivities } from './gitops/proposal';
import { createMetricsActivities } from './metrics/activities';
import type { MetricsProviders } from './metrics/provider';
import { createPreflightActivities } from './preflight';
import { createTrafficActivities } from './traffic/activities';
import { createWorkloadActivities } from './workload';
import { createStores, DEFAULT_GIT_SETTINGS, GitWorkerSettings } from './store/factory';

export interface ActivityDeps {
  kube: k8s.KubeConfig;
  http: AxiosInstance;
  prometheusUrl: string;
  /** The metrics providers analyses may name (src/activities/metrics/factory.ts). */
  metrics: MetricsProviders;
  /** GitOps rollouts: the worker's clone folder and commit author. */
  git?: GitWorkerSettings;
}

export function createActivities(deps: ActivityDeps) {
  // One set of stores: every call of a rollout shares its git clone.
  const stores = createStores(deps.kube, deps.git ?? DEFAULT_GIT_SETTINGS);
  const workload = createWorkloadActivities({ kube: deps.kube, stores });
  const traffic = createTrafficActivities({ kube: deps.kube, stores });
  const activities = {
    ...createDoctorActivities(deps),
    ...workload,
    ...traffic,
    ...createPreflightActivities({ workload, traffic }),
    ...createMetricsActivities({ metrics: deps.metrics }),
    ...createProposalActivities({ stores }),
  };
  // The rollout state machine's calls, exactly as it makes them: a mismatch fails the type check here.
  const calls: RolloutCalls = activities;
  return { ...activities, ...calls };
}

export type RampActivities = ReturnType<typeof createActivities>;
