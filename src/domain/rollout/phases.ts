/** The closed set of phases a rollout passes through. */
export const Phase = {
  /** Checking the target, deploying the canary and preparing its routes (canary at 0 %). */
  Initializing: 'Initializing',
  /** Walking the steps: setting weights, analysing. */
  Progressing: 'Progressing',
  /** Held by a pause step, by a person, or by an inconclusive analysis; `resume` continues. */
  Paused: 'Paused',
  /** Waiting for a person to `approve` (or for the approval's timeout). */
  AwaitingApproval: 'AwaitingApproval',
  /** Rolling stable to the canary's pod template, shifting all traffic back, cleaning up. */
  Promoting: 'Promoting',
  /** Done: stable runs the new version; the canary and its routes are gone. */
  Succeeded: 'Succeeded',
  /** Sending all traffic to stable and removing the canary after an abort or a failure. */
  RollingBack: 'RollingBack',
  /** Done: stable unchanged and serving 100 %, the canary removed. */
  RolledBack: 'RolledBack',
  /** The rollback itself failed; the result says what is left to fix by hand. */
  RollbackFailed: 'RollbackFailed',
  /** Done before anything changed: the preflight found the cluster not shaped as the spec says. */
  Refused: 'Refused',
} as const;

export type Phase = (typeof Phase)[keyof typeof Phase];

export const TERMINAL_PHASES: readonly Phase[] = [Phase.Succeeded, Phase.RolledBack, Phase.RollbackFailed, Phase.Refused];

/**
 * How a finished rollout ended (the RampOutcome search attribute): Promoted; RolledBack (stable
 * serving 100 %, the canary gone); RollbackFailed (something is left to fix by hand, listed);
 * Refused (the preflight found problems; nothing was changed).
 */
export const OUTCOMES = ['Promoted', 'RolledBack', 'RollbackFailed', 'Refused'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Every phase name, for validating user input (`ramp list --phase`). */
export const PHASE_VALUES: readonly string[] = Object.values(Phase);
