import {
  armCounters,
  armHistory,
  armNames,
  countersRoutingProblem,
  checkCounters,
  COUNTER_TEMPLATES,
  CounterAnswerError,
  CounterQueryError,
  counterTemplatesFor,
  renderCounterQueries,
  type CounterAnswers,
  type CounterQueryTemplates,
  type CountersSpec,
} from '../../../../src/domain/analysis/counters';

const series = (workload: string, value: number, extra: Record<string, string> = {}) => ({ labels: { destination_workload: workload, ...extra }, value });
const bucket = (workload: string, le: string, value: number) => series(workload, value, { le });
const istio = COUNTER_TEMPLATES.istio;

/** A complete set of queries of the user's own, grouped by `workload`. */
const mine = {
  requests: 'sum by (workload) (rate_source_total{namespace="{{namespace}}", workload=~"{{workloads}}"})',
  errors: 'sum by (workload) (rate_source_total{namespace="{{namespace}}", workload=~"{{workloads}}", code=~"5.."})',
  latencyBuckets: 'sum by (workload, le) (latency_ms_bucket{namespace="{{namespace}}", workload=~"{{workloads}}"})',
};

describe('renderCounterQueries', () => {
  it('renders Istio\'s template to the exact queries recorded rollouts sent: server side, summed per workload (and per le for buckets)', () => {
    const q = renderCounterQueries(istio, 'mushop', ['storefront-canary', 'storefront']);
    const sel = 'reporter="destination",destination_workload_namespace="mushop",destination_workload=~"storefront-canary|storefront"';
    expect(q).toEqual({
      requests: `sum by (destination_workload) (istio_requests_total{${sel}})`,
      errors: `sum by (destination_workload) (istio_requests_total{${sel},response_code=~"5.."})`,
      latencyBuckets: `sum by (destination_workload, le) (istio_request_duration_milliseconds_bucket{${sel}})`,
    });
  });

  it('escapes the dots a Kubernetes name may hold, so "a.b" does not match "axb"', () => {
    expect(renderCounterQueries(istio, 'ns', ['web.v2']).requests).toContain('destination_workload=~"web\\\\.v2"');
  });

  it('renders a user\'s own queries, with or without spaces inside the braces', () => {
    const q = renderCounterQueries({ ...mine, workloadLabel: 'workload' }, 'shop', ['web-canary', 'web']);
    expect(q.requests).toBe('sum by (workload) (rate_source_total{namespace="shop", workload=~"web-canary|web"})');
    expect(q.latencyBuckets).toBe('sum by (workload, le) (latency_ms_bucket{namespace="shop", workload=~"web-canary|web"})');
  });

  const broken: [string, Partial<CounterQueryTemplates>, string, string[], RegExp][] = [
    ['a namespace that could leave its label value', {}, 'ns"}', ['w'], /cannot select the counters of "ns\\"}"/],
    ['a workload that could leave its label value', {}, 'ns', ['w|.*'], /cannot select the counters of "w\|\.\*"/],
    ['an empty workload', {}, 'ns', [''], /cannot select the counters of ""/],
    ['a placeholder it does not know', { errors: 'sum by (destination_workload) (x{job="{{ job }}",destination_workload=~"{{ workloads }}"})' }, 'ns', ['w'], /counter query errors uses \{\{ job \}\}/],
    ['a bad workload label', { workloadLabel: 'destination-workload' }, 'ns', ['w'], /workload label "destination-workload" is not a Prometheus label name/],
  ];
  it.each(broken)('refuses %s', (_what, over, ns, workloads, message) => {
    expect(() => renderCounterQueries({ ...istio, ...over }, ns, workloads)).toThrow(CounterQueryError);
    expect(() => renderCounterQueries({ ...istio, ...over }, ns, workloads)).toThrow(message);
  });
});

