/**
 * Finding a rollout from what a person types: a workflow id (`rollout/mushop/storefront-original`),
 * `NAMESPACE/NAME`, or `NAME` with `-n NAMESPACE` — NAME being the Rollout's metadata.name or its
 * target Deployment. Looked up through the RampRollout/RampTarget search attributes, so the same
 * query works in the Temporal UI.
 */
import type { Client } from '@temporalio/client';
import { rolloutWorkflowId } from '../../shared/ids';
import { CliError, ExitCode } from './errors';

export interface ResolvedName {
  workflowId: string;
  /** How it was found, for messages. */
  query: string;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function visibilityQueryFor(namespace: string, name: string): string {
  const key = `${namespace}/${name}`;
  return `(RampRollout = "${key}" OR RampTarget = "${key}")`;
}

export async function resolveRollout(client: Client, input: string, namespace = 'default'): Promise<ResolvedName> {
  if (input.startsWith('rollout/')) return { workflowId: input, query: `WorkflowId = "${input}"` };
  const parts = input.split('/');
  const [ns, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [namespace, input];
  if (parts.length > 2 || !NAME.test(ns) || !NAME.test(name)) {
    throw new CliError(`${JSON.stringify(input)} is not a rollout name: use NAME (with -n NAMESPACE), NAMESPACE/NAME, or a workflow id rollout/NAMESPACE/DEPLOYMENT`, ExitCode.Invalid);
  }
  const query = visibilityQueryFor(ns, name);
  for await (const wf of client.workflow.list({ query, pageSize: 1 })) {
    return { workflowId: wf.workflowId, query };
  }
  // Not in visibility yet (it lags a moment after a start): the name may be the target itself.
  const direct = rolloutWorkflowId(ns, name);
  try {
    await client.workflow.getHandle(direct).describe();
    return { workflowId: direct, query };
  } catch {
    throw new CliError(`no rollout named ${ns}/${name} (searched: ${query}); see \`ramp list -n ${ns}\``, ExitCode.Invalid);
  }
}
