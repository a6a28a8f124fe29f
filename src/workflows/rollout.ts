/**
 * The rollout workflow: one per target Deployment. It only orchestrates. The rollout's state and
 * every decision live in the state machine (src/domain/rollout/machine.ts, rules.ts); this file
 * turns the machine's commands into activity calls, timers and cancellations, and turns their
 * outcomes, people's commands and a cancellation request back into machine input.
 *
 * The loop runs in a non-cancellable scope: a cancellation of the workflow is an event like any
 * other (the machine rolls back, or finishes a promotion under way), and the workflow ends as
 * cancelled afterwards. Never terminate a rollout: terminate runs no code at all.
 *
 * A promoted rollout completes with its result; any other outcome fails the workflow after the
 * rollback, with the result in the failure's details (src/shared/outcomes.ts, decisions/0022).
 */
import {
  allHandlersFinished, ApplicationFailure, CancellationScope, CancelledFailure, condition, continueAsNew, isCancellation, log, patched, proxyActivities, proxyLocalActivities,
  setCurrentDetails, setHandler, sleep, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Budget, CallCommand, Lane, RolloutCalls } from '../domain/rollout/calls';
import { COMMANDS, parseCommandInput, type Command } from '../domain/rollout/commands';
import { canHandOver, DEFAULT_HISTORY_LIMIT, handOverDue, newRollout, plan, reduce, type CallFailure, type MachineEvent, type RolloutResult } from '../domain/rollout/machine';
import type { Rollout } from '../domain/rollout/model';
import { acceptCommand, commandRefusal, recordRefusedSignal } from '../domain/rollout/rules';
import type { Timer } from '../domain/rollout/waits';
import type { ResolvedRollout } from '../domain/spec/schema';
import { FORWARD_NON_RETRYABLE, UNDO_NON_RETRYABLE } from '../shared/failures';
import * as msg from '../shared/messages';
import { FAIL_ON_OUTCOME_PATCH, outcomeFailure } from '../shared/outcomes';
import { RampOutcome, RampPhase } from '../shared/search-attributes';
import { nowMs } from './clock';
import { RolloutObserver } from './observe';

export type { RolloutResult };

export interface RolloutInput {
  rollout: ResolvedRollout;
  /** Who started it (CLI user, CI job). */
  startedBy?: string;
  /** History events after which a run continues as new at its next wait (default 2,000). */
  historyLimit?: number;
  /** Set by continue-as-new: the whole rollout as the previous run left it. */
  resume?: Rollout;
}

const retry = (budget: Budget) => ({
  initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s',
  nonRetryableErrorTypes: [...(budget === 'forward' ? FORWARD_NON_RETRYABLE : UNDO_NON_RETRYABLE)],
});

/**
 * Per lane and budget: local calls retry an outage for up to 10 minutes forward and 5 in a rollback,
 * so a rollback that cannot finish ends in RollbackFailed instead of hanging; slow calls (a git
 * commit and its sync) get 30 minutes either way, as an agent may take that long to come back. Local activities
 * whose retry backs off longer than 5 s wait on a durable timer, not inside the workflow task.
 */
const OPTIONS: Record<Lane, Record<Budget, object>> = {
  local: {
    forward: { startToCloseTimeout: '30s', scheduleToCloseTimeout: '10m', localRetryThreshold: '5s', retry: retry('forward') },
    undo: { startToCloseTimeout: '30s', scheduleToCloseTimeout: '5m', localRetryThreshold: '5s', retry: retry('undo') },
  },
  slow: {
    forward: { startToCloseTimeout: '20m', heartbeatTimeout: '30s', scheduleToCloseTimeout: '30m', retry: retry('forward') },
    undo: { startToCloseTimeout: '20m', heartbeatTimeout: '30s', scheduleToCloseTimeout: '30m', retry: retry('undo') },
  },
  // Readiness waits poll until a deadline the activity enforces itself.
  wait: {
    forward: { startToCloseTimeout: '2h', heartbeatTimeout: '10s', retry: retry('forward') },
    undo: { startToCloseTimeout: '2h', heartbeatTimeout: '10s', retry: retry('undo') },
  },
};

type Executable = { executeWithOptions(options: object, args: unknown[]): Promise<unknown> };
const local = proxyLocalActivities<RolloutCalls>(OPTIONS.local.forward);
const remote = proxyActivities<RolloutCalls>(OPTIONS.wait.forward);

function execute(c: CallCommand): Promise<unknown> {
  const proxy = (c.lane === 'local' ? local : remote)[c.activity] as unknown as Executable;
  return proxy.executeWithOptions({ ...OPTIONS[c.lane][c.budget], summary: c.summary }, c.args);
}

/** The activity's own failure (type and message) under Temporal's ActivityFailure wrapper. */
function failureOf(err: unknown): CallFailure {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error && e.name === 'ActivityFailure') e = e.cause;
  const type = typeof (e as { type?: unknown })?.type === 'string' ? (e as { type: string }).type : undefined;
  return { ...(type ? { type } : {}), message: e instanceof Error ? e.message : String(e), cancelled: isCancellation(err) };
}

