/** Exit codes CI can act on (documented in docs/cli.md). */
export const ExitCode = {
  /** Promoted (start --wait), or the command did what it was asked. */
  Ok: 0,
  /** Rolled back, aborted, failed, cancelled, or still running when --timeout passed. */
  Failed: 1,
  /** Invalid input: a bad spec, flag, name, or a command refused in the rollout's current phase. */
  Invalid: 2,
  /** Temporal (or Kubernetes) could not be reached. */
  Unreachable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by commands for an expected failure: one clear line and an exit code, no stack trace. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode: ExitCode) {
    super(message);
  }
}
