/**
 * The rollout workflow: one per target Deployment. It only orchestrates — the state and the rules
 * for commands live in src/domain/rollout/state.ts, every side effect is an activity — and it
 * always ends in a known state: Succeeded, RolledBack, or RollbackFailed with what is left to fix.
 *
 * Rollback is a saga unwound in a non-cancellable scope, so an abort, a failed analysis, a canary
 * that never becomes ready, or a cancellation of the workflow cannot skip it.
 */
import {
  allHandlersFinished, CancellationScope, condition, continueAsNew, ContinueAsNew, isCancellation, log, patched, proxyActivities, proxyLocalActivities, setCurrentDetails,
  setHandler, sleep, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { MetricsActivities } from '../activities/metrics/activities';
import type { TrafficActivities } from '../activities/traffic/activities';
import type { TrafficRef, TrafficSnapshot } from '../activities/traffic/router';
import type { WorkloadActivities, WorkloadRef } from '../activities/workload';
import { AnalysisDecision, decideAnalysis, Measurement } from '../domain/analysis/evaluate';
import { calibrate, calibrationWanted, initialJudgedState, JudgedAnalysis, JudgedState, judgeLook } from '../domain/analysis/judged';
import { Command, COMMANDS, parseCommandInput } from '../domain/rollout/commands';
import { Outcome, Phase } from '../domain/rollout/phases';
import { checkDrift } from '../domain/traffic/drift';
import { analysisSubject, Requests, RolloutState, RolloutStatus } from '../domain/rollout/state';
import type { AnalysisSpec, ResolvedJudge } from '../domain/spec/analysis';
import type { ResolvedRollout } from '../domain/spec/schema';
import * as msg from '../shared/messages';
import { nowIso, nowMs } from './clock';
import { RampOutcome, RampPhase } from '../shared/search-attributes';

export interface RolloutInput {
  rollout: ResolvedRollout;
  /** Who started it (CLI user, CI job). */
  startedBy?: string;
  /** History events after which a run continues as new at its next wait (default 2,000). */
  historyLimit?: number;
  /** Set by continue-as-new: where the previous run stopped. */
  resume?: Checkpoint;
}

type Source = 'step' | 'background';

/** Where an analysis stood when its run continued as new: looks taken, when the next is due, its state. */
export interface AnalysisCarry {
  looks: number;
  nextAt: number;
  measurements?: Measurement[][];
  judged?: JudgedState;
}

/** The wait the forward path was parked in. */
export type WaitCarry =
  | { kind: 'hold' }
  | { kind: 'pause'; untilMs?: number }
  | { kind: 'approval'; timeoutAt?: number }
  | { kind: 'analysis'; analysis: AnalysisCarry };

/** What a run hands to the next one: the rollout's whole state at a wait (decisions/0010). */
export interface Checkpoint {
  /** Runs before the next one. */
  runs: number;
  step: number;
  wait: WaitCarry;
  background?: AnalysisCarry;
  status: RolloutStatus;
  requests: Requests;
  snapshot: TrafficSnapshot;
  canaryMayExist: boolean;
  routesTouched: boolean;
}

/**
 * Temporal warns at 10,240 events and fails a run at 51,200; a run hands over long before, so even
 * a day of one-minute looks stays small per run and replays fast.
 */
const DEFAULT_HISTORY_LIMIT = 2000;

export interface RolloutResult {
  outcome: Outcome;
  /** Why it ended so, in words: the failing verdict, the abort reason, "all steps passed". */
  reason: string;
  status: RolloutStatus;
}

/** Non-retryable failures: retrying cannot fix them; the workflow rolls back at once. */
const FATAL = ['TargetNotFound', 'InvalidTarget', 'InvalidObject', 'Forbidden', 'Unauthorized', 'ProgressDeadlineExceeded', 'InvalidAnalysis'];

const retry = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: FATAL };

type Calls = WorkloadActivities & TrafficActivities & MetricsActivities;
type Call = <K extends keyof Calls>(name: K, summary: string, ...args: Parameters<Calls[K]>) => ReturnType<Calls[K]>;
type Executable = { executeWithOptions(options: object, args: unknown[]): Promise<unknown> };

/** Forward-path calls: retried with backoff (an apiserver outage is waited out) for up to 10 minutes. */
const ACT_OPTS = { startToCloseTimeout: '30s', scheduleToCloseTimeout: '10m', retry } as const;
/** Rollback calls: bounded, so a rollback that cannot finish ends in RollbackFailed instead of hanging. */
const UNDO_OPTS = { startToCloseTimeout: '30s', scheduleToCloseTimeout: '5m', retry } as const;
/** Readiness waits heartbeat; the deadline itself is enforced inside the activity. */
const WAIT_OPTS = { startToCloseTimeout: '2h', heartbeatTimeout: '10s', retry } as const;
/** Retries of a local activity that back off longer than this wait on a durable timer, not in the task. */
const LOCAL = { localRetryThreshold: '5s' } as const;

