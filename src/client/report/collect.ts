/**
 * A rollout's report data, read from its Temporal history alone (no worker, no status query): the
 * spec from the first run's input, the weights Ramp set, the steps it went through, every analysis
 * look with the judge's evidence, who sent which command, and how it ended.
 *
 * The judge runs in workflow code, so its evidence is not in history as such; what is recorded is
 * each look's counters (the `readCounters` local activity's result). The looks are recomputed here
 * with the workflow's own pure code (`onLook`, `onCalibration` from src/domain/rollout/looks.ts) at
 * the look times the workflow used — the start of the workflow task that scheduled the read, which
 * is the workflow's clock — so they are the verdicts the rollout had. The last recomputed look is
 * checked against the verdict the run recorded in its result; a difference is reported, not hidden.
 *
 * Pure over the events, so it is unit-tested with recorded histories (test/fixtures/histories).
 */
import { decodePayload, localActivityOf, msOf, type ActivityCall, type HistoryEvent } from '../history';
import type { JudgeEvidence } from '../../domain/analysis/judged';
import type { Measurement } from '../../domain/analysis/evaluate';
import type { CallResults } from '../../domain/rollout/calls';
import { COMMANDS } from '../../domain/rollout/commands';
import { analysisOf, consequence, onCalibration, onLook, startRun } from '../../domain/rollout/looks';
import type { RolloutResult } from '../../domain/rollout/machine';
import type { AnalysisRun, Rollout } from '../../domain/rollout/model';
import { describeStep, type AuditEntry } from '../../domain/rollout/state';
import type { ResolvedRollout, Step } from '../../domain/spec/schema';

/** One step of the spec, and when the rollout went through it. */
export interface ReportStep {
  /** 0-based position in spec.steps. */
  index: number;
  kind: Step['kind'];
  /** In words, as `ramp status` says it ("set canary weight to 10%"). */
  description: string;
  /** setWeight steps: the weight they set. */
  weight?: number;
  /** Epoch ms it began and ended; absent for a step the rollout never reached (or has not finished). */
  startedAt?: number;
  endedAt?: number;
  /** How it ended, in words: "weight set", "approved by alice", "analysis Successful", "skipped"… */
  end?: string;
}

/** One analysis look, recomputed from the counters in history. */
export interface ReportLook {
  /** Epoch ms of the look (the workflow's clock). */
  at: number;
  source: 'step' | 'background';
  /** The analysis step's index (step analyses). */
  step?: number;
  /** 0 is the reference look (a judge records its starting counters). */
  look: number;
  /** The analysis' phase after this look: Running, Successful, Failed, Inconclusive, Error. */
  phase: string;
  reason: string;
  /** A judged analysis: what the judge said, and its evidence. */
  judge?: { kind: 'sequential' | 'threshold'; verdict: string; evidence?: JudgeEvidence };
  /** A threshold-metrics analysis: each metric's measurement. */
  measurements?: { metric: string; phase: string; value?: number; min?: number; max?: number; message?: string }[];
}

/** One analysis (a step's, or the rollout-wide one) and what it compares against. */
export interface ReportAnalysis {
  source: 'step' | 'background';
  step?: number;
  kind: 'sequential' | 'threshold' | 'metrics';
  /** Sequential judge: the tolerance δ (no worse means ratio ≤ 1 + δ) and α. */
  tolerance?: number;
  alpha?: number;
  /** Threshold judge: Flagger's limits. */
  minSuccessRate?: number;
  maxP99Ms?: number;
  threshold?: number;
  looks: ReportLook[];
}

/** Something a person or the workflow did, from the rollout's audit (or, without it, its history). */
export interface ReportAction {
  at: number;
  event: string;
  via: 'update' | 'signal' | 'workflow';
  by?: string;
  reason?: string;
  /** False for a refused signal; absent when only the history is known (no audit to say). */
  accepted?: boolean;
}

