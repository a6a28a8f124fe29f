/**
 * deploy/rbac.yaml is enough and no more: a real worker authenticated as the ServiceAccount (a
 * token minted by the real apiserver) runs a full rollout to promotion, while reading Secrets or
 * touching a namespace it was not bound in is refused with 403.
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
import { createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, stackInfo, uniqueName, workerConfig } from '../../support/stack';
import { workflowBundle } from '../../support/worker';

const ROOT = path.resolve(__dirname, '../../..');
const admin = adminKubeConfig();
const info = stackInfo();
const core = admin.makeApiClient(k8s.CoreV1Api);
const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
const saNamespace = uniqueName('ramp-system');
const otherNamespace = uniqueName('not-granted');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-rbac-'));
let shop: Mushop;
let kubeconfigFile: string;
let restricted: k8s.KubeConfig;

type Obj = { kind: string; metadata: { name: string; namespace?: string } };

beforeAll(async () => {
  shop = await createMushop(admin, { mode: 'service' });
  await core.createNamespace({ body: { metadata: { name: saNamespace } } });
  await core.createNamespace({ body: { metadata: { name: otherNamespace } } });
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, 'deploy/rbac.yaml'), 'utf8')).map((d) => d.toJS() as Obj);
  for (const doc of docs) {
    if (doc.kind === 'ServiceAccount') {
      await core.createNamespacedServiceAccount({ namespace: saNamespace, body: { ...doc, metadata: { ...doc.metadata, namespace: saNamespace } } });
    } else if (doc.kind === 'ClusterRole') {
      const body = doc as k8s.V1ClusterRole;
      try {
        await rbac.createClusterRole({ body });
      } catch {
        const cur = await rbac.readClusterRole({ name: doc.metadata.name });
        await rbac.replaceClusterRole({ name: doc.metadata.name, body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata?.resourceVersion } } });
      }
    } else if (doc.kind === 'RoleBinding') {
      const rb = doc as k8s.V1RoleBinding;
      await rbac.createNamespacedRoleBinding({
        namespace: shop.namespace,
        body: { ...rb, metadata: { ...rb.metadata, namespace: shop.namespace }, subjects: rb.subjects!.map((s) => ({ ...s, namespace: saNamespace })) },
      });
    }
  }
  const token = await core.createNamespacedServiceAccountToken({ name: 'ramp-worker', namespace: saNamespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = admin.getCurrentCluster()!;
  kubeconfigFile = path.join(tmp, 'ramp-worker.kubeconfig');
  fs.writeFileSync(kubeconfigFile, YAML.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } }],
    users: [{ name: 'ramp-worker', user: { token: token.status!.token } }],
    contexts: [{ name: 'ramp', context: { cluster: 'local', user: 'ramp-worker' } }],
    'current-context': 'ramp',
  }), { mode: 0o600 });
  restricted = new k8s.KubeConfig();
  restricted.loadFromFile(kubeconfigFile);
});

afterAll(async () => {
  await shop?.cleanup();
  await core.deleteNamespace({ name: saNamespace });
  await core.deleteNamespace({ name: otherNamespace });
  fs.rmSync(tmp, { recursive: true, force: true });
});

const configured: string[] = [];

it('a worker with only deploy/rbac.yaml runs a full rollout (service routing) to promotion; no credential enters its history', async () => {
  const taskQueue = uniqueName('rbac-tq');
  const promToken = `prom-secret-${uniqueName('t')}`;
  const promTokenFile = path.join(tmp, 'prometheus.token');
  fs.writeFileSync(promTokenFile, promToken, { mode: 0o600 });
  const cfg = { ...workerConfig(info, taskQueue), KUBECONFIG: kubeconfigFile, RAMP_PROMETHEUS_BEARER_TOKEN_FILE: promTokenFile };
  const ramp = await createRampWorker(cfg, { workflowBundle: await workflowBundle() });
  const connection = await Connection.connect({ address: info.temporal.address });
  try {
    const client = new Client({ connection, namespace: info.temporal.namespace });
    const analysis = { analysis: { interval: '1s', count: 2, metrics: [{ name: 'constant', query: 'vector(100)', thresholdRange: { min: 99 } }] } };
    const handle = await startRollout(client, validateRollout(shop.rolloutRaw([{ setWeight: 30 }, analysis, { setWeight: 100 }])), { taskQueue });
    const result = await ramp.worker.runUntil(handle.result());
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

it('may not read Secrets, even in its own namespace', async () => {
  await expect(restricted.makeApiClient(k8s.CoreV1Api).listNamespacedSecret({ namespace: shop.namespace })).rejects.toMatchObject({ code: 403 });
  await expect(restricted.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: 'x', namespace: shop.namespace })).rejects.toMatchObject({ code: 403 });
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
      const result = await ramp.worker.runUntil(handle.result());
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
