/**
 * `ramp status NAME [-n NS] [--output json] [--watch [--timeout DURATION]]`. The status comes from the rollout's own
 * query (a worker answers it), or from its result once it has completed. With no worker to answer,
 * it says so and shows what Temporal itself knows: the phase and outcome as of their last change.
 */
import type { CliContext } from '../context';
import { ExitCode } from '../errors';
import { lastKnownBlock, statusBlock } from '../render';
import { lastKnown, readStatus } from '../status-source';
import { resolveRollout } from '../resolve';
import { waitForEnd } from './start';

export interface StatusOptions {
  /** Follow the rollout to its end (a live view on a terminal) instead of printing it once. */
  watch: boolean;
  /** With watch: stop following after this long (exit 1); the rollout is not aborted. */
  timeoutMs?: number;
}

export async function status(ctx: CliContext, name: string, namespace: string | undefined, opts: StatusOptions): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const handle = ctx.client.workflow.getHandle(workflowId);
  if (opts.watch) return waitForEnd(ctx, handle, { timeoutMs: opts.timeoutMs });
  const d = await handle.describe();
  const read = await readStatus(ctx, handle, d);
  if ('status' in read) {
    if (ctx.out.json) ctx.out.print(JSON.stringify({ workflowId, ...read.status }));
    else ctx.out.print(statusBlock(read.status, Date.now()).join('\n'));
    return ExitCode.Ok;
  }
  const k = await lastKnown(handle, d, read.note);
  if (ctx.out.json) ctx.out.print(JSON.stringify({ ...k, stale: true }));
  else ctx.out.print(lastKnownBlock(k, Date.now()).join('\n'));
  return ExitCode.Unreachable;
}
