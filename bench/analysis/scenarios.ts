/**
 * The benchmark's scenarios and judges. The canary gets 10 % of the traffic; latency is
 * log-normal with a 100 ms median and log-sd 0.55 (baseline p90 ≈ 200 ms, p99 ≈ 360 ms, so a
 * +50 % regression crosses Flagger's 500 ms P99 bound and +10 % does not); the base error rate is
 * 1 % unless a scenario says otherwise.
 */
import { asRevision1, resolveSequentialConfig } from '../../src/domain/analysis/sequential-judge';
import { FLAGGER_DEFAULTS } from '../../src/domain/analysis/threshold-judge';
import { analysisStep } from '../../src/domain/spec/analysis';
import { latencyQuantileMs, type JudgeSpec, type Noise, type Scenario, type TailRegression, type Timing } from './simulate';

export const TIMING: Timing = { horizonS: 30 * 60, scrapeS: 5, historyS: 40 * 60, calibrationMinutes: 30, seriesDelayMinS: 15, seriesDelayMaxS: 30 };

/** Runs per scenario: the same for A/A and regressions. */
export const RUNS = 1000;

/** The look intervals every scenario is judged at. */
export const LOOK_INTERVALS_S = [5, 15, 60] as const;

const QUIET: Noise = { load: 0, canaryErrors: 0, baselineErrors: 0, canaryLatency: 0, baselineLatency: 0, episodeS: 60 };

/**
 * Per-minute noise that differs between the arms: load ±20 % (shared), error-rate multipliers with
 * log-sd 0.5 on the canary (few pods) and 0.25 on the baseline (many), each of mean 1, and a
 * latency shift of log-sd 0.1 drawn independently for each arm. The canary/baseline error ratio
 * then wanders by a log-sd of about 0.56 per minute, the slow-request ratio by about 0.53.
 */
export const NOISY: Noise = { load: 0.2, canaryErrors: 0.5, baselineErrors: 0.25, canaryLatency: 0.1, baselineLatency: 0.1, episodeS: 60 };

/** Stronger per-minute noise on both arms: error-rate coefficient of variation 0.5 (log-sd 0.47) on each, latency log-sd 0.1 on each. */
const STRONG: Noise = { load: 0.2, canaryErrors: 0.47, baselineErrors: 0.47, canaryLatency: 0.1, baselineLatency: 0.1, episodeS: 60 };

/** Noise on the canary alone, errors only: the baseline's history looks steady, the canary is not. */
const CANARY_ERRORS: Noise = { ...QUIET, canaryErrors: 0.5 };

/** Noise on the canary alone, its latency included. */
const CANARY_ALL: Noise = { ...QUIET, canaryErrors: 0.5, canaryLatency: 0.1 };

const base = {
  canaryWeight: 10,
  errorRate: 0.01,
  errorFactor: 1,
  latencyFactor: 1,
  latencyMedianMs: 100,
  latencySigma: 0.55,
  noise: QUIET,
  runs: RUNS,
};

const pct = (x: number) => `${Number((x * 100).toPrecision(3))}%`;

/** An A/A scenario; `noise` names and describes its noise. */
function aa(canaryRps: number, errorRate: number, noise?: { n: Noise; slug: string; words: string }): Scenario {
  return {
    ...base,
    name: `aa${noise ? `-${noise.slug}` : ''}-e${pct(errorRate)}-r${canaryRps}`,
    description: `A/A${noise ? ` ${noise.words}` : ''}, ${pct(errorRate)} errors, ${canaryRps} req/s to the canary`,
    kind: 'aa',
    canaryRps,
    errorRate,
    noise: noise?.n ?? QUIET,
  };
}

const perMinute = { n: NOISY, slug: 'noisy', words: 'with per-minute noise' };
const episodes = (minutes: number, n: Noise = NOISY, who = 'both arms') => ({
  n: { ...n, episodeS: minutes * 60 },
  slug: `episodes${minutes}m${n === NOISY ? '' : '-canary'}`,
  words: `with noise in episodes of ${minutes} min on ${who}`,
});

/**
 * A share of 1.5 % of the canary's requests taking `factor` times longer raises its p99 by
 * `p99Factor` and leaves its median where it was (p90 barely moves: the slow-share test sees little
 * of it). The p99 then falls in the slow share's lower third, so the share above the next bucket
 * bound rises about 7× (from 0.17 % to 1.2 % above 500 ms for ×2.5), not the 10× or more of a
 * tail entirely beyond that bound.
 */
const TAIL_SHARE = 0.015;

function tailFor(p99Factor: number): TailRegression {
  const target = p99Factor * latencyQuantileMs(0.99, base.latencyMedianMs, base.latencySigma);
  let lo = 1;
  let hi = 100;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (latencyQuantileMs(0.99, base.latencyMedianMs, base.latencySigma, { share: TAIL_SHARE, factor: mid }) < target) lo = mid;
    else hi = mid;
  }
  return { share: TAIL_SHARE, factor: (lo + hi) / 2 };
}