export interface ReportData {
  workflowId: string;
  /** Every run of the rollout, first to last (continue-as-new). */
  runIds: string[];
  rollout: { namespace: string; name: string };
  target: { deployment: string; service: string };
  image?: string;
  startedBy?: string;
  startedAt?: number;
  /** When the last run closed; absent while it runs. */
  endedAt?: number;
  /** Promoted, RolledBack, RollbackFailed, Refused; "Cancelled" or "Failed" for a run that ended otherwise; absent while it runs. */
  outcome?: string;
  reason?: string;
  /** The phase as of the last change in history (the RampPhase search attribute). */
  phase?: string;
  steps: ReportStep[];
  /** The canary weight Ramp set, as a step function: each point holds until the next. */
  weights: { at: number; canary: number }[];
  analyses: ReportAnalysis[];
  actions: ReportAction[];
  problems?: string[];
  leftToFix?: string[];
  /** Anything the report could not establish, said plainly. */
  notes: string[];
}

/** Everything about the rollout the report needs besides its histories. */
export interface CollectOptions {
  /** The rollout's audit when the history has none (a running rollout's status query). */
  audit?: readonly AuditEntry[];
}

type Event = HistoryEvent;
interface RunInput {
  rollout: ResolvedRollout;
  startedBy?: string;
  resume?: Rollout;
}

const idOf = (e: Event) => Number(String(e.eventId));
const inputOf = (e: Event | undefined) => decodePayload(e?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]) as RunInput | undefined;
/**
 * The rollout's result: a completed run's return value, or what a failed run carries in its
 * failure's details (a rollout that did not promote may end as a failed workflow, with its result).
 */
function resultOf(e: Event | undefined): RolloutResult | undefined {
  const completed = e?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  const failed = e?.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.details?.payloads?.[0];
  const r = decodePayload(completed ?? failed) as Partial<RolloutResult> | undefined;
  return typeof r === 'object' && r !== null && typeof r.outcome === 'string' && typeof r.status === 'object' ? (r as RolloutResult) : undefined;
}
const isCommand = (name: string | null | undefined): name is AuditEntry['event'] => (COMMANDS as readonly string[]).includes(name ?? '');

/** An analysis run as the report follows it: the workflow's own state plus what the report shows. */
interface Following {
  run: AnalysisRun;
  shown: ReportAnalysis;
}

/** The state of the walk over a rollout's runs. */
class Walk {
  readonly steps: ReportStep[];
  readonly weights: { at: number; canary: number }[] = [];
  readonly analyses: ReportAnalysis[] = [];
  readonly following: { step?: Following; background?: Following } = {};
  /** The step the rollout is in: -1 before the steps, steps.length once they are over. */
  index = -1;
  held: 'inconclusive' | 'user' | undefined;
  pausePending = false;
  /** The promotion began: undoing the routes afterwards is its cleanup, not a rollback. */
  promoting = false;
  /** The current pause or approval step's deadline (epoch ms), as the workflow computed it on entering the step. */
  deadline: number | undefined;
  /** When the rollout last finished setting up (the canary ready, its routes in place). */
  readyAt: number | undefined;

  constructor(readonly spec: ResolvedRollout) {
    this.steps = spec.spec.steps.map((s, index) => ({
      index, kind: s.kind, description: describeStep(s), ...(s.kind === 'setWeight' ? { weight: s.weight } : {}),
    }));
  }

  get canary(): number {
    return this.weights[this.weights.length - 1]?.canary ?? 0;
  }

  setWeight(at: number, canary: number): void {
    if (this.weights.length > 0 && this.canary === canary) return;
    this.weights.push({ at, canary });
  }

  /** Enters the steps (once) at the first thing a step does. */
  enterSteps(at: number): void {
    if (this.index !== -1) return;
    this.index = 0;
    this.enter(this.readyAt ?? at);
  }

