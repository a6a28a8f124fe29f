/**
 * The analysis look policy: when an analysis looks, what a look reads, and what its answer means
 * for the rollout. One place for both analyses (a step's and the rollout-wide one), and for both
 * kinds (threshold metrics, a canary-vs-baseline judge).
 *
 * - A judged analysis looks at once (the reference counters), then every `interval`; a metrics
 *   analysis first measures one `interval` after it starts. Looks are due on a fixed cadence from
 *   the start (`nextAt`), so a continued run picks up the same schedule.
 * - Before its first look, a sequential judge may read the baseline's history to calibrate its
 *   noise priors; the look and the history read use the same look time.
 * - A step analysis ends with its verdict; the background analysis runs until the steps end, and only
 *   a Failed or Error verdict from it matters.
 */
import { armNames, counterTemplatesFor, type CounterArms } from '../analysis/counters';
import { decideAnalysis, type AnalysisPhase, type Measurement } from '../analysis/evaluate';
import { calibrate, calibrationWanted, initialJudgedState, judgeLook, type JudgedAnalysis } from '../analysis/judged';
import { builtinQueriesFor, withBuiltinQueries } from '../analysis/templates';
import type { AnalysisSpec } from '../spec/analysis';
import type { ResolvedRollout } from '../spec/schema';
import type { CallArgs, CallResults } from './calls';
import type { AnalysisRun } from './model';
import type { AnalysisVerdict } from './state';
import { analysisSubject } from './state';

export type Source = AnalysisRun['source'];

/** The analysis a run follows: the current step's, or spec.analysis. */
export function analysisOf(spec: ResolvedRollout, source: Source, stepIndex: number): AnalysisSpec | undefined {
  if (source === 'background') return spec.spec.analysis;
  const step = spec.spec.steps[stepIndex];
  return step?.kind === 'analysis' ? step.analysis : undefined;
}

export function startRun(source: Source, analysis: AnalysisSpec, now: number): AnalysisRun {
  return analysis.judge
    ? { source, nextAt: now, looks: 0, judged: initialJudgedState() }
    : { source, nextAt: now + analysis.interval, looks: 0, measurements: [] };
}

function judgedSpec(analysis: AnalysisSpec, source: Source): JudgedAnalysis {
  return { judge: analysis.judge!, consecutiveErrorLimit: analysis.consecutiveErrorLimit, count: source === 'step' ? analysis.count : undefined };
}

/** The reads of one look. */
export type LookCall =
  | { activity: 'readBaselineHistory'; args: CallArgs['readBaselineHistory']; summary: string; purpose: 'calibrate' }
  | { activity: 'readCounters'; args: CallArgs['readCounters']; summary: string; purpose: 'look' }
  | { activity: 'measureAnalysis'; args: CallArgs['measureAnalysis']; summary: string; purpose: 'look' };

/** The read due now for `run`, or undefined when its next look is not due yet. Fixes the look time on the run. */
export function dueLook(run: AnalysisRun, analysis: AnalysisSpec, spec: ResolvedRollout, now: number): LookCall | undefined {
  if (now < run.nextAt) return undefined;
  const at = (run.lookAt ??= now);
  const ns = spec.metadata.namespace;
  const traffic = spec.spec.traffic.provider;
  const judge = analysis.judge;
  if (!judge) {
    // `{{ target }}` names the canary as the provider's built-in queries count it.
    const { canary } = arms(spec, builtinQueriesFor(traffic).target);
    return {
      activity: 'measureAnalysis', purpose: 'look', summary: `${run.source} analysis: ${analysisSubject(analysis)}`,
      args: [{ analysis: withBuiltinQueries(analysis, traffic), vars: { namespace: ns, target: canary }, at: new Date(at).toISOString() }],
    };
  }
  // Where the counters come from: the analysis' provider, and its queries or its router's template.
  const queries = counterTemplatesFor(analysis.counters, traffic);
  const { canary, baseline } = arms(spec, queries.arms);
  const reading = { ...(analysis.provider ? { provider: analysis.provider } : {}), queries };
  const wanted = run.looks === 0 && run.judged?.calibration === undefined ? calibrationWanted(judgedSpec(analysis, run.source)) : 0;
  if (wanted > 0 && judge.kind === 'sequential') {
    return {
      activity: 'readBaselineHistory', purpose: 'calibrate', summary: `${run.source} analysis: baseline history for noise calibration`,
      args: [{ namespace: ns, baseline, end: at, stepMs: judge.config.batchMs, steps: wanted, ...reading }],
    };
  }
  return {
    activity: 'readCounters', purpose: 'look', summary: `${run.source} analysis: ${judge.kind} judge, look ${run.looks}`,
    args: [{ namespace: ns, canary, baseline, at, ...reading }],
  };
}

