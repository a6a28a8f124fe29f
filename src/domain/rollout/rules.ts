/**
 * What each command a person sends (approve, promote, abort, pause, resume) means in each state of
 * a rollout: `commandRefusal` says why it cannot be accepted now (update validators call it, so a
 * refused command writes nothing to history), `acceptCommand` applies it and says what it did.
 *
 * Promote, precisely: `promote --full` skips every remaining step. A plain `promote` ends what the
 * rollout waits on now — a pause step, an approval, an analysis step (unjudged), or a hold (a
 * person's pause, a weight changed outside Ramp, an inconclusive analysis) — and moves on; while
 * nothing waits (a weight being set, the canary starting) it is refused, naming `--full`. A `pause`
 * holds the rollout at the next step boundary: a step under way (an analysis, a pause step) runs to
 * its end first.
 */
import { proposalBranch } from '../gitops/proposal';
import type { ResolvedRollout } from '../spec/schema';
import type { Command, CommandInput } from './commands';
import type { Rollout } from './model';
import { TERMINAL_PHASES } from './phases';
import { describeStep } from './state';
import { beginRollback, endCurrentStep, releaseHold } from './transitions';

function where(r: Rollout): string {
  return `the rollout ${r.status.rollout.namespace}/${r.status.rollout.name} is ${r.status.phase}`;
}

/** The current step's kind, when the forward path is inside a step. */
function currentStep(r: Rollout, spec: ResolvedRollout) {
  return r.stage.at === 'steps' && r.stage.entered ? spec.spec.steps[r.stage.index] : undefined;
}

function stepLabel(r: Rollout): string {
  const s = r.status.step;
  return `step ${s.index + 1} of ${s.count}${s.description ? ` (${s.description})` : ''}`;
}

const INITIALIZING: Rollout['stage']['at'][] = ['preflight', 'prepare', 'canary', 'readiness', 'route'];

/** Why `cmd` cannot be accepted now, or undefined when it can. */
export function commandRefusal(r: Rollout, spec: ResolvedRollout, cmd: Command, input: CommandInput): string | undefined {
  const w = where(r);
  if (TERMINAL_PHASES.includes(r.status.phase) || r.stage.at === 'done') return `${w}; it has ended, so there is nothing to ${cmd}`;
  if (r.stage.at === 'unwind') {
    return r.stage.unwind.why === 'rollback'
      ? `${w} (${r.status.reason ?? 'aborted'}); nothing to ${cmd}`
      : `${w}: it has been promoted and is cleaning up; nothing to ${cmd}`;
  }
  if (r.stage.at === 'promote') {
    return cmd === 'abort'
      ? `${w}: stable is already being rolled to the new version; abort is no longer possible`
      : `${w}; it is already being promoted`;
  }
  const step = currentStep(r, spec);
  const initializing = INITIALIZING.includes(r.stage.at);
  switch (cmd) {
    case 'abort':
      return undefined;
    case 'approve':
      if (step?.kind === 'approval' && step.via === 'merge') {
        const into = spec.spec.gitops?.repository.branch ?? 'main';
        return `${w} at ${stepLabel(r)}, which is approved by merging branch ${proposalBranch(spec.metadata)} into ${into}, not by command: merge it (or let its review merge it), or abort; promote skips the merge`;
      }
      if (step?.kind === 'approval') return undefined;
      return `nothing awaits approval: ${w} at ${stepLabel(r)}`;
    case 'promote':
      if (initializing) return `${w}: the canary is not ready yet; promote once it is Progressing`;
      if (r.requests.promoteFull) return `${w}; promote --full was already requested by ${r.requests.promoteFull.by ?? 'someone'}`;
      if (input.full) return undefined;
      if (r.hold) return undefined;
      // Steps that only write (weights, routing features) have nothing to end.
      if (step && !['setWeight', 'setHeaderRoute', 'setMirror'].includes(step.kind)) return undefined;
      return `${w} at ${stepLabel(r)}, which does not wait for anything, so a plain promote has nothing to end; use promote --full to skip every remaining step`;
    case 'pause':
      if (r.hold?.kind === 'user') return `${w}; it was already paused by ${r.hold.by ?? 'someone'}`;
      if (r.requests.userPause) return `${w}; a pause was already requested by ${r.requests.userPause.by ?? 'someone'} and holds it at the next step boundary`;
      return undefined;
    case 'resume':
      if (r.hold || r.requests.userPause || step?.kind === 'pause') return undefined;
      return `nothing to resume: ${w} at ${stepLabel(r)}`;
  }
}

/**
 * Applies an accepted command (the caller has checked commandRefusal) and records who sent it.
 * Returns what it did, in words, for the sender.
 */
export function acceptCommand(r: Rollout, spec: ResolvedRollout, cmd: Command, input: CommandInput, via: 'update' | 'signal', now: number): string {
  const at = new Date(now).toISOString();
  r.status.audit.push({ at, event: cmd, via, by: input.by, reason: input.reason, accepted: true });
  const step = currentStep(r, spec);
  const steps = spec.spec.steps;
  const index = r.stage.at === 'steps' ? r.stage.index : -1;
  const next = index + 1 < steps.length ? `step ${index + 2} of ${steps.length} (${describeStep(steps[index + 1]!)})` : 'promotion';
  switch (cmd) {
    case 'abort': {
      r.requests.abort = { by: input.by, reason: input.reason ?? 'aborted' };
      beginRollback(r, `aborted by ${input.by ?? 'someone'}: ${input.reason ?? 'aborted'}`, now);
      return 'aborted: traffic goes back to stable first, then the canary is removed';
    }
    case 'approve':
      endCurrentStep(r);
      return `approved; moving on to ${next}`;
    case 'promote': {
      if (input.full) {
        r.requests.promoteFull = { by: input.by };
        if (r.hold) r.hold = undefined;
        return 'promoting in full: every remaining step is skipped';
      }
      if (r.hold) return releaseHold(r, now, 'promote');
      endCurrentStep(r);
      return `${step?.kind === 'analysis' ? 'analysis ended without a verdict' : `${step?.kind ?? 'step'} ended`}; moving on to ${next}`;
    }
    case 'pause': {
      r.requests.userPause = { by: input.by, reason: input.reason };
      if (INITIALIZING.includes(r.stage.at)) return 'pause accepted: the rollout holds once the canary is ready, before step 1';
      if (step?.kind === 'pause') return `pause accepted: the rollout is in a pause step; it stays held when that step ends, until resumed`;
      return `pause accepted: it takes effect at the next step boundary — ${stepLabel(r)} runs to its end first, then the rollout holds until resumed`;
    }
    case 'resume': {
      const pending = r.requests.userPause;
      r.requests.userPause = undefined;
      if (r.hold) return releaseHold(r, now, 'resume');
      if (step?.kind === 'pause') {
        endCurrentStep(r);
        return `pause step ended; moving on to ${next}`;
      }
      return pending ? 'the pending pause was withdrawn' : 'nothing to resume';
    }
  }
}

/** Records a signal that was refused (signals cannot be rejected back to their sender). */
export function recordRefusedSignal(r: Rollout, cmd: Command, input: CommandInput, why: string, now: number): void {
  r.status.audit.push({ at: new Date(now).toISOString(), event: cmd, via: 'signal', by: input.by, reason: `refused: ${why}`, accepted: false });
}
