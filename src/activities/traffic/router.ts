/**
 * The traffic router interface: one implementation per provider (istio.ts today), chosen by
 * factory.ts. The workflow never sees a provider's objects: a router inspects the cluster once and
 * returns its plan (the changes it will make, in order) and a snapshot of everything it may touch;
 * afterwards it is handed its snapshot back with each call. Every method is idempotent — a retried
 * activity, or one run twice after a worker crash, leaves the cluster in the same state.
 */
import type { RouteFeature, SetWeightInput, SetWeightResult, Weights } from '../../domain/rollout/calls';
import type { PlannedChange } from '../../domain/rollout/model';

/** What a router found before any change. */
export interface Inspection {
  /** Every problem that stops the rollout, each with its fix; empty when it can go ahead. */
  problems: string[];
  /** The changes the router will make, in order; each is applied and undone by its id. */
  changes: PlannedChange[];
  /** Everything the router may change, as it is now, to put back later. Opaque to the workflow. */
  snapshot: unknown;
  /** The split before the rollout (canary 0 unless a canary destination already gets traffic). */
  weights: Weights;
}

export interface TrafficRouter {
  /** How this router's writes run: `local` for API calls that take milliseconds, `slow` for writes that take minutes (a commit and its sync). */
  readonly writes: 'local' | 'slow';
  /** Reads every object the rollout's traffic needs; lists every problem; writes nothing. */
  inspect(): Promise<Inspection>;
  /** Makes one planned change; returns the snapshot (updated with what it created) and the weights when the change sets them. */
  apply(snapshot: unknown, change: string): Promise<{ snapshot: unknown; weights?: Weights }>;
  /**
   * Sets the canary's share of every managed route in one write and verifies it — unless the
   * weights found are neither `expected` (what Ramp set last) nor the target, and `force` is false:
   * then nothing is written and the change made outside Ramp is reported.
   */
  setWeight(snapshot: unknown, input: SetWeightInput): Promise<SetWeightResult>;
  /** Takes one planned change back as in the snapshot; objects already gone count as undone. */
  undo(snapshot: unknown, change: string): Promise<'undone' | 'absent'>;
  /**
   * Promotion: `begin` before the stable Deployment is rolled to the new version, `end` once it is
   * Available, so that no route points at a destination without ready pods in between. Returns the
   * snapshot to undo from afterwards (the stable's destination now selects the new version).
   */
  promote(snapshot: unknown, stage: 'begin' | 'end'): Promise<{ snapshot: unknown }>;
  /**
   * Adds a routing feature (a header route, a mirror, sticky sessions) to the managed routes, or
   * replaces the one with the same change id, in one guarded write; returns the snapshot with what
   * it needs to take the feature back with `undo(snapshot, featureChange(feature))`. Routes and
   * entries Ramp did not add stay untouched. A feature the provider's API cannot express is a
   * non-retryable `Invalid` failure naming the step.
   */
  setFeature(snapshot: unknown, feature: RouteFeature): Promise<{ snapshot: unknown }>;
}
