/**
 * The worker's view of the rollouts it runs, fed by the `ramp` sink (src/shared/observation.ts):
 * it keeps the rollout-level metrics and logs each phase change, verdict and outcome once, with the
 * rollout's workflow id, run id, rollout and step. Log lines of activities and workflows look their
 * rollout and step up here (src/worker/interceptors.ts, src/worker/logger.ts).
 */
import type { Logger } from '@temporalio/common';
import type { InjectedSinks } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { RampSinks, RolloutObservation } from '../shared/observation';
import type { RampMetrics } from './metrics';

/** What log lines about a workflow carry besides its ids. */
export interface RolloutLogFields {
  /** `<namespace>/<name>` of the Rollout. */
  rollout: string;
  /** The rollout's current step, 0-based. */
  step: number;
}

interface Known extends RolloutLogFields {
  namespace: string;
  name: string;
  phase: string;
}

export class RolloutRegistry {
  private readonly byWorkflow = new Map<string, Known>();

  constructor(
    private readonly metrics: RampMetrics,
    /** Where phase changes, verdicts and outcomes are logged; the SDK's Runtime logger in the worker process. */
    private readonly log?: Logger,
  ) {}

  /** Takes in one observation from a live (not replayed) workflow task. */
  observe(info: Pick<WorkflowInfo, 'workflowId' | 'runId'>, o: RolloutObservation): void {
    const { namespace, name } = o.rollout;
    const rollout = `${namespace}/${name}`;
    const before = this.byWorkflow.get(info.workflowId);
    const fields = { workflowId: info.workflowId, runId: info.runId, rollout, step: o.step };
    for (const v of o.verdicts) {
      this.metrics.analysisVerdict(v.judge, v.decision);
      this.log?.info('analysis verdict', { ...fields, step: v.step, judge: v.judge, decision: v.decision });
    }
    if (o.outcome !== undefined) {
      this.metrics.rolloutEnded(o.outcome);
      this.metrics.removeRollout(namespace, name);
      this.byWorkflow.delete(info.workflowId);
      this.log?.info('rollout ended', { ...fields, phase: o.phase, outcome: o.outcome });
      return;
    }
    const since = Date.parse(o.phaseSince);
    this.metrics.setRollout({ namespace, name, phase: o.phase, phaseSince: Number.isFinite(since) ? since / 1000 : 0, step: o.step, canaryWeight: o.canaryWeight });
    this.byWorkflow.set(info.workflowId, { namespace, name, rollout, step: o.step, phase: o.phase });
    if (before?.phase !== o.phase) this.log?.info('rollout phase', { ...fields, phase: o.phase, canaryWeight: o.canaryWeight });
  }

  /** The rollout and step of a workflow this worker runs, for log lines. */
  logFields(workflowId: string | undefined): RolloutLogFields | undefined {
    const k = workflowId === undefined ? undefined : this.byWorkflow.get(workflowId);
    return k && { rollout: k.rollout, step: k.step };
  }

  /** The sink the worker registers. Not called on replay: history already holds what a replay re-reports. */
  sinks(): InjectedSinks<RampSinks> {
    return { ramp: { rollout: { fn: (info, o) => this.observe(info, o), callDuringReplay: false } } };
  }
}

/**
 * The `ramp` sink for workers that run Ramp's workflows without observing them (replays, workflow
 * tests): without a registration the SDK logs an error for every call.
 */
export const ignoreRolloutObservations: InjectedSinks<RampSinks> = { ramp: { rollout: { fn: () => undefined, callDuringReplay: false } } };
