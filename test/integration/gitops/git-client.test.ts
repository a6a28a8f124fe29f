/**
 * Ramp's git client against the stack's real git server (smart HTTP, basic auth), with a person
 * pushing beside it through the git CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startGitServer } from '../../../scripts/stack/git-server';
import { GitConflictError } from '../../../src/infra/git-errors';
import { GitRepo, GitSettings } from '../../../src/infra/git';
import { Failure } from '../../../src/shared/failures';
import { branchHead, caught, cloneAsPerson, commitAndPush, createRepo, gitOk, removeTempDirs, tempDir, TestRepo } from '../../support/git';
import { stackInfo } from '../../support/stack';

const AUTHOR = { name: 'Ramp', email: 'ramp@example.test' };

function client(repo: TestRepo, over: Partial<GitSettings> = {}): GitRepo {
  return new GitRepo({
    url: repo.url,
    branch: repo.branch,
    workDir: path.join(tempDir('ramp'), 'work'),
    credentials: { basicAuthFile: repo.credentialsFile },
    author: AUTHOR,
    ...over,
  });
}

/** Subjects of the branch on the server, newest first, and whether any commit is a merge. */
async function history(repo: TestRepo): Promise<{ subjects: string[]; merges: number }> {
  const subjects = (await gitOk(['--git-dir', repo.bareDir, 'log', '--format=%s', repo.branch])).trim().split('\n');
  const merges = (await gitOk(['--git-dir', repo.bareDir, 'rev-list', '--merges', repo.branch])).trim();
  return { subjects, merges: merges === '' ? 0 : merges.split('\n').length };
}

const DEPLOY = 'apps/web/deployment.yaml';
const deployment = (image: string) => `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ${image}\n`;

