/**
 * `ramp report NAME [--run ID] -o report.html`: one self-contained HTML page of a rollout — its
 * steps and weights over time, every analysis look as charts, who did what, how it ended — read
 * from its Temporal history (every run of it: a long rollout continues as new), so no worker is
 * needed for a finished rollout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { HistoryEvent } from '../../history';
import { workflowUiUrl } from '../../connect';
import { collectReport } from '../../report/collect';
import { reportHtml } from '../../report/html';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { resolveRollout } from '../resolve';
import { readStatus } from '../status-source';

/** A rollout spans every run from its first to the last one continued as new; more than this is a loop, not a rollout. */
const MAX_RUNS = 1000;

/** The histories of every run of the rollout that `runId` (default: the latest run) belongs to, first run first. */
export async function rolloutRuns(client: Client, workflowId: string, runId?: string): Promise<HistoryEvent[][]> {
  const history = async (id: string | undefined) => (await client.workflow.getHandle(workflowId, id).fetchHistory()).events ?? [];
  let events: HistoryEvent[];
  try {
    events = await history(runId);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(`workflow ${workflowId} has no run ${runId ?? ''}: see its runs with \`ramp history ${workflowId}\` (or omit --run for the latest)`, ExitCode.Invalid);
    }
    throw err;
  }
  const first = events[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
  const runs: HistoryEvent[][] = [];
  let next: string | undefined = first ?? undefined;
  if (!next) return [events];
  while (next && runs.length < MAX_RUNS) {
    const run = await history(next);
    runs.push(run);
    next = run[run.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/** Writes `text` to `file` whole or not at all: a reader never sees half a report. */
export function writeAtomically(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(`cannot write the report to ${file}: ${(err as Error).message} (check that its directory exists and is writable, or choose another -o)`, ExitCode.Invalid);
  }
}

export async function report(ctx: CliContext, name: string, namespace: string | undefined, opts: { runId?: string; outFile: string }): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const runs = await rolloutRuns(ctx.client, workflowId, opts.runId);
  const lastRun = runs[runs.length - 1]!;
  const lastRunId = String(lastRun[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId ?? '') || undefined;
  // A running rollout's audit (who did what) is in its status, which a worker answers.
  let audit;
  const closed = lastRun[lastRun.length - 1]?.workflowExecutionCompletedEventAttributes;
  if (!closed) {
    const handle = ctx.client.workflow.getHandle(workflowId, lastRunId);
    const read = await readStatus(ctx, handle, await handle.describe());
    if ('status' in read) audit = read.status.audit;
  }
  const data = collectReport(runs, { audit });
  const file = path.resolve(opts.outFile);
  const temporalUiUrl = workflowUiUrl(ctx.uiUrl, ctx.temporalNamespace, workflowId, lastRunId);
  writeAtomically(file, reportHtml(data, { temporalUiUrl, generatedAt: Date.now() }));
  const looks = data.analyses.reduce((n, a) => n + a.looks.length, 0);
  if (ctx.out.json) ctx.out.print(JSON.stringify({ workflowId, runIds: data.runIds, outcome: data.outcome ?? null, file }));
  else ctx.out.print(`wrote the report of ${workflowId} (${data.outcome ?? `running, ${data.phase ?? 'phase unknown'}`}; ${data.steps.length} steps, ${looks} analysis looks) to ${file}`);
  return ExitCode.Ok;
}
