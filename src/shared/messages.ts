/**
 * The rollout workflow's messages, defined once and imported by both the workflow and every
 * client (the `ramp` CLI, tests). Wire names are short so the stock Temporal CLI can use them:
 *   temporal workflow update execute --workflow-id rollout-mushop-storefront --name approve --input '{"by":"alice"}'
 *   temporal workflow signal --workflow-id rollout-mushop-storefront --name abort --input '{"reason":"5xx spike"}'
 * Updates are for callers that wait for an answer (a validator rejects a command that makes no
 * sense now, and nothing is written to history); signals are fire-and-forget (alerts, scripts).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RolloutStatus } from '../domain/rollout/state';

/** Who sent a command and why; recorded in the workflow's audit log and history. */
export interface CommandMeta {
  /** A person or system, e.g. "alice@laptop" or "alertmanager". */
  by?: string;
  reason?: string;
}

export type ApproveInput = CommandMeta;
/** `full: true` skips all remaining steps (Argo's `promote --full`); otherwise skips the current pause/approval/analysis. */
export type PromoteInput = CommandMeta & { full?: boolean };
export type AbortInput = CommandMeta & { reason: string };
export type PauseInput = CommandMeta;
export type ResumeInput = CommandMeta;

/** What an accepted update answers: what the command did, in words, and the status after it. */
export interface CommandResult {
  /** E.g. "pause accepted: it takes effect at the next step boundary — step 3 of 5 (analysis …) runs to its end first". */
  effect: string;
  status: RolloutStatus;
}

export const approveUpdate = defineUpdate<CommandResult, [ApproveInput]>('approve');
export const promoteUpdate = defineUpdate<CommandResult, [PromoteInput]>('promote');
export const abortUpdate = defineUpdate<CommandResult, [AbortInput]>('abort');
export const pauseUpdate = defineUpdate<CommandResult, [PauseInput]>('pause');
export const resumeUpdate = defineUpdate<CommandResult, [ResumeInput]>('resume');

export const approveSignal = defineSignal<[ApproveInput?]>('approve');
export const promoteSignal = defineSignal<[PromoteInput?]>('promote');
export const abortSignal = defineSignal<[AbortInput]>('abort');
export const pauseSignal = defineSignal<[PauseInput?]>('pause');
export const resumeSignal = defineSignal<[ResumeInput?]>('resume');

export const statusQuery = defineQuery<RolloutStatus>('status');

/** The workflow type name clients start. */
export const ROLLOUT_WORKFLOW = 'rolloutWorkflow';
