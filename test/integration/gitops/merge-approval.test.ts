/**
 * Approval by merge on the real stack: the podinfo guide in git mode with `approval: {via: merge}`
 * before the last weight. Ramp pushes that weight's commit to its own branch on the stack's git
 * server; a person merges it (a merge commit, or a squash as hosts do it, deleting the branch), or
 * turns it down by deleting the branch; Flux applies whatever reaches main. The three rollouts run
 * side by side (started in beforeAll), each test drives and checks one.
 */
import type { WorkflowHandle } from '@temporalio/client';
import YAML from 'yaml';
import { startRollout } from '../../../src/client/rollouts';
import { proposalBranch } from '../../../src/domain/gitops/proposal';
import type { RolloutStatus } from '../../../src/domain/rollout/state';
import { approveUpdate, statusQuery } from '../../../src/shared/messages';
import { branchHead, cloneAsPerson, gitOk, removeTempDirs } from '../../support/git';
import { apps, core, DIR, fileAt, liveVs, podinfoRepo, rampCommits, rollout, Shop } from '../../support/podinfo-gitops';
import { awaitResult } from '../../support/results';
import { eventually } from '../../support/stack';
import { startTestWorker, TestWorker } from '../../support/worker';

const STEPS = [{ setWeight: 10 }, { approval: { via: 'merge' } }, { setWeight: 100 }];
const VS = `${DIR}/virtualservice.yaml`;

interface Run {
  shop: Shop;
  handle: WorkflowHandle;
  branch: string;
}

let w: TestWorker;
const runs: Record<'merge' | 'squash' | 'delete', Run> = {} as never;

async function start(): Promise<Run> {
  const shop = await podinfoRepo();
  const handle = await startRollout(w.client, rollout(shop, STEPS), { taskQueue: w.taskQueue });
  return { shop, handle, branch: proposalBranch({ namespace: shop.ns, name: 'podinfo' }) };
}

/** The rollout waits for its proposal to be merged: the status names the branch and commit. */
type Proposed = RolloutStatus & { pendingApproval: { merge: { branch: string; commit: string; into: string } } };
function proposed(run: Run): Promise<Proposed> {
  return eventually('the proposal is pushed', async () => {
    const s = await run.handle.query(statusQuery);
    return s.pendingApproval?.merge ? s as Proposed : undefined;
  }, 300_000, 500);
}

const weightsIn = (text: string) => (YAML.parse(text) as { spec: { http: { route: { weight?: number }[] }[] } }).spec.http[0]!.route.map((r) => r.weight ?? 100);
const branchOnServer = (run: Run) => gitOk(['--git-dir', run.shop.repo.bareDir, 'rev-parse', '--verify', '--quiet', `refs/heads/${run.branch}`]).then((s) => s.trim(), () => undefined);

/** A person's clone holding main and the proposal branch. */
async function personWithProposal(run: Run): Promise<string> {
  const dir = await cloneAsPerson(run.shop.repo);
  await gitOk(['fetch', '--quiet', 'origin', `refs/heads/${run.branch}:refs/remotes/origin/proposal`], { cwd: dir, auth: run.shop.repo });
  return dir;
}

beforeAll(async () => {
  w = await startTestWorker();
  [runs.merge, runs.squash, runs.delete] = await Promise.all([start(), start(), start()]);
}, 300_000);
afterAll(async () => {
  await w?.close();
  for (const r of Object.values(runs)) await core.deleteNamespace({ name: r.shop.ns }).catch(() => undefined);
  removeTempDirs();
});

