/** Picks the traffic router for a rollout's provider. */
import type * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { TrafficRef } from '../../domain/rollout/calls';
import { Failure } from '../../shared/failures';
import { createIstioRouter } from './istio';
import type { TrafficRouter } from './router';

/** The TrafficRouter for `ref.traffic.provider`. */
export function createTrafficRouter(kube: k8s.KubeConfig, ref: TrafficRef): TrafficRouter {
  const traffic = ref.traffic;
  switch (traffic.provider) {
    case 'istio':
      return createIstioRouter(kube, { ...ref, traffic });
    case 'gateway-api':
      throw ApplicationFailure.create({ message: 'the gateway-api traffic router is not in this worker yet', type: Failure.Invalid, nonRetryable: true });
  }
}
