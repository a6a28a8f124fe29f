/**
 * The calls the rollout state machine asks the workflow to make, with their arguments and results,
 * as plain data. The activities implement exactly these signatures (the workflow checks it at
 * compile time); the machine names no Kubernetes object kinds: what a router changes is opaque to it.
 */
import type { CounterQueryTemplates } from '../analysis/counters';
import type { ArmCounters } from '../analysis/judge';
import type { Measurement } from '../analysis/evaluate';
import type { AnalysisSpec } from '../spec/analysis';
import type { CanarySpec, TrafficSpec } from '../spec/schema';
import type { GitOpsSpec } from '../spec/gitops';
import type { Runtime, Versions } from './model';

/** Everything the workload activities need to find the stable and the canary. */
export interface WorkloadRef {
  namespace: string;
  /** metadata.name of the Rollout: the canary is labelled with it. */
  rollout: string;
  stableDeployment: string;
  service: string;
  canary: CanarySpec;
  /** Resolved at preflight (absent in the preflight's own call). */
  versions?: Versions;
  /** uid of the canary Ramp created: its delete carries it as a precondition. */
  canaryUid?: string;
  /** The manifests live in git: where, and how changes reach the cluster. */
  gitops?: GitOpsSpec;
}

/** Everything a traffic router needs to find the objects it manages. */
export interface TrafficRef {
  namespace: string;
  /** metadata.name of the Rollout: objects a router creates are named after it. */
  rollout: string;
  traffic: TrafficSpec;
  /** The Service in front of the stable Deployment. */
  targetService: string;
  /** Resolved at preflight (absent in the preflight's own call). */
  versions?: Versions;
  /** The stable Deployment and the canary's name, for routers that select pods. */
  stableDeployment: string;
  canaryDeployment: string;
  /** The manifests live in git: where, and how changes reach the cluster. */
  gitops?: GitOpsSpec;
}

/** A TrafficRef whose traffic is one router's: what that router is built from. */
export type TrafficRefOf<T extends TrafficSpec> = TrafficRef & { traffic: T };

/** How a request value is compared: exactly, by prefix, or by an RE2 regular expression. */
export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

/** One condition of a header route; a request matches a route when it meets all of them. */
export type RequestMatch =
  | { header: string; value: StringMatch }
  | { cookie: string; value: StringMatch }
  | { query: string; value: StringMatch };

/**
 * A routing feature a step adds to the managed routes besides the weights, each added as its own
 * entry (or field) that Ramp records and takes back by its change id (`featureChange`):
 * - `header`: requests matching `match` go to the canary whatever the weight (Argo's setHeaderRoute);
 * - `mirror`: a copy of `percent` % of the managed routes' requests also goes to the canary, its
 *   responses discarded;
 * - `sticky`: canary responses set `cookie`, and requests carrying it keep going to the canary.
 */
export type RouteFeature =
  | { kind: 'header'; name: string; match: RequestMatch[] }
  | { kind: 'mirror'; percent: number }
  | { kind: 'sticky'; cookie: string; maxAgeSeconds: number };

/** The change id a feature is undone by (TrafficRouter.undo): `header:<name>`, `mirror`, `sticky`. */
export function featureChange(f: RouteFeature): string {
  return f.kind === 'header' ? `header:${f.name}` : f.kind;
}

/** Split of the managed routes, in percent; stable + canary = 100. */
export interface Weights {
  stable: number;
  canary: number;
}

export type PreflightResult =
  | { ok: true; runtime: Runtime; weights: Weights }
  | { ok: false; problems: string[] };

export interface SetWeightInput {
  /** The canary weight to set (0–100). */
  weight: number;
  /** The canary weight Ramp last set: anything else found is a change made outside Ramp. */
  expected: number;
  /** Set it even if the weights were changed outside Ramp (the drift policy chose to re-assert). */
  force: boolean;
  /**
   * The weights of the weight steps right after this one, which a lost workflow task may already
   * have written (src/domain/traffic/drift.ts). Absent in inputs of rollouts started before it.
   */
  ahead?: number[];
  /** The step's index, for the commit that records it in git mode. */
  step?: number;
}

/** Git mode: the commits a call pushed, oldest first (they are in its result in history). */
export interface Commits {
  commits?: string[];
}

export type SetWeightResult =
  | { applied: true; weights: Weights; commits?: string[] }
  /** The managed weights are neither what Ramp set nor what it is setting: nothing was written. */
  | { applied: false; found: Weights; detail: string };

/**
 * The object a proposal changes, as the proposed commit has it. The change counts as merged once the
 * target branch's file holds the same managed values, however it got there (a merge, a squash, a
 * rebase, or a person's own edit).
 */
export interface ProposedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  path: string;
  object: unknown;
}

/** Approval by merge: what to wait for, until when. */
export interface MergeWaitInput {
  branch: string;
  /** The commit Ramp pushed to the branch. */
  commit: string;
  expect: ProposedObject;
  /** Epoch ms: the call returns `pending` then, and the workflow asks again (or times the approval out). */
  deadlineAt: number;
}

