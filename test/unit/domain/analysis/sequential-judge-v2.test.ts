/**
 * Revision 2 of the sequential judge (docs/decisions/0016-real-world-signals.md): decisions on
 * completed batches only, noise that lasts across batches, the tail test, an absent canary series
 * read as zero, and calibration that may widen a prior. Revision 1 is sequential-judge.test.ts.
 */
import { calibrateNoise } from '../../../../src/domain/analysis/calibrate';
import { JudgeConfigError, type ArmCounters, type JudgeObservation } from '../../../../src/domain/analysis/judge';
import { asRevision1, resolveSequentialConfig, type SequentialConfig } from '../../../../src/domain/analysis/sequential-judge';
import { analysisStep } from '../../../../src/domain/spec/analysis';
import { arm, feed, hist, LE, newObservation } from './observations';

/**
 * Traffic at constant rates from t = 0, looked at every `everyS` seconds up to `untilS`; the
 * baseline has served 100,000 requests before (its history sets the slow bounds at the first look).
 */
function looks(everyS: number, untilS: number, perS: { canary: [number, number]; baseline: [number, number] }): JudgeObservation[] {
  const out: JudgeObservation[] = [];
  const before = 100_000;
  for (let t = 0; t <= untilS; t += everyS) {
    const b = before + perS.baseline[0] * t;
    out.push(newObservation(t, arm(perS.canary[0] * t, perS.canary[1] * t, hist(perS.canary[0] * t)), arm(b, (perS.baseline[1] / perS.baseline[0]) * b, hist(b))));
  }
  return out;
}

const v2 = (over: Partial<SequentialConfig> = {}) => resolveSequentialConfig(over);
// A canary erring 10× as often as its baseline: 10 req/s with 10 % errors against 90 req/s with 1 %.
const bad = { canary: [10, 1] as [number, number], baseline: [90, 0.9] as [number, number] };

describe('sequentialJudge revision 2: evidence grows one batch at a time, however often it is read', () => {
  it('the defaults are revision 2', () => {
    expect(v2().revision).toBe(2);
    expect(asRevision1(v2()).revision).toBeUndefined();
  });

  it('decides nothing inside the first batch, then rolls back at the look that ends it', () => {
    const { verdicts } = feed(v2(), looks(15, 60, bad));
    expect(verdicts.map((v) => v.decision)).toEqual(['continue', 'continue', 'continue', 'continue', 'rollback']);
  });

  it('revision 1 decides inside the batch on the same data', () => {
    const { verdicts } = feed(asRevision1(v2()), looks(15, 60, bad));
    expect(verdicts.slice(1, 4).some((v) => v.decision === 'rollback')).toBe(true);
  });

  it.each([5, 15, 30, 60])('the evidence at the end of the first two batches is the same with looks every %i s', (every) => {
    const reference = feed(v2(), looks(60, 120, { canary: [10, 0.1], baseline: [90, 0.9] }));
    const { verdicts } = feed(v2(), looks(every, 120, { canary: [10, 0.1], baseline: [90, 0.9] }));
    const at = (vs: typeof verdicts, k: number) => vs[k]!.evidence;
    const lastOf = (n: number) => verdicts.length - 1 - (120 - n) / every;
    for (const [t, k] of [[60, 1], [120, 2]] as const) {
      expect(at(verdicts, lastOf(t)).errors.eRollback).toBeCloseTo(at(reference.verdicts, k).errors.eRollback, 9);
      expect(at(verdicts, lastOf(t)).latency.ePromote).toBeCloseTo(at(reference.verdicts, k).latency.ePromote, 9);
    }
  });
});

