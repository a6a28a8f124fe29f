/**
 * The routing features through the real workflow, with live traffic counted per request: a test
 * worker runs each rollout on its own MuShop storefront (Istio, subset routing) while the traffic
 * generator routes requests by the VirtualService as the workflow leaves it, with a request mix
 * that carries a header and with simulated clients that keep cookies. What each version received
 * is read from the generator's counts over windows that begin once it routes by the object the
 * rollout wrote:
 *
 * - a header route sends the requests with the header, and only those, to the canary at weight 0;
 *   promotion and abort remove it;
 * - a 20 % mirror gives the canary about a fifth of the requests as mirrored copies and no
 *   user-facing one, and a canary failing only under those copies is rolled back by the analysis
 *   before any weight is set;
 * - with sticky sessions, a client that got a canary answer at weight 20 gets only canary answers
 *   after the weight moves to 50; promotion removes the cookie route and the Set-Cookie.
 *
 * And behind a Gateway API HTTPRoute, the header rule sends only the header requests to the canary
 * Service at weight 0 and is gone after promotion and after an abort.
 *
 * The six rollouts run concurrently. Shares are checked in binomial bands (4σ); nothing is timed.
 */
import { activityCalls } from '../../../src/client/history';
import { startRollout } from '../../../src/client/rollouts';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, promoteUpdate, resumeUpdate, statusQuery } from '../../../src/shared/messages';
import { startMushopTraffic, STOREFRONT, type MushopTraffic, type MushopTrafficOptions } from '../../../scripts/traffic/main';
import type { TrafficStats } from '../../../scripts/traffic/generator';
import { createGatewayShop } from '../../support/gateway-shop';
import { clusterView, createMushop, type Mushop } from '../../support/mushop';
import { awaitResult } from '../../support/results';
import { adminKubeConfig, eventually, stackInfo } from '../../support/stack';
import { expectBinomial, statsWhen } from '../../support/traffic';
import { startTestWorker, waitForPhase, type TestWorker } from '../../support/worker';

jest.setTimeout(180_000);

const kc = adminKubeConfig();
const info = stackInfo();
const STABLE = STOREFRONT.stableWorkload;
const CANARY = STOREFRONT.canaryWorkload;
const fast = { progressDeadline: '60s', rollback: { scaleDownDelay: '1s' } };

type Handle = Awaited<ReturnType<typeof startRollout>>;
const opened: { shop: { cleanup(): Promise<void> }; traffic?: MushopTraffic }[] = [];
const handles: Handle[] = [];
let worker: Promise<TestWorker> | undefined;
/** One worker for every test; concurrent tests may start before a beforeAll would have finished. */
const theWorker = () => (worker ??= startTestWorker());

afterAll(async () => {
  // A rollout a failed expectation left running is aborted first, so it undoes its routes before the namespace goes.
  await Promise.all(handles.map(async (h) => {
    if ((await h.describe()).status.name !== 'RUNNING') return;
    await h.executeUpdate(abortUpdate, { args: [{ by: 'jest', reason: 'test ended' }] }).catch(() => undefined);
    await awaitResult(h).catch(() => undefined);
  }));
  await Promise.all(opened.map(async ({ shop, traffic }) => {
    await traffic?.stop();
    await shop.cleanup();
  }));
  if (worker) await (await worker).close();
});

/** A storefront of its own with 80 requests/s following route `primary`. */
async function storefront(seed: number, traffic: Partial<MushopTrafficOptions>) {
  const shop = await createMushop(kc, { mode: 'subset' });
  const entry: { shop: Mushop; traffic?: MushopTraffic } = { shop };
  opened.push(entry);
  entry.traffic = await startMushopTraffic({
    namespace: shop.namespace, rps: 80, seed, kubeconfig: info.kubernetes.kubeconfig, targetsDir: info.prometheus.targetsDir,
    stable: { errorRate: 0, latencyMs: { median: 3, p99: 10 } }, maxDurationMs: 5 * 60_000, ...traffic,
  });
  return { shop, generator: entry.traffic.generator, view: clusterView(kc, shop.namespace) };
}

async function start(shop: { rolloutRaw: Mushop['rolloutRaw'] }, steps: unknown[], extra: Record<string, unknown> = {}): Promise<Handle> {
  const w = await theWorker();
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw(steps, { ...fast, ...extra })), { taskQueue: w.taskQueue, startedBy: 'jest' });
  handles.push(handle);
  return handle;
}

type Generator = MushopTraffic['generator'];

