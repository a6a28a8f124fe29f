/**
 * What a rollout shows the world (the `status` query, update answers, the result): plain JSON built
 * by the state machine (machine.ts). Time is always an input (ISO strings), never read here.
 */
import type { JudgeEvidence } from '../analysis/judged';
import type { JudgeDecision } from '../analysis/judge';
import type { AnalysisSpec, ResolvedJudge } from '../spec/analysis';
import type { ResolvedRollout, Step } from '../spec/schema';
import type { RequestMatch } from './calls';
import type { Command } from './commands';
import { Outcome, Phase } from './phases';

export interface AnalysisVerdict {
  at: string;
  /** Running, Successful, Failed, Inconclusive or Error. */
  phase: string;
  reason: string;
  measurements: { metric: string; phase: string; value?: number; message?: string }[];
  /** 'step' for an analysis step, 'background' for the rollout-wide analysis. */
  source: 'step' | 'background';
  /** A judged analysis: the judge, what it said at the last look, and its evidence. */
  judge?: {
    kind: ResolvedJudge['kind'];
    verdict: JudgeDecision | 'error';
    evidence?: JudgeEvidence;
    /** How the noise priors were set before the first look (sequential judge, src/domain/analysis/calibrate.ts). */
    calibration?: string;
  };
}

/** What an analysis looks at, in a few words: its metrics, or its judge. */
export function analysisSubject(a: AnalysisSpec): string {
  return a.judge ? `${a.judge.kind} judge (canary vs baseline)` : a.metrics.map((m) => m.name).join(', ');
}

export interface AuditEntry {
  at: string;
  /** A command from a person or system, or what the workflow itself did. */
  event: Command | 'start' | 'approvalTimeout' | 'analysis' | 'readiness' | 'rollback' | 'promoted' | 'drift' | 'cancel' | 'refused';
  via: 'update' | 'signal' | 'workflow';
  by?: string;
  reason?: string;
  /** False for a signal that was refused (updates that are refused never reach history). */
  accepted: boolean;
}

export interface RolloutStatus {
  rollout: { namespace: string; name: string };
  phase: Phase;
  /** One sentence: what the rollout is doing or waiting for. */
  message: string;
  /** The current step (0-based) and the number of steps; index === count once all steps are done. */
  step: { index: number; count: number; description?: string };
  weights: { stable: number; canary: number };
  image?: string;
  canaryDeployment: string;
  /** `merge`: approved by merging this branch (holding this commit) into the target branch. */
  pendingApproval?: { since: string; timeoutAt?: string; onTimeout: 'abort' | 'promote'; merge?: { branch: string; commit: string; into: string } };
  pause?: { since: string; until?: string; by?: string; reason?: string };
  /** The last analysis verdict with its evidence (one measurement per metric). */
  lastAnalysis?: AnalysisVerdict;
  startedAt: string;
  phaseSince: string;
  outcome?: Outcome;
  /** Why it ended (or why it is rolling back). */
  reason?: string;
  /** RollbackFailed: what is left to fix by hand. */
  leftToFix?: string[];
  /** Git mode: the last commit Ramp pushed and how many it pushed in all. */
  git?: { lastCommit: string; commits: number };
  /** Refused: every problem the preflight found, each with its fix. */
  problems?: string[];
  audit: AuditEntry[];
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'setWeight':
      return `set canary weight to ${step.weight}%`;
    case 'pause':
      return step.durationMs === undefined ? 'pause until resumed' : `pause for ${Math.round(step.durationMs / 1000)}s`;
    case 'approval':
      return 'wait for approval';
    case 'analysis':
      return `analysis: ${analysisSubject(step.analysis)} (${step.analysis.count ?? '∞'} × ${Math.round(step.analysis.interval / 1000)}s)`;
    case 'setHeaderRoute':
      return step.match ? `header route ${step.name}: ${describeMatch(step.match)} → canary` : `remove header route ${step.name}`;
    case 'setMirror':
      return step.percent > 0 ? `mirror ${step.percent}% of requests to the canary` : 'stop mirroring';
  }
}

/** The status of a rollout that has just started. */
export function initialStatus(rollout: ResolvedRollout, now: string): RolloutStatus {
  return {
    rollout: { namespace: rollout.metadata.namespace, name: rollout.metadata.name },
    phase: Phase.Initializing,
    message: 'checking the target and deploying the canary',
    step: { index: 0, count: rollout.spec.steps.length, description: describeStep(rollout.spec.steps[0]!) },
    weights: { stable: 100, canary: 0 },
    image: rollout.spec.canary.image,
    canaryDeployment: rollout.spec.canary.deploymentName,
    startedAt: now,
    phaseSince: now,
    audit: [],
  };
}

/** The step fields of the status for step `index` (index === count once all steps are done). */
export function stepStatus(rollout: ResolvedRollout, index: number): RolloutStatus['step'] {
  const steps = rollout.spec.steps;
  return { index, count: steps.length, description: steps[index] ? describeStep(steps[index]) : undefined };
}

/** Conditions in words: `header x-canary = "true" and cookie beta starts with "qa"`. */
export function describeMatch(match: readonly RequestMatch[]): string {
  return match.map((m) => {
    const what = 'header' in m ? `header ${m.header}` : 'cookie' in m ? `cookie ${m.cookie}` : `query ${m.query}`;
    const v = m.value;
    const how = 'exact' in v ? `= ${JSON.stringify(v.exact)}` : 'prefix' in v ? `starts with ${JSON.stringify(v.prefix)}` : `matches /${v.regex}/`;
    return `${what} ${how}`;
  }).join(' and ');
}
