import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { activityCalls } from '../../../src/client/history';
import { storyOf } from '../../../src/client/cli/commands/story';

const DIR = path.resolve(__dirname, '../../fixtures/histories');
const events = (file: string) => historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'))).events ?? [];

describe('activityCalls: activity tasks and local activities read alike', () => {
  const before = activityCalls(events('before-local-activities/promoted-subset-routing.json'));
  const after = activityCalls(events('promoted-subset-routing.json'));

  it('the same rollout, recorded before and after the move to local activities, makes the same calls', () => {
    expect(before.every((c) => !c.local)).toBe(true);
    expect(after.filter((c) => c.local).length).toBeGreaterThan(10);
    // Readiness waits stay activity tasks.
    expect(after.filter((c) => !c.local).map((c) => c.name)).toEqual(['waitAvailable', 'waitAvailable']);
    // That fixture predates the drift check (a read of the weights before each weight change).
    const noDrift = after.filter((c) => c.name !== 'trafficGetWeights');
    expect(noDrift.map((c) => c.name)).toEqual(before.map((c) => c.name));
    expect(noDrift.map((c) => c.summary)).toEqual(before.map((c) => c.summary));
  });

  it('every call completed, with times in order and its decoded result', () => {
    for (const calls of [before, after]) {
      expect(calls.map((c) => c.outcome).every((o) => o === 'completed')).toBe(true);
      for (const c of calls) expect(c.endedAt).toBeGreaterThan(0);
      const weights = calls.filter((c) => c.name === 'trafficSetWeight').map((c) => (c.result as { canary: number }).canary);
      expect(weights[weights.length - 1]).toBe(0);
      expect(weights.length).toBeGreaterThanOrEqual(2);
    }
  });

  it('ramp story tells local activities as it tells activities', () => {
    const told = (file: string) => storyOf(events(file)).filter((l) => l.kind === 'activity' && !l.text.includes('outside changes')).map((l) => l.text);
    expect(told('promoted-subset-routing.json')).toEqual(told('before-local-activities/promoted-subset-routing.json'));
    expect(told('promoted-subset-routing.json')).toContain('✔ check stable Deployment and Service');
  });
});

describe('activityCalls: attempts', () => {
  it('reads the attempt of a retried activity task and of a retried local activity', () => {
    const retriedTask = activityCalls(events('before-local-activities/worker-killed-mid-activity.json')).find((c) => c.attempt > 1);
    expect(retriedTask).toMatchObject({ name: 'waitAvailable', local: false, outcome: 'completed' });
    // In the lean histories the first calls never needed a retry.
    expect(activityCalls(events('promoted-subset-routing.json')).every((c) => c.attempt === 1)).toBe(true);
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
