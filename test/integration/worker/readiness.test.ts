/**
 * /readyz against the real Temporal dev server: 503 with its reason until the worker polls, 200
 * while it does, 503 again once it shuts down — served by the real HTTP endpoint, with the
 * worker that src/worker/worker.ts builds.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startHttpServer, type RampHttpServer } from '../../../src/worker/http';
import { RampMetrics } from '../../../src/worker/metrics';
import { WorkerReadiness } from '../../../src/worker/readiness';
import { createRampWorker, type RampWorker } from '../../../src/worker/worker';
import { eventually, stackInfo, uniqueName, workerConfig } from '../../support/stack';
import { workflowBundle } from '../../support/worker';

const info = stackInfo();
let server: RampHttpServer | undefined;
let ramp: RampWorker | undefined;
let running: Promise<void> | undefined;

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // installed by an earlier test in this process
  }
});
afterAll(async () => {
  if (ramp?.worker.getState() === 'RUNNING') ramp.worker.shutdown();
  await running;
  await server?.close();
});

const readyz = async () => {
  const res = await fetch(`http://${server!.address}/readyz`);
  return [res.status, await res.text()] as const;
};
const readyGauge = async () => /^ramp_worker_ready (\d)$/m.exec(await (await fetch(`http://${server!.address}/metrics`)).text())?.[1];

it('is 503 until the worker polls, 200 while it does, and 503 once it stops', async () => {
  const config = workerConfig(info, uniqueName('readyz-tq'));
  const readiness = new WorkerReadiness(config.TEMPORAL_ADDRESS);
  const metrics = new RampMetrics({ ready: async () => (await readiness.check()).ready });
  server = await startHttpServer('127.0.0.1:0', { readiness: () => readiness.check(), metrics: () => metrics.exposition() });

  expect(await readyz()).toEqual([503, `starting: not connected to Temporal at ${info.temporal.address} yet\n`]);
  expect(await readyGauge()).toBe('0');

  ramp = await createRampWorker(config, { workflowBundle: await workflowBundle(), shutdownGraceTime: '2s' }, {}, { metrics });
  readiness.attach(ramp.worker, ramp.connection);
  expect(await readyz()).toEqual([503, 'worker is INITIALIZED, not polling\n']);

  running = ramp.worker.run();
  const ready = await eventually('readyz 200', async () => {
    const r = await readyz();
    return r[0] === 200 ? r : undefined;
  }, 30_000, 100);
  expect(ready).toEqual([200, 'ready\n']);
  expect(await readyGauge()).toBe('1');
  expect(ramp.worker.getStatus()).toMatchObject({ workflowPollerState: 'POLLING', activityPollerState: 'POLLING' });

  ramp.worker.shutdown();
  const [status, reason] = await readyz();
  expect(status).toBe(503);
  expect(reason).toMatch(/^worker is (STOPPING|DRAINING|DRAINED|STOPPED), not polling\n$/);
  await running;
  expect(await readyz()).toEqual([503, 'worker is STOPPED, not polling\n']);
  // What the worker process does after run() returns.
  readiness.stop('shutting down');
  expect(await readyz()).toEqual([503, 'shutting down\n']);
}, 120_000);
