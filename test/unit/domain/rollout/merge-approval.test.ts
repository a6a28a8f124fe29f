/**
 * Approval by merge (git mode): the next weight step's commit is proposed on the rollout's branch,
 * the rollout waits until the target branch holds it, and the branch is deleted once the step is
 * over, whichever way it ended.
 */
import { acceptCommand, commandRefusal } from '../../../../src/domain/rollout/rules';
import { specProblems, newTestRolloutRaw } from '../../../support/builders';
import { drive, fail, resultOf, specWith, T0 } from '../../../support/machine';

const GITOPS = {
  mode: 'git',
  repository: { url: 'https://git.example.com/apps.git', branch: 'main' },
  manifests: { deployment: 'shop/storefront.yaml', virtualService: 'shop/vs.yaml', destinationRule: 'shop/dr.yaml' },
};
const BRANCH = 'ramp/mushop/storefront';
const STEPS = [{ setWeight: 10 }, { approval: { via: 'merge' } }, { setWeight: 100 }];
const spec = (steps: unknown[] = STEPS, extra: Record<string, unknown> = {}) => specWith(steps, { gitops: GITOPS, rollback: { scaleDownDelay: '0s' }, ...extra });

/** Each call as `activity`, with the detail that tells its place: the weight, the branch, the undo. */
const trace = (d: ReturnType<typeof drive>) => d.calls.map((c) => {
  switch (c.activity) {
    case 'trafficSetWeight': case 'trafficPropose': return `${c.activity}:${(c.args[2] as { weight: number }).weight}`;
    case 'trafficUndo': case 'trafficPromote': return `${c.activity}:${String(c.args[2])}`;
    case 'withdrawProposal': return `${c.activity}:${c.args[1]}`;
    default: return c.activity;
  }
});