  /** The current step begins at `at`; a pause or an approval with a timeout gets its deadline. */
  private enter(at: number): void {
    const s = this.current();
    if (!s) return;
    s.startedAt = at;
    const step = this.spec.spec.steps[this.index];
    this.deadline = step?.kind === 'pause' ? step.durationMs && at + step.durationMs : step?.kind === 'approval' ? step.timeoutMs && at + step.timeoutMs : undefined;
  }

  /**
   * A workflow task started at `at`: a pause or approval whose deadline has passed ends now (the
   * workflow checks deadlines whenever it wakes up, whichever timer woke it).
   */
  tick(at: number): void {
    if (this.deadline === undefined || at < this.deadline || this.held) return;
    const step = this.spec.spec.steps[this.index];
    if (step?.kind === 'pause') this.endStep(at, 'pause over');
    else if (step?.kind === 'approval' && step.onTimeout === 'abort') this.stopSteps(at, 'approval timed out: rolled back');
    else if (step?.kind === 'approval') this.endStep(at, 'approval timed out: moved on');
  }

  current(): ReportStep | undefined {
    return this.steps[this.index];
  }

  /** The current step ended at `at`, so said; the next one begins (or a pending pause holds it). */
  endStep(at: number, end: string): void {
    const s = this.current();
    if (!s) return;
    s.endedAt = at;
    s.end = end;
    this.index++;
    this.following.step = undefined;
    this.enter(at);
    if (this.pausePending) {
      this.pausePending = false;
      this.held = 'user';
    }
  }

  /** The steps are over before their end (rollback, promote --full): the rest did not run. */
  stopSteps(at: number, why: string): void {
    const s = this.current();
    if (s && s.startedAt !== undefined && s.endedAt === undefined) {
      s.endedAt = at;
      s.end = why;
    }
    for (const later of this.steps.slice(this.index + 1)) later.end ??= `not reached: ${why}`;
    this.index = this.steps.length;
    this.following.step = undefined;
    this.held = undefined;
    this.deadline = undefined;
  }

  /** The analysis a look or a calibration belongs to, started when its first read comes. */
  follow(source: 'step' | 'background', at: number): Following | undefined {
    const existing = this.following[source];
    if (existing) return existing;
    const spec = analysisOf(this.spec, source, this.index);
    if (!spec) return undefined;
    const judge = spec.judge;
    const shown: ReportAnalysis = {
      source, ...(source === 'step' ? { step: this.index } : {}),
      kind: judge?.kind ?? 'metrics', looks: [],
      ...(judge?.kind === 'sequential' ? { tolerance: judge.config.tolerance, alpha: judge.config.alpha } : {}),
      ...(judge?.kind === 'threshold' ? { minSuccessRate: judge.config.minSuccessRate, maxP99Ms: judge.config.maxP99Ms, threshold: judge.config.threshold } : {}),
    };
    this.analyses.push(shown);
    const f = { run: startRun(source, spec, at), shown };
    this.following[source] = f;
    return f;
  }

  /** Picks up where a continued run's input says the previous run left the rollout. */
  resume(r: Rollout, at: number): void {
    const stage = r.stage;
    if (stage.at === 'steps') {
      this.index = stage.index;
      const sub = stage.sub;
      this.deadline = sub?.kind === 'pause' ? sub.until : sub?.kind === 'approval' ? sub.timeoutAt : undefined;
    }
    else if (stage.at === 'promote' || stage.at === 'unwind' || stage.at === 'done') this.index = Math.max(this.index, this.steps.length);
    this.held = r.hold?.kind === 'drift' ? undefined : r.hold?.kind;
    this.pausePending = r.requests.userPause !== undefined;
    this.setWeight(at, r.status.weights.canary);
    for (const source of ['step', 'background'] as const) {
      const run = r.analyses[source];
      const f = this.following[source];
      // The previous run's state is the workflow's own: carry on from it, exactly.
      if (run && f) f.run = structuredClone(run);
      else if (run) {
        const fresh = this.follow(source, at);
        if (fresh) fresh.run = structuredClone(run);
      } else this.following[source] = undefined;
    }
  }
}

