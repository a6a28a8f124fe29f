/** How rollouts look in a terminal: the status block of `ramp status` and the live view. */
import type { JudgeEvidence } from '../../domain/analysis/judged';
import type { MetricEvidence } from '../../domain/analysis/sequential-judge';
import { Phase } from '../../domain/rollout/phases';
import type { RolloutStatus } from '../../domain/rollout/state';

const num = (v: number) => (Math.abs(v) >= 1e6 ? v.toExponential(1) : String(Number(v.toFixed(v < 10 ? 3 : 1))));
const share = (x: number, n: number) => (n > 0 ? `${num((100 * x) / n)}%` : 'n/a');

function metricLine(name: string, m: MetricEvidence): string {
  const ratio = m.ratio === null ? 'ratio n/a' : `ratio ${num(m.ratio)}×${m.bounds ? ` [${num(m.bounds[0])}, ${num(m.bounds[1])}]` : ''}`;
  return `${name}: canary ${share(m.canary.events, m.canary.requests)} of ${m.canary.requests}, baseline ${share(m.baseline.events, m.baseline.requests)} of ${m.baseline.requests}; `
    + `${ratio}; e-values rollback ${num(m.eRollback)}, no-worse ${num(m.ePromote)}; noise ${num(m.noise)}`;
}

/** A judge's evidence in a few lines: the numbers behind its verdict. */
export function judgeEvidenceLines(ev: JudgeEvidence): string[] {
  if (ev.kind === 'threshold') {
    const e = ev.e;
    return [`checks ${e.checks}, failed ${e.failedChecks}${e.successRate !== undefined ? `; last success rate ${num(e.successRate)}%` : ''}${e.p99Ms !== undefined ? `, p99 ${num(e.p99Ms)} ms` : ''}${e.lastFailure ? ` (${e.lastFailure})` : ''}`];
  }
  const e = ev.e;
  const split = e.split.configured === null ? 'split: no traffic yet'
    : `split: canary ${e.split.observed === null ? 'n/a' : `${num(100 * e.split.observed)}%`} of requests, configured ${num(100 * e.split.configured)}%${e.split.mismatch ? ' — MISMATCH' : ''} (e-value ${num(e.split.eMismatch)})`;
  return [
    metricLine('errors', e.errors),
    metricLine(`slow (> ${e.latency.slowMs ?? '?'} ms)`, e.latency),
    ...(e.tail ? [metricLine(`tail (> ${e.tail.slowMs ?? '?'} ms)`, e.tail)] : []),
    split,
    `after ${Math.round(e.elapsedMs / 1000)}s, ${e.batches} batches; act at e-value ≥ ${num(e.thresholds.rollback)} (α ${e.thresholds.alpha})${e.resets > 0 ? `; ${e.resets} counter resets` : ''}`,
  ];
}

