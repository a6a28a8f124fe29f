/** Picks the traffic router for a rollout's provider. */
import type * as k8s from '@kubernetes/client-node';
import type { TrafficRef } from '../../domain/rollout/calls';
import { createGatewayRouter } from './gateway';
import { createIstioRouter } from './istio';
import type { TrafficRouter } from './router';

/** The TrafficRouter for `ref.traffic.provider`. */
export function createTrafficRouter(kube: k8s.KubeConfig, ref: TrafficRef): TrafficRouter {
  const traffic = ref.traffic;
  switch (traffic.provider) {
    case 'istio':
      return createIstioRouter(kube, { ...ref, traffic });
    case 'gateway-api':
      return createGatewayRouter(kube, { ...ref, traffic });
  }
}
