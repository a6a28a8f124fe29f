/**
 * Ramp's git client: one branch of one repository, checked out in a work folder Ramp owns, driven
 * through the git CLI (docs/decisions/0028-git-client.md). Credentials are read from their files
 * at each call and reach git through its environment only, scoped to the repository's URL: never
 * in argv (visible in `ps`), a URL, an error message or a log.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Failure } from '../shared/failures';
import { GitConflictError, GitError, gitError, GitOp, scrub, UpstreamCommit } from './git-errors';

export interface GitCredentials {
  /** A file holding `user:password` (one line), sent as HTTP basic auth. */
  basicAuthFile?: string;
  /** A file holding an access token, sent as HTTP basic auth with `tokenUsername`. */
  tokenFile?: string;
  /** The user a token is sent as; GitHub, GitLab and Azure DevOps accept `x-access-token` (the default). */
  tokenUsername?: string;
  /** An SSH private key file (mode 0600 or 0400 when the worker owns it, as ssh requires), for `ssh://` and `git@host:` URLs. */
  sshKeyFile?: string;
  /**
   * The known_hosts file the SSH server's host key is checked against, and the only one: required
   * with sshKeyFile. ssh refuses a server whose key is not in it (StrictHostKeyChecking=yes) and
   * never writes it, nor ~/.ssh.
   */
  knownHostsFile?: string;
}

export interface GitSettings {
  /** The repository's URL, without credentials. */
  url: string;
  /** The branch Ramp commits to. */
  branch: string;
  /** A folder only this client uses: it is cloned into, reset and cleaned at will. */
  workDir: string;
  credentials: GitCredentials;
  /** Who Ramp's commits are by. */
  author: { name: string; email: string };
  /** How long one git command may take before it is killed (and reported GitUnreachable); default 120 s. */
  timeoutMs?: number;
  /** How many times push() fetches, rebases and pushes again when the branch moved; default 5. */
  maxPushAttempts?: number;
}

/** A commit as commitsTouching() reports it. */
export interface CommitInfo extends UpstreamCommit {
  /** The commit's `Key: value` trailers (the last value when a key repeats). */
  trailers: Record<string, string>;
}

export interface CommitRequest {
  /** Relative paths to their new contents; null deletes the file. */
  files: Record<string, string | null>;
  message: string;
  /** Written as git trailers (`Key: value` lines at the end of the message). */
  trailers?: Record<string, string>;
  /**
   * Author and commit date. Pass the same value on a retry (a workflow's time) and the same change
   * on the same parent gives the same sha, so a retried pushBranch() finds its own commit there.
   */
  date?: Date;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A branch name git accepts and argv cannot mistake for an option. */
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]+(?<![./])$/;
const TRAILER_KEY = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const FIELD = '\x1f';
const RECORD = '\x1e';
const LOG_FORMAT = ['%H', '%an', '%ae', '%s', '%(trailers:only,unfold)'].join('%x1f') + '%x1e';