describe('approval by merge', () => {
  it('proposes the next weight on the rollout\'s branch, waits for the merge, deletes the branch, then sets the weight', () => {
    const d = drive(spec()).run((c) => (c.activity === 'waitMerged' ? 'pending' : undefined));
    expect(trace(d).slice(-3)).toEqual(['trafficSetWeight:10', 'trafficPropose:100', 'waitMerged']);
    const propose = d.calls.at(-2)!;
    expect(propose.args[2]).toEqual({ weight: 100, expected: 10, force: false, step: 2, branch: BRANCH });
    expect(propose.lane).toBe('slow');
    expect(d.pending?.activity).toBe('waitMerged');
    expect(d.pending?.lane).toBe('wait');
    expect(d.r.status.phase).toBe('AwaitingApproval');
    expect(d.r.status.message).toBe(`step 2/3: waiting for branch ${BRANCH} (commit c0ffee000000) to be merged into main; merging it approves`);
    expect(d.r.status.pendingApproval?.merge).toEqual({ branch: BRANCH, commit: 'c0ffee0000000000000000000000000000000000', into: 'main' });
    // The branch is taken back last in a rollback: it carries no traffic.
    expect(d.r.saga[0]).toEqual({ kind: 'proposal', branch: BRANCH });

    d.answer({ value: { state: 'merged', head: 'beef000000000000000000000000000000000000', by: 'Alice <alice@example.com>' } });
    expect(trace(d).slice(6)).toEqual([
      'trafficPropose:100', 'waitMerged', `withdrawProposal:${BRANCH}`, 'trafficSetWeight:100',
      'trafficPromote:begin', 'promoteStable', 'waitAvailable', 'trafficPromote:end', 'trafficUndo:routes', 'trafficUndo:subsets', 'removeCanary',
    ]);
    expect(d.r.status.audit.find((a) => a.event === 'approve')).toMatchObject({ by: 'Alice <alice@example.com>', via: 'workflow', reason: 'merged ramp/mushop/storefront into main (beef00000000)' });
    expect(resultOf(d)?.outcome).toBe('Promoted');
  });

  it('a branch deleted without a merge turns the change down: rollback, the branch taken back last', () => {
    const d = drive(spec()).run((c) => (c.activity === 'waitMerged' ? { value: { state: 'closed' } } : undefined));
    const result = resultOf(d)!;
    expect(result.outcome).toBe('RolledBack');
    expect(result.reason).toBe(`the approval was turned down: branch ${BRANCH} was deleted without being merged into main`);
    expect(trace(d).slice(-4)).toEqual(['trafficUndo:routes', 'trafficUndo:subsets', 'removeCanary', `withdrawProposal:${BRANCH}`]);
    expect(d.calls.at(-1)!.budget).toBe('undo');
  });

  it('an abort cancels the wait at once and rolls back; the routes go first, the branch last', () => {
    const d = drive(spec()).run((c) => (c.activity === 'waitMerged' ? 'pending' : undefined));
    const wait = d.pending!;
    acceptCommand(d.r, d.spec, 'abort', { by: 'bob', reason: 'bad canary' }, 'update', d.now);
    d.run();
    expect(d.last!.commands).toContainEqual({ kind: 'cancel', id: wait.id });
    d.answer({ failure: { message: 'cancelled', cancelled: true } });
    expect(trace(d).slice(-4)).toEqual(['trafficUndo:routes', 'trafficUndo:subsets', 'removeCanary', `withdrawProposal:${BRANCH}`]);
    expect(resultOf(d)?.outcome).toBe('RolledBack');
  });

  it('ramp approve is refused, naming the branch to merge; promote skips the merge and the branch is deleted first', () => {
    const d = drive(spec()).run((c) => (c.activity === 'waitMerged' ? 'pending' : undefined));
    expect(commandRefusal(d.r, d.spec, 'approve', {})).toBe(
      `the rollout mushop/storefront is AwaitingApproval at step 2 of 3 (wait for approval), which is approved by merging branch ${BRANCH} into main, not by command: merge it (or let its review merge it), or abort; promote skips the merge`,
    );
    const wait = d.pending!;
    expect(commandRefusal(d.r, d.spec, 'promote', {})).toBeUndefined();
    acceptCommand(d.r, d.spec, 'promote', { by: 'carol' }, 'update', d.now);
    d.run();
    expect(d.last!.commands).toContainEqual({ kind: 'cancel', id: wait.id });
    d.answer({ failure: { message: 'cancelled', cancelled: true } });
    expect(trace(d).slice(7, 10)).toEqual(['waitMerged', `withdrawProposal:${BRANCH}`, 'trafficSetWeight:100']);
    expect(resultOf(d)?.outcome).toBe('Promoted');
  });

  it('a pending wait is asked again, each time until the next look or the timeout; the timeout aborts', () => {
    const d = drive(spec([{ setWeight: 10 }, { approval: { via: 'merge', timeout: '25m' } }, { setWeight: 100 }], {
      analysis: { interval: '4m', metrics: [{ name: 'm', query: 'q', thresholdRange: { max: 1 } }] },
    })).run((c) => (c.activity === 'waitMerged' ? 'pending' : undefined));
    const entered = d.now;
    const deadline = () => (d.pending!.args[1] as { deadlineAt: number }).deadlineAt;
    // The background analysis' next look comes before the 10-minute slice and the timeout.
    expect(deadline()).toBe(d.r.analyses.background!.nextAt);
    expect(deadline()).toBeLessThan(entered + 25 * 60_000);
    d.now = deadline();
    d.answer({ value: { state: 'pending' } });
    expect(d.names().filter((n) => n === 'measureAnalysis').length).toBeGreaterThan(0);
    expect(d.pending?.activity).toBe('waitMerged');
    d.now = T0 + 60 * 60_000;
    d.answer({ value: { state: 'pending' } });
    const result = resultOf(d)!;
    expect(result.outcome).toBe('RolledBack');
    expect(result.reason).toBe('approval timed out after 1500s');
    expect(d.calls.at(-1)!.activity).toBe('withdrawProposal');
  });

  it('nothing to propose (the target branch already holds the weight): the approval ends, no wait', () => {
    const d = drive(spec()).run((c) => (c.activity === 'trafficPropose' ? { value: { applied: true, weights: { stable: 0, canary: 100 } } } : undefined));
    expect(d.names()).not.toContain('waitMerged');
    expect(resultOf(d)?.outcome).toBe('Promoted');
    expect(d.r.status.audit.find((a) => a.event === 'approve')?.reason).toBe('the target branch main already holds the proposed change');
  });

  it('weights changed outside Ramp before the proposal: held, naming the change', () => {
    const d = drive(spec()).run((c) => (c.activity === 'trafficPropose' ? { value: { applied: false, found: { stable: 70, canary: 30 }, detail: 'VirtualService mushop/storefront: canary weight is 30%, Ramp set 10%' } } : undefined));
    expect(d.r.status.phase).toBe('Paused');
    expect(d.r.status.message).toContain('canary weight is 30%, Ramp set 10% — changed outside Ramp');
    expect(d.names()).not.toContain('waitMerged');
  });

  it.each([
    ['a wait that fails (git down past the retries)', fail('GitUnreachable', 'git fetch failed'), 'waiting for the approval by merge failed: git fetch failed'],
  ])('%s rolls back', (_what, answer, reason) => {
    const d = drive(spec()).run((c) => (c.activity === 'waitMerged' ? answer : undefined));
    expect(resultOf(d)).toMatchObject({ outcome: 'RolledBack', reason });
  });

  it('a branch that could not be deleted at the step\'s end is tried again by the cleanup, then reported', () => {
    const d = drive(spec()).run((c) => (c.activity === 'withdrawProposal' ? fail('GitUnreachable', 'git push failed') : undefined));
    const result = resultOf(d)!;
    expect(d.names().filter((n) => n === 'withdrawProposal')).toHaveLength(2);
    expect(result.outcome).toBe('Promoted');
    expect(result.status.leftToFix).toEqual([`delete branch ${BRANCH} (an approval by merge proposed it; merging it now would change the routes): git push failed`]);
  });
});

