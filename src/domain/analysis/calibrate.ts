/**
 * Noise calibration: how much does this service wander from minute to minute? Read from the
 * baseline's own history before the canary starts, it narrows the sequential judge's noise prior
 * for a service that is shown to be steady, so a steady service is judged nearly per request
 * (fast) and an unsteady one keeps the full allowance (robust). Pure: the caller reads the
 * baseline's cumulative counters at `batchMs` steps and passes them here
 * (docs/decisions/0011-noise-calibration.md).
 *
 * For each stream (errors, slow requests), each past batch i gives xᵢ events out of nᵢ requests.
 * If the event rate is p·e^{sZᵢ} with a per-batch factor of relative variance v = Var(e^{sZ}), then
 * with μᵢ = nᵢ·p̂:
 *
 *   rᵢ = ((xᵢ − μᵢ)² − μᵢ(1 − p̂)) / μᵢ²   has mean v and variance ≈ 2(v + 1/μᵢ)² + 1/μᵢ³,
 *
 * the first term of the variance from the over-dispersion, the rest Poisson's. v̂ is their
 * inverse-variance weighted mean (the weights refined once at v̂), scaled by m/(m − 1) for the
 * rate estimated from the same batches. The judge gets the *upper* bound v̂ + z·SE (z = 2): the
 * prior is narrowed only as far as the history rules noise out. With little traffic the history
 * cannot show steadiness and the prior stays where it was.
 *
 * The judge's prior is about the canary/baseline ratio, whose log wanders by √(s_c² + s_b²). Only
 * s_b is seen. A canary has fewer pods than its baseline and wanders more; with `canaryNoiseFactor`
 * k (s_c = k·s_b, 2 by default: a quarter of the pods, independent pod noise), the ratio's noise
 * is s_b·√(1 + k²). The result is clamped to [`calibrationFloor`, the configured prior]:
 * calibration never assumes a service steadier than the floor. Judge revision 1 never widens the
 * prior (the canary's own batches still do, in the judge). Revision 2 also widens it, up to
 * `calibrationCeiling`, when the *point estimate* (not its upper bound, which only says how little
 * the history shows) puts the ratio's noise above the prior: a baseline that visibly wanders more
 * than the prior allows has a canary that does too. It calibrates the tail test's prior the same way.
 */
import type { ArmCounters } from './judge';
import { initialSlowBound, isRevision2, slowRequests, type SequentialConfig } from './sequential-judge';

/** Below this many complete batches of history, the prior is left as configured. */
export const MIN_CALIBRATION_BATCHES = 5;
/** Standard errors added to the over-dispersion estimate: the prior narrows only as far as the data show. */
const Z_UPPER = 2;

/** What one stream's history says about its minute-to-minute wander. */
export interface StreamDispersion {
  /** Batches that counted (requests seen, no counter reset inside). */
  batches: number;
  /** Events and requests over those batches. */
  events: number;
  requests: number;
  /** Estimated per-batch log-sd of the baseline's own rate (0 when the data show less than Poisson). */
  estimate: number;
  /** Its upper bound (v̂ + 2 SE), the value the prior rests on. */
  upper: number;
  /** The canary/baseline noise prior this gives the judge (clamped to [floor, configured]). */
  prior: number;
}

/** The result of a calibration, recorded with the analysis so the history says why. */
export interface NoiseCalibration {
  /** Batches of history read (complete steps between samples). */
  batches: number;
  /** Per-stream results; null when that stream could not be calibrated. */
  errors: StreamDispersion | null;
  latency: (StreamDispersion & { slowMs: number }) | null;
  /** Judge revision 2: the tail test's stream (requests above the bound at the baseline's tail quantile). */
  tail?: (StreamDispersion & { slowMs: number }) | null;
  /** Noise priors the judge uses for this analysis. */
  noise: number;
  latencyNoise: number;
  /** Judge revision 2: the tail test's prior. */
  tailNoise?: number;
  /** One line for people. */
  reason: string;
}

/**
 * Over-dispersion of a rate over batches (see the module comment): per-batch log-sd, point
 * estimate and upper bound. Null without at least `MIN_CALIBRATION_BATCHES` batches with traffic,
 * or without any event (then nothing can be said about the rate's wander).
 */
export function overDispersion(batches: { x: number; n: number }[]): { estimate: number; upper: number; events: number; requests: number; batches: number } | null {
  const used = batches.filter((b) => b.n > 0 && b.x >= 0 && b.x <= b.n && Number.isFinite(b.x) && Number.isFinite(b.n));
  const events = used.reduce((a, b) => a + b.x, 0);
  const requests = used.reduce((a, b) => a + b.n, 0);
  const m = used.length;
  if (m < MIN_CALIBRATION_BATCHES || events <= 0) return null;
  const p = events / requests;
  const rows = used.map((b) => {
    const mu = b.n * p;
    return { mu, r: ((b.x - mu) ** 2 - mu * (1 - p)) / (mu * mu) };
  });
  const weighted = (v: number) => {
    let sw = 0;
    let swr = 0;
    for (const { mu, r } of rows) {
      const w = 1 / (2 * (v + 1 / mu) ** 2 + 1 / mu ** 3);
      sw += w;
      swr += w * r;
    }
    return { mean: (swr / sw) * (m / (m - 1)), se: Math.sqrt(1 / sw) * (m / (m - 1)) };
  };
  const first = weighted(0);
  const { mean, se } = weighted(Math.max(0, first.mean));
  const toLogSd = (v: number) => Math.sqrt(Math.log1p(Math.max(0, v)));
  return { estimate: toLogSd(mean), upper: toLogSd(Math.max(0, mean) + Z_UPPER * se), events, requests, batches: m };
}