describe('git client', () => {
  afterAll(removeTempDirs);

  it('commits with trailers and pushes; the server has the commit and the trailers read back', async () => {
    const repo = await createRepo('client', { [DEPLOY]: deployment('web:v1') });
    const git = client(repo);
    const base = await git.sync();
    expect(base).toBe(await branchHead(repo));
    expect(await git.readFile(DEPLOY)).toBe(deployment('web:v1'));
    expect(await git.readFile('absent.yaml')).toBeUndefined();

    const sha = await git.writeAndCommit({
      files: { [DEPLOY]: deployment('web:v2'), 'apps/web/canary.yaml': 'weight: 10\n' },
      message: 'Rollout shop/web: canary at 10 %',
      trailers: { 'Ramp-Rollout': 'shop/web', 'Ramp-Step': '1' },
    });
    expect(await git.push()).toBe(sha);
    expect(await branchHead(repo)).toBe(sha);

    const person = await cloneAsPerson(repo);
    expect(fs.readFileSync(path.join(person, DEPLOY), 'utf8')).toBe(deployment('web:v2'));
    expect(await git.readFile(DEPLOY, base)).toBe(deployment('web:v1'));

    const commits = await git.commitsTouching(DEPLOY, base);
    expect(commits).toEqual([{ sha, authorName: AUTHOR.name, authorEmail: AUTHOR.email, subject: 'Rollout shop/web: canary at 10 %', trailers: { 'Ramp-Rollout': 'shop/web', 'Ramp-Step': '1' } }]);
    expect(await git.commitsTouching('apps/other.yaml', base)).toEqual([]);
  });

  it('makes no commit when the tree would not change, and returns the head', async () => {
    const repo = await createRepo('noop', { [DEPLOY]: deployment('web:v1') });
    const git = client(repo);
    const head = await git.sync();
    expect(await git.writeAndCommit({ files: { [DEPLOY]: deployment('web:v1'), 'never-there.yaml': null }, message: 'nothing' })).toBe(head);
    expect(await git.push()).toBe(head);
    expect((await history(repo)).subjects).toEqual(['Initial commit']);
  });

  it('gives the same sha for the same change on the same parent at the same date (a retried activity)', async () => {
    const repo = await createRepo('same', { [DEPLOY]: deployment('web:v1') });
    const req = { files: { [DEPLOY]: deployment('web:v2') }, message: 'v2', trailers: { 'Ramp-Step': '1' }, date: new Date('2026-01-02T03:04:05Z') };
    const a = client(repo);
    const b = client(repo);
    await a.sync();
    await b.sync();
    const sha = await a.writeAndCommit(req);
    expect(await b.writeAndCommit(req)).toBe(sha);
    await a.pushBranch('ramp/web-v2');
    // The retry finds its own commit on the branch: nothing to push, no error.
    await expect(b.pushBranch('ramp/web-v2')).resolves.toBe(sha);
  });

  it('rebases onto a person’s concurrent push and retries: linear history with both commits', async () => {
    const repo = await createRepo('race', { [DEPLOY]: deployment('web:v1'), 'README.md': 'readme\n' });
    const git = client(repo);
    await git.sync();
    const ours = await git.writeAndCommit({ files: { [DEPLOY]: deployment('web:v2') }, message: 'Ramp: v2', trailers: { 'Ramp-Step': '1' } });

    const person = await cloneAsPerson(repo);
    const theirs = await commitAndPush(repo, person, { 'README.md': 'readme, edited\n' }, 'Person: edit readme');

    const pushed = await git.push();
    expect(pushed).not.toBe(ours); // rebased: a new commit with the person's as parent
    expect(await branchHead(repo)).toBe(pushed);
    expect((await gitOk(['--git-dir', repo.bareDir, 'rev-parse', `${pushed}^`])).trim()).toBe(theirs);
    expect(await history(repo)).toEqual({ subjects: ['Ramp: v2', 'Person: edit readme', 'Initial commit'], merges: 0 });
    expect((await git.commitsTouching(DEPLOY))[0]?.trailers).toEqual({ 'Ramp-Step': '1' });
  });

  it('names the path and the person’s commit when their change conflicts; nothing is pushed', async () => {
    const repo = await createRepo('conflict', { [DEPLOY]: deployment('web:v1') });
    const git = client(repo);
    await git.sync();
    await git.writeAndCommit({ files: { [DEPLOY]: deployment('web:v2') }, message: 'Ramp: v2' });

    const person = await cloneAsPerson(repo);
    const theirs = await commitAndPush(repo, person, { [DEPLOY]: deployment('web:hotfix') }, 'Person: hotfix image');

    const err = await caught(git.push());
    expect(err).toBeInstanceOf(GitConflictError);
    expect(err.type).toBe(Failure.GitConflict);
    const conflict = err as GitConflictError;
    expect(conflict.paths).toEqual([DEPLOY]);
    expect(conflict.upstream).toEqual([{ sha: theirs, authorName: 'Test Person', authorEmail: 'person@example.test', subject: 'Person: hotfix image' }]);
    expect(err.message).toContain(DEPLOY);
    expect(err.message).toContain(theirs.slice(0, 12));
    expect(err.message).toContain('Person: hotfix image');
    expect(await branchHead(repo)).toBe(theirs);
    // The rebase was aborted: the next sync starts from a clean tree at the person's commit.
    expect(await git.sync()).toBe(theirs);
    expect(await git.readFile(DEPLOY)).toBe(deployment('web:hotfix'));
  });

  it('reports a branch that keeps moving as Conflict (retried) once the attempts are spent', async () => {
    const repo = await createRepo('attempts', { 'a.txt': 'a\n' });
    const git = client(repo, { maxPushAttempts: 1 });
    await git.sync();
    await git.writeAndCommit({ files: { 'b.txt': 'b\n' }, message: 'Ramp: b' });
    await commitAndPush(repo, await cloneAsPerson(repo), { 'c.txt': 'c\n' }, 'Person: c');
    const err = await caught(git.push());
    expect(err.type).toBe(Failure.Conflict);
    expect(err.message).toMatch(/moved during each of 1 attempts/);
  });

  it('refuses a wrong password as GitAuthFailed without the password in the message', async () => {
    const repo = await createRepo('auth', { 'a.txt': 'a\n' });
    const wrong = path.join(tempDir('creds'), 'basic');
    const password = 'Wr0ng-Passw0rd-xyz';
    fs.writeFileSync(wrong, `${repo.username}:${password}\n`, { mode: 0o600 });
    const err = await caught(client(repo, { credentials: { basicAuthFile: wrong } }).sync());
    expect(err.type).toBe(Failure.GitAuthFailed);
    expect(err.message).toContain(repo.url);
    for (const secret of [password, Buffer.from(`${repo.username}:${password}`).toString('base64')]) expect(err.message).not.toContain(secret);

    const missing = await caught(client(repo, { credentials: { basicAuthFile: path.join(tempDir('creds'), 'absent') } }).sync());
    expect(missing.type).toBe(Failure.GitAuthFailed);
    expect(missing.message).toMatch(/cannot be read \(ENOENT\)/);
  });

  it('authenticates with a token file too', async () => {
    const repo = await createRepo('token', { 'a.txt': 'a\n' });
    const git = client(repo, { credentials: { tokenFile: repo.passwordFile, tokenUsername: repo.username } });
    expect(await git.sync()).toBe(await branchHead(repo));
  });

  it('reports an absent repository or branch as GitNotFound', async () => {
    const repo = await createRepo('found', { 'a.txt': 'a\n' });
    const noRepo = await caught(client({ ...repo, url: `${stackInfo().git.url}/no-such-repo-${Date.now()}.git` }).sync());
    expect(noRepo.type).toBe(Failure.GitNotFound);
    const noBranch = await caught(client({ ...repo, branch: 'no-such-branch' }).sync());
    expect(noBranch.type).toBe(Failure.GitNotFound);
  });

  it('reports a stopped server as GitUnreachable', async () => {
    const info = stackInfo().git;
    // A server of its own over the stack's repositories, so stopping it leaves the shared one up.
    const server = await startGitServer({ host: '127.0.0.1', port: 0, root: info.reposDir, credentialsFile: info.credentialsFile, log: () => undefined });
    const repo = await createRepo('down', { 'a.txt': 'a\n' });
    const git = client({ ...repo, url: `${server.url}/${repo.name}.git` });
    try {
      await git.sync();
      await git.writeAndCommit({ files: { 'b.txt': 'b\n' }, message: 'Ramp: b' });
    } finally {
      await server.close();
    }
    const err = await caught(git.push());
    expect(err.type).toBe(Failure.GitUnreachable);
    expect(err.message).toMatch(/Failed to connect|Connection refused/);
  });

  it('tells whether a proposal branch was merged (approval by merge)', async () => {
    const repo = await createRepo('merge', { [DEPLOY]: deployment('web:v1') });
    const git = client(repo);
    await git.sync();
    const sha = await git.writeAndCommit({ files: { [DEPLOY]: deployment('web:v2') }, message: 'Ramp: promote v2' });
    await git.pushBranch('ramp/promote-web');
    expect(await branchHead(repo, 'ramp/promote-web')).toBe(sha);
    expect(await git.branchContains(repo.branch, sha)).toBe(false);

    // A person merges the proposal with a merge commit, as a forge's merge button does.
    const person = await cloneAsPerson(repo);
    await gitOk(['fetch', '--quiet', 'origin', 'ramp/promote-web'], { cwd: person, auth: repo });
    await gitOk(['merge', '--quiet', '--no-ff', '-m', 'Merge ramp/promote-web', 'FETCH_HEAD'], { cwd: person });
    await gitOk(['push', '--quiet', 'origin', `HEAD:${repo.branch}`], { cwd: person, auth: repo });

    expect(await git.branchContains(repo.branch, sha)).toBe(true);
  });
});
