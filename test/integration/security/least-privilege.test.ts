/**
 * The chart's RBAC is enough and no more: the chart is installed with helm, and a real worker
 * authenticated as the chart's own ServiceAccount (a token the apiserver mints for it through the
 * TokenRequest API) runs a full rollout to promotion, while reading Secrets or touching a namespace the chart did not list is refused
 * with 403. Two more rollouts run on clusters shaped as public guides shape them (test/support/
 * shapes.ts), so the paths those shapes need are exercised too: a DestinationRule Ramp creates and
 * deletes, subsets written into an existing one, Services that select every pod narrowed and put
 * back; and two on Gateway API routes (an HTTPRoute and a GRPCRoute). Every request the workers make is
 * recorded and must be allowed by the chart's rules (files/rules.yaml), the set
 * test/unit/activities/rbac.test.ts derives from the code.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { validateRollout } from '../../../src/domain/spec/parse';
import { startRollout } from '../../../src/client/rollouts';
import { dataConverterFor } from '../../../src/client/connect';
import { createRampWorker } from '../../../src/worker/worker';
import { CHART, helm, localValues, ok, valuesFile } from '../../support/chart';
import { InterceptingKubeConfig } from '../../support/intercept';
import { createGatewayShop, GatewayShop } from '../../support/gateway-shop';
import { createMushop, Mushop } from '../../support/mushop';
import { createShape, type Shape } from '../../support/shapes';
import { chartRules, permissionOfRequest, permissionsOf } from '../../support/rbac';
import { adminKubeConfig, stackInfo, uniqueName, workerConfig } from '../../support/stack';
import { workflowBundle } from '../../support/worker';
import { awaitResult } from '../../support/results';

const admin = adminKubeConfig();
const info = stackInfo();
const core = admin.makeApiClient(k8s.CoreV1Api);
const saNamespace = uniqueName('ramp-system');
const otherNamespace = uniqueName('not-granted');
// The release's full name is the release name when it contains the chart's name: the
// ServiceAccount is called so.
const release = uniqueName('ramp-worker');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-rbac-'));
let shop: Mushop;
/** The demo's storefront with subset routing: Ramp adds its canary subset to the DestinationRule. */
let subsetShop: Mushop;
/** Guide-shaped clusters: MuShop's (no DestinationRule), Argo Rollouts' (Services select every pod). */
let shapes: Shape[] = [];
/** Storefronts behind an HTTPRoute and a GRPCRoute: the gateway-api router's calls. */
let gatewayShops: GatewayShop[] = [];
let kubeconfigFile: string;
let restricted: k8s.KubeConfig;
/** The worker's Kubernetes client, recording every request it sends. */
let recorder: InterceptingKubeConfig;

beforeAll(async () => {
  shop = await createMushop(admin, { mode: 'service' });
  subsetShop = await createMushop(admin, { mode: 'subset' });
  shapes = [await createShape(admin, 'mushop'), await createShape(admin, 'argo')];
  gatewayShops = [await createGatewayShop(admin, 'HTTPRoute'), await createGatewayShop(admin, 'GRPCRoute')];
  await core.createNamespace({ body: { metadata: { name: saNamespace } } });
  await core.createNamespace({ body: { metadata: { name: otherNamespace } } });
  const values = localValues({ rbac: { namespaces: [shop.namespace, subsetShop.namespace, ...shapes.map((x) => x.namespace), ...gatewayShops.map((x) => x.namespace)] }, searchAttributes: { register: false } });
  ok(await helm(['install', release, CHART, '-n', saNamespace, '-f', valuesFile(values)]), 'helm install');
  const token = await core.createNamespacedServiceAccountToken({ name: release, namespace: saNamespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = admin.getCurrentCluster()!;
  kubeconfigFile = path.join(tmp, 'ramp-worker.kubeconfig');
  fs.writeFileSync(kubeconfigFile, YAML.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } }],
    users: [{ name: release, user: { token: token.status!.token } }],
    contexts: [{ name: 'ramp', context: { cluster: 'local', user: release } }],
    'current-context': 'ramp',
  }), { mode: 0o600 });
  restricted = new k8s.KubeConfig();
  restricted.loadFromFile(kubeconfigFile);
  recorder = new InterceptingKubeConfig(restricted);
});