/** Accepted-or-not for each command signal, in history order, from the audit (as `ramp story` reads it). */
function signalVerdicts(audit: readonly AuditEntry[] | undefined, before: number): (boolean | undefined)[] {
  return (audit ?? []).filter((a) => a.via === 'signal').slice(before).map((a) => a.accepted);
}

/** The measurement's bounds from its metric's spec. */
function boundsOf(step: Step | undefined, background: ResolvedRollout['spec']['analysis'], source: 'step' | 'background', metric: string) {
  const analysis = source === 'step' ? (step?.kind === 'analysis' ? step.analysis : undefined) : background;
  return analysis?.metrics.find((m) => m.name === metric)?.thresholdRange ?? {};
}

/** Reads one run's events into the walk. */
function walkRun(w: Walk, events: readonly Event[], signalAccepted: (boolean | undefined)[], notes: string[]): void {
  let clock = msOf(events[0]?.eventTime) ?? 0;
  let signals = 0;
  /** The last workflow task completed with nothing after it: the next one only continues it. */
  let emptyCompletion = false;
  for (const e of events) {
    const at = msOf(e.eventTime) ?? clock;
    if (e.workflowTaskCompletedEventAttributes) {
      emptyCompletion = true;
      continue;
    }
    if (e.workflowTaskScheduledEventAttributes) continue;
    if (e.workflowTaskStartedEventAttributes) {
      // The workflow's clock as a task begins — unless the task only carries on the previous one,
      // whose local activities outlasted it (the workflow decided at the previous task's time).
      if (!emptyCompletion) clock = at;
      emptyCompletion = false;
      w.tick(clock);
      continue;
    }
    emptyCompletion = false;
    const call: ActivityCall | undefined = localActivityOf(e) ?? activityOf(e, events);
    if (call) {
      onCall(w, call, clock, notes);
      // The workflow code that takes a local activity's result in sees the clock at its completion.
      if (call.local && call.endedAt !== undefined) clock = call.endedAt;
      continue;
    }
    const update = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (update && isCommand(update.name)) {
      // An update is applied by the workflow task that accepts it, at that task's time.
      onCommand(w, update.name as Command, decodePayload(update.args?.payloads?.[0]) as Record<string, unknown> | undefined, clock);
      continue;
    }
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal && isCommand(signal.signalName)) {
      // A signal the rollout refused changed nothing; one whose fate is unknown is taken as applied.
      if (signalAccepted[signals++] !== false) onCommand(w, signal.signalName as Command, decodePayload(signal.input?.payloads?.[0]) as Record<string, unknown> | undefined, at);
    }
  }
}

type Command = (typeof COMMANDS)[number];

/** An activity task as one call, at its completion event (its scheduled event is looked up by id). */
function activityOf(e: Event, events: readonly Event[]): ActivityCall | undefined {
  const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
  if (!done) return undefined;
  const scheduled = events.find((x) => idOf(x) === Number(String(done.scheduledEventId)));
  const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity';
  const completed = e.activityTaskCompletedEventAttributes;
  return {
    name, summary: decodePayload(scheduled?.userMetadata?.summary) as string | undefined, local: false, eventId: idOf(e),
    endedAt: msOf(e.eventTime), attempt: 1,
    outcome: completed ? 'completed' : 'failed',
    ...(completed ? { result: decodePayload(completed.result?.payloads?.[0]) } : { failure: 'failed' }),
  };
}

