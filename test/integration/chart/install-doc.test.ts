/**
 * docs/install.md, run as written on the local stack. Each shell block is taken from the page by
 * its `<!-- step: NAME -->` marker and run with bash in a scratch folder (with the checkout's
 * charts/ linked in, as the page runs from a checkout); only the settings block's values are
 * replaced with the local stack's. Scenarios follow the page's three Temporal set-ups.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import axios from 'axios';
import { RAMP_SEARCH_ATTRIBUTES } from '../../../src/shared/search-attributes';
import { workerEnvShape } from '../../../src/worker/config';
import { BIN_DIR, ensureServiceMonitorCrd, find, helm, localValues, ok, renderChart, ROOT, run } from '../../support/chart';
import { adminKubeConfig, eventually, freePort, stackInfo, uniqueName } from '../../support/stack';
import { startWorkerProcess } from '../../support/worker-process';

const DOC = fs.readFileSync(path.join(ROOT, 'docs/install.md'), 'utf8');
const admin = adminKubeConfig();
const core = admin.makeApiClient(k8s.CoreV1Api);
const apps = admin.makeApiClient(k8s.AppsV1Api);
const info = stackInfo();

/** The fenced block right after `<!-- step: NAME -->`. */
function step(name: string, doc = DOC): string {
  const m = new RegExp(`<!-- step: ${name} -->\\s*\\n\`\`\`(\\w+)\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/install.md has no block marked <!-- step: ${name} -->`);
  return m[2]!;
}

/** The settings block with each `export NAME=…` given the local value (every name must be replaced). */
function localSettings(values: Record<string, string>): string {
  const block = step('settings');
  const names = [...block.matchAll(/^export (\w+)=/gm)].map((m) => m[1]!);
  expect(names.sort()).toEqual(Object.keys(values).sort());
  return block.replace(/^export (\w+)=.*$/gm, (_l, n: string) => `export ${n}=${JSON.stringify(values[n])}`);
}

interface Scenario { dir: string; ns: string; apps: string[] }

async function scenario(): Promise<Scenario> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-install-doc-'));
  fs.symlinkSync(path.join(ROOT, 'charts'), path.join(dir, 'charts'));
  const s = { dir, ns: uniqueName('ramp-doc'), apps: [uniqueName('doc-shop'), uniqueName('doc-pay')] };
  for (const name of s.apps) await core.createNamespace({ body: { metadata: { name } } });
  return s;
}

async function cleanup(s: Scenario): Promise<void> {
  await helm(['uninstall', 'ramp-worker', '-n', s.ns, '--wait', '--timeout', '60s']);
  for (const name of [s.ns, ...s.apps]) await core.deleteNamespace({ name }).catch(() => undefined);
  fs.rmSync(s.dir, { recursive: true, force: true });
}

/** Runs blocks in one bash, stopping at the first failing command, in the scenario's folder. */
async function bash(s: Scenario, script: string, env: Record<string, string> = {}) {
  const settings = localSettings({
    RAMP_NAMESPACE: s.ns, APP_NAMESPACES: s.apps.join(', '), RAMP_IMAGE: 'ramp-worker', RAMP_IMAGE_TAG: '0.1.0',
    TEMPORAL_ADDRESS: info.temporal.address, TEMPORAL_NAMESPACE: info.temporal.namespace, PROMETHEUS_URL: info.prometheus.url,
  });
  // --norc: bash spawned with socket stdio (as Node spawns it) reads the system bashrc otherwise,
  // and Debian's breaks under -u.
  return ok(await run('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', `${settings}\n${script}`], { cwd: s.dir, env }), 'the page\'s commands');
}