export class GitRepo {
  private readonly timeoutMs: number;
  private readonly maxPushAttempts: number;
  /** One command sequence at a time: sync, commit and push share the work tree and the index. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly s: GitSettings) {
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(s.url)) {
      throw new GitError(Failure.GitAuthFailed, `git URL ${scrub(s.url, [])} carries credentials: remove them from the URL and give Ramp a credentials file`);
    }
    assertBranch(s.branch);
    const kinds = (['basicAuthFile', 'tokenFile', 'sshKeyFile'] as const).filter((k) => s.credentials[k] !== undefined);
    if (kinds.length > 1) throw new GitError(Failure.GitAuthFailed, `git credentials for ${s.url}: give one of basicAuthFile, tokenFile, sshKeyFile, not ${kinds.join(' and ')}`);
    const sshIssue = sshCredentialsIssue(s.credentials);
    if (sshIssue) throw new GitError(Failure.GitAuthFailed, `git credentials for ${s.url}: ${sshIssue}`);
    this.timeoutMs = s.timeoutMs ?? 120_000;
    this.maxPushAttempts = s.maxPushAttempts ?? 5;
  }

  /** Clones the branch if the work folder holds no clone of it, else fetches; resets the work tree to the remote branch. Returns its head. */
  sync(): Promise<string> {
    return this.serial(async () => {
      const dir = this.s.workDir;
      if (!(await this.isOurClone())) {
        if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0 && !fs.existsSync(path.join(dir, '.git'))) {
          throw new GitError(Failure.GitFailed, `git work folder ${dir} holds files but no clone: give Ramp an empty or absent folder of its own`);
        }
        // A clone of another URL, or one a kill left half-made: this folder is Ramp's, start again.
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(path.dirname(dir), { recursive: true });
        await this.remote('clone', ['clone', '--quiet', '--origin', 'origin', '--branch', this.s.branch, '--', this.s.url, dir], os.tmpdir());
      } else {
        // A rebase a crash interrupted would keep the work tree in its middle.
        await this.git('reset', ['rebase', '--abort'], [0, 1, 128]);
        await this.fetch(this.s.branch);
      }
      await this.git('reset', ['checkout', '--quiet', '--force', '-B', this.s.branch, `refs/remotes/origin/${this.s.branch}`]);
      await this.git('reset', ['clean', '--quiet', '-ffdx']);
      return this.head();
    });
  }

  /** A file's content at `ref` (default: the work tree's HEAD), or undefined when the file is not there. */
  async readFile(file: string, ref = 'HEAD'): Promise<string | undefined> {
    assertPath(file);
    assertRev(ref);
    return this.serial(async () => {
      await this.git('read', ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]).catch(() => {
        throw new GitError(Failure.GitNotFound, `git read ${file} at ${ref} in ${this.where()}: no commit ${ref} — sync() first, or name an existing commit or branch`);
      });
      const exists = await this.git('read', ['cat-file', '-e', `${ref}:${file}`], [0, 128]);
      if (exists.code !== 0) return undefined;
      return (await this.git('read', ['cat-file', 'blob', `${ref}:${file}`])).stdout;
    });
  }

  /** Writes and commits the files; when nothing would change, makes no commit and returns the current head. */
  async writeAndCommit(req: CommitRequest): Promise<string> {
    const entries = Object.entries(req.files);
    for (const [file] of entries) assertPath(file);
    const trailers = Object.entries(req.trailers ?? {});
    for (const [k, v] of trailers) {
      if (!TRAILER_KEY.test(k) || /[\r\n]/.test(v)) throw new GitError(Failure.GitFailed, `git trailer ${JSON.stringify(k)}: keys are letters, digits and dashes, values one line`);
    }
    return this.serial(async () => {
      const written = entries.filter(([, c]) => c !== null).map(([f]) => f);
      const deleted = entries.filter(([, c]) => c === null).map(([f]) => f);
      for (const [file, content] of entries) {
        const abs = path.join(this.s.workDir, file);
        if (content === null) fs.rmSync(abs, { force: true });
        else {
          fs.mkdirSync(path.dirname(abs), { recursive: true });
          fs.writeFileSync(abs, content);
        }
      }
      if (written.length > 0) await this.git('commit', ['add', '--', ...written]);
      if (deleted.length > 0) await this.git('commit', ['rm', '--cached', '--quiet', '--ignore-unmatch', '--', ...deleted]);
      const diff = await this.git('commit', ['diff', '--cached', '--quiet'], [0, 1]);
      if (diff.code === 0) return this.head();
      const args = ['commit', '--quiet', '--no-verify', '-m', req.message, ...trailers.flatMap(([k, v]) => ['--trailer', `${k}: ${v}`])];
      const date = req.date?.toISOString();
      await this.git('commit', args, [0], date ? { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : {});
      return this.head();
    });
  }

  /**
   * Pushes HEAD to the branch, never forcing. When the branch moved, fetches, rebases Ramp's
   * commits onto it and tries again (maxPushAttempts in all). Returns the sha pushed.
   * Throws GitConflictError when the rebase conflicts; the rebase is aborted and nothing is pushed.
   */
  push(): Promise<string> {
    return this.serial(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.remote('push', ['push', '--quiet', 'origin', `HEAD:refs/heads/${this.s.branch}`]);
          return await this.head();
        } catch (err) {
          if (!(err instanceof GitError) || err.type !== Failure.Conflict) throw err;
          if (attempt >= this.maxPushAttempts) {
            throw new GitError(Failure.Conflict, `git push ${this.where()}: the branch moved during each of ${attempt} attempts (fetch, rebase, push); the retry starts again`);
          }
        }
        await this.fetch(this.s.branch);
        await this.rebase();
      }
    });
  }

  /**
   * Commits after `sinceSha` up to `ref` (default HEAD) that change `file`, newest first.
   * `firstParent`: only the branch's own commits, a merge counted as the commit that brought its changes in.
   */
  async commitsTouching(file: string, sinceSha?: string, ref = 'HEAD', opts: { firstParent?: boolean; max?: number } = {}): Promise<CommitInfo[]> {
    assertPath(file);
    assertRev(ref);
    if (sinceSha !== undefined) assertRev(sinceSha);
    return this.serial(async () => {
      const range = sinceSha ? `${sinceSha}..${ref}` : ref;
      const extra = [...(opts.firstParent ? ['--first-parent'] : []), ...(opts.max !== undefined ? [`--max-count=${opts.max}`] : [])];
      const out = await this.git('log', ['log', `--format=${LOG_FORMAT}`, ...extra, '--end-of-options', range, '--', file]);
      return parseLog(out.stdout).map((c) => ({ ...c, trailers: parseTrailers(c.trailers) }));
    });
  }

  /** After fetching it: is `sha` on the remote `branch` (an ancestor of its head, or the head)? */
  async branchContains(branch: string, sha: string): Promise<boolean> {
    assertBranch(branch);
    assertRev(sha);
    return this.serial(async () => {
      await this.fetch(branch);
      const r = await this.git('check', ['merge-base', '--is-ancestor', sha, `refs/remotes/origin/${branch}`], [0, 1]);
      return r.code === 0;
    });
  }

  /** Whether commit `a` is `b` or in its history (both must have been fetched: sync() first). */
  async isAncestor(a: string, b: string): Promise<boolean> {
    assertRev(a);
    assertRev(b);
    return this.serial(async () => (await this.git('check', ['merge-base', '--is-ancestor', a, b], [0, 1, 128])).code === 0);
  }

  /** Pushes HEAD to another branch (a proposal to merge), never forcing; pushing the commit already there is a no-op. */
  async pushBranch(name: string): Promise<string> {
    assertBranch(name);
    return this.serial(async () => {
      try {
        await this.remote('push', ['push', '--quiet', 'origin', `HEAD:refs/heads/${name}`]);
      } catch (err) {
        if (err instanceof GitError && err.type === Failure.Conflict) {
          throw new GitError(Failure.GitRejected, `git push ${this.s.url} branch ${name}: the branch holds commits Ramp's does not build on; delete the branch or let Ramp use another name`);
        }
        throw err;
      }
      return this.head();
    });
  }

  /** The head of the server's branch `name`, or undefined when the server has no such branch. */
  async remoteBranchHead(name: string): Promise<string | undefined> {
    assertBranch(name);
    return this.serial(async () => {
      const out = await this.remote('fetch', ['ls-remote', '--heads', 'origin', `refs/heads/${name}`]);
      const line = out.stdout.split('\n').find((l) => l.endsWith(`\trefs/heads/${name}`));
      return line?.split('\t')[0];
    });
  }

  /** Deletes the server's branch `name` (never the branch this client commits to); absent counts as done. */
  async deleteBranch(name: string): Promise<'deleted' | 'absent'> {
    assertBranch(name);
    if (name === this.s.branch) throw new GitError(Failure.GitFailed, `git delete branch ${name} of ${this.s.url}: that is the branch Ramp commits to; refusing to delete it`);
    if (await this.remoteBranchHead(name) === undefined) return 'absent';
    return this.serial(async () => {
      await this.remote('push', ['push', '--quiet', 'origin', '--delete', `refs/heads/${name}`]);
      return 'deleted' as const;
    });
  }

  /** The work tree's HEAD commit. */
  async head(): Promise<string> {
    return (await this.git('read', ['rev-parse', 'HEAD'])).stdout.trim();
  }

  private where(): string {
    return `${this.s.url} (branch ${this.s.branch})`;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async isOurClone(): Promise<boolean> {
    if (!fs.existsSync(path.join(this.s.workDir, '.git'))) return false;
    const r = await this.git('check', ['config', '--get', 'remote.origin.url'], [0, 1, 128]);
    return r.code === 0 && r.stdout.trim() === this.s.url;
  }

  private async fetch(branch: string): Promise<void> {
    await this.remote('fetch', ['fetch', '--quiet', '--no-tags', 'origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`]);
  }

  /** Rebases HEAD onto the fetched branch; on a conflict aborts and throws GitConflictError. */
  private async rebase(): Promise<void> {
    const upstream = `refs/remotes/origin/${this.s.branch}`;
    const base = (await this.git('rebase', ['merge-base', 'HEAD', upstream])).stdout.trim();
    const r = await this.git('rebase', ['rebase', '--quiet', upstream], [0, 1, 128]);
    if (r.code === 0) return;
    const paths = (await this.git('rebase', ['diff', '--name-only', '--diff-filter=U'], [0, 1, 128])).stdout.split('\n').filter(Boolean);
    await this.git('rebase', ['rebase', '--abort'], [0, 1, 128]);
    if (paths.length === 0) throw gitError({ op: 'rebase', exit: r.code, stderr: r.stderr }, this.where());
    const commits = parseLog((await this.git('log', ['log', `--format=${LOG_FORMAT}`, `${base}..${upstream}`, '--', ...paths])).stdout);
    const by = commits.map((c) => `${c.sha.slice(0, 12)} by ${c.authorName} <${c.authorEmail}>: ${c.subject}`).join('; ');
    throw new GitConflictError(
      `git push ${this.where()}: Ramp's change conflicts with commits pushed meanwhile to ${paths.join(', ')} (${by || 'commits not found'}); nothing was pushed — `
        + 'resolve by reverting or adjusting those commits, or let the rollout read the files again',
      paths,
      commits.map(({ sha, authorName, authorEmail, subject }) => ({ sha, authorName, authorEmail, subject })),
    );
  }

  /** A command that talks to the server: gets the credentials (in the environment) and a longer leash. */
  private async remote(op: GitOp, args: string[], cwd = this.s.workDir): Promise<RunResult> {
    const { env, secrets } = this.credentialEnv();
    return this.exec(op, args, cwd, [0], env, secrets);
  }

  private git(op: GitOp, args: string[], okCodes = [0], env: Record<string, string> = {}): Promise<RunResult> {
    return this.exec(op, args, this.s.workDir, okCodes, env, []);
  }

  private exec(op: GitOp, args: string[], cwd: string, okCodes: number[], extraEnv: Record<string, string>, secrets: string[]): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? os.tmpdir(),
      // English messages for the classifier; no prompts; no user or system config (a signing or hook setting there would change what Ramp commits).
      LC_ALL: 'C',
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: this.s.author.name,
      GIT_AUTHOR_EMAIL: this.s.author.email,
      GIT_COMMITTER_NAME: this.s.author.name,
      GIT_COMMITTER_EMAIL: this.s.author.email,
      ...extraEnv,
    };
    return new Promise((resolve, reject) => {
      execFile('git', args, { cwd, env, timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
        if (e?.code === 'ENOENT') {
          reject(new GitError(Failure.GitFailed, 'git is not installed or not on PATH: install git (Debian: apt-get install git) in the worker image'));
          return;
        }
        const code = e ? (typeof e.code === 'number' ? e.code : -1) : 0;
        if (okCodes.includes(code) && !e?.killed) {
          resolve({ code, stdout, stderr });
          return;
        }
        const clean = scrub(stderr, secrets);
        reject(gitError({ op, exit: e?.killed ? 'timeout' : code, stderr: clean }, this.where()));
      });
    });
  }

  /** Environment that authenticates git to this repository, and the secrets to scrub from its output. */
  private credentialEnv(): { env: Record<string, string>; secrets: string[] } {
    const c = this.s.credentials;
    const config: [string, string][] = [
      // A stalled transfer fails instead of hanging until the command timeout.
      ['http.lowSpeedLimit', '1000'],
      ['http.lowSpeedTime', '30'],
    ];
    const env: Record<string, string> = {};
    const secrets: string[] = [];
    let basic: { user: string; password: string } | undefined;
    if (c.basicAuthFile) {
      const line = readSecret(c.basicAuthFile, this.s.url);
      const colon = line.indexOf(':');
      if (colon <= 0) throw new GitError(Failure.GitAuthFailed, `git credentials file ${c.basicAuthFile} for ${this.s.url} does not hold "user:password"; fix the file (or the Secret it comes from)`);
      basic = { user: line.slice(0, colon), password: line.slice(colon + 1) };
    } else if (c.tokenFile) {
      basic = { user: c.tokenUsername ?? 'x-access-token', password: readSecret(c.tokenFile, this.s.url) };
    }
    if (basic) {
      const pair = `${basic.user}:${basic.password}`;
      secrets.push(basic.password, pair);
      // Scoped to this repository's URL: a redirect elsewhere does not get the header.
      config.push([`http.${this.s.url}.extraHeader`, `Authorization: Basic ${Buffer.from(pair).toString('base64')}`]);
    }
    if (c.sshKeyFile && c.knownHostsFile) {
      if (!fs.existsSync(c.sshKeyFile)) throw new GitError(Failure.GitAuthFailed, `git SSH key file ${c.sshKeyFile} for ${this.s.url} is missing; mount the key there`);
      if (!fs.existsSync(c.knownHostsFile)) {
        throw new GitError(Failure.GitAuthFailed, `git known_hosts file ${c.knownHostsFile} for ${this.s.url} is missing; mount it there (it holds the SSH server's host key: \`ssh-keyscan -p PORT HOST\` prints the line)`);
      }
      // Only the given known_hosts decides (not ~/.ssh, not /etc/ssh), and a host not in it is refused:
      // a read-only worker could not write ssh's own file, and trusting the first key seen is not a check.
      const opts = [
        '-i', c.sshKeyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30',
        '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${c.knownHostsFile}`, '-o', 'GlobalKnownHostsFile=/dev/null',
      ];
      env.GIT_SSH_COMMAND = ['ssh', ...opts].map(shellQuote).join(' ');
    }
    env.GIT_CONFIG_COUNT = String(config.length);
    config.forEach(([k, v], i) => {
      env[`GIT_CONFIG_KEY_${i}`] = k;
      env[`GIT_CONFIG_VALUE_${i}`] = v;
    });
    return { env, secrets };
  }
}

