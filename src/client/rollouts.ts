/**
 * Starting and driving rollouts from code (the CLI and tests use this): one workflow per target,
 * search attributes for `ramp list` and the UI, and errors that say what to do.
 */
import { ApplicationFailure, Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { describeStep } from '../domain/rollout/state';
import type { RolloutResult } from '../domain/rollout/machine';
import type { RolloutStatus } from '../domain/rollout/state';
import { describeTraffic } from '../domain/traffic/describe';
import type { ResolvedRollout } from '../domain/spec/schema';
import { rolloutWorkflowId, targetKey } from '../shared/ids';
import { ROLLOUT_WORKFLOW, statusQuery } from '../shared/messages';
import { isOutcomeFailureType } from '../shared/outcomes';
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
      staticDetails: `Rollout **${ns}/${rollout.metadata.name}** of Deployment \`${target}\`; traffic: ${describeTraffic(rollout.spec.traffic)}\n\n${steps}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      // The phase as of its last change: from Temporal itself, so no worker has to answer.
      let phase: string | undefined;
      try {
        phase = (await client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(RampPhase);
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

/**
 * The result a rollout ended with, whether its workflow completed (promoted) or failed with one of
 * Ramp's outcome failures (rolled back, aborted, rollback failed, refused). Any other failure —
 * cancelled, terminated, timed out, a failure that is not Ramp's — is rethrown as it came. Waits
 * for the end, following continue-as-new unless the handle is pinned to a run.
 */
export async function rolloutResult(handle: WorkflowHandle): Promise<RolloutResult> {
  try {
    return (await handle.result()) as RolloutResult;
  } catch (err) {
    const result = resultOfFailure(err);
    if (result === undefined) throw err;
    return result;
  }
}

/** The RolloutResult a rollout's workflow failure carries, or undefined if it is not an outcome failure. */
export function resultOfFailure(err: unknown): RolloutResult | undefined {
  if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) return undefined;
  if (!isOutcomeFailureType(err.cause.type)) return undefined;
  return err.cause.details?.[0] as RolloutResult | undefined;
}

/** Temporal statuses of a run that may have ended with a RolloutResult. */
const ENDED_WITH_RESULT = ['COMPLETED', 'FAILED'];

/**
 * The result of a run that has ended with one (promoted: completed; any other outcome: failed with
 * Ramp's outcome failure), read from its close event: no worker needed. Undefined for a run that has
 * none (running, cancelled, terminated, continued as new, failed otherwise). `knownStatus`, the
 * run's Temporal status when the caller has it, saves a describe.
 */
export async function endedResult(client: Client, workflowId: string, runId?: string, knownStatus?: string): Promise<RolloutResult | undefined> {
  const handle = client.workflow.getHandle<typeof rolloutWorkflow>(workflowId, runId, { followRuns: false });
  const statusName = knownStatus ?? (await handle.describe()).status.name;
  if (!ENDED_WITH_RESULT.includes(statusName)) return undefined;
  try {
    return await rolloutResult(handle);
  } catch (err) {
    if (err instanceof WorkflowFailedError) return undefined; // failed, but not with a rollout's outcome
    throw err;
  }
}
