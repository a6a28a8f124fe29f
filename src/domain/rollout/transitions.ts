/**
 * The state changes shared by the machine (machine.ts) and the command rules (rules.ts): phases,
 * entering and ending steps, holds, the start of a rollback, the end. Each updates the rollout in
 * place and reads no clock: `now` is an input.
 */
import type { ResolvedRollout } from '../spec/schema';
import type { Hold, Rollout } from './model';
import { Outcome, Phase } from './phases';
import { AuditEntry, stepStatus } from './state';

export const iso = (ms: number): string => new Date(ms).toISOString();

export function setPhase(r: Rollout, phase: Phase, message: string, now: number): void {
  if (phase !== r.status.phase) r.status.phaseSince = iso(now);
  r.status.phase = phase;
  r.status.message = message;
}

export function record(r: Rollout, event: AuditEntry['event'], now: number, reason?: string): void {
  r.status.audit.push({ at: iso(now), event, via: 'workflow', ...(reason !== undefined ? { reason } : {}), accepted: true });
}

/** Starts taking the saga back because the rollout failed or was aborted; a no-op once it is ending. */
export function beginRollback(r: Rollout, reason: string, now: number): void {
  if (r.stage.at === 'unwind' || r.stage.at === 'done') return;
  r.stage = { at: 'unwind', unwind: { why: 'rollback', done: 0, left: [], trafficLeft: false, trafficUndone: false } };
  r.analyses = {};
  r.hold = undefined;
  r.status.pendingApproval = undefined;
  r.status.pause = undefined;
  r.status.reason = reason;
  record(r, 'rollback', now, reason);
  setPhase(r, Phase.RollingBack, reason, now);
}

/** Ends the current step (approved, promoted past, its pause over, its analysis done) and moves to the next. */
export function endCurrentStep(r: Rollout): void {
  if (r.stage.at !== 'steps') return;
  r.stage = { at: 'steps', index: r.stage.index + 1, entered: false };
  r.analyses.step = undefined;
  r.status.pendingApproval = undefined;
  r.status.pause = undefined;
}

/** Puts the rollout on hold until a person resumes, promotes or aborts. */
export function hold(r: Rollout, h: Hold, message: string, now: number): void {
  r.hold = h;
  r.status.pause = { since: iso(now), by: h.by, reason: h.reason };
  setPhase(r, Phase.Paused, message, now);
}

/** Ends a hold by `resume` or a plain `promote`; says what happens next. */
export function releaseHold(r: Rollout, now: number, how: 'resume' | 'promote'): string {
  const h = r.hold;
  r.hold = undefined;
  r.status.pause = undefined;
  setPhase(r, Phase.Progressing, `${how === 'resume' ? 'resumed' : 'promoted past the hold'}`, now);
  switch (h?.kind) {
    case 'drift':
      if (r.stage.at === 'steps') r.stage.sub = { kind: 'write', force: true };
      return "hold ended: Ramp re-asserts its weight for this step and moves on";
    case 'inconclusive':
      endCurrentStep(r);
      return 'hold ended: the inconclusive analysis step is over; moving on to the next step';
    default:
      return 'hold ended: the rollout goes on with its next step';
  }
}

/** Ends the rollout. */
export function finish(r: Rollout, outcome: Outcome, phase: Phase, reason: string, now: number): void {
  r.stage = { at: 'done' };
  r.analyses = {};
  r.status.outcome = outcome;
  r.status.reason = reason;
  setPhase(r, phase, reason, now);
}

/** Status fields for step `index`. */
export function showStep(r: Rollout, spec: ResolvedRollout, index: number): void {
  r.status.step = stepStatus(spec, index);
}
