/** Every activity the worker registers, built from injected clients. */
import type * as k8s from '@kubernetes/client-node';
import type { AxiosInstance } from 'axios';
import { createDoctorActivities } from './doctor';
import { createMetricsActivities } from './metrics/activities';
import type { MetricsProvider } from './metrics/provider';
import { createTrafficActivities } from './traffic/activities';
import { createWorkloadActivities } from './workload';

export interface ActivityDeps {
  kube: k8s.KubeConfig;
  http: AxiosInstance;
  prometheusUrl: string;
  metrics: MetricsProvider;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createDoctorActivities(deps),
    ...createWorkloadActivities({ kube: deps.kube }),
    ...createTrafficActivities({ kube: deps.kube }),
    ...createMetricsActivities({ metrics: deps.metrics }),
  };
}

export type RampActivities = ReturnType<typeof createActivities>;
