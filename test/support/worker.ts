/**
 * A real Ramp worker (src/worker/worker.ts) on a test task queue, against the local stack, plus a
 * client. The workflow bundle is built once per test file.
 */
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createRampWorker, RampWorker, WorkerClients } from '../../src/worker/worker';
import type { RolloutHandle } from '../../src/client/rollouts';
import type { RolloutStatus } from '../../src/domain/rollout/state';
import { statusQuery } from '../../src/shared/messages';
import { eventually, stackInfo, uniqueName, workerConfig } from './stack';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let runtimeInstalled = false;

/** Worker logs at WARN, so test output shows what matters. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier worker in this process.
  }
}

export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../src/workflows/index.ts'), logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => process.stderr.write(`[bundle] ${m}\n`), error: (m: string) => process.stderr.write(`[bundle] ${m}\n`),
};

export interface TestWorker {
  taskQueue: string;
  client: Client;
  connection: Connection;
  ramp: RampWorker;
  /** Stops the worker and closes both connections. */
  close(): Promise<void>;
}

export async function startTestWorker(taskQueue = uniqueName('ramp-tq'), identity?: string, clients: WorkerClients = {}): Promise<TestWorker> {
  quietRuntime();
  const info = stackInfo();
  const ramp = await createRampWorker(workerConfig(info, taskQueue), { workflowBundle: await workflowBundle(), shutdownGraceTime: '2s', ...(identity ? { identity } : {}) }, clients);
  const running = ramp.worker.run();
  const connection = await Connection.connect({ address: info.temporal.address });
  const client = new Client({ connection, namespace: info.temporal.namespace });
  return {
    taskQueue,
    client,
    connection,
    ramp,
    async close() {
      await connection.close();
      ramp.worker.shutdown();
      await running;
      await ramp.connection.close();
    },
  };
}

/** Waits until the rollout reports the phase; returns its status then. */
export async function waitForPhase(handle: RolloutHandle, want: string, timeoutMs = 90_000): Promise<RolloutStatus> {
  return eventually(`phase ${want}`, async () => {
    const s = await handle.query(statusQuery);
    return s.phase === want ? s : undefined;
  }, timeoutMs, 200);
}
