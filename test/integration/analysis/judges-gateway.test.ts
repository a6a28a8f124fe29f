/**
 * The sequential judge end to end behind a Gateway API HTTPRoute: the demo service's two versions
 * behind the storefront route's `storefront` rule (test/support/gateway-shop.ts), the traffic
 * generator splitting requests by the backendRefs' weights it reads from the apiserver and counting
 * them as Contour's Envoy does (per upstream Service: `envoy_cluster_upstream_rq*`), the stack's
 * Prometheus scraping them, and rollouts whose analysis reads them through the built-in `contour`
 * counter queries — the default for `provider: gateway-api` — with the Services as the arms.
 *
 * Three rollouts run at the same time: a healthy canary is promoted, a canary answering 5 % of
 * requests with 5xx is rolled back, and so is another whose judge reads counter queries of the
 * user's own.
 */
import { validateRollout } from '../../../src/domain/spec/parse';
import { startRollout } from '../../../src/client/rollouts';
import { createGatewayShop } from '../../support/gateway-shop';
import { recordHistory } from '../../support/histories';
import { awaitResult } from '../../support/results';
import { liveTraffic } from '../../support/live-traffic';
import { adminKubeConfig } from '../../support/stack';
import { startTestWorker, type TestWorker } from '../../support/worker';

const kc = adminKubeConfig();
const live = liveTraffic();
let w: TestWorker;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await live.closeAll();
  await w?.close();
});

/** A storefront behind an HTTPRoute with 50 requests/s, the canary's share by the managed rule's weights. */
async function storefront(canaryErrorRate: number, seed: number) {
  const shop = await createGatewayShop(kc, 'HTTPRoute');
  await live.open(shop, {
    gatewayRoute: { kind: 'HTTPRoute', name: 'storefront' },
    rps: 50,
    seed,
    stable: { errorRate: 0.002, latencyMs: { median: 20, p99: 80 } },
    canary: { errorRate: canaryErrorRate, latencyMs: { median: 20, p99: 80 } },
    maxDurationMs: 10 * 60_000,
  });
  return shop;
}

const steps = (judge: Record<string, unknown>, count: number) => [
  { setWeight: 20 },
  { analysis: { interval: '5s', count, judge } },
  { setWeight: 100 },
];
const deadline = { progressDeadline: '60s', rollback: { scaleDownDelay: '1s' } };

/**
 * The user's own counter queries, as someone would write them for Contour's Envoy: the `_total`
 * counter and the 5xx class counter instead of the template's per-code series, grouped by a label
 * of their own. `template: contour` says the arms are the Services.
 */
const OWN_COUNTERS = {
  template: 'contour',
  requests: 'sum by (svc) (label_replace(envoy_cluster_upstream_rq_total{envoy_cluster_name=~"{{ namespace }}_({{ workloads }})_80"}, "svc", "$1", "envoy_cluster_name", "[^_]+_(.+)_80"))',
  errors: 'sum by (svc) (label_replace(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"{{ namespace }}_({{ workloads }})_80",envoy_response_code_class="5"}, "svc", "$1", "envoy_cluster_name", "[^_]+_(.+)_80"))',
  latencyBuckets: 'sum by (svc, le) (label_replace(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"{{ namespace }}_({{ workloads }})_80"}, "svc", "$1", "envoy_cluster_name", "[^_]+_(.+)_80"))',
  workloadLabel: 'svc',
};

it('behind an HTTPRoute, on Contour\'s metrics: a healthy canary is promoted and one with 5 % errors rolled back, by the built-in queries and by queries of the user\'s own', async () => {
  const [good, bad, own] = await Promise.all([storefront(0.002, 41), storefront(0.05, 42), storefront(0.05, 43)]);
  // A minute of looks cannot show the healthy canary no worse than +50 %: `atEnd: pass` promotes it.
  const healthy = validateRollout(good.rolloutRaw(steps({ sequential: { atEnd: 'pass' } }, 12), deadline));
  const failing = validateRollout(bad.rolloutRaw(steps({ sequential: {} }, 120), deadline));
  const ownQueries = validateRollout(own.rolloutRaw([
    { setWeight: 20 },
    { analysis: { interval: '5s', count: 120, judge: { sequential: {} }, counters: OWN_COUNTERS } },
    { setWeight: 100 },
  ], deadline));
  const [hg, hb, ho] = await Promise.all([healthy, failing, ownQueries].map((r) => startRollout(w.client, r, { taskQueue: w.taskQueue })));
  const [rg, rb, ro] = await Promise.all([awaitResult(hg!), awaitResult(hb!), awaitResult(ho!)]);

  expect(rg.outcome).toBe('Promoted');
  const a = rg.status.lastAnalysis!;
  expect(a.phase).toBe('Successful');
  const ev = a.judge!.evidence!;
  if (ev.kind !== 'sequential') throw new Error('expected sequential evidence');
  // Real counters of the two Services: ~10 canary requests/s for a minute, a baseline four times busier.
  expect(ev.e.errors.canary.requests).toBeGreaterThan(300);
  expect(ev.e.errors.baseline.requests).toBeGreaterThan(3 * ev.e.errors.canary.requests * 0.8);
  expect(ev.e.split.observed).toBeGreaterThan(0.15);
  expect(ev.e.split.observed).toBeLessThan(0.25);
  expect(ev.e.latency.slowMs).not.toBeNull();
  // Promoted: the managed rule is back to the stable Service alone, as it was.
  expect((await good.route()).spec.rules).toEqual(good.original.spec.rules);

  expect(rb.outcome).toBe('RolledBack');
  expect(rb.reason).toMatch(/^analysis Failed: sequential judge: roll back: canary errors/);
  const evb = rb.status.lastAnalysis!.judge!.evidence!;
  if (evb.kind !== 'sequential') throw new Error('expected sequential evidence');
  expect(evb.e.errors.eRollback).toBeGreaterThanOrEqual(20);
  expect(evb.e.errors.ratio).toBeGreaterThan(2);
  expect((await bad.route()).spec.rules).toEqual(bad.original.spec.rules);
  expect(await bad.service('storefront-canary')).toBeUndefined();
  await recordHistory(hb!, 'sequential-judge-gateway-rollback');

  // The same verdict from the user's queries: the same requests, read another way.
  expect(ro.outcome).toBe('RolledBack');
  expect(ro.reason).toMatch(/^analysis Failed: sequential judge: roll back: canary errors/);
  const evo = ro.status.lastAnalysis!.judge!.evidence!;
  if (evo.kind !== 'sequential') throw new Error('expected sequential evidence');
  expect(evo.e.errors.canary.requests).toBeGreaterThan(0);
  expect(evo.e.errors.ratio).toBeGreaterThan(2);
  expect((await own.route()).spec.rules).toEqual(own.original.spec.rules);
}, 300_000);
