/**
 * The rollout workflow: one per target Deployment. It only orchestrates — the state and the rules
 * for commands live in src/domain/rollout/state.ts, every side effect is an activity — and it
 * always ends in a known state: Succeeded, RolledBack, or RollbackFailed with what is left to fix.
 *
 * Rollback is a saga unwound in a non-cancellable scope, so an abort, a failed analysis, a canary
 * that never becomes ready, or a cancellation of the workflow cannot skip it.
 */
import {
  allHandlersFinished, CancellationScope, condition, isCancellation, log, patched, proxyActivities, setCurrentDetails,
  setHandler, sleep, upsertSearchAttributes,
} from '@temporalio/workflow';
import type { MetricsActivities } from '../activities/metrics/activities';
import type { TrafficActivities } from '../activities/traffic/activities';
import type { TrafficRef, TrafficSnapshot } from '../activities/traffic/router';
import type { WorkloadActivities, WorkloadRef } from '../activities/workload';
import { AnalysisDecision, decideAnalysis, Measurement } from '../domain/analysis/evaluate';
import { initialJudgedState, JudgedAnalysis, judgeLook } from '../domain/analysis/judged';
import { Command, COMMANDS, parseCommandInput } from '../domain/rollout/commands';
import { Outcome, Phase } from '../domain/rollout/phases';
import { analysisSubject, RolloutState, RolloutStatus } from '../domain/rollout/state';
import type { AnalysisSpec, ResolvedJudge, ResolvedRollout } from '../domain/spec/schema';
import * as msg from '../shared/messages';
import { nowIso, nowMs } from './clock';
import { RampOutcome, RampPhase } from '../shared/search-attributes';

export interface RolloutInput {
  rollout: ResolvedRollout;
  /** Who started it (CLI user, CI job). */
  startedBy?: string;
}

export interface RolloutResult {
  outcome: Outcome;
  /** Why it ended so, in words: the failing verdict, the abort reason, "all steps passed". */
  reason: string;
  status: RolloutStatus;
}

/** Non-retryable failures: retrying cannot fix them; the workflow rolls back at once. */
const FATAL = ['TargetNotFound', 'InvalidTarget', 'InvalidObject', 'Forbidden', 'Unauthorized', 'ProgressDeadlineExceeded', 'InvalidAnalysis'];

const retry = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: FATAL };

/** Forward-path calls: retried with backoff (an apiserver outage is waited out) for up to 10 minutes. */
const act = proxyActivities<WorkloadActivities & TrafficActivities & MetricsActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry,
});

/** Readiness waits heartbeat; the deadline itself is enforced inside the activity. */
const waiting = proxyActivities<WorkloadActivities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '10s',
  retry,
});

