/**
 * `ramp story NAME`: one rollout told step by step from its Temporal history — phases, each
 * activity with its summary and outcome, timers, commands with who sent them, and the end.
 */
import type { temporal } from '@temporalio/proto';
import { decodePayload, localActivityOf, msOf } from '../../history';
import type { CliContext } from '../context';
import { ExitCode } from '../errors';
import { resolveRollout } from '../resolve';

type Event = temporal.api.history.v1.IHistoryEvent;
type Payload = temporal.api.common.v1.IPayload;

export interface StoryLine {
  at: string;
  kind: 'start' | 'phase' | 'activity' | 'activity-failed' | 'timer' | 'update' | 'signal' | 'end';
  text: string;
}

const decode = decodePayload;

function tsOf(e: Event): string {
  const ms = msOf(e.eventTime);
  return ms === undefined ? '' : new Date(ms).toISOString();
}

/** A field of a command's input as text (inputs come from people and the stock CLI: any JSON). */
function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function inputOf(payloads: Payload[] | null | undefined): Record<string, unknown> {
  const v = decode(payloads?.[0]);
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

/** Turns raw history events into story lines (pure over the events, so it is unit-testable). */
export function storyOf(events: Event[]): StoryLine[] {
  const lines: StoryLine[] = [];
  const scheduled = new Map<string, string>();
  const timers = new Map<string, string>();
  for (const e of events) {
    const at = tsOf(e);
    const summary = decode(e.userMetadata?.summary) as string | undefined;
    if (e.workflowExecutionStartedEventAttributes) {
      const input = inputOf(e.workflowExecutionStartedEventAttributes.input?.payloads) as { rollout?: { metadata?: { namespace?: string; name?: string } }; startedBy?: string };
      lines.push({ at, kind: 'start', text: `rollout ${input.rollout?.metadata?.namespace}/${input.rollout?.metadata?.name} started${input.startedBy ? ` by ${input.startedBy}` : ''}` });
    } else if (e.upsertWorkflowSearchAttributesEventAttributes) {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {};
      for (const [k, p] of Object.entries(fields)) {
        if (k === 'RampPhase' || k === 'RampOutcome') lines.push({ at, kind: 'phase', text: `${k === 'RampPhase' ? 'phase' : 'outcome'} → ${String(decode(p))}` });
      }
    } else if (e.markerRecordedEventAttributes) {
      const la = localActivityOf(e);
      if (la) lines.push({ at, kind: la.outcome === 'completed' ? 'activity' : 'activity-failed', text: la.outcome === 'completed' ? `✔ ${la.summary ?? la.name}` : `✘ ${la.summary ?? la.name}: ${la.failure}` });
    } else if (e.activityTaskScheduledEventAttributes) {
      const name = summary ?? e.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity';
      scheduled.set(String(e.eventId), name);
    } else if (e.activityTaskCompletedEventAttributes) {
      const name = scheduled.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId)) ?? 'activity';
      lines.push({ at, kind: 'activity', text: `✔ ${name}` });
    } else if (e.activityTaskFailedEventAttributes) {
      const name = scheduled.get(String(e.activityTaskFailedEventAttributes.scheduledEventId)) ?? 'activity';
      const f = e.activityTaskFailedEventAttributes.failure;
      lines.push({ at, kind: 'activity-failed', text: `✘ ${name}: ${f?.cause?.message ?? f?.message ?? 'failed'}` });
    } else if (e.activityTaskTimedOutEventAttributes) {
      const name = scheduled.get(String(e.activityTaskTimedOutEventAttributes.scheduledEventId)) ?? 'activity';
      lines.push({ at, kind: 'activity-failed', text: `✘ ${name}: timed out` });
    } else if (e.timerStartedEventAttributes) {
      timers.set(String(e.eventId), summary ?? 'timer');
      if (summary) lines.push({ at, kind: 'timer', text: `⏲ ${summary}` });
    } else if (e.workflowExecutionUpdateAcceptedEventAttributes) {
      const req = e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest;
      const input = inputOf(req?.input?.args?.payloads);
      lines.push({ at, kind: 'update', text: `${req?.input?.name ?? 'update'} by ${text(input.by ?? 'unknown')}${input.reason ? `: ${text(input.reason)}` : ''}${input.full ? ' (full)' : ''}` });
    } else if (e.workflowExecutionSignaledEventAttributes) {
      const a = e.workflowExecutionSignaledEventAttributes;
      const input = inputOf(a.input?.payloads);
      lines.push({ at, kind: 'signal', text: `signal ${a.signalName} by ${text(input.by ?? 'unknown')}${input.reason !== undefined ? `: ${JSON.stringify(input.reason)}` : ''}` });
    } else if (e.workflowExecutionCompletedEventAttributes) {
      const r = decode(e.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]) as { outcome?: string; reason?: string } | undefined;
      lines.push({ at, kind: 'end', text: `${r?.outcome ?? 'completed'}: ${r?.reason ?? ''}` });
    } else if (e.workflowExecutionCanceledEventAttributes) {
      lines.push({ at, kind: 'end', text: 'cancelled (after rolling back)' });
    } else if (e.workflowExecutionFailedEventAttributes) {
      lines.push({ at, kind: 'end', text: `failed: ${e.workflowExecutionFailedEventAttributes.failure?.message ?? ''}` });
    }
  }
  return lines;
}

export async function story(ctx: CliContext, name: string, namespace: string | undefined): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const h = await ctx.client.workflow.getHandle(workflowId).fetchHistory();
  const lines = storyOf(h.events ?? []);
  if (ctx.out.json) ctx.out.print(JSON.stringify({ workflowId, story: lines }));
  else for (const l of lines) ctx.out.print(`${l.at}  ${l.text}`);
  return ExitCode.Ok;
}