async function expectAvailable(s: Scenario): Promise<V1Deployment> {
  const d = await apps.readNamespacedDeployment({ name: 'ramp-worker', namespace: s.ns });
  expect(d.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
  expect(d.status?.readyReplicas).toBe(2);
  return d;
}

it('self-hosted Temporal, plain: values, install, check, ServiceMonitor', async () => {
  const s = await scenario();
  await ensureServiceMonitorCrd();
  try {
    const out = await bash(s, [step('values'), step('install'), step('check'), step('servicemonitor')].join('\n'));
    expect(out).toMatch(/^ramp-worker\s+\S+/m); // kubectl get servicemonitor ramp-worker
    await expectAvailable(s);
    expect(out).toMatch(/deployment "ramp-worker" successfully rolled out/);
    // can-i: patch VirtualServices yes, read Secrets no.
    expect(out).toMatch(/^yes$\n^no$/m);
    const cm = await core.readNamespacedConfigMap({ name: 'ramp-worker', namespace: s.ns });
    expect(cm.data).toMatchObject({ TEMPORAL_ADDRESS: info.temporal.address, RAMP_PROMETHEUS_URL: info.prometheus.url });
    for (const ns of s.apps) await admin.makeApiClient(k8s.RbacAuthorizationV1Api).readNamespacedRole({ name: 'ramp-worker', namespace: ns });
  } finally {
    await cleanup(s);
  }
});

it('self-hosted Temporal with mTLS, a Prometheus token and git credentials', async () => {
  const s = await scenario();
  try {
    // Throwaway certificates for the Secrets the page creates.
    const sh = (cmd: string) => execFileSync('bash', ['-c', cmd], { cwd: s.dir, stdio: 'pipe' });
    sh('openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=test-ca');
    sh('openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr -subj /CN=ramp-worker && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days 1');
    fs.writeFileSync(path.join(s.dir, 'prometheus.token'), 'not-a-real-token\n');
    fs.writeFileSync(path.join(s.dir, 'git.credentials'), 'ramp:not-a-real-password\n');
    const install = step('install').replace('-f ramp-values.yaml', '-f ramp-values.yaml -f temporal-mtls.yaml -f prometheus-auth.yaml -f gitops.yaml');
    expect(install).not.toBe(step('install'));
    await bash(s, [step('values'), step('mtls'), step('prometheus-auth'), step('gitops'), install].join('\n'));
    const d = await expectAvailable(s);
    const cm = await core.readNamespacedConfigMap({ name: 'ramp-worker', namespace: s.ns });
    expect(cm.data).toMatchObject({
      TEMPORAL_TLS: 'true',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/ramp/temporal-client-tls/tls.crt',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/etc/ramp/temporal-ca/ca.crt',
      RAMP_PROMETHEUS_BEARER_TOKEN_FILE: '/etc/ramp/prometheus/token',
      RAMP_GIT_WORKDIR: '/var/lib/ramp/git',
      RAMP_GIT_AUTHOR_EMAIL: 'ramp@example.com',
    });
    const secrets = d.spec!.template.spec!.volumes!.filter((v) => v.secret).map((v) => v.secret!.secretName).sort();
    expect(secrets).toEqual(['git-credentials', 'prometheus-token', 'temporal-ca', 'temporal-client']);
  } finally {
    await cleanup(s);
  }
});

it('Temporal Cloud: the API key from a Secret, no search-attribute Job', async () => {
  const s = await scenario();
  try {
    const install = step('install').replace('-f ramp-values.yaml', '-f ramp-values.yaml -f temporal-cloud.yaml');
    await bash(s, [step('values'), step('cloud'), install].join('\n'), { TEMPORAL_API_KEY: 'test-api-key' });
    const d = await expectAvailable(s);
    expect(d.spec!.template.spec!.containers[0]!.env).toEqual([{ name: 'TEMPORAL_API_KEY', valueFrom: { secretKeyRef: { name: 'temporal-api-key', key: 'api-key' } } }]);
    const secret = await core.readNamespacedSecret({ name: 'temporal-api-key', namespace: s.ns });
    expect(Buffer.from(secret.data!['api-key']!, 'base64').toString()).toBe('test-api-key');
    const manifest = ok(await helm(['get', 'manifest', 'ramp-worker', '-n', s.ns]), 'helm get manifest');
    expect(manifest).not.toMatch(/kind: Job/);
  } finally {
    await cleanup(s);
  }
});

it("the tcld command names exactly Ramp's search attributes, as Keyword", () => {
  const cmd = step('tcld');
  const named = [...cmd.matchAll(/--search-attribute "(\w+)=(\w+)"/g)].map((m) => `${m[1]}=${m[2]}`);
  expect(named.sort()).toEqual(RAMP_SEARCH_ATTRIBUTES.map((k) => `${k.name}=Keyword`).sort());
});

it('the CLI lists rollouts (this checkout\'s CLI as `ramp`)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-cli-'));
  try {
    const shim = path.join(dir, 'ramp');
    fs.writeFileSync(shim, `#!/usr/bin/env bash\nexec ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(path.join(ROOT, 'src/client/cli/main.ts'))} "$@"\n`, { mode: 0o755 });
    const block = step('cli');
    expect(block).toMatch(/^npm install -g @ramp-delivery\/cli$/m);
    const commands = block.split('\n').filter((l) => !l.startsWith('npm install'));
    const env = { PATH: `${dir}:${BIN_DIR}:${process.env.PATH ?? ''}`, TEMPORAL_ADDRESS: info.temporal.address, TEMPORAL_NAMESPACE: info.temporal.namespace, NODE_PATH: path.join(ROOT, 'node_modules') };
    const r = await run('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', commands.join('\n')], { cwd: ROOT, env });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Part C's HTTP server (RAMP_HTTP_ADDRESS, RAMP_SDK_METRICS_ADDRESS) serves what this step reads.
 * Until it is in src/worker this case is skipped; remove the guard once it lands.
 */
