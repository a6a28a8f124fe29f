import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { activityCalls, type HistoryEvent } from '../../../src/client/history';
import { storyOf } from '../../../src/client/cli/commands/story';

const DIR = path.resolve(__dirname, '../../fixtures/histories');
const events = (file: string) => historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'))).events ?? [];

describe('activityCalls: activity tasks and local activities read alike', () => {
  const calls = activityCalls(events('cli-approve.json'));

  it('readiness waits are activity tasks, every other call a local activity, in the order the rollout made them', () => {
    expect(calls.filter((c) => !c.local).map((c) => c.name)).toEqual(['waitAvailable', 'waitAvailable']);
    expect(calls.map((c) => c.name)).toEqual([
      'preflight', 'ensureCanary', 'waitAvailable', 'trafficApply', 'trafficApply', 'trafficSetWeight', 'trafficSetWeight',
      'trafficPromote', 'promoteStable', 'waitAvailable', 'trafficPromote', 'trafficUndo', 'trafficUndo', 'removeCanary',
    ]);
    expect(calls.map((c) => c.eventId)).toEqual([...calls.map((c) => c.eventId)].sort((a, b) => a - b));
  });

  it('every call completed, with its end time and decoded result', () => {
    expect(calls.every((c) => c.outcome === 'completed' && c.attempt === 1)).toBe(true);
    for (const c of calls) expect(c.endedAt).toBeGreaterThan(0);
    const weights = calls.filter((c) => c.name === 'trafficSetWeight').map((c) => (c.result as { weights: { canary: number } }).weights.canary);
    expect(weights).toEqual([10, 100]);
  });

  it('ramp story tells local activities and activity tasks alike, by their summaries', () => {
    const told = storyOf(events('cli-approve.json')).filter((l) => l.kind === 'activity').map((l) => l.text);
    expect(told).toContain('✔ preflight: check the target and the traffic objects');
    expect(told.some((t) => /^✔ wait for canary .* to be Available$/.test(t))).toBe(true);
  });
});

describe('activityCalls: attempts', () => {
  it('reads the attempt of a retried activity task and of a retried local activity', () => {
    const marker = {
      eventId: 5,
      markerRecordedEventAttributes: {
        markerName: 'core_local_activity',
        details: { data: { payloads: [defaultPayloadConverter.toPayload({ activity_type: 'trafficSetWeight', attempt: 4 })] } },
      },
    };
    const [task, local] = activityCalls(([
      { eventId: 1, activityTaskScheduledEventAttributes: { activityType: { name: 'waitAvailable' } } },
      { eventId: 2, activityTaskStartedEventAttributes: { scheduledEventId: 1, attempt: 3 } },
      { eventId: 3, eventTime: { seconds: 9, nanos: 0 }, activityTaskCompletedEventAttributes: { scheduledEventId: 1 } },
      marker,
    ]) as unknown as HistoryEvent[]);
    expect(task).toMatchObject({ name: 'waitAvailable', local: false, outcome: 'completed', attempt: 3, endedAt: 9000 });
    expect(local).toMatchObject({ name: 'trafficSetWeight', local: true, outcome: 'completed', attempt: 4 });
  });
});

describe('activityCalls: cancellation', () => {
  const scheduled = (id: number, name: string) => ({ eventId: id, activityTaskScheduledEventAttributes: { activityType: { name } } });
  const t = (s: number) => ({ seconds: s, nanos: 0 });
  const table: { what: string; after: object[]; outcome: string; cancelRequested: boolean | undefined }[] = [
    { what: 'cancelled and confirmed', after: [{ eventId: 2, activityTaskCancelRequestedEventAttributes: { scheduledEventId: 1 } }, { eventId: 3, eventTime: t(5), activityTaskCanceledEventAttributes: { scheduledEventId: 1 } }], outcome: 'cancelled', cancelRequested: true },
    { what: 'asked to cancel, completed before it saw that', after: [{ eventId: 2, activityTaskCancelRequestedEventAttributes: { scheduledEventId: 1 } }, { eventId: 3, eventTime: t(5), activityTaskCompletedEventAttributes: { scheduledEventId: 1 } }], outcome: 'completed', cancelRequested: true },
    { what: 'asked to cancel, still running when the history ends', after: [{ eventId: 2, activityTaskCancelRequestedEventAttributes: { scheduledEventId: 1 } }], outcome: 'pending', cancelRequested: true },
    { what: 'completed, never cancelled', after: [{ eventId: 3, eventTime: t(5), activityTaskCompletedEventAttributes: { scheduledEventId: 1 } }], outcome: 'completed', cancelRequested: undefined },
  ];
  it.each(table)('$what', ({ after, outcome, cancelRequested }) => {
    const [call] = activityCalls([scheduled(1, 'readCounters'), ...after]);
    expect(call?.outcome).toBe(outcome);
    expect(call?.cancelRequested).toBe(cancelRequested);
  });
});
