/**
 * A stable Deployment whose selector lacks the version label (the MuShop guide's shape) beside
 * Ramp's canary, on the real controller-manager: the stable's selector also matches the canary's
 * pods, yet each controller keeps to its own by owner references and pod-template-hash — no
 * adoption, no scaling fight, Available counts that count only each Deployment's own pods, and a
 * promotion and a canary removal that leave the other side alone (docs/decisions/0015).
 */
import * as k8s from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createWorkloadActivities } from '../../../src/activities/workload';
import type { WorkloadRef } from '../../../src/domain/rollout/calls';
import { validateRollout } from '../../../src/domain/spec/parse';
import { adminKubeConfig, eventually, uniqueName } from '../../support/stack';

const kc = adminKubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const acts = createWorkloadActivities({ kube: kc, pollMs: 200 });
const namespace = uniqueName('overlap');
const env = new MockActivityEnvironment();
let ref: WorkloadRef;

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web', version: 'v1' } }, spec: { containers: [{ name: 'app', image: 'web:v1' }] } },
      },
    },
  });
  await core.createNamespacedService({ namespace, body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } } });
  const spec = validateRollout({
    apiVersion: 'ramp.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace },
    spec: {
      target: { deployment: 'web', service: 'web' }, canary: { image: 'web:v2' },
      traffic: { provider: 'istio', virtualService: { name: 'web' }, routing: { mode: 'subset' } }, steps: [{ setWeight: 10 }],
    },
  });
  ref = { namespace, rollout: 'web', stableDeployment: 'web', service: 'web', canary: spec.spec.canary };
  const inspected = await acts.inspectWorkload(ref);
  expect(inspected.problems).toEqual([]);
  expect(inspected.versions).toEqual({ key: 'version', stable: 'v1', canary: 'v2', stablePinned: false });
  ref = { ...ref, versions: inspected.versions! };
  await env.run(acts.waitAvailable, { namespace, name: 'web', deadlineAt: Date.now() + 60_000 });
});
afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

const deployment = (name: string) => apps.readNamespacedDeployment({ namespace, name });
async function podsBy(owner: 'web' | 'web-canary') {
  const pods = (await core.listNamespacedPod({ namespace })).items.filter((p) => p.metadata?.deletionTimestamp === undefined);
  const sets = (await apps.listNamespacedReplicaSet({ namespace })).items;
  const d = await deployment(owner);
  const mine = new Set(sets.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.controller && o.uid === d.metadata?.uid)).map((rs) => rs.metadata?.uid));
  return pods.filter((p) => p.metadata?.ownerReferences?.some((o) => o.controller && mine.has(o.uid)));
}

it('the canary beside it: each Deployment counts and owns only its own pods', async () => {
  const canary = await acts.ensureCanary(ref);
  ref = { ...ref, canaryUid: canary.uid };
  await env.run(acts.waitAvailable, { namespace, name: 'web-canary', deadlineAt: Date.now() + 60_000 });
  const stable = await deployment('web');
  expect(stable.status).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
  expect((await deployment('web-canary')).status).toMatchObject({ replicas: 1, availableReplicas: 1 });
  // Every pod has one controller, a ReplicaSet of its own Deployment; the stable's selector matches all three.
  const pods = (await core.listNamespacedPod({ namespace })).items;
  expect(pods).toHaveLength(3);
  expect(pods.every((p) => p.metadata?.ownerReferences?.filter((o) => o.controller).length === 1)).toBe(true);
  expect((await podsBy('web')).map((p) => p.metadata?.labels?.version)).toEqual(['v1', 'v1']);
  expect((await podsBy('web-canary')).map((p) => p.metadata?.labels?.version)).toEqual(['v2']);
  // The ReplicaSets select by pod-template-hash, which keeps the two apart.
  for (const rs of (await apps.listNamespacedReplicaSet({ namespace })).items) expect(rs.spec?.selector.matchLabels?.['pod-template-hash']).toBeDefined();
});

it('scaling the stable does not touch the canary', async () => {
  await apps.patchNamespacedDeploymentScale({ namespace, name: 'web', body: { spec: { replicas: 3 } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  await eventually('stable at 3', async () => ((await deployment('web')).status?.availableReplicas === 3 ? true : undefined), 60_000, 200);
  expect(await podsBy('web')).toHaveLength(3);
  expect(await podsBy('web-canary')).toHaveLength(1);
  expect((await deployment('web-canary')).status?.availableReplicas).toBe(1);
});

it('promoting the stable rolls only its pods, which take the canary\'s version value; removing the canary leaves them', async () => {
  await acts.promoteStable(ref);
  await env.run(acts.waitAvailable, { namespace, name: 'web', deadlineAt: Date.now() + 60_000 });
  const stable = await podsBy('web');
  expect(stable.map((p) => [p.metadata?.labels?.version, p.spec?.containers[0]?.image])).toEqual([['v2', 'web:v2'], ['v2', 'web:v2'], ['v2', 'web:v2']]);
  expect(await podsBy('web-canary')).toHaveLength(1);
  expect(await acts.removeCanary(ref)).toBe('deleted');
  await eventually('canary pods gone', async () => ((await core.listNamespacedPod({ namespace })).items.filter((p) => p.metadata?.deletionTimestamp === undefined).length === 3 ? true : undefined), 60_000, 200);
  expect((await deployment('web')).status).toMatchObject({ replicas: 3, availableReplicas: 3 });
});
