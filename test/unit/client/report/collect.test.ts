import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { decodePayload, type HistoryEvent } from '../../../../src/client/history';
import { collectReport } from '../../../../src/client/report/collect';
import type { RolloutResult } from '../../../../src/domain/rollout/machine';

const DIR = path.resolve(__dirname, '../../../fixtures/histories');
const recorded = (file: string): HistoryEvent[] => historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, `${file}.json`), 'utf8'))).events ?? [];
const resultOf = (events: HistoryEvent[]) => decodePayload(events[events.length - 1]!.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0]) as RolloutResult;

describe('collectReport: the looks are the judge\'s own, recomputed from the counters in history', () => {
  it.each(['sequential-judge-promoted', 'sequential-judge-rollback', 'sequential-judge-tail-rollback', 'sequential-judge-calibrated'])('%s: the last look equals the verdict the rollout recorded', (file) => {
    const events = recorded(file);
    const d = collectReport([events]);
    const recordedVerdict = resultOf(events).status.lastAnalysis!;
    const last = d.analyses[0]!.looks.at(-1)!;
    expect(last.judge?.evidence).toEqual(recordedVerdict.judge?.evidence);
    expect(last.phase).toBe(recordedVerdict.phase);
    expect(last.reason).toBe(recordedVerdict.reason);
    expect(d.notes).toEqual([]);
  });

  it('a workflow task that only carries on the previous one (its local activity outlasted it) keeps the previous task\'s clock', () => {
    // `npm run demo -- --bad`, recorded: looks 6 to 8 each span two workflow tasks.
    const events = historyFromJSON(JSON.parse(fs.readFileSync(path.join(__dirname, 'demo-bad-rollback.history.json'), 'utf8'))).events ?? [];
    const d = collectReport([events]);
    expect(d.analyses[0]!.looks.at(-1)!.judge?.evidence).toEqual(resultOf(events).status.lastAnalysis!.judge?.evidence);
    expect(d.notes).toEqual([]);
    expect(d.outcome).toBe('RolledBack');
  });

  it('a rolled-back rollout: its steps, weights, looks and outcome in order', () => {
    const d = collectReport([recorded('sequential-judge-rollback')]);
    expect(d.outcome).toBe('RolledBack');
    expect(d.reason).toMatch(/^analysis Failed: sequential judge: roll back: canary errors/);
    expect(d.steps.map((s) => [s.description, s.end])).toEqual([
      ['set canary weight to 20%', 'weight set: canary 20%'],
      ['analysis: sequential judge (canary vs baseline) (120 × 5s)', 'analysis Failed'],
      ['set canary weight to 100%', 'not reached: analysis Failed'],
    ]);
    expect(d.weights.map((w) => w.canary)).toEqual([0, 20, 0]);
    const [a] = d.analyses;
    expect(a).toMatchObject({ source: 'step', step: 1, kind: 'sequential', tolerance: 0.5, alpha: 0.05 });
    expect(a!.looks.map((l) => l.look)).toEqual([...Array(13).keys()]);
    expect(a!.looks.map((l) => l.phase)).toEqual([...Array(12).fill('Running'), 'Failed']);
    // Looks are in time order, and the step boundaries frame them.
    const times = a!.looks.map((l) => l.at);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(d.steps[1]!.startedAt).toBeLessThanOrEqual(times[0]!);
    expect(d.steps[1]!.endedAt).toBeGreaterThanOrEqual(times[12]!);
    expect(d.steps[1]!.endedAt).toBeLessThan(times[12]! + 1000);
    expect(d.actions.map((x) => x.event)).toEqual(['start', 'readiness', 'analysis', 'rollback']);
  });

  it('an approval: who approved, through which channel, and the step it ended', () => {
    const d = collectReport([recorded('cli-approve')]);
    expect(d.steps[1]).toMatchObject({ kind: 'approval', end: 'approved by oncall-cli' });
    expect(d.actions.filter((a) => a.via !== 'workflow')).toEqual([expect.objectContaining({ event: 'approve', via: 'update', by: 'oncall-cli', accepted: true })]);
    expect(d.outcome).toBe('Promoted');
  });

  it('a refused signal changed nothing; the next one aborted the rollout', () => {
    const d = collectReport([recorded('cli-abort-signal')]);
    expect(d.actions.filter((a) => a.event === 'abort').map((a) => [a.by, a.accepted])).toEqual([[undefined, false], ['pagerduty', true]]);
    expect(d.steps[1]).toMatchObject({ kind: 'pause', end: 'aborted by pagerduty' });
    expect(d.weights.map((w) => w.canary)).toEqual([0, 10, 0]);
  });

  it('promote --full: the steps not reached say so', () => {
    const d = collectReport([recorded('promote-full')]);
    expect(d.steps.map((s) => s.end)).toEqual(['weight set: canary 10%', 'skipped: promote --full by dave', ...Array(3).fill('not reached: skipped: promote --full by dave')]);
  });

  it('a run continued as new picks up where its input says the previous run left the rollout, and says the earlier runs were not read', () => {
    const d = collectReport([recorded('continued-as-new-last-run')]);
    expect(d.steps.slice(1).map((s) => s.end)).toEqual(['analysis Successful', 'pause over', 'approved by oncall', 'weight set: canary 60%']);
    expect(d.notes).toEqual(['the runs before the first one read here were not available: the report starts where they left the rollout']);
  });

  it('counters that do not give back the recorded verdict are reported, not hidden', () => {
    const events = structuredClone(recorded('sequential-judge-rollback'));
    const last = events.filter((e) => e.markerRecordedEventAttributes?.details?.result).at(-1 - events.filter((e) => e.markerRecordedEventAttributes?.details?.result).reverse().findIndex((e) => (decodePayload(e.markerRecordedEventAttributes!.details!.data!.payloads![0]) as { activity_type?: string }).activity_type === 'readCounters'))!;
    const result = last.markerRecordedEventAttributes!.details!.result!;
    const counters = decodePayload(result.payloads![0]) as { canary: { errors: number } };
    counters.canary.errors += 100;
    result.payloads = [defaultPayloadConverter.toPayload(counters)];
    const d = collectReport([events]);
    expect(d.notes).toEqual([expect.stringMatching(/^the looks were recomputed from the counters in history and the last one differs from the verdict the rollout recorded \(Failed at /)]);
  });

  it('refuses a history that is not a rollout\'s', () => {
    expect(() => collectReport([[{ eventId: 1 } as unknown as HistoryEvent]])).toThrow(/first event of the first run is not the start of a rollout workflow/);
  });
});
