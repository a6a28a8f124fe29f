/**
 * The rollout's state and the rules for commands, as plain data and pure functions so they can be
 * table-tested; the workflow only wires them to messages and activities. Time is always an
 * input (ISO strings from the workflow), never read here.
 */
import type { JudgeEvidence } from '../analysis/judged';
import type { JudgeDecision } from '../analysis/sequential';
import type { AnalysisSpec, ResolvedJudge } from '../spec/analysis';
import type { ResolvedRollout, Step } from '../spec/schema';
import { Command, CommandInput } from './commands';
import { Outcome, Phase, TERMINAL_PHASES } from './phases';

export interface AnalysisVerdict {
  at: string;
  /** Running, Successful, Failed, Inconclusive or Error. */
  phase: string;
  reason: string;
  measurements: { metric: string; phase: string; value?: number; message?: string }[];
  /** 'step' for an analysis step, 'background' for the rollout-wide analysis. */
  source: 'step' | 'background';
  /** A judged analysis: the judge, what it said at the last look, and its evidence. */
  judge?: {
    kind: ResolvedJudge['kind'];
    verdict: JudgeDecision | 'error';
    evidence?: JudgeEvidence;
    /** How the noise priors were set before the first look (sequential judge, src/domain/analysis/calibrate.ts). */
    calibration?: string;
  };
}

/** What an analysis looks at, in a few words: its metrics, or its judge. */
export function analysisSubject(a: AnalysisSpec): string {
  return a.judge ? `${a.judge.kind} judge (canary vs baseline)` : a.metrics.map((m) => m.name).join(', ');
}

export interface AuditEntry {
  at: string;
  /** A command from a person or system, or what the workflow itself did. */
  event: Command | 'start' | 'approvalTimeout' | 'analysis' | 'readiness' | 'rollback' | 'promoted' | 'drift';
  via: 'update' | 'signal' | 'workflow';
  by?: string;
  reason?: string;
  /** False for a signal that was refused (updates that are refused never reach history). */
  accepted: boolean;
}

export interface RolloutStatus {
  rollout: { namespace: string; name: string };
  phase: Phase;
  /** One sentence: what the rollout is doing or waiting for. */
  message: string;
  /** The current step (0-based) and the number of steps; index === count once all steps are done. */
  step: { index: number; count: number; description?: string };
  weights: { stable: number; canary: number };
  image?: string;
  canaryDeployment: string;
  pendingApproval?: { since: string; timeoutAt?: string; onTimeout: 'abort' | 'promote' };
  pause?: { since: string; until?: string; by?: string; reason?: string };
  /** The last analysis verdict with its evidence (one measurement per metric). */
  lastAnalysis?: AnalysisVerdict;
  startedAt: string;
  phaseSince: string;
  outcome?: Outcome;
  /** Why it ended (or why it is rolling back). */
  reason?: string;
  /** RollbackFailed: what is left to fix by hand. */
  leftToFix?: string[];
  audit: AuditEntry[];
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'setWeight':
      return `set canary weight to ${step.weight}%`;
    case 'pause':
      return step.durationMs === undefined ? 'pause until resumed' : `pause for ${Math.round(step.durationMs / 1000)}s`;
    case 'approval':
      return 'wait for approval';
    case 'analysis':
      return `analysis: ${analysisSubject(step.analysis)} (${step.analysis.count ?? '∞'} × ${Math.round(step.analysis.interval / 1000)}s)`;
  }
}

/** Requests from people that the workflow's main loop acts on. */
export interface Requests {
  abort?: { by?: string; reason: string };
  promote?: { by?: string; full: boolean };
  /** Set by approve while an approval is pending; cleared when the next approval starts. */
  approved?: { by?: string };
  /** A person paused the rollout; cleared by resume. */
  userPause?: { by?: string; reason?: string };
  /** Resume asked while paused; consumed by the pause it ends. */
  resume?: { by?: string };
}

export class RolloutState {
  readonly status: RolloutStatus;
  readonly requests: Requests = {};

  constructor(readonly rollout: ResolvedRollout, now: string) {
    this.status = {
      rollout: { namespace: rollout.metadata.namespace, name: rollout.metadata.name },
      phase: Phase.Initializing,
      message: 'checking the target and deploying the canary',
      step: { index: 0, count: rollout.spec.steps.length, description: describeStep(rollout.spec.steps[0]!) },
      weights: { stable: 100, canary: 0 },
      image: rollout.spec.canary.image,
      canaryDeployment: rollout.spec.canary.deploymentName,
      startedAt: now,
      phaseSince: now,
      audit: [],
    };
  }

