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
  /**
   * Noise that lasts (judge revision 2): what the completed batches say about the current batch's
   * noise, per grid ratio. Absent: batches are independent (revision 1, or no correlation).
   */
  carry?: Carry;
}

/**
 * The batch-to-batch memory of the noise: the noise is an AR(1) process over batches, e^{ηᵢ} with
 * ηᵢ = φ·ηᵢ₋₁ + √(1 − φ²)·s·Zᵢ, so an episode that lasts several batches is one piece of evidence
 * spread over them, not one per batch. A Kalman filter keeps, for each grid ratio r, the posterior
 * mean of the last completed batch's η given r (`m`, indexed like the grid) and its variance `v`
 * (the same for every r: it depends only on the counts). The next batch is then judged with the
 * predictive η ~ N(φ·m_r, φ²·v + (1 − φ²)·s²).
 */
export interface Carry {
  m: number[];
  v: number;
}

const zeroTally = (): Tally => ({ x: 0, y: 0, nx: 0, ny: 0 });

/**
 * A test with nothing counted, judging its first batch with noise `noise`; `lasting` keeps the
 * batch-to-batch memory of the noise (see Carry), which starts at its stationary variance.
 */
export function newRatioTest(grid: RatioGrid, noise: number, lasting = false): RatioTestState {
  const fresh: RatioTestState = { done: grid.ratios.map(() => 0), batch: zeroTally(), total: zeroTally(), noiseWeight: 0, noiseSum: 0, noise };
  return lasting ? { ...fresh, carry: { m: grid.ratios.map(() => 0), v: noise * noise } } : fresh;
}

/** A tally with these events and exposures added. */
export function addTo(t: Tally, x: number, y: number, nx: number, ny: number): Tally {
  return { x: t.x + x, y: t.y + y, nx: t.nx + nx, ny: t.ny + ny };
}

/** The predictive noise of the next batch at each grid ratio: its log-mean and log-sd (see Carry). */
function predictive(grid: RatioGrid, noise: number, carry: Carry | undefined, phi: number): { shift: number[]; sd: number } {
  if (carry === undefined || phi <= 0) return { shift: grid.ratios.map(() => 0), sd: noise };
  return { shift: carry.m.map((m) => phi * m), sd: Math.sqrt(phi * phi * carry.v + (1 - phi * phi) * noise * noise) };
}

/** The batch's log-likelihood at each grid ratio; zeros when the batch cannot be attributed. */
function batchVector(grid: RatioGrid, t: Tally, noise: number, carry?: Carry, phi = 0): number[] {
  if (t.nx <= 0 || t.ny <= 0 || t.x + t.y <= 0) return grid.ratios.map(() => 0);
  const p0 = t.nx / (t.nx + t.ny);
  const { shift, sd } = predictive(grid, noise, carry, phi);
  return grid.ratios.map((r, i) => batchLogLikelihood(t.x, t.y, p0, r * Math.exp(shift[i]!), sd));
}

/**
 * The Kalman update of the carry with a completed batch: its log rate ratio is observed with the
 * variance of a log ratio of counts (1/(x + ½) + 1/(y + ½)); a batch without exposure on both arms
 * observes nothing and the memory only fades.
 */
function carryAfter(grid: RatioGrid, t: Tally, noise: number, carry: Carry, phi: number): Carry {
  const { shift, sd } = predictive(grid, noise, carry, phi);
  const prior = sd * sd;
  if (t.nx <= 0 || t.ny <= 0 || t.x + t.y <= 0) return { m: shift, v: prior };
  const observed = Math.log(ratioEstimate(t));
  const measurement = 1 / (t.x + 0.5) + 1 / (t.y + 0.5);
  const gain = prior / (prior + measurement);
  return { m: grid.ratios.map((r, i) => shift[i]! + gain * (observed - Math.log(r) - shift[i]!)), v: (1 - gain) * prior };
}

/** Ratio of the canary's event rate to the baseline's over a tally (½ added to avoid 0/0). */
function ratioEstimate(t: Tally): number {
  if (t.nx <= 0 || t.ny <= 0) return 1;
  return ((t.x + 0.5) / t.nx) / ((t.y + 0.5) / t.ny);
}

/**
 * Closes the batch in progress: its likelihood joins `done`, its residual joins the noise estimate,
 * and (with a carry) its noise joins the memory the next batch is judged with, at correlation `phi`.
 */
export function closeBatch(grid: RatioGrid, s: RatioTestState, prior: number, priorBatches: number, floor: number, phi = 0): RatioTestState {
  const vec = batchVector(grid, s.batch, s.noise, s.carry, phi);
  const carry = s.carry ? carryAfter(grid, s.batch, s.noise, s.carry, phi) : undefined;
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
  return { done, batch: zeroTally(), total: s.total, noiseWeight, noiseSum, noise, ...(carry ? { carry } : {}) };
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

/**
 * The test's e-values and confidence set at this look: completed batches plus the batch in progress,
 * or (`completedOnly`, judge revision 2) completed batches alone, so that the evidence grows one
 * batch at a time however often it is read.
 */
export function readRatioTest(grid: RatioGrid, s: RatioTestState, alpha: number, completedOnly = false): RatioReading {
  const cur = completedOnly ? grid.ratios.map(() => 0) : batchVector(grid, s.batch, s.noise);
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
