/**
 * `ramp history NAME`: past rollouts of a target — outcome, duration, who approved or aborted, why.
 * An ended run's status is read from its result (no worker needed); a running one's from its
 * status query when a worker polls; otherwise the search attributes tell outcome and image.
 */
import type { RolloutStatus } from '../../../domain/rollout/state';
import { statusQuery } from '../../../shared/messages';
import { RampImage, RampOutcome } from '../../../shared/search-attributes';
import { endedResult } from '../../rollouts';
import { workflowPollers } from '../../workers';
import type { CliContext } from '../context';
import { ExitCode } from '../errors';
import { resolveRollout } from '../resolve';

export interface HistoryRow {
  workflowId: string;
  runId: string;
  status: string;
  outcome?: string;
  image?: string;
  startTime: string;
  closeTime?: string;
  durationSeconds?: number;
  startedBy?: string;
  approvedBy: string[];
  abortedBy?: string;
  reason?: string;
  /** Refused: every problem the preflight found. */
  problems?: string[];
}

export async function history(ctx: CliContext, name: string, namespace: string | undefined, limit = 20): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const rows: HistoryRow[] = [];
  const polling = new Map<string, boolean>();
  for await (const wf of ctx.client.workflow.list({ query: `WorkflowId = "${workflowId}"`, pageSize: limit })) {
    let s: RolloutStatus | undefined;
    try {
      if (wf.status.name === 'RUNNING') {
        if (!polling.has(wf.taskQueue)) polling.set(wf.taskQueue, (await workflowPollers(ctx.client, wf.taskQueue)).polling);
        if (polling.get(wf.taskQueue)) s = await ctx.client.withDeadline(Date.now() + 10_000, () => ctx.client.workflow.getHandle(wf.workflowId, wf.runId).query(statusQuery));
      } else {
        s = (await endedResult(ctx.client, wf.workflowId, wf.runId, wf.status.name))?.status;
      }
    } catch {
      s = undefined; // beyond retention, or no answer: visibility still tells start, close, outcome and image
    }
    const close = wf.closeTime;
    rows.push({
      workflowId: wf.workflowId,
      runId: wf.runId,
      status: wf.status.name,
      outcome: s?.outcome ?? wf.typedSearchAttributes.get(RampOutcome),
      image: s?.image ?? wf.typedSearchAttributes.get(RampImage),
      startTime: wf.startTime.toISOString(),
      closeTime: close?.toISOString(),
      durationSeconds: close ? Math.round((close.getTime() - wf.startTime.getTime()) / 1000) : undefined,
      startedBy: s?.audit.find((a) => a.event === 'start')?.by,
      approvedBy: (s?.audit ?? []).filter((a) => a.event === 'approve' && a.accepted).map((a) => a.by ?? 'unknown'),
      abortedBy: s?.audit.find((a) => a.event === 'abort' && a.accepted)?.by,
      reason: s?.reason,
      ...(s?.problems ? { problems: s.problems } : {}),
    });
    if (rows.length >= limit) break;
  }
  if (ctx.out.json) {
    ctx.out.print(JSON.stringify(rows));
    return ExitCode.Ok;
  }
  for (const r of rows) {
    const who = [r.startedBy ? `started by ${r.startedBy}` : '', r.approvedBy.length ? `approved by ${r.approvedBy.join(', ')}` : '', r.abortedBy ? `aborted by ${r.abortedBy}` : ''].filter(Boolean).join('; ');
    ctx.out.print(`${r.startTime}  ${(r.outcome ?? r.status).padEnd(14)} ${r.durationSeconds !== undefined ? `${r.durationSeconds}s`.padStart(6) : '   ...'}  ${r.image ?? ''}  ${who}${r.problems ? ' — refused before any change:' : r.reason ? ` — ${r.reason}` : ''}`);
    for (const p of r.problems ?? []) ctx.out.print(`    problem: ${p}`);
  }
  if (rows.length === 0) ctx.out.print(`no rollouts of ${workflowId}`);
  return ExitCode.Ok;
}
