import { closest, editDistance } from '../../../../src/domain/spec/closest';

describe('editDistance: edits a person counts, a swap of neighbours being one', () => {
  it.each([
    ['', '', 0], ['steps', 'steps', 0], ['', 'abc', 3], ['abc', '', 3],
    ['stpes', 'steps', 1], ['setWieght', 'setWeight', 1], ['kitten', 'sitting', 3],
    ['alfa', 'alpha', 2], ['ca', 'abc', 3],
  ])('%s → %s: %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('closest: the field a typo meant, or none', () => {
  const spec = ['target', 'canary', 'traffic', 'steps', 'analysis', 'progressDeadline', 'rollback'];
  const step = ['setWeight', 'pause', 'approval', 'analysis'];
  it.each([
    ['stpes', spec, 'steps'],
    ['setweight', step, 'setWeight'],
    ['SETWEIGHT', step, 'setWeight'],
    ['aproval', step, 'approval'],
    ['progresDeadline', spec, 'progressDeadline'],
    ['alfa', ['alpha', 'tolerance'], 'alpha'],
    ['foo', spec, undefined],
    ['id', ['min', 'max'], undefined],
    ['strategy', spec, undefined],
    ['x', [], undefined],
  ])('%s → %s', (name, candidates, want) => {
    expect(closest(name, candidates)).toBe(want);
  });
});
