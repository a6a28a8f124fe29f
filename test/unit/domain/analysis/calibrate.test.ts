import { calibrateNoise, MIN_CALIBRATION_BATCHES, overDispersion } from '../../../../src/domain/analysis/calibrate';
import type { ArmCounters } from '../../../../src/domain/analysis/judge';
import { asRevision1, resolveSequentialConfig as resolveConfig } from '../../../../src/domain/analysis/sequential-judge';
// Revision 1 of the judge, as rollouts started before revision 2 keep running it; revision 2: sequential-judge-v2.test.ts.
const resolveSequentialConfig = (over: Parameters<typeof resolveConfig>[0] = {}) => asRevision1(resolveConfig(over));

/**
 * A baseline's cumulative counters at the end of each batch: batch i serves `n(i)` requests, of
 * which a share `err(i)` errs and a share `slow(i)` is above 250 ms (the p90 bound below).
 * Deterministic, so an over-dispersion is exactly what the shares say.
 */
function history(batches: number, n: (i: number) => number, err: (i: number) => number, slow: (i: number) => number = () => 0.05): ArmCounters[] {
  const out: ArmCounters[] = [];
  let req = 1_000;
  let errors = 10;
  let fast = 950;
  let mid = 0;
  const push = () => out.push({
    requests: req,
    errors,
    latency: { buckets: [{ le: 100, count: Math.round(fast) }, { le: 250, count: Math.round(fast + mid) }, { le: 500, count: req }], count: req },
  });
  push();
  for (let i = 0; i < batches; i++) {
    const k = n(i);
    req += k;
    errors += Math.round(k * err(i));
    // 0.05 above 250 ms by default: 250 is the p90 bound (≥ 90 % at or below it), 100 is not.
    const s = slow(i);
    fast += k * 0.8;
    mid += k * (0.2 - s);
    push();
  }
  return out;
}

/** Poisson-like steady counts: x = n·p ± √(n·p) alternating, which is what Poisson noise looks like. */
const poissonish = (mean: number) => (i: number) => mean + (i % 2 === 0 ? 1 : -1) * Math.sqrt(mean);

describe('overDispersion: the baseline\'s own per-batch wander', () => {
  const rows: [string, { x: number; n: number }[], { estimate?: [number, number]; upperAbove?: number; upperBelow?: number; nullResult?: true }][] = [
    ['fewer batches than the minimum: nothing to say', Array.from({ length: MIN_CALIBRATION_BATCHES - 1 }, () => ({ x: 50, n: 5000 })), { nullResult: true }],
    ['no events at all: nothing to say about a rate', Array.from({ length: 30 }, () => ({ x: 0, n: 5000 })), { nullResult: true }],
    ['batches without traffic do not count', [...Array.from({ length: 4 }, () => ({ x: 50, n: 5000 })), ...Array.from({ length: 10 }, () => ({ x: 0, n: 0 }))], { nullResult: true }],
    ['Poisson-sized scatter only: estimate 0, bound small with many events', Array.from({ length: 30 }, (_, i) => ({ x: poissonish(250)(i), n: 5000 })),
      { estimate: [0, 0.02], upperBelow: 0.1 }],
    ['the same with few events: the bound stays wide (steadiness not shown)', Array.from({ length: 30 }, (_, i) => ({ x: poissonish(5)(i), n: 500 })),
      { estimate: [0, 0.05], upperAbove: 0.3 }],
    ['the rate doubles and halves from batch to batch: log-sd about 0.69', Array.from({ length: 30 }, (_, i) => ({ x: i % 2 === 0 ? 400 : 100, n: 5000 })),
      { estimate: [0.55, 0.75], upperAbove: 0.6 }],
    ['±20 % batch to batch: log-sd about 0.2', Array.from({ length: 30 }, (_, i) => ({ x: i % 2 === 0 ? 300 : 200, n: 5000 })),
      { estimate: [0.15, 0.25] }],
  ];
  it.each(rows)('%s', (_name, batches, want) => {
    const r = overDispersion(batches);
    if (want.nullResult) {
      expect(r).toBeNull();
      return;
    }
    expect(r).not.toBeNull();
    if (want.estimate) {
      expect(r!.estimate).toBeGreaterThanOrEqual(want.estimate[0]);
      expect(r!.estimate).toBeLessThanOrEqual(want.estimate[1]);
    }
    expect(r!.upper).toBeGreaterThanOrEqual(r!.estimate);
    if (want.upperAbove !== undefined) expect(r!.upper).toBeGreaterThan(want.upperAbove);
    if (want.upperBelow !== undefined) expect(r!.upper).toBeLessThan(want.upperBelow);
  });
});

