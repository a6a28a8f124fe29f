/**
 * The workload activities against the real apiserver, each run twice: the second run leaves the
 * same cluster state (idempotent create-or-update, delete-if-present), and refusals name the
 * object and the fix. Activities that need an activity context (heartbeats) get a real one from
 * MockActivityEnvironment — only the Temporal server around them is absent, not Kubernetes.
 */
import * as k8s from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createWorkloadActivities } from '../../../src/activities/workload';
import type { WorkloadRef } from '../../../src/domain/rollout/calls';
import { validateRollout } from '../../../src/domain/spec/parse';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig } from '../../support/stack';

const kc = adminKubeConfig();
const acts = createWorkloadActivities({ kube: kc, pollMs: 200 });
let shop: Mushop;
let ref: WorkloadRef;

beforeAll(async () => {
  shop = await createMushop(kc, { mode: 'subset' });
  const r = validateRollout(shop.rolloutRaw([{ setWeight: 10 }]));
  ref = { namespace: shop.namespace, rollout: r.metadata.name, stableDeployment: r.spec.target.deployment, service: r.spec.target.service, canary: r.spec.canary };
});
afterAll(async () => {
  await shop?.cleanup();
});

function strip(d: k8s.V1Deployment | undefined) {
  return { labels: d?.metadata?.labels, spec: d?.spec, generation: d?.metadata?.generation };
}

it('inspectWorkload finds nothing wrong, twice, and resolves the versions', async () => {
  const a = await acts.inspectWorkload(ref);
  const b = await acts.inspectWorkload(ref);
  expect(a).toEqual({ problems: [], stableImage: shop.stableImage, versions: { key: 'version', stable: 'original', canary: 'beta', stablePinned: true } });
  expect(b).toEqual(a);
  ref = { ...ref, versions: a.versions! };
});

it('inspectWorkload lists every missing object, each with its fix', async () => {
  const r = await acts.inspectWorkload({ ...ref, stableDeployment: 'nope', service: 'nada' });
  expect(r.problems).toEqual([
    `Deployment ${shop.namespace}/nope not found; create it, or set spec.target.deployment to an existing Deployment`,
    `Service ${shop.namespace}/nada not found; create it, or set spec.target.service to an existing Service`,
  ]);
});

it('ensureCanary twice: one canary Deployment, same spec, not re-rolled', async () => {
  const view = clusterView(kc, shop.namespace);
  const created = await acts.ensureCanary(ref);
  const first = strip(await view.deployment(ref.canary.deploymentName));
  expect(await acts.ensureCanary(ref)).toEqual(created);
  expect(created.uid).toBe((await view.deployment(ref.canary.deploymentName))?.metadata?.uid);
  ref = { ...ref, canaryUid: created.uid };
  const second = strip(await view.deployment(ref.canary.deploymentName));
  expect(second).toEqual(first);
  expect(first.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'ramp', 'ramp.dev/rollout': 'storefront', version: 'beta' });
});

it('waitAvailable twice returns at once when the canary is Available', async () => {
  const env = new MockActivityEnvironment();
  const input = { namespace: shop.namespace, name: ref.canary.deploymentName, deadlineAt: Date.now() + 60_000 };
  const a = await env.run(acts.waitAvailable, input);
  const b = await env.run(acts.waitAvailable, input);
  expect(a).toMatch(/1 of 1 replicas available/);
  expect(b).toBe(a);
});

it('refuses to touch a Deployment of the same name that Ramp did not create', async () => {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const foreign: WorkloadRef = { ...ref, canaryUid: undefined, canary: { ...ref.canary, deploymentName: 'someone-elses' } };
  const labels = { app: 'other', version: 'beta' };
  await apps.createNamespacedDeployment({
    namespace: shop.namespace,
    body: { metadata: { name: 'someone-elses' }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'x', image: 'x' }] } } } },
  });
  await expect(acts.ensureCanary(foreign)).rejects.toMatchObject({ type: 'NotOurs', message: expect.stringMatching(/exists and is not Ramp's canary/) });
  await expect(acts.removeCanary(foreign)).rejects.toMatchObject({ type: 'NotOurs', message: expect.stringMatching(/refusing to delete/) });
  // Ramp's own canary (known by its uid) is gone and this one took its name: nothing of Ramp's to delete.
  expect(await acts.removeCanary({ ...foreign, canaryUid: 'uid-of-a-canary-that-is-gone' })).toBe('absent');
  expect((await acts.inspectWorkload(foreign)).problems).toEqual([expect.stringMatching(/someone-elses already exists and is not Ramp's canary .*set spec.canary.deploymentName to a free name/)]);
  expect(await clusterView(kc, shop.namespace).deployment('someone-elses')).toBeDefined();
});

it('promoteStable twice: one change to the stable template', async () => {
  const view = clusterView(kc, shop.namespace);
  await acts.promoteStable(ref);
  const first = strip(await view.deployment('storefront-original'));
  await acts.promoteStable(ref);
  const second = strip(await view.deployment('storefront-original'));
  expect(second.generation).toBe(first.generation);
  expect(first.spec?.template.spec?.containers[0]?.image).toBe('iad.ocir.io/mushop/storefront:beta');
  expect(first.spec?.template.metadata?.labels?.version).toBe('original');
});

it('removeCanary twice: deleted, then absent', async () => {
  expect(await acts.removeCanary(ref)).toBe('deleted');
  expect(await acts.removeCanary(ref)).toBe('absent');
  expect(await clusterView(kc, shop.namespace).deployment(ref.canary.deploymentName)).toBeUndefined();
});

it('waitAvailable fails non-retryably past its deadline, and on a missing Deployment', async () => {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const labels = { app: 'stuck' };
  await apps.createNamespacedDeployment({
    namespace: shop.namespace,
    body: {
      metadata: { name: 'stuck' },
      spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { nodeSelector: { 'ramp.dev/none': 'x' }, containers: [{ name: 'x', image: 'x' }] } } },
    },
  });
  const env = new MockActivityEnvironment();
  const late = (await env.run(acts.waitAvailable, { namespace: shop.namespace, name: 'stuck', deadlineAt: Date.now() + 1500 }).catch((e: unknown) => e)) as ApplicationFailure;
  expect(late).toMatchObject({ type: 'ProgressDeadlineExceeded' });
  expect(late.message).toMatch(/stuck: 0 of 1 updated replicas available; not ready within the progress deadline/);
  const missing = (await env.run(acts.waitAvailable, { namespace: shop.namespace, name: 'ghost', deadlineAt: Date.now() + 1000 }).catch((e: unknown) => e)) as ApplicationFailure;
  expect(missing).toMatchObject({ type: 'NotFound' });
});