describe('approval by merge in the spec', () => {
  const raw = (steps: unknown[], gitops: unknown = GITOPS) => newTestRolloutRaw({ spec: { steps, gitops } });

  it.each([
    ['without git mode', raw(STEPS, { ...GITOPS, mode: 'cluster' }), 'spec.steps[1].approval.via: approval by merge needs spec.gitops.mode: git (the approved change is a commit); use via: command, or git mode'],
    ['without spec.gitops', raw(STEPS, null), 'spec.steps[1].approval.via: approval by merge needs spec.gitops.mode: git (the approved change is a commit); use via: command, or git mode'],
    ['not before a weight step', raw([{ setWeight: 10 }, { approval: { via: 'merge' } }, { pause: {} }]), 'spec.steps[1].approval.via: approval by merge proposes the next step\'s weight as a commit, so step 3 must be a setWeight step; put the approval right before one (e.g. - setWeight: 100)'],
    ['as the last step', raw([{ setWeight: 10 }, { approval: { via: 'merge' } }]), 'spec.steps[1].approval.via: approval by merge proposes the next step\'s weight as a commit, so step 3 must be a setWeight step; put the approval right before one (e.g. - setWeight: 100)'],
    ['an unknown way', raw([{ approval: { via: 'email' } }, { setWeight: 100 }]), 'spec.steps[0].approval.via: must be "command" (ramp approve) or "merge" (git mode: merging a branch approves)'],
  ])('is refused %s', (_what, spec, problem) => {
    expect(specProblems(spec)).toContain(problem);
  });

  it('is accepted before a weight step in git mode; via defaults to command', () => {
    expect(specProblems(raw(STEPS))).toEqual([]);
    expect(specWith([{ approval: {} }, { setWeight: 100 }]).spec.steps[0]).toMatchObject({ kind: 'approval', via: 'command' });
  });
});
