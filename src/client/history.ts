/**
 * Reading rollouts' Temporal histories: every activity call — an activity task (scheduled,
 * started, completed/failed events) or a local activity (one marker) — as one record with its
 * name, summary, outcome and times. Used by `ramp story`, the benchmarks and tests, so they read
 * both kinds the same way (decisions/0010).
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { RolloutResult } from '../domain/rollout/machine';
import { isOutcomeFailureType } from '../shared/outcomes';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payload = temporal.api.common.v1.IPayload;
/** A protobuf Timestamp: seconds may be a number, a string or a Long. */
type Timestamp = { seconds?: number | string | { toNumber(): number } | null; nanos?: number | null } | null | undefined;

export interface ActivityCall {
  /** Activity type, e.g. trafficSetWeight. */
  name: string;
  /** The summary the workflow gave it, if any. */
  summary?: string;
  /** A local activity (one marker) or an activity task. */
  local: boolean;
  /** Event id of its first event (scheduled, or the marker). */
  eventId: number;
  /** When it was scheduled (activity task: server time; local activity: the worker's). */
  scheduledAt?: number;
  /** When it ended: completed, failed or timed out (local activity: the worker's clock). */
  endedAt?: number;
  outcome: 'completed' | 'failed' | 'timedOut' | 'cancelled' | 'pending';
  /** The workflow asked for it to be cancelled (it may still have completed before it saw that). */
  cancelRequested?: boolean;
  /** The attempt that ended it (1 unless it was retried). */
  attempt: number;
  /** Decoded result (completed) or failure message (failed). */
  result?: unknown;
  failure?: string;
}

export function decodePayload(p: Payload | null | undefined): unknown {
  if (!p) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(p);
  } catch {
    return '(undecodable payload)';
  }
}

export function msOf(t: Timestamp): number | undefined {
  if (!t) return undefined;
  const s = t.seconds ?? 0;
  return (typeof s === 'object' ? s.toNumber() : Number(s)) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** The local activity a marker event records, or undefined for any other event. */
export function localActivityOf(e: HistoryEvent): ActivityCall | undefined {
  const m = e.markerRecordedEventAttributes;
  if (m?.markerName !== 'core_local_activity') return undefined;
  const data = decodePayload(m.details?.data?.payloads?.[0]) as { activity_type?: string; attempt?: number; complete_time?: Timestamp; original_schedule_time?: Timestamp } | undefined;
  const failure = m.failure ? (m.failure.cause?.message ?? m.failure.message ?? 'failed') : undefined;
  return {
    name: data?.activity_type ?? 'activity',
    summary: decodePayload(e.userMetadata?.summary) as string | undefined,
    local: true,
    eventId: Number(String(e.eventId)),
    scheduledAt: msOf(data?.original_schedule_time),
    endedAt: msOf(data?.complete_time) ?? msOf(e.eventTime),
    outcome: failure === undefined ? 'completed' : 'failed',
    attempt: data?.attempt ?? 1,
    ...(failure === undefined ? { result: decodePayload(m.details?.result?.payloads?.[0]) } : { failure }),
  };
}

/** Every activity call in a history, in the order they were scheduled. */
export function activityCalls(events: readonly HistoryEvent[]): ActivityCall[] {
  const calls: ActivityCall[] = [];
  const byScheduled = new Map<string, ActivityCall>();
  for (const e of events) {
    const la = localActivityOf(e);
    if (la) {
      calls.push(la);
      continue;
    }
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const call: ActivityCall = {
        name: s.activityType?.name ?? 'activity', summary: decodePayload(e.userMetadata?.summary) as string | undefined,
        local: false, eventId: Number(String(e.eventId)), scheduledAt: msOf(e.eventTime), outcome: 'pending', attempt: 1,
      };
      calls.push(call);
      byScheduled.set(String(e.eventId), call);
      continue;
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const call = byScheduled.get(String(started.scheduledEventId));
      if (call) call.attempt = started.attempt ?? 1;
      continue;
    }
    const cancelRequested = e.activityTaskCancelRequestedEventAttributes;
    if (cancelRequested) {
      const call = byScheduled.get(String(cancelRequested.scheduledEventId));
      if (call) call.cancelRequested = true;
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes
      ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
    const call = done ? byScheduled.get(String(done.scheduledEventId)) : undefined;
    if (!call) continue;
    call.endedAt = msOf(e.eventTime);
    if (e.activityTaskCompletedEventAttributes) {
      call.outcome = 'completed';
      call.result = decodePayload(e.activityTaskCompletedEventAttributes.result?.payloads?.[0]);
    } else if (e.activityTaskFailedEventAttributes) {
      const f = e.activityTaskFailedEventAttributes.failure;
      call.outcome = 'failed';
      call.failure = f?.cause?.message ?? f?.message ?? 'failed';
    } else if (e.activityTaskCanceledEventAttributes) {
      call.outcome = 'cancelled';
    } else {
      call.outcome = 'timedOut';
      call.failure = 'timed out';
    }
  }
  return calls;
}

/** When the RampPhase search attribute last changed in a run's history, and to what (undefined if it never did). */
export function lastPhaseChange(events: readonly HistoryEvent[]): { at: number; phase: string } | undefined {
  let last: { at: number; phase: string } | undefined;
  for (const e of events) {
    const p = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.RampPhase;
    const at = msOf(e.eventTime);
    if (p && at !== undefined) last = { at, phase: String(decodePayload(p)) };
  }
  return last;
}

/**
 * The RolloutResult a close event carries: a completed run's result, or the details of the outcome
 * failure a rollout that did not promote fails with. Undefined for any other event, and for a run
 * that ended without a result (cancelled, terminated, continued as new, failed otherwise).
 */
export function resultOfCloseEvent(e: HistoryEvent | undefined): RolloutResult | undefined {
  const completed = e?.workflowExecutionCompletedEventAttributes;
  if (completed) return decodePayload(completed.result?.payloads?.[0]) as RolloutResult | undefined;
  const info = e?.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo;
  if (!isOutcomeFailureType(info?.type)) return undefined;
  return decodePayload(info?.details?.payloads?.[0]) as RolloutResult | undefined;
}

/** The RolloutResult of a run whose history this is, once it has ended with one (see resultOfCloseEvent). */
export function resultAtClose(events: readonly HistoryEvent[]): RolloutResult | undefined {
  return resultOfCloseEvent(events[events.length - 1]);
}
