/**
 * The numerics under the judges: ln Γ, the canary's share of events at a rate ratio, the mean and
 * variance of that share under per-batch noise, the beta-binomial batch likelihood, a stable
 * log-sum-exp, and Prometheus' histogram quantile. Pure, and deterministic across platforms (V8's
 * Math.exp and Math.log are fdlibm ports): the judges' verdicts are replayed from them.
 */

const HALF_LOG_2PI = 0.9189385332046728;

/**
 * ln Γ(x) for x > 0: Stirling's series at x ≥ 10 (error below 1e-15 relative), shifted there by
 * Γ(x + 1) = x Γ(x) from below.
 */
export function logGamma(x: number): number {
  if (!(x > 0)) return x === 0 ? Infinity : NaN;
  let shift = 0;
  let y = x;
  while (y < 10) {
    shift += Math.log(y);
    y += 1;
  }
  const r = 1 / y;
  const r2 = r * r;
  // 1/(12y) − 1/(360y³) + 1/(1260y⁵) − 1/(1680y⁷) + 1/(1188y⁹)
  const series = r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
  return (y - 0.5) * Math.log(y) - y + HALF_LOG_2PI + series - shift;
}

/** The canary's share of events when its rate is ρ times the baseline's and its share of exposure is p0. */
export function shareAt(ratio: number, p0: number): number {
  return (ratio * p0) / (ratio * p0 + 1 - p0);
}

// Nodes of the trapezoidal rule for E[f(Z)], Z ~ N(0, 1): step ½ over [−6, 6]. The integrands here
// are smooth and bounded, so the error is that of the cut tails (2·10⁻⁹ of the mass), below 1e-9.
const NORMAL_NODES = Array.from({ length: 25 }, (_, i) => -6 + i / 2);
const NORMAL_WEIGHTS = (() => {
  const raw = NORMAL_NODES.map((z) => Math.exp((-z * z) / 2));
  const sum = raw.reduce((acc, v) => acc + v, 0);
  return raw.map((v) => v / sum);
})();

/**
 * Mean and variance of the canary's share of events in one batch when the batch's ratio is
 * ρ·e^{sZ}, Z ~ N(0, 1): the ratio wanders by a factor e^{±s} from batch to batch.
 */
export function shareMoments(ratio: number, p0: number, noise: number): { mean: number; variance: number } {
  if (noise <= 0) return { mean: shareAt(ratio, p0), variance: 0 };
  let m1 = 0;
  let m2 = 0;
  for (let i = 0; i < NORMAL_NODES.length; i++) {
    const p = shareAt(ratio * Math.exp(noise * NORMAL_NODES[i]!), p0);
    m1 += NORMAL_WEIGHTS[i]! * p;
    m2 += NORMAL_WEIGHTS[i]! * p * p;
  }
  return { mean: m1, variance: Math.max(0, m2 - m1 * m1) };
}

// Below this intra-batch correlation the beta-binomial is the binomial to double precision.
const MIN_CORRELATION = 1e-9;

/**
 * Log-probability, up to terms that depend on neither ρ nor the noise, of `x` canary and `y`
 * baseline events in one batch whose canary exposure share is p0, when the canary's rate is ρ
 * times the baseline's up to a per-batch factor e^{sZ}. The batch's share is taken as beta with
 * the mean and variance that noise gives it (`shareMoments`); s = 0 is the binomial.
 */
export function batchLogLikelihood(x: number, y: number, p0: number, ratio: number, noise: number): number {
  const { mean: p, variance } = shareMoments(ratio, p0, noise);
  const correlation = Math.min(0.99, variance / (p * (1 - p)));
  if (correlation < MIN_CORRELATION) return (x > 0 ? x * Math.log(p) : 0) + (y > 0 ? y * Math.log1p(-p) : 0);
  // Beta(a, b) with a + b = c = 1/κ − 1: the beta-binomial B(a + x, b + y) / B(a, b).
  const c = 1 / correlation - 1;
  const a = p * c;
  const b = (1 - p) * c;
  return logGamma(a + x) - logGamma(a) + logGamma(b + y) - logGamma(b) - logGamma(c + x + y) + logGamma(c);
}

/** ln Σ wᵢ e^{vᵢ}, without overflow. */
export function logSumExp(values: number[], logWeight: number): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum) + logWeight;
}

/**
 * Prometheus `histogram_quantile` over (increments of) cumulative buckets: `cumulative` holds the
 * counts at each finite bound of `le`, then the total. Linear interpolation inside the bucket
 * holding rank q·total, the lowest bucket starting at 0, the highest finite bound when the rank
 * falls in `+Inf`. NaN without observations.
 */
export function histogramQuantile(q: number, le: number[], cumulative: number[]): number {
  const total = cumulative[le.length];
  if (total === undefined || !(total > 0) || le.length === 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < le.length; i++) {
    if (cumulative[i]! >= rank) {
      const lower = i === 0 ? 0 : le[i - 1]!;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      return inBucket > 0 ? lower + ((le[i]! - lower) * (rank - below)) / inBucket : le[i]!;
    }
  }
  return le[le.length - 1]!;
}
