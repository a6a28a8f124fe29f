/**
 * `ramp story NAME`: one rollout told step by step from its Temporal history — phases, each
 * activity with its summary and outcome, timers, commands with who sent them, and the end.
 *
 * A signal in the history says only that it was sent. Whether the rollout applied it is in its
 * audit log (the status' `audit`: the result's once the run ended, else the status query's),
 * which records every command signal it takes in, accepted or refused, in the order it took them.
 */
import type { temporal } from '@temporalio/proto';
import { COMMANDS } from '../../../domain/rollout/commands';
import type { AuditEntry } from '../../../domain/rollout/state';
import { decodePayload, localActivityOf, msOf, resultAtClose, resultOfCloseEvent } from '../../history';
import type { CliContext } from '../context';
import { ExitCode } from '../errors';
import { resolveRollout } from '../resolve';
import { readStatus } from '../status-source';

type Event = temporal.api.history.v1.IHistoryEvent;
type Payload = temporal.api.common.v1.IPayload;

export interface StoryLine {
  at: string;
  kind: 'start' | 'phase' | 'activity' | 'activity-failed' | 'timer' | 'update' | 'signal' | 'end' | 'problem';
  text: string;
  /** Signals: true if the rollout applied it, false if it refused it (nothing changed); absent while unknown. */
  accepted?: boolean;
}

export interface StoryContext {
  /** The rollout's audit log from its status; without it, the run's own result is read when it has one. */
  audit?: readonly AuditEntry[];
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

/** Git mode: the commits an activity pushed, from its result. */
function commitsText(result: unknown): string {
  const commits = (result as { commits?: unknown } | undefined)?.commits;
  return Array.isArray(commits) && commits.length > 0 ? ` — commit ${commits.map((c) => String(c).slice(0, 12)).join(', ')}` : '';
}

const isCommand = (name: string | null | undefined): boolean => (COMMANDS as readonly string[]).includes(name ?? '');
const signalEntries = (audit: readonly AuditEntry[] | undefined) => (audit ?? []).filter((a) => a.via === 'signal');

/** The audit in the run's close event, when the run ended with a result (it carries the final status). */
function auditAtClose(events: readonly Event[]): AuditEntry[] | undefined {
  return resultAtClose(events)?.status?.audit;
}

/**
 * Signal audit entries made before this run (a run continued as new carries the rollout's audit
 * over in its input), so that this run's n-th command signal is the audit's (offset + n)-th.
 */
function signalsBefore(events: readonly Event[]): number {
  const input = inputOf(events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads) as { resume?: { status?: { audit?: AuditEntry[] } } };
  return signalEntries(input.resume?.status?.audit).length;
}

/**
 * The event id up to which signals have reached the workflow code: a signal is handed to the first
 * workflow task that starts after it, and counts once that task completed.
 */
function deliveredBefore(events: readonly Event[]): number {
  let started = 0;
  for (const e of events) {
    const id = Number(String(e.workflowTaskCompletedEventAttributes?.startedEventId ?? 0));
    if (id > started) started = id;
  }
  return started;
}

/** Turns raw history events into story lines (pure over the events, so it is unit-testable). */
export function storyOf(events: Event[], context: StoryContext = {}): StoryLine[] {
  const lines: StoryLine[] = [];
  const scheduled = new Map<string, string>();
  const timers = new Map<string, string>();
  const audit = signalEntries(context.audit ?? auditAtClose(events));
  const knowsAudit = context.audit !== undefined || auditAtClose(events) !== undefined;
  const offset = signalsBefore(events);
  const delivered = deliveredBefore(events);
  const taskQueue = events[0]?.workflowExecutionStartedEventAttributes?.taskQueue?.name ?? 'its task queue';
  let signals = 0;
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
      lines.push({ at, kind: 'activity', text: `✔ ${name}${commitsText(decode(e.activityTaskCompletedEventAttributes.result?.payloads?.[0]))}` });
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
      const sent = `signal ${a.signalName} by ${text(input.by ?? 'unknown')}${input.reason !== undefined ? `: ${JSON.stringify(input.reason)}` : ''}`;
      if (!isCommand(a.signalName)) {
        lines.push({ at, kind: 'signal', text: `${sent} — not a Ramp command; ignored`, accepted: false });
        continue;
      }
      const n = signals++;
      if (Number(String(e.eventId)) > delivered) {
        lines.push({ at, kind: 'signal', text: `${sent} — queued: no worker has taken it yet (applied when one polls task queue ${taskQueue})` });
        continue;
      }
      const entry = audit[offset + n];
      if (!knowsAudit || entry === undefined || entry.event !== a.signalName) {
        lines.push({ at, kind: 'signal', text: `${sent} — applied or refused: unknown without the rollout's status (no worker answered)` });
      } else if (entry.accepted) {
        lines.push({ at, kind: 'signal', text: sent, accepted: true });
      } else {
        lines.push({ at, kind: 'signal', text: `${sent} — REFUSED, nothing changed: ${(entry.reason ?? '').replace(/^refused: /, '')}`, accepted: false });
      }
    } else if (e.workflowExecutionFailedEventAttributes && resultOfCloseEvent(e) === undefined) {
      lines.push({ at, kind: 'end', text: `failed: ${e.workflowExecutionFailedEventAttributes.failure?.message ?? ''}` });
    } else if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes) {
      // A rollout's end, whether its workflow completed (promoted) or failed with its outcome.
      const r = resultOfCloseEvent(e);
      if (r?.outcome === 'Refused') {
        const problems = r.status?.problems ?? [];
        lines.push({ at, kind: 'end', text: `Refused: nothing was changed; the preflight found ${problems.length} problem(s)` });
        for (const p of problems) lines.push({ at, kind: 'problem', text: `  - ${p}` });
      } else {
        lines.push({ at, kind: 'end', text: `${r?.outcome ?? 'completed'}: ${r?.reason ?? ''}` });
      }
    } else if (e.workflowExecutionCanceledEventAttributes) {
      lines.push({ at, kind: 'end', text: 'cancelled (after rolling back)' });
    }
  }
  return lines;
}

export async function story(ctx: CliContext, name: string, namespace: string | undefined): Promise<ExitCode> {
  const { workflowId } = await resolveRollout(ctx.client, name, namespace);
  const handle = ctx.client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  // An ended run's result carries its audit; a running one's comes from the status query.
  let audit: AuditEntry[] | undefined;
  if (resultAtClose(events) === undefined) {
    const read = await readStatus(ctx, handle, d);
    if ('status' in read) audit = read.status.audit;
  }
  const lines = storyOf(events, { audit });
  if (ctx.out.json) ctx.out.print(JSON.stringify({ workflowId, story: lines }));
  else for (const l of lines) ctx.out.print(`${l.at}  ${l.text}`);
  return ExitCode.Ok;
}
