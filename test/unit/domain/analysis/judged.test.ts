import { calibrate, calibrationWanted, initialJudgedState, judgeLook, type JudgedAnalysis, type JudgedDecision, type JudgedState, type LookInput } from '../../../../src/domain/analysis/judged';
import type { ArmCounters } from '../../../../src/domain/analysis/judge';
import { asRevision1, resolveSequentialConfig as resolveConfig } from '../../../../src/domain/analysis/sequential-judge';
import { FLAGGER_DEFAULTS } from '../../../../src/domain/analysis/threshold-judge';
// Revision 1 of the judge, as rollouts started before revision 2 keep running it; revision 2: sequential-judge-v2.test.ts.
const resolveSequentialConfig = (over: Parameters<typeof resolveConfig>[0] = {}) => asRevision1(resolveConfig(over));

const T0 = 1_700_000_000_000;

/** Cumulative counters after `s` seconds at `rps` with error share `err` and slow share `slow` (above 100 ms). */
function arm(s: number, rps: number, err: number, slow = 0.05): ArmCounters {
  const n = Math.round(s * rps);
  return {
    requests: n,
    errors: Math.round(n * err),
    latency: { buckets: [{ le: 25, count: Math.round(n * 0.5) }, { le: 100, count: Math.round(n * (1 - slow)) }, { le: 250, count: n }], count: n },
  };
}

/** A look every `every` seconds: canary at 10 req/s, baseline at 90 req/s, canary weight 10 %. */
function looks(n: number, canaryErr: number, baselineErr: number, every = 15): LookInput[] {
  return Array.from({ length: n }, (_, i) => ({
    at: T0 + i * every * 1000, canaryWeight: 10, counters: { canary: arm(i * every, 10, canaryErr), baseline: arm(i * every, 90, baselineErr) },
  }));
}
const failed = (at: number): LookInput => ({ at: T0 + at * 1000, canaryWeight: 10, error: 'Prometheus query failed: ECONNREFUSED' });

const sequential = (count?: number, atEnd: 'pass' | 'inconclusive' = 'pass', over: Parameters<typeof resolveSequentialConfig>[0] = {}): JudgedAnalysis =>
  ({ judge: { kind: 'sequential', config: resolveSequentialConfig(over), atEnd }, consecutiveErrorLimit: 2, count });
const threshold = (count?: number): JudgedAnalysis => ({ judge: { kind: 'threshold', config: { ...FLAGGER_DEFAULTS, intervalMs: 15_000 } }, consecutiveErrorLimit: 2, count });

function run(analysis: JudgedAnalysis, inputs: LookInput[]) {
  let state: JudgedState = initialJudgedState();
  const phases: string[] = [];
  const verdicts: string[] = [];
  let last: JudgedDecision | undefined;
  for (const look of inputs) {
    const r = judgeLook(analysis, state, look);
    state = r.state;
    phases.push(r.decision.phase);
    verdicts.push(r.decision.verdict);
    last = r.decision;
    if (r.decision.phase !== 'Running') break;
  }
  if (last === undefined) throw new Error('no looks');
  return { state, phases, verdicts, last };
}

