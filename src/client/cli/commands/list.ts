/** `ramp list [--phase P] [-n NS] [--output json]`: running and recent rollouts, from visibility. */
import { PHASE_VALUES } from '../../../domain/rollout/phases';
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
}

/** The visibility query `ramp list` runs; the same text works in the Temporal UI's search box. */
export function listQuery(phase?: string, namespace?: string): string {
  const terms = ['WorkflowType = "rolloutWorkflow"'];
  if (phase) terms.push(`RampPhase = "${phase}"`);
  if (namespace) terms.push(`RampNamespace = "${namespace}"`);
  return terms.join(' AND ');
}

export async function list(ctx: CliContext, phase: string | undefined, namespace: string | undefined, limit = 50): Promise<ExitCode> {
  if (phase !== undefined && !PHASE_VALUES.includes(phase)) {
    throw new CliError(`--phase ${phase}: use one of ${PHASE_VALUES.join(', ')}`, ExitCode.Invalid);
  }
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) {
    throw new CliError(`-n ${namespace}: not a Kubernetes namespace name`, ExitCode.Invalid);
  }
  const rows: ListedRollout[] = [];
  const query = listQuery(phase, namespace);
  for await (const wf of ctx.client.workflow.list({ query, pageSize: limit })) {
    const sa = wf.typedSearchAttributes;
    const get = (name: string) => sa.getAll().find((p) => p.key.name === name)?.value as string | undefined;
    rows.push({
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
    });
    if (rows.length >= limit) break;
  }
  if (ctx.out.json) {
    ctx.out.print(JSON.stringify(rows));
    return ExitCode.Ok;
  }
  if (rows.length === 0) {
    ctx.out.print(`no rollouts (query: ${query})`);
    return ExitCode.Ok;
  }
  const table = [['ROLLOUT', 'TARGET', 'PHASE', 'OUTCOME', 'IMAGE', 'STARTED'], ...rows.map((r) => [r.rollout ?? '-', r.target ?? '-', r.phase ?? '-', r.outcome ?? '-', r.image ?? '-', r.startTime])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) ctx.out.print(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  return ExitCode.Ok;
}
