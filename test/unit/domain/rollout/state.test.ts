import { Command, parseCommandInput } from '../../../../src/domain/rollout/commands';
import { Phase } from '../../../../src/domain/rollout/phases';
import { RolloutState } from '../../../../src/domain/rollout/state';
import { validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';

const T0 = '2026-01-01T00:00:00.000Z';

function stateIn(phase: Phase): RolloutState {
  const s = new RolloutState(validateRollout(newTestRolloutRaw()), T0);
  s.setPhase(phase, 'test', T0);
  return s;
}

describe('RolloutState.refusal: which command makes sense in which phase', () => {
  // [phase, command, accepted]
  const table: [Phase, Command, boolean][] = [
    [Phase.Initializing, 'approve', false],
    [Phase.Initializing, 'promote', false],
    [Phase.Initializing, 'abort', true],
    [Phase.Initializing, 'pause', true],
    [Phase.Initializing, 'resume', false],
    [Phase.Progressing, 'approve', false],
    [Phase.Progressing, 'promote', true],
    [Phase.Progressing, 'abort', true],
    [Phase.Progressing, 'pause', true],
    [Phase.Progressing, 'resume', false],
    [Phase.Paused, 'approve', false],
    [Phase.Paused, 'promote', true],
    [Phase.Paused, 'abort', true],
    [Phase.Paused, 'resume', true],
    [Phase.AwaitingApproval, 'approve', true],
    [Phase.AwaitingApproval, 'promote', true],
    [Phase.AwaitingApproval, 'abort', true],
    [Phase.Promoting, 'abort', false],
    [Phase.Promoting, 'promote', false],
    [Phase.Promoting, 'approve', false],
    [Phase.RollingBack, 'abort', false],
    [Phase.RollingBack, 'resume', false],
    [Phase.Succeeded, 'abort', false],
    [Phase.RolledBack, 'approve', false],
    [Phase.RollbackFailed, 'promote', false],
  ];
  it.each(table)('%s: %s accepted=%s', (phase, cmd, accepted) => {
    const refusal = stateIn(phase).refusal(cmd, cmd === 'abort' ? { reason: 'x' } : {});
    expect(refusal === undefined).toBe(accepted);
    if (!accepted) expect(refusal).toContain('mushop/storefront');
  });

  it('says what the rollout is doing when nothing awaits approval', () => {
    const s = stateIn(Phase.Progressing);
    s.setStep(1);
    expect(s.refusal('approve', {})).toBe('nothing awaits approval: the rollout mushop/storefront is Progressing at step 2 of 4 (set canary weight to 50%)');
  });

  it('refuses everything but nothing after an abort, naming who aborted', () => {
    const s = stateIn(Phase.Paused);
    s.apply('abort', { by: 'alice', reason: 'errors' }, 'update', T0);
    expect(s.refusal('resume', {})).toMatch(/was aborted by alice \(errors\)/);
    expect(s.refusal('abort', { reason: 'again' })).toMatch(/was aborted by alice/);
  });

  it('refuses a second pause and a repeated promote', () => {
    const s = stateIn(Phase.Progressing);
    s.apply('pause', { by: 'bob' }, 'update', T0);
    expect(s.refusal('pause', {})).toMatch(/already paused by bob/);
    s.apply('promote', { by: 'carol' }, 'update', T0);
    expect(s.refusal('promote', {})).toMatch(/already requested by carol/);
    expect(s.refusal('promote', { full: true })).toBeUndefined();
  });

  it('records every accepted command with who sent it and how', () => {
    const s = stateIn(Phase.AwaitingApproval);
    s.apply('approve', { by: 'dave' }, 'signal', '2026-01-01T00:01:00.000Z');
    expect(s.requests.approved).toEqual({ by: 'dave' });
    expect(s.status.audit).toEqual([{ at: '2026-01-01T00:01:00.000Z', event: 'approve', via: 'signal', by: 'dave', reason: undefined, accepted: true }]);
  });

  it('resume clears a person\'s pause', () => {
    const s = stateIn(Phase.Progressing);
    s.apply('pause', {}, 'update', T0);
    s.apply('resume', { by: 'erin' }, 'update', T0);
    expect(s.requests.userPause).toBeUndefined();
    expect(s.requests.resume).toEqual({ by: 'erin' });
  });
});

describe('parseCommandInput', () => {
  const table: [Command, unknown, string | undefined][] = [
    ['approve', undefined, undefined],
    ['approve', { by: 'alice' }, undefined],
    ['approve', { by: 42 }, 'approve: by must be a string, got 42'],
    ['promote', { full: true }, undefined],
    ['promote', { full: 'yes' }, 'promote: full must be true or false, got "yes"'],
    ['abort', undefined, 'abort needs an input with a reason, e.g. {"reason": "error rate too high"}'],
    ['abort', { reason: '' }, 'abort: reason must not be empty: say why you abort'],
    ['abort', { reason: 'bad' }, undefined],
    ['pause', { colour: 'red' }, 'pause: unknown field(s) colour'],
    ['resume', 'now', 'resume: Invalid input: expected object, received string'],
  ];
  it.each(table)('%s %j', (cmd, raw, error) => {
    const res = parseCommandInput(cmd, raw);
    if (error === undefined) expect(res.ok).toBe(true);
    else expect(res).toEqual({ ok: false, message: error });
  });
});
