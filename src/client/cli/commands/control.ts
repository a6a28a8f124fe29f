/**
 * `ramp approve|promote [--full]|pause|resume|abort --reason TEXT NAME`: updates, so the caller
 * learns at once whether the command was accepted; a refusal prints the workflow's reason.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { abortUpdate, approveUpdate, CommandResult, pauseUpdate, promoteUpdate, resumeUpdate } from '../../../shared/messages';
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
}

const UPDATES = { approve: approveUpdate, promote: promoteUpdate, pause: pauseUpdate, resume: resumeUpdate, abort: abortUpdate } as const;

export async function control(ctx: CliContext, cmd: ControlCommand, name: string, namespace: string | undefined, opts: ControlOptions): Promise<ExitCode> {
  if (cmd === 'abort' && !opts.reason) throw new CliError('abort needs --reason TEXT: say why, it is recorded in the rollout history', ExitCode.Invalid);
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const handle = ctx.client.workflow.getHandle(workflowId);
  const input = { by: opts.by, ...(opts.reason ? { reason: opts.reason } : {}), ...(cmd === 'promote' && opts.full ? { full: true } : {}) };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  let res: CommandResult;
  try {
    res = await Promise.race([
      handle.executeUpdate(UPDATES[cmd] as typeof abortUpdate, { args: [input as never] }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CliError(
          `no Ramp worker answered within ${timeoutMs / 1000}s: is a worker polling task queue ${ctx.taskQueue}? (the ${cmd} was not applied)`,
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
