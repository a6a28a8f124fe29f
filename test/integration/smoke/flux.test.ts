/**
 * The stack's GitOps agent is real: Flux's source-controller fetches a repository from the stack's
 * git server (basic auth) and kustomize-controller applies it, follows pushes, reconciles at once
 * when asked, and reverts a hand edit of what it applied. That last one is the fight Ramp must
 * detect when it scales or patches an object a GitOps agent owns, so the test also pins down what
 * the object's managedFields say after the revert.
 */
import * as k8s from '@kubernetes/client-node';
import { branchHead, cloneAsPerson, commitAndPush, createRepo, removeTempDirs, TestRepo } from '../../support/git';
import {
  createFluxObject,
  gitCredentialsSecret,
  gitRepository,
  gitRevision,
  kustomization,
  patchFluxObject,
  readFluxObject,
  readyAtGeneration,
  requestReconcile,
  SOURCE,
  waitForAppliedRevision,
} from '../../support/flux';
import { adminKubeConfig, eventually, sleep, stackInfo, uniqueName } from '../../support/stack';

/** Short on purpose; Flux recommends at least 60 s for a Kustomization, but enforces no minimum. */
const INTERVAL = '5s';

const configMap = (namespace: string, greeting: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: ${namespace}
data:
  greeting: ${greeting}
`;

const deployment = (namespace: string, replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${namespace}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0.0
`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const report = (line: string) => process.stderr.write(`[flux] ${line}\n`);

describe('Flux (source-controller and kustomize-controller) on the local stack', () => {
  const info = stackInfo();
  const kc = adminKubeConfig(info);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const namespace = uniqueName('smoke-flux');
  let repo: TestRepo;
  let clone: string;

  beforeAll(async () => {
    if (!info.flux) throw new Error(`${info.stateDir}/stack.json names no Flux: bring the stack up with this checkout (npm run stack -- up)`);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    repo = await createRepo('flux-smoke', { 'deploy/configmap.yaml': configMap(namespace, 'hello'), 'deploy/deployment.yaml': deployment(namespace, 1) });
    clone = await cloneAsPerson(repo);
    await core.createNamespacedSecret({ namespace, body: gitCredentialsSecret('git-credentials', repo) });
    await createFluxObject(kc, gitRepository(namespace, 'app', repo, { secretName: 'git-credentials', interval: INTERVAL }));
    await createFluxObject(kc, kustomization(namespace, 'app', { source: 'app', path: './deploy', interval: INTERVAL, prune: true }));
  });
  afterAll(async () => {
    removeTempDirs();
    await core.deleteNamespace({ name: namespace });
  });

  const greeting = async () => (await core.readNamespacedConfigMap({ namespace, name: 'app-config' })).data?.greeting;

  it('applies the repository: the objects appear and lastAppliedRevision names the branch head', async () => {
    const head = await branchHead(repo);
    const k = await waitForAppliedRevision(kc, namespace, 'app', gitRevision(repo.branch, head));
    expect(k.status?.lastAppliedRevision).toBe(`main@sha1:${head}`);
    expect(await greeting()).toBe('hello');
    const web = await apps.readNamespacedDeployment({ namespace, name: 'web' });
    expect(web.spec?.replicas).toBe(1);
    // What kustomize-controller stamps on every object it owns: how Ramp can tell who applied it.
    expect(web.metadata?.labels).toMatchObject({ 'kustomize.toolkit.fluxcd.io/name': 'app', 'kustomize.toolkit.fluxcd.io/namespace': namespace });
  });

  it('follows a push on its interval', async () => {
    const t0 = Date.now();
    const sha = await commitAndPush(repo, clone, { 'deploy/configmap.yaml': configMap(namespace, 'bonjour') }, 'Say bonjour');
    await waitForAppliedRevision(kc, namespace, 'app', gitRevision(repo.branch, sha), 60_000);
    report(`push → applied, GitRepository interval ${INTERVAL}: ${seconds(Date.now() - t0)}`);
    expect(await greeting()).toBe('bonjour');
  });

  it('reconciles at once when reconcile.fluxcd.io/requestedAt is set, without waiting for the interval', async () => {
    // An hour: the push below can only be seen early because it was asked for.
    const slowed = await patchFluxObject(kc, SOURCE, namespace, 'app', { spec: { interval: '1h' } });
    await eventually('GitRepository to observe its 1h interval', async () => {
      const g = await readFluxObject(kc, SOURCE, namespace, 'app');
      return readyAtGeneration(g)?.status === 'True' && g.metadata.generation === slowed.metadata.generation ? g : undefined;
    });
    const t0 = Date.now();
    const sha = await commitAndPush(repo, clone, { 'deploy/configmap.yaml': configMap(namespace, 'hola') }, 'Say hola');
    const revision = gitRevision(repo.branch, sha);
    // Longer than the 5 s interval that applied the last push: unasked, nothing moves now.
    await sleep(8_000);
    expect((await readFluxObject(kc, SOURCE, namespace, 'app')).status?.artifact?.revision).not.toBe(revision);
    expect(await greeting()).toBe('bonjour');

    const asked = Date.now();
    const token = await requestReconcile(kc, SOURCE, namespace, 'app');
    await waitForAppliedRevision(kc, namespace, 'app', revision, 30_000);
    const took = Date.now() - asked;
    report(`requestedAt on the GitRepository → applied: ${seconds(took)} (push ${seconds(asked - t0)} earlier, interval 1h)`);
    expect(took).toBeLessThan(15_000);
    expect(await greeting()).toBe('hola');
    expect((await readFluxObject(kc, SOURCE, namespace, 'app')).status?.lastHandledReconcileAt).toBe(token);
  });

  it('reverts a hand edit of an object it applied on its next reconcile, and owns the field again', async () => {
    // What a person with kubectl (or Ramp scaling a workload) does: a merge patch under a manager of its own.
    const person = 'smoke-person';
    const t0 = Date.now();
    await core.patchNamespacedConfigMap(
      { namespace, name: 'app-config', body: { data: { greeting: 'edited by hand' } }, fieldManager: person },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await apps.patchNamespacedDeployment(
      { namespace, name: 'web', body: { spec: { replicas: 3 } }, fieldManager: person },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const cm = await eventually('kustomize-controller to revert the ConfigMap', async () => {
      const c = await core.readNamespacedConfigMap({ namespace, name: 'app-config' });
      return c.data?.greeting === 'hola' ? c : undefined;
    }, 30_000, 100);
    const web = await eventually('kustomize-controller to revert the Deployment', async () => {
      const d = await apps.readNamespacedDeployment({ namespace, name: 'web' });
      return d.spec?.replicas === 1 ? d : undefined;
    }, 30_000, 100);
    report(`hand edit → reverted: ${seconds(Date.now() - t0)} (Kustomization interval ${INTERVAL})`);
    report(`ConfigMap managedFields after the revert: ${JSON.stringify(cm.metadata?.managedFields?.map((f) => ({ manager: f.manager, operation: f.operation, fields: f.fieldsV1 })))}`);
    report(`Deployment managedFields after the revert: ${JSON.stringify(web.metadata?.managedFields?.map((f) => ({ manager: f.manager, operation: f.operation, subresource: f.subresource, fields: f.fieldsV1 })))}`);

    const owners = (fields: k8s.V1ManagedFieldsEntry[] | undefined, path: string[]) =>
      (fields ?? [])
        .filter((f) => path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], f.fieldsV1) !== undefined)
        .map((f) => `${f.manager}/${f.operation}`);
    // Server-side apply with force takes the field back from the person: one owner, the agent.
    expect(owners(cm.metadata?.managedFields, ['f:data', 'f:greeting'])).toEqual(['kustomize-controller/Apply']);
    expect(owners(web.metadata?.managedFields, ['f:spec', 'f:replicas'])).toEqual(['kustomize-controller/Apply']);
  });
});
