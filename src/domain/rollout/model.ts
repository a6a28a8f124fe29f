/**
 * The rollout state machine's data: everything a rollout knows, as plain JSON. The workflow keeps
 * one value of `Rollout` and hands it to the next run unchanged at continue-as-new, so nothing of a
 * rollout lives anywhere else (no closures, no promises, no flags in the workflow function).
 */
import type { JudgedState } from '../analysis/judged';
import type { Measurement } from '../analysis/evaluate';
import type { ProposedObject } from './calls';
import type { RolloutStatus } from './state';

/** The version label that tells stable pods from canary pods, as resolved against the cluster. */
export interface Versions {
  key: string;
  /** The value on the stable's pods before the rollout. */
  stable: string;
  /** The value on the canary's pods. */
  canary: string;
  /** The key is part of the stable Deployment's (immutable) selector, so the stable's pods keep `stable` after a promotion. */
  stablePinned: boolean;
}

/** One change a traffic router makes for a rollout, in the order it makes them. */
export interface PlannedChange {
  /** The router's name for it, handed back to apply and undo it. */
  id: string;
  /** Before the canary Deployment exists (e.g. pinning Service selectors), or after it is ready. */
  when: 'beforeCanary' | 'afterCanary';
  /** In words, for `ramp validate --cluster` and the history: "create DestinationRule shop/web-ramp …". */
  description: string;
  /** This change sends traffic to the canary (a route), so while it is not undone the canary must stay. */
  carriesTraffic?: boolean;
}

/** What the preflight resolved: the router's snapshot and plan, and the versions. */
export interface Runtime {
  /** The router's record of everything it may change, as it was: opaque to the workflow, handed back to the router. */
  snapshot: unknown;
  changes: PlannedChange[];
  /** How the router's writes run: `local` (milliseconds: local activities) or `slow` (minutes: heartbeating activities). */
  writes: 'local' | 'slow';
  versions: Versions;
  /** uid of the canary Deployment Ramp created: deletes carry it as a precondition. */
  canaryUid?: string;
}

/** The inverse of one change Ramp made, recorded before the change is attempted. */
export type Inverse =
  /** Undo a traffic router change (by its id). */
  | { kind: 'traffic'; change: string; description: string; carriesTraffic?: boolean }
  /** Delete the canary Deployment. */
  | { kind: 'canary' }
  /**
   * Delete the branch an approval by merge proposed, so nobody merges a change the rollout moved
   * past. `tried`: the step's own delete failed; the unwind tries again.
   */
  | { kind: 'proposal'; branch: string; tried?: boolean };

/** What holds the forward path until a person resumes, promotes or aborts. */
export interface Hold {
  kind: 'user' | 'drift' | 'inconclusive';
  by?: string;
  reason?: string;
}

/** One analysis: the step's, or the rollout-wide (background) one. */
export interface AnalysisRun {
  source: 'step' | 'background';
  /** Epoch ms the next look is due. */
  nextAt: number;
  /** Epoch ms of the look being taken (set while its calls run). */
  lookAt?: number;
  looks: number;
  /** Judged analyses. */
  judged?: JudgedState;
  /** Threshold metrics: every measurement so far, one array per look. */
  measurements?: Measurement[][];
}

/** Where the forward path is. */
export type Stage =
  | { at: 'preflight' }
  /** Applying the router's change number `change` (of runtime.changes with the matching `when`). */
  | { at: 'prepare'; change: number }
  | { at: 'canary' }
  | { at: 'readiness'; deadlineAt: number }
  | { at: 'route'; change: number }
  | { at: 'steps'; index: number; entered: boolean; sub?: StepSub }
  | { at: 'promote'; part: 'begin' | 'stable' | 'wait' | 'end'; deadlineAt?: number }
  | { at: 'unwind'; unwind: Unwind }
  | { at: 'done' };

/** Inside the current step. */
export type StepSub =
  /** setWeight: `write` asks the router to set it unless the weights changed outside Ramp; `force` sets it regardless (drift policy). */
  | { kind: 'write'; force: boolean }
  /** pause: until `until` (epoch ms), or until resumed. */
  | { kind: 'pause'; until?: number }
  /** approval: until approved, or `timeoutAt`; by merge: once `proposal` (the next step's commit on a branch) is merged. */
  | { kind: 'approval'; timeoutAt?: number; proposal?: Proposal };

/** An approval by merge: the branch Ramp pushed the next step's commit to, and that commit. */
export interface Proposal {
  branch: string;
  commit: string;
  expect: ProposedObject;
}

/** Taking the saga back, for a rollback or after a promotion. */
export interface Unwind {
  why: 'rollback' | 'promoted';
  /** Inverses done so far (the saga is unwound from its end). */
  done: number;
  /** What could not be undone, in words with the fix. */
  left: string[];
  /** The undo of a change that routes traffic failed: the canary may still get traffic, so it is not deleted. */
  trafficLeft: boolean;
  /** The routes were put back (so the canary no longer gets traffic and the scale-down delay applies). */
  trafficUndone: boolean;
  /** Epoch ms until which the canary is kept after traffic left it (rollback's scale-down delay). */
  delayUntil?: number;
}

/** Requests from people that are still to act on. */
export interface Requests {
  abort?: { by?: string; reason: string };
  /** `promote --full`: skip every remaining step. */
  promoteFull?: { by?: string };
  /** A person paused the rollout: it holds at the next step boundary. */
  userPause?: { by?: string; reason?: string };
}

/** The call the workflow is running for the machine (one at a time). */
export interface CallInFlight {
  id: number;
  purpose: Purpose;
  /** A long wait that an abort may interrupt. */
  cancellable: boolean;
  /** A cancel was asked for. */
  cancelling?: boolean;
}

export type Purpose =
  | { kind: 'preflight' }
  | { kind: 'apply'; change: string }
  | { kind: 'ensureCanary' }
  | { kind: 'readiness' }
  | { kind: 'setWeight'; weight: number }
  | { kind: 'look'; source: AnalysisRun['source'] }
  | { kind: 'calibrate'; source: AnalysisRun['source'] }
  | { kind: 'promote'; part: 'begin' | 'stable' | 'wait' | 'end' }
  | { kind: 'undo'; inverse: Inverse }
  /** Approval by merge: push the next step's commit to a branch; wait until it is merged; delete the branch. */
  | { kind: 'propose' }
  | { kind: 'merge' }
  | { kind: 'withdraw'; branch: string }
  /** A step's routing feature: set (`set`), or taken back by the step (`remove`), by its change id. */
  | { kind: 'feature'; change: string; op: 'set' | 'remove' };

/** The whole rollout. */
export interface Rollout {
  status: RolloutStatus;
  requests: Requests;
  stage: Stage;
  runtime?: Runtime;
  /** Inverses of the changes made, in the order they were made. */
  saga: Inverse[];
  hold?: Hold;
  analyses: { step?: AnalysisRun; background?: AnalysisRun };
  call?: CallInFlight;
  nextCallId: number;
  /** The workflow was asked to cancel: roll back (or finish a promotion), then end as cancelled. */
  cancelRequested?: boolean;
  /** Runs before this one (continue-as-new). */
  runs: number;
}
