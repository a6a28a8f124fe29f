/**
 * The stack's SSH git server's pieces that need no sshd: the forced command (run here with
 * /bin/echo standing in for git-shell, so what it would run is printed), the known_hosts line, and
 * the state folders whose paths cannot go into sshd's config unquoted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureSshServer, forcedCommandScript, knownHostsLine } from '../../../scripts/stack/git-ssh';

const REPOS = '/srv/ramp/git/repos';
let script: string;

beforeAll(() => {
  script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-forced-')), 'git-only.sh');
  fs.writeFileSync(script, forcedCommandScript(REPOS, '/bin/echo'), { mode: 0o700 });
});
afterAll(() => fs.rmSync(path.dirname(script), { recursive: true, force: true }));

function forced(original: string | undefined): { code: number; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  if (original !== undefined) env.SSH_ORIGINAL_COMMAND = original;
  const r = spawnSync('/bin/sh', [script], { env, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('the forced command', () => {
  it.each([
    ["git-upload-pack '/shop.git'", `-c git-upload-pack '${REPOS}/shop.git'`],
    ["git-receive-pack '/shop.git'", `-c git-receive-pack '${REPOS}/shop.git'`],
    ["git-upload-pack '/team/apps_v2.git'", `-c git-upload-pack '${REPOS}/team/apps_v2.git'`],
  ])('serves %s from the repos folder', (original, want) => {
    expect(forced(original)).toEqual({ code: 0, stdout: `${want}\n`, stderr: '' });
  });

  it.each([
    ['an interactive login', undefined, /'an interactive login' is refused/],
    ['another command', 'id', /fetch and push only; 'id' is refused/],
    ['upload-archive', "git-upload-archive '/shop.git'", /'git-upload-archive' is refused/],
    ['a relative path', "git-upload-pack 'shop.git'", /does not appear to be a git repository/],
    ['a dot-segment', "git-upload-pack '/../etc.git'", /does not appear to be a git repository/],
    ['a hidden name', "git-upload-pack '/.ssh'", /does not appear to be a git repository/],
    ['an empty segment', "git-upload-pack '//shop.git'", /does not appear to be a git repository/],
    ['a trailing slash', "git-upload-pack '/shop.git/'", /does not appear to be a git repository/],
    ['a quote breaking out', "git-upload-pack '/shop.git'; id; ''", /does not appear to be a git repository/],
    ['a command substitution', "git-upload-pack '/$(id).git'", /does not appear to be a git repository/],
    ['an unquoted path', 'git-upload-pack /shop.git', /does not appear to be a git repository/],
    ['a glob', "git-upload-pack '/*.git'", /does not appear to be a git repository/],
  ])('refuses %s, running nothing', (_what, original, msg) => {
    const r = forced(original);
    expect(r.code).toBe(128);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(msg);
  });

  it('is valid sh', () => {
    expect(() => execFileSync('/bin/sh', ['-n', script])).not.toThrow();
  });
});

describe('knownHostsLine', () => {
  it.each([
    [22, 'git.example.com ssh-ed25519 AAAAkey'],
    [19422, '[git.example.com]:19422 ssh-ed25519 AAAAkey'],
  ])('port %d as ssh-keyscan prints it', (port, want) => {
    expect(knownHostsLine('git.example.com', port, 'ssh-ed25519 AAAAkey comment\n')).toBe(want);
  });
});

describe('ensureSshServer', () => {
  it.each(['/tmp/with space/state', "/tmp/quote'd", '/tmp/per%cent'])('refuses a state folder %j before writing anything', (dir) => {
    expect(() => ensureSshServer({ dir, host: '127.0.0.1', port: 19422, reposDir: '/tmp/repos' })).toThrow(/holds characters the SSH server's config cannot carry unquoted/);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