describe('calibrateNoise: priors for the canary/baseline ratio', () => {
  const config = resolveSequentialConfig();
  const steadyBig = history(30, () => 54_000, (i) => 0.01 + (i % 2 === 0 ? 1 : -1) * Math.sqrt(540) / 54_000);
  const rows: [string, ArmCounters[], Parameters<typeof resolveSequentialConfig>[0], { noise: number | [number, number] | 'configured'; latencyNoise: number | 'configured'; reason: RegExp }][] = [
    ['too little history: priors as configured, and why', history(3, () => 5400, () => 0.01), {},
      { noise: 'configured', latencyNoise: 'configured', reason: /^noise prior as configured \(0\.5, latency 0\.5\): 3 batch\(es\) of baseline history, 5 with traffic and events needed/ }],
    ['a steady, busy baseline: both priors narrowed to the floor', steadyBig, {},
      { noise: 0.35, latencyNoise: 0.35, reason: /errors wander ≤ 0\.0\d+ .*→ prior 0\.35; slow requests wander ≤ 0\.0\d+ .*→ prior 0\.35$/ }],
    ['the floor is a setting', steadyBig, { calibrationFloor: 0.2 }, { noise: 0.2, latencyNoise: 0.2, reason: /prior 0\.2;/ }],
    ['a steady baseline with few errors: latency narrowed, errors not shown steady', history(30, () => 5400, (i) => (i % 2 === 0 ? 6 : 4) / 5400), {},
      { noise: 'configured', latencyNoise: 0.35, reason: /errors wander ≤ .* → prior 0\.5 \(as configured\)/ }],
    ['a baseline whose error rate wanders ±40 %: errors prior as configured', history(30, () => 54_000, (i) => (i % 2 === 0 ? 0.014 : 0.006)), {},
      { noise: 'configured', latencyNoise: 0.35, reason: /errors wander ≤ 0\.[3-9]/ }],
    ['a baseline whose slow share wanders: latency prior as configured', history(30, () => 54_000, () => 0.01, (i) => (i % 2 === 0 ? 0.07 : 0.03)), {},
      { noise: 0.35, latencyNoise: 'configured', reason: /slow requests wander ≤ 0\.[3-9]/ }],
    ['never wider than configured: a configured 0.3 stays 0.3 on a noisy baseline', history(30, () => 54_000, (i) => (i % 2 === 0 ? 0.014 : 0.006)), { noise: 0.3 },
      { noise: 0.3, latencyNoise: 0.3, reason: /prior 0\.3 \(as configured\)/ }],
    ['a ±15 % wander (bound 0.18), times the canary factor √(1 + k²) = 2.24: a prior between the floor and the configured one', history(30, () => 54_000, (i) => (i % 2 === 0 ? 0.0115 : 0.0085)), { canaryNoiseFactor: 2 },
      { noise: [0.38, 0.44], latencyNoise: 0.35, reason: /errors wander ≤ 0\.18 .*→ prior 0\.41;/ }],
    ['the same wander with k = 0 (canary as steady as the baseline): down to the floor', history(30, () => 54_000, (i) => (i % 2 === 0 ? 0.0115 : 0.0085)), { canaryNoiseFactor: 0 },
      { noise: 0.35, latencyNoise: 0.35, reason: /errors wander ≤ 0\.18 .*→ prior 0\.35;/ }],
  ];
  it.each(rows)('%s', (_name, h, over, want) => {
    const c = resolveSequentialConfig(over);
    const r = calibrateNoise(c, h);
    if (Array.isArray(want.noise)) {
      expect(r.noise).toBeGreaterThan(want.noise[0]);
      expect(r.noise).toBeLessThan(want.noise[1]);
    } else expect(r.noise).toBeCloseTo(want.noise === 'configured' ? c.noise : want.noise, 10);
    expect(r.latencyNoise).toBeCloseTo(want.latencyNoise === 'configured' ? c.latencyNoise! : want.latencyNoise, 10);
    expect(r.reason).toMatch(want.reason);
    // Never wider than configured, never below the floor.
    for (const [got, configured] of [[r.noise, c.noise], [r.latencyNoise, c.latencyNoise!]] as const) {
      expect(got).toBeLessThanOrEqual(configured);
      expect(got).toBeGreaterThanOrEqual(Math.min(configured, c.calibrationFloor!));
    }
  });

  it('a counter reset inside the history (a pod restarted: the sum drops and climbs on) drops that one batch', () => {
    const h = history(30, () => 54_000, () => 0.01);
    // From sample 10 on, every counter is lower by half its value at sample 10: that pod's share restarted from 0.
    const half = (v: number) => Math.floor(v / 2);
    const at10 = h[10]!;
    const withReset = h.map((a, i) => (i < 10 ? a : {
      requests: a.requests - half(at10.requests),
      errors: a.errors - half(at10.errors),
      latency: {
        buckets: a.latency!.buckets.map((b, j) => ({ le: b.le, count: b.count - half(at10.latency!.buckets[j]!.count) })),
        count: a.latency!.count - half(at10.latency!.count),
      },
    }));
    const r = calibrateNoise(config, withReset);
    expect(r.errors!.batches).toBe(29);
    expect(r.latency!.batches).toBe(29);
    // The other batches are as steady as before: the priors are those of the steady history.
    expect(r.noise).toBe(calibrateNoise(config, h).noise);
  });

  it('records its inputs and results as JSON (it lives in workflow state)', () => {
    const r = calibrateNoise(config, steadyBig);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.batches).toBe(30);
    expect(r.latency!.slowMs).toBe(250);
  });
});
