/**
 * A regression only in the tail, end to end on the real stack: the canary answers with the
 * stable version's median and error rate, but 2 % of its requests are ten times slower, so its p99
 * is about 2.5× the stable one's. The sequential judge, at its defaults and with no `count` (a
 * judged step then runs until the judge decides), must roll it back on latency, not on errors.
 *
 * The shape, from the demo service's log-normal latencies (Z₀.₉₉ = 2.326):
 * - stable 20:80 ms: σ = ln(80/20)/2.326 = 0.596, so its p90 is 20·e^(0.596·1.282) ≈ 43 ms (the
 *   judge's slow bound is the next Istio bucket, 50 ms) and its p99 is 80 ms.
 * - canary 20:80 ms for 98 % of requests, 200:800 ms (the same σ, ten times slower) for 2 %:
 *   P(> 200 ms) = 0.98·P(Z > ln(10)/0.596 = 3.86) + 0.02·½ = 0.00006 + 0.01, so the p99 lands at
 *   ≈ 200 ms = 2.5 × 80 ms. (A tail median of 8× the stable's, 160 ms, puts the p99 at 160 ms, 2×.)
 *   The median m: the tail has almost nothing below 20 ms, so 0.98·F(m) = ½, F(m) = 0.510,
 *   m = 20·e^(0.596·0.026) ≈ 20.3 ms, unchanged within a bucket.
 * - Slow shares the judge can count: above 50 ms, 6.2 % stable against 0.98·6.2 % + 0.02·1.0 ≈
 *   8.1 % canary (ratio ≈ 1.3); above 100 ms (the stable p99's bucket), 0.35 % against
 *   0.98·0.35 % + 0.02·0.88 ≈ 2.1 % (ratio ≈ 6).
 */
import { startRollout } from '../../../src/client/rollouts';
import type { MetricEvidence } from '../../../src/domain/analysis/sequential-judge';
import { validateRollout } from '../../../src/domain/spec/parse';
import { clusterView, createMushop } from '../../support/mushop';
import { recordHistory } from '../../support/histories';
import { liveTraffic } from '../../support/live-traffic';
import { adminKubeConfig } from '../../support/stack';
import { startTestWorker, TestWorker } from '../../support/worker';
import { awaitResult } from '../../support/results';

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

const LATENCY = { median: 20, p99: 80 };
const TAIL = { share: 0.02, latencyMs: { median: 200, p99: 800 } };

/** A latency-shaped test of the evidence: `latency` always, `tail` where the judge has one. */
type SlowTest = MetricEvidence & { slowMs: number | null };

it('rolls back a canary slower only in its tail: the sequential judge at its defaults, on latency', async () => {
  const shop = await createMushop(kc, { mode: 'subset' });
  const traffic = await live.open(shop, {
    rps: 50,
    seed: 41,
    stable: { errorRate: 0.002, latencyMs: LATENCY },
    canary: { errorRate: 0.002, latencyMs: LATENCY, tail: TAIL },
    maxDurationMs: 15 * 60_000,
  });
  expect(traffic.stable.behaviour()).not.toHaveProperty('tail');

  const steps = [{ setWeight: 40 }, { analysis: { interval: '10s', judge: { sequential: {} } } }, { setWeight: 100 }];
  const rollout = validateRollout(shop.rolloutRaw(steps, { progressDeadline: '60s', rollback: { scaleDownDelay: '1s' } }));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
  const result = await awaitResult(handle);

  expect(result.outcome).toBe('RolledBack');
  expect(result.reason).toMatch(/^analysis Failed: sequential judge: roll back: /);
  const ev = result.status.lastAnalysis!.judge!.evidence!;
  if (ev.kind !== 'sequential') throw new Error('expected sequential evidence');
  const tail = ev.e.tail;
  // Revision 2 of the judge (the default) has a tail test at the baseline's p99 bound.
  expect(tail).toBeDefined();
  const slowTests: [string, SlowTest][] = [['latency', ev.e.latency], ...(tail ? [['tail', tail] as [string, SlowTest]] : [])];
  const [carrier, carried] = slowTests.reduce((a, b) => (b[1].eRollback > a[1].eRollback ? b : a));
  console.log(`tail regression: ${result.reason}\n  ${slowTests.map(([name, t]) => `${name} above ${t.slowMs} ms: canary ${t.canary.events}/${t.canary.requests}, baseline ${t.baseline.events}/${t.baseline.requests}, e ${t.eRollback.toFixed(1)}`).join('\n  ')}\n  errors: e ${ev.e.errors.eRollback.toFixed(2)}; carried by ${carrier}`);

  // Latency (or the tail test) carried the rollback: its e-value crossed 1/α with enough slow canary requests behind it.
  expect(ev.e.thresholds.rollback).toBe(20);
  expect(carried.eRollback).toBeGreaterThanOrEqual(ev.e.thresholds.rollback);
  expect(carried.eRollback).toBeGreaterThan(ev.e.errors.eRollback);
  expect(carried.canary.events).toBeGreaterThanOrEqual(5);
  // The anytime-valid confidence set for the canary/baseline ratio excludes 1 (the point ratio is
  // null while the baseline has no request above the bound, as in a first minute).
  expect(carried.bounds?.[0]).toBeGreaterThan(1);
  // Both versions fail 0.2 % of requests: the errors were not what showed the regression.
  expect(ev.e.errors.eRollback).toBeLessThan(20);
  expect(result.reason).not.toMatch(/roll back: canary errors/);
  expect(await clusterView(kc, shop.namespace).canaryWeight()).toBe(0);
  await recordHistory(handle, 'sequential-judge-tail-rollback');
}, 15 * 60_000);
