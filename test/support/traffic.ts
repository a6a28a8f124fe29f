/**
 * What the traffic generator's integration tests share: Prometheus instant queries, the binomial
 * band shares are checked in, waiting on the generator's stats, and the two-version demo app.
 */
import * as fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import axios from 'axios';
import { startDemoService, type DemoService } from '../../scripts/traffic/demo-service';
import type { TrafficGenerator, TrafficGeneratorOptions, TrafficStats } from '../../scripts/traffic/generator';
import { adminKubeConfig, eventually, stackInfo } from './stack';

/** The stable and canary images of the demo app; the generator maps each to a demo behaviour. */
export const V1 = 'registry.local/web:v1';
export const V2 = 'registry.local/web:v2';

/** The stack's facts and the admin's API clients the tests create and patch objects with. */
export function stackClients() {
  const info = stackInfo();
  const kc = adminKubeConfig(info);
  return { info, core: kc.makeApiClient(k8s.CoreV1Api), apps: kc.makeApiClient(k8s.AppsV1Api), custom: kc.makeApiClient(k8s.CustomObjectsApi) };
}

/**
 * Waits until each Service's EndpointSlices list its number of ready endpoints. A generator started
 * earlier answers 503 for a Service with none yet, and those count as that Service's errors.
 */
export async function waitForReadyEndpoints(namespace: string, want: Record<string, number>, timeoutMs = 120_000): Promise<void> {
  const discovery = adminKubeConfig().makeApiClient(k8s.DiscoveryV1Api);
  await eventually(`ready endpoints ${JSON.stringify(want)} in ${namespace}`, async () => {
    const slices = (await discovery.listNamespacedEndpointSlice({ namespace })).items;
    const ready = (service: string) => slices
      .filter((sl) => sl.metadata?.labels?.['kubernetes.io/service-name'] === service)
      .flatMap((sl) => sl.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true).length;
    return Object.entries(want).every(([service, n]) => ready(service) === n) ? true : undefined;
  }, timeoutMs, 250);
}

/** One row of an instant query's answer. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The rows of an instant query to the stack's Prometheus. */
export async function query(promql: string, info = stackInfo()): Promise<Sample[]> {
  const res = await axios.get<{ status: string; data: { result: Sample[] } }>(`${info.prometheus.url}/api/v1/query`, { params: { query: promql }, timeout: 5_000 });
  expect(res.data.status).toBe('success');
  return res.data.data.result;
}

/** Throws unless k of n lies within 4 standard deviations of share p (exactly p when p is 0 or 1). */
export function expectBinomial(what: string, k: number, n: number, p: number): void {
  expect(n).toBeGreaterThan(0);
  const bound = 4 * Math.sqrt((p * (1 - p)) / n);
  const observed = k / n;
  if (Math.abs(observed - p) > bound) {
    throw new Error(`${what}: ${k} of ${n} = ${(observed * 100).toFixed(2)} %, expected ${(p * 100).toFixed(2)} % ± ${(bound * 100).toFixed(2)} % (4σ)`);
  }
}

/** The generator's stats once `ok` holds for them. */
export function statsWhen(g: TrafficGenerator, what: string, ok: (s: TrafficStats) => boolean, timeoutMs = 60_000): Promise<TrafficStats> {
  return eventually(what, () => {
    const s = g.stats();
    return Promise.resolve(ok(s) ? s : undefined);
  }, timeoutMs, 50);
}

/** A Deployment of app `web` at one version and image, its pods labelled app and version. */
export function webDeployment(name: string, version: string, image: string, replicas: number): k8s.V1Deployment {
  return {
    metadata: { name, labels: { app: 'web' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web', version } },
      template: { metadata: { labels: { app: 'web', version } }, spec: { containers: [{ name: 'web', image, ports: [{ containerPort: 8080 }] }] } },
    },
  };
}

/** Starts the two demo behaviours: v1 without errors, v2 with 10 % errors and a little slower. */
export async function startVersions(seed: number): Promise<{ v1: DemoService; v2: DemoService }> {
  const v1 = await startDemoService({ version: 'v1', seed, errorRate: 0, latencyMs: { median: 3, p99: 15 } });
  const v2 = await startDemoService({ version: 'v2', seed: seed + 1, errorRate: 0.1, latencyMs: { median: 5, p99: 25 } });
  return { v1, v2 };
}

/** The options every generator test starts from: the stack's kubeconfig and Prometheus, the two demo versions, 80 requests/s, at most 10 minutes. */
export function baseGeneratorOptions(namespace: string, v: { v1: DemoService; v2: DemoService }, seed: number): TrafficGeneratorOptions {
  const info = stackInfo();
  return {
    kubeconfig: info.kubernetes.kubeconfig,
    namespace,
    images: { [V1]: v.v1.url, [V2]: v.v2.url },
    rps: 80,
    targetsDir: info.prometheus.targetsDir,
    seed,
    maxDurationMs: 10 * 60_000,
  };
}

/** Stops the generator and the demo versions, removes the target file and the namespace (an error deleting it is ignored: the stack's GC has it). */
export async function tearDownTraffic(core: k8s.CoreV1Api, namespace: string, generator: TrafficGenerator | undefined, versions: { v1: DemoService; v2: DemoService } | undefined): Promise<void> {
  await generator?.stop();
  await Promise.all([versions?.v1.close(), versions?.v2.close()]);
  if (generator) fs.rmSync(generator.targetFile, { force: true });
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
}