const remote = proxyActivities<Calls>(ACT_OPTS);
const waiting = proxyActivities<WorkloadActivities>(WAIT_OPTS);
const local = proxyLocalActivities<Calls>({ ...ACT_OPTS, ...LOCAL });

/**
 * Short Kubernetes and Prometheus calls run as local activities (one marker event each, in the
 * workflow task that asked for them) instead of activity tasks (three events, plus a workflow
 * task to react): a standard rollout's history shrinks from 243 to about 100 events and the
 * rollback no longer waits for a task queue round trip. Readiness waits stay activities: they
 * heartbeat for minutes. Histories recorded before the change replay the old way (the patch).
 */
const LOCAL_ACTIVITIES_PATCH = 'local-activities-v1';
/**
 * …switched off: in the worker-kill fault test a rollout held after a SIGKILL — the retried workflow
 * task read the weights (one local-activity marker) and then waited, scheduling nothing.
 */
const LOCAL_ACTIVITIES_OFF_PATCH = 'local-activities-off-v2';
/**
 * …and on again, understood: the killed task had set the next weight (a local activity) before it
 * died, so the retried task's drift check read Ramp's own write back, took it for an outside change
 * and held the rollout for a person ("paused by drift detection"). The drift check now knows the
 * weight its step is about to set (domain/traffic/drift.ts).
 */
const LOCAL_ACTIVITIES_AGAIN_PATCH = 'local-activities-v3';
/**
 * Hand-overs that start nothing once decided, and looks falling due past the history limit that wait
 * for the hand-over (see `parkedWait`). Checked once, at the start of a run.
 */
const QUIET_HANDOVER_PATCH = 'quiet-handover-v1';
/**
 * The drift check (drift-check-v1 was asked for lazily, at the first weight step). A patch asked
 * for mid-run can fail replay: in the scale benchmark, under load, a workflow task that ran a local
 * activity was completed by the SDK's local-activity heartbeat, and on replay the SDK met the
 * drift-check marker before the workflow code had resumed to ask for it — a nondeterminism error
 * (reproduced offline from the recorded history). Every patch is now asked for in the first
 * workflow task, before any call.
 */
const DRIFT_CHECK_AT_START_PATCH = 'drift-check-v2';

/**
 * One local activity at a time per rollout (patch `serial-local-activities-v1`). Two running at once
 * (a background analysis's look beside the forward path's call, or two analyses resuming after a
 * hand-over) complete in separate activations of the live workflow task, but replay resolves both
 * in one activation, where the two continuations interleave differently: a recorded continued run
 * failed replay ("Timer machine does not handle this event: UpsertWorkflowSearchAttributes"). In
 * a queue, each call starts after the previous one settled, so the order of commands is the order
 * of the markers, live and on replay. Calls are milliseconds long; a call whose scope is cancelled
 * while it waits fails at once and frees the queue.
 */
type Serial = <T>(run: () => Promise<T>) => Promise<T>;
function serialQueue(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return (run) => {
    const result = tail.then(run, run);
    tail = result.then(() => undefined, () => undefined);
    return result;
  };
}
const SERIAL_LOCAL_ACTIVITIES_PATCH = 'serial-local-activities-v1';

/** `serial` (local activities only) queues the calls one at a time. */
function caller(lean: boolean, remoteOpts: object, serial?: Serial): Call {
  return (name, summary, ...args) => {
    const proxy = (lean ? local[name] : remote[name]) as unknown as Executable;
    const options = lean ? { ...remoteOpts, ...LOCAL, summary } : { ...remoteOpts, summary };
    const start = () => proxy.executeWithOptions(options, args);
    return (serial ? serial(start) : start()) as ReturnType<Calls[typeof name]>;
  };
}

/** How an analysis ended: the phase and why. */
type AnalysisOutcome = Pick<AnalysisDecision, 'phase' | 'reason'>;

/** Thrown inside the forward path to roll back with a reason. */
class RollbackRequested extends Error {
  override name = 'RollbackRequested';
}

const now = nowIso;

