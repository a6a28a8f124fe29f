/**
 * The worker's Helm chart on the local stack: it lints, its every object is accepted by the real
 * apiserver (server-side dry run), it renders the settings the worker reads and the hardening the
 * restricted Pod Security Standard asks for, and `helm install` brings the Deployment to
 * Available on the KWOK fake nodes. KWOK marks pods Running and Ready without running a container,
 * so the probes, the image and the read-only root filesystem are not exercised here: the worker's
 * own tests (part of src/worker) serve /healthz and /readyz for real.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { V1ConfigMap, V1Deployment, V1Job, V1PodDisruptionBudget, V1Role, V1Service } from '@kubernetes/client-node';
import { CHART, ensureServiceMonitorCrd, find, helm, kubectl, localValues, ok, renderChart, ROOT, valuesFile } from '../../support/chart';
import { chartRules } from '../../support/rbac';
import { adminKubeConfig, eventually, uniqueName } from '../../support/stack';
import { workerEnvShape } from '../../../src/worker/config';

const admin = adminKubeConfig();
const core = admin.makeApiClient(k8s.CoreV1Api);
const apps = admin.makeApiClient(k8s.AppsV1Api);

/** Values that switch on every optional part the local apiserver can take (no ServiceMonitor CRD here). */
const everything = (appNamespaces: string[], workerNamespace: string) => localValues({
  namespace: { name: workerNamespace, create: true },
  rbac: { namespaces: appNamespaces },
  temporal: { ...localValues().temporal as object, apiKey: { secretName: 'temporal-api-key' }, tls: { serverName: 'temporal.example', clientCertSecretName: 'temporal-client', caSecretName: 'temporal-ca' } },
  prometheus: { url: 'http://prometheus.monitoring:9090', bearerToken: { secretName: 'prometheus-token' } },
  codec: { keySecretName: 'ramp-codec', keyId: 'k1' },
  worker: { workflowBundle: '/app/workflow-bundle.js', maxCachedWorkflows: 500 },
  gitops: { credentialsSecretName: 'git-credentials', workdirSizeLimit: '2Gi', author: { name: 'Ramp at Shop', email: 'ramp@shop.example' } },
});

