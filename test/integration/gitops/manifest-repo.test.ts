/**
 * A rollout's manifests in a real repository on the stack's git server: Ramp's commits edit only
 * the values it manages, carry trailers, survive a person's unrelated push (rebased), and a
 * person's change to a managed value is found as drift naming the commit, its author and the field.
 */
import * as path from 'node:path';
import { driftInWords, ManifestRepo } from '../../../src/activities/gitops/manifest-repo';
import { parseTrailers, RolloutCommit } from '../../../src/domain/gitops/commit-message';
import { GitRepo } from '../../../src/infra/git';
import { cloneAsPerson, commitAndPush, createRepo, gitOk, removeTempDirs, tempDir, TestRepo } from '../../support/git';

const VS_PATH = 'apps/podinfo/virtualservice.yaml';
const VS_LOCATOR = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', name: 'podinfo', namespace: 'demo' };
const CANARY_PATH = 'apps/podinfo/podinfo-canary.yaml';
const CANARY_LOCATOR = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo-canary', namespace: 'demo' };

// The guide's VirtualService, as people write it: comments, a gateway list in flow style.
const VS = `# podinfo: canary by weight (edited by Ramp during a rollout)
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: podinfo
  namespace: demo
spec:
  hosts: [podinfo.example.com]   # public host
  gateways: [public-gateway]
  http:
    - name: primary
      route:
        - destination:
            host: podinfo
            subset: ga
          weight: 100 # all traffic on ga before a rollout
        - destination:
            host: podinfo
            subset: canary
          weight: 0
`;

const note = (canary: number, step: number): RolloutCommit => ({
  rollout: { namespace: 'demo', name: 'podinfo' }, runId: 'run-1', action: 'setWeight',
  step: { index: step, kind: 'setWeight' }, weights: { stable: 100 - canary, canary }, requestedBy: 'jest',
});

function withWeights(vs: unknown, canary: number): unknown {
  const o = structuredClone(vs) as { spec: { http: { route: { weight: number }[] }[] } };
  o.spec.http[0]!.route[0]!.weight = 100 - canary;
  o.spec.http[0]!.route[1]!.weight = canary;
  return o;
}

function manifests(repo: TestRepo): ManifestRepo {
  return new ManifestRepo(new GitRepo({
    url: repo.url, branch: repo.branch, workDir: path.join(tempDir('ramp'), 'work'),
    credentials: { basicAuthFile: repo.credentialsFile }, author: { name: 'Ramp', email: 'ramp@example.test' },
  }));
}

const show = (repo: TestRepo, rev: string, file: string) => gitOk(['--git-dir', repo.bareDir, 'show', `${rev}:${file}`]);
const messages = async (repo: TestRepo) => (await gitOk(['--git-dir', repo.bareDir, 'log', '--format=%B%x1e', repo.branch])).split('\x1e').map((m) => m.trim()).filter(Boolean);

afterAll(removeTempDirs);

it('each weight is one commit that changes only the weight lines, with trailers; a retry makes no second commit', async () => {
  const repo = await createRepo('gitops-weights', { [VS_PATH]: VS, 'README.md': 'podinfo\n' });
  const m = manifests(repo);
  const vs = await m.read({ locator: VS_LOCATOR, path: VS_PATH });
  const first = await m.commit([{ locator: VS_LOCATOR, path: VS_PATH, after: withWeights(vs, 10) }], note(10, 0));
  expect(first.committed).toBe(true);
  const again = await m.commit([{ locator: VS_LOCATOR, path: VS_PATH, after: withWeights(vs, 10) }], note(10, 0));
  expect(again).toEqual({ sha: first.sha, committed: false });
  const second = await m.commit([{ locator: VS_LOCATOR, path: VS_PATH, after: withWeights(await m.read({ locator: VS_LOCATOR, path: VS_PATH }), 60) }], note(60, 2));

  const text = await show(repo, second.sha, VS_PATH);
  const changed = VS.split('\n').flatMap((line, i) => (line === text.split('\n')[i] ? [] : [[line, text.split('\n')[i]]]));
  expect(changed).toEqual([
    ['          weight: 100 # all traffic on ga before a rollout', '          weight: 40 # all traffic on ga before a rollout'],
    ['          weight: 0', '          weight: 60'],
  ]);
  const log = await messages(repo);
  expect(log).toHaveLength(3);
  expect(log.slice(0, 2).map((msg) => parseTrailers(msg))).toEqual([
    expect.objectContaining({ rollout: { namespace: 'demo', name: 'podinfo' }, action: 'setWeight', step: 2, weights: { stable: 40, canary: 60 }, requestedBy: 'jest' }),
    expect.objectContaining({ step: 0, weights: { stable: 90, canary: 10 } }),
  ]);
});

