/**
 * The rollout state machine, transition by transition: the calls it makes in order, what each
 * answer does, holds, the saga taken back, and every failure path of the hardening issue.
 */
import { canHandOver, handOverDue, reduce } from '../../../../src/domain/rollout/machine';
import { acceptCommand, commandRefusal } from '../../../../src/domain/rollout/rules';
import { drive, fail, okAnswer, resultOf, specWith, T0 } from '../../../support/machine';

const STEPS = [{ setWeight: 10 }, { setWeight: 50 }, { approval: {} }, { setWeight: 100 }];

describe('the forward path', () => {
  it('preflight, canary, readiness, the router\'s changes, the steps; then waits for approval', () => {
    const d = drive(specWith(STEPS)).run();
    expect(d.names()).toEqual(['preflight', 'ensureCanary', 'waitAvailable', 'trafficApply', 'trafficApply', 'trafficSetWeight', 'trafficSetWeight']);
    expect(d.calls.map((c) => c.lane)).toEqual(['local', 'local', 'wait', 'local', 'local', 'local', 'local']);
    expect(d.r.status.phase).toBe('AwaitingApproval');
    expect(d.r.status.weights).toEqual({ stable: 50, canary: 50 });
    // The inverse of each change was recorded before the change was made.
    expect(d.r.saga).toEqual([{ kind: 'canary' }, { kind: 'traffic', change: 'subsets', description: 'set subsets' }, { kind: 'traffic', change: 'routes', description: 'add the canary at 0 %', carriesTraffic: true }]);
    // Each weight write names the weights of the weight steps right after it: a lost workflow task
    // may have written them (src/domain/traffic/drift.ts).
    expect(d.calls[5]!.args[2]).toEqual({ weight: 10, expected: 0, force: false, ahead: [50], step: 0 });
    expect(d.calls[6]!.args[2]).toEqual({ weight: 50, expected: 10, force: false, ahead: [], step: 1 });
  });

  it('after approval: promotion hooks around the stable\'s roll, then the saga as cleanup, in reverse order', () => {
    const d = drive(specWith(STEPS)).run();
    acceptCommand(d.r, d.spec, 'approve', { by: 'alice' }, 'update', d.now);
    d.calls.length = 0;
    d.run();
    expect(d.calls.map((c) => `${c.activity}${c.activity === 'trafficUndo' || c.activity === 'trafficPromote' ? `:${String(c.args[2])}` : ''}`)).toEqual([
      'trafficSetWeight', 'trafficPromote:begin', 'promoteStable', 'waitAvailable', 'trafficPromote:end', 'trafficUndo:routes', 'trafficUndo:subsets', 'removeCanary',
    ]);
    // The cleanup undoes from the snapshot the promotion returned.
    expect(d.calls.find((c) => c.activity === 'trafficUndo')!.args[1]).toEqual({ v: 2 });
    expect(d.calls.at(-1)!.args[0]).toMatchObject({ canaryUid: 'uid-1' });
    const result = resultOf(d)!;
    expect(result.outcome).toBe('Promoted');
    expect(result.status.phase).toBe('Succeeded');
    expect(result.reason).toBe('promoted storefront:beta to storefront-original: all steps passed');
  });

  it('a preflight with problems ends Refused, with every problem and no other call', () => {
    const d = drive(specWith(STEPS)).run((c) => (c.activity === 'preflight' ? { value: { ok: false, problems: ['a: fix a', 'b: fix b'] } } : undefined));
    expect(d.names()).toEqual(['preflight']);
    const result = resultOf(d)!;
    expect(result.outcome).toBe('Refused');
    expect(result.status.problems).toEqual(['a: fix a', 'b: fix b']);
    expect(result.reason).toBe('refused before any change: the preflight found 2 problem(s): a: fix a; b: fix b');
  });

  it('a preflight that fails (no permission) is Refused too: nothing was changed', () => {
    const d = drive(specWith(STEPS)).run((c) => (c.activity === 'preflight' ? fail('Forbidden', 'get Deployment x/y failed: HTTP 403') : undefined));
    expect(resultOf(d)).toMatchObject({ outcome: 'Refused', reason: 'refused before any change: get Deployment x/y failed: HTTP 403' });
  });
});

