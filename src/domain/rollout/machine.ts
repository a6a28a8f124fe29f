/**
 * The rollout state machine. The workflow (src/workflows/rollout.ts) owns one `Rollout` value and
 * drives it with two functions:
 *
 * - `reduce(rollout, spec, event)` takes an event into account: a call's result or failure, a timer,
 *   a cancellation request. (Commands from people go through rules.ts.)
 * - `plan(rollout, spec, now)` says what to do next: at most one call at a time, a cancel for a long
 *   wait an abort interrupts, the timers to keep armed, or the end.
 *
 * Both are pure and deterministic — time is an input — so every transition is table-tested
 * (test/unit/domain/rollout/machine.test.ts) and a replay recomputes the same decisions. The machine
 * knows steps, analyses, holds and the saga; what a traffic router changes is opaque to it.
 *
 * The path of a rollout: preflight → the router's changes that come before the canary → canary
 * Deployment → its readiness → the router's remaining changes (canary at 0 %) → the steps (with the
 * background analysis beside them) → promotion (router hook, stable rolled to the canary's
 * template, its readiness, router hook) → the saga taken back as cleanup. An abort, a failed
 * analysis, a failed call or a cancellation takes the saga back as a rollback instead.
 */
import { proposalBranch } from '../gitops/proposal';
import type { ResolvedRollout, Step } from '../spec/schema';
import { featureChange, type CallCommand, type CallName, type CallResults, type RouteFeature, type TrafficRef, type WorkloadRef } from './calls';
import { analysisOf, consequence, dueLook, onCalibration, onLook, startRun, type Source } from './looks';
import type { CallInFlight, Inverse, Purpose, Rollout } from './model';
import { Outcome, Phase } from './phases';
import { describeInverse, nextUndo, recordInverse, undone } from './saga';
import { analysisSubject, describeMatch, describeStep, initialStatus, RolloutStatus } from './state';
import { beginRollback, endCurrentStep, finish, hold, iso, record, setPhase, showStep } from './transitions';
import { enterWait, timers, waitOver, type Timer } from './waits';

/** How a rollout ended. */
export interface RolloutResult {
  outcome: Outcome;
  /** Why it ended so, in words: the failing verdict, the abort reason, "all steps passed". */
  reason: string;
  status: RolloutStatus;
}

/** A failed call, as the workflow reports it. */
export interface CallFailure {
  /** The failure type (src/shared/failures.ts), when the activity set one. */
  type?: string;
  message: string;
  /** The call was cancelled (by the machine's own cancel). */
  cancelled: boolean;
}

export type MachineEvent =
  | { type: 'result'; id: number; value: unknown; at: number }
  | { type: 'failure'; id: number; failure: CallFailure; at: number }
  /** A timer fired (or the workflow woke up): deadlines up to `at` are due. */
  | { type: 'tick'; at: number }
  | { type: 'cancelRequested'; at: number };

export type MachineCommand =
  | CallCommand
  /** Interrupt the call with this id (a long wait). */
  | { kind: 'cancel'; id: number }
  /** The rollout has ended: return this result. */
  | { kind: 'finish'; result: RolloutResult };

export interface Plan {
  commands: MachineCommand[];
  /** Deadlines to keep a timer armed for. */
  timers: Timer[];
}

/** A rollout that starts now. */
export function newRollout(spec: ResolvedRollout, startedBy: string | undefined, now: number): Rollout {
  const status = initialStatus(spec, iso(now));
  status.audit.push({ at: iso(now), event: 'start', via: 'workflow', by: startedBy, accepted: true });
  return { status, requests: {}, stage: { at: 'preflight' }, saga: [], analyses: {}, nextCallId: 1, runs: 0 };
}

// ---- references handed to activities ---------------------------------------------------------

export function workloadRef(r: Rollout, spec: ResolvedRollout): WorkloadRef {
  const s = spec.spec;
  return {
    namespace: spec.metadata.namespace, rollout: spec.metadata.name, stableDeployment: s.target.deployment, service: s.target.service, canary: s.canary,
    ...(r.runtime ? { versions: r.runtime.versions } : {}), ...(r.runtime?.canaryUid ? { canaryUid: r.runtime.canaryUid } : {}),
    ...(s.gitops ? { gitops: s.gitops } : {}),
  };
}

export function trafficRef(r: Rollout, spec: ResolvedRollout): TrafficRef {
  const s = spec.spec;
  return {
    namespace: spec.metadata.namespace, rollout: spec.metadata.name, traffic: s.traffic, targetService: s.target.service,
    stableDeployment: s.target.deployment, canaryDeployment: s.canary.deploymentName,
    ...(r.runtime ? { versions: r.runtime.versions } : {}),
    ...(s.gitops ? { gitops: s.gitops } : {}),
  };
}

