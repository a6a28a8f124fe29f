/**
 * Ramp's git client over SSH against the stack's real sshd (scripts/stack/git-ssh.ts), which serves
 * the same bare repositories as the HTTP server: a key and a known_hosts file from the stack, and
 * each way SSH fails as a person meets it — a key the server does not know, a known_hosts file
 * without the server's key or with another one, a key file others may read, a missing file, no
 * server listening — each a GitError of the type the retry budgets act on, with the fix in its
 * message.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { createStores } from '../../../src/activities/store/factory';
import { APIS, objectRef } from '../../../src/activities/store/store';
import { parseRollout } from '../../../src/domain/spec/parse';
import { GitCredentials, GitRepo } from '../../../src/infra/git';
import { Failure } from '../../../src/shared/failures';
import { newTestRolloutRaw } from '../../support/builders';
import { adminKubeConfig } from '../../support/stack';
import { branchHead, caught, cloneAsPerson, commitAndPush, createRepo, removeTempDirs, sshServerInfo, sshUrlOf, tempDir, TestRepo } from '../../support/git';

const AUTHOR = { name: 'Ramp', email: 'ramp@example.test' };
const DEPLOY = 'apps/web/deployment.yaml';
const deployment = (image: string) => `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ${image}\n`;

function sshClient(repo: TestRepo, credentials: Partial<GitCredentials> = {}, url = sshUrlOf(repo)): GitRepo {
  const ssh = sshServerInfo();
  return new GitRepo({
    url,
    branch: repo.branch,
    workDir: path.join(tempDir('ramp-ssh'), 'work'),
    credentials: { sshKeyFile: ssh.keyFile, knownHostsFile: ssh.knownHostsFile, ...credentials },
    author: AUTHOR,
    timeoutMs: 30_000,
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** A fresh ed25519 key pair no server knows; the private half mode 0600. */
async function strangerKey(): Promise<string> {
  const file = path.join(tempDir('key'), 'id_ed25519');
  const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', file]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return file;
}

/** A copy of the stack's client key with the given mode. */
function keyCopy(mode: number): string {
  const file = path.join(tempDir('key'), 'id_ed25519');
  fs.copyFileSync(sshServerInfo().keyFile, file);
  fs.chmodSync(file, mode);
  return file;
}

