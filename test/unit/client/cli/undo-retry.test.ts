import { retryRefusal } from '../../../../src/client/cli/commands/retry';
import { PromotedRun, undoChoice } from '../../../../src/client/cli/commands/undo';
import type { PastRun } from '../../../../src/client/cli/past-runs';
import { validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';

const WF = 'rollout/shop/web';

function run(runId: string, outcome: string | undefined, status = 'COMPLETED'): PastRun {
  return { workflowId: WF, runId, status, outcome, startTime: new Date(`2026-11-0${runId.length}T00:00:00Z`) };
}

function promoted(runId: string, image: string, patch?: Record<string, unknown>): PromotedRun {
  const canary = { image, ...(patch ? { podTemplatePatch: patch } : {}) };
  return { run: run(runId, 'Promoted'), rollout: validateRollout(newTestRolloutRaw({ spec: { canary } })) };
}

describe('undoChoice: the version before the last promotion, from earlier promoted runs', () => {
  it('goes back to the newest earlier promotion of another version', () => {
    const runs = [promoted('r3', 'web:3'), promoted('r2', 'web:2'), promoted('r1', 'web:1')];
    const choice = undoChoice(WF, runs);
    expect(typeof choice).toBe('object');
    if (typeof choice === 'string') return;
    expect(choice.last.run.runId).toBe('r3');
    expect(choice.back.run.runId).toBe('r2');
    expect(choice.back.rollout.spec.canary.image).toBe('web:2');
  });

  it('skips promotions of the same version, as kubectl rollout undo skips identical revisions', () => {
    const choice = undoChoice(WF, [promoted('r3', 'web:2'), promoted('r2', 'web:2'), promoted('r1', 'web:1')]);
    expect(typeof choice !== 'string' && choice.back.run.runId).toBe('r1');
  });

  it('a changed pod-template patch is another version, even with the same image', () => {
    const choice = undoChoice(WF, [promoted('r2', 'web:2', { metadata: { labels: { tier: 'b' } } }), promoted('r1', 'web:2')]);
    expect(typeof choice !== 'string' && choice.back.run.runId).toBe('r1');
  });

  it('says why when there is nothing to go back to', () => {
    expect(undoChoice(WF, [])).toMatch(/^rollout\/shop\/web has no promoted rollout in Temporal's history: there is nothing to undo/);
    expect(undoChoice(WF, [promoted('r1', 'web:1')])).toMatch(/^the version before web:1 \(promoted by run r1 .*\) is not recorded: .*ramp start -f FILE --image <the previous image>$/);
  });
});

describe('retryRefusal: what may be started again', () => {
  it.each([
    ['RolledBack', 'COMPLETED'], ['Refused', 'COMPLETED'], ['RollbackFailed', 'COMPLETED'], ['RolledBack', 'FAILED'], [undefined, 'TERMINATED'], [undefined, 'CANCELED'],
  ])('%s (%s) can be retried', (outcome, status) => {
    expect(retryRefusal(WF, run('r1', outcome, status))).toBeUndefined();
  });

  it('refuses a promoted, a running, or a missing rollout, saying what to do', () => {
    expect(retryRefusal(WF, run('r1', 'Promoted'))).toMatch(/promoted in its last run .*: nothing to retry; ramp undo rollout\/shop\/web goes back/);
    expect(retryRefusal(WF, { ...run('r1', undefined, 'RUNNING'), phase: 'Paused' })).toBe('rollout/shop/web is running (phase Paused): nothing to retry until it ends');
    expect(retryRefusal(WF, undefined)).toMatch(/has no run in Temporal's history/);
  });
});
