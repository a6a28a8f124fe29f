import {
  batchLogLikelihood,
  FLAGGER_DEFAULTS,
  histogramQuantile,
  JudgeConfigError,
  logGamma,
  resolveSequentialConfig,
  sequentialJudge,
  shareAt,
  shareMoments,
  thresholdJudge,
  type ArmCounters,
  type Histogram,
  type JudgeObservation,
  type SequentialConfig,
  type SequentialState,
  type ThresholdState,
} from '../../../../src/domain/analysis/sequential';

const T0 = 1_700_000_000_000;
const LE = [25, 50, 100, 250, 500, 1000];

/** A histogram with `n` requests spread over LE by fractions `shares` (one per bound, then +Inf). */
function hist(n: number, shares = [0.05, 0.25, 0.3, 0.3, 0.05, 0.03, 0.02]): Histogram {
  let cum = 0;
  const buckets = LE.map((le, i) => {
    cum += Math.round(n * shares[i]!);
    return { le, count: cum };
  });
  return { buckets, count: n };
}

function arm(requests: number, errors: number, latency?: Histogram): ArmCounters {
  return latency === undefined ? { requests, errors } : { requests, errors, latency };
}

function newObservation(seconds: number, canary: ArmCounters, baseline: ArmCounters, canaryWeight = 10): JudgeObservation {
  return { at: T0 + seconds * 1000, canaryWeight, canary, baseline };
}

/** The binomial judge (no noise allowance), so single-batch e-values are the textbook ones. */
const exact = (over: Partial<SequentialConfig> = {}) => resolveSequentialConfig({ noise: 0, noisePriorBatches: 0, minRequests: 1, minEvents: 1, ...over });

/** Feeds observations in order; returns every verdict and the final state. */
function feed(config: SequentialConfig, observations: JudgeObservation[]) {
  let state: SequentialState | undefined;
  const verdicts = observations.map((o) => {
    const r = sequentialJudge(config, state, o);
    state = r.state;
    return r.verdict;
  });
  return { verdicts, state: state! };
}

const zero = newObservation(0, arm(0, 0), arm(0, 0));

describe('numerics', () => {
  it.each<[number, number]>([
    [1, 0],
    [2, 0],
    [0.5, 0.5723649429247004],
    [10, 12.801827480081467],
    [0.01, 4.599479878042022],
    [123.456, 469.60554712992956],
    [1e6, 12815504.569147611],
  ])('logGamma(%p) = %p', (x, expected) => {
    expect(logGamma(x)).toBeCloseTo(expected, 10);
  });

  it.each<[number, number, number]>([
    [1, 0.1, 0.1],
    [2, 0.5, 2 / 3],
    [10, 0.1, 1 / 1.9],
    [0.5, 0.2, 0.1 / 0.9],
  ])('shareAt(ρ %p, π₀ %p) = %p', (ratio, p0, expected) => {
    expect(shareAt(ratio, p0)).toBeCloseTo(expected, 12);
  });

  it('without noise, a batch likelihood is the binomial one: 3 of 10 events at share 0.4', () => {
    // π(2) at π₀ = 0.25 is 0.5 / 1.25 = 0.4; 3·ln 0.4 + 7·ln 0.6
    expect(batchLogLikelihood(3, 7, 0.25, 2, 0)).toBeCloseTo(-6.3246515619844, 12);
  });

  it('with noise, the share keeps its mean at π₀ = ½ and rises above a small π₀', () => {
    expect(shareMoments(1, 0.5, 0.5).mean).toBeCloseTo(0.5, 12);
    expect(shareMoments(1, 0.1, 0.5).mean).toBeGreaterThan(0.1);
    expect(shareMoments(1, 0.1, 0).variance).toBe(0);
  });

  it('with noise, moments match a fine numerical integral and the batch likelihood is their beta-binomial', () => {
    // Reference: 20,001-point integral over z ∈ [−10, 10] and the beta-binomial with that mean and variance.
    const m = shareMoments(2, 0.1, 0.5);
    expect(m.mean).toBeCloseTo(0.19307861038937227, 9);
    expect(m.variance).toBeCloseTo(0.005851002421486708, 9);
    expect(batchLogLikelihood(7, 20, 0.1, 2, 0.5)).toBeCloseTo(-16.045861315272575, 8);
  });

  it('a vanishing noise gives back the binomial', () => {
    expect(batchLogLikelihood(30, 270, 0.1, 1.5, 1e-6) - batchLogLikelihood(30, 270, 0.1, 1, 1e-6))
      .toBeCloseTo(batchLogLikelihood(30, 270, 0.1, 1.5, 0) - batchLogLikelihood(30, 270, 0.1, 1, 0), 4);
  });
});

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

