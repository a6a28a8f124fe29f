/**
 * `ramp undo NAME [--wait] [--timeout D] [--by WHO]`: a new rollout of the same target back to
 * the version before the last promotion.
 *
 * Ramp does not record the stable's image before a rollout in its history (the preflight reads it
 * but keeps only the version labels), so the version before the last promotion is the one an
 * earlier promoted rollout of the same target put in place: the newest promoted run whose canary
 * (image and pod-template patch) differs from the last one's. Its spec is started again as it was,
 * as `kubectl rollout undo` goes back to the previous distinct revision.
 */
import type { ResolvedRollout } from '../../../domain/spec/schema';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { PastRun, pastRuns, runInWords, runSpec } from '../past-runs';
import { resolveRollout } from '../resolve';
import { start } from './start';

/** How undo and retry start the rollout they found. */
export interface RestartOptions {
  wait: boolean;
  timeoutMs?: number;
  startedBy: string;
}

/** A promoted run with the spec it was started with. */
export interface PromotedRun {
  run: PastRun;
  rollout: ResolvedRollout;
}

/** What a canary changed: its image and its pod-template patch. */
const canaryVersion = (r: ResolvedRollout) => JSON.stringify({ image: r.spec.canary.image ?? null, patch: r.spec.canary.podTemplatePatch ?? null });

/** The canary in words: its image, or that it is a pod-template patch. */
export const canaryInWords = (r: ResolvedRollout) => r.spec.canary.image ?? '(a pod-template patch)';

/**
 * Which promoted run to go back to, given the promoted runs newest first: the newest one whose
 * canary differs from the last promotion's. A string says why there is none.
 */
export function undoChoice(workflowId: string, promoted: readonly PromotedRun[]): { last: PromotedRun; back: PromotedRun } | string {
  const [last, ...older] = promoted;
  if (!last) return `${workflowId} has no promoted rollout in Temporal's history: there is nothing to undo (ramp history ${workflowId} lists its runs)`;
  const back = older.find((p) => canaryVersion(p.rollout) !== canaryVersion(last.rollout));
  if (!back) {
    return `the version before ${canaryInWords(last.rollout)} (promoted by ${runInWords(last.run)}) is not recorded: Ramp learns it only from an earlier promoted rollout of the same target, `
      + `and Temporal's history (kept for the namespace's retention period) has none with another version; roll back by hand: ramp start -f FILE --image <the previous image>`;
  }
  return { last, back };
}

export async function undo(ctx: CliContext, name: string, namespace: string | undefined, opts: RestartOptions): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const runs = await pastRuns(ctx, workflowId);
  const running = runs.find((r) => r.status === 'RUNNING');
  if (running) throw new CliError(`${workflowId} is running (phase ${running.phase ?? 'unknown'}): abort it first (ramp abort ${workflowId} --reason ...), then undo`, ExitCode.Invalid);
  const promoted: PromotedRun[] = [];
  for (const run of runs.filter((r) => r.outcome === 'Promoted')) {
    const rollout = await runSpec(ctx, run);
    if (rollout) promoted.push({ run, rollout });
  }
  const choice = undoChoice(workflowId, promoted);
  if (typeof choice === 'string') throw new CliError(choice, ExitCode.Invalid);
  if (!ctx.out.json) {
    ctx.out.print(`undo: from ${canaryInWords(choice.last.rollout)} (${runInWords(choice.last.run)}) back to ${canaryInWords(choice.back.rollout)}, with the spec of ${runInWords(choice.back.run)}`);
  }
  return start(ctx, { rollout: choice.back.rollout, wait: opts.wait, timeoutMs: opts.timeoutMs, startedBy: opts.startedBy });
}
