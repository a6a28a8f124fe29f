/** `ramp start -f rollout.yaml [--image IMG] [--wait] [--timeout DURATION] [--output json]` */
import type { RolloutStatus } from '../../../domain/rollout/state';
import type { ResolvedRollout } from '../../../domain/spec/schema';
import { statusQuery } from '../../../shared/messages';
import { workflowUiUrl } from '../../connect';
import { RolloutAlreadyRunningError, RolloutHandle, startRollout } from '../../rollouts';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { statusBlock } from '../render';
import { storyOf } from './story';

export interface StartOptions {
  rollout: ResolvedRollout;
  wait: boolean;
  timeoutMs?: number;
  startedBy: string;
}

export async function start(ctx: CliContext, opts: StartOptions): Promise<ExitCode> {
  let handle: Awaited<ReturnType<typeof startRollout>>;
  try {
    handle = await startRollout(ctx.client, opts.rollout, { taskQueue: ctx.taskQueue, startedBy: opts.startedBy });
  } catch (err) {
    if (err instanceof RolloutAlreadyRunningError) throw new CliError(err.message, ExitCode.Invalid);
    throw err;
  }
  const ui = workflowUiUrl(ctx.uiUrl, ctx.temporalNamespace, handle.workflowId);
  if (!opts.wait) {
    if (ctx.out.json) ctx.out.print(JSON.stringify({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId, uiUrl: ui }));
    else ctx.out.print(`started ${handle.workflowId}\n  ${ui}`);
    return ExitCode.Ok;
  }
  if (!ctx.out.json) ctx.out.print(`started ${handle.workflowId}\n  ${ui}`);
  return waitForEnd(ctx, handle, opts.timeoutMs);
}

/** Follows a rollout to its end: a live view on a terminal, one line per event otherwise. */
export async function waitForEnd(ctx: CliContext, handle: RolloutHandle, timeoutMs?: number): Promise<ExitCode> {
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  let finished = false;
  const result = handle.result().finally(() => (finished = true));
  result.catch(() => undefined); // observed below
  let drawn = 0;
  let printed = 0;
  // CI logs get the rollout's story from its history, one line per event and none missed
  // (polling the status could skip a short step); a terminal gets a live status block.
  const printNewStory = async () => {
    const lines = storyOf((await handle.fetchHistory()).events ?? []);
    for (const l of lines.slice(printed)) ctx.out.print(`${l.at}  ${l.text}`);
    printed = Math.max(printed, lines.length);
  };
  while (!finished) {
    if (Date.now() > deadline) {
      throw new CliError(`${handle.workflowId} is still running after the --timeout; it was not aborted (ramp abort ${handle.workflowId} --reason ...)`, ExitCode.Failed);
    }
    try {
      if (!ctx.out.json && ctx.out.tty) {
        const s: RolloutStatus = await handle.query(statusQuery);
        const lines = statusBlock(s, Date.now());
        process.stdout.write((drawn > 0 ? `\x1b[${drawn}A\x1b[J` : '') + lines.join('\n') + '\n');
        drawn = lines.length;
      } else if (!ctx.out.json) {
        await printNewStory();
      }
    } catch {
      // A query can fail while a worker restarts; the rollout goes on, and so does the view.
    }
    await Promise.race([result.then(() => undefined, () => undefined), new Promise((r) => setTimeout(r, 500))]);
  }
  let r;
  try {
    r = await result;
  } catch (err) {
    const msg = (err as Error).message;
    const status = await handle.query(statusQuery).catch(() => undefined);
    ctx.out.print(ctx.out.json ? JSON.stringify({ workflowId: handle.workflowId, outcome: status?.outcome ?? 'Failed', reason: status?.reason ?? msg, status }) : `✘ ${handle.workflowId} ended without a result: ${msg}${status?.reason ? ` (${status.reason})` : ''}`);
    return ExitCode.Failed;
  }
  if (ctx.out.json) {
    ctx.out.print(JSON.stringify({ workflowId: handle.workflowId, outcome: r.outcome, reason: r.reason, status: r.status }));
  } else {
    if (!ctx.out.tty) await printNewStory();
    ctx.out.print(`${r.outcome === 'Promoted' ? '✔' : '✘'} ${r.outcome}: ${r.reason}`);
    for (const l of r.status.leftToFix ?? []) ctx.out.print(`  to fix by hand: ${l}`);
  }
  return r.outcome === 'Promoted' ? ExitCode.Ok : ExitCode.Failed;
}