describe('sequentialJudge revision 2: a canary with no series yet', () => {
  // The first look finds no canary series at all (no requests, no histogram); the next finds 600.
  const first = newObservation(0, arm(0, 0), arm(90_000, 900, hist(90_000)));
  const next = newObservation(60, arm(600, 6, hist(600)), arm(95_400, 954, hist(95_400)));

  it.each<[string, SequentialConfig, number]>([
    ['revision 2 counts its first requests\' latencies', v2(), 600],
    ['revision 1 dropped them (the interval had no reference buckets)', asRevision1(v2()), 0],
  ])('%s', (_name, config, counted) => {
    const { verdicts } = feed(config, [first, next]);
    expect(verdicts[1]!.evidence.latency.canary.requests).toBe(counted);
    expect(verdicts[1]!.evidence.errors.canary.requests).toBe(600);
  });

  it('a canary that has requests but no histogram is not read as zero latency', () => {
    const { verdicts } = feed(v2(), [newObservation(0, arm(10, 0), arm(90_000, 900, hist(90_000))), newObservation(60, arm(600, 6), arm(95_400, 954, hist(95_400)))]);
    expect(verdicts[1]!.evidence.latency.canary.requests).toBe(0);
  });
});

describe('sequentialJudge revision 2: the tail test', () => {
  // Baseline: 2 % of requests above 500 ms (LE 500 … 1000, +Inf), its p99 bound is 1000 ms.
  const tailShares = (above1000: number) => [0.05, 0.25, 0.3, 0.3, 0.08, 0.02 - above1000 + 0.0, above1000];

  it('takes its bound at the baseline\'s p99 and rolls back a canary slow only in the tail, carried by the tail', () => {
    const baseShares = [0.05, 0.25, 0.3, 0.3, 0.08, 0.015, 0.005];
    const canaryShares = [0.05, 0.25, 0.3, 0.3, 0.03, 0.02, 0.05];
    const obs = (t: number) => newObservation(t, arm(600 * t / 60, 0, hist(600 * t / 60, canaryShares)), arm(100_000 + 5400 * t / 60, 0, hist(100_000 + 5400 * t / 60, baseShares)));
    const { verdicts } = feed(v2(), [0, 60, 120, 180].map(obs));
    const last = verdicts.at(-1)!;
    expect(last.evidence.tail?.slowMs).toBe(1000);
    expect(verdicts.map((v) => v.decision)).toContain('rollback');
    const first = verdicts.findIndex((v) => v.decision === 'rollback');
    expect(verdicts[first]!.reason).toMatch(/^canary tail requests .*latency above 1000 ms/);
    expect(verdicts[first]!.evidence.tail!.eRollback).toBeGreaterThan(verdicts[first]!.evidence.latency.eRollback);
  });

  it('is absent from revision 1\'s evidence', () => {
    const { verdicts } = feed(asRevision1(v2()), looks(60, 60, bad));
    expect(verdicts[1]!.evidence.tail).toBeUndefined();
    expect(tailShares(0).length).toBe(LE.length + 1);
  });
});

describe('sequentialJudge revision 2: noise that lasts', () => {
  // Three batches, each with the canary erring twice as often: how much evidence is there?
  const twice = { canary: [10, 0.2] as [number, number], baseline: [90, 0.9] as [number, number] };
  it.each<[number, number]>([[0, 0], [0.5, 1], [0.9, 2]])('φ = %s gives less evidence than a smaller φ on a steady ×2 canary (rank %i)', (phi, rank) => {
    const e = (p: number) => feed(v2({ noiseCorrelation: p, minEvents: 1, minRequests: 1 }), looks(60, 180, twice)).verdicts[3]!.evidence.errors.eRollback;
    const ordered = [0, 0.5, 0.9].map(e);
    expect([...ordered].sort((a, b) => b - a)).toEqual(ordered);
    expect(ordered[rank]).toBe(e(phi));
  });

  it('φ = 0 judges batches as independent, as revision 1 did', () => {
    const a = feed(v2({ noiseCorrelation: 0 }), looks(60, 180, bad)).verdicts[3]!.evidence.errors.eRollback;
    const b = feed(asRevision1(v2()), looks(60, 180, bad)).verdicts[3]!.evidence.errors.eRollback;
    expect(a).toBeCloseTo(b, 6);
  });
});