function onCall(w: Walk, call: ActivityCall, clock: number, notes: string[]): void {
  // `clock` is the workflow's clock when it asked for the call; `at` when it took the result in
  // (a local activity's completion time, which the workflow's clock is set to on replay too).
  const at = call.endedAt ?? clock;
  const ok = call.outcome === 'completed';
  const result = call.result as Record<string, unknown> | undefined;
  switch (call.name) {
    case 'preflight': {
      const r = result as CallResults['preflight'] | undefined;
      if (ok && r?.ok) w.setWeight(at, r.weights.canary);
      return;
    }
    case 'trafficApply': {
      const r = result as CallResults['trafficApply'] | undefined;
      if (ok && r?.weights && w.index < w.steps.length) w.setWeight(at, r.weights.canary);
      if (ok && w.index === -1) w.readyAt = at;
      return;
    }
    case 'ensureCanary': case 'waitAvailable':
      if (ok && w.index === -1) w.readyAt = at;
      return;
    case 'trafficSetWeight': {
      const r = result as CallResults['trafficSetWeight'] | undefined;
      if (!ok || !r) return;
      w.enterSteps(at);
      w.setWeight(at, r.applied ? r.weights.canary : r.found.canary);
      if (r.applied && w.current()?.kind === 'setWeight') w.endStep(at, `weight set: canary ${r.weights.canary}%`);
      return;
    }
    case 'trafficPromote':
      w.promoting = true;
      if (w.index < w.steps.length) w.stopSteps(at, 'promoted');
      return;
    case 'trafficUndo':
      if (w.index < w.steps.length) w.stopSteps(at, 'rolled back');
      // A rollback's undo sends every request back to stable; a promotion's cleanup keeps the new stable.
      if (ok && !w.promoting) w.setWeight(at, 0);
      return;
    case 'readBaselineHistory': case 'readCounters': case 'measureAnalysis': {
      const source = call.summary?.startsWith('background') ? 'background' : 'step';
      if (source === 'step') w.enterSteps(clock);
      const f = w.follow(source, clock);
      const spec = analysisOf(w.spec, source, w.index);
      if (!f || !spec) {
        notes.push(`a ${call.name} at ${new Date(at).toISOString()} matches no analysis of the spec; not shown`);
        return;
      }
      // The look's time is fixed when its first read is planned (a calibration read shares it).
      const lookAt = (f.run.lookAt ??= clock);
      if (call.name === 'readBaselineHistory') {
        onCalibration(f.run, spec, ok ? result as CallResults['readBaselineHistory'] : { ok: false, error: call.failure ?? 'failed' });
        return;
      }
      if (!ok) {
        f.shown.looks.push({ at: lookAt, source, step: f.shown.step, look: f.run.looks, phase: 'Error', reason: `the analysis could not be measured: ${call.failure ?? 'failed'}` });
        // A look that cannot be read at all ends its analysis as Error, which rolls back.
        w.following[source] = undefined;
        w.stopSteps(at, 'analysis Error');
        return;
      }
      const n = f.run.looks;
      const o = onLook(f.run, spec, result as unknown as CallResults['readCounters'], w.canary, at);
      const judge = o.verdict.judge;
      f.shown.looks.push({
        at: lookAt, source, step: f.shown.step, look: n, phase: o.phase, reason: o.reason,
        ...(judge ? { judge: { kind: judge.kind, verdict: judge.verdict, ...(judge.evidence ? { evidence: judge.evidence } : {}) } } : {}),
        ...(Array.isArray(result) ? {
          measurements: (result as unknown as Measurement[]).map((m) => ({
            metric: m.metric, phase: m.phase, value: m.value, message: m.message, ...boundsOf(w.spec.spec.steps[w.index], w.spec.spec.analysis, source, m.metric),
          })),
        } : {}),
      });
      const c = consequence(source, o.phase);
      if (c === 'continue') return;
      w.following[source] = undefined;
      if (c === 'nextStep') w.endStep(at, `analysis ${o.phase}`);
      else if (c === 'hold') w.held = 'inconclusive';
      else if (c === 'rollback') w.stopSteps(at, `analysis ${o.phase}`);
      return;
    }
  }
}