export async function rolloutWorkflow(input: RolloutInput): Promise<RolloutResult> {
  // Asked in the run's first workflow task, never lazily at the end (decisions/0013).
  const failOnOutcome = patched(FAIL_ON_OUTCOME_PATCH);
  const spec = input.rollout;
  const r: Rollout = input.resume ? { ...input.resume, runs: input.resume.runs + 1 } : newRollout(spec, input.startedBy, nowMs());
  const events: MachineEvent[] = [];
  let changed = false;
  const observer = new RolloutObserver(r.status);
  /** Fields every log line of this workflow carries, besides the SDK's workflow id and run id. */
  const logFields = () => ({ rollout: `${spec.metadata.namespace}/${spec.metadata.name}`, step: r.status.step.index });

  // ---- messages: the rules decide, the handlers only apply --------------------------------------
  const validator = (cmd: Command) => (raw?: unknown) => {
    const parsed = parseCommandInput(cmd, raw);
    if (!parsed.ok) throw new Error(parsed.message);
    const refusal = commandRefusal(r, spec, cmd, parsed.input);
    if (refusal) throw new Error(refusal);
  };
  const updates = { approve: msg.approveUpdate, promote: msg.promoteUpdate, abort: msg.abortUpdate, pause: msg.pauseUpdate, resume: msg.resumeUpdate };
  const signals = { approve: msg.approveSignal, promote: msg.promoteSignal, abort: msg.abortSignal, pause: msg.pauseSignal, resume: msg.resumeSignal };
  for (const cmd of COMMANDS) {
    // The validator has accepted the input; on replay validators do not run, so the handler never throws.
    setHandler(updates[cmd] as typeof msg.approveUpdate, (raw?: unknown): msg.CommandResult => {
      const parsed = parseCommandInput(cmd, raw);
      const effect = acceptCommand(r, spec, cmd, parsed.ok ? parsed.input : {}, 'update', nowMs());
      changed = true;
      return { effect, status: r.status };
    }, { validator: validator(cmd) });
    setHandler(signals[cmd] as typeof msg.approveSignal, (raw?: unknown) => {
      const parsed = parseCommandInput(cmd, raw);
      const refusal = parsed.ok ? commandRefusal(r, spec, cmd, parsed.input) : parsed.message;
      if (refusal !== undefined) {
        recordRefusedSignal(r, cmd, parsed.ok ? parsed.input : {}, refusal, nowMs());
        log.warn('signal refused', { ...logFields(), command: cmd, reason: refusal });
      } else if (parsed.ok) acceptCommand(r, spec, cmd, parsed.input, 'signal', nowMs());
      changed = true;
    });
  }
  setHandler(msg.statusQuery, () => r.status);

  // A cancellation of the workflow becomes machine input; the loop itself cannot be cancelled.
  let cancellation: Error | undefined;
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    cancellation = err instanceof Error ? err : new CancelledFailure(String(err));
    events.push({ type: 'cancelRequested', at: nowMs() });
  });

  return CancellationScope.nonCancellable(async () => {
    const calls = new Map<number, CancellationScope>();
    const armed = new Map<number, CancellationScope>();
    // The client sets RampPhase at start; a continued run carries it over.
    let shown = { phase: r.status.phase as string, message: '' };

    const publish = () => {
      observer.report(r.status);
      const { phase, message } = r.status;
      if (phase === shown.phase && message === shown.message) return;
      setCurrentDetails(`**${phase}** — ${message}`);
      if (phase !== shown.phase) upsertSearchAttributes([{ key: RampPhase, value: phase }]);
      shown = { phase, message };
    };

    const startCall = (c: CallCommand) => {
      const scope = new CancellationScope();
      calls.set(c.id, scope);
      scope.run(() => execute(c)).then(
        (value) => events.push({ type: 'result', id: c.id, value, at: nowMs() }),
        (err: unknown) => events.push({ type: 'failure', id: c.id, failure: failureOf(err), at: nowMs() }),
      ).finally(() => calls.delete(c.id));
    };

    /** Keeps exactly one timer per wanted deadline. */
    const armTimers = (wanted: Timer[]) => {
      for (const [at, scope] of armed) {
        if (!wanted.some((t) => t.at === at)) {
          scope.cancel();
          armed.delete(at);
        }
      }
      for (const t of wanted) {
        if (armed.has(t.at)) continue;
        const scope = new CancellationScope();
        armed.set(t.at, scope);
        scope.run(() => sleep(Math.max(1, t.at - nowMs()), { summary: t.summary })).then(
          () => {
            armed.delete(t.at);
            events.push({ type: 'tick', at: nowMs() });
          },
          () => undefined, // cancelled: no longer wanted
        );
      }
    };

    const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    for (;;) {
      while (events.length > 0) {
        reduce(r, spec, events.shift()!);
        observer.afterEvent(r.status);
      }
      changed = false;
      if (canHandOver(r) && handOverDue(workflowInfo().historyLength, historyLimit, workflowInfo().continueAsNewSuggested)) {
        publish();
        log.info('continuing as new', { ...logFields(), historyLength: workflowInfo().historyLength, runs: r.runs });
        await condition(allHandlersFinished);
        return await continueAsNew<typeof rolloutWorkflow>({ ...input, resume: r });
      }
      const p = plan(r, spec, nowMs());
      publish();
      for (const c of p.commands) {
        if (c.kind === 'call') startCall(c);
        else if (c.kind === 'cancel') calls.get(c.id)?.cancel();
        else {
          armTimers([]);
          upsertSearchAttributes([{ key: RampOutcome, value: c.result.outcome }]);
          await condition(allHandlersFinished);
          if (r.cancelRequested && cancellation !== undefined) throw cancellation;
          // The saga convention: compensate, then fail, so the UI's status and Failures filter tell
          // the outcome. Non-retryable: a retry would start the rollout over.
          const failure = failOnOutcome ? outcomeFailure(c.result) : undefined;
          if (failure) throw ApplicationFailure.create({ ...failure, nonRetryable: true, details: [c.result] });
          return c.result;
        }
      }
      armTimers(p.timers);
      await condition(() => events.length > 0 || changed);
    }
  });
}
