/** `ramp start -f rollout.yaml [--image IMG] [--wait] [--timeout DURATION] [--output json]` */
import type { RolloutResult } from '../../../domain/rollout/machine';
import type { RolloutStatus } from '../../../domain/rollout/state';
import { formatDuration } from '../../../domain/duration';
import type { ResolvedRollout } from '../../../domain/spec/schema';
import { statusQuery } from '../../../shared/messages';
import { workflowUiUrl } from '../../connect';
import { WORKER_CHECK_MS, WorkerWatch, workflowPollers } from '../../workers';
import { RolloutAlreadyRunningError, RolloutHandle, rolloutResult, startRollout } from '../../rollouts';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { LiveView } from '../live';
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
  const code = await waitForEnd(ctx, handle, { timeoutMs: opts.timeoutMs });
  if (!ctx.out.json && code !== ExitCode.Interrupted) ctx.out.print(`report: ramp report ${handle.workflowId} -o report.html`);
  return code;
}

/** A signal whose fate the story cannot tell yet. */
const undecided = (l: StoryLine) => l.kind === 'signal' && l.accepted === undefined;

/** How often the view looks at the rollout. */
const TICK_MS = 500;
/** A status query waits for a worker; with none, the view must still tick, time out and stop. */
const QUERY_MS = 5_000;

export interface FollowOptions {
  /** Give up following after this long; the rollout is not aborted. */
  timeoutMs?: number;
}

/**
 * Ends a wait early: each promise passed to `race` settles as soon as `stop()` is called (to
 * undefined) or its own promise settles, whichever comes first.
 */
class Stopper {
  stopped = false;
  private readonly waiters = new Set<() => void>();