/** What is wrong with the SSH half of credentials (the spec refuses the same), or undefined. */
export function sshCredentialsIssue(c: GitCredentials): string | undefined {
  if (c.sshKeyFile !== undefined && c.knownHostsFile === undefined) {
    return 'sshKeyFile needs knownHostsFile too: a known_hosts file on the worker holding the SSH server\'s host key '
      + '(`ssh-keyscan -p PORT HOST` prints the line; compare its fingerprint with the one the server\'s owner publishes)';
  }
  if (c.knownHostsFile !== undefined && c.sshKeyFile === undefined) return 'knownHostsFile is for SSH: give sshKeyFile with it, or remove it';
  return undefined;
}

function readSecret(file: string, url: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new GitError(Failure.GitAuthFailed, `git credentials file ${file} for ${url} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); mount the Secret there`);
  }
}

/** GIT_SSH_COMMAND is run by a shell: every word is quoted. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function assertBranch(name: string): void {
  if (!BRANCH.test(name) || name.endsWith('.lock')) throw new GitError(Failure.GitFailed, `git branch name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '_', '-' and '/'`);
}

/** A commit name argv cannot mistake for an option. */
function assertRev(rev: string): void {
  if (!/^[^-\s][^\s]*$/.test(rev)) throw new GitError(Failure.GitFailed, `git revision ${JSON.stringify(rev)} is not valid: name a commit sha or a branch`);
}

/** Paths inside the work tree only: relative, normalized, not into .git. */
function assertPath(file: string): void {
  const norm = path.posix.normalize(file);
  if (file === '' || norm !== file || file.startsWith('/') || norm.startsWith('..') || norm.split('/')[0] === '.git') {
    throw new GitError(Failure.GitFailed, `git path ${JSON.stringify(file)} must be relative to the repository root, normalized, and outside .git`);
  }
}

function parseLog(out: string): (UpstreamCommit & { trailers: string })[] {
  return out.split(RECORD).map((r) => r.replace(/^\n/, '')).filter((r) => r.trim() !== '').map((r) => {
    const [sha = '', authorName = '', authorEmail = '', subject = '', trailers = ''] = r.split(FIELD);
    return { sha, authorName, authorEmail, subject, trailers };
  });
}

function parseTrailers(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return out;
}