/** Rollback calls: bounded, so a rollback that cannot finish ends in RollbackFailed instead of hanging. */
const undo = proxyActivities<WorkloadActivities & TrafficActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '5m',
  retry,
});

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
  const state = new RolloutState(r, now());
  state.record({ at: now(), event: 'start', via: 'workflow', by: input.startedBy, accepted: true });

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
  let snapshot: TrafficSnapshot | undefined;
  let canaryMayExist = false;
  let routesTouched = false;
  let backgroundFailure: string | undefined;
  let stopBackground = false;

  const setWeight = async (weight: number) => {
    state.status.weights = await act.trafficSetWeight.executeWithOptions(
      { ...ACT_OPTS, summary: `set weight: canary ${weight}%` }, [tref, weight]);
  };

  /**
   * Someone changed the managed weights outside Ramp (kubectl, another controller)? Then, per
   * spec.traffic.onDrift, hold the rollout naming the change, or record it and re-assert. Added after
   * the first recorded histories, hence the patch marker (those replay without the extra read).
   */
  const handleDrift = async (): Promise<void> => {
    if (!routesTouched || !patched('drift-check-v1')) return;
    const current = await act.trafficGetWeights.executeWithOptions({ ...ACT_OPTS, summary: 'check weights for outside changes' }, [tref]);
    const expected = state.status.weights;
    if (current.canary === expected.canary) return;
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
  const runJudgedAnalysis = async (analysis: AnalysisSpec, judge: ResolvedJudge, source: 'step' | 'background'): Promise<AnalysisOutcome | undefined> => {
    const spec: JudgedAnalysis = { judge, consecutiveErrorLimit: analysis.consecutiveErrorLimit, count: source === 'step' ? analysis.count : undefined };
    let judged = initialJudgedState();
    for (let look = 0; ; look++) {
      const stop = () => !!state.requests.abort || (source === 'step' && !!state.requests.promote) || (source === 'background' && stopBackground);
      if (look > 0 ? await condition(stop, analysis.interval, { summary: `${source} analysis: next look` }) : stop()) return undefined;
      const at = nowMs();
      const canaryWeight = state.status.weights.canary;
      const read = await act.readCounters.executeWithOptions(
        { ...ACT_OPTS, summary: `${source} analysis: ${judge.kind} judge, look ${look}` },
        [{ namespace: ns, canary: r.spec.canary.deploymentName, baseline: r.spec.target.deployment, at }],
      );
      const step = judgeLook(spec, judged, read.ok
        ? { at, canaryWeight, counters: { canary: read.canary, baseline: read.baseline } }
        : { at, canaryWeight, error: read.error });
      judged = step.state;
      const d = step.decision;
      state.status.lastAnalysis = { at: now(), phase: d.phase, reason: d.reason, source, measurements: [], judge: { kind: judge.kind, verdict: d.verdict, evidence: d.evidence } };
      if (d.phase !== 'Running') {
        state.record({ at: now(), event: 'analysis', via: 'workflow', reason: `${d.phase}: ${d.reason}`, accepted: true });
        return d;
      }
    }
  };

  const runAnalysis = async (analysis: AnalysisSpec, source: 'step' | 'background'): Promise<AnalysisOutcome | undefined> => {
    if (analysis.judge) return runJudgedAnalysis(analysis, analysis.judge, source);
    const history: Measurement[][] = [];
    for (;;) {
      const interrupted = await condition(
        () => !!state.requests.abort || (source === 'step' && !!state.requests.promote) || (source === 'background' && stopBackground),
        analysis.interval,
        { summary: `${source} analysis: next measurement` },
      );
      if (interrupted) return undefined;
      const measurements = await act.measureAnalysis.executeWithOptions(
        { ...ACT_OPTS, summary: `${source} analysis: ${analysisSubject(analysis)}` },
        [{ analysis, vars: analysisVars, at: now() }],
      );
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
    await condition(() => !state.requests.userPause || !!state.requests.abort || !!state.requests.promote?.full);
    state.requests.resume = undefined;
    state.status.pause = undefined;
    if (!state.requests.abort) setPhase(Phase.Progressing, 'resumed');
  };

  // ---- the forward path --------------------------------------------------------------------
  const forward = async (): Promise<void> => {
    setPhase(Phase.Initializing, 'checking that the target, its Service and routes exist');
    await act.workloadPreflight.executeWithOptions({ ...ACT_OPTS, summary: 'check stable Deployment and Service' }, [wref]);
    await act.trafficPreflight.executeWithOptions({ ...ACT_OPTS, summary: 'check VirtualService and destinations' }, [tref]);
    snapshot = await act.trafficSnapshot.executeWithOptions({ ...ACT_OPTS, summary: 'record routes before the rollout' }, [tref]);

    setPhase(Phase.Initializing, `deploying canary ${r.spec.canary.deploymentName}`);
    canaryMayExist = true;
    const canary = await act.ensureCanary.executeWithOptions({ ...ACT_OPTS, summary: `create canary ${r.spec.canary.deploymentName}` }, [wref]);
    state.status.image = canary.image;
    const deadlineAt = nowMs() + r.spec.progressDeadlineMs;
    await waiting.waitAvailable.executeWithOptions(
      { ...WAIT_OPTS, summary: `wait for canary ${canary.name} to be Available` }, [{ namespace: ns, name: canary.name, deadlineAt }]);
    state.record({ at: now(), event: 'readiness', via: 'workflow', reason: `canary ${canary.name} Available`, accepted: true });

    setPhase(Phase.Initializing, 'adding the canary destination at 0 %');
    routesTouched = true;
    state.status.weights = await act.trafficPrepare.executeWithOptions({ ...ACT_OPTS, summary: 'add canary destination at 0 %' }, [tref, snapshot]);

    setPhase(Phase.Progressing, `canary ${canary.name} ready`);
    const background = r.spec.analysis
      ? runAnalysis(r.spec.analysis, 'background').then((d) => {
        if (d && (d.phase === 'Failed' || d.phase === 'Error')) backgroundFailure = `background analysis ${d.phase}: ${d.reason}`;
      })
      : undefined;

    const steps = r.spec.steps;
    for (let i = 0; i < steps.length; i++) {
      state.setStep(i);
      await holdWhileUserPaused();
      if (state.requests.promote?.full) break;
      const step = steps[i]!;
      switch (step.kind) {
        case 'setWeight':
          await handleDrift();
          if (state.requests.abort) break;
          setPhase(Phase.Progressing, `step ${i + 1}/${steps.length}: setting canary weight to ${step.weight}%`);
          await setWeight(step.weight);
          break;
        case 'pause': {
          const until = step.durationMs === undefined ? undefined : new Date(nowMs() + step.durationMs).toISOString();
          state.status.pause = { since: now(), until };
          setPhase(Phase.Paused, step.durationMs === undefined ? `step ${i + 1}/${steps.length}: paused until resumed` : `step ${i + 1}/${steps.length}: pausing until ${until}`);
          const woken = () => !!state.requests.resume || !!state.requests.promote || !!state.requests.abort;
          if (step.durationMs === undefined) await condition(woken);
          else await condition(woken, step.durationMs, { summary: `pause step ${i + 1}: ${Math.round(step.durationMs / 1000)}s` });
          state.requests.resume = undefined;
          state.status.pause = undefined;
          break;
        }
        case 'approval': {
          state.requests.approved = undefined;
          const timeoutAt = step.timeoutMs === undefined ? undefined : new Date(nowMs() + step.timeoutMs).toISOString();
          state.status.pendingApproval = { since: now(), timeoutAt, onTimeout: step.onTimeout };
          setPhase(Phase.AwaitingApproval, `step ${i + 1}/${steps.length}: waiting for approval${timeoutAt ? ` (on timeout at ${timeoutAt}: ${step.onTimeout})` : ''}`);
          const decided = () => !!state.requests.approved || !!state.requests.promote || !!state.requests.abort;
          const answered = step.timeoutMs === undefined
            ? (await condition(decided), true)
            : await condition(decided, step.timeoutMs, { summary: `wait for approval (step ${i + 1}), then ${step.onTimeout}` });
          state.status.pendingApproval = undefined;
          if (!answered) {
            state.record({ at: now(), event: 'approvalTimeout', via: 'workflow', reason: `no approval within ${Math.round(step.timeoutMs! / 1000)}s: ${step.onTimeout}`, accepted: true });
            if (step.onTimeout === 'abort') throw new RollbackRequested(`approval timed out after ${Math.round(step.timeoutMs! / 1000)}s`);
          }
          break;
        }
        case 'analysis': {
          setPhase(Phase.Progressing, `step ${i + 1}/${steps.length}: analysing ${analysisSubject(step.analysis)}`);
          const d = await runAnalysis(step.analysis, 'step');
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
    await act.promoteStable.executeWithOptions({ ...ACT_OPTS, summary: `promote ${r.spec.target.deployment} to the canary template` }, [wref]);
    await waiting.waitAvailable.executeWithOptions(
      { ...WAIT_OPTS, summary: `wait for ${r.spec.target.deployment} to be Available` },
      [{ namespace: ns, name: r.spec.target.deployment, deadlineAt: nowMs() + r.spec.progressDeadlineMs }]);
    setPhase(Phase.Promoting, 'shifting all traffic to stable and cleaning up');
    await setWeight(0);
    await act.trafficRestoreRoutes.executeWithOptions({ ...ACT_OPTS, summary: 'remove canary route entries' }, [tref, snapshot!]);
    await act.trafficRemoveCanaryDestination.executeWithOptions({ ...ACT_OPTS, summary: 'remove canary destination' }, [tref, snapshot!]);
    await act.removeCanary.executeWithOptions({ ...ACT_OPTS, summary: `delete canary ${r.spec.canary.deploymentName}` }, [wref]);
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
          state.status.weights = await undo.trafficSetWeight.executeWithOptions({ ...UNDO_OPTS, summary: 'rollback: canary weight 0' }, [tref, 0]);
          await undo.trafficRestoreRoutes.executeWithOptions({ ...UNDO_OPTS, summary: 'rollback: restore original routes' }, [tref, snapshot]);
          await undo.trafficRemoveCanaryDestination.executeWithOptions({ ...UNDO_OPTS, summary: 'rollback: remove canary destination' }, [tref, snapshot]);
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
          await undo.removeCanary.executeWithOptions({ ...UNDO_OPTS, summary: `rollback: delete canary ${r.spec.canary.deploymentName}` }, [wref]);
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
    await scope.run(forward);
    if (state.requests.abort) throw new RollbackRequested(`aborted by ${state.requests.abort.by ?? 'someone'}: ${state.requests.abort.reason}`);
    if (backgroundFailure) throw new RollbackRequested(backgroundFailure);
  } catch (err) {
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

const ACT_OPTS = { startToCloseTimeout: '30s', scheduleToCloseTimeout: '10m', retry } as const;
const WAIT_OPTS = { startToCloseTimeout: '2h', heartbeatTimeout: '10s', retry } as const;
const UNDO_OPTS = { startToCloseTimeout: '30s', scheduleToCloseTimeout: '5m', retry } as const;