function regression(
  what: { errorFactor?: number; latencyFactor?: number; p99Factor?: number },
  over: { canaryRps?: number; errorRate?: number; noise?: { n: Noise; slug: string; words: string } } = {},
): Scenario {
  const canaryRps = over.canaryRps ?? 10;
  const errorRate = over.errorRate ?? base.errorRate;
  const change = what.errorFactor !== undefined ? `errors ×${what.errorFactor}`
    : what.p99Factor !== undefined ? `p99 ×${what.p99Factor} (tail only, median unchanged)`
      : `latency +${Math.round(((what.latencyFactor ?? 1) - 1) * 100)}%`;
  const slug = what.errorFactor !== undefined ? `err-x${what.errorFactor}`
    : what.p99Factor !== undefined ? `tail-p99x${what.p99Factor}`
      : `lat-p${Math.round(((what.latencyFactor ?? 1) - 1) * 100)}`;
  return {
    ...base,
    ...(what.errorFactor !== undefined ? { errorFactor: what.errorFactor } : {}),
    ...(what.latencyFactor !== undefined ? { latencyFactor: what.latencyFactor } : {}),
    ...(what.p99Factor !== undefined ? { tail: tailFor(what.p99Factor) } : {}),
    name: `${slug}${over.noise ? `-${over.noise.slug}` : ''}-e${pct(errorRate)}-r${canaryRps}`,
    description: `${change}${over.noise ? ` ${over.noise.words}` : ''}, ${pct(errorRate)} base errors, ${canaryRps} req/s to the canary`,
    kind: 'regression',
    canaryRps,
    errorRate,
    noise: over.noise?.n ?? QUIET,
  };
}

export const SCENARIOS: Scenario[] = [
  ...[0.001, 0.01, 0.05].map((e) => aa(10, e)),
  aa(1, 0.01),
  aa(100, 0.01),
  aa(10, 0.01, perMinute),
  aa(100, 0.01, perMinute),
  aa(10, 0.01, { n: STRONG, slug: 'strong', words: 'with stronger per-minute noise (errors CV 0.5 on each arm, latency log-sd 0.1 on each)' }),
  // Calibration's blind spot: a steady baseline says nothing about a canary that wanders alone.
  aa(10, 0.01, { n: CANARY_ERRORS, slug: 'canary-noisy', words: 'where only the canary wanders (errors, log-sd 0.5 per minute)' }),
  aa(10, 0.01, { n: CANARY_ALL, slug: 'canary-noisy-latency', words: 'where only the canary wanders (errors log-sd 0.5 and latency log-sd 0.1 per minute)' }),
  ...[2, 5, 10].map((m) => aa(10, 0.01, episodes(m))),
  aa(10, 0.01, episodes(5, CANARY_ALL, 'the canary only (errors and latency)')),
  {
    ...aa(10, 0.01),
    name: 'split-7of10-e1%-r10',
    description: 'A/A, but the canary gets 7 % of the traffic where 10 % is configured',
    actualWeight: 7,
  },
  regression({ errorFactor: 2 }),
  regression({ errorFactor: 10 }),
  regression({ latencyFactor: 1.1 }),
  regression({ latencyFactor: 1.5 }),
  regression({ p99Factor: 2 }),
  regression({ p99Factor: 2.5 }),
  regression({ errorFactor: 2 }, { noise: perMinute }),
  regression({ errorFactor: 10 }, { noise: perMinute }),
  regression({ latencyFactor: 1.5 }, { noise: perMinute }),
  regression({ p99Factor: 2.5 }, { noise: perMinute }),
  regression({ errorFactor: 2 }, { noise: episodes(5) }),
  regression({ errorFactor: 10 }, { errorRate: 0.001 }),
  regression({ errorFactor: 10 }, { canaryRps: 1 }),
  regression({ latencyFactor: 1.5 }, { canaryRps: 1 }),
];

/** The analysis step a spec with `judge: { sequential: {} }` gives, at a look interval. */
function defaultSpec(lookS: number) {
  return analysisStep.parse({ interval: `${lookS}s`, judge: { sequential: {} } });
}


/**
 * The judges, side by side: the default spec (the analysis step as `judge: { sequential: {} }`
 * resolves it: the judge at its defaults, until it decides, holding at 30 minutes) at each look
 * interval; the judge alone at its defaults, watching the whole horizon (15 s looks); the judge of
 * revision 1 alone (15 s looks); Flagger's thresholds (1 m checks).
 */
export const JUDGES: JudgeSpec[] = [
  ...LOOK_INTERVALS_S.map((s): JudgeSpec => ({ id: `spec@${s}s`, kind: 'spec', analysis: defaultSpec(s), lookS: s })),
  { id: 'judge@15s', kind: 'sequential', config: resolveSequentialConfig(), lookS: 15 },
  { id: 'revision1@15s', kind: 'sequential', config: asRevision1(resolveSequentialConfig()), lookS: 15 },
  { id: 'threshold@60s', kind: 'threshold', config: { ...FLAGGER_DEFAULTS }, lookS: 60 },
];
