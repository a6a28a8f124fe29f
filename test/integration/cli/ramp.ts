/** The `ramp` CLI as a subprocess, exactly as a CI pipeline runs it, against the local stack. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { stackInfo } from '../../support/stack';

export const ROOT = path.resolve(__dirname, '../../..');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ramp args…` in the repository root with the stack's Temporal and the given task queue; `env` overrides. */
export function ramp(args: string[], taskQueue: string, env: Record<string, string> = {}): Promise<Run> {
  const info = stackInfo();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/client/cli/main.ts'), ...args], {
      cwd: ROOT,
      env: {
        ...process.env, TEMPORAL_ADDRESS: info.temporal.address, TEMPORAL_NAMESPACE: info.temporal.namespace, RAMP_TASK_QUEUE: taskQueue,
        KUBECONFIG: info.kubernetes.kubeconfig, CI: 'true', INIT_CWD: '', ...env,
      },
      encoding: 'utf8',
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}
