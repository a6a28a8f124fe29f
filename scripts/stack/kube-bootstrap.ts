/**
 * What the empty cluster needs before Ramp can use it: KWOK fake nodes (annotated so KWOK manages
 * them, untainted so any pod may land there) and the Istio and Gateway API CRDs as upstream
 * publishes them (stack/install.sh puts them in the cache; paths.json names the folder).
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';

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

/**
 * The API groups whose CRDs the stack installs: Istio's traffic objects and the Gateway API, the
 * groups Ramp reads and writes. Istio's other CRDs (security, telemetry, extensions) it never uses.
 */
export const CRD_GROUPS: readonly string[] = ['networking.istio.io', 'gateway.networking.k8s.io'];

export function loadCrds(dir: string, groups: readonly string[] = CRD_GROUPS): k8s.V1CustomResourceDefinition[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS() as { kind?: string } | null))
    .filter((o): o is k8s.V1CustomResourceDefinition => o?.kind === 'CustomResourceDefinition')
    .filter((crd) => groups.includes(crd.spec.group));
}

/**
 * Server-side applies one object as raw JSON. Not through the typed client: its serializer knows
 * only the fields of its generated models under their TypeScript names, and silently drops the
 * rest of a CRD's schema — `x-kubernetes-int-or-string`, `enum`, `default` — which upstream
 * CRDs are full of (the apiserver then refuses them, or worse, accepts a looser schema).
 */
async function serverSideApply(kc: k8s.KubeConfig, path: string, body: object): Promise<void> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the admin kubeconfig names no cluster');
  const url = new URL(`${server}${path}?fieldManager=ramp-stack&force=true`);
  const opts: https.RequestOptions = { method: 'PATCH', headers: { 'Content-Type': 'application/apply-patch+yaml', Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const payload = JSON.stringify(body);
  await new Promise<void>((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        if ((res.statusCode ?? 0) < 300) resolve();
        else reject(new Error(`HTTP ${res.statusCode}: ${(() => { try { return (JSON.parse(text) as { message?: string }).message ?? text; } catch { return text; } })()}`));
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Creates or updates every CRD (server-side apply), then waits until each is Established. */
export async function ensureCrds(kc: k8s.KubeConfig, crds: k8s.V1CustomResourceDefinition[]): Promise<string[]> {
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    try {
      await serverSideApply(kc, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`, crd);
    } catch (err) {
      throw new Error(`installing CRD ${name}: ${(err as Error).message}`, { cause: err });
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
