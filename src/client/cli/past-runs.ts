/**
 * The runs of one rollout's workflow id, newest first, and the spec each was started with — what
 * `ramp undo` and `ramp retry` start again. The spec is the run's own input, read from the first
 * event of its history (decoded with the client's data converter, so an encrypted one reads too).
 */
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { ResolvedRollout } from '../../domain/spec/schema';
import { RampOutcome, RampPhase } from '../../shared/search-attributes';
import type { CliContext } from './context';

/** One run of a rollout, as visibility lists it. */
export interface PastRun {
  workflowId: string;
  runId: string;
  /** Temporal's status: RUNNING, COMPLETED, FAILED, CONTINUED_AS_NEW … */
  status: string;
  /** RampOutcome: Promoted, RolledBack, RollbackFailed or Refused; absent while it runs. */
  outcome?: string;
  /** RampPhase as of its last change. */
  phase?: string;
  startTime: Date;
  closeTime?: Date;
}

/** The runs of `workflowId`, newest first (continue-as-new links of one rollout are runs too). */
export async function pastRuns(ctx: CliContext, workflowId: string, limit = 100): Promise<PastRun[]> {
  const runs: PastRun[] = [];
  for await (const wf of ctx.client.workflow.list({ query: `WorkflowId = "${workflowId}"`, pageSize: limit })) {
    runs.push({
      workflowId, runId: wf.runId, status: wf.status.name, outcome: wf.typedSearchAttributes.get(RampOutcome),
      phase: wf.typedSearchAttributes.get(RampPhase), startTime: wf.startTime, closeTime: wf.closeTime,
    });
    if (runs.length >= limit) break;
  }
  // Visibility lists by start time already; sorting keeps that true whatever store it runs on.
  return runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
}

/** The spec a run was started with, from its first history event; undefined when it cannot be read. */
export async function runSpec(ctx: CliContext, run: Pick<PastRun, 'workflowId' | 'runId'>): Promise<ResolvedRollout | undefined> {
  const res = await ctx.client.workflowService.getWorkflowExecutionHistory({
    namespace: ctx.temporalNamespace, execution: { workflowId: run.workflowId, runId: run.runId }, maximumPageSize: 1,
  });
  const payloads = res.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
  if (!payloads) return undefined;
  const input = await decodeFromPayloadsAtIndex<{ rollout?: ResolvedRollout }>(ctx.client.options.loadedDataConverter, 0, payloads);
  return input?.rollout;
}

/** The run in words, for messages: `run 3f2c… (RolledBack, started 2026-11-26T01:23:58Z)`. */
export function runInWords(run: PastRun): string {
  return `run ${run.runId} (${run.outcome ?? run.status}, started ${run.startTime.toISOString()})`;
}
