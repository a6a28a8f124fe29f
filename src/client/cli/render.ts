/** How rollouts look in a terminal: the status block of `ramp status` and the live view. */
import type { RolloutStatus } from '../../domain/rollout/state';

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
    `Step       ${Math.min(s.step.index + 1, s.step.count)} of ${s.step.count}${s.step.description ? `: ${s.step.description}` : ''}`,
    `Weights    ${weightBar(s.weights.canary)} stable ${s.weights.stable}% / canary ${s.weights.canary}%`,
    `Now        ${s.message}`,
  ];
  if (s.pendingApproval) lines.push(`Waiting    approval since ${s.pendingApproval.since}${s.pendingApproval.timeoutAt ? `, on timeout at ${s.pendingApproval.timeoutAt}: ${s.pendingApproval.onTimeout}` : ''} — ramp approve ${s.rollout.namespace}/${s.rollout.name}`);
  if (s.pause) lines.push(`Paused     since ${s.pause.since}${s.pause.until ? ` until ${s.pause.until}` : ' until resumed'}${s.pause.by ? ` by ${s.pause.by}` : ''}`);
  if (s.lastAnalysis) {
    lines.push(`Analysis   ${s.lastAnalysis.phase} (${s.lastAnalysis.source}) — ${s.lastAnalysis.reason}`);
    for (const m of s.lastAnalysis.measurements) lines.push(`             ${m.metric}: ${m.phase}${m.value !== undefined ? ` value ${m.value}` : ''}${m.message ? ` — ${m.message}` : ''}`);
  }
  if (s.reason && s.phase !== 'Progressing') lines.push(`Reason     ${s.reason}`);
  for (const l of s.leftToFix ?? []) lines.push(`TO FIX     ${l}`);
  return lines;
}
