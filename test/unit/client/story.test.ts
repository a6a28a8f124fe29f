import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { storyOf, type StoryLine } from '../../../src/client/cli/commands/story';
import { resultAtClose, type HistoryEvent } from '../../../src/client/history';
import type { AuditEntry } from '../../../src/domain/rollout/state';

const DIR = path.resolve(__dirname, '../../fixtures/histories');
const recorded = (file: string) => historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'))).events ?? [];
const signalLines = (lines: StoryLine[]) => lines.filter((l) => l.kind === 'signal');

describe('storyOf: a signal is told as the rollout took it', () => {
  it('recorded: an abort with a malformed reason was refused, the next one applied (the audit in the result says so)', () => {
    const lines = signalLines(storyOf(recorded('cli-abort-signal.json')));
    expect(lines.map((l) => [l.text, l.accepted])).toEqual([
      ['signal abort by unknown: 42 — REFUSED, nothing changed: abort: reason must be a string, got 42', false],
      ['signal abort by pagerduty: "bad canary"', true],
    ]);
  });

  // A small run, built by hand: start, a workflow task, signals, maybe another workflow task.
  const payload = (v: unknown) => ({ payloads: [defaultPayloadConverter.toPayload(v)] });
  const at = (s: number) => ({ seconds: s, nanos: 0 });
  const ev = (o: object) => o as unknown as HistoryEvent;
  const start = (resumeAudit?: AuditEntry[]): HistoryEvent => ev({
    eventId: 1, eventTime: at(0),
    workflowExecutionStartedEventAttributes: {
      taskQueue: { name: 'ramp-prod' },
      input: payload({ rollout: { metadata: { namespace: 'shop', name: 'web' } }, ...(resumeAudit ? { resume: { status: { audit: resumeAudit } } } : {}) }),
    },
  });
  const task = (id: number): HistoryEvent[] => [
    ev({ eventId: id, workflowTaskStartedEventAttributes: {} }),
    ev({ eventId: id + 1, workflowTaskCompletedEventAttributes: { startedEventId: id } }),
  ];
  const signal = (id: number, name: string, input: object): HistoryEvent => ev({
    eventId: id, eventTime: at(id), workflowExecutionSignaledEventAttributes: { signalName: name, input: payload(input) },
  });
  const entry = (event: AuditEntry['event'], accepted: boolean, reason?: string, by?: string): AuditEntry => ({ at: '', event, via: 'signal', accepted, ...(by ? { by } : {}), ...(reason ? { reason } : {}) });

  it('a signal no workflow task has taken yet is queued, whatever the audit says', () => {
    const events = [start(), ...task(2), signal(4, 'abort', { by: 'bob', reason: 'p99' })];
    expect(signalLines(storyOf(events, { audit: [] }))).toEqual([
      { at: '1970-01-01T00:00:04.000Z', kind: 'signal', text: 'signal abort by bob: "p99" — queued: no worker has taken it yet (applied when one polls task queue ramp-prod)' },
    ]);
  });

  it('a signal taken in, without the rollout\'s status, is not told as applied', () => {
    const events = [start(), ...task(2), signal(4, 'approve', { by: 'alice' }), ...task(5)];
    const [line] = signalLines(storyOf(events));
    expect(line?.accepted).toBeUndefined();
    expect(line?.text).toBe('signal approve by alice — applied or refused: unknown without the rollout\'s status (no worker answered)');
  });

  it('matches the audit in order, past the signals an earlier run recorded, and ignores updates and the workflow\'s own entries', () => {
    const before = [entry('pause', true, undefined, 'x')];
    const events = [start(before), ...task(2), signal(4, 'approve', { by: 'alice' }), signal(5, 'resume', { by: 'carol' }), ...task(6)];
    const audit: AuditEntry[] = [
      ...before,
      { at: '', event: 'promote', via: 'update', by: 'dan', accepted: true },
      entry('approve', false, 'refused: nothing awaits approval: the rollout shop/web is Paused at step 2 of 3 (pause until resumed)', 'alice'),
      { at: '', event: 'drift', via: 'workflow', accepted: true },
      entry('resume', true, undefined, 'carol'),
    ];
    expect(signalLines(storyOf(events, { audit })).map((l) => [l.text, l.accepted])).toEqual([
      ['signal approve by alice — REFUSED, nothing changed: nothing awaits approval: the rollout shop/web is Paused at step 2 of 3 (pause until resumed)', false],
      ['signal resume by carol', true],
    ]);
  });

  it('an audit that does not line up (another command at that place) leaves the signal unknown rather than guessed', () => {
    const events = [start(), ...task(2), signal(4, 'abort', { by: 'bob', reason: 'r' }), ...task(5)];
    const [line] = signalLines(storyOf(events, { audit: [entry('pause', true)] }));
    expect(line?.accepted).toBeUndefined();
  });

  it('a signal that is no Ramp command changed nothing', () => {
    const events = [start(), ...task(2), signal(4, 'rollback', {}), ...task(5)];
    expect(signalLines(storyOf(events, { audit: [] }))[0]).toMatchObject({ accepted: false, text: 'signal rollback by unknown — not a Ramp command; ignored' });
  });
});

