/**
 * A Ramp worker as its own process — the real entry point, src/worker/main.ts — so a test can
 * SIGKILL it mid-rollout and start another, as a crash and a redeploy would.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { stackInfo, workerEnv } from './stack';

const ROOT = path.resolve(__dirname, '../..');

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export async function startWorkerProcess(taskQueue: string, extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
  // Node itself runs the worker (tsx as a loader, not tsx's CLI, which would fork a child): the
  // pid we signal is the worker's.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/worker/main.ts')], {
    env: { ...process.env, ...workerEnv(stackInfo(), taskQueue), ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('polling task queue')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, sig) => reject(new Error(`worker exited (${code ?? sig}) before polling:\n${out}`)));
  });
  return {
    child,
    output: () => out,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}
