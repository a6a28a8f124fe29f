/**
 * What the empty cluster needs before Ramp can use it: KWOK fake nodes (annotated so KWOK manages
 * them, untainted so any pod may land there), the Istio and Gateway API CRDs as upstream
 * publishes them (stack/install.sh puts them in the cache; paths.json names the folder), and
 * what Contour needs to act as the Gateway API controller: its CRDs, its RBAC, a GatewayClass and
 * the one Gateway it manages.
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

/** The Gateway the stack's Contour manages; tests attach their routes to it with a parentRef. */
export const STACK_GATEWAY = {
  namespace: 'projectcontour',
  name: 'contour',
  className: 'contour',
  /** The controllerName Contour answers to in a GatewayClass. */
  controllerName: 'projectcontour.io/gateway-controller',
  /** The Gateway's only listener: plain HTTP, which takes both HTTPRoutes and GRPCRoutes. */
  listener: 'http',
} as const;

/** The user in Contour's client certificate (scripts/stack/pki.ts). */
const CONTOUR_USER = 'ramp-contour';

interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** Plural resource names of the kinds the bootstrap applies, and whether each is namespaced. */
const RESOURCES: Record<string, { plural: string; namespaced: boolean }> = {
  Namespace: { plural: 'namespaces', namespaced: false },
  ClusterRole: { plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { plural: 'clusterrolebindings', namespaced: false },
  Role: { plural: 'roles', namespaced: true },
  RoleBinding: { plural: 'rolebindings', namespaced: true },
  GatewayClass: { plural: 'gatewayclasses', namespaced: false },
  Gateway: { plural: 'gateways', namespaced: true },
};

function objectPath(o: ManifestObject): string {
  const r = RESOURCES[o.kind];
  if (!r) throw new Error(`the stack bootstrap cannot apply a ${o.kind}`);
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = r.namespaced ? `/namespaces/${o.metadata.namespace!}` : '';
  return `${base}${ns}/${r.plural}/${o.metadata.name}`;
}

/** The objects that let Contour run as the stack's Gateway API controller, in apply order. */
export function gatewayObjects(rbacYaml: string): ManifestObject[] {
  const g = STACK_GATEWAY;
  // Upstream's roles as published (rbac.yaml): the ClusterRole, and the Role for events and the
  // leader-election Lease in projectcontour.
  const roles = YAML.parseAllDocuments(rbacYaml)
    .map((d) => d.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => o?.kind === 'ClusterRole' || o?.kind === 'Role')
    .map((o) => (o.kind === 'Role' ? { ...o, metadata: { ...o.metadata, namespace: g.namespace } } : o));
  const subject = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: CONTOUR_USER }];
  const bindings = roles.map((r) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: r.kind === 'Role' ? 'RoleBinding' : 'ClusterRoleBinding',
    metadata: { name: `${r.metadata.name}-${CONTOUR_USER}`, ...(r.kind === 'Role' ? { namespace: g.namespace } : {}) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: r.kind, name: r.metadata.name },
    subjects: subject,
  }));
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: g.namespace } },
    ...roles,
    ...bindings,
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: g.className },
      spec: { controllerName: g.controllerName },
    } as ManifestObject,
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: g.name, namespace: g.namespace },
      spec: {
        gatewayClassName: g.className,
        // Routes from every namespace may attach: each test works in a namespace of its own.
        listeners: [{ name: g.listener, protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'All' } } }],
      },
    } as ManifestObject,
  ];
}

/**
 * Installs Contour's CRDs (from its module's manifests folder), its RBAC, the GatewayClass and the
 * Gateway. Contour must start after this: it exits when a kind it watches has no CRD.
 */
export async function ensureGateway(kc: k8s.KubeConfig, manifestsDir: string): Promise<string[]> {
  const crds = await ensureCrds(kc, loadCrds(manifestsDir, ['projectcontour.io']));
  for (const o of gatewayObjects(fs.readFileSync(path.join(manifestsDir, 'rbac.yaml'), 'utf8'))) {
    try {
      await serverSideApply(kc, objectPath(o), o);
    } catch (err) {
      throw new Error(`applying ${o.kind} ${o.metadata.namespace ? o.metadata.namespace + '/' : ''}${o.metadata.name}: ${(err as Error).message}`, { cause: err });
    }
  }
  return crds;
}

/** Flux's API groups: GitRepository and the other sources, and Kustomization. */
export const FLUX_CRD_GROUPS: readonly string[] = ['source.toolkit.fluxcd.io', 'kustomize.toolkit.fluxcd.io'];

/**
 * Where Flux's own objects live by convention. The stack's controllers watch every namespace and
 * need none of their own (no leader-election Lease, no events receiver); GitOps tests put their
 * GitRepositories and Kustomizations next to what they deploy.
 */
export const FLUX_NAMESPACE = 'flux-system';

/** The users in the Flux controllers' client certificates (scripts/stack/pki.ts), by controller. */
export const FLUX_USERS = {
  'source-controller': 'ramp-flux-source-controller',
  'kustomize-controller': 'ramp-flux-kustomize-controller',
} as const;

/**
 * The objects that let Flux's controllers run, in apply order: each controller's upstream ClusterRole
 * (published as `manager-role` in both modules, so renamed `flux-<controller>`) bound to its user,
 * and, as Flux's own install does (`cluster-reconciler`), cluster-admin for kustomize-controller:
 * it applies whatever the repository holds, and without a Kustomization's serviceAccountName it
 * does so as itself.
 */
export function fluxObjects(rbacYamlByController: Record<keyof typeof FLUX_USERS, string>): ManifestObject[] {
  const bind = (name: string, role: string, user: string): ManifestObject => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  } as ManifestObject);
  const objects: ManifestObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: FLUX_NAMESPACE } }];
  for (const controller of Object.keys(FLUX_USERS) as (keyof typeof FLUX_USERS)[]) {
    const role = `flux-${controller}`;
    const upstream = YAML.parseAllDocuments(rbacYamlByController[controller])
      .map((d) => d.toJS() as ManifestObject | null)
      .filter((o): o is ManifestObject => o?.kind === 'ClusterRole');
    if (upstream.length !== 1) throw new Error(`expected one ClusterRole in ${controller}'s config/rbac/role.yaml, found ${upstream.length}: run stack/install.sh again`);
    objects.push({ ...upstream[0]!, metadata: { name: role } }, bind(role, role, FLUX_USERS[controller]));
  }
  objects.push(bind('flux-cluster-reconciler', 'cluster-admin', FLUX_USERS['kustomize-controller']));
  return objects;
}

/**
 * Installs Flux's CRDs (from the modules' config/crd/bases, copied by stack/install.sh), the
 * namespace flux-system and the controllers' RBAC. The controllers start after this: a manager
 * whose informer cannot find its kind never syncs and exits.
 */
export async function ensureFlux(kc: k8s.KubeConfig, manifestsDir: string): Promise<string[]> {
  const crds = await ensureCrds(kc, loadCrds(manifestsDir, FLUX_CRD_GROUPS));
  const rbac = (c: string) => fs.readFileSync(path.join(manifestsDir, `rbac-${c}.yaml`), 'utf8');
  for (const o of fluxObjects({ 'source-controller': rbac('source-controller'), 'kustomize-controller': rbac('kustomize-controller') })) {
    try {
      await serverSideApply(kc, objectPath(o), o);
    } catch (err) {
      throw new Error(`applying ${o.kind} ${o.metadata.name} for Flux: ${(err as Error).message}`, { cause: err });
    }
  }
  return crds;
}