describe('git client over SSH', () => {
  afterAll(removeTempDirs);

  it('clones, commits and pushes over ssh:// with the key and known_hosts; the same repository over HTTP has the commit; no ~/.ssh is written', async () => {
    const repo = await createRepo('ssh', { [DEPLOY]: deployment('web:v1') });
    const home = tempDir('home');
    const savedHome = process.env.HOME;
    process.env.HOME = home;
    try {
      const git = sshClient(repo);
      expect(await git.sync()).toBe(await branchHead(repo));
      expect(await git.readFile(DEPLOY)).toBe(deployment('web:v1'));
      const sha = await git.writeAndCommit({ files: { [DEPLOY]: deployment('web:v2') }, message: 'Rollout shop/web: promote web:v2', trailers: { 'Ramp-Rollout': 'shop/web' } });
      expect(await git.push()).toBe(sha);
      expect(await branchHead(repo)).toBe(sha);

      // A person's clone over HTTP sees Ramp's commit; their push over HTTP, Ramp fetches over SSH and rebases onto.
      const person = await cloneAsPerson(repo);
      expect(fs.readFileSync(path.join(person, DEPLOY), 'utf8')).toBe(deployment('web:v2'));
      const theirs = await commitAndPush(repo, person, { 'apps/web/README.md': 'web\n' }, 'Document web');
      await git.writeAndCommit({ files: { 'apps/web/canary.yaml': 'weight: 10\n' }, message: 'Rollout shop/web: canary at 10 %' });
      const pushed = await git.push();
      expect(await branchHead(repo)).toBe(pushed);
      expect(await git.isAncestor(theirs, pushed)).toBe(true);
      // StrictHostKeyChecking=yes with the given known_hosts: ssh learned nothing and wrote nothing under HOME.
      expect(fs.readdirSync(home)).toEqual([]);
    } finally {
      process.env.HOME = savedHome;
    }
  });

  it('from the spec: credentials.sshKeyFile and knownHostsFile reach the worker\'s git client, which reads the stable Deployment over SSH', async () => {
    const repo = await createRepo('ssh-spec', { [DEPLOY]: deployment('web:v1') });
    const ssh = sshServerInfo();
    const spec = parseRollout(YAML.stringify(newTestRolloutRaw({
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        target: { deployment: 'web', service: 'web' },
        gitops: { mode: 'cluster', repository: { url: sshUrlOf(repo), credentials: { sshKeyFile: ssh.keyFile, knownHostsFile: ssh.knownHostsFile } }, manifests: { deployment: DEPLOY } },
      },
    }))).spec;
    expect(spec.gitops?.repository.credentials).toEqual({ sshKeyFile: ssh.keyFile, knownHostsFile: ssh.knownHostsFile });
    const stores = createStores(adminKubeConfig(), { workRoot: tempDir('work-root'), author: AUTHOR });
    const store = stores.storeFor({ namespace: 'shop', rollout: 'web', gitops: spec.gitops!, stableDeployment: 'web', canaryDeployment: 'web-canary' });
    const ref = objectRef(APIS.Deployment, { kind: 'Deployment', namespace: 'shop', name: 'web', resource: 'deployments.apps' });
    expect(store.inGit(ref)).toBe(true);
    const got = await store.get<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(ref);
    expect(got?.spec.template.spec.containers[0]?.image).toBe('web:v1');
  });

  it('a key the server does not know: GitAuthFailed, "Permission denied (publickey)", the key is not authorized', async () => {
    const repo = await createRepo('ssh-key', { 'a.txt': 'a\n' });
    const err = await caught(sshClient(repo, { sshKeyFile: await strangerKey() }).sync());
    expect(err.type).toBe(Failure.GitAuthFailed);
    expect(err.message).toMatch(/Permission denied \(publickey\)/);
    expect(err.message).toMatch(/the SSH server refused the key \(credentials\.sshKeyFile\): it is not authorized/);
    // git's generic advice after a failed ssh connection is left out of the message.
    expect(err.message).not.toMatch(/Please make sure you have the correct access rights/);
  });

  it('a known_hosts file without the server\'s key: GitAuthFailed naming ssh-keyscan for this server; adding its output makes it work', async () => {
    const repo = await createRepo('ssh-unknown', { 'a.txt': 'a\n' });
    const { port } = sshServerInfo();
    const knownHosts = path.join(tempDir('kh'), 'known_hosts');
    fs.writeFileSync(knownHosts, '');
    const err = await caught(sshClient(repo, { knownHostsFile: knownHosts }).sync());
    expect(err.type).toBe(Failure.GitAuthFailed);
    expect(err.message).toMatch(new RegExp(`No ED25519 host key is known for \\[127\\.0\\.0\\.1\\]:${port}`));
    expect(err.message).toMatch(/Host key verification failed/);
    expect(err.message).toContain(`has no key for this SSH server: add the server's key to it (\`ssh-keyscan -p ${port} 127.0.0.1\` prints the line`);
    expect(fs.readFileSync(knownHosts, 'utf8')).toBe(''); // nothing learned

    // The fix as the message says it.
    const scan = await run('ssh-keyscan', ['-p', String(port), '127.0.0.1']);
    expect(scan.code).toBe(0);
    fs.writeFileSync(knownHosts, scan.stdout);
    await expect(sshClient(repo, { knownHostsFile: knownHosts }).sync()).resolves.toBe(await branchHead(repo));
  });

  it('a known_hosts file with another key for the server: GitAuthFailed, the host identification has changed', async () => {
    const repo = await createRepo('ssh-changed', { 'a.txt': 'a\n' });
    const { port } = sshServerInfo();
    const other = await strangerKey();
    const knownHosts = path.join(tempDir('kh'), 'known_hosts');
    const [type, key] = fs.readFileSync(`${other}.pub`, 'utf8').trim().split(' ');
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${type} ${key}\n`);
    const err = await caught(sshClient(repo, { knownHostsFile: knownHosts }).sync());
    expect(err.type).toBe(Failure.GitAuthFailed);
    expect(err.message).toMatch(new RegExp(`Host key for \\[127\\.0\\.0\\.1\\]:${port} has changed`));
    expect(err.message).toContain('answered with a host key other than the one the known_hosts file Ramp is given (spec.gitops.repository.credentials.knownHostsFile) holds for it');
    expect(err.message).toContain(`\`ssh-keyscan -p ${port} 127.0.0.1\``);
  });

  it('a key file others may read (mode 0644): GitAuthFailed, too open, chmod 600; at 0600 and 0400 the same key works', async () => {
    const repo = await createRepo('ssh-mode', { 'a.txt': 'a\n' });
    const key = keyCopy(0o644);
    const err = await caught(sshClient(repo, { sshKeyFile: key }).sync());
    expect(err.type).toBe(Failure.GitAuthFailed);
    expect(err.message).toMatch(/Permissions 0644 for '.*' are too open/);
    expect(err.message).toMatch(/make the key file \(credentials\.sshKeyFile\) mode 0600 or 0400 \(chmod 600; on Kubernetes, defaultMode: 0400 on the Secret volume\)/);
    for (const mode of [0o600, 0o400]) {
      fs.chmodSync(key, mode);
      await expect(sshClient(repo, { sshKeyFile: key }).sync()).resolves.toBe(await branchHead(repo));
    }
  });

  (process.getuid?.() === 0 ? it : it.skip)('ssh checks the mode only of a key file owned by the user it runs as: root running ssh uses a 0644 key owned by another user', async () => {
    const repo = await createRepo('ssh-owner', { 'a.txt': 'a\n' });
    const key = keyCopy(0o644);
    fs.chownSync(key, 65534, 65534);
    await expect(sshClient(repo, { sshKeyFile: key }).sync()).resolves.toBe(await branchHead(repo));
  });

  it('a missing key file or known_hosts file is named before ssh runs; no known_hosts setting is refused at construction', async () => {
    const repo = await createRepo('ssh-files', { 'a.txt': 'a\n' });
    const missing = path.join(tempDir('none'), 'absent');
    const noKey = await caught(sshClient(repo, { sshKeyFile: missing }).sync());
    expect([noKey.type, noKey.message]).toEqual([Failure.GitAuthFailed, expect.stringContaining(`git SSH key file ${missing} for ${sshUrlOf(repo)} is missing`)]);
    const noHosts = await caught(sshClient(repo, { knownHostsFile: missing }).sync());
    expect([noHosts.type, noHosts.message]).toEqual([Failure.GitAuthFailed, expect.stringContaining(`git known_hosts file ${missing} for ${sshUrlOf(repo)} is missing`)]);
    expect(() => sshClient(repo, { knownHostsFile: undefined })).toThrow(/sshKeyFile needs knownHostsFile too/);
  });

  it('a repository the server does not have: GitNotFound', async () => {
    const repo = await createRepo('ssh-absent', { 'a.txt': 'a\n' });
    const err = await caught(sshClient(repo, {}, `${sshServerInfo().url}/no-such-repo.git`).sync());
    expect(err.type).toBe(Failure.GitNotFound);
    expect(err.message).toMatch(/does not appear to be a git repository/);
  });

  it('no server listening: GitUnreachable (retried), connection refused', async () => {
    const repo = await createRepo('ssh-down', { 'a.txt': 'a\n' });
    // Port 1 on loopback: nothing listens there on these machines.
    const err = await caught(sshClient(repo, {}, `ssh://${sshServerInfo().user}@127.0.0.1:1/${repo.name}.git`).sync());
    expect(err.type).toBe(Failure.GitUnreachable);
    expect(err.message).toMatch(/ssh: connect to host 127\.0\.0\.1 port 1: Connection refused/);
  });
});
