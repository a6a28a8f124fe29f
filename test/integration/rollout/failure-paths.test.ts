/**
 * Failure paths that must end in a known, consistent state, on the real stack: a writer racing the
 * promotion, objects deleted mid-rollout, a cancellation during the promotion, a plain promote
 * during a hold, a weight edited between Ramp's read and its write, and a canary replaced under
 * the same name. Each of these ended wrongly before the rollout became a state machine (each test
 * failed on commit 07a3904).
 */
import * as k8s from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { startRollout } from '../../../src/client/rollouts';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, approveUpdate, pauseUpdate, promoteUpdate, resumeUpdate, statusQuery } from '../../../src/shared/messages';
import { recordHistory } from '../../support/histories';
import { InterceptingKubeConfig } from '../../support/intercept';
import { clusterView, createMushop, ISTIO, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually, sleep } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** The worker's KubeConfig: the admin's, with rules a test adds to act between a read and a write. */
const kube = new InterceptingKubeConfig(kc);
let w: TestWorker;
let shop: Mushop;

beforeAll(async () => {
  w = await startTestWorker(undefined, undefined, { kube });
});
afterAll(async () => {
  await w?.close();
});
afterEach(async () => {
  await shop?.cleanup();
});

const STABLE = 'storefront-original';
const CANARY = 'storefront-original-canary';

async function deleteVirtualService(namespace: string) {
  await custom.deleteNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront' });
}

it('promotion: another writer changes the stable Deployment between Ramp\'s read and its patch; the patch is retried and the rollout is promoted', async () => {
  shop = await createMushop(kc, { mode: 'subset' });
  const ns = shop.namespace;
  let bumped = 0;
  kube.on({
    matches: (r) => r.method === 'PATCH' && r.path.split('?')[0] === `/apis/apps/v1/namespaces/${ns}/deployments/${STABLE}` && /json-patch/.test(r.contentType ?? ''),
    // An HPA or the Deployment controller writing in between: any write bumps the resourceVersion.
    before: async () => {
      bumped++;
      await apps.patchNamespacedDeployment({ name: STABLE, namespace: ns, body: { metadata: { annotations: { 'test.ramp.dev/other-writer': 'was here' } } } }, merge);
    },
  });
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 50 }])), { taskQueue: w.taskQueue });
  const result = await awaitResult(handle);
  expect(bumped).toBe(1);
  expect(result.outcome).toBe('Promoted');
  const stable = await clusterView(kc, ns).deployment(STABLE);
  expect(stable?.spec?.template.spec?.containers[0]?.image).toBe('iad.ocir.io/mushop/storefront:beta');
  // The other writer's change is kept.
  expect(stable?.metadata?.annotations?.['test.ramp.dev/other-writer']).toBe('was here');
});

describe.each(['subset', 'service'] as const)('%s routing: the VirtualService is deleted mid-rollout', (mode) => {
  it('an abort still removes the canary destination and the canary: RolledBack, nothing left', async () => {
    shop = await createMushop(kc, { mode });
    const view = clusterView(kc, shop.namespace);
    const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 30 }, { pause: {} }], { rollback: { scaleDownDelay: '0s' } })), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'Paused');
    await deleteVirtualService(shop.namespace);
    await handle.executeUpdate(abortUpdate, { args: [{ by: 'jest', reason: 'vs gone' }] });
    const result = await awaitResult(handle);
    expect(result.status.leftToFix).toBeUndefined();
    expect(result.outcome).toBe('RolledBack');
    expect(await view.deployment(CANARY)).toBeUndefined();
    if (mode === 'subset') expect((await view.dr()).spec).toEqual(shop.original.dr!.spec);
    else expect(await view.service('storefront-canary')).toBeUndefined();
  });

  it('during the last approval: the promotion still completes (Promoted, cleanup done)', async () => {
    shop = await createMushop(kc, { mode });
    const view = clusterView(kc, shop.namespace);
    const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 50 }, { approval: {} }])), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'AwaitingApproval');
    await deleteVirtualService(shop.namespace);
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'jest' }] });
    const result = await awaitResult(handle);
    expect(result.outcome).toBe('Promoted');
    expect(result.status.leftToFix).toBeUndefined();
    expect((await view.deployment(STABLE))?.spec?.template.spec?.containers[0]?.image).toBe('iad.ocir.io/mushop/storefront:beta');
    expect(await view.deployment(CANARY)).toBeUndefined();
    if (mode === 'subset') expect((await view.dr()).spec).toEqual(shop.original.dr!.spec);
    else expect(await view.service('storefront-canary')).toBeUndefined();
  });
});

it('a cancellation during Promoting finishes the promotion and its cleanup, then ends the workflow as cancelled', async () => {
  shop = await createMushop(kc, { mode: 'subset' });
  const ns = shop.namespace;
  const view = clusterView(kc, ns);
  // Each new pod counts as available only after 4 s: the stable's roll takes a while.
  await apps.patchNamespacedDeployment({ name: STABLE, namespace: ns, body: { spec: { minReadySeconds: 4 } } }, merge);
  await eventually('stable rolled out', async () => ((await view.deployment(STABLE))?.status?.availableReplicas === 2 ? true : undefined), 60_000, 500);
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 50 }])), { taskQueue: w.taskQueue });
  await waitForPhase(handle, 'Promoting', 120_000);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  const s = await handle.query(statusQuery);
  expect(s.outcome).toBe('Promoted');
  expect(s.reason).toMatch(/the cancel arrived during the promotion, which was finished/);
  expect(s.audit.map((a) => a.event)).toContain('cancel');
  expect((await view.deployment(STABLE))?.spec?.template.spec?.containers[0]?.image).toBe('iad.ocir.io/mushop/storefront:beta');
  expect(await view.deployment(CANARY)).toBeUndefined();
  expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
  expect((await view.dr()).spec).toEqual(shop.original.dr!.spec);
  await recordHistory(handle, 'cancelled-during-promoting');
}, 180_000);

