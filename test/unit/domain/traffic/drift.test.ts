import { checkDrift, DriftCheck } from '../../../../src/domain/traffic/drift';

describe('checkDrift: the canary weight read before a weight step', () => {
  const table: { what: string; current: number; expected: number; next: number; ahead?: number[]; want: DriftCheck }[] = [
    { what: 'as Ramp set it', current: 20, expected: 20, next: 60, want: 'unchanged' },
    { what: 'already at the step’s weight: a write of this step whose result the history lost', current: 60, expected: 20, next: 60, want: 'own-write' },
    { what: 'someone set it to something else', current: 35, expected: 20, next: 60, want: 'drift' },
    { what: 'someone sent everything back to stable', current: 0, expected: 20, next: 60, want: 'drift' },
    { what: 'a step that sets the weight Ramp already set', current: 20, expected: 20, next: 20, want: 'unchanged' },
    { what: 'someone moved it to 100 before the step to 100', current: 100, expected: 60, next: 100, want: 'own-write' },
    { what: 'a lost task went on to the next weight step (20 → 60 → 100, killed before it completed)', current: 100, expected: 20, next: 60, ahead: [100], want: 'own-write' },
    { what: 'a weight no step ahead sets is still drift', current: 35, expected: 20, next: 60, ahead: [80, 100], want: 'drift' },
    { what: 'without the steps ahead (inputs of older rollouts), a later weight is drift as before', current: 100, expected: 20, next: 60, want: 'drift' },
  ];
  it.each(table)('$what', ({ current, expected, next, ahead, want }) => {
    expect(checkDrift(current, expected, next, ahead)).toBe(want);
  });
});
