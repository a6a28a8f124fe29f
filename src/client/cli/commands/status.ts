/** `ramp status NAME [-n NS] [--output json] [--watch]` */
import type { RolloutStatus } from '../../../domain/rollout/state';
import { statusQuery } from '../../../shared/messages';
import type { CliContext } from '../context';
import { ExitCode } from '../errors';
import { statusBlock } from '../render';
import { resolveRollout } from '../resolve';
import { waitForEnd } from './start';

export async function status(ctx: CliContext, name: string, namespace: string | undefined, watch: boolean): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const handle = ctx.client.workflow.getHandle(workflowId);
  if (watch) return waitForEnd(ctx, handle);
  const s: RolloutStatus = await handle.query(statusQuery);
  if (ctx.out.json) ctx.out.print(JSON.stringify({ workflowId, ...s }));
  else ctx.out.print(statusBlock(s, Date.now()).join('\n'));
  return ExitCode.Ok;
}