/** Reads the routing object as it is now: the VirtualService, or a Gateway API route. */
type RoutingObject = { vs(): Promise<{ metadata: { resourceVersion: string } }> } | { route(): Promise<{ metadata: { resourceVersion: string } }> };

/**
 * The generator's stats once it routes by the routing object as it is now and every destination
 * of the managed route has a ready pod (a Gateway API route's other rules name Services that do not exist).
 */
async function routingByCurrent(g: Generator, object: RoutingObject, what: string): Promise<TrafficStats> {
  const rv = ('vs' in object ? await object.vs() : await object.route()).metadata.resourceVersion;
  const managed = (e: TrafficStats['entries'][number]) => e.rule === undefined || e.rule === 'storefront';
  return statsWhen(g, `${what}: the generator routes by resourceVersion ${rv}`, (s) => s.resourceVersion === rv && s.entries.filter(managed).every((e) => e.endpoints.length > 0));
}

/** Stats after `n` more requests than `from`. */
const after = (g: Generator, from: TrafficStats, n: number) =>
  statsWhen(g, `${n} requests after ${from.requests}`, (s) => s.requests - from.requests >= n, 120_000);

/** What a window between two stats of one generator holds. */
function between(a: TrafficStats, b: TrafficStats) {
  const count = (pick: (s: TrafficStats) => number | undefined) => (pick(b) ?? 0) - (pick(a) ?? 0);
  return {
    requests: count((s) => s.requests),
    unmatched: count((s) => s.unmatched),
    /** User-facing answers by workload. */
    sent: (w: string) => count((s) => s.workloads[w]?.sent),
    mirrored: (w: string) => count((s) => s.workloads[w]?.mirrored.sent),
    /** Requests of kind `i` of the mix, and which workload answered them. */
    ofKind: (i: number) => count((s) => s.byRequest[i]?.requests),
    ofKindBy: (i: number, w: string) => count((s) => s.byRequest[i]?.byWorkload[w]),
    image: (img: string) => count((s) => s.images[img]?.sent),
    clientRequests: (c: number) => count((s) => s.clients[c]?.requests),
    clientBy: (c: number, w: string) => count((s) => s.clients[c]?.byWorkload[w]),
  };
}

/** Three plain requests for each one carrying the header. */
const HEADER_MIX = { requests: [{ path: '/shop', weight: 3 }, { path: '/shop', headers: { 'x-canary': 'yes' }, weight: 1 }] };
const HEADER_STEPS = [{ setHeaderRoute: { name: 'beta', match: [{ header: 'x-canary', value: 'yes' }] } }, { pause: {} }];

/** Header requests only to the canary, the others only to the stable, over a window at the pause. */
async function expectHeaderSplitAtPause(g: Generator, object: RoutingObject) {
  const from = await routingByCurrent(g, object, 'the header route');
  const d = between(from, await after(g, from, 600));
  expect(d.ofKind(1)).toBeGreaterThan(0);
  // Every request of each kind went to one place: with the header the canary, without it the stable; none unrouted, none mirrored.
  expect({ header: d.ofKindBy(1, CANARY), plain: d.ofKindBy(0, STABLE), unmatched: d.unmatched, mirrored: d.mirrored(CANARY) })
    .toEqual({ header: d.ofKind(1), plain: d.ofKind(0), unmatched: 0, mirrored: 0 });
  expectBinomial('the canary\'s share (the header requests)', d.sent(CANARY), d.requests, 0.25);
}

/** An Istio storefront with the header mix, its rollout paused at weight 0 with the header route checked. */
async function headerRouteAtPause(seed: number) {
  const { shop, generator: g, view } = await storefront(seed, HEADER_MIX);
  const h = await start(shop, HEADER_STEPS);
  await waitForPhase(h, 'Paused');
  expect(await view.canaryWeight()).toBe(0);
  await expectHeaderSplitAtPause(g, view);
  return { shop, g, view, h };
}

