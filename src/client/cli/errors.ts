/**
 * Exit codes CI can act on (documented in docs/cli.md), and the one place an error becomes one:
 * the CLI's own errors carry theirs; Temporal's errors that mean a setup mistake are classified
 * with their fix; anything else is "unexpected" (4), so CI never reads a crash as a rollback (1).
 * Loaded at every start of the CLI: no Temporal or Kubernetes module may be imported here.
 */
export const ExitCode = {
  /** Promoted (start --wait), the command did what it was asked, or the cluster check found no problem. */
  Ok: 0,
  /** Rolled back, aborted, failed, cancelled, or still running when --timeout passed. */
  Failed: 1,
  /**
   * Invalid input or refused: a bad spec, flag or name, a command refused in the rollout's current
   * phase, a rollout refused by its preflight, problems found by validate --cluster, or a Temporal
   * setup the CLI cannot work with (no such namespace, Ramp's search attributes not registered).
   */
  Invalid: 2,
  /**
   * Not reached: Temporal or the Kubernetes cluster could not be reached, a worker polled but did
   * not answer, or no worker polls the rollout's task queue (a command was queued in the rollout's
   * history as a signal, or `status` shows the phase as of its last change).
   */
  Unreachable: 3,
  /** Anything the CLI does not classify: a bug, or an error it has no words for yet (--debug shows the stack). */
  Unexpected: 4,
  /** Ctrl-C stopped `--wait` / `--watch` (128 + SIGINT, as shells report it); the rollout goes on. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by commands for an expected failure: one clear line and an exit code, no stack trace. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Every problem found (a spec's, a preflight's), for `-o json`'s `problems`. */
    readonly problems?: readonly string[],
    /** The error it classifies, whose stack `--debug` prints. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** The Temporal connection an error happened on, for messages that name it. */
export interface TemporalWhere {
  address: string;
  namespace: string;
}

/** Ramp's search attributes, as the registration commands name them (src/shared/search-attributes.ts). */
const SEARCH_ATTRIBUTES = ['RampTarget', 'RampRollout', 'RampNamespace', 'RampPhase', 'RampImage', 'RampOutcome'];

/** The server's words for a search attribute it does not know (SQL and Elasticsearch visibility, start and list). */
const UNKNOWN_SEARCH_ATTRIBUTE = /no mapping defined for search attribute (\w+)|invalid search attribute:? (\w+)|search attribute (\w+) is not defined/i;

/** gRPC status codes the classifier reads (a ServiceError's cause carries one). */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

function detailsOf(err: unknown): string {
  const cause = (err as { cause?: { details?: unknown } } | undefined)?.cause;
  return [typeof cause?.details === 'string' ? cause.details : '', err instanceof Error ? err.message : String(err)].join(' ');
}

/**
 * What an error means for the person at the terminal: a CliError as it is; a Temporal error that
 * is a setup mistake (no such namespace, unregistered search attributes) as exit 2 with the fix;
 * Temporal going away mid-command as exit 3; anything else as exit 4 (unexpected).
 */
export function classifyError(err: unknown, where?: TemporalWhere): CliError {
  if (err instanceof CliError) return err;
  const name = (err as { name?: unknown } | undefined)?.name;
  const text = detailsOf(err);
  if (name === 'NamespaceNotFoundError' || /Namespace not found|Namespace \S+ is not found/i.test(text)) {
    const ns = where?.namespace ?? /'([^']+)'/.exec(text)?.[1] ?? '(unknown)';
    return new CliError(
      `Temporal namespace ${ns} does not exist${where ? ` at ${where.address}` : ''}: set --temporal-namespace or TEMPORAL_NAMESPACE to the namespace Ramp's worker uses (temporal operator namespace list shows them)`,
      ExitCode.Invalid, undefined, err,
    );
  }
  const sa = UNKNOWN_SEARCH_ATTRIBUTE.exec(text);
  if (sa) {
    const missing = sa[1] ?? sa[2] ?? sa[3]!;
    const ns = where?.namespace ?? 'default';
    return new CliError(
      `Ramp's search attributes are not registered in Temporal namespace ${ns} (${missing} is missing): register them once with `
      + `\`for sa in ${SEARCH_ATTRIBUTES.join(' ')}; do temporal operator search-attribute create --namespace ${ns} --name $sa --type Keyword; done\``
      + ' (Temporal Cloud: tcld; the Helm chart\'s Job does it on install) — see docs/install.md',
      ExitCode.Invalid, undefined, err,
    );
  }
  const code = (err as { cause?: { code?: unknown }; code?: unknown } | undefined)?.cause?.code ?? (err as { code?: unknown } | undefined)?.code;
  if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) {
    return new CliError(`Temporal${where ? ` at ${where.address}` : ''} stopped answering: ${text.trim().split('\n')[0]} — check that it is up, then run the command again`, ExitCode.Unreachable, undefined, err);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(`unexpected error: ${message.split('\n')[0]} (--debug shows the stack trace; please report it if it persists)`, ExitCode.Unexpected, undefined, err);
}