describe('counterTemplatesFor: which queries an analysis reads', () => {
  const cases: [string, CountersSpec | undefined, string, CounterQueryTemplates][] = [
    ['no counters section: the traffic provider\'s template', undefined, 'istio', istio],
    ['an empty section: the same', {}, 'istio', istio],
    ['a template named', { template: 'istio' }, 'istio', istio],
    ['one query of the user\'s own, the rest from the template', { template: 'istio', errors: 'sum by (destination_workload) (e{w=~"{{ workloads }}"})' }, 'istio',
      { ...istio, errors: 'sum by (destination_workload) (e{w=~"{{ workloads }}"})' }],
    ['all three of the user\'s own, with their label', { ...mine, workloadLabel: 'workload' }, 'istio', { ...mine, workloadLabel: 'workload' }],
    ['all three with a template: the label defaults to the template\'s', { ...mine, template: 'istio' }, 'istio', { ...mine, workloadLabel: 'destination_workload' }],
    ['queries of the user\'s own need no template from the traffic provider', { ...mine, workloadLabel: 'workload' }, 'gateway-api', { ...mine, workloadLabel: 'workload' }],
  ];
  it.each(cases)('%s', (_name, spec, provider, expected) => {
    expect(counterTemplatesFor(spec, provider)).toEqual(expected);
  });

  it.each<[string, CountersSpec | undefined]>([['no counters', undefined], ['an empty section', {}]])('refuses a traffic provider without a template when the analysis names none (%s)', (_name, spec) => {
    expect(() => counterTemplatesFor(spec, 'linkerd')).toThrow(/traffic provider "linkerd" has no built-in counter queries: set the analysis' counters.template \(istio, contour\)/);
  });

  const contour = COUNTER_TEMPLATES.contour;
  const gatewayCases: [string, CountersSpec | undefined, CounterQueryTemplates][] = [
    ['gateway-api without counters: Contour\'s, counted per Service', undefined, contour],
    ['gateway-api with template istio (Istio implementing Gateway API): per Deployment', { template: 'istio' }, istio],
    ['gateway-api with all three of the user\'s own: per Deployment', { ...mine, workloadLabel: 'workload' }, { ...mine, workloadLabel: 'workload' }],
    ['gateway-api with all three of the user\'s own over template contour: per Service', { ...mine, workloadLabel: 'workload', template: 'contour' }, { ...mine, workloadLabel: 'workload', arms: 'services' }],
    ['gateway-api with one query of the user\'s own: the rest and the arms from Contour\'s', { errors: 'sum by (upstream_service) (e{s=~"{{ workloads }}"})' },
      { ...contour, errors: 'sum by (upstream_service) (e{s=~"{{ workloads }}"})' }],
  ];
  it.each(gatewayCases)('%s', (_name, spec, expected) => {
    expect(counterTemplatesFor(spec, 'gateway-api')).toEqual(expected);
  });

  it('Istio\'s resolved templates carry no arms field: their activity input stays byte for byte what it was', () => {
    expect(JSON.stringify(counterTemplatesFor(undefined, 'istio'))).toBe(JSON.stringify({ requests: istio.requests, errors: istio.errors, latencyBuckets: istio.latencyBuckets, workloadLabel: istio.workloadLabel }));
  });

  it('does not read a template off the object prototype', () => {
    expect(() => counterTemplatesFor(undefined, 'constructor')).toThrow(CounterQueryError);
  });
});

describe('checkCounters: every problem names the field and the fix', () => {
  const cases: [string, CountersSpec, { path: string[]; message: string | RegExp }[]][] = [
    ['a template alone', { template: 'istio' }, []],
    ['all three queries with their label', { ...mine, workloadLabel: 'workload' }, []],
    ['the example of docs/analysis.md: template, all three and a label', { template: 'istio', ...mine, workloadLabel: 'workload' }, []],
    ['one query over a template, grouped by its label', { template: 'istio', errors: 'sum by (destination_workload) (e{x=~"{{ workloads }}"})' }, []],
    ['buckets without le in their grouping', { ...mine, latencyBuckets: 'sum by (workload) (latency_ms_bucket{workload=~"{{ workloads }}"})', workloadLabel: 'workload' },
      [{ path: ['latencyBuckets'], message: 'must answer one series per workload and bucket: aggregate with by (workload, le), e.g. sum by (workload, le) (…)' }]],
    ['a query grouped by another label', { ...mine, requests: 'sum by (app) (r{workload=~"{{ workloads }}"})', workloadLabel: 'workload' },
      [{ path: ['requests'], message: 'must answer one series per workload: aggregate with by (workload), e.g. sum by (workload) (…)' }]],
    ['the grouping after the aggregation is fine too', { ...mine, errors: 'sum(e{workload=~"{{ workloads }}"}) by (workload)', workloadLabel: 'workload' }, []],
    ['a query that does not select the workloads', { ...mine, requests: 'sum by (workload) (r{namespace="{{ namespace }}"})', workloadLabel: 'workload' },
      [{ path: ['requests'], message: 'must select the canary and the baseline with {{ workloads }}, e.g. workload=~"{{ workloads }}"' }]],
    ['an unknown placeholder', { ...mine, errors: 'sum by (workload) (e{workload=~"{{ workloads }}",code=~"{{ codes }}"})', workloadLabel: 'workload' },
      [{ path: ['errors'], message: /^uses \{\{ codes \}\}; a counter query knows only \{\{ namespace \}\}/ }]],
    ['a malformed placeholder', { ...mine, errors: 'sum by (workload) (e{workload=~"{{ workloads }}",ns="{{ name space }}"})', workloadLabel: 'workload' },
      [{ path: ['errors'], message: 'has malformed placeholder {{ name space }}: write {{ namespace }} or {{ workloads }}' }]],
    ['some queries without a template', { requests: mine.requests, workloadLabel: 'workload' },
      [{ path: ['template'], message: 'give the template that errors and latencyBuckets come from (istio, contour), or give errors and latencyBuckets too' }]],
    ['all three without a label or template', { ...mine },
      [{ path: ['workloadLabel'], message: 'give the label your queries group by and whose value is the workload\'s name, e.g. workloadLabel: workload' }]],
    ['a label of its own over the template\'s other queries', { template: 'istio', requests: mine.requests, workloadLabel: 'workload' },
      [{ path: ['workloadLabel'], message: 'the istio template\'s errors and latencyBuckets group by destination_workload, not workload; give errors and latencyBuckets too, or drop workloadLabel' }]],
    ['a label without queries', { template: 'istio', workloadLabel: 'workload' },
      [{ path: ['workloadLabel'], message: 'names the label your own requests, errors and latencyBuckets queries group by; give them, or drop workloadLabel to use the template\'s' }]],
    ['a label that is not a label name', { ...mine, workloadLabel: 'work-load' },
      [{ path: ['workloadLabel'], message: 'must be a Prometheus label name (letters, digits and _, not starting with a digit), got "work-load"' }]],
  ];
  it.each(cases)('%s', (_name, spec, expected) => {
    const problems = checkCounters(spec);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((e, i) => {
      expect(problems[i]!.path).toEqual(e.path);
      if (typeof e.message === 'string') expect(problems[i]!.message).toBe(e.message);
      else expect(problems[i]!.message).toMatch(e.message);
    });
  });

  it('every spec it accepts resolves and renders for an Istio rollout', () => {
    for (const [, spec, expected] of cases) {
      if (expected.length > 0) continue;
      expect(() => renderCounterQueries(counterTemplatesFor(spec, 'istio'), 'ns', ['web-canary', 'web'])).not.toThrow();
    }
  });
});

describe('the contour template: Envoy cluster stats per Service, as Contour names them', () => {
  const contour = COUNTER_TEMPLATES.contour;
  it('renders to queries that select <namespace>_<service>_<port> and group by the Service', () => {
    const q = renderCounterQueries(contour, 'shop', ['web-canary', 'web-stable']);
    const arm = (metric: string, extra = '') =>
      `label_replace(${metric}{envoy_cluster_name=~"shop_(web-canary|web-stable)_[0-9]+"${extra}}, "upstream_service", "$1", "envoy_cluster_name", "shop_(.+)_[0-9]+")`;
    expect(q).toEqual({
      requests: `sum by (upstream_service) (${arm('envoy_cluster_upstream_rq')})`,
      errors: `sum by (upstream_service) (${arm('envoy_cluster_upstream_rq', ',envoy_response_code=~"5.."')})`,
      latencyBuckets: `sum by (upstream_service, le) (${arm('envoy_cluster_upstream_rq_time_bucket')})`,
    });
    expect(contour.arms).toBe('services');
    expect(checkCounters({ template: 'contour' })).toEqual([]);
  });

  it('reads each arm\'s counters from answers labelled by Service', () => {
    const answers: CounterAnswers = {
      requests: [{ labels: { upstream_service: 'web-canary' }, value: 40 }, { labels: { upstream_service: 'web-stable' }, value: 160 }],
      errors: [{ labels: { upstream_service: 'web-canary' }, value: 4 }],
      latencyBuckets: [{ labels: { upstream_service: 'web-canary', le: '25' }, value: 30 }, { labels: { upstream_service: 'web-canary', le: '+Inf' }, value: 40 }],
    };
    expect(armCounters(answers, 'web-canary', contour.workloadLabel)).toEqual({ requests: 40, errors: 4, latency: { buckets: [{ le: 25, count: 30 }], count: 40 } });
    expect(armCounters(answers, 'web-stable', contour.workloadLabel)).toEqual({ requests: 160, errors: 0 });
  });
});

describe('arms: what the canary and baseline are read by', () => {
  const names = { canaryWorkload: 'web-canary-dep', baselineWorkload: 'web', canaryService: 'web-canary', stableService: 'web-stable' };
  it('workloads (or nothing said): the Deployments', () => {
    expect(armNames(undefined, names)).toEqual({ canary: 'web-canary-dep', baseline: 'web' });
    expect(armNames('workloads', names)).toEqual({ canary: 'web-canary-dep', baseline: 'web' });
  });
  it('services: the canary and stable Services', () => {
    expect(armNames('services', names)).toEqual({ canary: 'web-canary', baseline: 'web-stable' });
  });
  it('services without service routing is refused, naming the fix', () => {
    expect(() => armNames('services', { canaryWorkload: 'a', baselineWorkload: 'b' })).toThrow(/routing.mode service/);
  });

  const routing: [string, CountersSpec | undefined, string, string, RegExp | undefined][] = [
    ['Istio, subset routing, default template', undefined, 'istio', 'subset', undefined],
    ['Istio, subset routing, template contour', { template: 'contour' }, 'istio', 'subset', /count per Service, but spec.traffic.routing.mode is subset/],
    ['Istio, service routing, template contour', { template: 'contour' }, 'istio', 'service', undefined],
    ['gateway-api (always service routing)', undefined, 'gateway-api', 'service', undefined],
  ];
  it.each(routing)('countersRoutingProblem: %s', (_name, spec, provider, mode, problem) => {
    const p = countersRoutingProblem(spec, provider, mode);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toMatch(problem);
  });
});

describe('armCounters', () => {
  const answers: CounterAnswers = {
    requests: [series('canary', 120), series('stable', 1000)],
    errors: [series('canary', 6)],
    latencyBuckets: [
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
    ['without +Inf, the largest finite bucket is the total', { ...answers, latencyBuckets: [bucket('canary', '25', 3), bucket('canary', '50', 9)] }, 'canary',
      { requests: 120, errors: 6, latency: { buckets: [{ le: 25, count: 3 }, { le: 50, count: 9 }], count: 9 } }],
  ];
  it.each(cases)('%s', (_name, a, workload, expected) => {
    expect(armCounters(a, workload, 'destination_workload')).toEqual(expected);
  });

  it('picks each workload\'s series by the workload label it is given', () => {
    const relabel = (s: { labels: Record<string, string>; value: number }) => {
      const { destination_workload: w, ...rest } = s.labels;
      return { labels: { ...rest, workload: w! }, value: s.value };
    };
    const byWorkload: CounterAnswers = { requests: answers.requests.map(relabel), errors: answers.errors.map(relabel), latencyBuckets: answers.latencyBuckets.map(relabel) };
    expect(armCounters(byWorkload, 'canary', 'workload')).toEqual(armCounters(answers, 'canary', 'destination_workload'));
    expect(armCounters(byWorkload, 'canary', 'destination_workload')).toEqual({ requests: 0, errors: 0 });
  });

  it.each([
    ['a negative counter', { ...answers, requests: [series('canary', -1)] }, /requests of canary is -1; a counter must be a finite number ≥ 0/],
    ['a NaN counter', { ...answers, errors: [series('canary', NaN)] }, /5xx responses of canary is NaN/],
    ['two series for one workload', { ...answers, requests: [series('canary', 1), series('canary', 2)] }, /requests of canary: 2 series where the query sums to one/],
    ['a bucket without a numeric le', { ...answers, latencyBuckets: [bucket('canary', 'fast', 1)] }, /bucket of canary has le="fast"/],
  ])('refuses %s', (_name, a, message) => {
    expect(() => armCounters(a as CounterAnswers, 'canary', 'destination_workload')).toThrow(CounterAnswerError);
    expect(() => armCounters(a as CounterAnswers, 'canary', 'destination_workload')).toThrow(message);
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
      latencyBuckets: [bucket('100', [[1000, 9], [2000, 18], [3000, 27], [4000, 36]]), bucket('+Inf', [[1000, 10], [2000, 20], [3000, 30], [4000, 40]])],
    }, 'web', times, 'destination_workload');
    expect(h).toEqual([10, 20, 30, 40].map((n, i) => ({ requests: n, errors: [1, 1, 2, 2][i], latency: { buckets: [{ le: 100, count: n * 0.9 }], count: n } })));
  });

  it('keeps only the run of consecutive times that ends at the last one: a gap or a workload not there yet cuts the history', () => {
    const answers = (points: [number, number][]) => ({ requests: [req('web', points)], errors: [], latencyBuckets: [] });
    const history = (points: [number, number][]) => armHistory(answers(points), 'web', times, 'destination_workload');
    expect(history([[3000, 30], [4000, 40]]).map((a) => a.requests)).toEqual([30, 40]);
    expect(history([[1000, 10], [3000, 30], [4000, 40]]).map((a) => a.requests)).toEqual([30, 40]);
    expect(history([[1000, 10], [2000, 20], [3000, 30]])).toEqual([]);
    expect(history([])).toEqual([]);
  });

  it('matches Prometheus\' evaluation times to the millisecond (they come back as float seconds)', () => {
    const h = armHistory({ requests: [req('web', [[999, 10], [2001, 20]])], errors: [], latencyBuckets: [] }, 'web', [1000, 2000], 'destination_workload');
    expect(h.map((a) => a.requests)).toEqual([10, 20]);
  });
});
