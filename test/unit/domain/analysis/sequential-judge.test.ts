import { JudgeConfigError, type ArmCounters, type JudgeObservation } from '../../../../src/domain/analysis/judge';
import { asRevision1, resolveSequentialConfig as resolveConfig, sequentialJudge, type SequentialConfig, type SequentialState } from '../../../../src/domain/analysis/sequential-judge';
import { arm, feed, hist, newObservation } from './observations';
// Revision 1 of the judge, as rollouts started before revision 2 keep running it; revision 2: sequential-judge-v2.test.ts.
const resolveSequentialConfig = (over: Parameters<typeof resolveConfig>[0] = {}) => asRevision1(resolveConfig(over));

/** The binomial judge (no noise allowance), so single-batch e-values are the textbook ones. */
const exact = (over: Partial<SequentialConfig> = {}) => resolveSequentialConfig({ noise: 0, noisePriorBatches: 0, minRequests: 1, minEvents: 1, ...over });

const zero = newObservation(0, arm(0, 0), arm(0, 0));

describe('sequentialJudge: e-values', () => {
  // One batch: canary 100 requests / 3 errors, baseline 900 / 2, so π₀ = 0.1 and 5 errors in all.
  const look = newObservation(15, arm(100, 3), arm(900, 2));

  it('computes the rollback e-value as the mean likelihood ratio over the grid ×1.25 … ×30 against ρ = 1', () => {
    const { verdicts } = feed(exact(), [zero, look]);
    // Σ over ρ ∈ {1.25, 1.5, 2, 3, 5, 10, 30} of (π(ρ)/0.1)³ ((1 − π(ρ))/0.9)² / 7, computed apart.
    expect(verdicts[1]!.evidence.errors.eRollback).toBeCloseTo(16.248872543122324, 9);
  });

  it('computes the promotion e-value against ρ = 1 + δ over the grid (1 + δ)/{1.25, 1.5, 2, 3}', () => {
    const { verdicts } = feed(exact(), [zero, look]);
    expect(verdicts[1]!.evidence.errors.ePromote).toBeCloseTo(0.30304166615775874, 9);
  });

  it('averages the error and latency e-values: 16.2 with no latency data stays below 1/α = 20', () => {
    const { verdicts } = feed(exact(), [zero, look]);
    expect(verdicts[1]!.evidence.latency.eRollback).toBe(1);
    expect(verdicts[1]!.decision).toBe('continue');
  });

  it.each<[string, 'rollback' | 'continue', ArmCounters, ArmCounters]>([
    ['a canary with 20 of 100 failing against 1 of 900', 'rollback', arm(100, 20), arm(900, 1)],
    ['a canary erring at the baseline rate', 'continue', arm(100, 1), arm(900, 9)],
    ['a canary erring less than the baseline', 'continue', arm(100, 0), arm(900, 20)],
  ])('%s → %s', (_name, decision, canary, baseline) => {
    const { verdicts } = feed(exact(), [zero, newObservation(15, canary, baseline)]);
    expect(verdicts[1]!.decision).toBe(decision);
  });

  it('says why it rolls back, with counts, the ratio, the e-values and the threshold', () => {
    const { verdicts } = feed(exact(), [zero, newObservation(15, arm(100, 20), arm(900, 1))]);
    expect(verdicts[1]!.reason).toMatch(/^canary errors 180× baseline \(canary 20% errors of 100, baseline 0.111% of 900.*e-value .* ≥ 20 \(α 0.05/);
  });

  it('uses the observed split, not the weights: the same error shares at another weight give the same e-value', () => {
    const a = feed(exact(), [zero, newObservation(15, arm(100, 3), arm(900, 2), 10)]);
    const b = feed(exact(), [zero, newObservation(15, arm(100, 3), arm(900, 2), 50)]);
    expect(b.verdicts[1]!.evidence.errors.eRollback).toBe(a.verdicts[1]!.evidence.errors.eRollback);
  });

  it('keeps an anytime-valid confidence set for the ratio, from grid points', () => {
    const { verdicts } = feed(exact(), [zero, newObservation(15, arm(1000, 100), arm(9000, 90))]);
    const bounds = verdicts[1]!.evidence.errors.bounds!;
    expect(bounds[0]).toBeGreaterThanOrEqual(5);
    expect(bounds[1]).toBeLessThanOrEqual(30);
  });

  it('promotes once both error and slow-request ratios are shown ≤ 1 + δ', () => {
    const looks = [newObservation(0, arm(0, 0, hist(0)), arm(0, 0, hist(100_000)))];
    for (let i = 1; i <= 8; i++) {
      looks.push(newObservation(i * 60, arm(i * 2000, i * 100, hist(i * 2000)), arm(i * 18_000, i * 900, hist(100_000 + i * 18_000))));
    }
    const { verdicts } = feed(exact({ minPromoteRequests: 1000 }), looks);
    const first = verdicts.findIndex((v) => v.decision === 'promote');
    expect(first).toBeGreaterThan(0);
    expect(verdicts[first]!.reason).toMatch(/^canary shown no worse than 1.5× baseline/);
    expect(verdicts.some((v) => v.decision === 'rollback')).toBe(false);
  });

  it('does not promote early when told not to', () => {
    const looks = [newObservation(0, arm(0, 0, hist(0)), arm(0, 0, hist(100_000)))];
    for (let i = 1; i <= 8; i++) looks.push(newObservation(i * 60, arm(i * 2000, i * 100, hist(i * 2000)), arm(i * 18_000, i * 900, hist(100_000 + i * 18_000))));
    const { verdicts } = feed(exact({ promote: false }), looks);
    expect(verdicts.every((v) => v.decision === 'continue')).toBe(true);
    expect(verdicts[verdicts.length - 1]!.reason).toMatch(/early promotion disabled/);
  });
});

describe('sequentialJudge: slow requests', () => {
  it('takes the slow bound from the baseline history at the first look and counts requests above it', () => {
    // Baseline history: 90 % at or below 250 ms, so p90 falls on the 250 ms bound.
    const base0 = hist(10_000);
    const { verdicts } = feed(exact(), [
      newObservation(0, arm(0, 0, hist(0)), arm(0, 0, base0)),
      // Canary: 40 % above 250 ms; baseline: its usual 10 %.
      newObservation(15, arm(200, 0, hist(200, [0.05, 0.15, 0.2, 0.2, 0.2, 0.1, 0.1])), arm(1800, 0, hist(10_000 + 1800))),
    ]);
    const lat = verdicts[1]!.evidence.latency;
    expect(lat.slowMs).toBe(250);
    expect(lat.canary.events).toBe(80);
    expect(lat.baseline.events).toBe(180);
    expect(verdicts[1]!.decision).toBe('rollback');
    expect(verdicts[1]!.reason).toMatch(/^canary slow requests 4× baseline \(canary 40% latency above 250 ms/);
  });
});

describe('sequentialJudge: minimum samples', () => {
  it.each<[string, Partial<SequentialConfig>, ArmCounters, RegExp]>([
    ['fewer canary requests than minRequests', { minRequests: 100 }, arm(60, 50), /^waiting for data: 60 canary requests of 100 needed/],
    ['fewer canary errors than minEvents', { minEvents: 5 }, arm(500, 4), /^no decision yet/],
  ])('no rollback with %s, however strong the evidence', (_name, over, canary, reason) => {
    const { verdicts } = feed(exact(over), [zero, newObservation(15, canary, arm(4500, 0))]);
    expect(verdicts[1]!.decision).toBe('continue');
    expect(verdicts[1]!.reason).toMatch(reason);
  });

  it('no promotion before minPromoteRequests canary requests', () => {
    const looks = [newObservation(0, arm(0, 0, hist(0)), arm(0, 0, hist(100_000)))];
    for (let i = 1; i <= 8; i++) looks.push(newObservation(i * 60, arm(i * 2000, i * 100, hist(i * 2000)), arm(i * 18_000, i * 900, hist(100_000 + i * 18_000))));
    const { verdicts } = feed(exact({ minPromoteRequests: 1e9 }), looks);
    expect(verdicts.some((v) => v.decision === 'promote')).toBe(false);
    expect(verdicts[verdicts.length - 1]!.reason).toMatch(/promotion waits for 1000000000 canary requests/);
  });

  it('with the default noise allowance, a healthy canary at 1 request/s is neither rolled back nor promoted in 10 minutes', () => {
    const looks = [zero];
    for (let i = 1; i <= 40; i++) looks.push(newObservation(i * 15, arm(i * 15, Math.floor(i / 4)), arm(i * 135, Math.floor((i * 135) / 100))));
    const { verdicts } = feed(resolveSequentialConfig(), looks);
    expect(verdicts.every((v) => v.decision === 'continue')).toBe(true);
  });
});

describe('sequentialJudge: traffic split', () => {
  it.each<[string, boolean, number, number]>([
    ['the configured 10 %', false, 1000, 9000],
    ['5 % where 10 % is configured', true, 500, 9500],
    ['20 % where 10 % is configured', true, 2000, 8000],
    ['11 % (inside the ±20 % odds tolerance)', false, 1100, 8900],
  ])('the canary getting %s → mismatch %p', (_name, mismatch, canaryRequests, baselineRequests) => {
    const looks = [zero];
    for (let i = 1; i <= 20; i++) looks.push(newObservation(i * 15, arm(canaryRequests * i, 0), arm(baselineRequests * i, 0)));
    const { verdicts } = feed(resolveSequentialConfig(), looks);
    const last = verdicts[verdicts.length - 1]!;
    expect(last.evidence.split.mismatch).toBe(mismatch);
    expect(last.evidence.split.configured).toBeCloseTo(0.1, 12);
    if (mismatch) expect(last.reason).toMatch(/traffic split mismatch: canary got \d+(\.\d+)?% of requests, configured 10%/);
  });

  it('withholds promotion while the split mismatches', () => {
    const looks = [newObservation(0, arm(0, 0, hist(0)), arm(0, 0, hist(100_000)))];
    for (let i = 1; i <= 8; i++) looks.push(newObservation(i * 60, arm(i * 1000, i * 50, hist(i * 1000)), arm(i * 19_000, i * 950, hist(100_000 + i * 19_000))));
    const { verdicts } = feed(exact(), looks);
    expect(verdicts[verdicts.length - 1]!.evidence.split.mismatch).toBe(true);
    expect(verdicts.some((v) => v.decision === 'promote')).toBe(false);
  });
});

describe('sequentialJudge: batches, resets, bad input', () => {
  it('a look on a batch boundary closes its batch', () => {
    const cfg = exact();
    const { state: at60 } = feed(cfg, [zero, newObservation(60, arm(100, 1), arm(900, 9))]);
    expect(at60.batch).toBe(0);
    const { state: at75 } = feed(cfg, [zero, newObservation(60, arm(100, 1), arm(900, 9)), newObservation(75, arm(110, 1), arm(990, 9))]);
    expect(at75.batch).toBe(1);
    expect(at75.errors.batch).toEqual({ x: 0, y: 0, nx: 10, ny: 90 });
  });

  it('counts a counter that went down as reset (its new value is the increment)', () => {
    const { verdicts, state } = feed(exact(), [zero, newObservation(15, arm(100, 2), arm(900, 9)), newObservation(30, arm(40, 1), arm(1800, 18))]);
    expect(state.errors.total).toEqual({ x: 3, y: 18, nx: 140, ny: 1800 });
    expect(verdicts[2]!.evidence.resets).toBe(2);
  });

  it.each<[string, JudgeObservation]>([
    ['a NaN counter', newObservation(15, arm(NaN, 0), arm(900, 9))],
    ['a look not after the previous one', newObservation(0, arm(100, 0), arm(900, 9))],
  ])('ignores %s and says so', (_name, obs) => {
    const first = feed(exact(), [zero]).state;
    const r = sequentialJudge(exact(), first, obs);
    expect(r.verdict.decision).toBe('continue');
    expect(r.verdict.reason).toMatch(/^no data: /);
    expect(r.state).toBe(first);
  });

  it.each<[Partial<SequentialConfig>, RegExp]>([
    [{ alpha: 0 }, /alpha must be between 0 and 1/],
    [{ alpha: 1 }, /alpha must be between 0 and 1/],
    [{ alpha: -0.1 }, /alpha must be between 0 and 1/],
    [{ latencyQuantile: 1 }, /latencyQuantile must be between 0 and 1/],
    [{ tolerance: 0 }, /tolerance must be in \(0, 10\]/],
    [{ batchMs: 10 }, /batchMs must be a number ≥ 1000/],
    [{ noise: -1 }, /noise must be a number ≥ 0/],
  ])('rejects %p', (over, message) => {
    expect(() => resolveSequentialConfig(over)).toThrow(JudgeConfigError);
    expect(() => resolveSequentialConfig(over)).toThrow(message);
  });
});

/** A long, deterministic stream with latency histograms and some noise in the counts. */
function longStream(looks: number): JudgeObservation[] {
  const out: JudgeObservation[] = [];
  let c = { r: 0, e: 0 };
  let b = { r: 0, e: 0 };
  for (let i = 0; i <= looks; i++) {
    const wobble = (i * 7919) % 13;
    c = { r: c.r + 150 + wobble, e: c.e + (i % 3 === 0 ? 2 : 1) };
    b = { r: b.r + 1350 + 3 * wobble, e: b.e + 14 + (i % 5) };
    out.push(newObservation(i * 15, arm(c.r, c.e, hist(c.r)), arm(b.r, b.e, hist(100_000 + b.r))));
  }
  return out;
}

describe('sequentialJudge: determinism and state size', () => {
  it('gives identical verdicts and states for identical inputs', () => {
    const stream = longStream(200);
    expect(feed(resolveSequentialConfig(), stream)).toEqual(feed(resolveSequentialConfig(), stream));
  });

  it('decides the same from a state that went through JSON (workflow history)', () => {
    const stream = longStream(200);
    const cfg = resolveSequentialConfig();
    let direct: SequentialState | undefined;
    let viaJson: SequentialState | undefined;
    for (const obs of stream) {
      const a = sequentialJudge(cfg, direct, obs);
      const b = sequentialJudge(cfg, viaJson, JSON.parse(JSON.stringify(obs)) as JudgeObservation);
      expect(JSON.stringify(b.verdict)).toBe(JSON.stringify(a.verdict));
      direct = a.state;
      viaJson = JSON.parse(JSON.stringify(b.state)) as SequentialState;
    }
  });

  it('keeps its state O(1): 10,000 looks take no more room than 100', () => {
    const cfg = resolveSequentialConfig();
    const small = JSON.stringify(feed(cfg, longStream(100)).state).length;
    const large = JSON.stringify(feed(cfg, longStream(10_000)).state).length;
    expect(large).toBeLessThan(small * 1.2);
    expect(large).toBeLessThan(8000);
  });
});

describe('sequentialJudge: latencyNoise', () => {
  const obs = newObservation(0, arm(0, 0, hist(0)), arm(0, 0, hist(0)));
  it('gives the latency test its own noise prior; errors keep noise', () => {
    const { verdict } = sequentialJudge(resolveSequentialConfig({ latencyNoise: 0.2 }), undefined, obs);
    expect(verdict.evidence.latency.noise).toBe(0.2);
    expect(verdict.evidence.errors.noise).toBe(0.5);
  });
  it('a configuration resolved before latencyNoise existed (a running rollout) judges latency with noise, as it did', () => {
    const { latencyNoise: _dropped, ...older } = resolveSequentialConfig({ noise: 0.7 });
    const { verdict } = sequentialJudge(older, undefined, obs);
    expect(verdict.evidence.latency.noise).toBe(0.7);
  });
  it('refuses a negative latencyNoise, naming it', () => {
    expect(() => resolveSequentialConfig({ latencyNoise: -1 })).toThrow('sequential judge: latencyNoise must be a number ≥ 0, got -1');
  });
});
