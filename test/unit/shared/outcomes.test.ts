import type { RolloutResult } from '../../../src/domain/rollout/machine';
import type { AuditEntry, RolloutStatus } from '../../../src/domain/rollout/state';
import { isOutcomeFailureType, outcomeFailure, OutcomeFailure } from '../../../src/shared/outcomes';

const result = (outcome: RolloutResult['outcome'], reason: string, status: Partial<RolloutStatus> = {}): RolloutResult =>
  ({ outcome, reason, status: { audit: [], ...status } as RolloutStatus });
const abort = (accepted: boolean): AuditEntry => ({ at: '', event: 'abort', via: 'update', by: 'oncall', reason: 'p99', accepted });

describe('outcomeFailure: how a finished rollout ends its workflow', () => {
  it.each([
    ['promoted: completes', result('Promoted', 'promoted storefront:v2 to storefront'), undefined],
    ['rolled back by an analysis', result('RolledBack', 'analysis Failed: error-rate 7.1 above 5'),
      { type: OutcomeFailure.RolledBack, message: 'rolled back: analysis Failed: error-rate 7.1 above 5' }],
    ['rolled back after an accepted abort', result('RolledBack', 'aborted by oncall: p99', { audit: [abort(true)] }),
      { type: 'RolloutAborted', message: 'rolled back: aborted by oncall: p99' }],
    ['a refused abort signal does not make a rollback an abort', result('RolledBack', 'approval timed out after 60s', { audit: [abort(false)] }),
      { type: 'RolloutRolledBack', message: 'rolled back: approval timed out after 60s' }],
    ['a rollback that could not finish', result('RollbackFailed', 'analysis Failed: x; the rollback did not finish: 1 thing(s) left to fix by hand', { leftToFix: ['canary Deployment shop/web-canary'] }),
      { type: 'RolloutRollbackFailed', message: 'could not roll back: analysis Failed: x; the rollback did not finish: 1 thing(s) left to fix by hand' }],
    ['refused by the preflight: the count and the first problem', result('Refused', 'refused before any change: the preflight found 2 problem(s): a; b', { problems: ['Deployment shop/web not found', 'Service shop/web not found'] }),
      { type: 'RolloutRefused', message: 'refused before any change: the preflight found 2 problem(s), the first: Deployment shop/web not found' }],
    ['refused without a problem list: the reason as it is', result('Refused', 'refused before any change: the canary Deployment is not Ramp\'s'),
      { type: 'RolloutRefused', message: 'refused before any change: the canary Deployment is not Ramp\'s' }],
  ])('%s', (_name, r, want) => {
    expect(outcomeFailure(r)).toEqual(want);
  });

  it('names every type a client must recognise, and nothing else', () => {
    expect(Object.values(OutcomeFailure).every(isOutcomeFailureType)).toBe(true);
    expect([undefined, null, '', 'NotFound', 'PreflightRefused'].some(isOutcomeFailureType)).toBe(false);
  });
});
