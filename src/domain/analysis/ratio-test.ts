/**
 * One anytime-valid ratio test: events of a stream land in the canary or in the baseline, and a
 * mixture of likelihood ratios over a grid of rate ratios ρ is kept against the test's nulls,
 * batch by batch (docs/decisions/0007-sequential-judge.md). The sequential judge runs three of them
 * (errors, slow requests, the traffic split); its state holds their plain-JSON states.
 */
import { batchLogLikelihood, logSumExp, shareAt } from './numerics';

/**
 * The grid of ratios a test keeps likelihoods for: its nulls (1, 1 + δ), the alternatives each
 * mixture spreads its weight over, all sorted. Fixed by the configuration, so state arrays index it.
 */
export interface RatioGrid {
  ratios: number[];
  /** Index of the rollback null ρ = 1 (split: the upper tolerance 1 + τ). */
  upNull: number;
  /** Indices of the alternatives above it. */
  up: number[];
  /** Index of the promotion null ρ = 1 + δ (split: the lower tolerance 1/(1 + τ)). */
  downNull: number;
  /** Indices of the alternatives below it. */
  down: number[];
}

/** The grid for nulls `upNull` and `downNull`, with alternatives at these multiples above and below them. */
export function buildGrid(upNull: number, downNull: number, upFactors: number[], downFactors: number[]): RatioGrid {
  const wanted = [upNull, downNull, ...upFactors.map((f) => upNull * f), ...downFactors.map((f) => downNull / f)];
  const ratios = [...new Set(wanted.map((r) => Number(r.toPrecision(12))))].sort((a, b) => a - b);
  const at = (r: number) => ratios.indexOf(Number(r.toPrecision(12)));
  return {
    ratios,
    upNull: at(upNull),
    up: upFactors.map((f) => at(upNull * f)),
    downNull: at(downNull),
    down: downFactors.map((f) => at(downNull / f)),
  };
}

/** Running totals of one stream: canary and baseline events and exposures. */
export interface Tally {
  /** Canary events. */
  x: number;
  /** Baseline events. */
  y: number;
  /** Canary exposure (requests, or weight × time for the split). */
  nx: number;
  /** Baseline exposure. */
  ny: number;
}

/** State of one ratio test; all arrays are indexed like its grid. */
export interface RatioTestState {
  /** Σ over completed batches of the batch log-likelihood at each grid ratio. */
  done: number[];
  /** The batch in progress. */
  batch: Tally;
  /** Everything counted so far (completed batches and the batch in progress). */
  total: Tally;
  /** Noise estimate: Σ of the weights of completed batches. */
  noiseWeight: number;
  /** Noise estimate: Σ weight × per-batch estimate of s² over completed batches. */
  noiseSum: number;
  /** The noise s used for the batch in progress (fixed when it started: predictable). */
  noise: number;
}

const zeroTally = (): Tally => ({ x: 0, y: 0, nx: 0, ny: 0 });

/** A test with nothing counted, judging its first batch with noise `noise`. */
export function newRatioTest(grid: RatioGrid, noise: number): RatioTestState {
  return { done: grid.ratios.map(() => 0), batch: zeroTally(), total: zeroTally(), noiseWeight: 0, noiseSum: 0, noise };
}

/** A tally with these events and exposures added. */
export function addTo(t: Tally, x: number, y: number, nx: number, ny: number): Tally {
  return { x: t.x + x, y: t.y + y, nx: t.nx + nx, ny: t.ny + ny };
}

/** The batch's log-likelihood at each grid ratio; zeros when the batch cannot be attributed. */
function batchVector(grid: RatioGrid, t: Tally, noise: number): number[] {
  if (t.nx <= 0 || t.ny <= 0 || t.x + t.y <= 0) return grid.ratios.map(() => 0);
  const p0 = t.nx / (t.nx + t.ny);
  return grid.ratios.map((r) => batchLogLikelihood(t.x, t.y, p0, r, noise));
}

/** Ratio of the canary's event rate to the baseline's over a tally (½ added to avoid 0/0). */
function ratioEstimate(t: Tally): number {
  if (t.nx <= 0 || t.ny <= 0) return 1;
  return ((t.x + 0.5) / t.nx) / ((t.y + 0.5) / t.ny);
}

/** Closes the batch in progress: its likelihood joins `done`, its residual joins the noise estimate. */
export function closeBatch(grid: RatioGrid, s: RatioTestState, prior: number, priorBatches: number, floor: number): RatioTestState {
  const vec = batchVector(grid, s.batch, s.noise);
  const done = s.done.map((v, i) => v + vec[i]!);
  let { noiseWeight, noiseSum } = s;
  const { x, y, nx, ny } = s.batch;
  const e = x + y;
  if (nx > 0 && ny > 0 && e >= 2) {
    // Pearson residual around the fitted ratio: E[(x − e·p)² / (e·p·q)] − 1 = (e − 1)·p·q·s².
    const p = shareAt(ratioEstimate(s.total), nx / (nx + ny));
    const info = (e - 1) * p * (1 - p);
    if (info > 0) {
      const r = (x - e * p) ** 2 / (e * p * (1 - p)) - 1;
      // A batch counts as at most one batch of evidence about s², less when it has few events.
      const w = prior > 0 ? ((info * prior * prior) / (1 + info * prior * prior)) ** 2 : 1;
      noiseWeight += w;
      noiseSum += w * (r / info);
    }
  }
  const s2 = (priorBatches * prior * prior + noiseSum) / (priorBatches + noiseWeight);
  const noise = Math.max(floor, priorBatches + noiseWeight > 0 ? Math.sqrt(Math.max(0, s2)) : prior);
  return { done, batch: zeroTally(), total: s.total, noiseWeight, noiseSum, noise };
}

/** What a ratio test says at one look. */
export interface RatioReading {
  /** ln of the e-value against the upper null (errors: ρ ≤ 1), mixed over the alternatives above it. */
  logUp: number;
  /** ln of the e-value against the lower null (errors: ρ ≥ 1 + δ), mixed over the alternatives below it. */
  logDown: number;
  /** Smallest and largest grid ratio not excluded at level α (an anytime-valid confidence set). */
  bounds: [number, number] | null;
}

/** The test's e-values and confidence set at this look: completed batches plus the batch in progress. */
export function readRatioTest(grid: RatioGrid, s: RatioTestState, alpha: number): RatioReading {
  const cur = batchVector(grid, s.batch, s.noise);
  const L = s.done.map((v, i) => v + cur[i]!);
  const mix = (idx: number[], nullIdx: number) => logSumExp(idx.map((i) => L[i]! - L[nullIdx]!), -Math.log(idx.length));
  const all = grid.ratios.map((_, i) => i);
  const kept = grid.ratios.filter((_, j) => mix(all, j) < -Math.log(alpha));
  return {
    logUp: mix(grid.up, grid.upNull),
    logDown: mix(grid.down, grid.downNull),
    bounds: kept.length > 0 ? [kept[0]!, kept[kept.length - 1]!] : null,
  };
}