/** The preflight's arguments for a spec: what `ramp validate --cluster` checks without starting a rollout. */
export function preflightArgs(spec: ResolvedRollout): [WorkloadRef, TrafficRef] {
  const r = newRollout(spec, undefined, 0);
  return [workloadRef(r, spec), trafficRef(r, spec)];
}

// ---- reduce ----------------------------------------------------------------------------------

/** Takes an event into account. */
export function reduce(r: Rollout, spec: ResolvedRollout, e: MachineEvent): void {
  switch (e.type) {
    case 'tick':
      return;
    case 'cancelRequested':
      if (r.cancelRequested) return;
      r.cancelRequested = true;
      record(r, 'cancel', e.at, 'the workflow was asked to cancel');
      // A promotion under way is finished (the stable may already run the new version); anything
      // earlier rolls back.
      if (r.stage.at !== 'promote') beginRollback(r, 'the workflow was cancelled', e.at);
      return;
    case 'result':
    case 'failure': {
      const call = r.call;
      if (!call || call.id !== e.id) return;
      r.call = undefined;
      if (e.type === 'result') onResult(r, spec, call, e.value, e.at);
      else onFailure(r, spec, call, e.failure, e.at);
    }
  }
}

function onResult(r: Rollout, spec: ResolvedRollout, call: CallInFlight, value: unknown, now: number): void {
  const p = call.purpose;
  const commits = (value as { commits?: unknown } | undefined)?.commits;
  if (Array.isArray(commits) && commits.length > 0) r.status.git = { lastCommit: String(commits.at(-1)), commits: (r.status.git?.commits ?? 0) + commits.length };
  switch (p.kind) {
    case 'preflight': {
      const res = value as CallResults['preflight'];
      if (!res.ok) {
        r.status.problems = res.problems;
        record(r, 'refused', now, `${res.problems.length} problem(s)`);
        finish(r, 'Refused', Phase.Refused, `refused before any change: the preflight found ${res.problems.length} problem(s): ${res.problems.join('; ')}`, now);
        return;
      }
      r.runtime = res.runtime;
      r.status.weights = res.weights;
      if (r.stage.at === 'preflight') r.stage = { at: 'prepare', change: 0 };
      return;
    }
    case 'apply': {
      const res = value as CallResults['trafficApply'];
      r.runtime!.snapshot = res.snapshot;
      if (res.weights && r.stage.at !== 'unwind') r.status.weights = res.weights;
      if (r.stage.at === 'prepare' || r.stage.at === 'route') r.stage.change++;
      return;
    }
    case 'ensureCanary': {
      const res = value as CallResults['ensureCanary'];
      r.runtime!.canaryUid = res.uid;
      if (res.image) r.status.image = res.image;
      if (r.stage.at === 'canary') {
        r.stage = { at: 'readiness', deadlineAt: now + spec.spec.progressDeadlineMs };
        setPhase(r, Phase.Initializing, `waiting for canary ${spec.spec.canary.deploymentName} to be Available`, now);
      }
      return;
    }
    case 'readiness':
      if (r.stage.at !== 'readiness') return;
      record(r, 'readiness', now, `canary ${spec.spec.canary.deploymentName} Available`);
      r.stage = { at: 'route', change: 0 };
      return;
    case 'setWeight': {
      const res = value as CallResults['trafficSetWeight'];
      if (r.stage.at !== 'steps') {
        if (res.applied) r.status.weights = res.weights;
        return;
      }
      if (res.applied) {
        r.status.weights = res.weights;
        endCurrentStep(r);
        return;
      }
      r.status.weights = res.found;
      const change = `${res.detail} — changed outside Ramp`;
      record(r, 'drift', now, change);
      if (spec.spec.traffic.onDrift === 'reassert') {
        r.stage.sub = { kind: 'write', force: true };
        return;
      }
      hold(r, { kind: 'drift', by: 'drift detection', reason: `${change}; resume to re-assert Ramp's weights, or abort` }, `held: ${change}; resume to re-assert Ramp's weights, or abort`, now);
      return;
    }
    case 'propose': {
      const res = value as CallResults['trafficPropose'];
      const stage = r.stage;
      if (stage.at !== 'steps' || stage.sub?.kind !== 'approval') return;
      if (!res.applied) {
        r.status.weights = res.found;
        const change = `${res.detail} — changed outside Ramp`;
        record(r, 'drift', now, change);
        hold(r, { kind: 'drift', by: 'drift detection', reason: `${change}; resume to propose the change again, or abort` }, `held: ${change}; resume to propose the change again, or abort`, now);
        return;
      }
      if (!res.proposal) {
        // The target branch already holds the change: there is nothing left to approve.
        record(r, 'approve', now, `the target branch ${spec.spec.gitops?.repository.branch} already holds the proposed change`);
        endCurrentStep(r);
        return;
      }
      stage.sub.proposal = res.proposal;
      showMergeWait(r, spec, stage.index, now);
      return;
    }
    case 'merge': {
      const res = value as CallResults['waitMerged'];
      const stage = r.stage;
      if (stage.at !== 'steps' || stage.sub?.kind !== 'approval' || !stage.sub.proposal) return;
      const branch = stage.sub.proposal.branch;
      if (res.state === 'merged') {
        r.status.audit.push({ at: iso(now), event: 'approve', via: 'workflow', by: res.by, reason: `merged ${branch} into ${spec.spec.gitops?.repository.branch} (${res.head.slice(0, 12)})`, accepted: true });
        endCurrentStep(r);
      } else if (res.state === 'closed') {
        beginRollback(r, `the approval was turned down: branch ${branch} was deleted without being merged into ${spec.spec.gitops?.repository.branch}`, now);
      }
      return;
    }
    case 'withdraw':
      r.saga = r.saga.filter((i) => !(i.kind === 'proposal' && i.branch === p.branch));
      return;
    case 'calibrate': {
      const run = r.analyses[p.source];
      const analysis = run && analysisOf(spec, p.source, r.stage.at === 'steps' ? r.stage.index : -1);
      if (run && analysis) onCalibration(run, analysis, value as CallResults['readBaselineHistory']);
      return;
    }
    case 'look': {
      const run = r.analyses[p.source];
      const analysis = run && analysisOf(spec, p.source, r.stage.at === 'steps' ? r.stage.index : -1);
      if (!run || !analysis) return; // the analysis ended while its look ran (promote, abort)
      const o = onLook(run, analysis, value as CallResults['readCounters'], r.status.weights.canary, now);
      r.status.lastAnalysis = o.verdict;
      analysisEnded(r, p.source, o.phase, o.reason, now);
      return;
    }
    case 'promote':
      switch (p.part) {
        case 'begin':
          r.runtime!.snapshot = (value as CallResults['trafficPromote']).snapshot;
          r.stage = { at: 'promote', part: 'stable' };
          return;
        case 'stable': {
          const res = value as CallResults['promoteStable'];
          if (res.image) r.status.image = res.image;
          r.stage = { at: 'promote', part: 'wait', deadlineAt: now + spec.spec.progressDeadlineMs };
          setPhase(r, Phase.Promoting, `waiting for ${spec.spec.target.deployment} to be Available with the new version`, now);
          return;
        }
        case 'wait':
          r.stage = { at: 'promote', part: 'end' };
          return;
        case 'end':
          r.runtime!.snapshot = (value as CallResults['trafficPromote']).snapshot;
          record(r, 'promoted', now, `${spec.spec.target.deployment} runs ${r.status.image ?? 'the new version'}`);
          r.stage = { at: 'unwind', unwind: { why: 'promoted', done: 0, left: [], trafficLeft: false, trafficUndone: false } };
          setPhase(r, Phase.Promoting, 'shifting all traffic to stable and cleaning up', now);
          return;
      }
      return;
    case 'feature': {
      if (p.op === 'set') r.runtime!.snapshot = (value as CallResults['trafficSetFeature']).snapshot;
      // Taken back by its step: nothing is left for the saga to undo.
      else r.saga = r.saga.filter((i) => !(i.kind === 'traffic' && i.change === p.change));
      if (r.stage.at === 'steps') endCurrentStep(r);
      return;
    }
    case 'undo': {
      if (r.stage.at !== 'unwind') return;
      undone(r.stage.unwind, p.inverse, spec);
      // A feature's undo leaves the weights as they are; the routes' undo puts them back on stable.
      if (p.inverse.kind === 'traffic' && !isFeatureChange(p.inverse.change) && r.stage.unwind.why === 'rollback') r.status.weights = { stable: 100, canary: 0 };
      return;
    }
  }
}