  /** The state a previous run handed over (continue-as-new): the same status and pending requests. */
  static restore(rollout: ResolvedRollout, status: RolloutStatus, requests: Requests): RolloutState {
    const s = new RolloutState(rollout, status.startedAt);
    Object.assign(s.status, status);
    Object.assign(s.requests, requests);
    return s;
  }

  get phase(): Phase {
    return this.status.phase;
  }

  setPhase(phase: Phase, message: string, now: string): void {
    if (phase !== this.status.phase) this.status.phaseSince = now;
    this.status.phase = phase;
    this.status.message = message;
  }

  setStep(index: number): void {
    const steps = this.rollout.spec.steps;
    this.status.step = { index, count: steps.length, description: steps[index] ? describeStep(steps[index]) : undefined };
  }

  record(entry: AuditEntry): void {
    this.status.audit.push(entry);
  }

  /**
   * Why `cmd` cannot be accepted now, or undefined if it can. Validators of updates call this,
   * so a refused command changes nothing and is not written to history.
   */
  refusal(cmd: Command, input: CommandInput): string | undefined {
    const { phase } = this.status;
    const where = `the rollout ${this.status.rollout.namespace}/${this.status.rollout.name} is ${phase}`;
    if (TERMINAL_PHASES.includes(phase)) return `${where}; it has ended, so there is nothing to ${cmd}`;
    if (phase === Phase.RollingBack) return `${where} (${this.status.reason ?? 'aborted'}); nothing to ${cmd}`;
    if (phase === Phase.Promoting && cmd !== 'abort') return `${where}; it is already being promoted`;
    if (this.requests.abort) return `${where} and was aborted by ${this.requests.abort.by ?? 'someone'} (${this.requests.abort.reason}); nothing to ${cmd}`;
    switch (cmd) {
      case 'approve':
        if (phase !== Phase.AwaitingApproval) {
          return `nothing awaits approval: ${where} at step ${this.status.step.index + 1} of ${this.status.step.count}` +
            (this.status.step.description ? ` (${this.status.step.description})` : '');
        }
        return undefined;
      case 'promote':
        if (phase === Phase.Initializing) return `${where}: the canary is not ready yet; promote once it is Progressing`;
        if (phase === Phase.Promoting) return `${where}; it is already being promoted`;
        if (this.requests.promote && (this.requests.promote.full || !input.full)) {
          return `${where}; promote was already requested by ${this.requests.promote.by ?? 'someone'}`;
        }
        return undefined;
      case 'abort':
        if (phase === Phase.Promoting) return `${where}: stable is already being rolled to the new version; abort is no longer possible`;
        return undefined;
      case 'pause':
        if (this.requests.userPause) return `${where}; it was already paused by ${this.requests.userPause.by ?? 'someone'}`;
        return undefined;
      case 'resume':
        if (phase !== Phase.Paused && !this.requests.userPause) return `nothing to resume: ${where}`;
        return undefined;
    }
  }

  /** Applies an accepted command and records who sent it. */
  apply(cmd: Command, input: CommandInput, via: 'update' | 'signal', now: string): void {
    this.record({ at: now, event: cmd, via, by: input.by, reason: input.reason, accepted: true });
    switch (cmd) {
      case 'approve':
        this.requests.approved = { by: input.by };
        break;
      case 'promote':
        this.requests.promote = { by: input.by, full: input.full === true };
        break;
      case 'abort':
        this.requests.abort = { by: input.by, reason: input.reason ?? 'aborted' };
        break;
      case 'pause':
        this.requests.userPause = { by: input.by, reason: input.reason };
        break;
      case 'resume':
        this.requests.userPause = undefined;
        this.requests.resume = { by: input.by };
        break;
    }
  }

  /** Records a signal that was refused (signals cannot be rejected back to their sender). */
  refuseSignal(cmd: Command, input: CommandInput, why: string, now: string): void {
    this.record({ at: now, event: cmd, via: 'signal', by: input.by, reason: `refused: ${why}`, accepted: false });
  }
}