describe('storyOf: a refused rollout ends Refused, with its problems', () => {
  it('tells nothing was changed and lists each problem', () => {
    const problems = ['Service shop/nosuch not found; create it, or set spec.target.service to an existing Service', 'VirtualService shop/web not found; create it'];
    const events = [{
      eventId: 9, eventTime: { seconds: 1, nanos: 0 },
      workflowExecutionCompletedEventAttributes: { result: { payloads: [defaultPayloadConverter.toPayload({ outcome: 'Refused', reason: 'refused before any change: …', status: { problems, audit: [] } })] } },
    }] as unknown as HistoryEvent[];
    expect(storyOf(events).map((l) => [l.kind, l.text])).toEqual([
      ['end', 'Refused: nothing was changed; the preflight found 2 problem(s)'],
      ['problem', `  - ${problems[0]}`],
      ['problem', `  - ${problems[1]}`],
    ]);
  });
});

describe('storyOf: a rollout whose workflow failed with its outcome (decisions/0022) is told by that outcome', () => {
  it('recorded: a rollback after an approval timed out ends "RolledBack", not "failed", and the close event gives the result', () => {
    const events = recorded('failed-outcome-rolled-back.json');
    expect(events.at(-1)?.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.type).toBe('RolloutRolledBack');
    expect(resultAtClose(events)).toMatchObject({ outcome: 'RolledBack', reason: 'approval timed out after 1s' });
    expect(storyOf(events).filter((l) => l.kind === 'end').map((l) => l.text)).toEqual(['RolledBack: approval timed out after 1s']);
  });

  it('a failure that is not a rollout outcome is told as a failure, with its message', () => {
    const events = [{
      eventId: 9, eventTime: { seconds: 1, nanos: 0 },
      workflowExecutionFailedEventAttributes: { failure: { message: 'workflow task failed', applicationFailureInfo: { type: 'Error' } } },
    }] as unknown as HistoryEvent[];
    expect(resultAtClose(events)).toBeUndefined();
    expect(storyOf(events).map((l) => [l.kind, l.text])).toEqual([['end', 'failed: workflow task failed']]);
  });
});

describe('storyOf: git mode', () => {
  const payload = (v: unknown) => ({ payloads: [defaultPayloadConverter.toPayload(v)] });
  const ev = (o: object) => o as unknown as HistoryEvent;
  it("an activity that pushed commits names them; one that did not is unchanged", () => {
    const events = [
      ev({ eventId: 5, userMetadata: { summary: defaultPayloadConverter.toPayload('set weight: canary 10%') }, activityTaskScheduledEventAttributes: { activityType: { name: 'trafficSetWeight' } } }),
      ev({ eventId: 7, eventTime: { seconds: 7, nanos: 0 }, activityTaskCompletedEventAttributes: { scheduledEventId: 5, result: payload({ applied: true, weights: { stable: 90, canary: 10 }, commits: ['aaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbb'] }) } }),
      ev({ eventId: 8, activityTaskScheduledEventAttributes: { activityType: { name: 'waitAvailable' } } }),
      ev({ eventId: 9, eventTime: { seconds: 9, nanos: 0 }, activityTaskCompletedEventAttributes: { scheduledEventId: 8, result: payload('ready') } }),
    ];
    expect(storyOf(events).map((l) => l.text)).toEqual(['✔ set weight: canary 10% — commit aaaaaaaaaaaa', '✔ waitAvailable']);
  });
});