function onFailure(r: Rollout, spec: ResolvedRollout, call: CallInFlight, f: CallFailure, now: number): void {
  const p = call.purpose;
  const why = f.message;
  switch (p.kind) {
    case 'preflight':
      // Nothing has been changed yet.
      r.status.problems = [why];
      record(r, 'refused', now, why);
      finish(r, 'Refused', Phase.Refused, `refused before any change: ${why}`, now);
      return;
    case 'apply': case 'ensureCanary': case 'readiness': case 'setWeight': case 'feature': case 'propose':
      beginRollback(r, why, now);
      return;
    case 'merge':
      // Cancelled because the wait no longer matters (an abort, a promote): nothing to take into account.
      if (!f.cancelled) beginRollback(r, `waiting for the approval by merge failed: ${why}`, now);
      return;
    case 'withdraw':
      // The saga keeps the proposal: the unwind deletes the branch again, or reports it.
      for (const i of r.saga) if (i.kind === 'proposal' && i.branch === p.branch) i.tried = true;
      return;
    case 'calibrate': case 'look': {
      const run = r.analyses[p.source];
      if (!run) return;
      run.lookAt = undefined;
      analysisEnded(r, p.source, 'Error', `the analysis could not be measured: ${why}`, now);
      return;
    }
    case 'promote':
      if (p.part === 'begin' || p.part === 'stable') {
        beginRollback(r, `promotion failed before the stable changed: ${why}`, now);
        return;
      }
      r.status.leftToFix = [
        `promotion did not finish: ${why}`,
        `check Deployment ${spec.metadata.namespace}/${spec.spec.target.deployment} (kubectl rollout status / undo) and the traffic objects of the rollout, then delete Deployment ${spec.metadata.namespace}/${spec.spec.canary.deploymentName} once no traffic reaches it`,
      ];
      finish(r, 'RollbackFailed', Phase.RollbackFailed, `promotion failed after the stable was changed: ${why}`, now);
      return;
    case 'undo':
      if (r.stage.at === 'unwind') undone(r.stage.unwind, p.inverse, spec, why);
      return;
  }
}