afterAll(async () => {
  await helm(['uninstall', release, '-n', saNamespace]);
  await shop?.cleanup();
  await subsetShop?.cleanup();
  for (const x of shapes) await x.cleanup();
  for (const x of gatewayShops) await x.cleanup();
  await core.deleteNamespace({ name: saNamespace });
  await core.deleteNamespace({ name: otherNamespace });
  fs.rmSync(tmp, { recursive: true, force: true });
});

const configured: string[] = [];

it("a worker with the chart's ServiceAccount token runs a full rollout (service routing) to promotion; no credential enters its history", async () => {
  const taskQueue = uniqueName('rbac-tq');
  const promToken = `prom-secret-${uniqueName('t')}`;
  const promTokenFile = path.join(tmp, 'prometheus.token');
  fs.writeFileSync(promTokenFile, promToken, { mode: 0o600 });
  const cfg = { ...workerConfig(info, taskQueue), KUBECONFIG: kubeconfigFile, RAMP_PROMETHEUS_BEARER_TOKEN_FILE: promTokenFile };
  const ramp = await createRampWorker(cfg, { workflowBundle: await workflowBundle() }, { kube: recorder });
  const connection = await Connection.connect({ address: info.temporal.address });
  try {
    const client = new Client({ connection, namespace: info.temporal.namespace });
    const analysis = { analysis: { interval: '1s', count: 2, metrics: [{ name: 'constant', query: 'vector(100)', thresholdRange: { min: 99 } }] } };
    const handle = await startRollout(client, validateRollout(shop.rolloutRaw([{ setWeight: 30 }, analysis, { setWeight: 100 }])), { taskQueue });
    const result = await ramp.worker.runUntil(awaitResult(handle));
    expect(result.outcome).toBe('Promoted');
    expect(result.status.lastAnalysis?.phase).toBe('Successful');
    // Every payload decoded (they are base64 in the history's JSON), plus the JSON itself.
    const raw = JSON.stringify(await handle.fetchHistory());
    const decoded = [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
    const text = [raw, ...decoded].join('\n');
    const kubeToken = restricted.getCurrentUser()!.token!;
    expect(kubeToken.length).toBeGreaterThan(100);
    expect(text.includes(kubeToken)).toBe(false);
    expect(text.includes(promToken)).toBe(false);
    configured.push(kubeToken, promToken);
    expect(text.includes('vector(100)')).toBe(true); // the scan does see the payloads' contents
  } finally {
    await connection.close();
    await ramp.connection.close();
  }
});

it.each([
  ['mushop', 'rolls back a failing canary on MuShop\'s shape (Ramp creates a DestinationRule, then deletes it)', 'RolledBack'],
  ['argo', 'promotes on the Argo Rollouts shape (both Services select every pod: narrowed, then put back)', 'Promoted'],
] as const)("a worker with the chart's ServiceAccount token, %s shape: %s", async (name, _what, outcome) => {
  const shape = shapes.find((x) => x.name === name)!;
  const before = await shape.state();
  const taskQueue = uniqueName('rbac-tq');
  const ramp = await createRampWorker({ ...workerConfig(info, taskQueue), KUBECONFIG: kubeconfigFile }, { workflowBundle: await workflowBundle() }, { kube: recorder });
  const connection = await Connection.connect({ address: info.temporal.address });
  try {
    const client = new Client({ connection, namespace: info.temporal.namespace });
    const failing = { analysis: { interval: '1s', count: 2, metrics: [{ name: 'constant', query: 'vector(0)', thresholdRange: { min: 99 } }] } };
    const steps = outcome === 'RolledBack' ? [{ setWeight: 30 }, failing, { setWeight: 100 }] : [{ setWeight: 30 }, { setWeight: 100 }];
    const handle = await startRollout(client, validateRollout(shape.rolloutRaw(steps, { rollback: { scaleDownDelay: '1s' } })), { taskQueue });
    const result = await ramp.worker.runUntil(awaitResult(handle));
    expect(result.outcome).toBe(outcome);
    const after = await shape.state();
    if (outcome === 'RolledBack') expect(after).toEqual(before);
    else expect(after.selectors).toEqual(before.selectors);
  } finally {
    await connection.close();
    await ramp.connection.close();
  }
});

it("a worker with the chart's ServiceAccount token promotes with subset routing (the canary subset added to the DestinationRule, then taken out)", async () => {
  const taskQueue = uniqueName('rbac-tq');
  const ramp = await createRampWorker({ ...workerConfig(info, taskQueue), KUBECONFIG: kubeconfigFile }, { workflowBundle: await workflowBundle() }, { kube: recorder });
  const connection = await Connection.connect({ address: info.temporal.address });
  try {
    const client = new Client({ connection, namespace: info.temporal.namespace });
    const handle = await startRollout(client, validateRollout(subsetShop.rolloutRaw([{ setWeight: 50 }, { setWeight: 100 }])), { taskQueue });
    expect((await ramp.worker.runUntil(awaitResult(handle))).outcome).toBe('Promoted');
  } finally {
    await connection.close();
    await ramp.connection.close();
  }
});

it.each(['HTTPRoute', 'GRPCRoute'])("a worker with the chart's ServiceAccount token promotes on a Gateway API %s", async (kind) => {
  const gatewayShop = gatewayShops.find((x) => x.kind === kind)!;
  const taskQueue = uniqueName('rbac-tq');
  const ramp = await createRampWorker({ ...workerConfig(info, taskQueue), KUBECONFIG: kubeconfigFile }, { workflowBundle: await workflowBundle() }, { kube: recorder });
  const connection = await Connection.connect({ address: info.temporal.address });
  try {
    const client = new Client({ connection, namespace: info.temporal.namespace });
    const handle = await startRollout(client, validateRollout(gatewayShop.rolloutRaw([{ setWeight: 50 }, { setWeight: 100 }])), { taskQueue });
    expect((await ramp.worker.runUntil(awaitResult(handle))).outcome).toBe('Promoted');
    expect(JSON.stringify((await gatewayShop.route()).spec)).toBe(JSON.stringify(gatewayShop.original.spec));
  } finally {
    await connection.close();
    await ramp.connection.close();
  }
});

it("every request the workers sent is allowed by the chart's rules", () => {
  const seen = recorder.seen.map((r) => ({ request: `${r.method} ${r.path.split('?')[0]}`, needs: permissionOfRequest(r.method, r.path) }));
  expect(seen.length).toBeGreaterThan(20);
  const granted = permissionsOf(chartRules());
  // /version (the doctor's check) is open to every authenticated user; nothing else may be missing.
  expect(seen.filter((s) => !granted.has(s.needs) && s.needs !== 'nonResource:/version')).toEqual([]);
  const used = new Set(seen.map((s) => s.needs));
  // Every rule was needed: the canary brought to another spec (a retried create finding an older
  // canary) is a patch, as the promotion's.
  expect([...granted].filter((p) => !used.has(p)).sort()).toEqual([]);
});

it('may not read Secrets, neither in an application namespace nor in its own', async () => {
  const api = restricted.makeApiClient(k8s.CoreV1Api);
  await expect(api.listNamespacedSecret({ namespace: shop.namespace })).rejects.toMatchObject({ code: 403 });
  await expect(api.readNamespacedSecret({ name: 'x', namespace: shop.namespace })).rejects.toMatchObject({ code: 403 });
  await expect(api.listNamespacedSecret({ namespace: saNamespace })).rejects.toMatchObject({ code: 403 });
});

it('may not touch a namespace it was not bound in', async () => {
  const apps = restricted.makeApiClient(k8s.AppsV1Api);
  await expect(apps.listNamespacedDeployment({ namespace: otherNamespace })).rejects.toMatchObject({ code: 403 });
  const labels = { app: 'x' };
  await expect(apps.createNamespacedDeployment({
    namespace: otherNamespace,
    body: { metadata: { name: 'x' }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'x', image: 'x' }] } } } },
  })).rejects.toMatchObject({ code: 403 });
  await expect(restricted.makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: otherNamespace, plural: 'virtualservices' })).rejects.toMatchObject({ code: 403 });
});

