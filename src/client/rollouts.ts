/**
 * Starting and driving rollouts from code (the CLI and tests use this): one workflow per target,
 * search attributes for `ramp list` and the UI, and errors that say what to do.
 */
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { describeStep } from '../domain/rollout/state';
import type { RolloutStatus } from '../domain/rollout/state';
import type { ResolvedRollout } from '../domain/spec/schema';
import { rolloutWorkflowId, targetKey } from '../shared/ids';
import { ROLLOUT_WORKFLOW, statusQuery } from '../shared/messages';
import { RampImage, RampNamespace, RampPhase, RampRollout, RampTarget } from '../shared/search-attributes';
import type { rolloutWorkflow } from '../workflows/rollout';

/** Thrown when the target already has a running rollout; the message names it and how to abort it. */
export class RolloutAlreadyRunningError extends Error {
  override name = 'RolloutAlreadyRunningError';
  constructor(readonly workflowId: string, readonly phase: string | undefined) {
    super(
      `a rollout of ${workflowId.replace(/^rollout\//, '')} is already running (workflow id ${workflowId}${phase ? `, phase ${phase}` : ''}); ` +
      `wait for it to finish, or abort it: temporal workflow update execute --workflow-id ${workflowId} --name abort --input '{"reason":"superseded"}'`,
    );
  }
}

export type RolloutHandle = WorkflowHandle<typeof rolloutWorkflow>;

export interface StartOptions {
  taskQueue: string;
  /** Who starts it (recorded in the workflow's audit log). */
  startedBy?: string;
  /** History events after which a run continues as new (default 2,000; see docs/decisions/0010). */
  historyLimit?: number;
}

export async function startRollout(client: Client, rollout: ResolvedRollout, opts: StartOptions): Promise<WorkflowHandleWithFirstExecutionRunId<typeof rolloutWorkflow>> {
  const ns = rollout.metadata.namespace;
  const target = rollout.spec.target.deployment;
  const workflowId = rolloutWorkflowId(ns, target);
  const steps = rollout.spec.steps.map((s, i) => `${i + 1}. ${describeStep(s)}`).join('\n');
  try {
    return await client.workflow.start<typeof rolloutWorkflow>(ROLLOUT_WORKFLOW, {
      taskQueue: opts.taskQueue,
      workflowId,
      args: [{ rollout, startedBy: opts.startedBy, ...(opts.historyLimit !== undefined ? { historyLimit: opts.historyLimit } : {}) }],
      typedSearchAttributes: [
        { key: RampTarget, value: targetKey(ns, target) },
        { key: RampRollout, value: `${ns}/${rollout.metadata.name}` },
        { key: RampNamespace, value: ns },
        { key: RampImage, value: rollout.spec.canary.image ?? '(pod template patch)' },
        { key: RampPhase, value: 'Initializing' },
      ],
      staticSummary: `Canary ${rollout.spec.canary.image ?? 'pod-template patch'} → ${ns}/${target}`,
      staticDetails: `Rollout **${ns}/${rollout.metadata.name}** of Deployment \`${target}\` via VirtualService \`${rollout.spec.traffic.virtualService.name}\` (${rollout.spec.traffic.routing.mode} routing)\n\n${steps}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      let phase: string | undefined;
      try {
        phase = (await client.workflow.getHandle(workflowId).query(statusQuery)).phase;
      } catch {
        phase = undefined;
      }
      throw new RolloutAlreadyRunningError(workflowId, phase);
    }
    throw err;
  }
}

export function rolloutHandle(client: Client, namespace: string, deployment: string): RolloutHandle {
  return client.workflow.getHandle<typeof rolloutWorkflow>(rolloutWorkflowId(namespace, deployment));
}

export async function rolloutStatus(handle: RolloutHandle): Promise<RolloutStatus> {
  return handle.query(statusQuery);
}
