/**
 * Temporal is real: a workflow started with @temporalio/client runs on a Ramp worker process
 * (the real entry point, src/worker/main.ts) and is visible through the stock Temporal CLI.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { RAMP_SEARCH_ATTRIBUTES } from '../../../src/shared/search-attributes';
import type { doctorWorkflow } from '../../../src/workflows';
import { restartComponent } from '../../../scripts/stack/stack';
import { binaries, stackInfo, uniqueName, workerEnv } from '../../support/stack';

const ROOT = path.resolve(__dirname, '../../..');

describe('local Temporal', () => {
  const info = stackInfo();
  const taskQueue = uniqueName('smoke-tq');
  let worker: ChildProcess;
  let workerOutput = '';
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    worker = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/worker/main.ts')], {
      env: { ...process.env, ...workerEnv(info, taskQueue) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer) => {
        workerOutput += b.toString();
        if (workerOutput.includes('polling task queue')) resolve();
      };
      worker.stdout!.on('data', onData);
      worker.stderr!.on('data', onData);
      worker.on('exit', (code) => reject(new Error(`worker exited with ${code}:\n${workerOutput}`)));
    });
    connection = await Connection.connect({ address: info.temporal.address });
    client = new Client({ connection, namespace: info.temporal.namespace });
  });

  afterAll(async () => {
    await connection?.close();
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
  });

  it('runs a workflow on a Ramp worker that reaches Kubernetes and Prometheus', async () => {
    const workflowId = uniqueName('smoke-doctor');
    const report = await client.workflow.execute<typeof doctorWorkflow>('doctorWorkflow', { taskQueue, workflowId, args: [] });
    expect(report.taskQueue).toBe(taskQueue);
    expect(report.kubernetes.version).toBe(info.kubernetes.version);
    expect(report.kubernetes.server).toBe(info.kubernetes.server);
    expect(report.prometheus.version).toMatch(/^\d+\.\d+\.\d+/);

    // The stock CLI sees the same execution.
    const out = execFileSync(binaries().temporal, [
      'workflow', 'describe', '--workflow-id', workflowId, '--address', info.temporal.address,
      '--namespace', info.temporal.namespace, '--output', 'json',
    ], { encoding: 'utf8' });
    const described = JSON.parse(out) as { workflowExecutionInfo: { type: { name: string }; status: string; taskQueue: string } };
    expect(described.workflowExecutionInfo.type.name).toBe('doctorWorkflow');
    expect(described.workflowExecutionInfo.status).toBe('WORKFLOW_EXECUTION_STATUS_COMPLETED');
    expect(described.workflowExecutionInfo.taskQueue).toBe(taskQueue);
  });

  it("has Ramp's search attributes registered", async () => {
    const res = await connection.operatorService.listSearchAttributes({ namespace: info.temporal.namespace });
    const names = Object.keys(res.customAttributes ?? {});
    for (const key of RAMP_SEARCH_ATTRIBUTES) expect(names).toContain(key.name);
  });

  it('keeps workflows in its SQLite file (the server was started with --db-filename)', () => {
    const rec = execFileSync('ps', ['-o', 'args=', '-C', 'temporal'], { encoding: 'utf8' });
    expect(rec).toContain(`--db-filename=${info.temporal.dbFile}`);
  });

  it('keeps a pending workflow across a dev-server restart, and the running worker picks it up', async () => {
    const workflowId = uniqueName('smoke-restart');
    // The first workflow task is due only after the restart, so it must come from the database.
    const handle = await client.workflow.start<typeof doctorWorkflow>('doctorWorkflow', {
      taskQueue, workflowId, args: [], startDelay: '6s',
    });
    await restartComponent('temporal');
    const report = await handle.result();
    expect(report.kubernetes.version).toBe(info.kubernetes.version);
    const desc = await client.workflow.getHandle(workflowId).describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.runId).toBe(handle.firstExecutionRunId);
  });
});
