/** `ramp history NAME`: past rollouts of a target — outcome, duration, who approved or aborted, why. */
import type { RolloutStatus } from '../../../domain/rollout/state';
import { statusQuery } from '../../../shared/messages';
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
}

export async function history(ctx: CliContext, name: string, namespace: string | undefined, limit = 20): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const rows: HistoryRow[] = [];
  for await (const wf of ctx.client.workflow.list({ query: `WorkflowId = "${workflowId}"`, pageSize: limit })) {
    let s: RolloutStatus | undefined;
    try {
      s = await ctx.client.workflow.getHandle(wf.workflowId, wf.runId).query(statusQuery);
    } catch {
      s = undefined; // beyond retention or no worker: visibility still tells start/close
    }
    const close = wf.closeTime;
    rows.push({
      workflowId: wf.workflowId,
      runId: wf.runId,
      status: wf.status.name,
      outcome: s?.outcome,
      image: s?.image,
      startTime: wf.startTime.toISOString(),
      closeTime: close?.toISOString(),
      durationSeconds: close ? Math.round((close.getTime() - wf.startTime.getTime()) / 1000) : undefined,
      startedBy: s?.audit.find((a) => a.event === 'start')?.by,
      approvedBy: (s?.audit ?? []).filter((a) => a.event === 'approve' && a.accepted).map((a) => a.by ?? 'unknown'),
      abortedBy: s?.audit.find((a) => a.event === 'abort' && a.accepted)?.by,
      reason: s?.reason,
    });
    if (rows.length >= limit) break;
  }
  if (ctx.out.json) {
    ctx.out.print(JSON.stringify(rows));
    return ExitCode.Ok;
  }
  for (const r of rows) {
    const who = [r.startedBy ? `started by ${r.startedBy}` : '', r.approvedBy.length ? `approved by ${r.approvedBy.join(', ')}` : '', r.abortedBy ? `aborted by ${r.abortedBy}` : ''].filter(Boolean).join('; ');
    ctx.out.print(`${r.startTime}  ${(r.outcome ?? r.status).padEnd(14)} ${r.durationSeconds !== undefined ? `${r.durationSeconds}s`.padStart(6) : '   ...'}  ${r.image ?? ''}  ${who}${r.reason ? ` — ${r.reason}` : ''}`);
  }
  if (rows.length === 0) ctx.out.print(`no rollouts of ${workflowId}`);
  return ExitCode.Ok;
}
