/**
 * Wait and timeout arithmetic. Every wait is kept as an absolute deadline (epoch ms) in the
 * rollout's state, so a run that continues as new, or a worker that replays, waits for exactly what
 * was left; the workflow arms one timer per deadline the machine wants (`timers`).
 */
import type { ResolvedRollout, Step } from '../spec/schema';
import type { Rollout, StepSub } from './model';

/** A timer the machine wants: wake up at `at` (epoch ms). */
export interface Timer {
  at: number;
  /** What the UI shows for the timer. */
  summary: string;
}

/** The wait a step starts with, entered at `now`. */
export function enterWait(step: Step, now: number): StepSub | undefined {
  switch (step.kind) {
    case 'setWeight':
      return { kind: 'write', force: false };
    case 'pause':
      return { kind: 'pause', ...(step.durationMs !== undefined ? { until: now + step.durationMs } : {}) };
    case 'approval':
      return { kind: 'approval', ...(step.timeoutMs !== undefined ? { timeoutAt: now + step.timeoutMs } : {}) };
    case 'analysis': case 'setHeaderRoute': case 'setMirror':
      return undefined;
  }
}

/** Has the current step's deadline passed? */
export function waitOver(sub: StepSub | undefined, now: number): boolean {
  if (sub?.kind === 'pause') return sub.until !== undefined && now >= sub.until;
  if (sub?.kind === 'approval') return sub.timeoutAt !== undefined && now >= sub.timeoutAt;
  return false;
}

const secs = (ms: number) => `${Math.round(ms / 1000)}s`;

/** Every deadline still ahead: the step's, each analysis' next look, the rollback's scale-down delay. */
export function timers(r: Rollout, spec: ResolvedRollout, now: number): Timer[] {
  const out: Timer[] = [];
  const add = (at: number | undefined, summary: string) => {
    if (at !== undefined && at > now && !out.some((t) => t.at === at)) out.push({ at, summary });
  };
  const s = r.stage;
  if (s.at === 'steps' && s.entered && !r.hold) {
    const n = `step ${s.index + 1}`;
    if (s.sub?.kind === 'pause' && s.sub.until !== undefined) add(s.sub.until, `pause ${n}: ${secs(s.sub.until - now)}`);
    if (s.sub?.kind === 'approval') {
      const step = spec.spec.steps[s.index];
      add(s.sub.timeoutAt, `wait for approval (${n}), then ${step?.kind === 'approval' ? step.onTimeout : 'abort'}`);
    }
  }
  for (const run of [r.analyses.step, r.analyses.background]) {
    if (run && run.lookAt === undefined) add(run.nextAt, `${run.source} analysis: next look`);
  }
  if (s.at === 'unwind' && s.unwind.delayUntil !== undefined) add(s.unwind.delayUntil, 'rollback: canary scale-down delay');
  return out;
}