/** The names the canary and baseline arms are read by: their Deployments, or with `services` the canary and stable Services. */
function arms(spec: ResolvedRollout, by: CounterArms | undefined): { canary: string; baseline: string } {
  const routing = spec.spec.traffic.routing;
  return armNames(by, {
    canaryWorkload: spec.spec.canary.deploymentName,
    baselineWorkload: spec.spec.target.deployment,
    ...(routing.mode === 'service' ? { canaryService: routing.canaryService, stableService: routing.stableService } : {}),
  });
}

/** Takes a baseline history read into account (the priors stay as configured when it failed). */
export function onCalibration(run: AnalysisRun, analysis: AnalysisSpec, h: CallResults['readBaselineHistory']): void {
  run.judged = calibrate(judgedSpec(analysis, run.source), run.judged ?? initialJudgedState(), h.ok ? { samples: h.samples } : { error: h.error });
}

export interface LookOutcome {
  phase: AnalysisPhase;
  reason: string;
  verdict: AnalysisVerdict;
}

/** Takes one look's answer into account and schedules the next look. */
export function onLook(
  run: AnalysisRun, analysis: AnalysisSpec, answer: CallResults['readCounters'] | CallResults['measureAnalysis'], canaryWeight: number, now: number,
): LookOutcome {
  const at = run.lookAt ?? now;
  run.lookAt = undefined;
  run.looks++;
  run.nextAt = at + analysis.interval;
  const shown = new Date(now).toISOString();
  if (Array.isArray(answer)) {
    const measurements: Measurement[] = answer;
    (run.measurements ??= []).push(measurements);
    const d = decideAnalysis(analysis, run.measurements);
    return {
      phase: d.phase, reason: d.reason,
      verdict: {
        at: shown, phase: d.phase, reason: d.reason, source: run.source,
        measurements: measurements.map((m) => ({ metric: m.metric, phase: m.phase, value: m.value, message: m.message })),
      },
    };
  }
  const read = answer;
  const step = judgeLook(judgedSpec(analysis, run.source), run.judged ?? initialJudgedState(), read.ok
    ? { at, canaryWeight, counters: { canary: read.canary, baseline: read.baseline } }
    : { at, canaryWeight, error: read.error });
  run.judged = step.state;
  const d = step.decision;
  return {
    phase: d.phase, reason: d.reason,
    verdict: {
      at: shown, phase: d.phase, reason: d.reason, source: run.source, measurements: [],
      judge: { kind: analysis.judge!.kind, verdict: d.verdict, evidence: d.evidence, ...(step.state.calibration ? { calibration: step.state.calibration.reason } : {}) },
    },
  };
}

/** What an ended analysis means for the rollout. */
export type AnalysisConsequence = 'continue' | 'nextStep' | 'rollback' | 'hold' | 'stop';

export function consequence(source: Source, phase: AnalysisPhase): AnalysisConsequence {
  if (phase === 'Running') return 'continue';
  if (phase === 'Failed' || phase === 'Error') return 'rollback';
  if (source === 'background') return 'stop';
  return phase === 'Successful' ? 'nextStep' : 'hold';
}
