/**
 * Reports the rollout's state to the worker through the `ramp` sink (src/shared/observation.ts).
 * Calling a sink adds no command and no event to history, and the worker ignores the calls a
 * replay makes: a verdict is reported by the workflow task that reached it, once, and a worker that
 * picks the rollout up after a restart learns its phase and weight at its next workflow task.
 */
import { proxySinks } from '@temporalio/workflow';
import type { AnalysisVerdict, RolloutStatus } from '../domain/rollout/state';
import type { ObservedVerdict, RampSinks } from '../shared/observation';

const { ramp } = proxySinks<RampSinks>();

/** A look's decision in the labels the worker's metrics use. */
export function observedVerdict(v: AnalysisVerdict): Omit<ObservedVerdict, 'step'> {
  const judge = v.judge?.kind ?? 'metrics';
  if (v.phase === 'Inconclusive') return { judge, decision: 'inconclusive' };
  if (v.judge) return { judge, decision: v.judge.verdict };
  const byPhase: Record<string, string> = { Running: 'continue', Successful: 'promote', Failed: 'rollback', Error: 'error' };
  return { judge, decision: byPhase[v.phase] ?? v.phase.toLowerCase() };
}

/** Identifies one look: the status keeps only the latest, replaced by a new object at every look. */
const lookKey = (v: AnalysisVerdict | undefined) => (v ? `${v.source} ${v.at} ${v.phase} ${v.judge?.verdict ?? ''}` : '');

export class RolloutObserver {
  private lastLook: string;
  /** The step before the event being taken in: a look that ends its step belongs to that step. */
  private step: number;
  private verdicts: ObservedVerdict[] = [];
  private ended = false;

  /** `status` as the run begins: a continued run does not report its predecessor's last verdict again. */
  constructor(status: RolloutStatus) {
    this.lastLook = lookKey(status.lastAnalysis);
    this.step = status.step.index;
  }

  /** Call after each event the state machine takes in: notes a look that decided something. */
  afterEvent(status: RolloutStatus): void {
    const key = lookKey(status.lastAnalysis);
    if (key !== this.lastLook) {
      this.lastLook = key;
      if (status.lastAnalysis) this.verdicts.push({ ...observedVerdict(status.lastAnalysis), step: this.step });
    }
    this.step = status.step.index;
  }

  /** Sends the state and what is new since the last report. */
  report(status: RolloutStatus): void {
    if (this.ended) return;
    const outcome = status.outcome;
    ramp.rollout({
      rollout: { namespace: status.rollout.namespace, name: status.rollout.name },
      phase: status.phase,
      phaseSince: status.phaseSince,
      step: status.step.index,
      steps: status.step.count,
      canaryWeight: status.weights.canary,
      verdicts: this.verdicts,
      ...(outcome !== undefined ? { outcome } : {}),
    });
    this.verdicts = [];
    this.step = status.step.index;
    if (outcome !== undefined) this.ended = true;
  }
}
