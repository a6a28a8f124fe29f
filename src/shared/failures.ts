/**
 * The failure types Ramp's activities raise, named once for activities and workflow alike (the
 * workflow matches on `type`, never on classes), and the two retry budgets built from them.
 * docs/decisions/0012-error-policy.md explains each choice.
 */

export const Failure = {
  /** An object Ramp needs does not exist (HTTP 404), or vanished between calls. */
  NotFound: 'NotFound',
  /** The worker's credentials were refused (HTTP 401). */
  Unauthorized: 'Unauthorized',
  /** The worker's identity may not do this (HTTP 403). */
  Forbidden: 'Forbidden',
  /** The apiserver rejected the request as malformed or the object as invalid (HTTP 400, 422 with field causes). */
  Invalid: 'Invalid',
  /** The object changed between read and write (HTTP 409, or a failed JSON-Patch `test`: 422 without causes). */
  Conflict: 'Conflict',
  /** The apiserver or the network could not answer now (5xx, 429, timeouts, refused connections). */
  Unavailable: 'Unavailable',
  /** The cluster is not shaped as the spec says: the preflight's problems, all at once. */
  PreflightRefused: 'PreflightRefused',
  /** A Deployment did not become Available within the progress deadline. */
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  /** An analysis' queries cannot be rendered or its provider is unknown. */
  InvalidAnalysis: 'InvalidAnalysis',
  /** A write was accepted but reading it back shows other values: something rewrites the object. */
  NotApplied: 'NotApplied',
  /** A traffic object no longer looks as the router left it (a route gone, the snapshot from another mode). */
  TrafficChanged: 'TrafficChanged',
  /** Ramp refuses to touch an object that is not its own (a canary replaced, a foreign Deployment of the canary's name). */
  NotOurs: 'NotOurs',
  /** The canary destination still receives traffic, so removing it would fail requests. */
  CanaryStillRouted: 'CanaryStillRouted',
  /** A Gateway API implementation reports the route written as not Accepted or its refs not resolved (the message names parent, reason and message). */
  RouteNotAccepted: 'RouteNotAccepted',
  /** A Gateway API implementation has not yet reported on the route at the generation Ramp wrote: retried until it does. */
  RoutePending: 'RoutePending',
  /** The git server refused Ramp's credentials (HTTP 401/403, an SSH key refused, an unknown host key). */
  GitAuthFailed: 'GitAuthFailed',
  /** The git server could not be reached or failed to answer (refused, DNS, timeouts, 5xx, a dropped transfer). */
  GitUnreachable: 'GitUnreachable',
  /** The repository, branch or commit does not exist on the git server. */
  GitNotFound: 'GitNotFound',
  /** The git server refused the push itself (branch protection, a hook). */
  GitRejected: 'GitRejected',
  /** Ramp's commit and someone else's change the same lines; the message names the paths and their commits. */
  GitConflict: 'GitConflict',
  /** git failed for a reason the policy does not name (its message says which); retried. */
  GitFailed: 'GitFailed',
} as const;

export type Failure = (typeof Failure)[keyof typeof Failure];

/**
 * Forward path: failures a retry cannot fix end the step at once (and roll back). Conflicts and
 * outages are retried with backoff, for up to the call's schedule-to-close budget.
 */
export const FORWARD_NON_RETRYABLE: readonly Failure[] = [
  Failure.NotFound, Failure.Unauthorized, Failure.Forbidden, Failure.Invalid, Failure.PreflightRefused,
  Failure.ProgressDeadlineExceeded, Failure.InvalidAnalysis, Failure.TrafficChanged, Failure.NotOurs, Failure.RouteNotAccepted,
  Failure.GitAuthFailed, Failure.GitNotFound, Failure.GitRejected, Failure.GitConflict,
];

/**
 * Rollback and cleanup: giving up leaves traffic or a canary behind, so credentials and permissions
 * are retried too (a person may fix them within the budget); only what can never succeed stops.
 * Absent objects are not failures here: every undo counts them as undone.
 */
export const UNDO_NON_RETRYABLE: readonly Failure[] = [
  Failure.NotFound, Failure.Invalid, Failure.TrafficChanged, Failure.NotOurs, Failure.CanaryStillRouted, Failure.ProgressDeadlineExceeded,
  Failure.GitNotFound, Failure.GitConflict,
];