it('with payload encryption on, the rollout runs and the server stores only ciphertext', async () => {
  const taskQueue = uniqueName('codec-tq');
  const keyFile = path.join(tmp, 'codec.key');
  fs.writeFileSync(keyFile, Buffer.alloc(32, 9).toString('hex'), { mode: 0o600 });
  const cfg = { ...workerConfig(info, taskQueue), RAMP_CODEC_KEY_FILE: keyFile, RAMP_CODEC_KEY_ID: 'test-key' };
  const ramp = await createRampWorker(cfg, { workflowBundle: await workflowBundle() });
  const connection = await Connection.connect({ address: info.temporal.address });
  try {
    const client = new Client({ connection, namespace: info.temporal.namespace, dataConverter: dataConverterFor(cfg) });
    const s = await createMushop(admin, { mode: 'subset' });
    try {
      const handle = await startRollout(client, validateRollout(s.rolloutRaw([{ setWeight: 50 }, { setWeight: 100 }])), { taskQueue });
      const result = await ramp.worker.runUntil(awaitResult(handle));
      expect(result.outcome).toBe('Promoted');
      const raw = JSON.stringify(await handle.fetchHistory());
      const decoded = [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('latin1')).join('\n');
      expect(decoded.includes('storefront-original-canary')).toBe(false);
      expect(raw.includes(Buffer.from('test-key').toString('base64'))).toBe(true); // the key id is in the metadata, in clear
      // Payloads (the spec, statuses, activity inputs and results) are sealed; search attributes
      // and summaries stay readable on purpose, for the UI's list and `ramp list`.
      expect(decoded.includes('versionLabel')).toBe(false);
      expect(decoded.includes('"outcome"')).toBe(false);
      // A client without the key cannot read the result.
      const plain = new Client({ connection, namespace: info.temporal.namespace });
      await expect(plain.workflow.getHandle(handle.workflowId).result()).rejects.toThrow();
    } finally {
      await s.cleanup();
    }
  } finally {
    await connection.close();
    await ramp.connection.close();
  }
});

it('no history on the server holds a credential configured in this suite', async () => {
  expect(configured).toHaveLength(2);
  // The stack's git server password: GitOps rollouts name its file; the worker reads it (alone and
  // as the basic-auth header git sends) and it must never reach a history.
  if (info.git) {
    const password = fs.readFileSync(info.git.passwordFile, 'utf8').trim();
    configured.push(password, Buffer.from(`${info.git.username}:${password}`).toString('base64'));
  }
  const connection = await Connection.connect({ address: info.temporal.address });
  try {
    const client = new Client({ connection, namespace: info.temporal.namespace });
    let scanned = 0;
    for await (const wf of client.workflow.list({ query: 'WorkflowType = "rolloutWorkflow"', pageSize: 200 })) {
      const raw = JSON.stringify(await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
      const decoded = [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('latin1'));
      const text = [raw, ...decoded].join('\n');
      for (const secret of configured) expect(text.includes(secret)).toBe(false);
      if (++scanned >= 500) break;
    }
    expect(scanned).toBeGreaterThan(0);
  } finally {
    await connection.close();
  }
});
