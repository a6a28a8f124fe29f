/**
 * `ramp retry NAME [--wait] [--timeout D] [--by WHO]`: the last rollout of a target, started
 * again with the same spec (its run's own input) — after an abort, a rollback, a refusal, or a
 * rollback that left something to fix. A promoted or running rollout is not retried.
 */
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { PastRun, pastRuns, runInWords, runSpec } from '../past-runs';
import { resolveRollout } from '../resolve';
import { start } from './start';
import type { RestartOptions } from './undo';

/** Why the latest run cannot be retried, or undefined when it can. */
export function retryRefusal(workflowId: string, latest: PastRun | undefined): string | undefined {
  if (!latest) return `${workflowId} has no run in Temporal's history: nothing to retry (start it with ramp start -f FILE)`;
  if (latest.status === 'RUNNING') return `${workflowId} is running (phase ${latest.phase ?? 'unknown'}): nothing to retry until it ends`;
  if (latest.outcome === 'Promoted') return `${workflowId} promoted in its last run (${runInWords(latest)}): nothing to retry; ramp undo ${workflowId} goes back to the version before`;
  return undefined;
}

export async function retry(ctx: CliContext, name: string, namespace: string | undefined, opts: RestartOptions): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const [latest] = await pastRuns(ctx, workflowId, 1);
  const refusal = retryRefusal(workflowId, latest);
  if (refusal) throw new CliError(refusal, ExitCode.Invalid);
  const rollout = await runSpec(ctx, latest!);
  if (!rollout) throw new CliError(`the spec of ${runInWords(latest!)} cannot be read from its history: start it again with ramp start -f FILE`, ExitCode.Invalid);
  if (!ctx.out.json) ctx.out.print(`retry: ${workflowId} again with the spec of ${runInWords(latest!)}`);
  return start(ctx, { rollout, wait: opts.wait, timeoutMs: opts.timeoutMs, startedBy: opts.startedBy });
}