/** Increments between consecutive cumulative samples; null for a step whose counter went down (a reset). */
function steps(values: number[]): (number | null)[] {
  const out: (number | null)[] = [];
  for (let i = 1; i < values.length; i++) {
    const d = values[i]! - values[i - 1]!;
    out.push(Number.isFinite(d) && d >= 0 ? d : null);
  }
  return out;
}

/** The configured priors, unchanged, and why (no history, or none that could be read). */
export function notCalibrated(config: SequentialConfig, reason: string): NoiseCalibration {
  const tail = isRevision2(config) ? { tail: null, tailNoise: config.tailNoise ?? config.latencyNoise ?? config.noise } : {};
  return { batches: 0, errors: null, latency: null, noise: config.noise, latencyNoise: config.latencyNoise ?? config.noise, ...tail, reason };
}

/**
 * Calibrates the noise priors of one sequential analysis from the baseline's cumulative counters
 * at `config.batchMs` steps, oldest first, the last one at the canary's first look. Returns the
 * priors unchanged (with the reason) when calibration is off or the history is too short.
 */
export function calibrateNoise(config: SequentialConfig, history: ArmCounters[]): NoiseCalibration {
  const configured = { noise: config.noise, latencyNoise: config.latencyNoise ?? config.noise, tailNoise: config.tailNoise ?? config.latencyNoise ?? config.noise };
  const v2 = isRevision2(config);
  const batches = Math.max(0, history.length - 1);
  const unchanged = (why: string): NoiseCalibration => ({ ...notCalibrated(config, `noise prior as configured (${configured.noise}, latency ${configured.latencyNoise}): ${why}`), batches });
  const factor = Math.sqrt(1 + (config.canaryNoiseFactor ?? 2) ** 2);
  const floor = config.calibrationFloor ?? 0;
  const ceiling = v2 ? Math.max(config.calibrationCeiling ?? 0, 0) : 0;
  const prior = (d: { estimate: number; upper: number }, configuredPrior: number) => {
    if (factor * d.estimate > configuredPrior && ceiling > configuredPrior) return Math.min(ceiling, factor * d.estimate);
    return Math.min(configuredPrior, Math.max(floor, factor * d.upper));
  };

  const requests = steps(history.map((a) => a.requests));
  const errors = steps(history.map((a) => a.errors));
  const errorBatches = requests.flatMap((n, i) => (n !== null && errors[i] !== null ? [{ x: errors[i]!, n }] : []));
  const e = overDispersion(errorBatches);

  const last = history.at(-1);
  const above = (q: number) => {
    const bound = last ? initialSlowBound(last, q) : null;
    if (bound === null) return null;
    const totals = steps(history.map((a) => a.latency?.count ?? NaN));
    const slow = steps(history.map((a) => slowRequests(a, bound)));
    const d = overDispersion(totals.flatMap((n, i) => (n !== null && slow[i] !== null ? [{ x: slow[i]!, n }] : [])));
    return d ? { ...d, slowMs: bound } : null;
  };
  const l = above(config.latencyQuantile);
  const t = v2 ? above(config.tailQuantile ?? 0.99) : null;
  if (!e && !l) return unchanged(`${batches} batch(es) of baseline history, ${MIN_CALIBRATION_BATCHES} with traffic and events needed`);

  const errorsOut = e ? { ...e, prior: prior(e, configured.noise) } : null;
  const latencyOut = l ? { ...l, prior: prior(l, configured.latencyNoise) } : null;
  const tailOut = t ? { ...t, prior: prior(t, configured.tailNoise) } : null;
  const noise = errorsOut?.prior ?? configured.noise;
  const latencyNoise = latencyOut?.prior ?? configured.latencyNoise;
  const fmt = (v: number) => Number(v.toPrecision(2));
  const part = (name: string, d: StreamDispersion | null, configuredPrior: number) => (d
    ? `${name} wander ≤ ${fmt(d.upper)} (estimate ${fmt(d.estimate)}, ${d.batches} batches, ${d.events} events) → prior ${fmt(d.prior)}${d.prior === configuredPrior ? ' (as configured)' : d.prior > configuredPrior ? ' (widened)' : ''}`
    : `${name}: too little history → prior ${configuredPrior} (as configured)`);
  // Revision 1's words, byte for byte, unless a prior was widened (which revision 1 never does).
  const part1 = (name: string, d: StreamDispersion | null, configuredPrior: number) => (d && d.prior <= configuredPrior
    ? `${name} wander ≤ ${fmt(d.upper)} (estimate ${fmt(d.estimate)}, ${d.batches} batches, ${d.events} events) → prior ${fmt(d.prior)}${d.prior < configuredPrior ? '' : ' (as configured)'}`
    : part(name, d, configuredPrior));
  const tailWords = v2 ? `; ${part('tail requests', tailOut, configured.tailNoise)}` : '';
  return {
    batches,
    errors: errorsOut,
    latency: latencyOut,
    ...(v2 ? { tail: tailOut, tailNoise: tailOut?.prior ?? configured.tailNoise } : {}),
    noise,
    latencyNoise,
    reason: `noise calibrated on the baseline's last ${batches} batches: ${part1('errors', errorsOut, configured.noise)}; ${part1('slow requests', latencyOut, configured.latencyNoise)}${tailWords}`,
  };
}