  stop(): void {
    this.stopped = true;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  race<T>(p: Promise<T>): Promise<T | undefined> {
    if (this.stopped) {
      p.catch(() => undefined); // nobody waits for it any more
      return Promise.resolve(undefined);
    }
    return new Promise<T | undefined>((resolve, reject) => {
      const w = () => resolve(undefined);
      this.waiters.add(w);
      p.then((v) => {
        this.waiters.delete(w);
        resolve(v);
      }, (err: unknown) => {
        this.waiters.delete(w);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return this.race(new Promise<void>((r) => (timer = setTimeout(r, ms)))).then(() => clearTimeout(timer));
  }
}

/**
 * Follows a rollout to its end: a live view on a terminal, one line per event otherwise, and
 * either way a warning while no worker runs it. Ends with the outcome's exit code, on Ctrl-C
 * (the rollout goes on) with 130, or after `timeoutMs` with a CliError (the rollout goes on).
 */
export async function waitForEnd(ctx: CliContext, handle: RolloutHandle, opts: FollowOptions = {}): Promise<ExitCode> {
  const since = Date.now();
  let taskQueue = ctx.taskQueue;
  try {
    taskQueue = (await handle.describe()).taskQueue;
  } catch {
    // The configured queue is the rollout's unless it was started elsewhere; only the warning uses it.
  }
  const watch = new WorkerWatch(taskQueue, since);
  const stopper = new Stopper();
  let ended = false;
  let interrupted = false;
  let timedOut = false;
  const result = rolloutResult(handle).finally(() => {
    ended = true;
    stopper.stop();
  });
  result.catch(() => undefined); // read below
  const onInterrupt = () => {
    interrupted = true;
    stopper.stop();
  };
  process.once('SIGINT', onInterrupt);
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    stopper.stop();
  }, opts.timeoutMs);
  const live = !ctx.out.json && ctx.out.tty ? new LiveView() : undefined;
  let last: RolloutStatus | undefined;
  const query = async () => {
    const s = await ctx.client.withDeadline(Date.now() + QUERY_MS, () => handle.query(statusQuery));
    watch.answered(Date.now());
    last = s;
    return s;
  };
  let workerBack: string | undefined;
  // Non-terminal output gets one line per change in whether a worker runs the rollout, on stderr
  // so that --output json stays one document; the live view shows it as lines of the view.
  const noteWorkerChange = () => {
    const c = watch.change(Date.now());
    if (!c) return;
    if (live) workerBack = c.kind === 'back' ? c.text : undefined;
    else ctx.out.error(c.kind === 'lost' ? `warning: ${c.text}` : c.text);
  };
  const checkWorkers = async () => {
    while (!stopper.stopped) {
      try {
        const p = await stopper.race(workflowPollers(ctx.client, taskQueue));
        if (p) watch.polled(p);
        // The live view queries at every tick; otherwise this is what tells a worker that
        // stopped (still listed by Temporal for a minute) from one that runs.
        if (p?.polling && !live) await stopper.race(query());
      } catch {
        // Unanswered: the quiet spell grows, and the watch says so once it is long.
      }
      noteWorkerChange();
      await stopper.sleep(WORKER_CHECK_MS);
    }
  };
  const checking = checkWorkers();

  let printed = 0;
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
  const frame = (s: RolloutStatus | undefined, final: boolean): string[] => {
    const now = Date.now();
    const lines = s ? statusBlock(s, now) : [`Waiting    for ${handle.workflowId} to report its status`];
    const trouble = final ? undefined : watch.line(now);
    if (trouble) lines.push(`Worker     ${trouble}`);
    else if (workerBack && !final) lines.push(`Worker     ${workerBack}`);
    if (!final) lines.push('(Ctrl-C stops following; the rollout goes on)');
    return lines;
  };

  try {
    let asking: Promise<unknown> | undefined;
    while (!stopper.stopped) {
      if (live) {
        // The query runs beside the view, not in front of it: with no worker it takes QUERY_MS to
        // fail, and the view must show that meanwhile. A failed query keeps the last status shown.
        asking ??= query().catch(() => undefined).finally(() => (asking = undefined));
        noteWorkerChange();
        live.show(frame(last, false));
      } else if (!ctx.out.json) {
        // Reading the history fails while Temporal is briefly out of reach; the next tick reads again.
        await stopper.race(printNewStory()).catch(() => undefined);
      }
      await stopper.sleep(TICK_MS);
    }
    if (!ended) {
      live?.stop();
      const name = last ? `${last.rollout.namespace}/${last.rollout.name}` : handle.workflowId;
      const goesOn = `stop it with: ramp abort ${name} --reason TEXT; follow it again with: ramp status ${name} --watch`;
      if (interrupted) {
        ctx.out.error(`\nstopped following ${handle.workflowId}; the rollout goes on — ${goesOn}`);
        return ExitCode.Interrupted;
      }
      if (timedOut) {
        throw new CliError(`${handle.workflowId} is still running after --timeout ${formatDuration(opts.timeoutMs!)}; it was not aborted and goes on — ${goesOn}`, ExitCode.Failed);
      }
    }
    return await outcome(ctx, handle, result, live, printNewStory, frame);
  } finally {
    process.off('SIGINT', onInterrupt);
    clearTimeout(timer);
    stopper.stop();
    live?.stop();
    await checking;
  }
}

/** The end of a followed rollout: the final frame or story, the outcome, and its exit code. */
async function outcome(
  ctx: CliContext,
  handle: RolloutHandle,
  result: Promise<RolloutResult>,
  live: LiveView | undefined,
  printNewStory: (final: RolloutStatus) => Promise<void>,
  frame: (s: RolloutStatus, final: boolean) => string[],
): Promise<ExitCode> {
  let r;
  try {
    r = await result;
  } catch (err) {
    live?.stop();
    const msg = (err as Error).message;
    const status = await ctx.client.withDeadline(Date.now() + QUERY_MS, () => handle.query(statusQuery)).catch(() => undefined);
    ctx.out.print(ctx.out.json ? JSON.stringify({ workflowId: handle.workflowId, outcome: status?.outcome ?? 'Failed', reason: status?.reason ?? msg, status }) : `✘ ${handle.workflowId} ended without a result: ${msg}${status?.reason ? ` (${status.reason})` : ''}`);
    return ExitCode.Failed;
  }
  const refused = r.outcome === 'Refused';
  if (ctx.out.json) {
    ctx.out.print(JSON.stringify({ workflowId: handle.workflowId, outcome: r.outcome, reason: r.reason, ...(refused ? { problems: r.status.problems ?? [] } : {}), status: r.status }));
  } else {
    // The view ends on the rollout's final state, not on whatever the last tick saw.
    if (live) {
      live.show(frame(r.status, true));
      live.stop();
    } else {
      await printNewStory(r.status);
    }
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
