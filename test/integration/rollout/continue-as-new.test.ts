/**
 * Long rollouts hand over to a fresh run (continue-as-new) before their history grows large. Here
 * the limit is lowered to 60 events so a rollout of a minute does it several times: each run stays
 * near the limit, the step analysis resumes where it was (its measurements are carried, none is
 * taken twice), a background analysis and pending waits carry over, commands reach the latest run,
 * the judge's state carries over, and a rollback after a hand-over still restores the routes it
 * changed in an earlier run.
 */
import { activityCalls } from '../../../src/client/history';
import { startRollout } from '../../../src/client/rollouts';
import { recordHistory } from '../../support/histories';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, approveUpdate, statusQuery } from '../../../src/shared/messages';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
let w: TestWorker;
let shop: Mushop;
const LIMIT = 60;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
});
beforeEach(async () => {
  shop = await createMushop(kc, { mode: 'subset' });
});
afterEach(async () => {
  await shop?.cleanup();
});

const passing = (interval: string, count?: number) => ({
  interval, ...(count !== undefined ? { count } : {}),
  metrics: [{ name: 'always-passes', query: 'vector(100)', thresholdRange: { min: 99 } }],
});

/** Every run of the rollout's workflow, oldest first, with its history. */
async function runsOf(workflowId: string) {
  const runs: { runId: string; events: number; calls: ReturnType<typeof activityCalls> }[] = [];
  for await (const wf of w.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    const history = await w.client.workflow.getHandle(workflowId, wf.runId).fetchHistory();
    runs.push({ runId: wf.runId, events: history.events?.length ?? 0, calls: activityCalls(history.events ?? []) });
  }
  return runs.reverse();
}

it('hands over between runs, resuming the analysis, the pause and the approval where they were', async () => {
  const rollout = validateRollout(shop.rolloutRaw(
    [{ setWeight: 20 }, { analysis: passing('1s', 30) }, { pause: { duration: '3s' } }, { approval: {} }, { setWeight: 60 }],
    { analysis: passing('2s'), rollback: { scaleDownDelay: '1s' } },
  ));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue, historyLimit: LIMIT });
  const waiting = await waitForPhase(handle, 'AwaitingApproval', 120_000);
  expect(waiting.step.index).toBe(3);
  const accepted = await handle.executeUpdate(approveUpdate, { args: [{ by: 'oncall' }] });
  expect(accepted.status.audit.filter((a) => a.event === 'approve')).toHaveLength(1);
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Promoted');

  const runs = await runsOf(handle.workflowId);
  expect(runs.length).toBeGreaterThanOrEqual(3);
  // Each run stops at its first wait past the limit; a look and the workflow task around it add a few
  // events. The last run then promotes and cleans up without stopping (about 40 more events): its
  // steps, the events before promoteStable, stay within the same bound.
  for (const run of runs.slice(0, -1)) expect(run.events).toBeLessThan(LIMIT + 25);
  // A run hands over with nothing in flight: no call is left behind, started and never waited for.
  for (const run of runs.slice(0, -1)) expect(run.calls.filter((c) => c.outcome === 'pending')).toEqual([]);
  const promoted = runs.at(-1)!.calls.find((c) => c.name === 'promoteStable');
  expect(promoted?.eventId).toBeLessThan(LIMIT + 25);
  const all = runs.flatMap((r) => r.calls);
  // The step analysis took exactly its 30 measurements across runs: none lost, none repeated.
  expect(all.filter((c) => c.summary === 'step analysis: always-passes')).toHaveLength(30);
  // Each weight was set once, whatever run it fell in; the canary was created once; the cleanup
  // restored the routes once.
  expect(all.filter((c) => c.name === 'trafficSetWeight').map((c) => (c.result as { weights: { canary: number } }).weights.canary)).toEqual([20, 60]);
  expect(all.filter((c) => c.name === 'trafficUndo').map((c) => c.summary)).toEqual([expect.stringMatching(/^cleanup: undo: add the canary at 0 %/), expect.stringMatching(/^cleanup: undo: set subsets/)]);
  expect(all.filter((c) => c.name === 'ensureCanary')).toHaveLength(1);
  // The audit log travelled with the state: one start, one approval, in order.
  expect(result.status.audit.map((a) => a.event).filter((e) => e !== 'analysis')).toEqual(['start', 'readiness', 'approve', 'promoted']);
  // The step analysis ended once, after its 30th measurement, counted across runs.
  expect(result.status.audit.filter((a) => a.event === 'analysis').map((a) => a.reason)).toEqual([expect.stringMatching(/^Successful: all 1 metric passed 30 measurements/)]);
  expect((await clusterView(kc, shop.namespace).vs()).spec).toEqual(shop.original.vs.spec);
  // The last run, which started from a checkpoint, is a replay fixture.
  await recordHistory(w.client.workflow.getHandle(handle.workflowId, runs.at(-1)!.runId), 'continued-as-new-last-run');
}, 240_000);

it('an abort after hand-overs rolls back what an earlier run changed', async () => {
  const view = clusterView(kc, shop.namespace);
  const rollout = validateRollout(shop.rolloutRaw(
    [{ setWeight: 30 }, { pause: {} }],
    { analysis: { interval: '1s', judge: { sequential: {} } }, rollback: { scaleDownDelay: '1s' } },
  ));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue, historyLimit: LIMIT });
  await eventually('two hand-overs during the pause', async () => ((await runsOf(handle.workflowId)).length >= 3 ? true : undefined), 120_000, 1000);
  for (const run of (await runsOf(handle.workflowId)).slice(0, -1)) expect(run.calls.filter((c) => c.outcome === 'pending')).toEqual([]);
  const s = await handle.query(statusQuery);
  expect(s.phase).toBe('Paused');
  expect(s.weights.canary).toBe(30);
  expect(await view.canaryWeight()).toBe(30);

  await handle.executeUpdate(abortUpdate, { args: [{ by: 'oncall', reason: 'enough' }] });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('RolledBack');
  expect(result.reason).toBe('aborted by oncall: enough');
  expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
  expect((await view.dr()).spec).toEqual(shop.original.dr!.spec);
  expect(await view.deployment('storefront-original-canary')).toBeUndefined();
  // The judge's looks were counted across runs: its last reason names the look it was at.
  // (A look in flight when the abort came is cancelled with the analysis, unseen by the judge.)
  const looks = (await runsOf(handle.workflowId)).flatMap((r) => r.calls).filter((c) => c.name === 'readCounters' && c.outcome === 'completed' && !c.cancelRequested);
  expect(looks.map((c) => c.summary)).toEqual(looks.map((_, k) => `background analysis: sequential judge, look ${k}`));
  expect(result.status.lastAnalysis?.judge?.kind).toBe('sequential');
  expect(result.status.lastAnalysis?.reason).toMatch(new RegExp(`^sequential judge \\(look ${looks.length - 1}, until the steps end\\)`));
}, 240_000);