describe('resolveSequentialConfig: revision 2 settings', () => {
  it.each<[string, Partial<SequentialConfig>, string]>([
    ['a correlation of 1 (evidence never grows)', { noiseCorrelation: 1 }, 'sequential judge: noiseCorrelation must be in [0, 1), got 1'],
    ['a negative correlation', { noiseCorrelation: -0.1 }, 'sequential judge: noiseCorrelation must be in [0, 1), got -0.1'],
    ['a tail quantile below the slow one', { tailQuantile: 0.8 }, 'sequential judge: tailQuantile (0.8) must be above latencyQuantile (0.9)'],
    ['an unknown revision', { revision: 3 as unknown as 2 }, 'sequential judge: revision must be 2 (or absent for revision 1), got 3'],
    ['a negative ceiling', { calibrationCeiling: -1 }, 'sequential judge: calibrationCeiling must be a number ≥ 0, got -1'],
  ])('refuses %s', (_name, over, message) => {
    expect(() => resolveSequentialConfig(over)).toThrow(JudgeConfigError);
    expect(() => resolveSequentialConfig(over)).toThrow(message);
  });
});

describe('calibrateNoise revision 2: a baseline that wanders more than the prior allows widens it', () => {
  /** Cumulative baseline counters over `batches` minutes whose error rate is multiplied by `wander[i % n]`. */
  function history(batches: number, perMinute: number, errorRate: number, wander: number[]): ArmCounters[] {
    const out: ArmCounters[] = [arm(0, 0, hist(0))];
    let req = 0;
    let err = 0;
    for (let i = 0; i < batches; i++) {
      req += perMinute;
      err += Math.round(perMinute * errorRate * wander[i % wander.length]!);
      out.push(arm(req, err, hist(req)));
    }
    return out;
  }
  const wandering = history(30, 6000, 0.01, [0.3, 2.5, 1, 0.5, 1.8]);
  const steady = history(30, 6000, 0.01, [1]);

  it.each<[string, SequentialConfig, ArmCounters[], (n: number) => boolean]>([
    ['revision 2, wandering: widened above 0.5, at most the ceiling', v2(), wandering, (n) => n > 0.5 && n <= 1],
    ['revision 1, wandering: never above the configured 0.5', asRevision1(v2()), wandering, (n) => n === 0.5],
    ['revision 2, steady: narrowed to the floor', v2(), steady, (n) => n === 0.35],
  ])('%s', (_name, config, h, ok) => {
    const c = calibrateNoise(config, h);
    expect(ok(c.noise)).toBe(true);
  });

  it('says so in words', () => {
    expect(calibrateNoise(v2(), wandering).reason).toMatch(/errors wander ≤ .* → prior [0-9.]+ \(widened\)/);
  });

  it('a baseline with too few events to show its wander is not widened (only its upper bound is large)', () => {
    const sparse = history(30, 60, 0.001, [1]);
    expect(calibrateNoise(v2(), sparse).noise).toBeLessThanOrEqual(0.5);
  });
});

describe('analysis step defaults with a judge', () => {
  it.each<[string, Record<string, unknown>, number, string | undefined]>([
    ['a judged step without count runs 30 minutes of looks, holding at the end', { interval: '60s', judge: { sequential: {} } }, 30, 'inconclusive'],
    ['at 5 s looks that is 360 looks', { interval: '5s', judge: { sequential: {} } }, 360, 'inconclusive'],
    ['an explicit count is kept', { interval: '60s', count: 5, judge: { sequential: {} } }, 5, 'inconclusive'],
    ['atEnd: pass is kept', { interval: '60s', count: 5, judge: { sequential: { atEnd: 'pass' } } }, 5, 'pass'],
    ['revision 2 settings are spec fields', { interval: '60s', judge: { sequential: { noiseCorrelation: 0.5, tailQuantile: 0.995, tailNoise: 0.6, calibrationCeiling: 0.8 } } }, 30, 'inconclusive'],
    ['threshold metrics keep 5 looks', { interval: '60s', metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] }, 5, undefined],
  ])('%s', (_name, raw, count, atEnd) => {
    const a = analysisStep.parse(raw);
    expect(a.count).toBe(count);
    const given = (raw.judge as { sequential?: Record<string, unknown> } | undefined)?.sequential ?? {};
    if (a.judge?.kind === 'sequential') for (const k of ['noiseCorrelation', 'tailQuantile', 'tailNoise', 'calibrationCeiling']) if (k in given) expect(a.judge.config[k as keyof typeof a.judge.config]).toBe(given[k]);
    expect(a.judge?.kind === 'sequential' ? a.judge.atEnd : undefined).toBe(atEnd);
  });
});