/** An analysis' look ended with `phase`: what it means for the rollout. */
function analysisEnded(r: Rollout, source: Source, phase: Parameters<typeof consequence>[1], reason: string, now: number): void {
  const c = consequence(source, phase);
  if (c === 'continue') return;
  r.analyses[source] = undefined;
  record(r, 'analysis', now, `${phase}: ${reason}`);
  switch (c) {
    case 'rollback':
      beginRollback(r, `${source === 'background' ? 'background analysis' : 'analysis'} ${phase}: ${reason}`, now);
      return;
    case 'nextStep':
      endCurrentStep(r);
      return;
    case 'hold':
      hold(r, { kind: 'inconclusive', by: 'analysis', reason: `analysis inconclusive: ${reason}` }, `held: analysis inconclusive: ${reason}; resume or promote to go on, or abort`, now);
      return;
    case 'stop':
      return;
  }
}

// ---- plan ------------------------------------------------------------------------------------

type Next =
  | { call: Omit<CallCommand, 'id' | 'kind'>; purpose: Purpose; cancellable?: boolean }
  | 'again'
  | 'idle';

function callOf<K extends CallName>(activity: K, args: Extract<CallCommand, { activity: K }>['args'], summary: string, lane: CallCommand['lane'], budget: CallCommand['budget']) {
  return { activity, args, summary, lane, budget } as Omit<CallCommand, 'id' | 'kind'>;
}

/** What to do next. At most one call is in flight; while one is, only a cancel may be added. */
export function plan(r: Rollout, spec: ResolvedRollout, now: number): Plan {
  const commands: MachineCommand[] = [];
  if (r.call) {
    if (r.call.cancellable && !r.call.cancelling && (r.stage.at === 'unwind' || (r.call.purpose.kind === 'merge' && mergeWaitStale(r)))) {
      r.call.cancelling = true;
      commands.push({ kind: 'cancel', id: r.call.id });
    }
    return { commands, timers: timers(r, spec, now) };
  }
  // Transitions that need no call run here in a loop; a step can never loop without progress.
  for (let guard = 0; guard < 1000; guard++) {
    if (r.stage.at === 'done') {
      commands.push({ kind: 'finish', result: { outcome: r.status.outcome!, reason: r.status.reason ?? '', status: r.status } });
      return { commands, timers: [] };
    }
    const n = next(r, spec, now);
    if (n === 'again') continue;
    if (n !== 'idle') {
      const id = r.nextCallId++;
      r.call = { id, purpose: n.purpose, cancellable: n.cancellable === true };
      commands.push({ kind: 'call', id, ...n.call } as CallCommand);
    }
    return { commands, timers: timers(r, spec, now) };
  }
  throw new Error('rollout state machine: no progress after 1000 transitions (a bug in machine.ts)');
}

function lane(r: Rollout): CallCommand['lane'] {
  return r.runtime?.writes === 'slow' ? 'slow' : 'local';
}

