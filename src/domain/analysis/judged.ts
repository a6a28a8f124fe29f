/**
 * A judged analysis, one look at a time: the rules around a judge (sequential-judge.ts, threshold-judge.ts)
 * that turn its verdicts, the looks that could not be taken and the analysis' `count` into an
 * analysis phase. Pure and deterministic, so it runs in workflow code and a replay recomputes the
 * same phases from the counters recorded in history (docs/decisions/0009-judged-analysis.md).
 *
 * - The first look records the reference counters; `count` looks follow, one per interval.
 * - The judge says roll back → Failed; promote → Successful early (step analyses only: a background
 *   analysis keeps watching until the steps end).
 * - A look that could not be taken (Prometheus down, slow, or answering nonsense) counts as an
 *   error, not as a look: more than `consecutiveErrorLimit` in a row → Error. It never moves the
 *   analysis towards success, so missing data cannot promote.
 * - Before the first look, a sequential judge may calibrate its noise priors on the baseline's
 *   history (`calibrate`, src/domain/analysis/calibrate.ts); the result stays in the state, so a
 *   continued run and a replay judge with the same priors.
 * - `count` looks without a verdict: Inconclusive ("not enough evidence yet"), which holds the
 *   rollout for a person, as Argo Rollouts does; Successful ("no regression shown") only when the
 *   judge's `atEnd` is `pass` and the canary had the judge's minimum traffic. A judged step without
 *   `count` runs until the judge decides, for at most 30 minutes (src/domain/spec/analysis.ts).
 */
import type { ResolvedJudge } from '../spec/analysis';
import { calibrateNoise, notCalibrated, type NoiseCalibration } from './calibrate';
import { AnalysisPhase, formatValue } from './evaluate';
import type { ArmCounters, JudgeDecision } from './judge';
import { sequentialJudge, type SequentialEvidence, type SequentialState } from './sequential-judge';
import { thresholdJudge, type ThresholdEvidence, type ThresholdState } from './threshold-judge';

/** What one look brought: the two arms' counters, or why they could not be read. */
export type LookInput =
  | { at: number; canaryWeight: number; counters: { canary: ArmCounters; baseline: ArmCounters } }
  | { at: number; canaryWeight: number; error: string };

export type JudgeState = { kind: 'sequential'; s: SequentialState } | { kind: 'threshold'; s: ThresholdState };
export type JudgeEvidence = { kind: 'sequential'; e: SequentialEvidence } | { kind: 'threshold'; e: ThresholdEvidence };

/** State of a judged analysis: plain JSON, O(1) in looks. */
export interface JudgedState {
  /** Looks whose counters were read (the reference look included). */
  looks: number;
  /** Looks that failed, in all and in a row. */
  errors: number;
  consecutiveErrors: number;
  /** The judge's own state, after the reference look. */
  judge?: JudgeState;
  /** The noise priors calibrated before the first look (sequential judge), and why. */
  calibration?: NoiseCalibration;
}

/** The analysis after one look. */
export interface JudgedDecision {
  phase: AnalysisPhase;
  /** Why, in words with numbers. */
  reason: string;
  /** What the judge said at this look ('error' when the look failed). */
  verdict: JudgeDecision | 'error';
  /** The judge's evidence at this look (absent when the look failed before any judge state). */
  evidence?: JudgeEvidence;
}

export interface JudgedAnalysis {
  judge: ResolvedJudge;
  consecutiveErrorLimit: number;
  /** Looks after the reference one (step analyses); absent: until stopped (background analyses). */
  count?: number;
}

export const initialJudgedState = (): JudgedState => ({ looks: 0, errors: 0, consecutiveErrors: 0 });

/** Batches of baseline history the analysis wants read before its first look (0: none). */
export function calibrationWanted(analysis: JudgedAnalysis): number {
  return analysis.judge.kind === 'sequential' ? analysis.judge.config.calibrationBatches ?? 0 : 0;
}

/**
 * Calibrates the judge's noise priors on the baseline's history (cumulative counters one batch
 * apart, the last at the first look), or records why it could not: the configured priors stay,
 * and the analysis goes on either way.
 */
export function calibrate(analysis: JudgedAnalysis, state: JudgedState, history: { samples: ArmCounters[] } | { error: string }): JudgedState {
  const { judge } = analysis;
  if (judge.kind !== 'sequential') return state;
  const calibration: NoiseCalibration = 'error' in history
    ? notCalibrated(judge.config, `noise prior as configured: the baseline's history could not be read (${history.error})`)
    : calibrateNoise(judge.config, history.samples);
  return { ...state, calibration };
}

/** The judge's configuration with the calibrated noise priors, if any. */
function configOf(judge: ResolvedJudge & { kind: 'sequential' }, state: JudgedState) {
  const cal = state.calibration;
  return cal ? { ...judge.config, noise: cal.noise, latencyNoise: cal.latencyNoise, ...(cal.tailNoise !== undefined ? { tailNoise: cal.tailNoise } : {}) } : judge.config;
}

