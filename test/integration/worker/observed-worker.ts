/**
 * The worker process (src/worker/main.ts) as a platform engineer runs it, watched from outside:
 * its stdout and stderr, its HTTP endpoints, and the local stack's Prometheus scraping it through
 * file-based discovery (a target file in the stack's targets directory, as the traffic generator
 * registers its own /metrics).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, stackInfo, workerEnv } from '../../support/stack';

const ROOT = path.resolve(__dirname, '../../..');
const MAIN = path.join(ROOT, 'src/worker/main.ts');

export { freePort };

function spawnWorker(env: Record<string, string>): ChildProcess {
  // Node runs the worker itself (tsx as a loader), so the pid we signal is the worker's.
  return spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { ...process.env, ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface ObservedWorker {
  /** host:port of /healthz, /readyz and Ramp's /metrics. */
  http: string;
  /** host:port of the SDK's /metrics. */
  sdk: string;
  stdout(): string;
  stderr(): string;
  /** Stops it with SIGTERM; resolves with its exit code. */
  stop(): Promise<number | null>;
}

export async function startObservedWorker(taskQueue: string, extraEnv: Record<string, string> = {}): Promise<ObservedWorker> {
  const [httpPort, sdkPort] = [await freePort(), await freePort()];
  const http = `127.0.0.1:${httpPort}`;
  const sdk = `127.0.0.1:${sdkPort}`;
  const child = spawnWorker({ ...workerEnv(stackInfo(), taskQueue), RAMP_HTTP_ADDRESS: http, RAMP_SDK_METRICS_ADDRESS: sdk, ...extraEnv });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes('polling task queue')) resolve();
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`worker exited (${code}) before polling:\n${err}\n${out.slice(-3000)}`)));
  });
  return {
    http,
    sdk,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the worker process until it exits by itself (or kills it after timeoutMs). */
export async function runWorkerToExit(env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnWorker(env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Adds scrape targets to the local stack's Prometheus with a `ramp_worker` label; returns the remover. */
export function registerScrapeTargets(id: string, targets: string[]): () => void {
  const dir = stackInfo().prometheus.targetsDir;
  const file = path.join(dir, `ramp-worker-${id}.json`);
  // Written aside and renamed, so Prometheus never reads half a file.
  const tmp = path.join(dir, `.ramp-worker-${id}.json.tmp`);
  fs.writeFileSync(tmp, `${JSON.stringify([{ targets, labels: { ramp_worker: id } }], null, 2)}\n`);
  fs.renameSync(tmp, file);
  return () => fs.rmSync(file, { force: true });
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** An instant query against the local stack's Prometheus. */
export async function promql(query: string): Promise<PromSample[]> {
  const res = await fetch(`${stackInfo().prometheus.url}/api/v1/query?${new URLSearchParams({ query }).toString()}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`PromQL ${query}: ${body.error ?? res.status}`);
  return body.data!.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** The JSON objects of a worker's stdout, one per line; a line that is not JSON fails. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON log line: ${l.slice(0, 300)}`);
    }
  });
}

/** The lines of a worker's stderr that are its own: Node's process warnings (deprecations of a dependency's API under a newer Node) are not. */
export function ownLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/^\(node:\d+\) |^\(Use `node --trace-/.test(l));
}
