/**
 * Traffic activities: plain-JSON wrappers over the TrafficRouter, so the workflow passes a
 * TrafficRef and the router's opaque snapshot, and the worker builds the router with its own
 * credentials.
 */
import type * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { CallResults, ProposedObject, RouteFeature, SetWeightInput, TrafficRef } from '../../domain/rollout/calls';
import { Failure } from '../../shared/failures';
import { createTrafficRouter, trafficScope } from './factory';
import type { Inspection, TrafficRouter } from './router';
import { createStores, Stores } from '../store/factory';

export interface TrafficDeps {
  kube: k8s.KubeConfig;
  /** Where objects are written (the cluster, or git for a GitOps rollout); default: built from `kube`. */
  stores?: Stores;
}

export function createTrafficActivities({ kube, stores = createStores(kube) }: TrafficDeps) {
  /** Runs one router call; the commits its store pushed (git mode) come back with the result, into history. */
  async function withRouter<T extends object>(ref: TrafficRef, fn: (r: TrafficRouter) => Promise<T>): Promise<T & { commits?: string[] }> {
    const store = stores.storeFor(trafficScope(ref));
    const result = await fn(createTrafficRouter(kube, ref, store));
    return store.commits.length > 0 ? { ...result, commits: [...store.commits] } : result;
  }
  const router = (ref: TrafficRef) => createTrafficRouter(kube, ref, stores.storeFor(trafficScope(ref)));
  return {
    /** Inspects the rollout's traffic objects (no writes): problems, planned changes, snapshot. */
    async inspectTraffic(ref: TrafficRef): Promise<Inspection & { writes: 'local' | 'slow' }> {
      const r = router(ref);
      return { ...(await r.inspect()), writes: r.writes };
    },
    /** Makes one of the router's planned changes. */
    async trafficApply(ref: TrafficRef, snapshot: unknown, change: string): Promise<CallResults['trafficApply']> {
      return withRouter(ref, (r) => r.apply(snapshot, change));
    },
    /** Sets the canary weight of every managed route in one write, unless it was changed outside Ramp. */
    async trafficSetWeight(ref: TrafficRef, snapshot: unknown, input: SetWeightInput): Promise<CallResults['trafficSetWeight']> {
      return withRouter(ref, (r) => r.setWeight(snapshot, input));
    },
    /**
     * Approval by merge: the weight step's change as a commit on `input.branch` instead of the
     * target branch; nothing is live until someone merges it.
     */
    async trafficPropose(ref: TrafficRef, snapshot: unknown, input: SetWeightInput & { branch: string }): Promise<CallResults['trafficPropose']> {
      if (!ref.gitops || ref.gitops.mode !== 'git') {
        throw ApplicationFailure.create({ message: 'approval by merge needs spec.gitops.mode: git; use via: command', type: Failure.Invalid });
      }
      const proposed: ProposedObject[] = [];
      const store = stores.storeFor(trafficScope(ref), { branch: input.branch, onProposed: (p) => proposed.push(p) });
      const { branch, ...weight } = input;
      const res = await createTrafficRouter(kube, ref, store).setWeight(snapshot, weight);
      if (!res.applied) return res;
      const commit = store.commits.at(-1);
      if (commit === undefined || proposed.length !== 1) {
        if (proposed.length > 1) throw ApplicationFailure.create({ message: `approval by merge proposes one object's change, but the weight step changed ${proposed.length}`, type: Failure.Invalid });
        return { applied: true, weights: res.weights };
      }
      return { applied: true, weights: res.weights, proposal: { branch, commit, expect: proposed[0]! } };
    },
    /** Takes one planned change back; objects already gone count as undone. */
    async trafficUndo(ref: TrafficRef, snapshot: unknown, change: string): Promise<CallResults['trafficUndo']> {
      return withRouter(ref, async (r) => ({ done: await r.undo(snapshot, change) }));
    },
    /** Promotion hooks around the stable's roll. */
    async trafficPromote(ref: TrafficRef, snapshot: unknown, stage: 'begin' | 'end'): Promise<CallResults['trafficPromote']> {
      return withRouter(ref, (r) => r.promote(snapshot, stage));
    },
    /** Adds or replaces a routing feature of a step (header route, mirror, sticky sessions). */
    async trafficSetFeature(ref: TrafficRef, snapshot: unknown, feature: RouteFeature): Promise<CallResults['trafficSetFeature']> {
      return withRouter(ref, (r) => r.setFeature(snapshot, feature));
    },
  };
}

export type TrafficActivities = ReturnType<typeof createTrafficActivities>;
