/**
 * What the rollout workflow tells its worker about itself, through a Temporal sink: the worker turns
 * it into Prometheus metrics and log fields (src/worker/rollouts.ts). Sinks carry data out of the
 * workflow sandbox without adding anything to history, and the worker registers this one with
 * `callDuringReplay: false`, so a replayed workflow task reports nothing twice
 * (docs/decisions/0018-worker-observability.md).
 */
import type { Sinks } from '@temporalio/workflow';

/** One analysis look that reached a decision, as the metrics label it. */
export interface ObservedVerdict {
  /** `sequential` or `threshold` (a judged analysis), `metrics` (an analysis with its own metric thresholds). */
  judge: string;
  /** `continue`, `promote`, `rollback`, `inconclusive` or `error`. */
  decision: string;
  /** The step the rollout was at when the look came back, 0-based. */
  step: number;
}

/** The rollout as its workflow sees it at the end of a workflow task. */
export interface RolloutObservation {
  /** The Rollout's namespace and metadata.name. */
  rollout: { namespace: string; name: string };
  phase: string;
  /** When the current phase began, ISO 8601 (workflow time). */
  phaseSince: string;
  /** The current step, 0-based (equal to `steps` once every step is done). */
  step: number;
  steps: number;
  /** The canary's traffic weight, percent. */
  canaryWeight: number;
  /** Looks decided since the previous observation of this run, oldest first; each is reported once. */
  verdicts: ObservedVerdict[];
  /** How the rollout ended; present in exactly one observation, the run's last. */
  outcome?: string;
}

/** The sink the rollout workflow calls; the worker implements it (src/worker/rollouts.ts). */
export interface RampSinks extends Sinks {
  ramp: {
    /** The rollout's state after a workflow task, with what is new since the last one. */
    rollout(observation: RolloutObservation): void;
  };
}