function next(r: Rollout, spec: ResolvedRollout, now: number): Next {
  const s = spec.spec;
  const stage = r.stage;
  switch (stage.at) {
    case 'preflight':
      setPhase(r, Phase.Initializing, 'checking the target, its Service and its traffic objects', now);
      return { call: callOf('preflight', [workloadRef(r, spec), trafficRef(r, spec)], 'preflight: check the target and the traffic objects', 'local', 'forward'), purpose: { kind: 'preflight' } };
    case 'prepare': case 'route': {
      const when = stage.at === 'prepare' ? 'beforeCanary' : 'afterCanary';
      const planned = r.runtime!.changes.filter((c) => c.when === when);
      const change = planned[stage.change];
      const sticky = s.traffic.stickySession;
      if (!change && stage.at === 'route' && sticky && stage.change === planned.length) {
        // Sticky sessions come right after the routes, so the first canary response already sets the cookie.
        return featureCall(r, spec, { kind: 'sticky', cookie: sticky.cookie, maxAgeSeconds: sticky.maxAgeSeconds }, { kind: 'apply', change: 'sticky' }, now);
      }
      if (!change) {
        if (stage.at === 'prepare') r.stage = { at: 'canary' };
        else enterSteps(r, spec, now);
        return 'again';
      }
      recordInverse(r, { kind: 'traffic', change: change.id, description: change.description, ...(change.carriesTraffic ? { carriesTraffic: true } : {}) });
      setPhase(r, Phase.Initializing, change.description, now);
      return {
        call: callOf('trafficApply', [trafficRef(r, spec), r.runtime!.snapshot, change.id], change.description, lane(r), 'forward'),
        purpose: { kind: 'apply', change: change.id },
      };
    }
    case 'canary':
      recordInverse(r, { kind: 'canary' });
      setPhase(r, Phase.Initializing, `deploying canary ${s.canary.deploymentName}`, now);
      return { call: callOf('ensureCanary', [workloadRef(r, spec)], `create canary ${s.canary.deploymentName}`, lane(r), 'forward'), purpose: { kind: 'ensureCanary' } };
    case 'readiness':
      return {
        call: callOf('waitAvailable', [{ namespace: spec.metadata.namespace, name: s.canary.deploymentName, deadlineAt: stage.deadlineAt }], `wait for canary ${s.canary.deploymentName} to be Available`, 'wait', 'forward'),
        purpose: { kind: 'readiness' }, cancellable: true,
      };
    case 'steps':
      return stepsNext(r, spec, now);
    case 'promote':
      return promoteNext(r, spec);
    case 'unwind':
      return unwindNext(r, spec, now);
    case 'done':
      return 'idle';
  }
}

function enterSteps(r: Rollout, spec: ResolvedRollout, now: number): void {
  r.stage = { at: 'steps', index: 0, entered: false };
  setPhase(r, Phase.Progressing, `canary ${spec.spec.canary.deploymentName} ready`, now);
  if (spec.spec.analysis) r.analyses.background = startRun('background', spec.spec.analysis, now);
}

function startPromotion(r: Rollout, spec: ResolvedRollout, now: number): void {
  r.analyses = {};
  r.hold = undefined;
  r.status.pause = undefined;
  r.status.pendingApproval = undefined;
  showStep(r, spec, spec.spec.steps.length);
  r.stage = { at: 'promote', part: 'begin' };
  setPhase(r, Phase.Promoting, `rolling ${spec.spec.target.deployment} to the canary's pod template`, now);
}

