/**
 * `ramp status NAME [-n NS] [--output json] [--watch]`. The status comes from the rollout's own
 * query (a worker answers it), or from its result once it has completed. With no worker to answer,
 * it says so and shows what Temporal itself knows: the phase and outcome as of their last change.
 */
import type { CliContext } from '../context';
import { ExitCode } from '../errors';
import { lastKnownBlock, statusBlock } from '../render';
import { lastKnown, readStatus } from '../status-source';
import { resolveRollout } from '../resolve';
import { waitForEnd } from './start';

export async function status(ctx: CliContext, name: string, namespace: string | undefined, watch: boolean): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const handle = ctx.client.workflow.getHandle(workflowId);
  if (watch) return waitForEnd(ctx, handle);
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
