/**
 * The rollout workflow with the gateway-api router on the real stack: an HTTPRoute taken
 * 10 → 50 → approval → 100 and promoted, an abort during a pause, and a GRPCRoute promoted. Each
 * leaves the route's spec exactly as it was (other rules, matches, filters and parentRefs included)
 * with one write per weight change. No Gateway API implementation runs here, so the route's status
 * is never reported and each write counts once read back (decision 0025).
 */
import * as k8s from '@kubernetes/client-node';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, approveUpdate, statusQuery } from '../../../src/shared/messages';
import { startRollout } from '../../../src/client/rollouts';
import { createGatewayShop, GatewayShop, RouteKind } from '../../support/gateway-shop';
import { adminKubeConfig, eventually, sleep } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
let w: TestWorker;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
});

/** The route's spec is what it was, serialized alike; the canary Service Ramp created is gone. */
async function expectRestored(shop: GatewayShop): Promise<void> {
  const route = await shop.route();
  expect(JSON.stringify(route.spec)).toBe(JSON.stringify(shop.original.spec));
  expect(await shop.service('storefront-canary')).toBeUndefined();
}

describe.each<[RouteKind, number[]]>([['HTTPRoute', [10, 50]], ['GRPCRoute', [25]]])('%s', (kind, before) => {
  let shop: GatewayShop;
  beforeAll(async () => {
    shop = await createGatewayShop(kc, kind);
  });
  afterAll(async () => {
    await shop?.cleanup();
  });

  it(`${before.join(' → ')} → approval → 100 is promoted, one write per weight change, the route as it was`, async () => {
    const steps = [...before.map((w) => ({ setWeight: w })), { approval: {} }, { setWeight: 100 }];
    const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw(steps)), { taskQueue: w.taskQueue, startedBy: 'jest' });

    const waiting = await waitForPhase(handle, 'AwaitingApproval');
    const last = before[before.length - 1]!;
    expect(waiting.weights).toEqual({ stable: 100 - last, canary: last });
    expect(await shop.managedWeights()).toEqual([['storefront-stable', 100 - last], ['storefront-canary', last]]);
    const mid = await shop.route();
    // The canary ref added at 0, then one write per weight step.
    expect(mid.metadata.generation).toBe(shop.original.metadata.generation + 1 + before.length);
    expect(JSON.stringify(mid.spec.parentRefs)).toBe(JSON.stringify(shop.original.spec.parentRefs));
    expect(JSON.stringify(mid.spec.rules.filter((r) => r.name !== 'storefront'))).toBe(JSON.stringify(shop.original.spec.rules.filter((r) => r.name !== 'storefront')));
    expect((await shop.service('storefront-canary'))?.spec?.selector).toEqual({ app: 'storefront', version: 'beta' });

    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    const result = await awaitResult(handle);
    expect(result.outcome).toBe('Promoted');
    expect((await shop.deployment('storefront-original'))?.spec?.template.spec?.containers[0]?.image).toBe('iad.ocir.io/mushop/storefront:beta');
    expect(await shop.deployment('storefront-original-canary')).toBeUndefined();
    await expectRestored(shop);
    // Add at 0, each weight step, 100, and the restore at the end: nothing else wrote the route's spec.
    expect((await shop.route()).metadata.generation).toBe(shop.original.metadata.generation + 1 + before.length + 1 + 1);
  });

  if (kind === 'HTTPRoute') {
    it('abort during a pause puts the route back exactly', async () => {
      const start = await shop.route();
      const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 30 }, { pause: {} }])), { taskQueue: w.taskQueue });
      await waitForPhase(handle, 'Paused');
      expect(await shop.managedWeights()).toEqual([['storefront-stable', 70], ['storefront-canary', 30]]);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'errors up', by: 'oncall' }] });
      const result = await awaitResult(handle);
      expect(result.outcome).toBe('RolledBack');
      expect(result.status.weights).toEqual({ stable: 100, canary: 0 });
      await expectRestored(shop);
      expect((await shop.route()).metadata.generation).toBe(start.metadata.generation + 3);
      const s = await eventually('the canary Deployment gone', async () => ((await shop.deployment('storefront-original-canary')) ? undefined : true), 30_000);
      expect(s).toBe(true);
      expect((await handle.query(statusQuery)).phase).toBe('RolledBack');
    });

    it('a weight its implementation does not accept fails the step and rolls back, naming the parent and the condition', async () => {
      // A stand-in for an implementation's controller: it reports on each new generation, accepting
      // the route until a rule sends traffic to the canary, whose backend it then refuses.
      const custom = kc.makeApiClient(k8s.CustomObjectsApi);
      let running = true;
      const reported: number[] = [];
      const controller = (async () => {
        while (running) {
          const route = await shop.route();
          const generation = route.metadata.generation;
          if (!reported.includes(generation)) {
            const refused = (await shop.managedWeights()).some(([name, weight]) => name === 'storefront-canary' && (weight ?? 1) > 0);
            const now = new Date().toISOString();
            const accepted = { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Accepted', observedGeneration: generation, lastTransitionTime: now };
            const resolved = refused
              ? { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: 'backend storefront-canary has no endpoints in the mesh', observedGeneration: generation, lastTransitionTime: now }
              : { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'Resolved', observedGeneration: generation, lastTransitionTime: now };
            await custom.patchNamespacedCustomObjectStatus(
              {
                group: 'gateway.networking.k8s.io', version: 'v1', namespace: shop.namespace, plural: 'httproutes', name: 'storefront',
                body: { status: { parents: [{ parentRef: { name: 'public', sectionName: 'web' }, controllerName: 'example.com/recorded-gateway-controller', conditions: [accepted, resolved] }] } },
              },
              k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
            );
            reported.push(generation);
          }
          await sleep(50);
        }
      })();
      try {
        const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 20 }, { pause: {} }])), { taskQueue: w.taskQueue });
        const result = await awaitResult(handle);
        expect(result.outcome).toBe('RolledBack');
        expect(result.reason).toMatch(new RegExp(`HTTPRoute ${shop.namespace}/storefront at generation \\d+ is not accepted by Gateway ${shop.namespace}/public section web: ResolvedRefs False, reason BackendNotFound: backend storefront-canary has no endpoints in the mesh`));
        await expectRestored(shop);
      } finally {
        running = false;
        await controller;
      }
    });
  }
});
