/**
 * The traffic router interface: one implementation per provider (istio.ts today; Gateway API and
 * GitOps later), chosen by factory.ts. Every method is idempotent — a retried activity, or one
 * run twice after a worker crash, leaves the cluster in the same state.
 */
import type { Routing, TrafficSpec } from '../../domain/spec/schema';

/** Everything a router needs to find the objects it manages. Plain JSON: it travels in activity inputs. */
export interface TrafficRef {
  namespace: string;
  traffic: TrafficSpec;
  /** The version label that tells stable pods from canary pods (subset selectors, canary Service selector). */
  versionLabel: { key: string; stable: string; canary: string };
  /** The Service in front of the stable Deployment (copied for a canary Service that does not exist). */
  targetService: string;
}

/** Current split of one managed route, in percent; stable + canary = 100. */
export interface Weights {
  stable: number;
  canary: number;
}

/**
 * The pre-rollout state of everything the router may change, recorded once before the first change
 * and kept in workflow state, so promotion cleanup and rollback can put it back exactly.
 */
export interface TrafficSnapshot {
  /** Each managed HTTP route of the VirtualService, by name ('' for an unnamed default route), as it was. */
  routes: { name: string; route: unknown[] }[];
  /** Subset mode: the DestinationRule's `spec.subsets` as they were (undefined when it had none). */
  subsets?: unknown[];
  /** Service mode: true when Ramp created the canary Service, so cleanup deletes it. */
  createdCanaryService?: boolean;
  routing: Routing['mode'];
}

export interface TrafficRouter {
  /** Throws a non-retryable `TargetNotFound` ApplicationFailure naming every missing object (VirtualService, route, DestinationRule, Service). */
  preflight(): Promise<void>;
  /** Reads the current state of what the router will change. Makes no change. */
  snapshot(): Promise<TrafficSnapshot>;
  /** Ensures the canary destination exists (canary subset, or canary Service) and every managed route sends 0 % to it. */
  prepare(snapshot: TrafficSnapshot): Promise<Weights>;
  /** Sets the canary's share of every managed route in one write, reads it back and verifies it. */
  setWeight(canaryWeight: number): Promise<Weights>;
  /** The current split of the first managed route. */
  getWeights(): Promise<Weights>;
  /** Puts the managed routes back as in the snapshot (removes the canary route entries). Other routes are untouched. */
  restoreRoutes(snapshot: TrafficSnapshot): Promise<void>;
  /** Removes the canary destination (the canary subset, or a canary Service Ramp created), as in the snapshot. */
  removeCanaryDestination(snapshot: TrafficSnapshot): Promise<void>;
}