const servesMetrics = 'RAMP_HTTP_ADDRESS' in workerEnvShape;
(servesMetrics ? it : it.skip)('Prometheus sees the worker up and polling (the page\'s queries, a worker with the chart\'s settings)', async () => {
  const { objects } = await renderChart(localValues({ rbac: { namespaces: ['shop'] } }));
  const env = { ...find<V1ConfigMap>(objects, 'ConfigMap').data! };
  const [httpPort, sdkPort] = [await freePort(), await freePort()];
  const taskQueue = uniqueName('doc-tq');
  Object.assign(env, { RAMP_HTTP_ADDRESS: `127.0.0.1:${httpPort}`, RAMP_SDK_METRICS_ADDRESS: `127.0.0.1:${sdkPort}`, RAMP_TASK_QUEUE: taskQueue, KUBECONFIG: info.kubernetes.kubeconfig });
  const worker = await startWorkerProcess(taskQueue, env);
  const targets = path.join(info.prometheus.targetsDir, `install-doc-${taskQueue}.json`);
  try {
    // The labels the Prometheus Operator gives a ServiceMonitor's targets: job is the Service's name,
    // endpoint the port's.
    const labels = { job: 'ramp-worker-metrics', namespace: 'ramp-system', service: 'ramp-worker-metrics', pod: 'ramp-worker-0' };
    fs.writeFileSync(targets, JSON.stringify([
      { targets: [`127.0.0.1:${httpPort}`], labels: { ...labels, endpoint: 'http' } },
      { targets: [`127.0.0.1:${sdkPort}`], labels: { ...labels, endpoint: 'sdk-metrics' } },
    ]));
    const [up, pollers] = step('promql').split('\n').filter((l) => l.trim() !== '');
    type Sample = { metric: Record<string, string>; value: [number, string] };
    const query = async (q: string): Promise<Sample[]> => (await axios.get<{ data: { result: Sample[] } }>(`${info.prometheus.url}/api/v1/query`, { params: { query: q } })).data.data.result;
    const byPort = await eventually('both ports up', async () => {
      const r = await query(up!);
      return r.length === 2 && r.every((x) => x.value[1] === '1') ? Object.fromEntries(r.map((x): [string, string] => [x.metric.endpoint ?? '', x.value[1]])) : undefined;
    }, 60_000, 1000);
    expect(byPort).toEqual({ http: '1', 'sdk-metrics': '1' });
    const polling = await eventually('pollers reported', async () => {
      const r = await query(pollers!);
      return r.length >= 2 && r.every((x) => Number(x.value[1]) > 0) ? r.map((x) => x.metric.poller_type).sort() : undefined;
    }, 60_000, 1000);
    expect(polling).toEqual(expect.arrayContaining(['workflow_task']));
  } finally {
    fs.rmSync(targets, { force: true });
    await worker.kill('SIGTERM');
  }
});

it('every block of the page is run (or checked) here, and every test the page names exists', () => {
  const source = fs.readFileSync(__filename, 'utf8');
  const marked = [...DOC.matchAll(/<!-- step: ([\w-]+) -->/g)].map((m) => m[1]!);
  expect(marked.filter((name) => !source.includes(`step('${name}')`))).toEqual([]);
  // Every fenced block but the image build is marked as a step.
  const fences = [...DOC.matchAll(/(<!-- step: [\w-]+ -->\s*\n)?```\w+\n/g)];
  expect(fences.filter((f) => !f[1]).length).toBe(1);
  // Outside code, the page quotes only test names, each the start of a title here.
  const prose = DOC.replace(/```[\s\S]*?```/g, '').replace(/`[^`]*`/g, '');
  const named = [...prose.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
  const titles = [...source.matchAll(/^(?:\(servesMetrics \? it : it\.skip\)|it)\((['"])(.+?)\1,/gm)].map((m) => m[2]!.replace(/\\'/g, "'"));
  expect(named.length).toBeGreaterThan(5);
  expect(named.filter((n) => !titles.some((t) => t.startsWith(n)))).toEqual([]);
});