describe('waits', () => {
  it('a timed pause ends at its deadline, which is kept as an absolute time', () => {
    const d = drive(specWith([{ setWeight: 10 }, { pause: { duration: '30s' } }, { setWeight: 20 }])).run();
    expect(d.r.status.phase).toBe('Paused');
    expect(d.last!.timers).toEqual([{ at: T0 + 30_000, summary: 'pause step 2: 30s' }]);
    d.advance(29_999);
    expect(d.r.status.phase).toBe('Paused');
    d.advance(1);
    expect(d.calls.filter((c) => c.activity === 'trafficSetWeight').map((c) => (c.args[2] as { weight: number }).weight)).toEqual([10, 20]);
  });

  it.each([['abort', 'RolledBack'], ['promote', 'Promoted']] as const)('an approval that times out with onTimeout %s ends %s', (onTimeout, outcome) => {
    const d = drive(specWith([{ setWeight: 10 }, { approval: { timeout: '1m', onTimeout } }], { rollback: { scaleDownDelay: '0s' } })).run();
    d.advance(60_000);
    expect(d.r.status.audit.find((a) => a.event === 'approvalTimeout')?.reason).toBe(`no approval within 60s: ${onTimeout}`);
    expect(resultOf(d)?.outcome).toBe(outcome);
  });
});

describe('git mode: commits in call results', () => {
  it('the status keeps the last commit and counts them; calls without commits change nothing', () => {
    const d = drive(specWith([{ setWeight: 10 }, { setWeight: 50 }])).run((c) => {
      if (c.activity !== 'trafficSetWeight') return undefined;
      const weight = (c.args[2] as { weight: number }).weight;
      return { value: { applied: true, weights: { stable: 100 - weight, canary: weight }, commits: [`sha-${weight}`] } };
    });
    expect(resultOf(d)?.outcome).toBe('Promoted');
    expect(d.r.status.git).toEqual({ lastCommit: 'sha-50', commits: 2 });
    expect(drive(specWith([{ setWeight: 10 }])).run().r.status.git).toBeUndefined();
  });
});

