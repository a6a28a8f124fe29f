/**
 * Commands while no worker runs, on the real stack: a rollout started with a worker waits in a
 * pause step; the worker stops. Commands are then queued in the rollout's history as signals (exit
 * 3, as unreachable) instead of updates that Temporal would keep and apply later behind the CLI's back; `ramp
 * status` shows the phase as of its last change and says why. A worker on the same task queue
 * comes back and applies them in order: the pause, the approval refused (nothing awaits one), the
 * abort — the rollout rolls back, and `ramp story` tells the refused one as refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import YAML from 'yaml';
import { workflowPollers } from '../../../src/client/workers';
import { createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually, stackInfo, uniqueName } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';
import { ramp } from './ramp';
import { awaitResult } from '../../support/results';

const info = stackInfo();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-cli-noworker-'));
let connection: Connection;
let client: Client;
let shop: Mushop | undefined;
let w: TestWorker | undefined;

beforeAll(async () => {
  connection = await Connection.connect({ address: info.temporal.address });
  client = new Client({ connection, namespace: info.temporal.namespace });
});
afterAll(async () => {
  await w?.close();
  await shop?.cleanup();
  await connection?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

it('queues commands as signals while no worker polls, says so (exit 3), and a returning worker applies them', async () => {
  const taskQueue = uniqueName('ramp-tq');
  const run = (args: string[]) => ramp(args, taskQueue);
  w = await startTestWorker(taskQueue);
  shop = await createMushop(adminKubeConfig(), { mode: 'subset' });
  const file = path.join(tmp, 'rollout.yaml');
  fs.writeFileSync(file, YAML.stringify(shop.rolloutRaw([{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }])));
  expect((await run(['start', '-f', file])).code).toBe(0);
  const name = `${shop.namespace}/storefront`;
  const handle = client.workflow.getHandle(`rollout/${shop.namespace}/storefront-original`);
  await waitForPhase(handle, 'Paused', 60_000);
  await w.close();
  w = undefined;

  // Just stopped: Temporal still lists the worker (its last poll began under a minute ago), so the
  // CLI asks it a status query first, and hears nothing.
  const pause = await run(['pause', name, '--by', 'alice']);
  expect(pause.stderr).toBe('');
  expect(pause.code).toBe(3);
  expect(pause.stdout).toMatch(new RegExp(`^pause queued in the rollout's history: applied when a worker polls task queue ${taskQueue}; a worker polled it \\d+s ago but did not answer within 10s`));

  await eventually('the stopped worker to drop out of the poll window', async () => ((await workflowPollers(client, taskQueue)).polling ? undefined : true), 90_000, 1000);

  const st = await run(['status', name]);
  expect(st.code).toBe(3);
  expect(st.stdout).toMatch(new RegExp(`^no worker is polling task queue ${taskQueue} \\(the last poll began \\d+s ago\\): this is the phase as of its last change\n`));
  expect(st.stdout).toMatch(/\nPhase {6}Paused since \S+ \(\d+s ago\)\n/);
  expect(st.stdout).toContain(`Temporal   RUNNING on task queue ${taskQueue}`);
  const stJson = JSON.parse((await run(['status', name, '--output', 'json'])).stdout) as { phase: string; stale: boolean };
  expect(stJson).toMatchObject({ phase: 'Paused', stale: true });

  const approve = await run(['approve', name, '--by', 'bob']);
  expect(approve.code).toBe(3);
  expect(approve.stdout).toMatch(new RegExp(`^approve queued in the rollout's history: applied when a worker polls task queue ${taskQueue}; no worker is polling it now \\(its last poll began \\d+s ago\\)\\.`));
  const abort = await run(['abort', name, '--reason', 'no worker, no canary', '--by', 'carol', '--output', 'json']);
  expect(abort.code).toBe(3);
  expect(JSON.parse(abort.stdout)).toMatchObject({ command: 'abort', queued: true, via: 'signal', taskQueue });

  // Nothing was applied while no worker ran.
  const idle = await client.workflow.getHandle(handle.workflowId).describe();
  expect(idle.typedSearchAttributes.getAll().find((p) => p.key.name === 'RampPhase')?.value).toBe('Paused');

  w = await startTestWorker(taskQueue);
  const result = await awaitResult(handle) as { outcome: string; status: { audit: { event: string; via: string; by?: string; accepted: boolean }[] } };
  expect(result.outcome).toBe('RolledBack');
  expect(result.status.audit.filter((a) => a.via === 'signal').map((a) => [a.event, a.by, a.accepted])).toEqual([
    ['pause', 'alice', true], ['approve', 'bob', false], ['abort', 'carol', true],
  ]);

  const story = await run(['story', name]);
  expect(story.code).toBe(0);
  expect(story.stdout).toMatch(/ {2}signal pause by alice\n/);
  expect(story.stdout).toMatch(/ {2}signal approve by bob — REFUSED, nothing changed: nothing awaits approval: /);
  expect(story.stdout).toMatch(/ {2}signal abort by carol: "no worker, no canary"\n/);
  expect((await run(['status', name])).code).toBe(0);
}, 240_000);
