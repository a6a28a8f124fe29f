/**
 * Traffic activities: plain-JSON wrappers over the TrafficRouter, so the workflow passes a
 * TrafficRef (and the snapshot it keeps) and the worker builds the router with its own credentials.
 */
import type * as k8s from '@kubernetes/client-node';
import { createTrafficRouter } from './factory';
import type { TrafficRef, TrafficSnapshot, Weights } from './router';

export interface TrafficDeps {
  kube: k8s.KubeConfig;
}

export function createTrafficActivities({ kube }: TrafficDeps) {
  const router = (ref: TrafficRef) => createTrafficRouter(kube, ref);
  return {
    /** Checks every object the rollout's traffic needs exists; non-retryable `TargetNotFound` lists all that do not. */
    async trafficPreflight(ref: TrafficRef): Promise<void> {
      await router(ref).preflight();
    },
    /** The pre-rollout state of the managed routes and canary destination; keep it to restore later. */
    async trafficSnapshot(ref: TrafficRef): Promise<TrafficSnapshot> {
      return router(ref).snapshot();
    },
    /** Creates the canary destination and sets canary weight 0 in every managed route. */
    async trafficPrepare(ref: TrafficRef, snapshot: TrafficSnapshot): Promise<Weights> {
      return router(ref).prepare(snapshot);
    },
    /** Sets the canary weight (0–100) of every managed route in one write and verifies it. */
    async trafficSetWeight(ref: TrafficRef, weight: number): Promise<Weights> {
      return router(ref).setWeight(weight);
    },
    /** The current split of the first managed route. */
    async trafficGetWeights(ref: TrafficRef): Promise<Weights> {
      return router(ref).getWeights();
    },
    /** Puts the managed routes back as in the snapshot. */
    async trafficRestoreRoutes(ref: TrafficRef, snapshot: TrafficSnapshot): Promise<void> {
      await router(ref).restoreRoutes(snapshot);
    },
    /** Removes the canary subset or the canary Service Ramp created. */
    async trafficRemoveCanaryDestination(ref: TrafficRef, snapshot: TrafficSnapshot): Promise<void> {
      await router(ref).removeCanaryDestination(snapshot);
    },
  };
}

export type TrafficActivities = ReturnType<typeof createTrafficActivities>;
