/**
 * What the empty cluster needs before Ramp can use it: KWOK fake nodes (annotated so KWOK manages
 * them, untainted so any pod may land there) and the Istio and Gateway API CRDs under stack/crds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { REPO_ROOT } from './config';

export const CRD_DIR = path.join(REPO_ROOT, 'stack', 'crds');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isConflict(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 409;
}

export function fakeNode(name: string): k8s.V1Node {
  // Fake nodes cost nothing: room for scale benchmarks (1,000 rollouts × a few pods).
  const resources = { cpu: '1000', memory: '4Ti', pods: '2000', 'ephemeral-storage': '10Ti' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    status: { capacity: resources, allocatable: resources },
  };
}

export async function ensureFakeNodes(kc: k8s.KubeConfig, count: number): Promise<string[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const names = Array.from({ length: count }, (_, i) => `kwok-node-${i}`);
  for (const name of names) {
    try {
      await core.createNode({ body: fakeNode(name) });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  return names;
}

export async function waitNodesReady(kc: k8s.KubeConfig, names: string[], timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await core.listNode();
    const ready = new Set(
      list.items
        .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((n) => n.metadata?.name),
    );
    if (names.every((n) => ready.has(n))) return;
    if (Date.now() > deadline) {
      throw new Error(`KWOK nodes not Ready after ${timeoutMs / 1000}s: ${names.filter((n) => !ready.has(n)).join(', ')} (see logs/kwok.log)`);
    }
    await sleep(250);
  }
}

export function loadCrds(dir = CRD_DIR): k8s.V1CustomResourceDefinition[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS() as { kind?: string } | null))
    .filter((o): o is k8s.V1CustomResourceDefinition => o?.kind === 'CustomResourceDefinition');
}

/** Creates or updates every CRD, then waits until each is Established. */
export async function ensureCrds(kc: k8s.KubeConfig, crds = loadCrds()): Promise<string[]> {
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    try {
      await api.createCustomResourceDefinition({ body: crd });
    } catch (err) {
      if (!isConflict(err)) throw new Error(`installing CRD ${name}: ${describeApiError(err)}`, { cause: err });
      const current = await api.readCustomResourceDefinition({ name });
      crd.metadata = { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion };
      await api.replaceCustomResourceDefinition({ name, body: crd });
    }
  }
  const names = crds.map((c) => c.metadata!.name!);
  const deadline = Date.now() + 30_000;
  for (const name of names) {
    for (;;) {
      const c = await api.readCustomResourceDefinition({ name });
      if (c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 30s`);
      await sleep(200);
    }
  }
  return names;
}

export function describeApiError(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body);
    try {
      return `HTTP ${err.code}: ${(JSON.parse(body) as { message?: string }).message ?? body}`;
    } catch {
      return `HTTP ${err.code}: ${body}`;
    }
  }
  return err instanceof Error ? err.message : String(err);
}
