import { compareResourceVersions, ObjectCache } from '../../../scripts/traffic/object-cache';

const obj = (name: string, rv: string, data = '') => ({ metadata: { name, resourceVersion: rv }, data });

describe('compareResourceVersions', () => {
  const table: { a?: string; b?: string; want: number | undefined }[] = [
    { a: '9', b: '10', want: -1 },
    { a: '10', b: '9', want: 1 },
    { a: '12345678901234567890', b: '12345678901234567890', want: 0 },
    { a: 'abc', b: '10', want: undefined },
    { a: undefined, b: '10', want: undefined },
  ];
  it.each(table)('$a vs $b', ({ a, b, want }) => {
    expect(compareResourceVersions(a, b)).toBe(want);
  });
});

describe('ObjectCache: a watch and periodic lists, ordered by resourceVersion', () => {
  type Step = ['list', ReturnType<typeof obj>[], string] | ['event', string, ReturnType<typeof obj>];
  const table: { what: string; steps: Step[]; want: string[]; changed: boolean[] }[] = [
    {
      what: 'a list, then watch events',
      steps: [['list', [obj('a', '5'), obj('b', '6')], '6'], ['event', 'MODIFIED', obj('a', '7', 'x')], ['event', 'DELETED', obj('b', '8')], ['event', 'ADDED', obj('c', '9')]],
      want: ['a@7', 'c@9'],
      changed: [true, true, true, true],
    },
    {
      what: 'a list older than a watch event keeps the newer object',
      steps: [['list', [obj('a', '5')], '5'], ['event', 'MODIFIED', obj('a', '9')], ['list', [obj('a', '5')], '8']],
      want: ['a@9'],
      changed: [true, true, false],
    },
    {
      what: 'a list older than a watch ADDED does not drop the new object',
      steps: [['list', [], '5'], ['event', 'ADDED', obj('n', '9')], ['list', [], '8']],
      want: ['n@9'],
      changed: [false, true, false],
    },
    {
      what: 'a list older than a watch DELETED does not bring the object back',
      steps: [['list', [obj('a', '5')], '5'], ['event', 'DELETED', obj('a', '9')], ['list', [obj('a', '5')], '8']],
      want: [],
      changed: [true, true, false],
    },
    {
      what: 'a newer list removes what the watch missed deleting, and adds what it missed',
      steps: [['list', [obj('a', '5'), obj('b', '5')], '5'], ['list', [obj('b', '5'), obj('c', '11')], '12']],
      want: ['b@5', 'c@11'],
      changed: [true, true],
    },
    {
      what: 'a stale watch event is ignored; a repeated one changes nothing',
      steps: [['list', [obj('a', '9')], '9'], ['event', 'MODIFIED', obj('a', '7')], ['event', 'MODIFIED', obj('a', '9')]],
      want: ['a@9'],
      changed: [true, false, false],
    },
    {
      what: 'an object re-created after its deletion',
      steps: [['list', [obj('a', '5')], '5'], ['event', 'DELETED', obj('a', '6')], ['event', 'ADDED', obj('a', '7')]],
      want: ['a@7'],
      changed: [true, true, true],
    },
    {
      what: 'a bookmark changes nothing',
      steps: [['list', [obj('a', '5')], '5'], ['event', 'BOOKMARK', { metadata: { resourceVersion: '20' } } as ReturnType<typeof obj>]],
      want: ['a@5'],
      changed: [true, false],
    },
  ];
  it.each(table)('$what', ({ steps, want, changed }) => {
    const cache = new ObjectCache<ReturnType<typeof obj>>();
    const got = steps.map((s) => (s[0] === 'list' ? cache.applyList(s[1], s[2]) : cache.applyEvent(s[1], s[2])));
    expect(cache.values().map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`)).toEqual(want);
    expect(got).toEqual(changed);
  });

  it('resumes a watch from the newest resourceVersion it saw, bookmarks included', () => {
    const cache = new ObjectCache<ReturnType<typeof obj>>();
    cache.applyList([obj('a', '5')], '10');
    expect(cache.resourceVersion).toBe('10');
    cache.applyEvent('BOOKMARK', { metadata: { resourceVersion: '20' } } as ReturnType<typeof obj>);
    expect(cache.resourceVersion).toBe('20');
    cache.applyList([], '15');
    expect(cache.resourceVersion).toBe('20');
  });
});
