/**
 * The activity boundary, seen from the worker: every activity attempt that fails on a Kubernetes
 * call is counted by its failure type, and every activity log line carries the workflow's run id,
 * rollout and step (the SDK already adds workflowId, workflowRunId, activityType and attempt).
 */
import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { KUBE_CALL_FAILURES } from '../activities/kube-errors';
import type { RampMetrics } from './metrics';
import type { RolloutRegistry } from './rollouts';

const kubeTypes = new Set<string>(KUBE_CALL_FAILURES);

/** The failure type of a Kubernetes call error, or undefined for anything else (cancellation included). */
export function kubeErrorType(err: unknown): string | undefined {
  if (!(err instanceof ApplicationFailure) || typeof err.type !== 'string') return undefined;
  return kubeTypes.has(err.type) ? err.type : undefined;
}

/** `<namespace>/<rollout>` from an activity's first argument, when it names both (WorkloadRef, TrafficRef). */
export function rolloutOfArgs(args: readonly unknown[]): string | undefined {
  const first = args[0] as { namespace?: unknown; rollout?: unknown } | undefined;
  if (typeof first?.namespace === 'string' && typeof first.rollout === 'string') return `${first.namespace}/${first.rollout}`;
  return undefined;
}

export function activityInterceptors(metrics: RampMetrics, rollouts: RolloutRegistry): ActivityInterceptorsFactory {
  return (ctx: Context) => {
    let fromArgs: string | undefined;
    return {
      inbound: {
        async execute(input, next) {
          fromArgs = rolloutOfArgs(input.args);
          try {
            return await next(input);
          } catch (err) {
            const type = kubeErrorType(err);
            if (type !== undefined) metrics.kubernetesError(ctx.info.activityType, type);
            throw err;
          }
        },
      },
      outbound: {
        getLogAttributes(input, next) {
          const wf = ctx.info.workflowExecution;
          const known = rollouts.logFields(wf?.workflowId);
          const rollout = known?.rollout ?? fromArgs;
          return next({
            ...input,
            ...(wf ? { runId: wf.runId } : {}),
            ...(rollout !== undefined ? { rollout } : {}),
            ...(known ? { step: known.step } : {}),
          });
        },
      },
    };
  };
}
