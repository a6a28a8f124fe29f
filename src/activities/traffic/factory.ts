/** Picks the traffic router for a rollout's provider. */
import type * as k8s from '@kubernetes/client-node';
import type { TrafficRef } from '../../domain/rollout/calls';
import { createGatewayRouter } from './gateway';
import { createIstioRouter } from './istio';
import type { TrafficRouter } from './router';
import type { ObjectStore } from '../store/store';
import type { StoreScope } from '../store/factory';

/** The TrafficRouter for `ref.traffic.provider`; the Istio router reads and writes through `store` (default: the cluster). */
export function createTrafficRouter(kube: k8s.KubeConfig, ref: TrafficRef, store?: ObjectStore): TrafficRouter {
  const traffic = ref.traffic;
  switch (traffic.provider) {
    case 'istio':
      return createIstioRouter(kube, { ...ref, traffic }, store);
    case 'gateway-api':
      return createGatewayRouter(kube, { ...ref, traffic });
  }
}

/** What a traffic call's store needs to know about the rollout. */
export function trafficScope(ref: TrafficRef): StoreScope {
  const t = ref.traffic;
  return {
    namespace: ref.namespace, rollout: ref.rollout, stableDeployment: ref.stableDeployment, canaryDeployment: ref.canaryDeployment,
    ...(ref.gitops ? { gitops: ref.gitops } : {}),
    ...(t.provider === 'istio' ? { virtualService: t.virtualService.name } : {}),
    ...(t.provider === 'istio' && t.routing.mode === 'subset' && t.routing.destinationRule ? { destinationRule: t.routing.destinationRule } : {}),
  };
}