it('a new canary manifest is one file; removing it deletes the file, and the other files stay byte-identical', async () => {
  const repo = await createRepo('gitops-canary', { [VS_PATH]: VS });
  const m = manifests(repo);
  const canary = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'podinfo-canary', namespace: 'demo' }, spec: { replicas: 1 } };
  const added = await m.commit([{ locator: CANARY_LOCATOR, path: CANARY_PATH, after: canary }], { ...note(0, 0), action: 'setWeight' });
  expect(await m.read({ locator: CANARY_LOCATOR, path: CANARY_PATH })).toEqual(canary);
  const removed = await m.commit([{ locator: CANARY_LOCATOR, path: CANARY_PATH, after: null }], { ...note(0, 3), action: 'cleanup-canary' });
  expect(removed.committed).toBe(true);
  expect(await m.read({ locator: CANARY_LOCATOR, path: CANARY_PATH })).toBeUndefined();
  expect(await show(repo, removed.sha, VS_PATH)).toBe(VS);
  expect(await gitOk(['--git-dir', repo.bareDir, 'diff', '--stat', `${added.sha}~1`, removed.sha])).toBe('');
});

it("a person's push to an unrelated file is rebased under Ramp's commit; a push to a managed weight is drift naming the commit, author and field", async () => {
  const repo = await createRepo('gitops-drift', { [VS_PATH]: VS, 'README.md': 'podinfo\n' });
  const m = manifests(repo);
  const o = { locator: VS_LOCATOR, path: VS_PATH };
  const base = await m.commit([{ ...o, after: withWeights(await m.read(o), 10) }], note(10, 0));

  const person = await cloneAsPerson(repo);
  await commitAndPush(repo, person, { 'README.md': 'podinfo, now with docs\n' }, 'Docs: describe podinfo');
  // Ramp's work tree is behind the person's push; its next commit must land on top of it.
  const next = await m.commit([{ ...o, after: withWeights(await m.read(o), 60) }], note(60, 2));
  const subjects = (await gitOk(['--git-dir', repo.bareDir, 'log', '--format=%s', repo.branch])).trim().split('\n');
  expect(subjects[1]).toBe('Docs: describe podinfo');
  expect(subjects[0]).toMatch(/demo\/podinfo/);
  expect(await m.drift(o, base.sha, withWeights(VS_PARSED, 60), 'demo/podinfo')).toBeUndefined();

  await gitOk(['pull', '--quiet', '--rebase', 'origin', repo.branch], { cwd: person, auth: repo });
  const edited = (await show(repo, next.sha, VS_PATH)).replace('weight: 60', 'weight: 0');
  const human = await commitAndPush(repo, person, { [VS_PATH]: edited }, 'Hotfix: take podinfo canary out');
  const drift = await m.drift(o, next.sha, withWeights(VS_PARSED, 60), 'demo/podinfo');
  expect(drift?.commit).toMatchObject({ sha: human, authorName: 'Test Person', subject: 'Hotfix: take podinfo canary out' });
  expect(drift?.differences).toEqual([{ path: 'spec.http[0].route[1].weight', expected: 60, actual: 0 }]);
  expect(driftInWords(drift!)).toMatch(new RegExp(`^commit ${human.slice(0, 12)} by Test Person <person@example.test> .*spec.http\\[0\\].route\\[1\\].weight: Ramp wrote 60, now 0`));
});

it('a file Ramp cannot edit is a non-retryable Invalid failure naming the file', async () => {
  const repo = await createRepo('gitops-invalid', { [VS_PATH]: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n' });
  await expect(manifests(repo).read({ locator: VS_LOCATOR, path: VS_PATH })).rejects.toMatchObject({ type: 'Invalid', message: expect.stringContaining(`${VS_PATH}: holds no VirtualService demo/podinfo`) });
});

const VS_PARSED = {
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'podinfo', namespace: 'demo' },
  spec: { hosts: ['podinfo.example.com'], gateways: ['public-gateway'], http: [{ name: 'primary', route: [
    { destination: { host: 'podinfo', subset: 'ga' }, weight: 100 }, { destination: { host: 'podinfo', subset: 'canary' }, weight: 0 },
  ] }] },
};