describe('helm lint', () => {
  it('passes with the local values, strict', async () => {
    const r = await helm(['lint', CHART, '--strict', '-f', valuesFile(localValues({ rbac: { namespaces: ['shop'] } }))]);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  // The schema (values.schema.json) is checked by lint, template and install alike; `required` and
  // `fail` in templates only by template and install (lint treats missing values as warnings).
  it.each([
    ['lint', 'a Temporal address that is not host:port', { temporal: { address: 'http://temporal:7233' } }, /temporal.address|pattern/],
    ['lint', 'a value the chart does not know', { temporal: { adress: 'x:1' } }, /adress/],
    ['lint', 'a PodDisruptionBudget field the chart does not offer', { podDisruptionBudget: { enabled: true, minAvailable: 1 } }, /minAvailable/],
    ['template', 'no Temporal address', { temporal: { address: '' } }, /temporal.address is required/],
    ['template', 'no Prometheus URL', { prometheus: { url: '' } }, /prometheus.url is required/],
    ['template', 'both Prometheus credentials', { prometheus: { url: 'http://p:9090', bearerToken: { secretName: 'a' }, basicAuth: { secretName: 'b' } } }, /not both/],
  ])('%s fails on %s', async (command, _what, bad, message) => {
    const base = localValues();
    const values = { ...base, ...bad, temporal: { ...base.temporal as object, ...(bad as { temporal?: object }).temporal } };
    const r = await helm(command === 'lint' ? ['lint', CHART, '-f', valuesFile(values)] : ['template', 'r', CHART, '-f', valuesFile(values)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(message);
  });
});

describe('helm template', () => {
  it('is accepted by the apiserver object by object (kubectl apply --dry-run=server)', async () => {
    const appNs = uniqueName('chart-app');
    const workerNs = uniqueName('chart-sys');
    // A server-side dry run persists nothing, so the chart's own Namespace would not exist for the
    // objects inside it: both namespaces exist first, and the Namespace object is dry-run too.
    for (const name of [appNs, workerNs]) await core.createNamespace({ body: { metadata: { name } } });
    try {
      const { text, objects } = await renderChart(everything([appNs], workerNs));
      const out = ok(await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: text }), 'kubectl apply --dry-run=server');
      const accepted = out.trim().split('\n').filter((l) => l.endsWith('(server dry run)'));
      expect(accepted).toHaveLength(objects.length);
      expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Job', 'Namespace', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
      // The apiserver's answer for a broken object: the same pipe fails.
      const broken = text.replace('maxUnavailable: 1\n  selector', 'maxUnavailable: -1\n  selector');
      expect(broken).not.toBe(text);
      const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: broken });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/PodDisruptionBudget.*invalid|maxUnavailable/i);
    } finally {
      for (const name of [appNs, workerNs]) await core.deleteNamespace({ name });
    }
  });

  it("renders the ServiceMonitor only when asked, with both metrics ports, valid for the Prometheus Operator's CRD", async () => {
    const off = await renderChart(localValues());
    expect(off.objects.filter((o) => o.kind === 'ServiceMonitor')).toEqual([]);
    const on = await renderChart(localValues({ serviceMonitor: { enabled: true, labels: { release: 'monitoring' } } }), 'default');
    const sm = find<{ spec: { endpoints: { port: string; path: string }[]; selector: { matchLabels: Record<string, string> } } }>(on.objects, 'ServiceMonitor');
    expect(sm.spec.endpoints.map((e) => `${e.port}${e.path}`)).toEqual(['http/metrics', 'sdk-metrics/metrics']);
    // It selects the metrics Service, and only it.
    const svc = find<V1Service>(on.objects, 'Service');
    expect(Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata!.labels![k] === v)).toBe(true);
    expect(sm.spec.selector.matchLabels['app.kubernetes.io/component']).toBe('metrics');
    await ensureServiceMonitorCrd();
    const smText = on.text.split(/^---$/m).find((d) => d.includes('kind: ServiceMonitor'))!;
    expect(ok(await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: smText }), 'kubectl apply --dry-run=server')).toMatch(/servicemonitor.monitoring.coreos.com\/ramp-worker created \(server dry run\)/);
    const bad = smText.replace('interval: 30s', 'interval: thirty');
    expect(bad).not.toBe(smText);
    expect((await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: bad })).code).not.toBe(0);
  });

  it('runs the worker hardened: non-root, read-only root, no capabilities, RuntimeDefault seccomp, probes, resources', async () => {
    const { objects } = await renderChart(everything(['shop'], 'ramp-system'));
    const d = find<V1Deployment>(objects, 'Deployment');
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(d.spec!.replicas).toBeGreaterThanOrEqual(2);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(c.startupProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(c.resources).toEqual({ requests: { cpu: '500m', memory: '768Mi' }, limits: { cpu: '1', memory: '1536Mi' } });
    expect(c.volumeMounts?.find((m) => m.mountPath === '/tmp')).toBeDefined();
    // GitOps clones go to a volume of their own, sized by the values, where the worker is told to put them.
    const gitWork = c.volumeMounts?.find((m) => m.name === 'git-work');
    expect(gitWork?.readOnly).toBeFalsy();
    expect(pod.volumes?.find((v) => v.name === 'git-work')?.emptyDir).toEqual({ sizeLimit: '2Gi' });
    expect(find<V1ConfigMap>(objects, 'ConfigMap').data).toMatchObject({ RAMP_GIT_WORKDIR: gitWork?.mountPath, RAMP_GIT_AUTHOR_NAME: 'Ramp at Shop', RAMP_GIT_AUTHOR_EMAIL: 'ramp@shop.example' });
    expect(pod.serviceAccountName).toBe('ramp-worker');
    const pdb = find<V1PodDisruptionBudget>(objects, 'PodDisruptionBudget');
    expect(pdb.spec!.maxUnavailable).toBe(1);
    expect(pdb.spec!.selector!.matchLabels).toEqual(d.spec!.selector.matchLabels);
    const svc = find<V1Service>(objects, 'Service');
    expect(svc.spec!.ports!.map((p) => p.port)).toEqual([9464, 9465]);
  });

  it('references Secrets and never holds one: the API key as an env reference, the rest as read-only files the worker is pointed at', async () => {
    const { objects } = await renderChart(everything(['shop'], 'ramp-system'));
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const d = find<V1Deployment>(objects, 'Deployment');
    const c = d.spec!.template.spec!.containers[0]!;
    expect(c.env).toEqual([{ name: 'TEMPORAL_API_KEY', valueFrom: { secretKeyRef: { name: 'temporal-api-key', key: 'api-key' } } }]);
    const secretVolumes = Object.fromEntries(d.spec!.template.spec!.volumes!.filter((v) => v.secret).map((v) => [v.name, v.secret!.secretName]));
    expect(secretVolumes).toEqual({ 'temporal-client-tls': 'temporal-client', 'temporal-ca': 'temporal-ca', 'prometheus-credentials': 'prometheus-token', 'codec-key': 'ramp-codec', 'git-credentials': 'git-credentials' });
    const cm = find<V1ConfigMap>(objects, 'ConfigMap');
    const mounts = c.volumeMounts!.filter((m) => m.name !== 'tmp' && m.name !== 'git-work');
    // The git credentials files: where the rollouts' spec.gitops.repository.credentials name them.
    expect(mounts.find((m) => m.name === 'git-credentials')?.mountPath).toBe('/etc/ramp/git');
    expect(mounts.every((m) => m.readOnly)).toBe(true);
    const mountedAt = (file: string) => mounts.some((m) => file.startsWith(`${m.mountPath}/`));
    for (const key of ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'RAMP_PROMETHEUS_BEARER_TOKEN_FILE', 'RAMP_CODEC_KEY_FILE']) {
      expect([key, mountedAt(cm.data![key] ?? '')]).toEqual([key, true]);
    }
    expect(cm.data).toMatchObject({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_NAME: 'temporal.example', RAMP_CODEC_KEY_ID: 'k1', RAMP_WORKFLOW_BUNDLE: '/app/workflow-bundle.js', RAMP_MAX_CACHED_WORKFLOWS: '500' });
  });

  it('every setting in the ConfigMap is one the worker reads, with a value it accepts', async () => {
    const { objects } = await renderChart(everything(['shop'], 'ramp-system'));
    const data = find<V1ConfigMap>(objects, 'ConfigMap').data!;
    // Part C's HTTP settings are agreed names the worker reads once its HTTP server lands.
    const known = new Set([...Object.keys(workerEnvShape), 'RAMP_HTTP_ADDRESS', 'RAMP_SDK_METRICS_ADDRESS', 'RAMP_LOG_LEVEL']);
    expect(Object.keys(data).filter((k) => !known.has(k))).toEqual([]);
    for (const [k, v] of Object.entries(data)) {
      const rule = (workerEnvShape as Record<string, { safeParse(v: unknown): { success: boolean } }>)[k];
      if (rule) expect([k, rule.safeParse(v).success]).toEqual([k, true]);
    }
  });

  it('the search-attribute Job runs after install and upgrade with the Temporal settings only and no Kubernetes token', async () => {
    const { objects } = await renderChart(everything(['shop'], 'ramp-system'));
    const job = find<V1Job>(objects, 'Job');
    expect(job.metadata!.annotations!['helm.sh/hook']).toBe('post-install,post-upgrade');
    const pod = job.spec!.template.spec!;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0]!.command).toEqual(['node', 'dist/src/client/register-search-attributes.js']);
    expect(pod.volumes!.filter((v) => v.secret).map((v) => v.name).sort()).toEqual(['temporal-ca', 'temporal-client-tls']);
    // The entry point the Job runs is built from this file.
    expect(fs.existsSync(path.join(ROOT, 'src/client/register-search-attributes.ts'))).toBe(true);
    const off = await renderChart(localValues({ searchAttributes: { register: false } }));
    expect(off.objects.filter((o) => o.kind === 'Job')).toEqual([]);
  });

  it("gives each listed application namespace a Role with exactly the code's rules, and no other namespace anything", async () => {
    const { objects } = await renderChart(everything(['shop-a', 'shop-b'], 'ramp-system'));
    const roles = objects.filter((o) => o.kind === 'Role') as unknown as V1Role[];
    expect(roles.map((r) => r.metadata!.namespace).sort()).toEqual(['shop-a', 'shop-b']);
    for (const r of roles) expect(r.rules).toEqual(chartRules());
    expect(objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toEqual([]);
  });

  it('deploy/rbac.yaml is the chart rendered for its stated values', async () => {
    const file = fs.readFileSync(path.join(ROOT, 'deploy/rbac.yaml'), 'utf8');
    const values = /^# values: (.*)$/m.exec(file)?.[1];
    expect(values).toBeDefined();
    const args = ['template', 'ramp-worker', CHART, '-n', 'ramp-system', ...values!.split(' '), '--show-only', 'templates/namespace.yaml', '--show-only', 'templates/serviceaccount.yaml', '--show-only', 'templates/rbac.yaml'];
    const rendered = ok(await helm(args), 'helm template');
    const body = file.slice(file.indexOf('---'));
    expect(body.trim()).toBe(rendered.trim());
  });
});

