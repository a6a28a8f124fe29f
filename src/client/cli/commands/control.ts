/**
 * `ramp approve|promote [--full]|pause|resume|abort --reason TEXT NAME`.
 *
 * With a worker on the rollout's task queue the command is an update: the answer says at once
 * whether it was accepted, and a refusal prints the workflow's reason. With none, an update would
 * wait inside Temporal and be applied whenever a worker came back — long after the CLI gave up and
 * said it was not. So the command goes as a signal instead: written to the rollout's history at
 * once, applied when a worker polls (the workflow records it as refused in its audit if it makes no
 * sense by then), and the CLI says exactly that, with its own exit code.
 */
import { isGrpcDeadlineError, WorkflowHandle, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import * as msg from '../../../shared/messages';
import { RampOutcome } from '../../../shared/search-attributes';
import { sinceText, workflowPollers } from '../../workers';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { weightBar } from '../render';
import { resolveRollout } from '../resolve';

export type ControlCommand = 'approve' | 'promote' | 'pause' | 'resume' | 'abort';

export interface ControlOptions {
  by: string;
  reason?: string;
  full?: boolean;
  /** How long to wait for a worker to run the update. */
  timeoutMs?: number;
  /** How long a listed worker has to answer a status query before it counts as gone. */
  probeMs?: number;
}

const UPDATES = { approve: msg.approveUpdate, promote: msg.promoteUpdate, pause: msg.pauseUpdate, resume: msg.resumeUpdate, abort: msg.abortUpdate } as const;
const SIGNALS = { approve: msg.approveSignal, promote: msg.promoteSignal, pause: msg.pauseSignal, resume: msg.resumeSignal, abort: msg.abortSignal } as const;

/** The rollout's task queue; fails with exit 2 unless it is running. */
async function runningTaskQueue(handle: WorkflowHandle, cmd: ControlCommand): Promise<string> {
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`${handle.workflowId} not found`, ExitCode.Invalid);
    throw err;
  }
  if (d.status.name !== 'RUNNING') {
    const outcome = d.typedSearchAttributes.get(RampOutcome);
    throw new CliError(`${handle.workflowId} has ended (${d.status.name}${outcome ? `, outcome ${outcome}` : ''}); nothing to ${cmd}`, ExitCode.Invalid);
  }
  return d.taskQueue;
}

/**
 * Whether a worker answers a status query within `ms`. A worker listed as polling may have stopped
 * within the last minute; a query finds out and, unlike an update, leaves nothing behind.
 */
async function workerAnswers(ctx: CliContext, handle: WorkflowHandle, ms: number): Promise<boolean> {
  try {
    await ctx.client.withDeadline(Date.now() + ms, () => handle.query(msg.statusQuery));
    return true;
  } catch (err) {
    // Any answer, even a failed query, comes from a live worker; only silence counts as none.
    return !isGrpcDeadlineError(err) && !isGrpcDeadlineError((err as Error).cause);
  }
}

export async function control(ctx: CliContext, cmd: ControlCommand, name: string, namespace: string | undefined, opts: ControlOptions): Promise<ExitCode> {
  if (cmd === 'abort' && !opts.reason) throw new CliError('abort needs --reason TEXT: say why, it is recorded in the rollout history', ExitCode.Invalid);
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const handle = ctx.client.workflow.getHandle(workflowId);
  const input = { by: opts.by, ...(opts.reason ? { reason: opts.reason } : {}), ...(cmd === 'promote' && opts.full ? { full: true } : {}) };
  const taskQueue = await runningTaskQueue(handle, cmd);

  const pollers = await workflowPollers(ctx.client, taskQueue);
  if (!pollers.polling) {
    const last = pollers.lastPollAt === undefined ? 'no poll seen' : `its last poll began ${sinceText(pollers.lastPollAt, Date.now())}`;
    return queue(ctx, handle, cmd, input, taskQueue, `no worker is polling it now (${last})`);
  }
  const probeMs = opts.probeMs ?? 10_000;
  if (!(await workerAnswers(ctx, handle, probeMs))) {
    return queue(ctx, handle, cmd, input, taskQueue,
      `a worker polled it ${sinceText(pollers.lastPollAt!, Date.now())} but did not answer within ${probeMs / 1000}s, so it has probably stopped`);
  }

  const timeoutMs = opts.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  let res: msg.CommandResult;
  try {
    res = await Promise.race([
      handle.executeUpdate(UPDATES[cmd] as typeof msg.abortUpdate, { args: [input as never] }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CliError(
          `a worker polls task queue ${taskQueue} and answered a status query, but did not answer the ${cmd} within ${timeoutMs / 1000}s; `
          + `the ${cmd} was not confirmed and Temporal cannot withdraw it: it is applied if a worker takes it while the rollout runs — see ramp status ${workflowId}`,
          ExitCode.Unreachable)), timeoutMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new CliError(`${cmd} refused: ${(err.cause)?.message ?? err.message}`, ExitCode.Invalid);
    }
    if (err instanceof WorkflowNotFoundError) throw new CliError(`${workflowId} is not running`, ExitCode.Invalid);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const s = res.status;
  if (ctx.out.json) ctx.out.print(JSON.stringify({ workflowId, command: cmd, accepted: true, effect: res.effect, status: s }));
  else ctx.out.print(`${cmd} accepted for ${workflowId}: ${res.effect}\n  now ${s.phase}, ${weightBar(s.weights.canary)} canary ${s.weights.canary}% — ${s.message}`);
  return ExitCode.Ok;
}

/** Sends the command as a signal: in the rollout's history now, applied when a worker polls. */
async function queue(ctx: CliContext, handle: WorkflowHandle, cmd: ControlCommand, input: object, taskQueue: string, why: string): Promise<ExitCode> {
  try {
    await handle.signal(SIGNALS[cmd] as typeof msg.abortSignal, input as msg.AbortInput);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`${handle.workflowId} is not running`, ExitCode.Invalid);
    throw err;
  }
  const message = `${cmd} queued in the rollout's history: applied when a worker polls task queue ${taskQueue}; ${why}. `
    + `If it makes no sense by then, the rollout records it as refused (ramp story ${handle.workflowId} shows which).`;
  if (ctx.out.json) ctx.out.print(JSON.stringify({ workflowId: handle.workflowId, command: cmd, queued: true, via: 'signal', taskQueue, message }));
  else ctx.out.print(`${message}`);
  return ExitCode.Unreachable;
}