describe('a plain promote during a hold ends the hold and moves on', () => {
  it('held by a person (pause sent during a pause step, effective at its end)', async () => {
    shop = await createMushop(kc, { mode: 'subset' });
    const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { pause: { duration: '2s' } }, { setWeight: 50 }])), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'Paused');
    await handle.executeUpdate(pauseUpdate, { args: [{ by: 'alice', reason: 'lunch' }] });
    const held = await eventually('held by alice', async () => {
      const s = await handle.query(statusQuery);
      return s.pause?.by === 'alice' ? s : undefined;
    }, 30_000, 200);
    expect(held.phase).toBe('Paused');
    expect(held.step.index).toBe(2);
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob' }] });
    const result = await awaitResult(handle);
    expect(result.outcome).toBe('Promoted');
    expect(result.status.audit.filter((a) => a.event === 'promote')).toEqual([expect.objectContaining({ by: 'bob', accepted: true })]);
    await recordHistory(handle, 'promote-during-hold');
  });

  it('held by an inconclusive analysis', async () => {
    shop = await createMushop(kc, { mode: 'subset' });
    const noData = { analysis: { interval: '1s', count: 1, metrics: [{ name: 'nothing', query: 'absent_metric_for_ramp_tests{job="none"}', thresholdRange: { min: 1 } }] } };
    const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 10 }, noData, { setWeight: 50 }])), { taskQueue: w.taskQueue });
    const held = await waitForPhase(handle, 'Paused');
    expect(held.message).toMatch(/analysis inconclusive/);
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob' }] });
    const result = await awaitResult(handle);
    expect(result.outcome).toBe('Promoted');
  });
});

it('a weight edited between Ramp\'s read and its write is never overwritten: the drift policy holds the rollout', async () => {
  shop = await createMushop(kc, { mode: 'subset' });
  const ns = shop.namespace;
  const view = clusterView(kc, ns);
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }])), { taskQueue: w.taskQueue });
  await waitForPhase(handle, 'Paused');
  kube.on({
    matches: (r) => r.method === 'PATCH' && r.path.split('?')[0] === `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices/storefront`,
    // Someone sets the canary to 33 % with kubectl just before Ramp's write lands.
    before: async () => {
      const vs = await view.vs();
      const http = vs.spec.http.map((h) => (h.name === 'primary'
        ? { ...h, route: h.route.map((d) => ({ ...d, weight: d.destination.subset === 'canary' ? 33 : 67 })) }
        : h));
      await custom.patchNamespacedCustomObject({ ...ISTIO, namespace: ns, plural: 'virtualservices', name: 'storefront', body: { spec: { http } } }, merge);
    },
  });
  await handle.executeUpdate(resumeUpdate, { args: [{ by: 'jest' }] });
  const held = await eventually('held by drift detection', async () => {
    const s = await handle.query(statusQuery);
    return s.pause?.by === 'drift detection' ? s : undefined;
  }, 30_000, 200);
  expect(held.message).toMatch(/canary 33.*changed outside Ramp/);
  expect(await view.canaryWeight()).toBe(33);
  await sleep(500);
  expect(await view.canaryWeight()).toBe(33);
  await handle.executeUpdate(abortUpdate, { args: [{ by: 'jest', reason: 'done' }] });
  expect((await awaitResult(handle)).outcome).toBe('RolledBack');
  expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
  await recordHistory(handle, 'drift-between-read-and-write');
});

it('a canary replaced under the same name during the scale-down delay is not deleted', async () => {
  shop = await createMushop(kc, { mode: 'subset' });
  const ns = shop.namespace;
  const view = clusterView(kc, ns);
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 20 }, { pause: {} }], { rollback: { scaleDownDelay: '6s' } })), { taskQueue: w.taskQueue });
  await waitForPhase(handle, 'Paused');
  await handle.executeUpdate(abortUpdate, { args: [{ by: 'jest', reason: 'replace test' }] });
  await eventually('traffic back on stable', async () => ((await view.canaryWeight()) === 0 ? true : undefined), 10_000, 100);
  // Someone deletes Ramp's canary and creates their own Deployment of that name (with the same labels).
  const original = (await view.deployment(CANARY))!;
  await apps.deleteNamespacedDeployment({ name: CANARY, namespace: ns });
  await eventually('canary gone', async () => ((await view.deployment(CANARY)) === undefined ? true : undefined), 10_000, 100);
  const replacement = await apps.createNamespacedDeployment({
    namespace: ns,
    body: { metadata: { name: CANARY, labels: original.metadata?.labels }, spec: { ...original.spec!, replicas: 1 } },
  });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('RolledBack');
  expect((await view.deployment(CANARY))?.metadata?.uid).toBe(replacement.metadata?.uid);
});