describe('judgeLook: phases from verdicts, errors and count', () => {
  const cases: [string, JudgedAnalysis, LookInput[], { phases: string[]; reason: RegExp }][] = [
    ['the reference look decides nothing', sequential(4), looks(1, 0.5, 0), { phases: ['Running'], reason: /^sequential judge \(look 0 of 4\): first look/ }],
    ['×25 errors: rolled back at the first look with enough evidence', sequential(40), looks(40, 0.05, 0.002),
      { phases: ['Running', 'Failed'], reason: /^sequential judge: roll back: canary errors .*e-value/ }],
    ['as good as baseline: passes when count looks end', sequential(4), looks(10, 0.01, 0.01),
      { phases: ['Running', 'Running', 'Running', 'Running', 'Successful'], reason: /^sequential judge: no regression shown in 4 looks: / }],
    ['atEnd inconclusive: a person decides', sequential(4, 'inconclusive'), looks(10, 0.01, 0.01),
      { phases: ['Running', 'Running', 'Running', 'Running', 'Inconclusive'], reason: /^sequential judge: not enough evidence yet: 4 looks ended without a verdict \(atEnd: inconclusive\); resume to promote without it, or abort/ }],
    ['too little canary traffic never passes', sequential(2, 'pass', { minRequests: 1000 }), looks(10, 0, 0),
      { phases: ['Running', 'Running', 'Inconclusive'], reason: /^sequential judge: 2 looks ended with too little canary traffic to judge \(300 of 1000 needed\)/ }],
    ['Prometheus down: errors up to the limit, then Error', sequential(4), [looks(1, 0, 0)[0]!, failed(15), failed(30), failed(45)],
      { phases: ['Running', 'Running', 'Running', 'Error'], reason: /^sequential judge: the counters could not be read \(3 in a row, limit 2\): Prometheus query failed/ }],
    ['a failed look before any counters is an error too', sequential(4), [failed(0), failed(15), failed(30)],
      { phases: ['Running', 'Running', 'Error'], reason: /could not be read \(3 in a row, limit 2\)/ }],
    ['failed looks do not count towards count, and a good look resets the streak', sequential(2),
      [looks(3, 0.01, 0.01)[0]!, failed(5), failed(10), looks(3, 0.01, 0.01)[1]!, failed(20), failed(25), looks(3, 0.01, 0.01)[2]!],
      { phases: ['Running', 'Running', 'Running', 'Running', 'Running', 'Running', 'Successful'], reason: /no regression shown in 2 looks/ }],
    ['background analysis: no count, never Successful, a regression still fails it', sequential(undefined), looks(40, 0.05, 0.002),
      { phases: ['Running', 'Failed'], reason: /roll back/ }],
    ['threshold judge: Flagger rolls back at the fifth failed check', threshold(20), looks(20, 0.05, 0),
      { phases: ['Running', 'Running', 'Running', 'Running', 'Running', 'Failed'], reason: /^threshold judge: roll back: 5 of 5 failed checks after 5/ }],
    ['threshold judge: a clean canary passes its count', threshold(3), looks(10, 0, 0),
      { phases: ['Running', 'Running', 'Running', 'Successful'], reason: /^threshold judge: no regression shown in 3 looks: 0 of 5 failed checks after 3/ }],
  ];
  it.each(cases)('%s', (_name, analysis, inputs, expected) => {
    const r = run(analysis, inputs);
    expect(r.phases).toEqual(expected.phases);
    expect(r.last.reason).toMatch(expected.reason);
  });

  it('early promotion ends a step analysis, but not a background one', () => {
    // Canary and baseline alike at 200 req/s each, 1 % errors and 5 % slow: in time both "no worse
    // than 1.5×" tests reach 1/α.
    const alike = (i: number): LookInput => ({
      at: T0 + i * 15_000, canaryWeight: 50, counters: { canary: arm(i * 15, 200, 0.01, 0.05), baseline: arm(i * 15, 200, 0.01, 0.05) },
    });
    const inputs = Array.from({ length: 120 }, (_, i) => alike(i));
    const step = run(sequential(200), inputs);
    expect(step.last.phase).toBe('Successful');
    expect(step.last.verdict).toBe('promote');
    expect(step.last.reason).toMatch(/^sequential judge: promote early: canary shown no worse than 1\.5× baseline/);
    const background = run(sequential(undefined), inputs);
    expect(background.phases.every((p) => p === 'Running')).toBe(true);
    expect(background.verdicts).toContain('promote');
  });

  it('carries the judge\'s evidence, and the state survives a JSON round trip (it lives in workflow state)', () => {
    let state = initialJudgedState();
    const analysis = sequential(40);
    for (const look of looks(3, 0.01, 0.01)) state = JSON.parse(JSON.stringify(judgeLook(analysis, state, look).state)) as JudgedState;
    const r = judgeLook(analysis, state, looks(4, 0.01, 0.01)[3]!);
    expect(r.decision.evidence?.kind).toBe('sequential');
    if (r.decision.evidence?.kind !== 'sequential') return;
    expect(r.decision.evidence.e.errors.canary.requests).toBe(450);
    expect(r.decision.evidence.e.errors.baseline.requests).toBe(4050);
    // A failed look reports the evidence as it stood, counting nothing.
    const f = judgeLook(analysis, r.state, failed(60));
    expect(f.decision.evidence).toEqual(r.decision.evidence);
    expect(f.state.judge).toEqual(r.state.judge);
  });
});