describe('routing features with live traffic, through the workflow (Istio)', () => {
  it.concurrent('header route: only requests with the header reach the canary at weight 0; promotion removes it and they reach the new stable', async () => {
    const { shop, g, view, h } = await headerRouteAtPause(101);

    await h.executeUpdate(promoteUpdate, { args: [{ by: 'jest' }] });
    expect((await awaitResult(h)).outcome).toBe('Promoted');
    expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
    // Once the old pods are gone, every request — with the header or without — is the stable's, on the new image.
    const from = await statsWhen(g, 'only new-image stable pods', (s) => s.entries.length > 0 && s.entries.every((e) => e.endpoints.length > 0 && e.endpoints.every((p) => p.workload === STABLE && p.image === STOREFRONT.canaryImage)));
    const d = between(from, await after(g, from, 400));
    expect(d.unmatched).toBe(0);
    expect(d.ofKind(1)).toBeGreaterThan(0);
    expect(d.ofKindBy(1, STABLE)).toBe(d.ofKind(1));
    expect(d.ofKindBy(0, STABLE)).toBe(d.ofKind(0));
    expect(d.image(STOREFRONT.canaryImage)).toBe(d.requests);
    expect(d.sent(CANARY)).toBe(0);
  });

  it.concurrent('header route: an abort during the pause removes it and header requests go back to the stable', async () => {
    const { shop, g, view, h } = await headerRouteAtPause(202);

    await h.executeUpdate(abortUpdate, { args: [{ by: 'jest', reason: 'test' }] });
    expect((await awaitResult(h)).outcome).toBe('RolledBack');
    expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
    const from = await routingByCurrent(g, view, 'the original VirtualService');
    const d = between(from, await after(g, from, 400));
    expect(d.ofKind(1)).toBeGreaterThan(0);
    expect(d.ofKindBy(1, STABLE)).toBe(d.ofKind(1));
    expect(d.sent(STABLE)).toBe(d.requests);
    expect(d.image(STOREFRONT.stableImage)).toBe(d.requests);
  });

  it.concurrent('mirror 20 %: mirrored copies only; a canary failing under them is rolled back before it gets any weight', async () => {
    // The canary answers 30 % of requests with 5xx: only the mirrored copies can show it.
    const { shop, generator: g, view } = await storefront(303, { canary: { errorRate: 0.3, latencyMs: { median: 3, p99: 10 } } });
    const analysis = { analysis: { interval: '3s', count: 5, inconclusiveLimit: 3, metrics: [{ name: 'request-success-rate', thresholdRange: { min: 95 } }] } };
    const h = await start(shop, [{ setMirror: { percent: 20 } }, { pause: {} }, analysis, { setWeight: 20 }, { pause: {} }]);
    await waitForPhase(h, 'Paused');
    expect(await view.canaryWeight()).toBe(0);
    const from = await routingByCurrent(g, view, 'the mirror');
    const d = between(from, await after(g, from, 1000));
    expect(d.sent(CANARY)).toBe(0);
    expect(d.sent(STABLE)).toBe(d.requests);
    expectBinomial('mirrored to the canary', d.mirrored(CANARY), d.requests, 0.2);
    expect(d.mirrored(STABLE)).toBe(0);

    await h.executeUpdate(resumeUpdate, { args: [{ by: 'jest' }] });
    const result = await awaitResult(h);
    expect(result.outcome).toBe('RolledBack');
    expect(result.reason).toMatch(/^analysis Failed: .*request-success-rate/);
    expect(result.status.step.index).toBe(2);
    expect(result.status.weights.canary).toBe(0);
    // No weight was ever written: the workflow's history has no trafficSetWeight call.
    const calls = activityCalls((await h.fetchHistory()).events ?? []);
    expect(calls.filter((c) => c.name === 'trafficSetWeight')).toEqual([]);
    expect(calls.some((c) => c.name === 'trafficSetFeature')).toBe(true);
    expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
    // From the generator's start to now, the canary served copies and not one user.
    const total = g.stats();
    expect(total.workloads[CANARY]?.sent ?? 0).toBe(0);
    expect(total.workloads[CANARY]!.mirrored.sent).toBeGreaterThan(0);
    expect(total.workloads[CANARY]!.mirrored.errors).toBeGreaterThan(0);
  });

  it.concurrent('sticky sessions: a client that got a canary answer at weight 20 gets only canary answers after the move to 50; promotion clears the cookie route', async () => {
    const clients = 50;
    const { shop, generator: g, view } = await storefront(404, { requests: [{ path: '/shop' }], clients });
    const { traffic } = (shop.rolloutRaw([]) as { spec: { traffic: object } }).spec;
    const h = await start(shop, [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }], { traffic: { ...traffic, stickySession: { cookie: 'ramp-canary' } } });
    await waitForPhase(h, 'Paused');
    expect(await view.canaryWeight()).toBe(20);
    const at20 = await routingByCurrent(g, view, 'weight 20 with the sticky route');
    // About six requests a client: most land on the canary at least once, some (0.8⁶ ≈ a quarter) do not.
    const before = await after(g, at20, 300);
    const clientIds = [...Array(clients).keys()];
    const landed = clientIds.filter((c) => between(at20, before).clientBy(c, CANARY) > 0);
    // Everyone who got a canary answer holds the cookie the canary's responses set.
    for (const c of landed) expect({ c, cookie: before.clients[c]!.cookies['ramp-canary'] }).toEqual({ c, cookie: 'beta' });
    expect(landed.length).toBeGreaterThan(clients / 4);
    expect(landed.length).toBeLessThan(clients);

    await h.executeUpdate(resumeUpdate, { args: [{ by: 'jest' }] });
    await eventually('paused at step 3', async () => {
      const s = await h.query(statusQuery);
      return s.phase === 'Paused' && s.step.index === 3 ? true : undefined;
    }, 60_000, 200);
    expect(await view.canaryWeight()).toBe(50);
    const at50 = await routingByCurrent(g, view, 'weight 50 with the sticky route');
    const end = await after(g, at50, 600);
    // From before the weight change to the end, the landed clients were answered by the canary alone.
    const d = between(before, end);
    for (const c of landed) {
      expect(d.clientRequests(c)).toBeGreaterThan(0);
      expect({ c, canary: d.clientBy(c, CANARY), stable: d.clientBy(c, STABLE) }).toEqual({ c, canary: d.clientRequests(c), stable: 0 });
    }
    // The others were still split by weight: some of their requests went to the stable (each has about a
    // dozen, the first at most half likely to be the canary's).
    const rest = clientIds.filter((c) => !landed.includes(c));
    expect(rest.reduce((a, c) => a + d.clientBy(c, STABLE), 0)).toBeGreaterThan(0);

    await h.executeUpdate(promoteUpdate, { args: [{ by: 'jest' }] });
    expect((await awaitResult(h)).outcome).toBe('Promoted');
    expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
    const done = await routingByCurrent(g, view, 'the original VirtualService');
    expect(done.entries.flatMap((e) => e.setCookies ?? [])).toEqual([]);
  });
});

