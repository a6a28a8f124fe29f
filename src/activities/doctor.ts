/**
 * Activities that check the worker can reach what rollouts need: the Kubernetes API and the
 * metrics backend. The doctor workflow runs them; `ramp doctor` and the smoke tests use it.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { AxiosInstance } from 'axios';

export interface DoctorDeps {
  kube: k8s.KubeConfig;
  http: AxiosInstance;
  prometheusUrl: string;
}

export interface KubernetesCheck {
  server: string;
  version: string;
}

export interface PrometheusCheck {
  url: string;
  version: string;
}

export function createDoctorActivities({ kube, http, prometheusUrl }: DoctorDeps) {
  return {
    /** The API server's address and version, as the worker's credentials see it. */
    async checkKubernetes(): Promise<KubernetesCheck> {
      const server = kube.getCurrentCluster()?.server ?? '(none)';
      try {
        const v = await kube.makeApiClient(k8s.VersionApi).getCode();
        return { server, version: v.gitVersion };
      } catch (err) {
        throw ApplicationFailure.retryable(`GET ${server}/version failed: ${(err as Error).message}`, 'KubernetesUnreachable');
      }
    },

    /** Prometheus's build version from its status API. */
    async checkPrometheus(): Promise<PrometheusCheck> {
      const url = `${prometheusUrl.replace(/\/$/, '')}/api/v1/status/buildinfo`;
      try {
        const res = await http.get<{ data: { version: string } }>(url, { timeout: 5000 });
        return { url: prometheusUrl, version: res.data.data.version };
      } catch (err) {
        throw ApplicationFailure.retryable(`GET ${url} failed: ${(err as Error).message}`, 'MetricsUnreachable');
      }
    },
  };
}

export type DoctorActivities = ReturnType<typeof createDoctorActivities>;
