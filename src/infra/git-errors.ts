/**
 * The one git error policy: a failed git command becomes a GitError with a stable `type` from
 * src/shared/failures.ts, classified from its exit and stderr once, here (docs/decisions/0028).
 * Git's messages are stable enough to match because the client runs git with LC_ALL=C.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Failure } from '../shared/failures';

/** What the client was doing, for messages. */
export type GitOp = 'clone' | 'fetch' | 'push' | 'read' | 'commit' | 'rebase' | 'log' | 'reset' | 'check';

/** A failed git command as the policy sees it. */
export interface GitErrorFacts {
  op: GitOp;
  /** git's exit code, or 'timeout' when the client killed it. */
  exit: number | 'timeout';
  /** git's stderr, already scrubbed of credentials. */
  stderr: string;
}

export interface GitErrorClass {
  type: Failure;
  /** What a person should do, appended to the message. */
  fix?: string;
}

/**
 * The SSH server an ssh message names (`[host]:port` or `host`), as `ssh-keyscan` takes it, for
 * the fix's command line.
 */
function keyscan(stderr: string): string {
  const m = /(?:host key is known for|Host key for) (?:\[([^\]\s]+)\]:(\d+)|([^\s\]]+))/.exec(stderr);
  if (!m) return 'ssh-keyscan -p PORT HOST';
  return m[1] !== undefined ? `ssh-keyscan -p ${m[2]} ${m[1]}` : `ssh-keyscan ${m[3]}`;
}

const KNOWN_HOSTS = 'the known_hosts file Ramp is given (spec.gitops.repository.credentials.knownHostsFile)';

/**
 * Ordered: the first matching row wins. ssh's own complaint comes before git's closing "Could not
 * read from remote repository", and a key ssh would not load ends in "Permission denied
 * (publickey)" too, so the specific ssh rows come first.
 */
const RULES: { type: Failure; pattern: RegExp; fix?: string | ((stderr: string) => string) }[] = [
  // Before the rows below: git closes a missing ssh with "Could not read from remote repository" too.
  {
    type: Failure.GitFailed,
    pattern: /cannot run ssh|\bssh: (\d+: )?(command )?not found|ssh: No such file or directory/,
    fix: 'ssh is not installed where the worker runs, and ssh:// and user@host: URLs need it: install openssh-client (Ramp\'s worker image carries it)',
  },
  {
    type: Failure.GitAuthFailed,
    pattern: /UNPROTECTED PRIVATE KEY FILE|Load key "[^"]*": bad permissions/,
    fix: 'ssh will not use a private key file that group or others may read when the worker runs as its owner: '
      + 'make the key file (credentials.sshKeyFile) mode 0600 or 0400 (chmod 600; on Kubernetes, defaultMode: 0400 on the Secret volume)',
  },
  {
    type: Failure.GitAuthFailed,
    pattern: /Identity file \S+ not accessible|Load key "[^"]*": (Permission denied|No such file)/,
    fix: "ssh cannot read the key file (credentials.sshKeyFile): mount the key there, readable by the worker's user",
  },
  {
    type: Failure.GitAuthFailed,
    pattern: /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for \S+ has changed/,
    fix: (stderr) => `the SSH server answered with a host key other than the one ${KNOWN_HOSTS} holds for it, and Ramp did not log in: `
      + `if the server's key was replaced, put its new key in the file (\`${keyscan(stderr)}\` prints it; compare its fingerprint with the one the server's owner publishes); `
      + 'if not, something else is answering for the server',
  },
  {
    type: Failure.GitAuthFailed,
    pattern: /host key is known for|Host key verification failed/,
    fix: (stderr) => `${KNOWN_HOSTS} has no key for this SSH server: add the server's key to it `
      + `(\`${keyscan(stderr)}\` prints the line; compare its fingerprint with the one the server's owner publishes)`,
  },
  {
    type: Failure.GitAuthFailed,
    pattern: /Permission denied \(publickey/,
    fix: "the SSH server refused the key (credentials.sshKeyFile): it is not authorized for this repository or for the URL's user — "
      + 'add its public half to the repository (a deploy key with write access) or to the account Ramp pushes as',
  },
  {
    type: Failure.GitAuthFailed,
    pattern: /Authentication failed|could not read (Username|Password)|returned error: 40[13]\b|Permission denied \(|HTTP Basic: Access denied|Invalid username or password/i,
    fix: 'check the credentials Ramp is given for this repository (the basic-auth, token or SSH key file) and that they may read and push it',
  },
  {
    type: Failure.GitRejected,
    pattern: /\[remote rejected\]|pre-receive hook declined|protected branch|GH006|denying non-fast-forward/i,
    fix: "the server refuses Ramp's push (a branch protection or hook): allow Ramp's identity to push, or use approval by merge",
  },
  // A push that lost a race: the branch moved since Ramp fetched it; a fetch and rebase resolve it.
  { type: Failure.Conflict, pattern: /\[rejected\].*\((fetch first|non-fast-forward)\)|Updates were rejected because/i },
  {
    type: Failure.GitNotFound,
    pattern: /repository '[^']*' not found|Repository not found|returned error: 404|does not appear to be a git repository|Remote branch \S+ not found|couldn't find remote ref|unknown revision|bad revision|Not a valid (object name|commit name)|invalid object name/i,
    fix: 'check the repository URL and branch in the rollout spec, and that they exist on the server',
  },
  {
    type: Failure.GitUnreachable,
    pattern: /Could not resolve host|Failed to connect|Connection refused|Connection (timed out|reset)|Operation timed out|timed out after|returned error: (5\d\d|408|429)|RPC failed|early EOF|remote end hung up|Could not read from remote repository|Empty reply from server|\bSSL\b|gnutls|certificate verif|Network is unreachable|No route to host|Recv failure|transfer closed/i,
  },
];