/** A storefront behind an HTTPRoute with the header mix, its rollout paused at weight 0 with the header rule checked. */
async function gatewayHeaderRuleAtPause(seed: number) {
  const shop = await createGatewayShop(kc, 'HTTPRoute');
  const entry: { shop: { cleanup(): Promise<void> }; traffic?: MushopTraffic } = { shop };
  opened.push(entry);
  entry.traffic = await startMushopTraffic({
    namespace: shop.namespace, gatewayRoute: { kind: 'HTTPRoute', name: 'storefront' }, rps: 80, seed,
    kubeconfig: info.kubernetes.kubeconfig, targetsDir: info.prometheus.targetsDir, maxDurationMs: 5 * 60_000, ...HEADER_MIX,
  });
  const g = entry.traffic.generator;
  const h = await start(shop, HEADER_STEPS);
  await waitForPhase(h, 'Paused');
  expect((await shop.managedWeights()).map(([, weight]) => weight)).toEqual([100, 0]);
  await expectHeaderSplitAtPause(g, shop);
  return { shop, g, h };
}

/** After the rollout ended: the HTTPRoute as before, and header requests answered by the stable workload only. */
async function expectGatewayHeaderRuleGone(shop: Awaited<ReturnType<typeof createGatewayShop>>, g: Generator) {
  expect((await shop.route()).spec).toEqual(shop.original.spec);
  const from = await routingByCurrent(g, shop, 'the original HTTPRoute');
  const d = between(from, await after(g, from, 400));
  expect(d.ofKind(1)).toBeGreaterThan(0);
  expect({ canary: d.sent(CANARY), header: d.ofKindBy(1, STABLE) }).toEqual({ canary: 0, header: d.ofKind(1) });
}

describe('routing features with live traffic, through the workflow (Gateway API)', () => {
  it.concurrent('HTTPRoute header rule: only requests with the header reach the canary Service at weight 0; promotion removes the rule', async () => {
    const { shop, g, h } = await gatewayHeaderRuleAtPause(505);
    await h.executeUpdate(promoteUpdate, { args: [{ by: 'jest' }] });
    expect((await awaitResult(h)).outcome).toBe('Promoted');
    await expectGatewayHeaderRuleGone(shop, g);
  });

  it.concurrent('HTTPRoute header rule: an abort during the pause removes it', async () => {
    const { shop, g, h } = await gatewayHeaderRuleAtPause(606);
    await h.executeUpdate(abortUpdate, { args: [{ by: 'jest', reason: 'test' }] });
    expect((await awaitResult(h)).outcome).toBe('RolledBack');
    await expectGatewayHeaderRuleGone(shop, g);
  });
});
