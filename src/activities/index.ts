/** Every activity the worker registers, built from injected clients. */
import type * as k8s from '@kubernetes/client-node';
import type { AxiosInstance } from 'axios';
import type { RolloutCalls } from '../domain/rollout/calls';
import { createDoctorActivities } from './doctor';
import { createMetricsActivities } from './metrics/activities';
import type { MetricsProviders } from './metrics/provider';
import { createPreflightActivities } from './preflight';
import { createTrafficActivities } from './traffic/activities';
import { createWorkloadActivities } from './workload';

export interface ActivityDeps {
  kube: k8s.KubeConfig;
  http: AxiosInstance;
  prometheusUrl: string;
  /** The metrics providers analyses may name (src/activities/metrics/factory.ts). */
  metrics: MetricsProviders;
}

export function createActivities(deps: ActivityDeps) {
  const workload = createWorkloadActivities({ kube: deps.kube });
  const traffic = createTrafficActivities({ kube: deps.kube });
  const activities = {
    ...createDoctorActivities(deps),
    ...workload,
    ...traffic,
    ...createPreflightActivities({ workload, traffic }),
    ...createMetricsActivities({ metrics: deps.metrics }),
  };
  // The rollout state machine's calls, exactly as it makes them: a mismatch fails the type check here.
  const calls: RolloutCalls = activities;
  return { ...activities, ...calls };
}

export type RampActivities = ReturnType<typeof createActivities>;
