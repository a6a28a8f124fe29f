/**
 * Monte Carlo summaries with their standard errors: proportions (binomial SE and a Wilson 95 %
 * upper bound, which stays informative when nothing happened) and quantiles of times to an event
 * (runs without the event count as +∞, so a quantile past the detection rate is +∞).
 */

/** A proportion estimated from runs. */
export interface Rate {
  /** Runs where it happened. */
  count: number;
  runs: number;
  rate: number;
  /** Binomial standard error √(p(1 − p)/n). */
  se: number;
  /** Wilson score 95 % upper bound. */
  upper95: number;
}

export function rate(count: number, runs: number): Rate {
  const p = runs > 0 ? count / runs : NaN;
  const z = 1.959964;
  const denom = 1 + (z * z) / runs;
  const centre = p + (z * z) / (2 * runs);
  const spread = z * Math.sqrt((p * (1 - p)) / runs + (z * z) / (4 * runs * runs));
  return { count, runs, rate: p, se: Math.sqrt((p * (1 - p)) / runs), upper95: Math.min(1, (centre + spread) / denom) };
}

/** A quantile of a time, in seconds, with its standard error; null stands for +∞. */
export interface Quantile {
  q: number;
  seconds: number | null;
  /** Half the spread of the order statistics at ranks nq ± √(nq(1 − q)) (±1 SE of the rank); null when that reaches +∞. */
  se: number | null;
}

/** Quantile of `times` (null = never) by the order statistic at rank ⌈nq⌉. */
export function quantile(times: (number | null)[], q: number): Quantile {
  const n = times.length;
  const sorted = times.map((t) => (t === null ? Infinity : t)).sort((a, b) => a - b);
  const at = (rank: number) => sorted[Math.min(n, Math.max(1, rank)) - 1]!;
  const centre = at(Math.ceil(n * q));
  const spread = Math.sqrt(n * q * (1 - q));
  const lo = at(Math.floor(n * q - spread));
  const hi = at(Math.ceil(n * q + spread));
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  return { q, seconds: finite(centre), se: Number.isFinite(hi) && Number.isFinite(lo) ? (hi - lo) / 2 : null };
}
