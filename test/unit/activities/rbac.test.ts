/**
 * The worker's RBAC is exactly what its code calls. Every file the worker process loads (the
 * import graph from src/worker/main.ts) is scanned for Kubernetes client calls; each call's verb,
 * API group and resource is read off the client class, the method name and, for custom objects,
 * the group and plural it passes. The set must equal the chart's rules (files/rules.yaml) and
 * deploy/rbac.yaml: a rule no code needs fails the test as surely as a call no rule allows.
 * The integration test test/integration/chart/least-privilege.test.ts checks the other way round
 * on the real apiserver: every request a worker makes through a full rollout is in this set.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chartRules, permission, permissionOfRequest, permissionsOf, ROOT, rulesInManifest } from '../../support/rbac';

/** The core and apps kinds the worker may name, with their resource (plural) names. */
const RESOURCES: Record<string, string> = {
  Deployment: 'deployments', ReplicaSet: 'replicasets', Service: 'services', Pod: 'pods', Secret: 'secrets',
  ConfigMap: 'configmaps', Namespace: 'namespaces', Endpoints: 'endpoints', Event: 'events', ServiceAccount: 'serviceaccounts',
};
const SUBRESOURCES: Record<string, string> = { Scale: 'scale', Status: 'status' };
const GROUPS: Record<string, string> = { CoreV1Api: '', AppsV1Api: 'apps' };
/** Method prefixes as the apiserver's verbs. */
const VERBS: [prefix: string, verb: string][] = [
  ['read', 'get'], ['get', 'get'], ['list', 'list'], ['create', 'create'], ['replace', 'update'],
  ['patch', 'patch'], ['deleteCollection', 'deletecollection'], ['delete', 'delete'], ['watch', 'watch'],
];
/** API classes whose calls need no Role: /version is readable by every authenticated user (system:public-info-viewer). */
const NON_RESOURCE: Record<string, Record<string, string>> = { VersionApi: { getCode: '/version' } };

/** The relative modules a file imports, requires or resolves, as files. */
function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*|require(?:\.resolve)?\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => {
    const base = path.resolve(path.dirname(file), s);
    const hit = [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
    if (!hit) throw new Error(`${path.relative(ROOT, file)}: cannot resolve ${s}`);
    return hit;
  });
}

/** Every project file the worker process loads. */
function workerFiles(entry = path.join(ROOT, 'src/worker/main.ts')): string[] {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    todo.push(...importsOf(f, fs.readFileSync(f, 'utf8')));
  }
  return [...seen];
}

