/** Picks the traffic router for a rollout's provider. */
import type * as k8s from '@kubernetes/client-node';
import { createIstioRouter } from './istio';
import type { TrafficRef, TrafficRouter } from './router';

/** The TrafficRouter for `ref.traffic.provider`. */
export function createTrafficRouter(kube: k8s.KubeConfig, ref: TrafficRef): TrafficRouter {
  const provider = ref.traffic.provider;
  switch (provider) {
    case 'istio':
      return createIstioRouter(kube, ref);
    default: {
      // A provider the schema accepts but this switch misses fails the type check here.
      const unknown: never = provider;
      throw new Error(`traffic provider ${JSON.stringify(unknown)} is not supported; use "istio"`);
    }
  }
}