describe('helm install on the local cluster', () => {
  const release = uniqueName('ramp-worker');
  const workerNs = uniqueName('ramp-sys');
  const appNs = [uniqueName('shop-a'), uniqueName('shop-b')];

  beforeAll(async () => {
    for (const name of appNs) await core.createNamespace({ body: { metadata: { name } } });
  });

  afterAll(async () => {
    await helm(['uninstall', release, '-n', workerNs, '--wait', '--timeout', '60s']);
    for (const name of [...appNs, workerNs]) await core.deleteNamespace({ name }).catch(() => undefined);
  });

  it('creates every object, runs the search-attribute hook, and the Deployment becomes Available on the fake nodes', async () => {
    const values = localValues({ namespace: { name: workerNs, create: true }, rbac: { namespaces: appNs } });
    const t0 = Date.now();
    // The release record lives in the default namespace; the chart makes the worker's own.
    ok(await helm(['install', release, CHART, '-n', 'default', '-f', valuesFile(values), '--wait', '--timeout', '120s']), 'helm install');
    const installMs = Date.now() - t0;
    process.stderr.write(`[chart] helm install --wait: ${(installMs / 1000).toFixed(1)}s\n`);

    const d = await apps.readNamespacedDeployment({ name: release, namespace: workerNs });
    expect(d.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    expect(d.status?.readyReplicas).toBe(2);
    const pods = await core.listNamespacedPod({ namespace: workerNs, labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/name=ramp-worker` });
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) expect(p.spec?.nodeName).toMatch(/^kwok-node-/);
    const ns = await core.readNamespace({ name: workerNs });
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    // The apiserver's PodSecurity admission enforces that label: the chart's pods were admitted
    // under it, and a pod without the hardening is refused.
    await expect(core.createNamespacedPod({ namespace: workerNs, dryRun: 'All', body: { metadata: { name: 'plain' }, spec: { containers: [{ name: 'c', image: 'x' }] } } }))
      .rejects.toMatchObject({ code: 403, body: expect.stringMatching(/violates PodSecurity \\"restricted:latest\\"/) });
    await core.readNamespacedServiceAccount({ name: release, namespace: workerNs });
    await core.readNamespacedConfigMap({ name: release, namespace: workerNs });
    await core.readNamespacedService({ name: `${release}-metrics`, namespace: workerNs });
    await admin.makeApiClient(k8s.PolicyV1Api).readNamespacedPodDisruptionBudget({ name: release, namespace: workerNs });
    const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    for (const name of appNs) {
      await rbac.readNamespacedRole({ name: release, namespace: name });
      const rb = await rbac.readNamespacedRoleBinding({ name: release, namespace: name });
      expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: release, namespace: workerNs }]);
    }
    // The hook Job completed (KWOK completes Job pods) and was deleted, as hook-succeeded says.
    const jobs = await admin.makeApiClient(k8s.BatchV1Api).listNamespacedJob({ namespace: workerNs });
    expect(jobs.items).toEqual([]);
    const status = ok(await helm(['status', release, '-n', 'default', '-o', 'json']), 'helm status');
    expect((JSON.parse(status) as { info: { status: string } }).info.status).toBe('deployed');
  });

  it('the ServiceAccount may do what the Role says in an application namespace, and nothing elsewhere', async () => {
    const as = `system:serviceaccount:${workerNs}:${release}`;
    const can = async (verb: string, resource: string, ns: string) => (await kubectl(['auth', 'can-i', verb, resource, '-n', ns, '--as', as])).stdout.trim();
    expect(await can('patch', 'virtualservices.networking.istio.io', appNs[0]!)).toBe('yes');
    expect(await can('create', 'deployments.apps', appNs[1]!)).toBe('yes');
    expect(await can('get', 'secrets', appNs[0]!)).toBe('no');
    expect(await can('list', 'deployments.apps', appNs[0]!)).toBe('no');
    expect(await can('get', 'deployments.apps', workerNs)).toBe('no');
    expect(await can('get', 'deployments.apps', 'default')).toBe('no');
  });

  it('an upgrade with another application namespace adds its Role and rolls the workers for a changed setting', async () => {
    const extra = uniqueName('shop-c');
    await core.createNamespace({ body: { metadata: { name: extra } } });
    appNs.push(extra);
    const before = (await apps.readNamespacedDeployment({ name: release, namespace: workerNs })).spec!.template.metadata!.annotations!['checksum/config'];
    const values = localValues({ namespace: { name: workerNs, create: true }, rbac: { namespaces: appNs }, worker: { logLevel: 'debug' } });
    ok(await helm(['upgrade', release, CHART, '-n', 'default', '-f', valuesFile(values), '--wait', '--timeout', '120s']), 'helm upgrade');
    await admin.makeApiClient(k8s.RbacAuthorizationV1Api).readNamespacedRole({ name: release, namespace: extra });
    const d = await apps.readNamespacedDeployment({ name: release, namespace: workerNs });
    expect(d.spec!.template.metadata!.annotations!['checksum/config']).not.toBe(before);
    await eventually('the rolled Deployment to be Available with 2 updated replicas', async () => {
      const now = await apps.readNamespacedDeployment({ name: release, namespace: workerNs });
      return now.status?.updatedReplicas === 2 && now.status?.availableReplicas === 2 ? true : undefined;
    }, 60_000);
    const cm = await core.readNamespacedConfigMap({ name: release, namespace: workerNs });
    expect(cm.data?.RAMP_LOG_LEVEL).toBe('debug');
  });
});