/** The policy as a table; GitFailed when no row matches (git's own problem, retried with the message). */
export function classifyGitError({ exit, stderr }: GitErrorFacts): GitErrorClass {
  if (exit === 'timeout') return { type: Failure.GitUnreachable };
  const row = RULES.find((r) => r.pattern.test(stderr));
  if (row?.fix) return { type: row.type, fix: typeof row.fix === 'string' ? row.fix : row.fix(stderr) };
  if (row) return { type: row.type };
  return { type: Failure.GitFailed };
}

/** Every type a GitError carries. */
export const GIT_FAILURES: readonly Failure[] = [
  Failure.GitAuthFailed, Failure.GitUnreachable, Failure.GitNotFound, Failure.GitRejected, Failure.GitConflict, Failure.GitFailed, Failure.Conflict,
];

/** Thrown when a git command fails; `type` is the policy's answer. */
export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(readonly type: Failure, message: string, readonly details?: unknown) {
    super(message);
  }
}

/** A commit on the remote branch, as a conflict reports it. */
export interface UpstreamCommit {
  sha: string;
  authorName: string;
  authorEmail: string;
  subject: string;
}

/** Thrown when Ramp's commit and someone else's change the same lines: the rebase was aborted, nothing was pushed. */
export class GitConflictError extends GitError {
  constructor(message: string, readonly paths: string[], readonly upstream: UpstreamCommit[]) {
    super(Failure.GitConflict, message, { paths, upstream });
  }
}

/**
 * Replaces each secret, and its base64 forms (an Authorization header echoed by git's tracing),
 * with `***`, and strips `user:password@` from URLs.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
  const forms = secrets.filter((s) => s.length >= 4).flatMap((s) => [s, Buffer.from(s).toString('base64')]);
  // Longest first, so a secret that contains another is replaced whole.
  for (const f of forms.sort((a, b) => b.length - a.length)) out = out.split(f).join('***');
  return out;
}

/** The GitError for a failed command: what was done, where, git's answer, and the fix. */
export function gitError(facts: GitErrorFacts, where: string): GitError {
  const { type, fix } = classifyGitError(facts);
  const answer = facts.exit === 'timeout' ? 'git did not finish in time' : explain(lastLines(facts.stderr)) || `git exited ${facts.exit}`;
  const what = `git ${facts.op} ${where} failed: ${answer}`;
  return new GitError(type, fix ? `${what} — ${fix}` : what);
}

/**
 * Git reports a 401 to a request that carried credentials as its failure to prompt for new ones
 * (prompts are off); say what happened instead.
 */
function explain(answer: string): string {
  return answer.replace(/^fatal: could not read (Username|Password) for '([^']*)'.*$/m, "the server at $2 refused the credentials given (HTTP 401), or asked for credentials and none were given");
}

/**
 * git's last few stderr lines: the error is at the end, progress and hints before it. Left out
 * too: ssh's banner lines of `@`, and the advice git adds after every failed ssh connection
 * ("Please make sure you have the correct access rights and the repository exists"), which
 * would push ssh's own reason out of the lines kept.
 */
function lastLines(stderr: string, n = 6): string {
  return stderr
    .replace(/\n*Please make sure you have the correct access rights\nand the repository exists\.\s*$/, '')
    .trim()
    .split('\n')
    .filter((l) => !/^hint:/.test(l) && !/^@+$/.test(l.trim()) && l.trim() !== '')
    .slice(-n)
    .join('\n');
}

/** The ApplicationFailure an activity throws for a GitError (anything else passes through as GitFailed). */
export function gitFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof GitError) {
    return ApplicationFailure.create({ message: err.message, type: err.type, cause: err, details: err.details === undefined ? [] : [err.details] });
  }
  const cause = err instanceof Error ? err : new Error(String(err));
  return ApplicationFailure.create({ message: `git failed: ${cause.message}`, type: Failure.GitFailed, cause });
}
