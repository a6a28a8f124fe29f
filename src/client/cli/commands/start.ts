/** `ramp start -f rollout.yaml [--image IMG] [--wait] [--timeout DURATION] [--output json]` */
import type { RolloutStatus } from '../../../domain/rollout/state';
import type { ResolvedRollout } from '../../../domain/spec/schema';
import { statusQuery } from '../../../shared/messages';
import { workflowUiUrl } from '../../connect';
import { noWorkerText, workflowPollers } from '../../workers';
import { RolloutAlreadyRunningError, RolloutHandle, rolloutResult, startRollout } from '../../rollouts';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { statusBlock } from '../render';
import { StoryLine, storyOf } from './story';

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

/** A signal whose fate the story cannot tell yet. */
const undecided = (l: StoryLine) => l.kind === 'signal' && l.accepted === undefined;

/** Follows a rollout to its end: a live view on a terminal, one line per event otherwise. */
export async function waitForEnd(ctx: CliContext, handle: RolloutHandle, timeoutMs?: number): Promise<ExitCode> {
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  let finished = false;
  const result = rolloutResult(handle).finally(() => (finished = true));
  result.catch(() => undefined); // observed below
  let drawn = 0;
  let printed = 0;
  // A query waits for a worker; with none, the loop must still reach its --timeout check.
  const query = () => ctx.client.withDeadline(Date.now() + 5_000, () => handle.query(statusQuery));
  try {
    const { taskQueue } = await handle.describe();
    const pollers = await workflowPollers(ctx.client, taskQueue);
    if (!pollers.polling) ctx.out.error(`waiting: ${noWorkerText(pollers, Date.now())}; the rollout goes on when a worker polls it`);
  } catch {
    // Only a courtesy: the wait itself does not depend on it.
  }
  // CI logs get the rollout's story from its history, one line per event and none missed
  // (polling the status could skip a short step); a terminal gets a live status block. A line is
  // printed once it is true for good: a signal waits until the audit says whether it was applied.
  // The problems of a refused rollout are printed once, by the summary at the end.
  const printNewStory = async (final?: RolloutStatus) => {
    const events = (await handle.fetchHistory()).events ?? [];
    let lines = storyOf(events, final ? { audit: final.audit } : {});
    if (!final && lines.slice(printed).some(undecided)) {
      const s = await query().catch(() => undefined);
      if (s) lines = storyOf(events, { audit: s.audit });
    }
    const held = final ? -1 : lines.findIndex((l, i) => i >= printed && undecided(l));
    const upto = held < 0 ? lines.length : held;
    for (const l of lines.slice(printed, upto)) if (l.kind !== 'problem') ctx.out.print(`${l.at}  ${l.text}`);
    printed = Math.max(printed, upto);
  };
  while (!finished) {
    if (Date.now() > deadline) {
      throw new CliError(`${handle.workflowId} is still running after the --timeout; it was not aborted (ramp abort ${handle.workflowId} --reason ...)`, ExitCode.Failed);
    }
    try {
      if (!ctx.out.json && ctx.out.tty) {
        const s: RolloutStatus = await query();
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
    const status = await query().catch(() => undefined);
    ctx.out.print(ctx.out.json ? JSON.stringify({ workflowId: handle.workflowId, outcome: status?.outcome ?? 'Failed', reason: status?.reason ?? msg, status }) : `✘ ${handle.workflowId} ended without a result: ${msg}${status?.reason ? ` (${status.reason})` : ''}`);
    return ExitCode.Failed;
  }
  const refused = r.outcome === 'Refused';
  if (ctx.out.json) {
    ctx.out.print(JSON.stringify({ workflowId: handle.workflowId, outcome: r.outcome, reason: r.reason, ...(refused ? { problems: r.status.problems ?? [] } : {}), status: r.status }));
  } else {
    if (!ctx.out.tty) await printNewStory(r.status);
    if (refused) {
      const problems = r.status.problems ?? [];
      ctx.out.print(`✘ Refused: nothing was changed — the preflight found ${problems.length} problem(s):`);
      for (const p of problems) ctx.out.print(`  - ${p}`);
      ctx.out.print('  Fix them and start again; `ramp validate -f FILE --cluster` checks a spec against the cluster without starting a rollout.');
    } else {
      ctx.out.print(`${r.outcome === 'Promoted' ? '✔' : '✘'} ${r.outcome}: ${r.reason}`);
    }
    for (const l of r.status.leftToFix ?? []) ctx.out.print(`  to fix by hand: ${l}`);
  }
  // A refusal is not a rollback: nothing ran, the spec or the cluster needs fixing (like invalid input).
  if (r.outcome === 'Promoted') return ExitCode.Ok;
  return refused ? ExitCode.Invalid : ExitCode.Failed;
}