describe('holds and promote', () => {
  it('a pause sent mid-step holds at the next boundary; a plain promote ends the hold and moves on', () => {
    const d = drive(specWith([{ setWeight: 10 }, { pause: { duration: '10s' } }, { setWeight: 50 }])).run();
    const effect = acceptCommand(d.r, d.spec, 'pause', { by: 'alice' }, 'update', d.now);
    expect(effect).toBe('pause accepted: the rollout is in a pause step; it stays held when that step ends, until resumed');
    d.advance(10_000);
    expect(d.r.hold).toEqual({ kind: 'user', by: 'alice', reason: undefined });
    expect(d.r.status.phase).toBe('Paused');
    expect(d.r.status.step.index).toBe(2);
    expect(commandRefusal(d.r, d.spec, 'promote', {})).toBeUndefined();
    expect(acceptCommand(d.r, d.spec, 'promote', { by: 'bob' }, 'update', d.now)).toBe('hold ended: the rollout goes on with its next step');
    d.run();
    expect(resultOf(d)?.outcome).toBe('Promoted');
  });

  it('a pause during an analysis step says the step runs to its end first', () => {
    const analysis = { analysis: { interval: '10s', count: 3, metrics: [{ name: 'm', query: 'vector(1)', thresholdRange: { min: 0 } }] } };
    const d = drive(specWith([{ setWeight: 10 }, analysis, { setWeight: 50 }])).run();
    expect(acceptCommand(d.r, d.spec, 'pause', { by: 'alice' }, 'update', d.now))
      .toMatch(/^pause accepted: it takes effect at the next step boundary — step 2 of 3 \(analysis: m \(3 × 10s\)\) runs to its end first/);
  });

  it('weights changed outside Ramp: onDrift pause holds without writing; resume re-asserts with force', () => {
    const d = drive(specWith([{ setWeight: 10 }, { setWeight: 50 }])).run((c) =>
      (c.activity === 'trafficSetWeight' && (c.args[2] as { weight: number; force: boolean }).weight === 50 && !(c.args[2] as { force: boolean }).force
        ? { value: { applied: false, found: { stable: 67, canary: 33 }, detail: 'VirtualService x/y primary: stable 67, canary 33' } }
        : undefined));
    expect(d.r.hold?.kind).toBe('drift');
    expect(d.r.status.weights).toEqual({ stable: 67, canary: 33 });
    expect(d.r.status.message).toBe("held: VirtualService x/y primary: stable 67, canary 33 — changed outside Ramp; resume to re-assert Ramp's weights, or abort");
    acceptCommand(d.r, d.spec, 'resume', { by: 'carol' }, 'update', d.now);
    d.run();
    expect(d.calls.filter((c) => c.activity === 'trafficSetWeight').map((c) => c.args[2])).toEqual([
      { weight: 10, expected: 0, force: false, ahead: [50], step: 0 }, { weight: 50, expected: 10, force: false, ahead: [], step: 1 }, { weight: 50, expected: 33, force: true, ahead: [], step: 1 },
    ]);
    expect(resultOf(d)?.outcome).toBe('Promoted');
  });

  it('onDrift reassert re-writes at once and records the drift', () => {
    const spec = specWith([{ setWeight: 10 }, { setWeight: 50 }], { traffic: { onDrift: 'reassert' } });
    let first = true;
    const d = drive(spec).run((c) => {
      if (c.activity === 'trafficSetWeight' && (c.args[2] as { weight: number }).weight === 50 && first) {
        first = false;
        return { value: { applied: false, found: { stable: 100, canary: 0 }, detail: 'route primary: stable 100, canary 0' } };
      }
      return undefined;
    });
    expect(d.r.status.audit.filter((a) => a.event === 'drift')).toHaveLength(1);
    expect(resultOf(d)?.outcome).toBe('Promoted');
  });

  it('an inconclusive analysis holds; a plain promote ends the analysis step', () => {
    const analysis = { analysis: { interval: '10s', count: 1, metrics: [{ name: 'm', query: 'vector(1)', thresholdRange: { min: 0 } }] } };
    const d = drive(specWith([{ setWeight: 10 }, analysis, { setWeight: 50 }])).run((c) =>
      (c.activity === 'measureAnalysis' ? { value: [{ metric: 'm', phase: 'Inconclusive', message: 'no data', at: 'x' }] } : undefined));
    d.advance(10_000);
    expect(d.r.hold?.kind).toBe('inconclusive');
    expect(acceptCommand(d.r, d.spec, 'promote', { by: 'bob' }, 'update', d.now)).toBe('hold ended: the inconclusive analysis step is over; moving on to the next step');
    d.run();
    expect(resultOf(d)?.outcome).toBe('Promoted');
  });

  it('promote --full skips every remaining step', () => {
    const d = drive(specWith([{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { approval: {} }])).run();
    acceptCommand(d.r, d.spec, 'promote', { full: true, by: 'bob' }, 'update', d.now);
    d.run();
    expect(d.calls.filter((c) => c.activity === 'trafficSetWeight')).toHaveLength(1);
    expect(resultOf(d)?.reason).toMatch(/\(promoted in full by bob\)$/);
  });
});

describe('rollback', () => {
  const paused = () => drive(specWith([{ setWeight: 30 }, { pause: {} }], { rollback: { scaleDownDelay: '5s' } })).run();

  it('an abort takes the saga back in reverse: routes, subsets, then (after the scale-down delay) the canary', () => {
    const d = paused();
    d.calls.length = 0;
    acceptCommand(d.r, d.spec, 'abort', { by: 'oncall', reason: 'p99' }, 'update', d.now);
    expect(d.r.status.phase).toBe('RollingBack');
    d.run();
    expect(d.names()).toEqual(['trafficUndo', 'trafficUndo']);
    expect(d.calls.map((c) => c.budget)).toEqual(['undo', 'undo']);
    expect(d.r.status.message).toBe('aborted by oncall: p99; traffic back on stable, canary removed in 5s');
    expect(d.last!.timers).toEqual([{ at: d.now + 5000, summary: 'rollback: canary scale-down delay' }]);
    d.advance(5000);
    expect(d.names()).toEqual(['trafficUndo', 'trafficUndo', 'removeCanary']);
    expect(resultOf(d)).toMatchObject({ outcome: 'RolledBack', reason: 'aborted by oncall: p99', status: { weights: { stable: 100, canary: 0 } } });
  });

  it('objects already gone count as undone', () => {
    const d = paused();
    acceptCommand(d.r, d.spec, 'abort', { reason: 'x' }, 'update', d.now);
    d.run((c) => (c.activity === 'trafficUndo' ? { value: { done: 'absent' } } : c.activity === 'removeCanary' ? { value: 'absent' } : undefined)).advance(5000);
    expect(resultOf(d)?.outcome).toBe('RolledBack');
  });

  it('each undo runs on its own: a failed subsets undo is reported, the canary is still removed', () => {
    const d = paused();
    acceptCommand(d.r, d.spec, 'abort', { reason: 'x' }, 'update', d.now);
    d.run((c) => (c.activity === 'trafficUndo' && c.args[2] === 'subsets' ? fail('Unavailable', 'apiserver down') : undefined)).advance(5000);
    const result = resultOf(d)!;
    expect(d.names().slice(-3)).toEqual(['trafficUndo', 'trafficUndo', 'removeCanary']);
    expect(result.outcome).toBe('RollbackFailed');
    expect(result.status.leftToFix).toEqual(['set subsets was not undone: apiserver down']);
  });

  it('while traffic may still reach the canary it is kept running, and both are reported', () => {
    const d = paused();
    acceptCommand(d.r, d.spec, 'abort', { reason: 'x' }, 'update', d.now);
    d.run((c) => (c.activity === 'trafficUndo' && c.args[2] === 'routes' ? fail('Unavailable', 'apiserver down') : undefined));
    expect(d.names()).not.toContain('removeCanary');
    const result = resultOf(d)!;
    expect(result.outcome).toBe('RollbackFailed');
    expect(result.status.leftToFix).toEqual([
      'add the canary at 0 % was not undone: apiserver down',
      'the canary Deployment mushop/storefront-original-canary was kept running: a route undo above failed, so it may still receive traffic; delete it once no route sends traffic to it',
    ]);
    expect(result.reason).toBe('aborted by someone: x; the rollback did not finish: 2 thing(s) left to fix by hand');
  });

  it('a canary that never becomes ready: the failed wait rolls back, and the canary recorded before its creation is removed', () => {
    const d = drive(specWith([{ setWeight: 10 }], { rollback: { scaleDownDelay: '0s' } }))
      .run((c) => (c.activity === 'waitAvailable' ? fail('ProgressDeadlineExceeded', 'canary: 0 of 1 available; not ready within the progress deadline') : undefined));
    expect(d.names()).toEqual(['preflight', 'ensureCanary', 'waitAvailable', 'removeCanary']);
    expect(resultOf(d)).toMatchObject({ outcome: 'RolledBack', reason: 'canary: 0 of 1 available; not ready within the progress deadline' });
  });

  it('an abort during the readiness wait cancels the wait, then rolls back', () => {
    const d = drive(specWith([{ setWeight: 10 }], { rollback: { scaleDownDelay: '0s' } })).run((c) => (c.activity === 'waitAvailable' ? 'pending' : undefined));
    const wait = d.pending!;
    acceptCommand(d.r, d.spec, 'abort', { reason: 'stop' }, 'update', d.now);
    d.run();
    expect(d.others).toContainEqual({ kind: 'cancel', id: wait.id });
    d.answer({ failure: { message: 'cancelled', cancelled: true } });
    expect(d.names().slice(-1)).toEqual(['removeCanary']);
    expect(resultOf(d)?.outcome).toBe('RolledBack');
  });

  it('a failing background analysis rolls back with its reason', () => {
    const spec = specWith([{ setWeight: 10 }, { pause: {} }], {
      analysis: { interval: '10s', metrics: [{ name: 'm', query: 'vector(1)', thresholdRange: { min: 2 } }] }, rollback: { scaleDownDelay: '0s' },
    });
    const d = drive(spec).run((c) => (c.activity === 'measureAnalysis' ? { value: [{ metric: 'm', phase: 'Failed', value: 1, message: 'below min 2', at: 'x' }] } : undefined));
    d.advance(10_000);
    expect(resultOf(d)?.reason).toMatch(/^background analysis Failed: /);
  });
});

describe('promotion', () => {
  const approved = () => {
    const d = drive(specWith([{ setWeight: 50 }, { approval: {} }], { rollback: { scaleDownDelay: '0s' } })).run();
    acceptCommand(d.r, d.spec, 'approve', {}, 'update', d.now);
    return d;
  };

  it('a stable roll that fails before the stable changed rolls back', () => {
    const d = approved().run((c) => (c.activity === 'promoteStable' ? fail('Forbidden', 'patch Deployment: HTTP 403') : undefined));
    expect(resultOf(d)).toMatchObject({ outcome: 'RolledBack', reason: 'promotion failed before the stable changed: patch Deployment: HTTP 403' });
  });

  it('a stable that does not become Available after its roll needs a person: RollbackFailed with what to check', () => {
    const d = approved().run((c) => (c.activity === 'waitAvailable' && (c.args[0] as { name: string }).name === 'storefront-original' ? fail('ProgressDeadlineExceeded', 'stable not ready') : undefined));
    const result = resultOf(d)!;
    expect(result.outcome).toBe('RollbackFailed');
    expect(result.status.leftToFix?.[0]).toBe('promotion did not finish: stable not ready');
  });

  it('a cancel during Promoting finishes the promotion and its cleanup', () => {
    const d = approved().run((c) => (c.activity === 'waitAvailable' && (c.args[0] as { name: string }).name === 'storefront-original' ? 'pending' : undefined));
    reduce(d.r, d.spec, { type: 'cancelRequested', at: d.now });
    d.run();
    expect(d.others.filter((c) => c.kind === 'cancel')).toEqual([]);
    d.answer(okAnswer(d.pending!));
    expect(d.names().slice(-3)).toEqual(['trafficUndo', 'trafficUndo', 'removeCanary']);
    expect(resultOf(d)?.outcome).toBe('Promoted');
    expect(d.r.cancelRequested).toBe(true);
  });

  it('a cancel before Promoting rolls back', () => {
    const d = drive(specWith([{ setWeight: 50 }, { pause: {} }], { rollback: { scaleDownDelay: '0s' } })).run();
    reduce(d.r, d.spec, { type: 'cancelRequested', at: d.now });
    d.run();
    expect(resultOf(d)).toMatchObject({ outcome: 'RolledBack', reason: 'the workflow was cancelled' });
  });

  it('cleanup after a promotion counts a deleted traffic object as undone', () => {
    const d = approved().run((c) => (c.activity === 'trafficUndo' ? { value: { done: 'absent' } } : undefined));
    expect(resultOf(d)).toMatchObject({ outcome: 'Promoted' });
    expect(resultOf(d)!.status.leftToFix).toBeUndefined();
  });
});

describe('analysis looks', () => {
  it('a judged analysis looks at once, then every interval, at the look time it fixed', () => {
    const spec = specWith([{ setWeight: 10 }, { analysis: { interval: '30s', count: 2, judge: { sequential: { calibrationBatches: 0 } } } }]);
    const d = drive(spec).run();
    const looks = () => d.calls.filter((c) => c.activity === 'readCounters').map((c) => (c.args[0] as { at: number }).at - T0);
    expect(looks()).toEqual([0]);
    d.advance(30_000);
    expect(looks()).toEqual([0, 30_000]);
    expect(d.calls.at(-1)!.summary).toBe('step analysis: sequential judge, look 1');
  });

  it('a metrics analysis measures one interval after it starts, at that time', () => {
    const spec = specWith([{ setWeight: 10 }, { analysis: { interval: '15s', count: 1, metrics: [{ name: 'm', query: 'vector(1)', thresholdRange: { min: 0 } }] } }]);
    const d = drive(spec).run();
    expect(d.names()).not.toContain('measureAnalysis');
    d.advance(15_000);
    expect(d.calls.find((c) => c.activity === 'measureAnalysis')!.args[0]).toMatchObject({ at: new Date(T0 + 15_000).toISOString() });
    expect(resultOf(d)?.outcome).toBe('Promoted');
  });
});

describe('continue-as-new', () => {
  it('hands over only inside the steps with nothing in flight', () => {
    const d = drive(specWith([{ setWeight: 10 }, { pause: {} }])).run((c) => (c.activity === 'waitAvailable' ? 'pending' : undefined));
    expect(canHandOver(d.r)).toBe(false);
    d.answer(okAnswer(d.pending!));
    expect(d.r.status.phase).toBe('Paused');
    expect(canHandOver(d.r)).toBe(true);
    // The state is plain JSON: a new run gets exactly this value.
    expect(JSON.parse(JSON.stringify(d.r))).toEqual(d.r);
  });

  it.each([[1999, false, false], [2000, false, true], [10, true, true]])('history %d, suggested %s → due %s', (length, suggested, due) => {
    expect(handOverDue(length, 2000, suggested)).toBe(due);
  });
});