function runJudge(judge: ResolvedJudge, state: JudgedState, obs: Parameters<typeof sequentialJudge>[2]) {
  const prev = state.judge;
  if (judge.kind === 'sequential') {
    const r = sequentialJudge(configOf(judge, state), prev?.kind === 'sequential' ? prev.s : undefined, obs);
    return { state: { kind: 'sequential', s: r.state } as JudgeState, verdict: r.verdict, evidence: { kind: 'sequential', e: r.verdict.evidence } as JudgeEvidence };
  }
  const r = thresholdJudge(judge.config, prev?.kind === 'threshold' ? prev.s : undefined, obs);
  return { state: { kind: 'threshold', s: r.state } as JudgeState, verdict: r.verdict, evidence: { kind: 'threshold', e: r.verdict.evidence } as JudgeEvidence };
}

/** Canary requests the judge has counted, and the minimum it needs before the end may pass. */
function traffic(judge: ResolvedJudge, evidence: JudgeEvidence): { seen: number; needed: number } {
  if (evidence.kind === 'sequential' && judge.kind === 'sequential') return { seen: evidence.e.errors.canary.requests, needed: judge.config.minRequests };
  // Flagger's checks fail on an interval without data, so any completed check had traffic.
  return { seen: evidence.kind === 'threshold' ? evidence.e.checks : 0, needed: 1 };
}

/** Takes one look into account. */
export function judgeLook(analysis: JudgedAnalysis, state: JudgedState, look: LookInput): { state: JudgedState; decision: JudgedDecision } {
  const { judge } = analysis;
  const name = `${judge.kind} judge`;
  if ('error' in look) {
    const s: JudgedState = { ...state, errors: state.errors + 1, consecutiveErrors: state.consecutiveErrors + 1 };
    const tally = `${s.consecutiveErrors} in a row, limit ${analysis.consecutiveErrorLimit}`;
    const evidence = state.judge ? lastEvidence(judge, state) : undefined;
    if (s.consecutiveErrors > analysis.consecutiveErrorLimit) {
      return { state: s, decision: { phase: AnalysisPhase.Error, reason: `${name}: the counters could not be read (${tally}): ${look.error}`, verdict: 'error', evidence } };
    }
    return { state: s, decision: { phase: AnalysisPhase.Running, reason: `${name}: look skipped, the counters could not be read (${tally}); nothing counted: ${look.error}`, verdict: 'error', evidence } };
  }

  const r = runJudge(judge, state, { at: look.at, canaryWeight: look.canaryWeight, ...look.counters });
  const s: JudgedState = { ...state, looks: state.looks + 1, consecutiveErrors: 0, judge: r.state };
  const done = (phase: AnalysisPhase, reason: string): { state: JudgedState; decision: JudgedDecision } =>
    ({ state: s, decision: { phase, reason, verdict: r.verdict.decision, evidence: r.evidence } });
  const looksAfterReference = s.looks - 1;

  if (r.verdict.decision === 'rollback') return done(AnalysisPhase.Failed, `${name}: roll back: ${r.verdict.reason}`);
  if (r.verdict.decision === 'promote' && analysis.count !== undefined) return done(AnalysisPhase.Successful, `${name}: promote early: ${r.verdict.reason}`);
  if (analysis.count !== undefined && looksAfterReference >= analysis.count) {
    const t = traffic(judge, r.evidence);
    const atEnd = judge.kind === 'sequential' ? judge.atEnd : 'pass';
    if (t.seen < t.needed) {
      return done(AnalysisPhase.Inconclusive,
        `${name}: ${analysis.count} looks ended with too little canary traffic to judge (${formatValue(t.seen)} of ${t.needed} needed); resume to go on without evidence, or abort: ${r.verdict.reason}`);
    }
    if (atEnd === 'inconclusive') {
      return done(AnalysisPhase.Inconclusive, `${name}: not enough evidence yet: ${analysis.count} looks ended without a verdict (atEnd: inconclusive); resume to promote without it, or abort: ${r.verdict.reason}`);
    }
    return done(AnalysisPhase.Successful, `${name}: no regression shown in ${analysis.count} looks: ${r.verdict.reason}`);
  }
  const progress = analysis.count !== undefined ? `look ${looksAfterReference} of ${analysis.count}` : `look ${looksAfterReference}, until the steps end`;
  // The reference look says how the noise priors were set, once.
  const calibrated = s.looks === 1 && s.calibration ? `; ${s.calibration.reason}` : '';
  return done(AnalysisPhase.Running, `${name} (${progress}): ${r.verdict.reason}${calibrated}`);
}

/** The evidence the judge last had, re-read without counting anything (for a failed look). */
function lastEvidence(judge: ResolvedJudge, state: JudgedState): JudgeEvidence | undefined {
  const js = state.judge;
  if (js === undefined) return undefined;
  if (judge.kind === 'sequential' && js.kind === 'sequential') {
    // A look at the same time counts nothing and returns the evidence as it stands.
    const r = sequentialJudge(configOf(judge, state), js.s, { at: js.s.at, canaryWeight: 0, canary: { requests: NaN, errors: NaN }, baseline: { requests: NaN, errors: NaN } });
    return { kind: 'sequential', e: r.verdict.evidence };
  }
  if (js.kind === 'threshold') return { kind: 'threshold', e: { checks: js.s.checks, failedChecks: js.s.failedChecks } };
  return undefined;
}