function onCommand(w: Walk, cmd: Command, input: Record<string, unknown> | undefined, at: number): void {
  const by = typeof input?.by === 'string' ? ` by ${input.by}` : '';
  const step = w.current();
  switch (cmd) {
    case 'abort':
      w.stopSteps(at, `aborted${by}`);
      return;
    case 'approve':
      if (step?.kind === 'approval') w.endStep(at, `approved${by}`);
      return;
    case 'promote':
      if (input?.full === true) {
        w.stopSteps(at, `skipped: promote --full${by}`);
        return;
      }
      if (w.held === 'user') {
        w.held = undefined;
        return;
      }
      if (w.held === 'inconclusive' || (step && step.kind !== 'setWeight')) {
        w.held = undefined;
        w.endStep(at, `promoted past${by}`);
      }
      return;
    case 'pause':
      w.pausePending = true;
      return;
    case 'resume':
      if (w.held) {
        const ends = w.held === 'inconclusive';
        w.held = undefined;
        if (ends) w.endStep(at, `resumed${by}`);
        return;
      }
      if (w.pausePending) w.pausePending = false;
      else if (step?.kind === 'pause') w.endStep(at, `resumed${by}`);
      return;
  }
}

/** Who did what, from the audit; without one, the commands the history shows were sent. */
function actionsOf(audit: readonly AuditEntry[] | undefined, runs: readonly (readonly Event[])[]): ReportAction[] {
  if (audit) {
    return audit.map((a) => ({
      at: Date.parse(a.at), event: a.event, via: a.via, accepted: a.accepted,
      ...(a.by !== undefined ? { by: a.by } : {}), ...(a.reason !== undefined ? { reason: a.reason } : {}),
    }));
  }
  const out: ReportAction[] = [];
  for (const events of runs) {
    for (const e of events) {
      const update = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
      const signal = e.workflowExecutionSignaledEventAttributes;
      const name = update?.name ?? signal?.signalName;
      if (!isCommand(name)) continue;
      const input = (decodePayload((update?.args ?? signal?.input)?.payloads?.[0]) ?? {}) as Record<string, unknown>;
      out.push({
        at: msOf(e.eventTime) ?? 0, event: name, via: update ? 'update' : 'signal',
        ...(typeof input.by === 'string' ? { by: input.by } : {}), ...(typeof input.reason === 'string' ? { reason: input.reason } : {}),
        // An accepted update was applied; a signal's fate is in the audit, which is not known here.
        ...(update ? { accepted: true } : {}),
      });
    }
  }
  return out;
}

/** The last recomputed look against the verdict the rollout recorded, as a note when they differ. */
function checkAgainstRecorded(analyses: readonly ReportAnalysis[], recorded: RolloutResult['status']['lastAnalysis'] | undefined): string | undefined {
  const ev = recorded?.judge?.evidence;
  if (!ev || ev.kind !== 'sequential') return undefined;
  const mine = analyses.flatMap((a) => a.looks).filter((l) => l.judge?.evidence?.kind === 'sequential').pop();
  const e = mine?.judge?.evidence;
  if (mine && JSON.stringify(e) === JSON.stringify(ev)) return undefined;
  return `the looks were recomputed from the counters in history and the last one differs from the verdict the rollout recorded (${recorded?.phase} at ${recorded?.at}: ${recorded?.reason}); the charts may not match what the judge saw`;
}

