/**
 * `ramp list [--phase P] [-n NS] [--limit N] [--output json]`: running and recent rollouts, from
 * visibility, with the step and canary weight of each: a completed one's from its result, a
 * running one's from its status query while a worker polls (else only what visibility knows).
 */
import { PHASE_VALUES } from '../../../domain/rollout/phases';
import type { RolloutStatus } from '../../../domain/rollout/state';
import { statusQuery } from '../../../shared/messages';
import { endedResult } from '../../rollouts';
import { workflowPollers } from '../../workers';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';

export interface ListedRollout {
  workflowId: string;
  rollout?: string;
  target?: string;
  namespace?: string;
  phase?: string;
  image?: string;
  outcome?: string;
  status: string;
  startTime: string;
  closeTime?: string;
  /** The step it is at (1-based) of how many; absent when no worker answered for a running one. */
  step?: { index: number; count: number };
  /** Traffic weights in percent; absent as step is. */
  weights?: { stable: number; canary: number };
}

/** How long a running rollout's worker has to answer the status query; the list does not wait longer. */
const QUERY_MS = 3_000;

/** The visibility query `ramp list` runs; the same text works in the Temporal UI's search box. */
export function listQuery(phase?: string, namespace?: string): string {
  const terms = ['WorkflowType = "rolloutWorkflow"'];
  if (phase) terms.push(`RampPhase = "${phase}"`);
  if (namespace) terms.push(`RampNamespace = "${namespace}"`);
  return terms.join(' AND ');
}

/** The status behind a listed run, when one can be had without waiting long. */
async function statusOf(ctx: CliContext, wf: { workflowId: string; runId: string; status: { name: string }; taskQueue: string }, polling: (tq: string) => Promise<boolean>): Promise<RolloutStatus | undefined> {
  try {
    if (wf.status.name === 'COMPLETED' || wf.status.name === 'FAILED') return (await endedResult(ctx.client, wf.workflowId, wf.runId, wf.status.name))?.status;
    if (wf.status.name !== 'RUNNING' || !(await polling(wf.taskQueue))) return undefined;
    return await ctx.client.withDeadline(Date.now() + QUERY_MS, () => ctx.client.workflow.getHandle(wf.workflowId, wf.runId).query(statusQuery));
  } catch {
    return undefined; // beyond retention, or no answer: the row keeps what visibility knows
  }
}

/** STEP as `3/5`, counted from 1; `-` when unknown. */
export function stepText(step: { index: number; count: number } | undefined): string {
  return step ? `${Math.min(step.index + 1, step.count)}/${step.count}` : '-';
}

export async function list(ctx: CliContext, phase: string | undefined, namespace: string | undefined, limit = 20): Promise<ExitCode> {
  if (phase !== undefined && !PHASE_VALUES.includes(phase)) {
    throw new CliError(`--phase ${phase}: use one of ${PHASE_VALUES.join(', ')}`, ExitCode.Invalid);
  }
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) {
    throw new CliError(`-n ${namespace}: not a Kubernetes namespace name`, ExitCode.Invalid);
  }
  const pending: Promise<ListedRollout>[] = [];
  const query = listQuery(phase, namespace);
  const pollers = new Map<string, Promise<boolean>>();
  const polling = (tq: string) => {
    if (!pollers.has(tq)) pollers.set(tq, workflowPollers(ctx.client, tq).then((p) => p.polling, () => false));
    return pollers.get(tq)!;
  };
  for await (const wf of ctx.client.workflow.list({ query, pageSize: limit })) {
    const sa = wf.typedSearchAttributes;
    const get = (name: string) => sa.getAll().find((p) => p.key.name === name)?.value as string | undefined;
    pending.push(statusOf(ctx, wf, polling).then((s) => ({
      workflowId: wf.workflowId,
      rollout: get('RampRollout'),
      target: get('RampTarget'),
      namespace: get('RampNamespace'),
      phase: get('RampPhase'),
      image: get('RampImage'),
      outcome: get('RampOutcome'),
      status: wf.status.name,
      startTime: wf.startTime.toISOString(),
      closeTime: wf.closeTime?.toISOString(),
      ...(s ? { step: { index: s.step.index, count: s.step.count }, weights: { ...s.weights } } : {}),
    })));
    if (pending.length >= limit) break;
  }
  const rows = await Promise.all(pending);
  if (ctx.out.json) {
    ctx.out.print(JSON.stringify(rows));
    return ExitCode.Ok;
  }
  if (rows.length === 0) {
    ctx.out.print(`no rollouts (query: ${query})`);
    return ExitCode.Ok;
  }
  const table = [
    ['ROLLOUT', 'TARGET', 'PHASE', 'STEP', 'WEIGHT', 'OUTCOME', 'IMAGE', 'STARTED'],
    ...rows.map((r) => [r.rollout ?? '-', r.target ?? '-', r.phase ?? '-', stepText(r.step), r.weights ? `${r.weights.canary}%` : '-', r.outcome ?? '-', r.image ?? '-', r.startTime]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) ctx.out.print(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  return ExitCode.Ok;
}
