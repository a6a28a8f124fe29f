/**
 * A worker upgrade while rollouts are in flight (docs/decisions/0013): rollouts started on build A
 * (today's workflow code as it was before the fail-on-outcome patch, decisions/0022) are finished by
 * build B (today's code), whose workflow also adds a timer at the start of every run — a change that
 * breaks replay of A's histories unless it is guarded by `patched()`. Both builds run as real
 * worker processes from prebuilt bundles (RAMP_WORKFLOW_BUNDLE), as two releases of the worker image
 * would; A is stopped once B polls, and every rollout ends as its scenario dictates: the one A
 * started and B rolled back still completes, as A would have ended it. Replaying the recorded
 * histories shows what the guard is for: build B without it fails on every rollout A started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { rolloutResult, startRollout, type RolloutHandle } from '../../../src/client/rollouts';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, approveUpdate } from '../../../src/shared/messages';
import { FAIL_ON_OUTCOME_PATCH } from '../../../src/shared/outcomes';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { patchIds } from '../../support/histories';
import { adminKubeConfig, stackInfo, uniqueName } from '../../support/stack';
import { startWorkerProcess, WorkerProcess } from '../../support/worker-process';
import { waitForPhase } from '../../support/worker';
import { ignoreRolloutObservations } from '../../../src/worker/rollouts';

const ROOT = path.resolve(__dirname, '../../..');
const BUILDS = path.join(ROOT, '.stack', 'builds');
const kc = adminKubeConfig();
const info = stackInfo();
const taskQueue = uniqueName('upgrade');
let connection: Connection;
let client: Client;
const shops: Mushop[] = [];
const workers: WorkerProcess[] = [];

/** The change build B makes: a timer at the start of every run, before any other command. */
const ANCHOR = 'return CancellationScope.nonCancellable(async () => {';
const PROBE = 'upgrade-probe-v1';
const CHANGE = {
  guarded: [ANCHOR, `${ANCHOR}\n    if (patched('${PROBE}')) await sleep(1, { summary: 'upgrade probe' });`],
  unguarded: [ANCHOR, `${ANCHOR}\n    await sleep(1, { summary: 'upgrade probe' });`],
} satisfies Record<string, [string, string]>;
/** Build A: the release before decisions/0022, whose runs complete whatever their outcome. */
const BEFORE_FAIL_ON_OUTCOME: [string, string] = ['patched(FAIL_ON_OUTCOME_PATCH)', 'false'];

/** A copy of src/ with the workflow changed, bundled as a release would bundle it; returns the bundle file. */
async function build(name: string, ...changes: [from: string, to: string][]): Promise<string> {
  const dir = path.join(BUILDS, `${name}-${Date.now()}`);
  fs.cpSync(path.join(ROOT, 'src'), path.join(dir, 'src'), { recursive: true });
  if (changes.length > 0) {
    const file = path.join(dir, 'src/workflows/rollout.ts');
    let code = fs.readFileSync(file, 'utf8');
    for (const [from, to] of changes) {
      if (!code.includes(from)) throw new Error(`the upgrade test changes src/workflows/rollout.ts at "${from}", which is gone from it: update the test's anchors`);
      code = code.replace(from, to);
    }
    // The probe needs patched(); a second import of the module is fine where the workflow imports it already.
    if (!/\bpatched\b[^;]*from '@temporalio\/workflow'/.test(code)) code = `import { patched } from '@temporalio/workflow';\n${code}`;
    fs.writeFileSync(file, code);
  }
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(dir, 'src/workflows/index.ts'), logger: new DefaultLogger('WARN') });
  const file = path.join(dir, 'bundle.js');
  fs.writeFileSync(file, code);
  return file;
}

async function worker(bundle: string): Promise<WorkerProcess> {
  const w = await startWorkerProcess(taskQueue, { RAMP_WORKFLOW_BUNDLE: bundle });
  workers.push(w);
  return w;
}

async function shop(): Promise<Mushop> {
  const s = await createMushop(kc, { mode: 'subset' });
  shops.push(s);
  return s;
}

