/**
 * How a finished rollout ends as a Temporal workflow: a promoted one completes with its result; any
 * other outcome fails the workflow with an ApplicationFailure of one of these types, its message the
 * reason in words and its details the whole RolloutResult (docs/decisions/0022). The workflow
 * raises them and every client reads them back through `rolloutResult` (src/client/rollouts.ts), so
 * the types are named once, here.
 */
import type { RolloutResult } from '../domain/rollout/machine';

/**
 * The patch id (decisions/0013) under which a run fails on an outcome other than Promoted; a run
 * begun without it completes with its result whatever the outcome.
 */
export const FAIL_ON_OUTCOME_PATCH = 'fail-on-outcome';

export const OutcomeFailure = {
  /** Rolled back on the rollout's own judgement (an analysis, a readiness deadline, an approval timeout). */
  RolledBack: 'RolloutRolledBack',
  /** Rolled back because a person or system aborted it. */
  Aborted: 'RolloutAborted',
  /** The rollback or promotion could not finish: the result lists what is left to fix by hand. */
  RollbackFailed: 'RolloutRollbackFailed',
  /** The preflight refused the rollout before anything changed: the result lists every problem. */
  Refused: 'RolloutRefused',
} as const;

export type OutcomeFailure = (typeof OutcomeFailure)[keyof typeof OutcomeFailure];

const TYPES: readonly string[] = Object.values(OutcomeFailure);

/** How each failure's message begins (outcomeFailure below writes them; the worker's log reads them). */
const MESSAGE_START = { rolledBack: 'rolled back: ', rollbackFailed: 'could not roll back: ', refused: 'refused before any change' } as const;

/**
 * True for the message of a failure the rollout workflow raises to end on an outcome. Where the
 * failure crossed a thread boundary (the SDK's workflow threads clone it), its `type` is gone and the
 * message is what is left to tell it by.
 */
export function isOutcomeFailureMessage(message: unknown): boolean {
  return typeof message === 'string' && Object.values(MESSAGE_START).some((start) => message.startsWith(start));
}

/** True for a failure type the rollout workflow raises to end on an outcome (its details hold the result). */
export function isOutcomeFailureType(type: string | undefined | null): type is OutcomeFailure {
  return type != null && TYPES.includes(type);
}

/**
 * The failure a rollout ends with, or undefined when it completes (promoted). An abort is told from
 * any other rollback by its accepted `abort` in the audit: the reason alone is free text.
 */
export function outcomeFailure(result: RolloutResult): { type: OutcomeFailure; message: string } | undefined {
  switch (result.outcome) {
    case 'Promoted':
      return undefined;
    case 'RolledBack': {
      const aborted = result.status.audit.some((a) => a.event === 'abort' && a.accepted);
      return { type: aborted ? OutcomeFailure.Aborted : OutcomeFailure.RolledBack, message: `${MESSAGE_START.rolledBack}${result.reason}` };
    }
    case 'RollbackFailed':
      return { type: OutcomeFailure.RollbackFailed, message: `${MESSAGE_START.rollbackFailed}${result.reason}` };
    case 'Refused': {
      // The reason already says "refused before any change: …" and lists every problem; the
      // message keeps to their count, the details carry them all.
      const problems = result.status.problems ?? [];
      const message = problems.length > 0
        ? `${MESSAGE_START.refused}: the preflight found ${problems.length} problem(s), the first: ${problems[0]}`
        : result.reason;
      return { type: OutcomeFailure.Refused, message };
    }
  }
}