function stepsNext(r: Rollout, spec: ResolvedRollout, now: number): Next {
  const stage = r.stage as Extract<Rollout['stage'], { at: 'steps' }>;
  const steps = spec.spec.steps;
  // A proposal the step did not end by merging: delete its branch before anything else changes.
  const open = r.saga.find((i): i is Extract<Inverse, { kind: 'proposal' }> => i.kind === 'proposal' && !i.tried);
  if (open && (!stage.entered || r.requests.promoteFull)) {
    return { call: callOf('withdrawProposal', [trafficRef(r, spec), open.branch], `delete branch ${open.branch} (approval by merge)`, 'slow', 'forward'), purpose: { kind: 'withdraw', branch: open.branch } };
  }
  if (r.requests.promoteFull || stage.index >= steps.length) {
    startPromotion(r, spec, now);
    return 'again';
  }
  const n = `step ${stage.index + 1}/${steps.length}`;
  if (!stage.entered) {
    if (r.hold) return looksNext(r, spec, now);
    if (r.requests.userPause) {
      const p = r.requests.userPause;
      r.requests.userPause = undefined;
      showStep(r, spec, stage.index);
      hold(r, { kind: 'user', by: p.by, reason: p.reason }, `paused by ${p.by ?? 'someone'}${p.reason ? `: ${p.reason}` : ''}; resume to continue`, now);
      return looksNext(r, spec, now);
    }
    const step = steps[stage.index]!;
    showStep(r, spec, stage.index);
    stage.entered = true;
    stage.sub = enterWait(step, now);
    switch (step.kind) {
      case 'setWeight':
        setPhase(r, Phase.Progressing, `${n}: setting canary weight to ${step.weight}%`, now);
        break;
      case 'pause': {
        const until = stage.sub?.kind === 'pause' ? stage.sub.until : undefined;
        r.status.pause = { since: iso(now), ...(until !== undefined ? { until: iso(until) } : {}) };
        setPhase(r, Phase.Paused, until === undefined ? `${n}: paused until resumed` : `${n}: pausing until ${iso(until)}`, now);
        break;
      }
      case 'approval': {
        const timeoutAt = stage.sub?.kind === 'approval' ? stage.sub.timeoutAt : undefined;
        r.status.pendingApproval = { since: iso(now), ...(timeoutAt !== undefined ? { timeoutAt: iso(timeoutAt) } : {}), onTimeout: step.onTimeout };
        setPhase(r, Phase.AwaitingApproval, `${n}: waiting for approval${timeoutAt !== undefined ? ` (on timeout at ${iso(timeoutAt)}: ${step.onTimeout})` : ''}`, now);
        break;
      }
      case 'analysis':
        r.analyses.step = startRun('step', step.analysis, now);
        setPhase(r, Phase.Progressing, `${n}: analysing ${analysisSubject(step.analysis)}`, now);
        break;
      case 'setHeaderRoute': case 'setMirror':
        setPhase(r, Phase.Progressing, `${n}: ${describeStep(step)}`, now);
        break;
    }
    return 'again';
  }
  if (r.hold) return looksNext(r, spec, now);
  const step = steps[stage.index]!;
  switch (step.kind) {
    case 'setWeight': {
      const force = stage.sub?.kind === 'write' && stage.sub.force;
      return {
        call: callOf('trafficSetWeight', [trafficRef(r, spec), r.runtime!.snapshot, { weight: step.weight, expected: r.status.weights.canary, force, ahead: weightsAhead(steps, stage.index), step: stage.index }],
          `set weight: canary ${step.weight}%${force ? ' (re-assert)' : ''}`, lane(r), 'forward'),
        purpose: { kind: 'setWeight', weight: step.weight },
      };
    }
    case 'pause':
      if (waitOver(stage.sub, now)) {
        endCurrentStep(r);
        return 'again';
      }
      return looksNext(r, spec, now);
    case 'approval':
      if (waitOver(stage.sub, now)) {
        const after = `${Math.round((step.timeoutMs ?? 0) / 1000)}s`;
        record(r, 'approvalTimeout', now, `no approval within ${after}: ${step.onTimeout}`);
        if (step.onTimeout === 'abort') beginRollback(r, `approval timed out after ${after}`, now);
        else endCurrentStep(r);
        return 'again';
      }
      if (step.via === 'merge') {
        // A look that is due goes first: the merge wait hands back in time for it.
        const look = looksNext(r, spec, now);
        return look !== 'idle' ? look : mergeNext(r, spec, now) ?? 'idle';
      }
      return looksNext(r, spec, now);
    case 'analysis':
      return looksNext(r, spec, now);
    case 'setHeaderRoute': case 'setMirror': {
      const feature = featureOfStep(step);
      if (feature) return featureCall(r, spec, feature, { kind: 'feature', change: featureChange(feature), op: 'set' }, now);
      // A step without match (or at 0 %) takes its feature back now; one never set has nothing to take back.
      const change = step.kind === 'setHeaderRoute' ? `header:${step.name}` : 'mirror';
      const inverse = r.saga.find((i) => i.kind === 'traffic' && i.change === change);
      if (!inverse) {
        endCurrentStep(r);
        return 'again';
      }
      return {
        call: callOf('trafficUndo', [trafficRef(r, spec), r.runtime!.snapshot, change], `${n}: ${describeStep(step)}`, lane(r), 'forward'),
        purpose: { kind: 'feature', change, op: 'remove' },
      };
    }
  }
}

/** How long one wait for a merge runs before it hands back, so the workflow's looks and timers still run. */
const MERGE_WAIT_SLICE_MS = 10 * 60_000;

/**
 * Approval by merge: push the next step's commit to the proposal branch, then wait until the
 * target branch holds it. The wait hands back before the next look or the timeout is due.
 */
function mergeNext(r: Rollout, spec: ResolvedRollout, now: number): Next | undefined {
  const stage = r.stage as Extract<Rollout['stage'], { at: 'steps' }>;
  const sub = stage.sub?.kind === 'approval' ? stage.sub : undefined;
  const next = spec.spec.steps[stage.index + 1];
  if (!sub || next?.kind !== 'setWeight') return undefined;
  if (!sub.proposal) {
    const branch = proposalBranch(spec.metadata);
    if (!r.saga.some((i) => i.kind === 'proposal' && i.branch === branch && !i.tried)) r.saga.unshift({ kind: 'proposal', branch });
    return {
      call: callOf('trafficPropose', [trafficRef(r, spec), r.runtime!.snapshot, { weight: next.weight, expected: r.status.weights.canary, force: false, step: stage.index + 1, branch }],
        `propose canary ${next.weight}% on branch ${branch} (approval by merge)`, 'slow', 'forward'),
      purpose: { kind: 'propose' },
    };
  }
  const due = [now + MERGE_WAIT_SLICE_MS, sub.timeoutAt, r.analyses.step?.nextAt, r.analyses.background?.nextAt].filter((t): t is number => t !== undefined);
  const deadlineAt = Math.max(now + 1000, Math.min(...due));
  return {
    call: callOf('waitMerged', [trafficRef(r, spec), { ...sub.proposal, deadlineAt }], `wait for ${sub.proposal.branch} to be merged into ${spec.spec.gitops?.repository.branch}`, 'wait', 'forward'),
    purpose: { kind: 'merge' }, cancellable: true,
  };
}