/** The argument text of the call whose `(` is at `open`, up to its matching `)`, skipping strings. */
function callArgs(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"' || ch === "'" || ch === '`') {
      for (i++; i < text.length && text[i] !== ch; i++) if (text[i] === '\\') i++;
    } else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`unbalanced call at ${open}`);
}

/** The lowercase string literals of `const NAME = …` in the file (a helper or constant the call names). */
function literalsOf(text: string, name: string, where: string): string[] {
  const def = new RegExp(`const\\s+${name}\\s*=([^;]*);`).exec(text);
  if (!def) throw new Error(`${where}: cannot find the definition of ${name}`);
  return [...def[1]!.matchAll(/'([a-z0-9.-]+)'/g)].map((m) => m[1]!);
}

export interface KubeCall { where: string; api: string; method: string; permissions: string[] }

/** The Kubernetes calls in one source file and the permissions each needs. */
export function kubeCallsIn(where: string, text: string): KubeCall[] {
  const calls: KubeCall[] = [];
  const clients = new Map<string, string>();
  for (const m of text.matchAll(/const\s+(\w+)\s*=\s*\w+\.makeApiClient\(\s*k8s\.(\w+)\s*\)/g)) clients.set(m[1]!, m[2]!);
  const sites: { api: string; method: string; open: number }[] = [];
  for (const [name, api] of clients) {
    for (const m of text.matchAll(new RegExp(`\\b${name}\\.(\\w+)\\(`, 'g'))) sites.push({ api, method: m[1]!, open: m.index + m[0].length - 1 });
  }
  for (const m of text.matchAll(/makeApiClient\(\s*k8s\.(\w+)\s*\)\.(\w+)\(/g)) sites.push({ api: m[1]!, method: m[2]!, open: m.index + m[0].length - 1 });
  const used = (text.match(/makeApiClient\(/g) ?? []).length;
  const recognised = clients.size + (text.match(/makeApiClient\(\s*k8s\.\w+\s*\)\.\w+\(/g) ?? []).length;
  if (used !== recognised) throw new Error(`${where}: a makeApiClient(...) this scan does not recognise; name the client (const x = kube.makeApiClient(k8s.XApi)) or extend the scan`);
  for (const other of ['k8s.Watch', 'makeInformer', 'KubernetesObjectApi', 'k8s.ListWatch', 'applyToFetchOptions', 'applyToHTTPSOptions']) {
    if (text.includes(other)) throw new Error(`${where}: uses ${other}, which this scan does not read; extend the scan before relying on it`);
  }
  for (const s of sites) {
    const at = `${where}: ${s.api}.${s.method}`;
    const nonResource = NON_RESOURCE[s.api];
    if (nonResource) {
      const p = nonResource[s.method];
      if (!p) throw new Error(`${at}: unknown method of a non-resource API`);
      calls.push({ where, api: s.api, method: s.method, permissions: [`nonResource:${p}`] });
      continue;
    }
    const entry = VERBS.find(([prefix]) => s.method.startsWith(prefix));
    if (!entry) throw new Error(`${at}: no verb for this method name`);
    const [prefix, verb] = entry;
    const noun = s.method.slice(prefix.length).replace(/^Namespaced/, '');
    if (s.api === 'CustomObjectsApi') {
      const args = callArgs(text, s.open);
      // The group is a literal, or comes from a spread constant such as `{ ...ISTIO, … }`.
      const literalGroup = /group:\s*'([^']+)'/.exec(args)?.[1];
      const spread = /\.\.\.(\w+)/.exec(args)?.[1];
      const groups = literalGroup ? [literalGroup] : spread ? literalsOf(text, spread, at).filter((g) => g.includes('.')) : [];
      const pluralLiteral = /plural:\s*'([^']+)'/.exec(args)?.[1];
      const pluralHelper = /plural:\s*(\w+)\(/.exec(args)?.[1];
      const plurals = pluralLiteral ? [pluralLiteral] : pluralHelper ? literalsOf(text, pluralHelper, at) : [];
      if (groups.length !== 1 || plurals.length === 0) throw new Error(`${at}: cannot read the group and plural of ${args.trim()}`);
      const sub = /\w+CustomObject(Status|Scale)$/.exec(s.method)?.[1];
      calls.push({ where, api: s.api, method: s.method, permissions: plurals.map((p) => permission(groups[0]!, sub ? `${p}/${SUBRESOURCES[sub]}` : p, verb)) });
      continue;
    }
    const group = GROUPS[s.api];
    if (group === undefined) throw new Error(`${at}: unknown API class; add its group to GROUPS`);
    const sub = Object.keys(SUBRESOURCES).find((k) => noun.endsWith(k) && RESOURCES[noun.slice(0, -k.length)]);
    const kind = sub ? noun.slice(0, -sub.length) : noun;
    const resource = RESOURCES[kind];
    if (!resource) throw new Error(`${at}: unknown kind ${kind}; add its resource name to RESOURCES`);
    calls.push({ where, api: s.api, method: s.method, permissions: [permission(group, sub ? `${resource}/${SUBRESOURCES[sub]}` : resource, verb)] });
  }
  return calls;
}

function derived(): { calls: KubeCall[]; resource: Set<string>; nonResource: Set<string> } {
  const calls = workerFiles().flatMap((f) => kubeCallsIn(path.relative(ROOT, f), fs.readFileSync(f, 'utf8')));
  const all = calls.flatMap((c) => c.permissions);
  return { calls, resource: new Set(all.filter((p) => !p.startsWith('nonResource:'))), nonResource: new Set(all.filter((p) => p.startsWith('nonResource:'))) };
}

const sorted = (s: Iterable<string>) => [...s].sort();

describe('the scan reads kube client calls as the apiserver authorizes them', () => {
  it.each([
    ['const apps = kube.makeApiClient(k8s.AppsV1Api); apps.readNamespacedDeployment({ name, namespace });', ['apps/deployments:get']],
    ['const apps = kube.makeApiClient(k8s.AppsV1Api); apps.listNamespacedReplicaSet({ namespace });', ['apps/replicasets:list']],
    ['const apps = kube.makeApiClient(k8s.AppsV1Api); apps.replaceNamespacedDeployment({ name, namespace, body });', ['apps/deployments:update']],
    ['const apps = kube.makeApiClient(k8s.AppsV1Api); apps.patchNamespacedDeploymentScale({ name, namespace, body: {} });', ['apps/deployments/scale:patch']],
    ['const core = kube.makeApiClient(k8s.CoreV1Api); core.deleteNamespacedService({ namespace, name });', ['/services:delete']],
    ['const core = kube.makeApiClient(k8s.CoreV1Api); core.readNamespacedSecret({ namespace, name });', ['/secrets:get']],
    ["const c = kube.makeApiClient(k8s.CustomObjectsApi); c.listNamespacedCustomObject({ group: 'x.io', version: 'v1', namespace, plural: 'things' });", ['x.io/things:list']],
    ["const G = { group: 'x.io', version: 'v1' };\nconst p = (k) => (k ? 'as' : 'bs');\nconst c = kube.makeApiClient(k8s.CustomObjectsApi); c.getNamespacedCustomObject({ ...G, namespace, plural: p(t), name: 'n(1)' });", ['x.io/as:get', 'x.io/bs:get']],
    ['kube.makeApiClient(k8s.VersionApi).getCode();', ['nonResource:/version']],
  ])('%s', (src, want) => {
    expect(kubeCallsIn('t.ts', src).flatMap((c) => c.permissions)).toEqual(want);
  });

  it('refuses what it cannot read instead of skipping it', () => {
    expect(() => kubeCallsIn('t.ts', 'const w = new k8s.Watch(kube);')).toThrow(/k8s.Watch/);
    expect(() => kubeCallsIn('t.ts', 'const api = pick(kube.makeApiClient(k8s.AppsV1Api));')).toThrow(/does not recognise/);
    expect(() => kubeCallsIn('t.ts', 'const x = kube.makeApiClient(k8s.BatchV1Api); x.createNamespacedJob({});')).toThrow(/unknown API class/);
  });

  it.each([
    ['GET', '/apis/apps/v1/namespaces/shop/deployments/web', 'apps/deployments:get'],
    ['GET', '/apis/apps/v1/namespaces/shop/replicasets?labelSelector=a%3Db', 'apps/replicasets:list'],
    ['PATCH', '/apis/apps/v1/namespaces/shop/deployments/web/scale', 'apps/deployments/scale:patch'],
    ['PUT', '/apis/apps/v1/namespaces/shop/deployments/web', 'apps/deployments:update'],
    ['DELETE', '/api/v1/namespaces/shop/services/web-canary', '/services:delete'],
    ['POST', '/apis/networking.istio.io/v1/namespaces/shop/destinationrules', 'networking.istio.io/destinationrules:create'],
    ['GET', '/api/v1/namespaces/shop/pods?watch=true', '/pods:watch'],
    ['GET', '/version', 'nonResource:/version'],
  ])('%s %s needs %s', (method, p, want) => {
    expect(permissionOfRequest(method, p)).toBe(want);
  });
});

describe('the worker RBAC is exactly what the worker code calls', () => {
  const code = derived();

  it('finds the calls on namespaced objects in the activities, and only there', () => {
    const onObjects = code.calls.filter((c) => c.permissions.some((p) => !p.startsWith('nonResource:')));
    expect(sorted(new Set(onObjects.map((c) => c.where)))).toEqual([
      'src/activities/gitops/sync.ts', 'src/activities/store/cluster.ts', 'src/activities/traffic/gateway.ts', 'src/activities/traffic/services.ts', 'src/activities/workload.ts',
    ]);
    expect(onObjects.length).toBeGreaterThan(15);
  });

  it('needs no Secret and no cluster-wide resource', () => {
    expect(sorted(code.resource).filter((p) => /secrets|namespaces|nodes|clusterrole/.test(p))).toEqual([]);
    // /version is allowed to every authenticated user by the default system:public-info-viewer binding.
    expect(sorted(code.nonResource)).toEqual(['nonResource:/version']);
  });

  // GitOps agents' objects live in the agents' namespaces: their Role is separate (files/agent-rules.yaml).
  const AGENT_GROUPS = ['kustomize.toolkit.fluxcd.io/', 'source.toolkit.fluxcd.io/', 'argoproj.io/'];
  const isAgent = (p: string) => AGENT_GROUPS.some((g) => p.startsWith(g));
  const app = new Set([...code.resource].filter((p) => !isAgent(p)));
  const agent = new Set([...code.resource].filter(isAgent));

  it.each([
    ['files/rules.yaml', () => chartRules(), app],
    ['files/agent-rules.yaml', () => chartRules('agent-rules.yaml'), agent],
  ])("the chart's %s grants exactly the code's permissions, without wildcards or names", (_file, rulesOf, want) => {
    const rules = rulesOf();
    const granted = permissionsOf(rules);
    expect({ grantedButNotCalled: sorted([...granted].filter((p) => !want.has(p))), calledButNotGranted: sorted([...want].filter((p) => !granted.has(p))) })
      .toEqual({ grantedButNotCalled: [], calledButNotGranted: [] });
    expect(sorted(granted).filter((p) => p.includes('*'))).toEqual([]);
    expect(rules.filter((r) => r.resourceNames || r.nonResourceURLs)).toEqual([]);
  });

  it('deploy/rbac.yaml carries the same rules', () => {
    const roles = rulesInManifest(fs.readFileSync(path.join(ROOT, 'deploy/rbac.yaml'), 'utf8'));
    expect(roles.length).toBeGreaterThan(0);
    for (const role of roles) expect(sorted(permissionsOf(role.rules))).toEqual(sorted(app));
  });
});