function failureMessage(err: unknown): string {
  let e: unknown = err;
  // ActivityFailure wraps the ApplicationFailure thrown by the activity: report the cause.
  while (e instanceof Error && e.cause instanceof Error && e.name === 'ActivityFailure') e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

export async function rolloutWorkflow(input: RolloutInput): Promise<RolloutResult> {
  const r = input.rollout;
  const ns = r.metadata.namespace;
  // Short calls are local activities, except for rollouts started while they were switched off
  // (LOCAL_ACTIVITIES_OFF_PATCH without LOCAL_ACTIVITIES_AGAIN_PATCH), which keep activity tasks.
  const lean = patched(LOCAL_ACTIVITIES_PATCH) && (!patched(LOCAL_ACTIVITIES_OFF_PATCH) || patched(LOCAL_ACTIVITIES_AGAIN_PATCH));
  const quietHandOver = patched(QUIET_HANDOVER_PATCH);
  const driftCheckFromStart = patched(DRIFT_CHECK_AT_START_PATCH);
  // (Rollouts that ran their calls as activity tasks cannot lose a write, and replay as recorded.)
  const ownWritesKnown = lean && patched(LOCAL_ACTIVITIES_AGAIN_PATCH);
  const serial = lean && patched(SERIAL_LOCAL_ACTIVITIES_PATCH) ? serialQueue() : undefined;
  const call = caller(lean, ACT_OPTS, serial);
  const undoCall = caller(lean, UNDO_OPTS, serial);
  const resume = input.resume;
  const state = resume ? RolloutState.restore(r, resume.status, resume.requests) : new RolloutState(r, now());
  if (!resume) state.record({ at: now(), event: 'start', via: 'workflow', by: input.startedBy, accepted: true });

  const wref: WorkloadRef = { namespace: ns, rollout: r.metadata.name, stableDeployment: r.spec.target.deployment, service: r.spec.target.service, canary: r.spec.canary };
  const tref: TrafficRef = { namespace: ns, traffic: r.spec.traffic, versionLabel: r.spec.canary.versionLabel, targetService: r.spec.target.service };
  const analysisVars = { namespace: ns, target: r.spec.canary.deploymentName };

  // ---- messages ----------------------------------------------------------------------------
  const handle = (cmd: Command, via: 'update' | 'signal', raw: unknown): RolloutStatus => {
    const parsed = parseCommandInput(cmd, raw);
    if (!parsed.ok) throw new Error(parsed.message);
    const refusal = state.refusal(cmd, parsed.input);
    if (refusal) throw new Error(refusal);
    state.apply(cmd, parsed.input, via, now());
    return state.status;
  };
  const validator = (cmd: Command) => (raw?: unknown) => {
    const parsed = parseCommandInput(cmd, raw);
    if (!parsed.ok) throw new Error(parsed.message);
    const refusal = state.refusal(cmd, parsed.input);
    if (refusal) throw new Error(refusal);
  };
  const updates = { approve: msg.approveUpdate, promote: msg.promoteUpdate, abort: msg.abortUpdate, pause: msg.pauseUpdate, resume: msg.resumeUpdate };
  const signals = { approve: msg.approveSignal, promote: msg.promoteSignal, abort: msg.abortSignal, pause: msg.pauseSignal, resume: msg.resumeSignal };
  for (const cmd of COMMANDS) {
    setHandler(updates[cmd] as typeof msg.approveUpdate, (raw?: unknown) => handle(cmd, 'update', raw), { validator: validator(cmd) });
    setHandler(signals[cmd] as typeof msg.approveSignal, (raw?: unknown) => {
      try {
        handle(cmd, 'signal', raw);
      } catch (err) {
        // A signal cannot be refused back to its sender: record why it was ignored.
        const parsed = parseCommandInput(cmd, raw);
        state.refuseSignal(cmd, parsed.ok ? parsed.input : {}, (err as Error).message, now());
        log.warn('signal refused', { command: cmd, reason: (err as Error).message });
      }
    });
  }
  setHandler(msg.statusQuery, () => state.status);

  const setPhase = (phase: Phase, message: string) => {
    const changed = phase !== state.phase;
    state.setPhase(phase, message, now());
    setCurrentDetails(`**${phase}** — ${message}`);
    if (changed) upsertSearchAttributes([{ key: RampPhase, value: phase }]);
  };

  // ---- saga bookkeeping: what to undo --------------------------------------------------------
  let snapshot: TrafficSnapshot | undefined = resume?.snapshot;
  let canaryMayExist = resume?.canaryMayExist ?? false;
  let routesTouched = resume?.routesTouched ?? false;

  // ---- where the run can stop and a new one take over (continue-as-new) -----------------------
  /** The forward path's step, and how to pick up its wait (undefined while it is mid-call). */
  let at: { step: number; wait: () => WaitCarry | undefined } | undefined;
  /** Each analysis, while it waits for its next look. */
  const parked: Record<Source, (() => AnalysisCarry) | undefined> = { step: undefined, background: undefined };
  let backgroundRunning = false;
  let finishedForward = false;

  /** Everything a continued run needs, or undefined when some part is mid-call and cannot be carried. */
  const checkpoint = (): Checkpoint | undefined => {
    const wait = at?.wait();
    if (!at || !wait || !snapshot) return undefined;
    if (backgroundRunning && !parked.background) return undefined;
    return {
      runs: (resume?.runs ?? 0) + 1, step: at.step, wait, background: parked.background?.(),
      status: state.status, requests: state.requests, snapshot, canaryMayExist, routesTouched,
    };
  };
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  /** Past the history limit, with nothing that rules out a hand-over. */
  const handOverDue = () => !finishedForward && !state.requests.abort && backgroundFailure === undefined
    && (workflowInfo().historyLength >= historyLimit || workflowInfo().continueAsNewSuggested);
  /** The checkpoint of the hand-over, taken the moment it was decided. */
  let handOver: Checkpoint | undefined;
  const timeToContinue = () => {
    if (!handOverDue()) return false;
    handOver = checkpoint();
    return handOver !== undefined;
  };
  /**
   * Every wait where the run can hand over goes through here. When a wait ends in the same
   * workflow task in which the hand-over is decided (a timer fired, and with it everything was
   * parked), what follows the wait must not start: the checkpoint says it has not happened, and the
   * next run does it. So such a wait never returns; the run ends with continue-as-new.
   */
  const parkedWait = async (fn: () => boolean, ms?: number, summary?: string): Promise<boolean> => {
    const ended = ms === undefined ? (await condition(fn), true) : summary ? await condition(fn, ms, { summary }) : await condition(fn, ms);
    if (quietHandOver && handOver) await condition(() => false);
    return ended;
  };
  let backgroundFailure: string | undefined;
  let stopBackground = false;

  const setWeight = async (weight: number) => {
    state.status.weights = await call('trafficSetWeight', `set weight: canary ${weight}%`, tref, weight);
  };

  /**
   * Someone changed the managed weights outside Ramp (kubectl, another controller)? Then, per
   * spec.traffic.onDrift, hold the rollout naming the change, or record it and re-assert. Added after
   * the first recorded histories, hence the patch marker (those replay without the extra read).
   */
  const handleDrift = async (next: number): Promise<void> => {
    if (!routesTouched || !(driftCheckFromStart || patched('drift-check-v1'))) return;
    const current = await call('trafficGetWeights', 'check weights for outside changes', tref);
    const expected = state.status.weights;
    const check = checkDrift(current.canary, expected.canary, ownWritesKnown ? next : Number.NaN);
    if (check === 'unchanged') return;
    if (check === 'own-write') {
      log.info('the weight this step sets is already applied (an earlier attempt whose result the history lost)', { canary: current.canary });
      return;
    }
    const change = `VirtualService ${ns}/${r.spec.traffic.virtualService.name}: canary weight is ${current.canary}%, Ramp set ${expected.canary}% — changed outside Ramp`;
    state.record({ at: now(), event: 'drift', via: 'workflow', reason: change, accepted: true });
    state.status.weights = current;
    if (r.spec.traffic.onDrift === 'pause') {
      state.requests.userPause = { by: 'drift detection', reason: `${change}; resume to re-assert Ramp's weights, or abort` };
      await holdWhileUserPaused();
    }
  };

  /**
   * A judged analysis: one look right away (the reference counters), then one per interval; the
   * judge runs here, in workflow code, on counters recorded in history (docs/decisions/0009).
   */
  /**
   * Waits `ms` for the next look unless `stop` turns true (true: stopped). While waiting, the
   * analysis is parked: `carry` says how to pick it up again in a continued run (see `checkpoint`).
   */
  const waitForLook = async (source: Source, stop: () => boolean, ms: number, summary: string, carry: (nextAt: number) => AnalysisCarry): Promise<boolean> => {
    if (ms <= 0) return stop();
    const nextAt = nowMs() + ms;
    parked[source] = () => carry(nextAt);
    try {
      if (await parkedWait(stop, ms, summary)) return true;
      // Past the history limit, a look that falls due stays parked (one more interval at most) until
      // the rest of the rollout reaches a wait too, and the run hands over with nothing in flight.
      // Without it, two analyses with short intervals on a slow worker can keep one call or the
      // other in flight at every workflow task, and the run overshoots the limit by many events.
      if (quietHandOver && handOverDue()) return await parkedWait(stop, ms, `${source} analysis: held for the hand-over to a new run`);
      return false;
    } finally {
      parked[source] = undefined;
    }
  };
  /** The first wait of an analysis picked up from a previous run: whatever was left of it. */
  const firstWait = (carry: AnalysisCarry | undefined, interval: number) => (carry ? Math.max(0, carry.nextAt - nowMs()) : interval);

  /**
   * A judged analysis: one look right away (the reference counters), then one per interval; the
   * judge runs here, in workflow code, on counters recorded in history (docs/decisions/0009).
   */
  const runJudgedAnalysis = async (analysis: AnalysisSpec, judge: ResolvedJudge, source: Source, carry?: AnalysisCarry): Promise<AnalysisOutcome | undefined> => {
    const spec: JudgedAnalysis = { judge, consecutiveErrorLimit: analysis.consecutiveErrorLimit, count: source === 'step' ? analysis.count : undefined };
    let judged = carry?.judged ?? initialJudgedState();
    const stop = () => !!state.requests.abort || (source === 'step' && !!state.requests.promote) || (source === 'background' && stopBackground);
    for (let look = carry?.looks ?? 0; ; look++) {
      const wait = look === 0 ? 0 : look === carry?.looks ? firstWait(carry, analysis.interval) : analysis.interval;
      const state0 = judged;
      if (look > 0 || carry) {
        if (await waitForLook(source, stop, wait, `${source} analysis: next look`, (nextAt) => ({ looks: look, nextAt, judged: state0 }))) return undefined;
      } else if (stop()) return undefined;
      const at = nowMs();
      // Before the first look of a new analysis: how steady is the baseline? (Rollouts started before
      // calibration existed have no calibrationBatches in their frozen spec, and make no such call.)
      const wanted = look === 0 && !carry ? calibrationWanted(spec) : 0;
      if (wanted > 0 && judge.kind === 'sequential') {
        const h = await call('readBaselineHistory', `${source} analysis: baseline history for noise calibration`, { namespace: ns, baseline: r.spec.target.deployment, end: at, stepMs: judge.config.batchMs, steps: wanted });
        judged = calibrate(spec, judged, h.ok ? { samples: h.samples } : { error: h.error });
      }
      const canaryWeight = state.status.weights.canary;
      const read = await call('readCounters', `${source} analysis: ${judge.kind} judge, look ${look}`, { namespace: ns, canary: r.spec.canary.deploymentName, baseline: r.spec.target.deployment, at });
      const step = judgeLook(spec, judged, read.ok
        ? { at, canaryWeight, counters: { canary: read.canary, baseline: read.baseline } }
        : { at, canaryWeight, error: read.error });
      judged = step.state;
      const d = step.decision;
      state.status.lastAnalysis = { at: now(), phase: d.phase, reason: d.reason, source, measurements: [], judge: { kind: judge.kind, verdict: d.verdict, evidence: d.evidence, ...(judged.calibration ? { calibration: judged.calibration.reason } : {}) } };
      if (d.phase !== 'Running') {
        state.record({ at: now(), event: 'analysis', via: 'workflow', reason: `${d.phase}: ${d.reason}`, accepted: true });
        return d;
      }
    }
  };

  const runAnalysis = async (analysis: AnalysisSpec, source: Source, carry?: AnalysisCarry): Promise<AnalysisOutcome | undefined> => {
    if (analysis.judge) return runJudgedAnalysis(analysis, analysis.judge, source, carry);
    const history: Measurement[][] = carry?.measurements ?? [];
    const stop = () => !!state.requests.abort || (source === 'step' && !!state.requests.promote) || (source === 'background' && stopBackground);
    for (let n = 0; ; n++) {
      const wait = n === 0 ? firstWait(carry, analysis.interval) : analysis.interval;
      if (await waitForLook(source, stop, wait, `${source} analysis: next measurement`, (nextAt) => ({ looks: history.length, nextAt, measurements: history }))) return undefined;
      const measurements = await call('measureAnalysis', `${source} analysis: ${analysisSubject(analysis)}`, { analysis, vars: analysisVars, at: now() });
      history.push(measurements);
      const decision = decideAnalysis(analysis, history);
      state.status.lastAnalysis = {
        at: now(), phase: decision.phase, reason: decision.reason, source,
        measurements: measurements.map((m: Measurement) => ({ metric: m.metric, phase: m.phase, value: m.value, message: m.message })),
      };
      if (decision.phase !== 'Running') {
        state.record({ at: now(), event: 'analysis', via: 'workflow', reason: `${decision.phase}: ${decision.reason}`, accepted: true });
        return decision;
      }
    }
  };

  /** Waits while a person has paused the rollout. */
  const holdWhileUserPaused = async () => {
    if (!state.requests.userPause) return;
    const p = state.requests.userPause;
    state.status.pause = { since: now(), by: p.by, reason: p.reason };
    setPhase(Phase.Paused, `paused by ${p.by ?? 'someone'}${p.reason ? `: ${p.reason}` : ''}; resume to continue`);
    await parkedWait(() => !state.requests.userPause || !!state.requests.abort || !!state.requests.promote?.full);
    state.requests.resume = undefined;
    state.status.pause = undefined;
    if (!state.requests.abort) setPhase(Phase.Progressing, 'resumed');
  };

  // ---- the forward path --------------------------------------------------------------------
  /** Preflight, the canary Deployment, its readiness, and its destination at 0 %. */
  const initialize = async (): Promise<void> => {
    setPhase(Phase.Initializing, 'checking that the target, its Service and routes exist');
    await call('workloadPreflight', 'check stable Deployment and Service', wref);
    await call('trafficPreflight', 'check VirtualService and destinations', tref);
    snapshot = await call('trafficSnapshot', 'record routes before the rollout', tref);

    setPhase(Phase.Initializing, `deploying canary ${r.spec.canary.deploymentName}`);
    canaryMayExist = true;
    const canary = await call('ensureCanary', `create canary ${r.spec.canary.deploymentName}`, wref);
    state.status.image = canary.image;
    const deadlineAt = nowMs() + r.spec.progressDeadlineMs;
    await waiting.waitAvailable.executeWithOptions(
      { ...WAIT_OPTS, summary: `wait for canary ${canary.name} to be Available` }, [{ namespace: ns, name: canary.name, deadlineAt }]);
    state.record({ at: now(), event: 'readiness', via: 'workflow', reason: `canary ${canary.name} Available`, accepted: true });

    setPhase(Phase.Initializing, 'adding the canary destination at 0 %');
    routesTouched = true;
    state.status.weights = await call('trafficPrepare', 'add canary destination at 0 %', tref, snapshot);
    setPhase(Phase.Progressing, `canary ${canary.name} ready`);
  };

  const forward = async (): Promise<void> => {
    if (!resume) await initialize();
    const background = r.spec.analysis
      ? runAnalysis(r.spec.analysis, 'background', resume?.background).then((d) => {
        if (d && (d.phase === 'Failed' || d.phase === 'Error')) backgroundFailure = `background analysis ${d.phase}: ${d.reason}`;
      })
      : undefined;
    backgroundRunning = background !== undefined;
    void background?.then(() => (backgroundRunning = false));

    const steps = r.spec.steps;
    for (let i = resume?.step ?? 0; i < steps.length; i++) {
      // A run continued from a checkpoint picks its first step up where the previous run parked it.
      const carried = i === resume?.step ? resume.wait : undefined;
      if (!carried) state.setStep(i);
      at = { step: i, wait: () => ({ kind: 'hold' }) };
      await holdWhileUserPaused();
      at = undefined;
      if (state.requests.promote?.full) break;
      const step = steps[i]!;
      switch (step.kind) {
        case 'setWeight':
          await handleDrift(step.weight);
          if (state.requests.abort) break;
          setPhase(Phase.Progressing, `step ${i + 1}/${steps.length}: setting canary weight to ${step.weight}%`);
          await setWeight(step.weight);
          break;
        case 'pause': {
          const c = carried?.kind === 'pause' ? carried : undefined;
          const untilMs = c ? c.untilMs : step.durationMs === undefined ? undefined : nowMs() + step.durationMs;
          const until = untilMs === undefined ? undefined : new Date(untilMs).toISOString();
          if (!c) {
            state.status.pause = { since: now(), until };
            setPhase(Phase.Paused, step.durationMs === undefined ? `step ${i + 1}/${steps.length}: paused until resumed` : `step ${i + 1}/${steps.length}: pausing until ${until}`);
          }
          const woken = () => !!state.requests.resume || !!state.requests.promote || !!state.requests.abort;
          at = { step: i, wait: () => ({ kind: 'pause', untilMs }) };
          if (untilMs === undefined) await parkedWait(woken);
          else {
            const ms = c ? untilMs - nowMs() : step.durationMs!;
            if (ms > 0) await parkedWait(woken, ms, `pause step ${i + 1}: ${Math.round(ms / 1000)}s`);
          }
          at = undefined;
          state.requests.resume = undefined;
          state.status.pause = undefined;
          break;
        }
        case 'approval': {
          const c = carried?.kind === 'approval' ? carried : undefined;
          const timeoutMs = c ? c.timeoutAt : step.timeoutMs === undefined ? undefined : nowMs() + step.timeoutMs;
          if (!c) {
            state.requests.approved = undefined;
            const timeoutAt = timeoutMs === undefined ? undefined : new Date(timeoutMs).toISOString();
            state.status.pendingApproval = { since: now(), timeoutAt, onTimeout: step.onTimeout };
            setPhase(Phase.AwaitingApproval, `step ${i + 1}/${steps.length}: waiting for approval${timeoutAt ? ` (on timeout at ${timeoutAt}: ${step.onTimeout})` : ''}`);
          }
          const decided = () => !!state.requests.approved || !!state.requests.promote || !!state.requests.abort;
          at = { step: i, wait: () => ({ kind: 'approval', timeoutAt: timeoutMs }) };
          const left = timeoutMs === undefined ? undefined : c ? timeoutMs - nowMs() : step.timeoutMs!;
          const answered = left === undefined
            ? await parkedWait(decided)
            : left > 0 ? await parkedWait(decided, left, `wait for approval (step ${i + 1}), then ${step.onTimeout}`) : decided();
          at = undefined;
          state.status.pendingApproval = undefined;
          if (!answered) {
            state.record({ at: now(), event: 'approvalTimeout', via: 'workflow', reason: `no approval within ${Math.round(step.timeoutMs! / 1000)}s: ${step.onTimeout}`, accepted: true });
            if (step.onTimeout === 'abort') throw new RollbackRequested(`approval timed out after ${Math.round(step.timeoutMs! / 1000)}s`);
          }
          break;
        }
        case 'analysis': {
          const c = carried?.kind === 'analysis' ? carried : undefined;
          if (!c) setPhase(Phase.Progressing, `step ${i + 1}/${steps.length}: analysing ${analysisSubject(step.analysis)}`);
          at = { step: i, wait: () => (parked.step ? { kind: 'analysis', analysis: parked.step() } : undefined) };
          const d = await runAnalysis(step.analysis, 'step', c?.analysis);
          at = undefined;
          if (d && (d.phase === 'Failed' || d.phase === 'Error')) throw new RollbackRequested(`analysis ${d.phase}: ${d.reason}`);
          if (d?.phase === 'Inconclusive' && !state.requests.abort) {
            // As Argo does: an inconclusive analysis waits for a person to resume, promote or abort.
            state.requests.userPause = { by: 'analysis', reason: `analysis inconclusive: ${d.reason}` };
            await holdWhileUserPaused();
          }
          break;
        }
      }
      if (state.requests.abort) return;
      // A plain promote skips the step it interrupted, and only that one.
      if (state.requests.promote && !state.requests.promote.full) state.requests.promote = undefined;
    }
    state.setStep(steps.length);
    stopBackground = true;
    await background;
  };

  const promote = async (): Promise<void> => {
    setPhase(Phase.Promoting, `rolling ${r.spec.target.deployment} to the canary's pod template`);
    await call('promoteStable', `promote ${r.spec.target.deployment} to the canary template`, wref);
    await waiting.waitAvailable.executeWithOptions(
      { ...WAIT_OPTS, summary: `wait for ${r.spec.target.deployment} to be Available` },
      [{ namespace: ns, name: r.spec.target.deployment, deadlineAt: nowMs() + r.spec.progressDeadlineMs }]);
    setPhase(Phase.Promoting, 'shifting all traffic to stable and cleaning up');
    await setWeight(0);
    await call('trafficRestoreRoutes', 'remove canary route entries', tref, snapshot!);
    await call('trafficRemoveCanaryDestination', 'remove canary destination', tref, snapshot!);
    await call('removeCanary', `delete canary ${r.spec.canary.deploymentName}`, wref);
  };

  const rollback = async (reason: string): Promise<RolloutResult> => {
    state.status.reason = reason;
    state.status.pendingApproval = undefined;
    state.status.pause = undefined;
    setPhase(Phase.RollingBack, reason);
    state.record({ at: now(), event: 'rollback', via: 'workflow', reason, accepted: true });
    const left: string[] = [];
    await CancellationScope.nonCancellable(async () => {
      if (routesTouched && snapshot) {
        try {
          state.status.weights = await undoCall('trafficSetWeight', 'rollback: canary weight 0', tref, 0);
          await undoCall('trafficRestoreRoutes', 'rollback: restore original routes', tref, snapshot);
          await undoCall('trafficRemoveCanaryDestination', 'rollback: remove canary destination', tref, snapshot);
        } catch (err) {
          left.push(`restore the routes of VirtualService ${ns}/${r.spec.traffic.virtualService.name} (send 100 % to stable, remove the canary destination): ${failureMessage(err)}`);
        }
      }
      if (canaryMayExist) {
        if (routesTouched && r.spec.rollback.scaleDownDelayMs > 0) {
          setPhase(Phase.RollingBack, `${reason}; traffic back on stable, canary removed in ${Math.round(r.spec.rollback.scaleDownDelayMs / 1000)}s`);
          await sleep(r.spec.rollback.scaleDownDelayMs, { summary: 'rollback: canary scale-down delay' });
        }
        try {
          await undoCall('removeCanary', `rollback: delete canary ${r.spec.canary.deploymentName}`, wref);
        } catch (err) {
          left.push(`delete the canary Deployment ${ns}/${r.spec.canary.deploymentName}: ${failureMessage(err)}`);
        }
      }
    });
    if (left.length > 0) {
      state.status.leftToFix = left;
      return finish('RollbackFailed', Phase.RollbackFailed, `${reason}; the rollback did not finish: ${left.length} thing(s) left to fix by hand`);
    }
    return finish('RolledBack', Phase.RolledBack, reason);
  };

  const finish = async (outcome: Outcome, phase: Phase, reason: string): Promise<RolloutResult> => {
    state.status.outcome = outcome;
    state.status.reason = reason;
    setPhase(phase, reason);
    upsertSearchAttributes([{ key: RampOutcome, value: outcome }]);
    await condition(allHandlersFinished);
    return { outcome, reason, status: state.status };
  };

  // ---- run -----------------------------------------------------------------------------------
  const scope = new CancellationScope();
  // An abort or a failing background analysis interrupts whatever the forward path is doing.
  void CancellationScope.nonCancellable(() => condition(() => !!state.requests.abort || backgroundFailure !== undefined)).then(() => scope.cancel());
  try {
    // A long rollout hands over to a fresh run (continue-as-new) at a wait, before its history nears
    // Temporal's limits; the run in progress stops there, with nothing in flight.
    const how = await Promise.race([
      scope.run(forward).then(() => 'done' as const),
      condition(timeToContinue).then(() => 'continue' as const),
    ]);
    finishedForward = true;
    if (how === 'continue') {
      const cp = handOver!;
      log.info('continuing as new', { historyLength: workflowInfo().historyLength, step: cp.step, runs: cp.runs });
      await condition(allHandlersFinished);
      return await continueAsNew<typeof rolloutWorkflow>({ ...input, resume: cp });
    }
    if (state.requests.abort) throw new RollbackRequested(`aborted by ${state.requests.abort.by ?? 'someone'}: ${state.requests.abort.reason}`);
    if (backgroundFailure) throw new RollbackRequested(backgroundFailure);
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const cancelledByUs = isCancellation(err) && (state.requests.abort || backgroundFailure);
    let reason: string;
    if (err instanceof RollbackRequested) reason = err.message;
    else if (cancelledByUs && state.requests.abort) reason = `aborted by ${state.requests.abort.by ?? 'someone'}: ${state.requests.abort.reason}`;
    else if (cancelledByUs) reason = backgroundFailure!;
    else if (isCancellation(err)) reason = 'the workflow was cancelled';
    else reason = failureMessage(err);
    const result = await rollback(reason);
    if (isCancellation(err) && !cancelledByUs) throw err; // the workflow itself was cancelled: end as Cancelled, after rolling back
    return result;
  }

  try {
    await promote();
  } catch (err) {
    state.status.leftToFix = [
      `promotion did not finish: ${failureMessage(err)}`,
      `check Deployment ${ns}/${r.spec.target.deployment} (kubectl rollout status / undo), VirtualService ${ns}/${r.spec.traffic.virtualService.name}, and delete Deployment ${ns}/${r.spec.canary.deploymentName} if it remains`,
    ];
    if (isCancellation(err)) throw err;
    return finish('RollbackFailed', Phase.RollbackFailed, `promotion failed: ${failureMessage(err)}`);
  }
  state.record({ at: now(), event: 'promoted', via: 'workflow', accepted: true });
  return finish('Promoted', Phase.Succeeded, `promoted ${state.status.image ?? 'the canary'} to ${r.spec.target.deployment}${state.requests.promote?.full ? ` (promoted in full by ${state.requests.promote.by ?? 'someone'})` : ': all steps passed'}`);
}