beforeAll(async () => {
  connection = await Connection.connect({ address: info.temporal.address });
  client = new Client({ connection, namespace: info.temporal.namespace });
});
afterAll(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  for (const s of shops) await s.cleanup();
  await connection?.close();
});

it('rollouts started on build A are finished by build B after A stops; the change that would break replay is guarded', async () => {
  const [bundleA, bundleB, bundleUnguarded] = await Promise.all([build('a', BEFORE_FAIL_ON_OUTCOME), build('b', CHANGE.guarded), build('b-unguarded', CHANGE.unguarded)]);
  const a = await worker(bundleA);

  const s1 = await shop();
  const s2 = await shop();
  const s3 = await shop();
  const start = (s: Mushop, steps: unknown[]) => startRollout(client, validateRollout(s.rolloutRaw(steps, { rollback: { scaleDownDelay: '1s' } })), { taskQueue });
  const aborted = await start(s1, [{ setWeight: 10 }, { pause: {} }]);
  const approved = await start(s2, [{ setWeight: 20 }, { approval: {} }, { setWeight: 60 }]);
  const timed = await start(s3, [{ setWeight: 30 }, { pause: { duration: '10s' } }, { setWeight: 50 }]);
  await waitForPhase(aborted, 'Paused');
  await waitForPhase(approved, 'AwaitingApproval');
  await waitForPhase(timed, 'Paused');

  // The upgrade: B comes up on the same task queue, A drains and stops.
  await worker(bundleB);
  await a.kill('SIGTERM');

  await aborted.executeUpdate(abortUpdate, { args: [{ by: 'oncall', reason: 'after the upgrade' }] });
  await approved.executeUpdate(approveUpdate, { args: [{ by: 'oncall' }] });
  const s4 = await shop();
  const afterUpgrade = await start(s4, [{ setWeight: 10 }]);

  const results = await Promise.all([aborted, approved, timed, afterUpgrade].map((h) => rolloutResult(h)));
  expect(results.map((r) => r.outcome)).toEqual(['RolledBack', 'Promoted', 'Promoted', 'Promoted']);
  expect(results[0]!.reason).toBe('aborted by oncall: after the upgrade');
  // Begun before fail-on-outcome, the rolled-back run ends as A would have ended it: completed.
  expect(await Promise.all([aborted, approved, timed, afterUpgrade].map(async (h) => (await h.describe()).status.name))).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);
  for (const s of [s1, s2, s3, s4]) {
    const view = clusterView(kc, s.namespace);
    expect((await view.vs()).spec).toEqual(s.original.vs.spec);
    expect((await view.dr()).spec).toEqual(s.original.dr!.spec);
    expect(await view.deployment('storefront-original-canary')).toBeUndefined();
  }
  expect((await clusterView(kc, s1.namespace).deployment('storefront-original'))?.spec?.template.spec?.containers[0]?.image).toBe(s1.stableImage);

  // Only the rollout started on B took the new paths.
  const markers = async (h: RolloutHandle) => patchIds((await h.fetchHistory()).events ?? []);
  expect(await Promise.all([aborted, approved, timed, afterUpgrade].map(markers))).toEqual([[], [], [], [FAIL_ON_OUTCOME_PATCH, PROBE]]);

  // The replay suite's guard: A's histories replay on B, and fail on B without the patch.
  const histories = await Promise.all([aborted, approved, timed].map(async (h) => ({
    workflowId: h.workflowId, history: historyFromJSON(JSON.parse(historyToJSON(await h.fetchHistory()))),
  })));
  const replay = async (bundle: string) => {
    const errors: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: { code: fs.readFileSync(bundle, 'utf8') }, sinks: ignoreRolloutObservations }, histories)) {
      if (r.error) errors.push(r.error.message);
    }
    return errors;
  };
  expect(await replay(bundleB)).toEqual([]);
  const unguarded = await replay(bundleUnguarded);
  expect(unguarded).toHaveLength(3);
  for (const e of unguarded) expect(e).toMatch(/[Nn]ondeterminism/);
}, 300_000);
