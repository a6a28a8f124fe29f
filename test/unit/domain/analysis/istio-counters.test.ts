import { armCounters, armHistory, CounterAnswerError, counterQueries, CounterQueryError, type CounterAnswers } from '../../../../src/domain/analysis/istio-counters';

const series = (workload: string, value: number, extra: Record<string, string> = {}) => ({ labels: { destination_workload: workload, ...extra }, value });
const bucket = (workload: string, le: string, value: number) => series(workload, value, { le });

describe('counterQueries', () => {
  it('selects both workloads server-side, summed per workload (and per le for buckets)', () => {
    const q = counterQueries('mushop', ['storefront-canary', 'storefront']);
    const sel = 'reporter="destination",destination_workload_namespace="mushop",destination_workload=~"storefront-canary|storefront"';
    expect(q).toEqual({
      requests: `sum by (destination_workload) (istio_requests_total{${sel}})`,
      errors: `sum by (destination_workload) (istio_requests_total{${sel},response_code=~"5.."})`,
      buckets: `sum by (destination_workload, le) (istio_request_duration_milliseconds_bucket{${sel}})`,
    });
  });

  it('escapes the dots a Kubernetes name may hold, so "a.b" does not match "axb"', () => {
    expect(counterQueries('ns', ['web.v2']).requests).toContain('destination_workload=~"web\\\\.v2"');
  });

  it.each([['namespace', 'ns"}', 'w'], ['workload', 'ns', 'w|.*'], ['empty workload', 'ns', '']])('refuses a %s that could leave its label value', (_what, ns, w) => {
    expect(() => counterQueries(ns, [w])).toThrow(CounterQueryError);
  });
});

describe('armCounters', () => {
  const answers: CounterAnswers = {
    requests: [series('canary', 120), series('stable', 1000)],
    errors: [series('canary', 6)],
    buckets: [
      bucket('canary', '+Inf', 120), bucket('canary', '100', 110), bucket('canary', '25', 60),
      bucket('stable', '25', 700), bucket('stable', '100', 990), bucket('stable', '+Inf', 1000),
    ],
  };

  const cases: [string, CounterAnswers, string, unknown][] = [
    ['canary: buckets sorted by le, +Inf as the count', answers, 'canary',
      { requests: 120, errors: 6, latency: { buckets: [{ le: 25, count: 60 }, { le: 100, count: 110 }], count: 120 } }],
    ['a workload without 5xx series has 0 errors', answers, 'stable',
      { requests: 1000, errors: 0, latency: { buckets: [{ le: 25, count: 700 }, { le: 100, count: 990 }], count: 1000 } }],
    ['a workload without any series served nothing yet (no histogram)', answers, 'ghost', { requests: 0, errors: 0 }],
    ['without +Inf, the largest finite bucket is the total', { ...answers, buckets: [bucket('canary', '25', 3), bucket('canary', '50', 9)] }, 'canary',
      { requests: 120, errors: 6, latency: { buckets: [{ le: 25, count: 3 }, { le: 50, count: 9 }], count: 9 } }],
  ];
  it.each(cases)('%s', (_name, a, workload, expected) => {
    expect(armCounters(a, workload)).toEqual(expected);
  });

  it.each([
    ['a negative counter', { ...answers, requests: [series('canary', -1)] }, /requests of canary is -1; a counter must be a finite number ≥ 0/],
    ['a NaN counter', { ...answers, errors: [series('canary', NaN)] }, /5xx responses of canary is NaN/],
    ['two series for one workload', { ...answers, requests: [series('canary', 1), series('canary', 2)] }, /requests of canary: 2 series where the query sums to one/],
    ['a bucket without a numeric le', { ...answers, buckets: [bucket('canary', 'fast', 1)] }, /bucket of canary has le="fast"/],
  ])('refuses %s', (_name, a, message) => {
    expect(() => armCounters(a as CounterAnswers, 'canary')).toThrow(CounterAnswerError);
    expect(() => armCounters(a as CounterAnswers, 'canary')).toThrow(message);
  });
});

describe('armHistory: one workload\'s counters at each time of three range queries', () => {
  const times = [1000, 2000, 3000, 4000];
  const req = (w: string, points: [number, number][]) => ({ labels: { destination_workload: w }, points });
  const bucket = (le: string, points: [number, number][]) => ({ labels: { destination_workload: 'web', le }, points });

  it('turns each time into counters, oldest first', () => {
    const h = armHistory({
      requests: [req('web', [[1000, 10], [2000, 20], [3000, 30], [4000, 40]]), req('other', [[1000, 99], [4000, 99]])],
      errors: [req('web', [[1000, 1], [2000, 1], [3000, 2], [4000, 2]])],
      buckets: [bucket('100', [[1000, 9], [2000, 18], [3000, 27], [4000, 36]]), bucket('+Inf', [[1000, 10], [2000, 20], [3000, 30], [4000, 40]])],
    }, 'web', times);
    expect(h).toEqual([10, 20, 30, 40].map((n, i) => ({ requests: n, errors: [1, 1, 2, 2][i], latency: { buckets: [{ le: 100, count: n * 0.9 }], count: n } })));
  });

  it('keeps only the run of consecutive times that ends at the last one: a gap or a workload not there yet cuts the history', () => {
    const answers = (points: [number, number][]) => ({ requests: [req('web', points)], errors: [], buckets: [] });
    expect(armHistory(answers([[3000, 30], [4000, 40]]), 'web', times).map((a) => a.requests)).toEqual([30, 40]);
    expect(armHistory(answers([[1000, 10], [3000, 30], [4000, 40]]), 'web', times).map((a) => a.requests)).toEqual([30, 40]);
    expect(armHistory(answers([[1000, 10], [2000, 20], [3000, 30]]), 'web', times)).toEqual([]);
    expect(armHistory(answers([]), 'web', times)).toEqual([]);
  });

  it('matches Prometheus\' evaluation times to the millisecond (they come back as float seconds)', () => {
    const h = armHistory({ requests: [req('web', [[999, 10], [2001, 20]])], errors: [], buckets: [] }, 'web', [1000, 2000]);
    expect(h.map((a) => a.requests)).toEqual([10, 20]);
  });
});