export function weightBar(canary: number, width = 20): string {
  const n = Math.round((canary / 100) * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

function ago(fromIso: string, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - Date.parse(fromIso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** The status as a block of lines (ramp status, the live view). */
export function statusBlock(s: RolloutStatus, nowMs: number): string[] {
  const lines = [
    `Rollout    ${s.rollout.namespace}/${s.rollout.name}   image ${s.image ?? '(pod template patch)'}`,
    `Phase      ${s.phase} for ${ago(s.phaseSince, nowMs)}${s.outcome ? `   outcome ${s.outcome}` : ''}`,
  ];
  if (s.phase === Phase.Refused) {
    // Nothing ran: no step was taken and the weights were never touched.
    lines.push(`Now        ${s.message}`);
    const problems = s.problems ?? [];
    lines.push(`Problems   ${problems.length} found before any change; nothing was changed. Fix them and start again (ramp validate -f FILE --cluster checks without starting):`);
    for (const p of problems) lines.push(`  - ${p}`);
    return lines;
  }
  lines.push(
    `Step       ${Math.min(s.step.index + 1, s.step.count)} of ${s.step.count}${s.step.description ? `: ${s.step.description}` : ''}`,
    `Weights    ${weightBar(s.weights.canary)} stable ${s.weights.stable}% / canary ${s.weights.canary}%`,
    `Now        ${s.message}`,
  );
  const merge = s.pendingApproval?.merge;
  if (merge) {
    lines.push(`Waiting    merge of branch ${merge.branch} (commit ${merge.commit.slice(0, 12)}) into ${merge.into} since ${s.pendingApproval!.since}${s.pendingApproval!.timeoutAt ? `, on timeout at ${s.pendingApproval!.timeoutAt}: ${s.pendingApproval!.onTimeout}` : ''} — merging it approves; deleting it, or ramp abort ${s.rollout.namespace}/${s.rollout.name}, turns it down`);
  } else if (s.pendingApproval) lines.push(`Waiting    approval since ${s.pendingApproval.since}${s.pendingApproval.timeoutAt ? `, on timeout at ${s.pendingApproval.timeoutAt}: ${s.pendingApproval.onTimeout}` : ''} — ramp approve ${s.rollout.namespace}/${s.rollout.name}`);
  if (s.pause) lines.push(`Paused     since ${s.pause.since}${s.pause.until ? ` until ${s.pause.until}` : ' until resumed'}${s.pause.by ? ` by ${s.pause.by}` : ''}`);
  if (s.lastAnalysis) {
    lines.push(`Analysis   ${s.lastAnalysis.phase} (${s.lastAnalysis.source}) — ${s.lastAnalysis.reason}`);
    for (const m of s.lastAnalysis.measurements) lines.push(`             ${m.metric}: ${m.phase}${m.value !== undefined ? ` value ${m.value}` : ''}${m.message ? ` — ${m.message}` : ''}`);
    if (s.lastAnalysis.judge?.evidence) lines.push(...judgeEvidenceLines(s.lastAnalysis.judge.evidence).map((l) => `             ${l}`));
    if (s.lastAnalysis.judge?.calibration) lines.push(`             ${s.lastAnalysis.judge.calibration}`);
  }
  if (s.git) lines.push(`Git        last commit ${s.git.lastCommit.slice(0, 12)} (${s.git.commits} by this rollout) — ramp story lists each step's`);
  if (s.reason && s.phase !== 'Progressing') lines.push(`Reason     ${s.reason}`);
  for (const l of s.leftToFix ?? []) lines.push(`TO FIX     ${l}`);
  return lines;
}

/**
 * What Temporal itself knows of a rollout when no worker answers its status query: the search
 * attributes the workflow set at its last phase change, and the run's own state.
 */
export interface LastKnown {
  workflowId: string;
  runId: string;
  taskQueue: string;
  /** The run's Temporal status: RUNNING, COMPLETED, CANCELLED… */
  temporalStatus: string;
  rollout?: string;
  target?: string;
  phase?: string;
  /** When the phase last changed (the search attribute's update in the history). */
  phaseSince?: string;
  outcome?: string;
  image?: string;
  startTime: string;
  closeTime?: string;
  /** Why this is all there is, e.g. "no worker is polling task queue ramp". */
  note: string;
}

/** ramp status without a worker: the phase as of its last change, and why that is all. */
export function lastKnownBlock(k: LastKnown, nowMs: number): string[] {
  return [
    `${k.note}: this is the phase as of its last change`,
    `Rollout    ${k.rollout ?? k.workflowId}   image ${k.image ?? '(unknown)'}`,
    `Phase      ${k.phase ?? '(unknown)'}${k.phaseSince ? ` since ${k.phaseSince} (${ago(k.phaseSince, nowMs)} ago)` : ''}${k.outcome ? `   outcome ${k.outcome}` : ''}`,
    `Started    ${k.startTime}${k.closeTime ? `, closed ${k.closeTime}` : ''}`,
    `Temporal   ${k.temporalStatus} on task queue ${k.taskQueue}`,
  ];
}