/** A rollout's report data from the histories of its runs, first run first. */
export function collectReport(runs: readonly (readonly Event[])[], options: CollectOptions = {}): ReportData {
  const first = runs[0];
  const start = first?.[0]?.workflowExecutionStartedEventAttributes;
  const input = inputOf(first?.[0]);
  if (!start || !input?.rollout) throw new Error('collectReport: the first event of the first run is not the start of a rollout workflow (no workflowExecutionStarted event with a rollout in its input)');
  const spec = input.rollout;
  const w = new Walk(spec);
  const notes: string[] = [];
  const lastRun = runs[runs.length - 1]!;
  const close = lastRun[lastRun.length - 1];
  const result = resultOf(close);
  const audit = result?.status.audit ?? options.audit;

  let runIds: string[] = [];
  for (const [i, events] of runs.entries()) {
    const started = events[0]?.workflowExecutionStartedEventAttributes;
    const runInput = inputOf(events[0]);
    runIds.push(String(started?.originalExecutionRunId ?? ''));
    if (runInput?.resume) w.resume(runInput.resume, msOf(events[0]?.eventTime) ?? 0);
    if (i === 0 && runInput?.resume) notes.push('the runs before the first one read here were not available: the report starts where they left the rollout');
    const before = (runInput?.resume?.status.audit ?? []).filter((a) => a.via === 'signal').length;
    walkRun(w, events, signalVerdicts(audit, before), notes);
  }
  runIds = runIds.filter((id) => id !== '');

  let outcome: string | undefined;
  let reason: string | undefined;
  let phase: string | undefined;
  for (const events of runs) {
    for (const e of events) {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
      if (fields?.RampPhase) phase = String(decodePayload(fields.RampPhase));
      if (fields?.RampOutcome) outcome = String(decodePayload(fields.RampOutcome));
    }
  }
  if (result) {
    outcome = result.outcome;
    reason = result.reason;
  } else if (close?.workflowExecutionFailedEventAttributes) {
    const f = close.workflowExecutionFailedEventAttributes.failure;
    outcome ??= 'Failed';
    reason = f?.message ?? 'failed';
  } else if (close?.workflowExecutionCanceledEventAttributes) {
    outcome ??= 'Cancelled';
    reason = 'the workflow was cancelled (after rolling back)';
  } else if (close?.workflowExecutionTerminatedEventAttributes) {
    outcome = 'Terminated';
    reason = `terminated: ${close.workflowExecutionTerminatedEventAttributes.reason ?? 'no reason given'} (no rollback ran)`;
  }
  const ended = outcome !== undefined && !close?.workflowExecutionContinuedAsNewEventAttributes;
  const endedAt = ended ? msOf(close?.eventTime) : undefined;
  if (endedAt !== undefined) {
    // The last weight holds until the end.
    const last = w.current();
    if (last && last.startedAt !== undefined && last.endedAt === undefined) {
      last.endedAt = endedAt;
      last.end = outcome === 'Promoted' ? 'promoted' : (outcome ?? 'ended');
    }
  }
  const mismatch = checkAgainstRecorded(w.analyses, result?.status.lastAnalysis);
  if (mismatch) notes.push(mismatch);
  if (!audit) notes.push('no audit was available (the rollout is running and no worker answered): commands are shown as sent; whether each signal was applied is unknown');

  return {
    workflowId: String(start.workflowId ?? `rollout/${spec.metadata.namespace}/${spec.spec.target.deployment}`),
    runIds,
    rollout: { namespace: spec.metadata.namespace, name: spec.metadata.name },
    target: { deployment: spec.spec.target.deployment, service: spec.spec.target.service },
    ...(result?.status.image ?? spec.spec.canary.image ? { image: result?.status.image ?? spec.spec.canary.image } : {}),
    ...(input.startedBy !== undefined ? { startedBy: input.startedBy } : {}),
    startedAt: input.resume ? Date.parse(input.resume.status.startedAt) : msOf(first[0]?.eventTime),
    ...(endedAt !== undefined ? { endedAt } : {}),
    ...(ended ? { outcome } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(phase !== undefined ? { phase } : {}),
    steps: w.steps,
    weights: w.weights,
    analyses: w.analyses,
    actions: actionsOf(audit, runs),
    ...(result?.status.problems?.length ? { problems: result.status.problems } : {}),
    ...(result?.status.leftToFix?.length ? { leftToFix: result.status.leftToFix } : {}),
    notes,
  };
}