describe('histogramQuantile (Prometheus semantics)', () => {
  const le = [100, 250, 500];
  it.each<[number, number[], number]>([
    [0.5, [50, 95, 99, 100], 100],
    [0.25, [50, 95, 99, 100], 50],
    [0.99, [50, 95, 99, 100], 500],
    [0.97, [50, 95, 99, 100], 375],
    [0.995, [50, 95, 99, 100], 500],
    [0.99, [0, 0, 0, 10], 500],
  ])('q %p of %p → %p', (q, cumulative, expected) => {
    expect(histogramQuantile(q, le, cumulative)).toBeCloseTo(expected, 9);
  });

  it('is NaN without observations', () => {
    expect(histogramQuantile(0.99, le, [0, 0, 0, 0])).toBeNaN();
  });
});

describe('thresholdJudge (Flagger parity)', () => {
  /** One canary look per minute with `errors` of 1000 requests, latency all under 100 ms. */
  function minutes(errorsPerMinute: number[]): JudgeObservation[] {
    let r = 0;
    let e = 0;
    const out = [newObservation(0, arm(0, 0, hist(0, [0.5, 0.5, 0, 0, 0, 0, 0])), arm(0, 0))];
    errorsPerMinute.forEach((n, i) => {
      r += 1000;
      e += n;
      out.push(newObservation((i + 1) * 60, arm(r, e, hist(r, [0.5, 0.5, 0, 0, 0, 0, 0])), arm(0, 0)));
    });
    return out;
  }

  function run(looks: JudgeObservation[]) {
    let state: ThresholdState | undefined;
    return looks.map((o) => {
      const r = thresholdJudge(FLAGGER_DEFAULTS, state, o);
      state = r.state;
      return r.verdict;
    });
  }

  it.each<[string, number[], string[]]>([
    ['healthy minutes', [0, 5, 10, 3], ['continue', 'continue', 'continue', 'continue', 'continue']],
    ['five failed checks roll back', [20, 0, 20, 20, 20, 20], ['continue', 'continue', 'continue', 'continue', 'continue', 'continue', 'rollback']],
    ['exactly 99 % passes', [10, 10, 10, 10, 10], ['continue', 'continue', 'continue', 'continue', 'continue', 'continue']],
  ])('%s', (_name, errors, decisions) => {
    expect(run(minutes(errors)).map((v) => v.decision)).toEqual(decisions);
  });

  it('counts an interval without requests as failed (Flagger: no values found)', () => {
    const looks = [newObservation(0, arm(0, 0, hist(0)), arm(0, 0))];
    for (let i = 1; i <= 5; i++) looks.push(newObservation(i * 60, arm(0, 0, hist(0)), arm(0, 0)));
    const verdicts = run(looks);
    expect(verdicts[5]!.decision).toBe('rollback');
    expect(verdicts[5]!.reason).toMatch(/no data \(noData: fail\)/);
  });

  it('fails a check on a P99 above 500 ms', () => {
    const slow = [0, 0, 0, 0, 0.5, 0.3, 0.2];
    const looks = [newObservation(0, arm(0, 0, hist(0, slow)), arm(0, 0))];
    for (let i = 1; i <= 5; i++) looks.push(newObservation(i * 60, arm(i * 1000, 0, hist(i * 1000, slow)), arm(0, 0)));
    const verdicts = run(looks);
    expect(verdicts[1]!.evidence.p99Ms).toBe(1000);
    expect(verdicts[1]!.reason).toMatch(/request-duration value 1000 above max 500/);
    expect(verdicts[5]!.decision).toBe('rollback');
  });

  it('checks once per interval, whatever the number of looks', () => {
    const looks = [newObservation(0, arm(0, 0, hist(0)), arm(0, 0))];
    for (let i = 1; i <= 8; i++) looks.push(newObservation(i * 15, arm(i * 250, i * 25, hist(i * 250)), arm(0, 0)));
    const verdicts = run(looks);
    expect(verdicts.map((v) => v.evidence.checks)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2]);
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
