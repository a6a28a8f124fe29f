/** Access to the running local stack for integration tests. */
import * as net from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { loadBinaryPaths, loadStackConfig } from '../../scripts/stack/config';
import { readStackInfo, StackInfo } from '../../scripts/stack/info';
import type { WorkerConfig } from '../../src/worker/config';
import { loadWorkerConfig } from '../../src/worker/config';

export function stackInfo(): StackInfo {
  return readStackInfo(loadStackConfig());
}

/**
 * A parentRef to the stack's Gateway, which Contour manages: routes attached with it get their
 * status (Accepted, ResolvedRefs, observedGeneration) from a real Gateway API controller.
 */
export function gatewayParentRef(info = stackInfo()) {
  const g = info.gateway;
  if (!g) throw new Error(`${info.stateDir}/stack.json names no Gateway: bring the stack up with this checkout (npm run stack -- up)`);
  return { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: g.namespace, name: g.name, sectionName: g.listener };
}

export function binaries() {
  return loadBinaryPaths(loadStackConfig());
}

export function adminKubeConfig(info = stackInfo()): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.kubernetes.kubeconfig);
  return kc;
}

/** The environment a Ramp worker gets to talk to the local stack. */
export function workerEnv(info = stackInfo(), taskQueue = 'ramp-test'): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: info.temporal.address,
    TEMPORAL_NAMESPACE: info.temporal.namespace,
    RAMP_TASK_QUEUE: taskQueue,
    KUBECONFIG: info.kubernetes.kubeconfig,
    RAMP_PROMETHEUS_URL: info.prometheus.url,
    // Free ports: worker processes of several tests (and of other checkouts) run side by side.
    RAMP_HTTP_ADDRESS: '127.0.0.1:0',
    RAMP_SDK_METRICS_ADDRESS: '127.0.0.1:0',
  };
}

export function workerConfig(info = stackInfo(), taskQueue = 'ramp-test'): WorkerConfig {
  return loadWorkerConfig(workerEnv(info, taskQueue));
}

/** A name unique to this test run, valid as a Kubernetes name. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a defined value or the timeout passes. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * Ports handed out by freePort: below Linux's ephemeral range (32768–60999), where the kernel never
 * puts the local end of an outgoing connection, and above the stack's own ports (16443–19694).
 */
const FREE_PORTS = { from: 20_000, to: 32_000 };

/**
 * A loopback port nothing listens on (bound and released: free now, and refused until someone takes
 * it). Not `listen(0)`: that port comes from the ephemeral range, and between its release and the
 * test's own bind any process's outgoing connection may take it (a worker then failed to start in
 * CI with "the port is in use").
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = FREE_PORTS.from + Math.floor(Math.random() * (FREE_PORTS.to - FREE_PORTS.from));
    const s = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  throw new Error(`no free loopback port in ${FREE_PORTS.from}–${FREE_PORTS.to - 1} after 50 tries`);
}
