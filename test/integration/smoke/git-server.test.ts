/**
 * The stack's git server with the real git CLI: clone, commit and push over smart HTTP with the
 * password from the stack's file; a wrong or missing password gets 401 and git fails.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { loadStackConfig, statePaths } from '../../../scripts/stack/config';
import { gitServerReady } from '../../../scripts/stack/git-server';
import { restartComponent, stackDown, stackStatus } from '../../../scripts/stack/stack';
import { freePort, stackInfo } from '../../support/stack';
import { branchHead, cloneAsPerson, commitAndPush, createRepo, git, gitOk, removeTempDirs, tempDir } from '../../support/git';

/** GET with the path sent as written (a URL string would be normalized first). */
function rawGet(url: string, authorization?: string, rawPath?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.get({ hostname: u.hostname, port: u.port, path: rawPath ?? u.pathname + u.search, headers: authorization ? { Authorization: authorization } : {} }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
  });
}

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

describe('git server', () => {
  afterAll(removeTempDirs);

  it('clones, commits and pushes over HTTP with the password from the stack file, more than 1 MB at once', async () => {
    const repo = await createRepo('smoke', { 'README.md': '# smoke\n' });
    expect(fs.statSync(repo.passwordFile).mode & 0o777).toBe(0o600);
    const dir = await cloneAsPerson(repo);
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('# smoke\n');

    // Random bytes do not compress: the pack is over git's 1 MB http.postBuffer, so git streams it chunked.
    const big = randomBytes(3 * 1024 * 1024);
    const sha = await commitAndPush(repo, dir, { 'blob.bin': big, 'README.md': '# smoke, changed\n' }, 'Add a large file');
    expect(await branchHead(repo)).toBe(sha);

    const again = await cloneAsPerson(repo);
    expect(fs.readFileSync(path.join(again, 'blob.bin')).equals(big)).toBe(true);
    expect((await gitOk(['log', '--format=%s'], { cwd: again })).split('\n')).toEqual(['Add a large file', 'Initial commit', '']);
  });

  it('inflates gzip request bodies: a clone that wants many commits', async () => {
    const repo = await createRepo('gzip', { 'a.txt': 'a\n' });
    const dir = await cloneAsPerson(repo);
    // Git gzips an upload-pack request over 1 KB: 40 branches on distinct commits make 40 "want" lines.
    for (let i = 0; i < 40; i++) {
      await gitOk(['checkout', '--quiet', '-b', `b${i}`, repo.branch], { cwd: dir });
      fs.writeFileSync(path.join(dir, `f${i}.txt`), `${i}\n`);
      await gitOk(['add', '--all'], { cwd: dir });
      await gitOk(['commit', '--quiet', '-m', `commit ${i}`], { cwd: dir });
    }
    await gitOk(['push', '--quiet', 'origin', '--all'], { cwd: dir, auth: repo });

    const trace = path.join(tempDir('trace'), 'curl.log');
    const target = path.join(tempDir('clone'), 'repo');
    await gitOk(['clone', '--quiet', repo.url, target], { auth: repo, env: { GIT_TRACE_CURL: trace, GIT_TRACE_CURL_NO_DATA: '1' } });
    expect(fs.readFileSync(trace, 'utf8')).toMatch(/Send header: Content-Encoding: gzip/);
    const branches = (await gitOk(['branch', '--remotes'], { cwd: target })).split('\n').filter((l) => /origin\/b\d+$/.test(l.trim()));
    expect(branches).toHaveLength(40);
  });

  it('refuses a wrong password with 401, and git exits non-zero', async () => {
    const repo = await createRepo('wrongpw', { 'a.txt': 'a\n' });
    const res = await rawGet(`${repo.url}/info/refs?service=git-upload-pack`, basic(repo.username, 'not-the-password'));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="[^"]+"/);

    const r = await git(['clone', repo.url, path.join(tempDir('wrong'), 'repo')], { auth: { username: repo.username, password: 'not-the-password' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Authentication failed|could not read Username/);
    expect(r.stderr).not.toContain('not-the-password');

    // A push with a wrong password leaves the branch where it was.
    const dir = await cloneAsPerson(repo);
    const before = await branchHead(repo);
    fs.writeFileSync(path.join(dir, 'b.txt'), 'b\n');
    await gitOk(['add', '--all'], { cwd: dir });
    await gitOk(['commit', '--quiet', '-m', 'refused'], { cwd: dir });
    const push = await git(['push', 'origin', `HEAD:${repo.branch}`], { cwd: dir, auth: { username: repo.username, password: 'nope' } });
    expect(push.code).not.toBe(0);
    expect(await branchHead(repo)).toBe(before);
  });

  it('refuses unauthenticated fetches and pushes', async () => {
    const repo = await createRepo('anon', { 'a.txt': 'a\n' });
    for (const service of ['git-upload-pack', 'git-receive-pack']) {
      const res = await rawGet(`${repo.url}/info/refs?service=${service}`);
      expect(res.status).toBe(401);
    }
    const target = path.join(tempDir('anon'), 'repo');
    const r = await git(['clone', repo.url, target]);
    expect(r.code).not.toBe(0);
    expect(fs.existsSync(path.join(target, 'a.txt'))).toBe(false);
    // The right user with the right password, for contrast: the same request succeeds.
    const auth = basic(repo.username, fs.readFileSync(repo.passwordFile, 'utf8').trim());
    const ok = await rawGet(`${repo.url}/info/refs?service=git-upload-pack`, auth);
    expect(ok.status).toBe(200);
    // Paths that are not a repository's are refused before git sees them, and the server stays up.
    for (const bad of ['/%E0%A4%A/info/refs', '/a%2F..%2Fb.git/info/refs', '/../b.git/info/refs', '/.hidden.git/info/refs']) {
      expect([bad, (await rawGet(stackInfo().git.url, auth, bad)).status]).toEqual([bad, 400]);
    }
    expect((await rawGet(`${repo.url}/info/refs?service=git-upload-pack`, auth)).status).toBe(200);
  });

  it('runs as a stack component that restartComponent stops and starts again', async () => {
    // A private state dir and port: the shared stack's own git server is left alone.
    const base = loadStackConfig();
    const cfg = { ...base, stateDir: tempDir('stack'), ports: { ...base.ports, git: 0 } };
    cfg.ports.git = await freePort();
    const s = statePaths(cfg);
    const url = `http://${cfg.host}:${cfg.ports.git}`;
    try {
      await restartComponent('git', cfg);
      expect(await gitServerReady(url, s.gitCredentials)).toBe(true);
      expect(fs.statSync(s.gitCredentials).mode & 0o777).toBe(0o600);
      const firstPassword = fs.readFileSync(s.gitPassword, 'utf8');
      const pid = (await stackStatus(cfg)).find((c) => c.name === 'git')?.pid;

      await restartComponent('git', cfg);
      const status = (await stackStatus(cfg)).find((c) => c.name === 'git')!;
      expect(status).toMatchObject({ running: true, ready: true });
      expect(status.pid).not.toBe(pid);
      // The credentials survive a restart: clients configured once keep working.
      expect(fs.readFileSync(s.gitPassword, 'utf8')).toBe(firstPassword);
    } finally {
      await stackDown(cfg, ['git']);
    }
    expect(await gitServerReady(url, s.gitCredentials)).toBe(false);
  });
});

