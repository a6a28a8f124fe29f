/**
 * Which command is accepted in which state of a rollout (what update validators answer), what an
 * accepted one says it did, and that applying a command never throws (update handlers run without
 * their validators on replay).
 */
import fc from 'fast-check';
import { COMMANDS, Command, CommandInput, parseCommandInput } from '../../../../src/domain/rollout/commands';
import { acceptCommand, commandRefusal } from '../../../../src/domain/rollout/rules';
import { Driver, drive, specWith } from '../../../support/machine';

const metrics = { interval: '10s', count: 3, metrics: [{ name: 'm', query: 'vector(1)', thresholdRange: { min: 0 } }] };
const spec = specWith([{ setWeight: 10 }, { pause: {} }, { approval: {} }, { analysis: metrics }, { setWeight: 50 }], { rollback: { scaleDownDelay: '0s' } });

/** A rollout in each state a person can meet. */
const STATES: Record<string, () => Driver> = {
  initializing: () => drive(spec).run((c) => (c.activity === 'waitAvailable' ? 'pending' : undefined)),
  settingWeight: () => drive(spec).run((c) => (c.activity === 'trafficSetWeight' ? 'pending' : undefined)),
  pauseStep: () => drive(spec).run(),
  approvalStep: () => {
    const d = drive(spec).run();
    acceptCommand(d.r, d.spec, 'resume', {}, 'update', d.now);
    return d.run();
  },
  analysisStep: () => {
    const d = STATES.approvalStep!();
    acceptCommand(d.r, d.spec, 'approve', {}, 'update', d.now);
    return d.run();
  },
  heldByPerson: () => {
    const d = STATES.approvalStep!();
    acceptCommand(d.r, d.spec, 'pause', { by: 'alice' }, 'update', d.now);
    acceptCommand(d.r, d.spec, 'approve', {}, 'update', d.now);
    return d.run();
  },
  promoting: () => {
    const d = STATES.analysisStep!();
    acceptCommand(d.r, d.spec, 'promote', { full: true }, 'update', d.now);
    return d.run((c) => (c.activity === 'promoteStable' ? 'pending' : undefined));
  },
  rollingBack: () => {
    const d = drive(spec).run((c) => (c.activity === 'trafficUndo' ? 'pending' : undefined));
    acceptCommand(d.r, d.spec, 'abort', { reason: 'x' }, 'update', d.now);
    return d.run();
  },
  ended: () => {
    const d = drive(spec).run();
    acceptCommand(d.r, d.spec, 'abort', { reason: 'x' }, 'update', d.now);
    return d.run();
  },
};

// [state, command, accepted]
const TABLE: [keyof typeof STATES, Command, CommandInput, boolean][] = [
  ['initializing', 'approve', {}, false],
  ['initializing', 'promote', {}, false],
  ['initializing', 'promote', { full: true }, false],
  ['initializing', 'abort', { reason: 'x' }, true],
  ['initializing', 'pause', {}, true],
  ['initializing', 'resume', {}, false],
  ['settingWeight', 'promote', {}, false],
  ['settingWeight', 'promote', { full: true }, true],
  ['settingWeight', 'pause', {}, true],
  ['settingWeight', 'approve', {}, false],
  ['pauseStep', 'resume', {}, true],
  ['pauseStep', 'promote', {}, true],
  ['pauseStep', 'approve', {}, false],
  ['pauseStep', 'abort', { reason: 'x' }, true],
  ['approvalStep', 'approve', {}, true],
  ['approvalStep', 'promote', {}, true],
  ['approvalStep', 'resume', {}, false],
  ['analysisStep', 'promote', {}, true],
  ['analysisStep', 'pause', {}, true],
  ['analysisStep', 'approve', {}, false],
  ['heldByPerson', 'resume', {}, true],
  ['heldByPerson', 'promote', {}, true],
  ['heldByPerson', 'pause', {}, false],
  ['promoting', 'abort', { reason: 'x' }, false],
  ['promoting', 'promote', {}, false],
  ['promoting', 'pause', {}, false],
  ['rollingBack', 'abort', { reason: 'x' }, false],
  ['rollingBack', 'resume', {}, false],
  ['ended', 'abort', { reason: 'x' }, false],
  ['ended', 'approve', {}, false],
];

describe('commandRefusal: which command is accepted where', () => {
  it.each(TABLE)('%s: %s %j accepted=%s', (state, cmd, input, accepted) => {
    const d = STATES[state]!();
    const refusal = commandRefusal(d.r, d.spec, cmd, input);
    expect(refusal === undefined).toBe(accepted);
    if (!accepted) expect(refusal).toContain('mushop/storefront');
  });

  it('names the state and the way out', () => {
    const d = STATES.settingWeight!();
    expect(commandRefusal(d.r, d.spec, 'promote', {})).toBe(
      'the rollout mushop/storefront is Progressing at step 1 of 5 (set canary weight to 10%), which does not wait for anything, so a plain promote has nothing to end; use promote --full to skip every remaining step');
    expect(commandRefusal(STATES.pauseStep!().r, spec, 'approve', {})).toBe('nothing awaits approval: the rollout mushop/storefront is Paused at step 2 of 5 (pause until resumed)');
    expect(commandRefusal(STATES.promoting!().r, spec, 'abort', { reason: 'x' })).toBe('the rollout mushop/storefront is Promoting: stable is already being rolled to the new version; abort is no longer possible');
  });
});

describe('acceptCommand: what it did', () => {
  it.each([
    ['approvalStep', 'approve', {}, 'approved; moving on to step 4 of 5 (analysis: m (3 × 10s))'],
    ['analysisStep', 'promote', {}, 'analysis ended without a verdict; moving on to step 5 of 5 (set canary weight to 50%)'],
    ['pauseStep', 'promote', {}, 'pause ended; moving on to step 3 of 5 (wait for approval)'],
    ['pauseStep', 'resume', {}, 'pause step ended; moving on to step 3 of 5 (wait for approval)'],
    ['heldByPerson', 'resume', {}, 'hold ended: the rollout goes on with its next step'],
    ['settingWeight', 'promote', { full: true }, 'promoting in full: every remaining step is skipped'],
    ['initializing', 'pause', {}, 'pause accepted: the rollout holds once the canary is ready, before step 1'],
    ['settingWeight', 'abort', { reason: 'x' }, 'aborted: traffic goes back to stable first, then the canary is removed'],
  ] as const)('%s: %s %j → %s', (state, cmd, input, effect) => {
    const d = STATES[state]!();
    expect(acceptCommand(d.r, d.spec, cmd, input, 'update', d.now)).toBe(effect);
    expect(d.r.status.audit.at(-1)?.event === cmd || d.r.status.audit.some((a) => a.event === cmd)).toBe(true);
  });

  it('never throws, in any state, for any command, even one its validator would refuse', () => {
    fc.assert(fc.property(
      fc.constantFrom(...Object.keys(STATES)), fc.constantFrom(...COMMANDS), fc.record({ by: fc.option(fc.string(), { nil: undefined }), full: fc.option(fc.boolean(), { nil: undefined }) }),
      (state, cmd, input) => {
        const d = STATES[state]!();
        expect(() => acceptCommand(d.r, d.spec, cmd, { ...input, reason: 'r' }, 'update', d.now)).not.toThrow();
        expect(() => d.run()).not.toThrow();
      },
    ), { numRuns: 200 });
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