/** The merge wait in flight no longer matters: the step ended otherwise (promote, timeout) or the rollout is ending. */
function mergeWaitStale(r: Rollout): boolean {
  return r.stage.at !== 'steps' || !r.stage.entered || r.requests.promoteFull !== undefined;
}

/** The phase while a proposal waits to be merged. */
function showMergeWait(r: Rollout, spec: ResolvedRollout, index: number, now: number): void {
  const stage = r.stage as Extract<Rollout['stage'], { at: 'steps' }>;
  const p = stage.sub?.kind === 'approval' ? stage.sub.proposal : undefined;
  const into = spec.spec.gitops?.repository.branch ?? 'main';
  if (!p || !r.status.pendingApproval) return;
  r.status.pendingApproval.merge = { branch: p.branch, commit: p.commit, into };
  setPhase(r, Phase.AwaitingApproval, `step ${index + 1}/${spec.spec.steps.length}: waiting for branch ${p.branch} (commit ${p.commit.slice(0, 12)}) to be merged into ${into}; merging it approves`, now);
}

/** Is this change id a routing feature's (`featureChange`) rather than one of the router's planned changes? */
function isFeatureChange(change: string): boolean {
  return change.startsWith('header:') || change === 'mirror' || change === 'sticky';
}

/** The feature a step sets, or undefined when the step takes it back (no match, 0 %). */
function featureOfStep(step: Extract<Step, { kind: 'setHeaderRoute' | 'setMirror' }>): RouteFeature | undefined {
  if (step.kind === 'setHeaderRoute') return step.match ? { kind: 'header', name: step.name, match: step.match } : undefined;
  return step.percent > 0 ? { kind: 'mirror', percent: step.percent } : undefined;
}

/** A feature in words, for the saga and the history. */
function describeFeature(f: RouteFeature): string {
  switch (f.kind) {
    case 'header':
      return `header route ${f.name} (${describeMatch(f.match)} → canary)`;
    case 'mirror':
      return `mirror of ${f.percent}% of requests to the canary`;
    case 'sticky':
      return `sticky canary sessions (cookie ${f.cookie}, ${f.maxAgeSeconds}s)`;
  }
}

/** Sets a routing feature, its inverse recorded first: it sends requests to the canary, so the canary stays until it is undone. */
function featureCall(r: Rollout, spec: ResolvedRollout, f: RouteFeature, purpose: Purpose, now: number): Next {
  const description = describeFeature(f);
  const change = featureChange(f);
  recordInverse(r, { kind: 'traffic', change, description, carriesTraffic: true });
  // A step that replaces a feature (same change id) keeps its place in the saga, with the new words.
  for (const i of r.saga) if (i.kind === 'traffic' && i.change === change) i.description = description;
  if (r.stage.at !== 'steps') setPhase(r, Phase.Initializing, `set ${description}`, now);
  return { call: callOf('trafficSetFeature', [trafficRef(r, spec), r.runtime!.snapshot, f], `set ${description}`, lane(r), 'forward'), purpose };
}

/** A look due now, the step's analysis first. */
function looksNext(r: Rollout, spec: ResolvedRollout, now: number): Next {
  const index = r.stage.at === 'steps' ? r.stage.index : -1;
  for (const source of ['step', 'background'] as const) {
    const run = r.analyses[source];
    const analysis = run && analysisOf(spec, source, index);
    if (!run || !analysis) continue;
    const look = dueLook(run, analysis, spec, now);
    if (look) {
      return {
        call: callOf(look.activity, look.args, look.summary, 'local', 'forward'),
        purpose: look.purpose === 'calibrate' ? { kind: 'calibrate', source } : { kind: 'look', source },
      };
    }
  }
  return 'idle';
}

