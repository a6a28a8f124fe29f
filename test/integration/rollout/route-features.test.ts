/**
 * The routing-feature steps through the real workflow on the Istio fixture: a header route, a mirror
 * and sticky sessions are in the VirtualService while the rollout pauses, and gone — the
 * VirtualService exactly as before — after a promotion and after an abort.
 */
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, promoteUpdate, statusQuery } from '../../../src/shared/messages';
import { startRollout } from '../../../src/client/rollouts';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually } from '../../support/stack';
import { startTestWorker, TestWorker } from '../../support/worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
let w: TestWorker;
let shop: Mushop;
/** The test's rollout: one that a failed expectation left running is aborted, so the next test finds the fixture free. */
let handle: Awaited<ReturnType<typeof startRollout>> | undefined;

beforeAll(async () => {
  w = await startTestWorker();
  shop = await createMushop(kc, { mode: 'subset' });
});
afterEach(async () => {
  if (handle && (await handle.describe()).status.name === 'RUNNING') {
    await handle.executeUpdate(abortUpdate, { args: [{ by: 'jest', reason: 'test failed' }] });
    await awaitResult(handle);
  }
  handle = undefined;
});
afterAll(async () => {
  await w?.close();
  await shop?.cleanup();
});

type Entry = { name?: string; match?: unknown[]; route: { destination: { host: string; subset?: string }; weight?: number; headers?: unknown }[]; mirror?: unknown; mirrorPercentage?: unknown };

const canary = { host: 'storefront', subset: 'canary' };
const stickyTraffic = {
  provider: 'istio', virtualService: { name: 'storefront', routes: ['primary'] },
  routing: { mode: 'subset', destinationRule: 'storefront' }, stickySession: { maxAge: '1h' },
};

describe('route features on the Istio router, through the workflow', () => {
  it('setWeight → setHeaderRoute → setMirror → pause: all in the VirtualService; promote takes them all back', async () => {
    const view = clusterView(kc, shop.namespace);
    const rollout = validateRollout(shop.rolloutRaw(
      [{ setWeight: 10 }, { setHeaderRoute: { name: 'beta-testers', match: [{ header: 'x-canary', value: 'true' }] } }, { setMirror: { percent: 20 } }, { pause: {} }],
      { traffic: stickyTraffic },
    ));
    handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue, startedBy: 'jest' });
    const h = handle;
    await eventually('Paused', async () => ((await h.query(statusQuery)).phase === 'Paused' ? true : undefined), 90_000, 300);

    const http = (await view.vs()).spec.http as Entry[];
    // Each entry goes immediately before the managed route: sticky came first (right after the routes), the header route after it.
    expect(http.map((r) => r.name)).toEqual(['api', 'assets', 'ramp-sticky', 'ramp-header-beta-testers', 'primary']);
    expect(JSON.stringify(http.slice(0, 2))).toBe(JSON.stringify(shop.original.vs.spec.http.slice(0, 2)));
    expect(http[2]!.match).toEqual([{ headers: { cookie: { regex: '^(.*?;\\s*)?ramp-canary=beta(;.*)?$' } } }]);
    expect(http[3]).toEqual({ name: 'ramp-header-beta-testers', match: [{ headers: { 'x-canary': { exact: 'true' } } }], route: [{ destination: canary, weight: 100 }] });
    const primary = http[4]!;
    expect(primary.route.map((d) => d.weight)).toEqual([90, 10]);
    expect(primary.route[1]!.headers).toEqual({ response: { add: { 'set-cookie': 'ramp-canary=beta; Max-Age=3600; Path=/' } } });
    expect(primary.mirror).toEqual(canary);
    expect(primary.mirrorPercentage).toEqual({ value: 20 });

    await h.executeUpdate(promoteUpdate, { args: [{ by: 'alice' }] });
    const result = await awaitResult(h);
    expect(result.outcome).toBe('Promoted');
    expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
    expect((await view.dr()).spec).toEqual(shop.original.dr!.spec);
  });

  it('a header route removed by its step is gone at the pause; an abort takes back the one left', async () => {
    const view = clusterView(kc, shop.namespace);
    const rollout = validateRollout(shop.rolloutRaw([
      { setHeaderRoute: { name: 'beta', match: [{ cookie: 'beta', value: '1' }] } },
      { setHeaderRoute: { name: 'qa', match: [{ query: 'qa', value: { prefix: 'y' } }] } },
      { setHeaderRoute: { name: 'beta' } },
      { pause: {} },
    ]));
    handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue, startedBy: 'jest' });
    const h = handle;
    await eventually('Paused', async () => ((await h.query(statusQuery)).phase === 'Paused' ? true : undefined), 90_000, 300);
    const http = (await view.vs()).spec.http as Entry[];
    expect(http.map((r) => r.name)).toEqual(['api', 'assets', 'ramp-header-qa', 'primary']);
    expect(http[2]!.match).toEqual([{ queryParams: { qa: { prefix: 'y' } } }]);
    // The weight stayed at 0: only requests that match reach the canary.
    expect(http[3]!.route.map((d) => d.weight)).toEqual([100, 0]);

    await h.executeUpdate(abortUpdate, { args: [{ by: 'oncall', reason: 'test' }] });
    const result = await awaitResult(h);
    expect(result.outcome).toBe('RolledBack');
    expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
    expect(await view.deployment('storefront-original-canary')).toBeUndefined();
  });
});
