/**
 * The benchmark's scenarios and judges. The canary gets 10 % of the traffic; latency is
 * log-normal with a 100 ms median and log-sd 0.55 (baseline p95 ≈ 250 ms, p99 ≈ 360 ms, so a
 * +50 % regression crosses Flagger's 500 ms P99 bound and +10 % does not); the base error rate is
 * 1 % unless a scenario says otherwise.
 */
import { resolveSequentialConfig } from '../../src/domain/analysis/sequential-judge';
import { FLAGGER_DEFAULTS } from '../../src/domain/analysis/threshold-judge';
import type { JudgeSpec, Noise, Scenario, Timing } from './simulate';

export const TIMING: Timing = { horizonS: 30 * 60, scrapeS: 15, historyS: 40 * 60, calibrationMinutes: 30 };

/** Runs per scenario: the same for A/A and regressions (the issue asks ≥ 1,000 for A/A). */
export const RUNS = 1000;

const QUIET: Noise = { load: 0, canaryErrors: 0, baselineErrors: 0, latency: 0 };

/**
 * Per-minute noise that differs between the arms: load ±20 % (shared), error-rate multipliers with
 * log-sd 0.5 on the canary (few pods) and 0.25 on the baseline (many), each of mean 1, and a
 * latency shift of log-sd 0.1 drawn independently for each arm. The canary/baseline error ratio
 * then wanders by a log-sd of about 0.56 per minute, the slow-request ratio by about 0.53.
 */
export const NOISY: Noise = { load: 0.2, canaryErrors: 0.5, baselineErrors: 0.25, latency: 0.1 };

/** Noise on the canary alone: the baseline's history looks steady, the canary is not. */
const CANARY_ONLY: Noise = { load: 0, canaryErrors: 0.5, baselineErrors: 0, latency: 0 };

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

function aa(canaryRps: number, errorRate: number, noise: Noise): Scenario {
  const noisy = noise !== QUIET;
  return {
    ...base,
    name: `aa${noisy ? '-noisy' : ''}-e${pct(errorRate)}-r${canaryRps}`,
    description: `A/A${noisy ? ' with per-minute noise' : ''}, ${pct(errorRate)} errors, ${canaryRps} req/s to the canary`,
    kind: 'aa',
    canaryRps,
    errorRate,
    noise,
  };
}

function regression(
  what: { errorFactor?: number; latencyFactor?: number },
  over: { canaryRps?: number; errorRate?: number; noise?: Noise } = {},
): Scenario {
  const canaryRps = over.canaryRps ?? 10;
  const errorRate = over.errorRate ?? base.errorRate;
  const noisy = over.noise !== undefined && over.noise !== QUIET;
  const change = what.errorFactor !== undefined ? `errors ×${what.errorFactor}` : `latency +${Math.round(((what.latencyFactor ?? 1) - 1) * 100)}%`;
  const slug = what.errorFactor !== undefined ? `err-x${what.errorFactor}` : `lat-p${Math.round(((what.latencyFactor ?? 1) - 1) * 100)}`;
  return {
    ...base,
    ...what,
    name: `${slug}${noisy ? '-noisy' : ''}-e${pct(errorRate)}-r${canaryRps}`,
    description: `${change}${noisy ? ' with per-minute noise' : ''}, ${pct(errorRate)} base errors, ${canaryRps} req/s to the canary`,
    kind: 'regression',
    canaryRps,
    errorRate,
    noise: over.noise ?? QUIET,
  };
}

export const SCENARIOS: Scenario[] = [
  ...[0.001, 0.01, 0.05].flatMap((e) => [1, 10, 100].map((r) => aa(r, e, QUIET))),
  ...[1, 10, 100].map((r) => aa(r, 0.01, NOISY)),
  {
    // Calibration's blind spot: a steady baseline says nothing about a canary that wanders alone.
    ...aa(10, 0.01, CANARY_ONLY),
    name: 'aa-canary-noisy-e1%-r10',
    description: 'A/A, 1% errors, 10 req/s to the canary; only the canary wanders (error log-sd 0.5 per minute), the baseline is steady',
  },
  {
    ...aa(10, 0.01, QUIET),
    name: 'split-7of10-e1%-r10',
    description: 'A/A, but the canary gets 7 % of the traffic where 10 % is configured',
    actualWeight: 7,
  },
  regression({ errorFactor: 2 }),
  regression({ errorFactor: 10 }),
  regression({ latencyFactor: 1.1 }),
  regression({ latencyFactor: 1.5 }),
  regression({ errorFactor: 2 }, { noise: NOISY }),
  regression({ errorFactor: 10 }, { noise: NOISY }),
  regression({ latencyFactor: 1.1 }, { noise: NOISY }),
  regression({ latencyFactor: 1.5 }, { noise: NOISY }),
  // At 0.1 % base errors Flagger's 99 % bound is not already crossed by a healthy canary: the
  // threshold judge's fair ground.
  regression({ errorFactor: 2 }, { errorRate: 0.001 }),
  regression({ errorFactor: 10 }, { errorRate: 0.001 }),
  regression({ latencyFactor: 1.1 }, { errorRate: 0.001 }),
  regression({ latencyFactor: 1.5 }, { errorRate: 0.001 }),
  regression({ errorFactor: 10 }, { canaryRps: 1 }),
  regression({ latencyFactor: 1.5 }, { canaryRps: 1 }),
];

/**
 * The judges, side by side: the sequential judge with its defaults; the same judge with a smaller
 * noise allowance (the speed/robustness trade-off); the same judge with no noise model at all,
 * i.e. a per-request binomial mixture test (why the noise model is there); Flagger's thresholds.
 */
export const JUDGES: JudgeSpec[] = [
  { id: 'sequential', kind: 'sequential', config: resolveSequentialConfig() },
  // The defaults without calibration: the noise prior stays at 0.5 whatever the baseline shows.
  { id: 'sequential-uncalibrated', kind: 'sequential', config: resolveSequentialConfig({ calibrationBatches: 0 }) },
  { id: 'sequential-noise-0.3', kind: 'sequential', config: resolveSequentialConfig({ noise: 0.3, calibrationBatches: 0 }) },
  // A prior that never yields to the data: s stays 0.
  { id: 'sequential-binomial', kind: 'sequential', config: resolveSequentialConfig({ noise: 0, noisePriorBatches: 1e9 }) },
  { id: 'threshold', kind: 'threshold', config: { ...FLAGGER_DEFAULTS } },
];