function promoteNext(r: Rollout, spec: ResolvedRollout): Next {
  const stage = r.stage as Extract<Rollout['stage'], { at: 'promote' }>;
  const s = spec.spec;
  switch (stage.part) {
    case 'begin':
      return { call: callOf('trafficPromote', [trafficRef(r, spec), r.runtime!.snapshot, 'begin'], 'promotion: prepare the stable destination for the new version', lane(r), 'forward'), purpose: { kind: 'promote', part: 'begin' } };
    case 'stable':
      return { call: callOf('promoteStable', [workloadRef(r, spec)], `promote ${s.target.deployment} to the canary's pod template`, spec.spec.gitops ? 'slow' : lane(r), 'forward'), purpose: { kind: 'promote', part: 'stable' } };
    case 'wait':
      return {
        call: callOf('waitAvailable', [{ namespace: spec.metadata.namespace, name: s.target.deployment, deadlineAt: stage.deadlineAt! }], `wait for ${s.target.deployment} to be Available`, 'wait', 'forward'),
        purpose: { kind: 'promote', part: 'wait' },
      };
    case 'end':
      return { call: callOf('trafficPromote', [trafficRef(r, spec), r.runtime!.snapshot, 'end'], 'promotion: point the stable destination at the new version', lane(r), 'forward'), purpose: { kind: 'promote', part: 'end' } };
  }
}

function unwindNext(r: Rollout, spec: ResolvedRollout, now: number): Next {
  const u = (r.stage as Extract<Rollout['stage'], { at: 'unwind' }>).unwind;
  const step = nextUndo(r, u, spec, now);
  switch (step.kind) {
    case 'skipped':
      return 'again';
    case 'delay':
      if (step.newly) setPhase(r, Phase.RollingBack, `${r.status.reason ?? 'rolling back'}; traffic back on stable, canary removed in ${Math.round(spec.spec.rollback.scaleDownDelayMs / 1000)}s`, now);
      return 'idle';
    case 'undo':
      return { call: undoCall(r, spec, step.inverse, `${u.why === 'rollback' ? 'rollback' : 'cleanup'}: ${describeInverse(step.inverse, spec)}`), purpose: { kind: 'undo', inverse: step.inverse } };
    case 'done':
      endUnwind(r, spec, now);
      return 'again';
  }
}

function undoCall(r: Rollout, spec: ResolvedRollout, inv: Inverse, summary: string): Omit<CallCommand, 'id' | 'kind'> {
  switch (inv.kind) {
    case 'traffic':
      return callOf('trafficUndo', [trafficRef(r, spec), r.runtime!.snapshot, inv.change], summary, lane(r), 'undo');
    case 'canary':
      return callOf('removeCanary', [workloadRef(r, spec)], summary, lane(r), 'undo');
    case 'proposal':
      return callOf('withdrawProposal', [trafficRef(r, spec), inv.branch], summary, 'slow', 'undo');
  }
}

function endUnwind(r: Rollout, spec: ResolvedRollout, now: number): void {
  const u = (r.stage as Extract<Rollout['stage'], { at: 'unwind' }>).unwind;
  if (u.why === 'promoted') {
    if (u.left.length > 0) r.status.leftToFix = u.left;
    const how = r.requests.promoteFull ? ` (promoted in full by ${r.requests.promoteFull.by ?? 'someone'})` : ': all steps passed';
    const cleanup = u.left.length > 0 ? `; the cleanup left ${u.left.length} thing(s) to fix by hand` : '';
    const cancelled = r.cancelRequested ? '; the cancel arrived during the promotion, which was finished' : '';
    finish(r, 'Promoted', Phase.Succeeded, `promoted ${r.status.image ?? 'the canary'} to ${spec.spec.target.deployment}${how}${cleanup}${cancelled}`, now);
    return;
  }
  const reason = r.status.reason ?? 'rolled back';
  if (u.left.length > 0) {
    r.status.leftToFix = u.left;
    finish(r, 'RollbackFailed', Phase.RollbackFailed, `${reason}; the rollback did not finish: ${u.left.length} thing(s) left to fix by hand`, now);
    return;
  }
  finish(r, 'RolledBack', Phase.RolledBack, reason, now);
}

/** Can the rollout hand over to a new run now? Only while it waits inside its steps, with no call in flight. */
export function canHandOver(r: Rollout): boolean {
  return r.call === undefined && r.stage.at === 'steps' && !r.cancelRequested;
}

/**
 * Temporal warns at 10,240 events and fails a run at 51,200; a run hands over long before, so even
 * a day of one-minute looks stays small per run and replays fast (docs/decisions/0010).
 */
export const DEFAULT_HISTORY_LIMIT = 2000;

/** Is a hand-over due, by history length or by the server's suggestion? */
export function handOverDue(historyLength: number, limit: number, suggested: boolean): boolean {
  return historyLength >= limit || suggested;
}

/**
 * The weights of the weight steps right after step `index`, up to the first step of another kind:
 * weight steps are local activities, so one workflow task can run several before it is recorded.
 */
function weightsAhead(steps: readonly Step[], index: number): number[] {
  const ahead: number[] = [];
  for (let i = index + 1; i < steps.length; i++) {
    const s = steps[i]!;
    if (s.kind !== 'setWeight') break;
    ahead.push(s.weight);
  }
  return ahead;
}
