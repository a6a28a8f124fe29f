/**
 * Where a rollout's status comes from: its result once it has ended (no worker needed), else
 * its status query (a worker answers it); with neither, what Temporal itself knows — the search
 * attributes as of the last phase change — and why that is all.
 */
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import type { RolloutStatus } from '../../domain/rollout/state';
import { statusQuery } from '../../shared/messages';
import { RampImage, RampOutcome, RampPhase, RampRollout, RampTarget } from '../../shared/search-attributes';
import { lastPhaseChange } from '../history';
import { endedResult } from '../rollouts';
import { noWorkerText, sinceText, workflowPollers } from '../workers';
import type { CliContext } from './context';
import type { LastKnown } from './render';

/** The status from a worker or the result, or why neither is there. */
export async function readStatus(ctx: CliContext, handle: WorkflowHandle, d: WorkflowExecutionDescription, queryMs = 10_000): Promise<{ status: RolloutStatus } | { note: string }> {
  const r = await endedResult(ctx.client, handle.workflowId, d.runId, d.status.name);
  if (r) return { status: r.status };
  const pollers = await workflowPollers(ctx.client, d.taskQueue);
  if (!pollers.polling) return { note: noWorkerText(pollers, Date.now()) };
  try {
    return { status: await ctx.client.withDeadline(Date.now() + queryMs, () => handle.query(statusQuery)) };
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    return { note: `a worker polled task queue ${d.taskQueue} ${sinceText(pollers.lastPollAt!, Date.now())} but the status query failed (${why})` };
  }
}

/** What Temporal knows of the rollout without a worker: search attributes, and when the phase last changed. */
export async function lastKnown(handle: WorkflowHandle, d: WorkflowExecutionDescription, note: string): Promise<LastKnown> {
  const sa = d.typedSearchAttributes;
  let phaseSince: string | undefined;
  try {
    const change = lastPhaseChange((await handle.fetchHistory()).events ?? []);
    phaseSince = new Date(change?.at ?? d.startTime.getTime()).toISOString();
  } catch {
    phaseSince = undefined; // the history is a nicety here; the search attributes are the answer
  }
  return {
    workflowId: handle.workflowId, runId: d.runId, taskQueue: d.taskQueue, temporalStatus: d.status.name,
    rollout: sa.get(RampRollout), target: sa.get(RampTarget), phase: sa.get(RampPhase), phaseSince,
    outcome: sa.get(RampOutcome), image: sa.get(RampImage),
    startTime: d.startTime.toISOString(), closeTime: d.closeTime?.toISOString(), note,
  };
}
