/** Exit codes CI can act on (documented in docs/cli.md). */
export const ExitCode = {
  /** Promoted (start --wait), the command did what it was asked, or the cluster check found no problem. */
  Ok: 0,
  /** Rolled back, aborted, failed, cancelled, or still running when --timeout passed. */
  Failed: 1,
  /**
   * Invalid input: a bad spec, flag or name, a command refused in the rollout's current phase, a
   * rollout refused by its preflight (start --wait), or problems found by validate --cluster.
   */
  Invalid: 2,
  /** Temporal or the Kubernetes cluster could not be reached, or a worker polled but did not answer. */
  Unreachable: 3,
  /**
   * No worker polls the rollout's task queue: a command was written to the rollout's history as a
   * signal (applied when a worker polls), or `status` shows the phase as of its last change.
   */
  NoWorker: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by commands for an expected failure: one clear line and an exit code, no stack trace. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode: ExitCode) {
    super(message);
  }
}
