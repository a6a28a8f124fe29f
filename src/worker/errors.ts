/** Thrown when the worker cannot start; the message is one line naming the setting to fix. */
export class StartupError extends Error {
  override name = 'StartupError';

  constructor(
    /** The environment variable to change, e.g. TEMPORAL_ADDRESS. */
    readonly setting: string,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
