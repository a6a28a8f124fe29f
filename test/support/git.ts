/**
 * Repositories on the stack's git server for tests, and the real git CLI acting as a person would
 * (clone, commit, push over HTTP with basic auth). Credentials go to git through its environment,
 * never its argv or a URL, so they do not show in `ps`, test output or the server's logs.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBareRepo } from '../../scripts/stack/git-server';
import { GitError } from '../../src/infra/git-errors';
import { stackInfo, uniqueName } from './stack';

/** A repository on the stack's git server, named the way a client is configured. */
export interface TestRepo {
  name: string;
  /** `http://host:port/<name>.git`, no credentials. */
  url: string;
  branch: string;
  username: string;
  /** The password alone. */
  passwordFile: string;
  /** One line `username:password`. */
  credentialsFile: string;
  /** The bare repository on disk, for assertions that bypass the server. */
  bareDir: string;
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Who a CLI call authenticates as: the stack's user (password from its file) or an explicit pair. */
export type GitAuth = { username: string; passwordFile: string } | { username: string; password: string };

const COMMITTER = { GIT_AUTHOR_NAME: 'Test Person', GIT_AUTHOR_EMAIL: 'person@example.test', GIT_COMMITTER_NAME: 'Test Person', GIT_COMMITTER_EMAIL: 'person@example.test' };

/** A git server repositories are made on: the stack's (stack.json), or one a test starts itself. */
export interface GitServerRef {
  /** `http://host:port`, no credentials. */
  url: string;
  username: string;
  passwordFile: string;
  credentialsFile: string;
  /** The folder the server serves bare repositories from. */
  reposDir: string;
  /** The same repositories over SSH (the stack's server only). */
  ssh?: { url: string; user: string; port: number; keyFile: string; knownHostsFile: string };
}

function gitServerInfo(): GitServerRef {
  const info = stackInfo();
  if (!info.git) throw new Error(`${info.stateDir}/stack.json names no git server: bring the stack up with this checkout (npm run stack -- up)`);
  return info.git;
}

/** Environment that makes git send basic auth on every request (git's http.extraHeader, set through GIT_CONFIG_*). */
export function authEnv(auth: GitAuth): Record<string, string> {
  const password = 'password' in auth ? auth.password : fs.readFileSync(auth.passwordFile, 'utf8').trim();
  return {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`,
  };
}

/** Runs the git CLI; resolves with its exit code and output (a failed git call is a result, not a throw). */
export function git(args: string[], opts: { cwd?: string; auth?: GitAuth; env?: Record<string, string> } = {}): Promise<GitResult> {
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      ...COMMITTER,
      // A refused password must fail the command, not wait for a prompt.
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '',
      ...(opts.auth ? authEnv(opts.auth) : {}),
      ...opts.env,
    };
    execFile('git', args, { cwd: opts.cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like git(), but throws with git's output when it exits non-zero. */
export async function gitOk(args: string[], opts: Parameters<typeof git>[1] = {}): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Writes files (relative paths; null deletes) into a work tree. */
export function writeFiles(dir: string, files: Record<string, string | Buffer | null>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    if (content === null) {
      fs.rmSync(file, { force: true });
      continue;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

const made: string[] = [];

/** A fresh temporary folder, removed by removeTempDirs(). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ramp-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every folder tempDir() made in this test file; for afterAll. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * A new bare repository on a git server (default: the stack's) whose branch holds one commit of
 * `files`. The commit is made with the git CLI on the server's disk (no HTTP), so a broken server
 * cannot make the fixture fail.
 */
export async function createRepo(prefix: string, files: Record<string, string | Buffer>, branch = 'main', server?: GitServerRef): Promise<TestRepo> {
  const g = server ?? gitServerInfo();
  const name = uniqueName(prefix);
  const bareDir = ensureBareRepo(g.reposDir, name, branch);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-seed-'));
  try {
    await gitOk(['init', '--quiet', `--initial-branch=${branch}`, work]);
    writeFiles(work, files);
    await gitOk(['add', '--all'], { cwd: work });
    await gitOk(['commit', '--quiet', '-m', 'Initial commit'], { cwd: work });
    await gitOk(['push', '--quiet', bareDir, `HEAD:refs/heads/${branch}`], { cwd: work });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { name, url: `${g.url}/${name}.git`, branch, username: g.username, passwordFile: g.passwordFile, credentialsFile: g.credentialsFile, bareDir };
}

/** The stack's git server over SSH (stack.json's git.ssh), or an error saying to bring the stack up with this checkout. */
export function sshServerInfo(): NonNullable<GitServerRef['ssh']> {
  const ssh = gitServerInfo().ssh;
  if (!ssh) throw new Error(`${stackInfo().stateDir}/stack.json names no SSH git server: bring the stack up with this checkout (npm run stack -- up)`);
  return ssh;
}

/** The repository's URL on the stack's SSH server: the same bare repository the HTTP URL serves. */
export function sshUrlOf(repo: TestRepo): string {
  return `${sshServerInfo().url}/${repo.name}.git`;
}

/** A person's clone of the repository over HTTP, for pushing changes beside Ramp's. */
export async function cloneAsPerson(repo: TestRepo): Promise<string> {
  const dir = tempDir('person');
  await gitOk(['clone', '--quiet', '--branch', repo.branch, repo.url, dir], { auth: repo });
  return dir;
}

/** Commits `files` in a clone and pushes the branch over HTTP; returns the new commit's sha. */
export async function commitAndPush(repo: TestRepo, dir: string, files: Record<string, string | Buffer | null>, message: string): Promise<string> {
  writeFiles(dir, files);
  await gitOk(['add', '--all'], { cwd: dir });
  await gitOk(['commit', '--quiet', '-m', message], { cwd: dir });
  await gitOk(['push', '--quiet', 'origin', `HEAD:refs/heads/${repo.branch}`], { cwd: dir, auth: repo });
  return (await gitOk(['rev-parse', 'HEAD'], { cwd: dir })).trim();
}

/** The sha a branch of the bare repository points at, read from disk. */
export async function branchHead(repo: TestRepo, branch = repo.branch): Promise<string> {
  return (await gitOk(['--git-dir', repo.bareDir, 'rev-parse', `refs/heads/${branch}`])).trim();
}

/** The GitError a call fails with; fails the test when the call succeeds or throws anything else. */
export async function caught(p: Promise<unknown>): Promise<GitError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GitError) return err;
    throw err;
  }
  throw new Error('expected a GitError, the call succeeded');
}
