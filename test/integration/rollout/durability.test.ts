/**
 * A rollout survives its worker being SIGKILLed — mid-pause and mid-activity — and the Temporal
 * dev server being restarted on the same database file: a new worker carries on and the rollout
 * ends correctly, with the cluster as its scenario dictates.
 */
import * as k8s from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { restartComponent } from '../../../scripts/stack/stack';
import { validateRollout } from '../../../src/domain/spec/parse';
import { statusQuery } from '../../../src/shared/messages';
import { RolloutHandle, startRollout } from '../../../src/client/rollouts';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually, stackInfo, uniqueName } from '../../support/stack';
import { recordHistory } from '../../support/histories';
import { startWorkerProcess, WorkerProcess } from '../../support/worker-process';
import { waitForPhase } from '../../support/worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
const info = stackInfo();
let connection: Connection;
let client: Client;
let shop: Mushop;
let workers: WorkerProcess[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address: info.temporal.address });
  client = new Client({ connection, namespace: info.temporal.namespace });
});
afterAll(async () => {
  await connection?.close();
});
beforeEach(async () => {
  shop = await createMushop(kc, { mode: 'subset' });
});
afterEach(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  workers = [];
  await shop?.cleanup();
});

async function worker(taskQueue: string): Promise<WorkerProcess> {
  const w = await startWorkerProcess(taskQueue);
  workers.push(w);
  return w;
}

const phase = waitForPhase;

async function expectPromoted(handle: RolloutHandle) {
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Promoted');
  const view = clusterView(kc, shop.namespace);
  expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
  expect((await view.dr()).spec).toEqual(shop.original.dr!.spec);
  expect(await view.deployment('storefront-original-canary')).toBeUndefined();
  expect((await view.deployment('storefront-original'))?.spec?.template.spec?.containers[0]?.image).toBe('iad.ocir.io/mushop/storefront:beta');
  return result;
}

it('worker SIGKILLed mid-pause: a new worker carries on and promotes', async () => {
  const tq = uniqueName('dur-pause');
  const first = await worker(tq);
  const handle = await startRollout(client, validateRollout(shop.rolloutRaw([{ setWeight: 20 }, { pause: { duration: '6s' } }, { setWeight: 60 }, { setWeight: 100 }])), { taskQueue: tq });
  await phase(handle, 'Paused');
  await first.kill('SIGKILL');
  // The pause's timer lives in the server; weights stay where the dead worker left them.
  expect(await clusterView(kc, shop.namespace).canaryWeight()).toBe(20);
  await worker(tq);
  const result = await expectPromoted(handle);
  expect(result.status.audit.map((a) => a.event)).toEqual(['start', 'readiness', 'promoted']);
  await recordHistory(handle, 'worker-killed-mid-pause');
});

it('worker SIGKILLed mid-activity (waiting for the canary to become Available): the activity is retried on a new worker', async () => {
  const tq = uniqueName('dur-activity');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const pool = uniqueName('pool');
  const first = await worker(tq);
  const handle = await startRollout(client, validateRollout(shop.rolloutRaw([{ setWeight: 50 }, { setWeight: 100 }], {
    canary: {
      image: 'iad.ocir.io/mushop/storefront:beta',
      versionLabel: { key: 'version', stable: 'original', canary: 'beta' },
      podTemplatePatch: { spec: { nodeSelector: { 'ramp.dev/test-pool': pool } } },
    },
    progressDeadline: '5m',
  })), { taskQueue: tq });
  // The canary's pods wait for a node in `pool`; the worker is inside waitAvailable, heartbeating.
  await eventually('waitAvailable heartbeating', async () => {
    const desc = await handle.describe();
    const pending = desc.raw.pendingActivities ?? [];
    return pending.some((a) => a.activityType?.name === 'waitAvailable' && a.heartbeatDetails) ? true : undefined;
  }, 60_000, 250);
  await first.kill('SIGKILL');
  await worker(tq);
  await core.patchNode(
    { name: 'kwok-node-1', body: { metadata: { labels: { 'ramp.dev/test-pool': pool } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  try {
    await expectPromoted(handle);
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1);
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    await recordHistory(handle, 'worker-killed-mid-activity');
  } finally {
    await core.patchNode(
      { name: 'kwok-node-1', body: { metadata: { labels: { 'ramp.dev/test-pool': null } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }
});

it('Temporal dev server restarted mid-rollout (same database file): the rollout carries on', async () => {
  const tq = uniqueName('dur-server');
  await worker(tq);
  const handle = await startRollout(client, validateRollout(shop.rolloutRaw([{ setWeight: 30 }, { pause: { duration: '5s' } }, { setWeight: 100 }])), { taskQueue: tq });
  await phase(handle, 'Paused');
  await restartComponent('temporal');
  const s = await handle.query(statusQuery);
  expect(['Paused', 'Progressing', 'Promoting', 'Succeeded']).toContain(s.phase);
  await expectPromoted(handle);
  await recordHistory(handle, 'server-restarted');
});