export type MergeWaitResult =
  /** The target branch holds the change (merged, squashed or rebased) and the cluster shows it. */
  | { state: 'merged'; head: string; by: string }
  /** The branch was deleted without being merged: the change was turned down. */
  | { state: 'closed' }
  | { state: 'pending' };

/** A proposal pushed (`branch`), or none because the target branch already holds the change. */
export type ProposeResult =
  | { applied: true; weights: Weights; proposal?: { branch: string; commit: string; expect: ProposedObject } }
  | { applied: false; found: Weights; detail: string };

export interface ReadCountersInput {
  namespace: string;
  /** `destination_workload` of the canary and of its baseline (the Deployments' names). */
  canary: string;
  baseline: string;
  /** Epoch ms chosen by the workflow: the queries are evaluated at that time, so a retry reads the same counters. */
  at: number;
  /** The metrics provider to ask (the analysis' `provider`); absent: `prometheus`. */
  provider?: string;
  /** The three counter queries and their workload label (`counterTemplatesFor(analysis.counters, traffic provider)`); absent: Istio's. */
  queries?: CounterQueryTemplates;
}

/** Both arms' cumulative counters, or why they could not be read (the judge counts it as an error look). */
export type ReadCountersResult =
  | { ok: true; canary: ArmCounters; baseline: ArmCounters }
  | { ok: false; error: string };

export interface ReadHistoryInput {
  namespace: string;
  /** `destination_workload` of the baseline. */
  baseline: string;
  /** Epoch ms of the last sample (the analysis' first look). */
  end: number;
  stepMs: number;
  steps: number;
  /** As in ReadCountersInput. */
  provider?: string;
  queries?: CounterQueryTemplates;
}

export type ReadHistoryResult = { ok: true; samples: ArmCounters[] } | { ok: false; error: string };

export interface MeasureAnalysisInput {
  analysis: AnalysisSpec;
  /** Variables Ramp provides to every query: namespace and target (the canary Deployment). */
  vars: Record<string, string>;
  /** The look time, ISO 8601, chosen by the workflow: queries are evaluated at it. */
  at: string;
}

export interface WaitInput {
  namespace: string;
  name: string;
  /** Epoch ms, fixed by the workflow so retries keep it. */
  deadlineAt: number;
}

/** Arguments of each call, by activity name. */
export interface CallArgs {
  preflight: [WorkloadRef, TrafficRef];
  ensureCanary: [WorkloadRef];
  waitAvailable: [WaitInput];
  trafficApply: [TrafficRef, unknown, string];
  trafficSetWeight: [TrafficRef, unknown, SetWeightInput];
  trafficUndo: [TrafficRef, unknown, string];
  trafficPromote: [TrafficRef, unknown, 'begin' | 'end'];
  trafficSetFeature: [TrafficRef, unknown, RouteFeature];
  trafficPropose: [TrafficRef, unknown, SetWeightInput & { branch: string }];
  waitMerged: [TrafficRef, MergeWaitInput];
  withdrawProposal: [TrafficRef, string];
  promoteStable: [WorkloadRef];
  removeCanary: [WorkloadRef];
  readCounters: [ReadCountersInput];
  readBaselineHistory: [ReadHistoryInput];
  measureAnalysis: [MeasureAnalysisInput];
}

/** Results of each call, by activity name. */
export interface CallResults {
  preflight: PreflightResult;
  ensureCanary: { name: string; image?: string; uid: string } & Commits;
  waitAvailable: string;
  trafficApply: { snapshot: unknown; weights?: Weights } & Commits;
  trafficSetWeight: SetWeightResult;
  trafficUndo: { done: 'undone' | 'absent' } & Commits;
  trafficPromote: { snapshot: unknown } & Commits;
  trafficSetFeature: { snapshot: unknown } & Commits;
  trafficPropose: ProposeResult;
  waitMerged: MergeWaitResult;
  withdrawProposal: 'deleted' | 'absent';
  promoteStable: { image?: string } & Commits;
  removeCanary: 'deleted' | 'absent';
  readCounters: ReadCountersResult;
  readBaselineHistory: ReadHistoryResult;
  measureAnalysis: Measurement[];
}

export type CallName = keyof CallArgs;

/** Each call's signature, as the activities implement it (src/activities/index.ts checks it). */
export type RolloutCalls = { [K in CallName]: (...args: CallArgs[K]) => Promise<CallResults[K]> };

/**
 * How a call runs: `local` (a local activity: milliseconds, one history event), `slow` (an activity
 * task that heartbeats: a write that takes minutes, such as a git commit and its sync), `wait` (an
 * activity task that heartbeats while it polls until a deadline).
 */
export type Lane = 'local' | 'slow' | 'wait';

/** Which retry budget applies: the forward path's, or the rollback's (src/shared/failures.ts). */
export type Budget = 'forward' | 'undo';

/** A call the machine asks for. */
export type CallCommand = {
  [K in CallName]: { kind: 'call'; id: number; activity: K; args: CallArgs[K]; summary: string; lane: Lane; budget: Budget };
}[CallName];

