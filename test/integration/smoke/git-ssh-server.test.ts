/**
 * The stack's git server over SSH (OpenSSH's sshd, scripts/stack/git-ssh.ts) with the real git and
 * ssh CLIs: the probe answers, known_hosts holds the key the server offers, a clone and a push over
 * SSH land in the repository the HTTP server serves, and a session can do nothing but git's fetch
 * and push under the repos folder.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadStackConfig, statePaths } from '../../../scripts/stack/config';
import { gitSshCommand, sshBaseUrl, sshServerFiles, sshServerReady } from '../../../scripts/stack/git-ssh';
import { restartComponent, stackDown, stackStatus } from '../../../scripts/stack/stack';
import { branchHead, cloneAsPerson, createRepo, git, gitOk, removeTempDirs, sshServerInfo, sshUrlOf, tempDir } from '../../support/git';
import { freePort } from '../../support/stack';

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** ssh to the stack's server with its key and known_hosts, running `command` (or none), with extra options. */
function ssh(command: string[], extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const s = sshServerInfo();
  return run('ssh', [
    '-i', s.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${s.knownHostsFile}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-p', String(s.port), ...extra, `${s.user}@127.0.0.1`, ...command,
  ]);
}

const sshEnv = () => ({ GIT_SSH_COMMAND: gitSshCommand(sshServerInfo().keyFile, sshServerInfo().knownHostsFile) });

describe('git server over SSH', () => {
  afterAll(removeTempDirs);

  it('answers its readiness probe, and known_hosts holds the host key the server offers (ssh-keyscan)', async () => {
    const s = sshServerInfo();
    expect(await sshServerReady(s.url, { clientKey: s.keyFile, knownHosts: s.knownHostsFile })).toBe(true);
    const scan = await run('ssh-keyscan', ['-p', String(s.port), '127.0.0.1']);
    expect(scan.stdout.trim()).toBe(fs.readFileSync(s.knownHostsFile, 'utf8').trim());
    expect(fs.statSync(s.keyFile).mode & 0o777).toBe(0o600);
  });

  it('clones and pushes over SSH with the git CLI into the repository the HTTP server serves', async () => {
    const repo = await createRepo('ssh-smoke', { 'README.md': '# smoke\n' });
    const dir = path.join(tempDir('ssh-clone'), 'repo');
    await gitOk(['clone', '--quiet', sshUrlOf(repo), dir], { env: sshEnv() });
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('# smoke\n');
    fs.writeFileSync(path.join(dir, 'README.md'), '# smoke, over ssh\n');
    await gitOk(['commit', '--quiet', '-am', 'Change over SSH'], { cwd: dir });
    await gitOk(['push', '--quiet', 'origin', `HEAD:${repo.branch}`], { cwd: dir, env: sshEnv() });
    const sha = (await gitOk(['rev-parse', 'HEAD'], { cwd: dir })).trim();
    expect(await branchHead(repo)).toBe(sha);
    const overHttp = await cloneAsPerson(repo);
    expect(fs.readFileSync(path.join(overHttp, 'README.md'), 'utf8')).toBe('# smoke, over ssh\n');
  });

  it('lets a session run git fetch and push under the repos folder only: no command, shell, pty, forwarding, password or other path', async () => {
    const s = sshServerInfo();
    const command = await ssh(['id']);
    expect(command.code).not.toBe(0);
    expect(command.stderr).toMatch(/this server runs git fetch and push only; 'id' is refused/);
    expect(command.stdout).toBe('');

    const shell = await ssh([], ['-tt']);
    expect(shell.code).not.toBe(0);
    expect(shell.stderr).toMatch(/PTY allocation request failed/);

    const forward = await ssh([], ['-W', '127.0.0.1:19418']);
    expect(forward.code).not.toBe(0);
    expect(forward.stderr).toMatch(/administratively prohibited/);

    const password = await run('ssh', ['-o', 'BatchMode=yes', '-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', `UserKnownHostsFile=${s.knownHostsFile}`, '-p', String(s.port), `${s.user}@127.0.0.1`, 'true']);
    expect(password.code).not.toBe(0);
    expect(password.stderr).toMatch(/Permission denied \(publickey\)/);

    // The path is the repository's name under the repos folder, as over HTTP: an absolute path on
    // the server's disk, a dot-segment or another service is not served.
    const repo = await createRepo('ssh-paths', { 'a.txt': 'a\n' });
    for (const bad of [`${s.url}${repo.bareDir}`, `${s.url}/../${path.basename(path.dirname(repo.bareDir))}/${repo.name}.git`, `${s.url}/.hidden.git`]) {
      const r = await git(['ls-remote', bad], { env: sshEnv() });
      expect([bad, r.code, r.stderr]).toEqual([bad, 128, expect.stringMatching(/does not appear to be a git repository/)]);
    }
    const archive = await ssh([`git-upload-archive '/${repo.name}.git'`]);
    expect(archive.code).not.toBe(0);
    expect(archive.stderr).toMatch(/'git-upload-archive' is refused/);
    // The repository itself, for contrast.
    expect((await git(['ls-remote', sshUrlOf(repo)], { env: sshEnv() })).code).toBe(0);
  });

  it('runs as a stack component that restartComponent stops and starts again, keeping its host key', async () => {
    // A private state dir and port: the shared stack's own sshd is left alone.
    const base = loadStackConfig();
    const cfg = { ...base, stateDir: tempDir('stack'), ports: { ...base.ports, gitSsh: await freePort() } };
    const files = sshServerFiles(statePaths(cfg).gitSsh);
    const url = sshBaseUrl(cfg.host, cfg.ports.gitSsh);
    try {
      await restartComponent('git-ssh', cfg);
      expect(await sshServerReady(url, files)).toBe(true);
      const knownHosts = fs.readFileSync(files.knownHosts, 'utf8');
      expect(knownHosts).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${cfg.ports.gitSsh} ssh-ed25519 \\S+\\n$`));
      const pid = (await stackStatus(cfg)).find((c) => c.name === 'git-ssh')?.pid;

      await restartComponent('git-ssh', cfg);
      const status = (await stackStatus(cfg)).find((c) => c.name === 'git-ssh')!;
      expect(status).toMatchObject({ running: true, ready: true });
      expect(status.pid).not.toBe(pid);
      // Same host key after a restart: a known_hosts file handed out once stays valid.
      expect(fs.readFileSync(files.knownHosts, 'utf8')).toBe(knownHosts);
    } finally {
      await stackDown(cfg, ['git-ssh']);
    }
    expect(await sshServerReady(url, files)).toBe(false);
  });
});

