/**
 * The worker process started from a prebuilt workflow bundle (RAMP_WORKFLOW_BUNDLE, written by
 * `npm run build:bundle`) runs rollouts; a bad bundle path stops it at start, naming the setting.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startRollout } from '../../../src/client/rollouts';
import { validateRollout } from '../../../src/domain/spec/parse';
import { writeWorkflowBundle } from '../../../src/worker/bundle';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, stackInfo, uniqueName } from '../../support/stack';
import { startWorkerProcess, WorkerProcess } from '../../support/worker-process';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
const info = stackInfo();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-bundle-'));
let connection: Connection;
let client: Client;
let shop: Mushop | undefined;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  connection = await Connection.connect({ address: info.temporal.address });
  client = new Client({ connection, namespace: info.temporal.namespace });
});
afterAll(async () => {
  await worker?.kill('SIGTERM');
  await shop?.cleanup();
  await connection?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('a worker started from a prebuilt bundle promotes a rollout', async () => {
  const file = path.join(dir, 'workflow-bundle.js');
  expect(await writeWorkflowBundle(file)).toBeGreaterThan(100_000);
  const taskQueue = uniqueName('prebuilt');
  worker = await startWorkerProcess(taskQueue, { RAMP_WORKFLOW_BUNDLE: file });
  shop = await createMushop(kc, { mode: 'subset' });
  const handle = await startRollout(client, validateRollout(shop.rolloutRaw([{ setWeight: 50 }, { setWeight: 100 }], { rollback: { scaleDownDelay: '1s' } })), { taskQueue });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Promoted');
  expect((await clusterView(kc, shop.namespace).vs()).spec).toEqual(shop.original.vs.spec);
}, 180_000);

it('a bundle path that does not exist stops the worker at start, naming the setting and the fix', async () => {
  const missing = path.join(dir, 'nope.js');
  await expect(startWorkerProcess(uniqueName('prebuilt'), { RAMP_WORKFLOW_BUNDLE: missing }))
    .rejects.toThrow(/RAMP_WORKFLOW_BUNDLE: cannot read the workflow bundle .*nope\.js \(ENOENT\); build it with `npm run build:bundle/);
}, 60_000);
