/**
 * Git mode end to end, as the podinfo guide does it: the Service, the stable ("ga") Deployment, the
 * DestinationRule and the VirtualService live in a repository on the stack's git server; Flux
 * (source-controller + kustomize-controller) applies it; every change of the rollout is a commit,
 * live in the cluster before the next. Real git server, real Flux, real apiserver, real Temporal.
 */
import * as fs from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import YAML from 'yaml';
import { RolloutHandle, startRollout } from '../../../src/client/rollouts';
import { storyOf } from '../../../src/client/cli/commands/story';
import { abortUpdate, approveUpdate, statusQuery } from '../../../src/shared/messages';
import { cloneAsPerson, commitAndPush, gitOk, removeTempDirs } from '../../support/git';
import { apps, core, DIR, fileAt, liveVs, podinfoRepo, rampCommits, rollout, Shop } from '../../support/podinfo-gitops';
import { awaitResult } from '../../support/results';
import { eventually, stackInfo } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';

let w: TestWorker;
const shops: Shop[] = [];
/** Every rollout this file started, for the credential scan at the end. */
const handles: WorkflowHandle[] = [];
beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
  for (const s of shops) await core.deleteNamespace({ name: s.ns }).catch(() => undefined);
  removeTempDirs();
});

it('the podinfo guide in git mode: 10 → 60 → approval → 100, one commit per step, each live before the next; promoted, the files as before but the image, the cluster equal to the repo', async () => {
  const s = await podinfoRepo();
  shops.push(s);
  const handle = await startRollout(w.client, rollout(s, [{ setWeight: 10 }, { setWeight: 60 }, { approval: {} }, { setWeight: 100 }]), { taskQueue: w.taskQueue });
  handles.push(handle);
  await waitForPhase(handle, 'AwaitingApproval', 240_000);
  // Paused at 60 %: the cluster shows what the repository says.
  const vs = YAML.parse((await fileAt(s.repo, `${DIR}/virtualservice.yaml`))!) as { spec: unknown };
  expect((await liveVs(s.ns)).spec).toEqual(vs.spec);
  expect((await liveVs(s.ns)).spec.http[0]!.route.map((r) => [r.destination.subset, r.weight])).toEqual([['ga', 40], ['canary', 60]]);
  await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
  const result = await awaitResult(handle);
  expect(result.outcome === 'Promoted' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('Promoted');

  const commits = await rampCommits(s.repo);
  // One commit per weight step, in order, each naming its step.
  const weightCommits = commits.filter((c) => c.action === 'setWeight');
  expect(weightCommits.map((c) => [c.step, c.canary])).toEqual([[0, 10], [1, 60], [3, 100]]);
  // Each step's commit is in the rollout's history: `ramp story` names it, `ramp status` the last one.
  const story = storyOf((await handle.fetchHistory()).events ?? []).map((l) => l.text);
  for (const [c, weight] of weightCommits.map((x, i) => [x, [10, 60, 100][i]] as const)) {
    expect(story).toContain(`✔ set weight: canary ${weight}% — commit ${c.sha.slice(0, 12)}`);
  }
  expect(commits.map((c) => c.sha)).toContain(result.status.git?.lastCommit);
  // The safe order: prepared before any weight; stable takes the new image, then the routes go back
  // to stable, then the canary subset, then the canary Deployment.
  const order = commits.map((c) => c.action);
  expect(order.indexOf('deploy-canary')).toBeLessThan(order.indexOf('setWeight'));
  const tail = order.slice(order.lastIndexOf('setWeight') + 1).filter((a, i, all) => a !== all[i - 1]);
  expect(tail).toEqual(['promote', 'cleanup-route', 'cleanup-subset', 'cleanup-canary']);

  // The files are as they were, except the stable's image.
  for (const [file, text] of Object.entries(s.original)) {
    const now = await fileAt(s.repo, file);
    if (file.endsWith('deployment.yaml')) expect(now).toBe(text.replace('podinfo:6.0.0 # ga', 'podinfo:6.1.0 # ga'));
    else expect(now).toBe(text);
  }
  expect(await fileAt(s.repo, `${DIR}/podinfo-canary.yaml`)).toBeUndefined();
  // The cluster equals the repository.
  expect((await liveVs(s.ns)).spec).toEqual((YAML.parse(s.original[`${DIR}/virtualservice.yaml`]!) as { spec: unknown }).spec);
  const stable = await apps.readNamespacedDeployment({ namespace: s.ns, name: 'podinfo' });
  expect(stable.spec?.template.spec?.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.1.0');
  await eventually('canary Deployment pruned', async () => (await apps.listNamespacedDeployment({ namespace: s.ns })).items.map((d) => d.metadata?.name).join() === 'podinfo' ? true : undefined, 60_000);
}, 600_000);

it('abort during a pause in git mode: the canary leaves traffic at once (emergency write), and the repository is restored by commits', async () => {
  const s = await podinfoRepo();
  shops.push(s);
  const handle: RolloutHandle & WorkflowHandle = await startRollout(w.client, rollout(s, [{ setWeight: 30 }, { pause: {} }, { setWeight: 100 }]), { taskQueue: w.taskQueue });
  handles.push(handle);
  await waitForPhase(handle, 'Paused', 240_000);
  expect((await liveVs(s.ns)).spec.http[0]!.route.map((r) => r.weight)).toEqual([70, 30]);
  await handle.executeUpdate(abortUpdate, { args: [{ reason: 'bad canary', by: 'bob' }] });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('RolledBack');
  const order = (await rampCommits(s.repo)).map((c) => c.action);
  expect(order.slice(order.lastIndexOf('setWeight') + 1)).toEqual(['cleanup-route', 'cleanup-subset', 'cleanup-canary']);
  for (const [file, text] of Object.entries(s.original)) expect(await fileAt(s.repo, file)).toBe(text);
  expect((await liveVs(s.ns)).spec.http[0]!.route.map((r) => r.weight ?? 100)).toEqual([100]);
}, 600_000);

it("a person's commit to an unrelated file is rebased under Ramp's; a commit to a managed weight holds the rollout with a message naming it", async () => {
  const s = await podinfoRepo();
  shops.push(s);
  const handle = await startRollout(w.client, rollout(s, [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 }]), { taskQueue: w.taskQueue });
  handles.push(handle);
  await waitForPhase(handle, 'Paused', 240_000);
  const person = await cloneAsPerson(s.repo);
  await commitAndPush(s.repo, person, { 'README.md': 'podinfo runs here\n' }, 'Docs: where podinfo runs');
  await handle.executeUpdate('resume', { args: [{ by: 'carol' }] });
  await eventually('paused at 50 %', async () => ((await rampCommits(s.repo)).some((c) => c.canary === 50) ? true : undefined), 240_000);
  await waitForPhase(handle, 'Paused', 240_000);
  const subjects = (await gitOk(['--git-dir', s.repo.bareDir, 'log', '--format=%s', s.repo.branch])).split('\n');
  expect(subjects).toContain('Docs: where podinfo runs');

  await gitOk(['pull', '--quiet', '--rebase', 'origin', s.repo.branch], { cwd: person, auth: s.repo });
  const vsPath = `${DIR}/virtualservice.yaml`;
  const text = (await fileAt(s.repo, vsPath))!;
  const human = await commitAndPush(s.repo, person, { [vsPath]: text.replace('weight: 50', 'weight: 5').replace('weight: 50', 'weight: 95') }, 'Ops: less canary please');
  await handle.executeUpdate('resume', { args: [{ by: 'carol' }] });
  const held = await eventually('held by drift', async () => {
    const st = await handle.query(statusQuery);
    return /changed outside Ramp/.test(st.message ?? '') ? st : undefined;
  }, 120_000);
  expect(held.message).toContain(`commit ${human.slice(0, 12)} by Test Person <person@example.test> ("Ops: less canary please")`);
  await handle.executeUpdate(abortUpdate, { args: [{ reason: 'done', by: 'jest' }] });
  expect((await awaitResult(handle)).outcome).toBe('RolledBack');
}, 600_000);

it("no history of this file's rollouts holds the git password, alone or as the basic-auth header", async () => {
  const git = stackInfo().git;
  const password = fs.readFileSync(git.passwordFile, 'utf8').trim();
  const secrets = [password, Buffer.from(`${git.username}:${password}`).toString('base64')];
  expect(handles.length).toBeGreaterThanOrEqual(3);
  for (const h of handles) {
    const raw = JSON.stringify(await h.fetchHistory());
    // Payloads are base64 in the history's JSON: decode each, then search both.
    const decoded = [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('latin1'));
    const text = [raw, ...decoded].join('\n');
    // The scan reads the input: the spec names the credentials file, never its content.
    expect(text).toContain('basicAuthFile');
    for (const secret of secrets) expect(text.includes(secret)).toBe(false);
  }
});
