/**
 * Step lateness, phases and queueing read from a rollout's workflow history. Server and worker
 * share this machine's clock, so their timestamps compare directly.
 *
 *   - A timer (a pause step, or the wait before an analysis measurement) is due at
 *     TimerStarted.eventTime + startToFireTimeout.
 *   - The step acts when the first call the workflow makes in reaction to TimerFired starts: a local
 *     activity's `original_schedule_time` (from its marker: local activities run at once, inside the
 *     workflow task), or a regular activity's ActivityTaskStarted. With no call in the reaction, the
 *     reaction's WorkflowTaskCompleted.
 *   - Lateness = acts − due, split into *fire* (TimerFired − due: the server's timer queue), *queue*
 *     (WorkflowTaskStarted − WorkflowTaskScheduled: waiting for a worker poll) and *worker*
 *     (acts − WorkflowTaskStarted: the task waiting inside the worker, then the workflow code).
 *   - *committed* = the reaction's WorkflowTaskCompleted − due: when the history shows the step done
 *     (it includes the step's local activities themselves).
 */
import type { temporal } from '@temporalio/proto';

type Event = temporal.api.history.v1.IHistoryEvent;
type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

/** Milliseconds since the epoch of a protobuf Timestamp (seconds may be a Long), or of a Duration. */
export function tsMs(t: Timestamp): number {
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

const key = (x: unknown) => String(x);

export type TimerKind = 'pause' | 'analysis' | 'other';

export interface TimerLateness {
  kind: TimerKind;
  lateMs: number;
  fireMs: number;
  queueMs: number;
  workerMs: number;
  committedMs: number;
}

export interface CallTiming {
  type: string;
  local: boolean;
  /** Scheduled → started (regular activities only: waiting for a slot on a worker). */
  scheduleToStartMs?: number;
  /** Started → done, last attempt (regular activities only: a local activity's marker holds no completion wall time). */
  runMs?: number;
  attempt: number;
}

export interface RolloutTimings {
  events: number;
  /** WorkflowExecutionStarted → closed. */
  durationMs: number;
  /** WorkflowExecutionStarted → the first WorkflowTaskStarted. */
  firstTaskMs: number;
  /** Start → first timer started: preflight, canary, readiness, first weight. */
  setupMs: number;
  /** First timer started → the last timer's reaction committed: the steps. */
  stepsMs: number;
  /** Last timer's reaction committed → closed: last weight, promotion, clean-up. */
  finishMs: number;
  timers: TimerLateness[];
  calls: CallTiming[];
  workflowTaskTimeouts: number;
  workflowTaskFailures: number;
}

interface LocalMarker {
  type: string;
  attempt: number;
  /** Wall time the workflow first scheduled it. (The marker's complete_time is workflow time, not wall time.) */
  scheduledAt: number;
}

/** The data of a `core_local_activity` marker (JSON: activity type, attempt, schedule and completion times). */
function localMarker(e: Event): LocalMarker | undefined {
  const m = e.markerRecordedEventAttributes;
  if (!m || m.markerName !== 'core_local_activity') return undefined;
  const payload = m.details?.data?.payloads?.[0]?.data;
  if (!payload) return undefined;
  try {
    const d = JSON.parse(Buffer.from(payload).toString('utf8')) as { activity_type: string; attempt: number; original_schedule_time?: Timestamp };
    return { type: d.activity_type, attempt: d.attempt, scheduledAt: tsMs(d.original_schedule_time) };
  } catch {
    return undefined;
  }
}

/** Reads the timings of one rollout; a timer is a pause or an analysis wait by its duration. */
export function rolloutTimings(events: Event[], kinds: { pauseMs: number; intervalMs: number }): RolloutTimings {
  const at = (e: Event | undefined) => tsMs(e?.eventTime);
  const byId = new Map<string, Event>(events.map((e) => [key(e.eventId), e]));
  const started = events[0];
  const closed = events.find((e) => e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes ||
    e.workflowExecutionCanceledEventAttributes || e.workflowExecutionTerminatedEventAttributes || e.workflowExecutionTimedOutEventAttributes);
  const firstTask = events.find((e) => e.workflowTaskStartedEventAttributes);
  const activityStarted = (scheduledId: string) => {
    const done = events.find((x) => {
      const a = x.activityTaskCompletedEventAttributes ?? x.activityTaskFailedEventAttributes ?? x.activityTaskTimedOutEventAttributes ?? x.activityTaskCanceledEventAttributes;
      return a && key(a.scheduledEventId) === scheduledId;
    });
    const a = done && (done.activityTaskCompletedEventAttributes ?? done.activityTaskFailedEventAttributes ?? done.activityTaskTimedOutEventAttributes ?? done.activityTaskCanceledEventAttributes);
    return a ? byId.get(key(a.startedEventId)) : undefined;
  };

  const timers: TimerLateness[] = [];
  const startedTimers = new Map<string, Event>();
  let firstTimerAt = NaN;
  let lastReactionAt = NaN;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.timerStartedEventAttributes) {
      startedTimers.set(e.timerStartedEventAttributes.timerId!, e);
      if (Number.isNaN(firstTimerAt)) firstTimerAt = at(e);
      continue;
    }
    if (!e.timerFiredEventAttributes) continue;
    const s = startedTimers.get(e.timerFiredEventAttributes.timerId!);
    if (!s) continue;
    const timeout = tsMs(s.timerStartedEventAttributes!.startToFireTimeout);
    const kind: TimerKind = Math.abs(timeout - kinds.pauseMs) < 1 ? 'pause' : Math.abs(timeout - kinds.intervalMs) < 1 ? 'analysis' : 'other';
    const due = at(s) + timeout;
    const r = events.findIndex((x, j) => j > i && !!x.workflowTaskCompletedEventAttributes);
    if (r < 0) continue;
    const reaction = events[r]!;
    const wftScheduled = byId.get(key(reaction.workflowTaskCompletedEventAttributes!.scheduledEventId));
    const wftStarted = byId.get(key(reaction.workflowTaskCompletedEventAttributes!.startedEventId));
    // The reaction's commands follow its WorkflowTaskCompleted, up to the next workflow task.
    let acts = at(reaction);
    for (let j = r + 1; j < events.length && !events[j]!.workflowTaskScheduledEventAttributes; j++) {
      const x = events[j]!;
      const lm = localMarker(x);
      if (lm) {
        acts = lm.scheduledAt;
        break;
      }
      if (x.activityTaskScheduledEventAttributes) {
        const st = activityStarted(key(x.eventId));
        if (st) acts = at(st);
        break;
      }
    }
    if (kind !== 'other') lastReactionAt = at(reaction);
    timers.push({
      kind,
      lateMs: acts - due,
      fireMs: at(e) - due,
      queueMs: at(wftStarted) - at(wftScheduled),
      workerMs: acts - at(wftStarted),
      committedMs: at(reaction) - due,
    });
  }

  const calls: CallTiming[] = [];
  for (const e of events) {
    const lm = localMarker(e);
    if (lm) {
      calls.push({ type: lm.type, local: true, attempt: lm.attempt });
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
    if (!done) continue;
    const scheduled = byId.get(key(done.scheduledEventId));
    const start = byId.get(key(done.startedEventId));
    if (!scheduled || !start) continue;
    calls.push({
      type: scheduled.activityTaskScheduledEventAttributes!.activityType!.name!,
      local: false,
      scheduleToStartMs: at(start) - at(scheduled),
      runMs: at(e) - at(start),
      attempt: start.activityTaskStartedEventAttributes!.attempt ?? 1,
    });
  }

  return {
    events: events.length,
    durationMs: at(closed) - at(started),
    firstTaskMs: at(firstTask) - at(started),
    setupMs: firstTimerAt - at(started),
    stepsMs: lastReactionAt - firstTimerAt,
    finishMs: at(closed) - lastReactionAt,
    timers,
    calls,
    workflowTaskTimeouts: events.filter((e) => e.workflowTaskTimedOutEventAttributes).length,
    workflowTaskFailures: events.filter((e) => e.workflowTaskFailedEventAttributes).length,
  };
}
