/**
 * The Kubernetes control plane is real: a Deployment made with @kubernetes/client-node is
 * scheduled by kube-scheduler onto a KWOK node, its pods turn Ready, and the Deployment
 * controller reports it Available.
 */
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, eventually, stackInfo, uniqueName } from '../../support/stack';

describe('local Kubernetes', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const namespace = uniqueName('smoke-k8s');

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('serves the pinned version over TLS with RBAC on', async () => {
    const v = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(v.gitVersion).toBe(stackInfo().kubernetes.version);
    expect(v.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(kc.getCurrentCluster()?.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // RBAC is enforced: an anonymous caller may not list namespaces.
    const anon = new k8s.KubeConfig();
    anon.loadFromOptions({
      clusters: [{ name: 'c', server: kc.getCurrentCluster()!.server, caFile: kc.getCurrentCluster()!.caFile }],
      users: [{ name: 'anon' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'anon' }],
      currentContext: 'c',
    });
    await expect(anon.makeApiClient(k8s.CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 403 });
  });

  it('has untainted KWOK nodes that are Ready', async () => {
    const nodes = await core.listNode();
    const kwok = nodes.items.filter((n) => n.metadata?.annotations?.['kwok.x-k8s.io/node'] === 'fake');
    expect(kwok.length).toBeGreaterThanOrEqual(1);
    for (const n of kwok) {
      expect(n.spec?.taints ?? []).toEqual([]);
      expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
  });

  it('creates the namespace default ServiceAccount (controller-manager runs with token signing)', async () => {
    const sa = await eventually('default ServiceAccount', async () => {
      try {
        return await core.readNamespacedServiceAccount({ name: 'default', namespace });
      } catch {
        return undefined;
      }
    });
    expect(sa.metadata?.name).toBe('default');
    const token = await core.createNamespacedServiceAccountToken({
      name: 'default', namespace, body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    expect(token.status?.token.split('.')).toHaveLength(3);
  });

  it('makes a Deployment Available with Ready pods on KWOK nodes', async () => {
    const labels = { app: 'smoke', version: 'v1' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'smoke', labels },
        spec: {
          replicas: 3,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'app', image: 'registry.example/smoke:v1', ports: [{ containerPort: 8080 }] }] },
          },
        },
      },
    });
    const dep = await eventually('Deployment Available', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'smoke', namespace });
      const available = d.status?.conditions?.find((c) => c.type === 'Available')?.status === 'True';
      return available && d.status?.readyReplicas === 3 ? d : undefined;
    }, 60_000);
    expect(dep.status?.availableReplicas).toBe(3);

    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=smoke' });
    expect(pods.items).toHaveLength(3);
    for (const pod of pods.items) {
      expect(pod.spec?.nodeName).toMatch(/^kwok-node-/);
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(pod.status?.podIP).toBeTruthy();
    }
  });
});
