import { commitMessage, parseTrailers, type RolloutCommit, TRAILER_KEYS, TrailerError } from '../../../../src/domain/gitops/commit-message';

const base: RolloutCommit = { rollout: { namespace: 'shop', name: 'checkout' }, runId: 'r-1a2b', action: 'setWeight' };

describe('commitMessage', () => {
  it('names the rollout, step, weights and who asked, and ends with the trailers', () => {
    const m = commitMessage({ ...base, step: { index: 3, kind: 'setWeight' }, weights: { stable: 40, canary: 60 }, requestedBy: 'alice@example.com', reason: 'analysis passed' });
    expect(m.subject).toBe('ramp shop/checkout: step 3 (setWeight): set weights stable 40% / canary 60%');
    expect(m.message).toBe([
      m.subject,
      '',
      'Rollout shop/checkout, run r-1a2b, step 3 (setWeight): set weights stable 40% / canary 60%.',
      'Requested by alice@example.com.',
      'analysis passed',
      '',
      'Ramp-Rollout: shop/checkout',
      'Ramp-Run: r-1a2b',
      'Ramp-Step: 3',
      'Ramp-Action: setWeight',
      'Ramp-Weights: stable=40,canary=60',
      'Ramp-Requested-By: alice@example.com',
      '',
    ].join('\n'));
  });

  it('a newline in who asked cannot forge a trailer', () => {
    const m = commitMessage({ ...base, requestedBy: 'mallory\nRamp-Action: promote' });
    expect(parseTrailers(m.message)).toMatchObject({ action: 'setWeight', requestedBy: 'mallory Ramp-Action: promote' });
  });
});

describe('parseTrailers', () => {
  it.each<RolloutCommit>([
    { ...base, step: { index: 0, kind: 'setWeight' }, weights: { stable: 95, canary: 5 }, requestedBy: 'ramp' },
    { ...base, action: 'promote', step: { index: 7, kind: 'promote' }, requestedBy: 'ci (github actions)' },
    { ...base, action: 'rollback', weights: { stable: 100, canary: 0 } },
    { ...base, action: 'cleanup-route' },
    { ...base, action: 'cleanup-subset' },
    { ...base, action: 'cleanup-canary' },
    { ...base, action: 'emergency', weights: { stable: 100, canary: 0 }, requestedBy: 'on-call' },
  ])('round trip: $action', (c) => {
    expect(parseTrailers(commitMessage(c).message)).toEqual({
      rollout: c.rollout,
      runId: c.runId,
      action: c.action,
      ...(c.step ? { step: c.step.index } : {}),
      ...(c.weights ? { weights: c.weights } : {}),
      ...(c.requestedBy ? { requestedBy: c.requestedBy } : {}),
    });
  });

  it('a commit without Ramp trailers is someone else\'s', () => {
    expect(parseTrailers('Bump the image\n\nSigned-off-by: Bob <bob@example.com>\n')).toBeUndefined();
  });

  it('trailers only count in the last paragraph; CRLF messages read the same', () => {
    expect(parseTrailers('x\n\nRamp-Rollout: a/b\n\nnothing here\n')).toBeUndefined();
    expect(parseTrailers('x\r\n\r\nRamp-Rollout: a/b\r\nRamp-Run: r\r\nRamp-Action: promote\r\n')).toEqual({ rollout: { namespace: 'a', name: 'b' }, runId: 'r', action: 'promote' });
  });

  it.each([
    ['Ramp-Rollout: checkout\nRamp-Run: r\nRamp-Action: promote', /Ramp-Rollout: "checkout" is not namespace\/name/],
    ['Ramp-Rollout: a/b\nRamp-Action: promote', /Ramp-Run: "" is not present/],
    ['Ramp-Rollout: a/b\nRamp-Run: r\nRamp-Action: dance', /Ramp-Action: "dance" is not one of prepare, deploy-canary, setWeight, promote/],
    ['Ramp-Rollout: a/b\nRamp-Run: r\nRamp-Action: promote\nRamp-Step: two', /Ramp-Step: "two" is not a step index/],
    ['Ramp-Rollout: a/b\nRamp-Run: r\nRamp-Action: promote\nRamp-Weights: 40/60', /Ramp-Weights: "40\/60" is not stable=<n>,canary=<n>/],
  ])('malformed: %s', (trailers, message) => {
    expect(() => parseTrailers(`subject\n\n${trailers}\n`)).toThrow(TrailerError);
    expect(() => parseTrailers(`subject\n\n${trailers}\n`)).toThrow(message);
  });

  it('the keys are the exported ones', () => {
    expect(Object.values(TRAILER_KEYS)).toEqual(['Ramp-Rollout', 'Ramp-Run', 'Ramp-Step', 'Ramp-Action', 'Ramp-Weights', 'Ramp-Requested-By']);
  });
});