it('pushes the next weight to its own branch and waits: nothing is live, `ramp approve` is refused; a merge commit approves, the branch is deleted, promoted', async () => {
  const run = runs.merge;
  const s = await proposed(run);
  expect(s.phase).toBe('AwaitingApproval');
  expect(s.pendingApproval.merge).toEqual({ branch: run.branch, commit: expect.stringMatching(/^[0-9a-f]{40}$/), into: 'main' });
  expect(await branchOnServer(run)).toBe(s.pendingApproval.merge.commit);
  // The branch holds the weight step's change; main and the cluster do not.
  expect(weightsIn(await gitOk(['--git-dir', run.shop.repo.bareDir, 'show', `${run.branch}:${VS}`]))).toEqual([0, 100]);
  expect(weightsIn((await fileAt(run.shop.repo, VS))!)).toEqual([90, 10]);
  expect((await liveVs(run.shop.ns)).spec.http[0]!.route.map((r) => r.weight)).toEqual([90, 10]);
  const refused = await run.handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }).catch((e: unknown) => e);
  expect(String(((refused as Error).cause as Error | undefined)?.message)).toContain(`approved by merging branch ${run.branch} into main, not by command`);

  const dir = await personWithProposal(run);
  await gitOk(['merge', '--quiet', '--no-ff', '-m', 'Merge canary 100 %', 'origin/proposal'], { cwd: dir });
  await gitOk(['push', '--quiet', 'origin', 'HEAD:refs/heads/main'], { cwd: dir, auth: run.shop.repo });

  const result = await awaitResult(run.handle);
  expect(result.outcome === 'Promoted' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('Promoted');
  const approval = result.status.audit.find((a) => a.event === 'approve');
  expect(approval).toMatchObject({ by: 'Test Person <person@example.test>', accepted: true });
  expect(approval?.reason).toMatch(new RegExp(`^merged ${run.branch} into main \\([0-9a-f]{12}\\)$`));
  expect(await branchOnServer(run)).toBeUndefined();
  // The weight commits on main: Ramp's 10 %, then its proposed 100 %, brought in by the merge.
  expect((await rampCommits(run.shop.repo)).filter((c) => c.action === 'setWeight').map((c) => [c.step, c.canary])).toEqual([[0, 10], [2, 100]]);
  for (const [file, text] of Object.entries(run.shop.original)) {
    const now = await fileAt(run.shop.repo, file);
    expect(now).toBe(file.endsWith('deployment.yaml') ? text.replace('podinfo:6.0.0 # ga', 'podinfo:6.1.0 # ga') : text);
  }
  const stable = await apps.readNamespacedDeployment({ namespace: run.shop.ns, name: 'podinfo' });
  expect(stable.spec?.template.spec?.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.1.0');
}, 600_000);

it('a squash merge that deletes the branch, as hosts do it, approves too: main holds the change, not the commit', async () => {
  const run = runs.squash;
  const s = await proposed(run);
  const dir = await personWithProposal(run);
  await gitOk(['merge', '--quiet', '--squash', 'origin/proposal'], { cwd: dir });
  await gitOk(['commit', '--quiet', '-m', 'Canary to 100 % (#12)'], { cwd: dir });
  await gitOk(['push', '--quiet', '--atomic', 'origin', 'HEAD:refs/heads/main', `:refs/heads/${run.branch}`], { cwd: dir, auth: run.shop.repo });
  const squash = await branchHead(run.shop.repo);

  const result = await awaitResult(run.handle);
  expect(result.outcome === 'Promoted' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('Promoted');
  expect(result.status.audit.find((a) => a.event === 'approve')).toMatchObject({ by: 'Test Person <person@example.test>', reason: `merged ${run.branch} into main (${squash.slice(0, 12)})` });
  const onMain = (await gitOk(['--git-dir', run.shop.repo.bareDir, 'log', '--format=%H', 'main'])).split('\n');
  expect(onMain).not.toContain(s.pendingApproval.merge.commit);
  expect(onMain).toContain(squash);
}, 600_000);

it('a branch deleted without a merge turns the change down: rolled back, the repository and the cluster as before', async () => {
  const run = runs.delete;
  await proposed(run);
  const dir = await cloneAsPerson(run.shop.repo);
  await gitOk(['push', '--quiet', 'origin', '--delete', run.branch], { cwd: dir, auth: run.shop.repo });

  const result = await awaitResult(run.handle);
  expect(result.outcome).toBe('RolledBack');
  expect(result.reason).toBe(`the approval was turned down: branch ${run.branch} was deleted without being merged into main`);
  for (const [file, text] of Object.entries(run.shop.original)) expect(await fileAt(run.shop.repo, file)).toBe(text);
  expect((await rampCommits(run.shop.repo)).some((c) => c.canary === 100)).toBe(false);
  expect((await liveVs(run.shop.ns)).spec.http[0]!.route.map((r) => r.weight ?? 100)).toEqual([100]);
}, 600_000);