describe('calibrate: the noise priors set before the first look', () => {
  /** Baseline counters one minute apart: 5,400 requests a minute, 1 % errors, 5 % slow, ± Poisson-sized scatter. */
  const steadyHistory = (batches: number): ArmCounters[] => Array.from({ length: batches + 1 }, (_, i) => {
    const scatter = (k: number) => (k % 2 === 0 ? 1 : -1);
    const errors = Array.from({ length: i }, (_, k) => 54 + scatter(k) * 7).reduce((a, b) => a + b, 0);
    const slow = Array.from({ length: i }, (_, k) => 270 + scatter(k) * 16).reduce((a, b) => a + b, 0);
    const n = i * 5400;
    return { requests: n, errors, latency: { buckets: [{ le: 25, count: Math.round(n * 0.5) }, { le: 100, count: n - slow }, { le: 250, count: n }], count: n } };
  });

  it('how many batches of history a judge wants: the sequential judge\'s setting, none for the threshold judge', () => {
    expect(calibrationWanted(sequential(4))).toBe(30);
    expect(calibrationWanted(sequential(4, 'pass', { calibrationBatches: 0 }))).toBe(0);
    expect(calibrationWanted(threshold(4))).toBe(0);
  });

  it('a steady baseline narrows the latency prior; the judge then uses it, and the first look says so', () => {
    const analysis = sequential(4);
    const state = calibrate(analysis, initialJudgedState(), { samples: steadyHistory(30) });
    // Both streams scatter no more than Poisson: both priors narrowed to the floor.
    expect(state.calibration).toMatchObject({ noise: 0.35, latencyNoise: 0.35 });
    const first = judgeLook(analysis, state, looks(1, 0.01, 0.01)[0]!);
    expect(first.decision.reason).toMatch(/^sequential judge \(look 0 of 4\): first look: reference counters recorded; noise calibrated on the baseline's last 30 batches: /);
    const second = judgeLook(analysis, first.state, looks(2, 0.01, 0.01)[1]!);
    expect(second.decision.reason).not.toMatch(/noise calibrated/);
    if (second.decision.evidence?.kind !== 'sequential') throw new Error('no sequential evidence');
    expect(second.decision.evidence.e.latency.noise).toBe(0.35);
    expect(second.decision.evidence.e.errors.noise).toBe(0.35);
    // It survives a JSON round trip (workflow state, continue-as-new).
    expect(JSON.parse(JSON.stringify(second.state))).toEqual(second.state);
  });

  it('a history that could not be read keeps the configured priors and records why', () => {
    const state = calibrate(sequential(4), initialJudgedState(), { error: 'Prometheus query failed: ECONNREFUSED' });
    expect(state.calibration).toMatchObject({ noise: 0.5, latencyNoise: 0.5 });
    expect(state.calibration?.reason).toBe("noise prior as configured: the baseline's history could not be read (Prometheus query failed: ECONNREFUSED)");
  });

  it('the threshold judge is not calibrated', () => {
    const state = initialJudgedState();
    expect(calibrate(threshold(4), state, { samples: steadyHistory(30) })).toBe(state);
  });

  it('a calibrated judge rolls back a latency regression sooner than the uncalibrated one, on the same looks', () => {
    // Canary 4× as many slow requests (20 % against 5 %), same errors.
    const slowLooks = Array.from({ length: 12 }, (_, i): LookInput => ({
      at: T0 + i * 15_000, canaryWeight: 10, counters: { canary: arm(i * 15, 10, 0.01, 0.2), baseline: arm(i * 15, 90, 0.01, 0.05) },
    }));
    const lookOf = (analysis: JudgedAnalysis, state: JudgedState) => {
      let s = state;
      for (let i = 0; i < slowLooks.length; i++) {
        const r = judgeLook(analysis, s, slowLooks[i]!);
        s = r.state;
        if (r.decision.phase === 'Failed') return i;
      }
      return Infinity;
    };
    const analysis = sequential(40);
    const calibrated = lookOf(analysis, calibrate(analysis, initialJudgedState(), { samples: steadyHistory(30) }));
    const plain = lookOf(analysis, initialJudgedState());
    // Within the first minute (looks 1–4) when calibrated; the uncalibrated judge needs the second.
    expect(calibrated).toBeLessThanOrEqual(4);
    expect(plain).toBeGreaterThan(4);
  });
});
