/** Picks the traffic router for a rollout's provider. */
import type * as k8s from '@kubernetes/client-node';
import type { TrafficRef } from '../../domain/rollout/calls';
import { createIstioRouter } from './istio';
import type { TrafficRouter } from './router';

/** The TrafficRouter for `ref.traffic.provider`. */
export function createTrafficRouter(kube: k8s.KubeConfig, ref: TrafficRef): TrafficRouter {
  const provider = ref.traffic.provider;
  switch (provider) {
    case 'istio':
      return createIstioRouter(kube, ref);
  }
}
