import type { AnalysisSpec, MetricSpec } from '../../../../src/domain/spec/analysis';
import {
  BUILTIN_QUERIES,
  checkTemplates,
  promDuration,
  queryTemplateFor,
  renderQuery,
  TemplateError,
  templateVariables,
} from '../../../../src/domain/analysis/templates';

const RAMP_VARS = { namespace: 'shop', target: 'checkout-canary', interval: '60s' };

function newMetric(overrides: Partial<MetricSpec> = {}): MetricSpec {
  return { name: 'request-success-rate', thresholdRange: { min: 99 }, noData: 'inconclusive', vars: {}, ...overrides };
}

function newAnalysis(metrics: MetricSpec[]): AnalysisSpec {
  return { interval: 60_000, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, metrics, count: 5 };
}

function renderError(template: string, vars: Record<string, string>, metric?: string): TemplateError {
  try {
    renderQuery(template, vars, metric);
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error('expected renderQuery to throw');
}

describe('built-in queries', () => {
  it('renders request-success-rate as Flagger does: non-5xx share of destination-reported requests, in percent', () => {
    const q = renderQuery(BUILTIN_QUERIES['request-success-rate'], RAMP_VARS);
    const selector = 'reporter="destination",destination_workload_namespace="shop",destination_workload=~"checkout-canary"';
    expect(q).toBe([
      `sum(rate(istio_requests_total{${selector},response_code!~"5.*"}[60s]))`,
      `/ sum(rate(istio_requests_total{${selector}}[60s]))`,
      '* 100',
    ].join('\n'));
  });

  it('renders request-duration as the p99 of the Istio duration histogram, summed by le', () => {
    const q = renderQuery(BUILTIN_QUERIES['request-duration'], { ...RAMP_VARS, interval: '30s' });
    expect(q.replace(/\s+/g, ' ')).toBe(
      'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",'
      + 'destination_workload_namespace="shop",destination_workload=~"checkout-canary"}[30s])) by (le) )');
  });

  it.each([
    ['a built-in by name', newMetric(), BUILTIN_QUERIES['request-success-rate']],
    ['a custom query', newMetric({ name: 'errors', query: 'sum(x)' }), 'sum(x)'],
    ['a custom query under a built-in name', newMetric({ query: 'up' }), 'up'],
  ])('queryTemplateFor picks %s', (_what, metric, expected) => {
    expect(queryTemplateFor(metric)).toBe(expected);
  });

  it('queryTemplateFor rejects an unknown metric without a query', () => {
    expect(() => queryTemplateFor({ name: 'latency' })).toThrow(/metric "latency" has no query and is not a built-in \(request-success-rate, request-duration\)/);
  });
});

describe('renderQuery', () => {
  it.each([
    ['no spaces', 'a{job="{{namespace}}"}', 'a{job="shop"}'],
    ['spaces', 'a{job="{{ namespace }}"}', 'a{job="shop"}'],
    ['tabs and uneven spaces', 'a{job="{{\tnamespace   }}"}', 'a{job="shop"}'],
    ['a variable used twice', '{{ target }}/{{target}}', 'checkout-canary/checkout-canary'],
    ['no placeholders', 'up', 'up'],
    ['a metric var', 'rate(x{code="{{ code }}"}[{{ interval }}])', 'rate(x{code="5.."}[60s])'],
  ])('substitutes with %s', (_what, template, expected) => {
    expect(renderQuery(template, { ...RAMP_VARS, code: '5..' })).toBe(expected);
  });

  it('names the metric, the missing variable and what is defined', () => {
    const err = renderError('x{a="{{ foo }}"}', RAMP_VARS, 'x');
    expect(err.message).toMatch(/^query for metric "x" uses \{\{ foo \}\} but no variable "foo" is defined; defined: namespace, target, interval/);
    expect(err.missing).toEqual(['foo']);
    expect(err.metric).toBe('x');
  });

  it('lists every missing variable once', () => {
    const err = renderError('{{ foo }} {{ bar }} {{ foo }} {{ namespace }}', RAMP_VARS, 'm');
    expect(err.missing).toEqual(['foo', 'bar']);
    expect(err.message).toContain('uses {{ foo }}, {{ bar }} but no variables "foo", "bar" are defined');
  });

  it.each([
    ['a quote', 'a"} or vector(1) #'],
    ['a space', 'a b'],
    ['a brace', 'a}'],
    ['a comma', 'a,b'],
    ['a pipe', 'a|b'],
  ])('rejects a value with %s so it cannot leave its label value', (_what, value) => {
    const err = renderError('x{a="{{ v }}"}', { v: value }, 'm');
    expect(err.unsafe).toEqual(['v']);
    expect(err.message).toContain(`cannot use variable v=${JSON.stringify(value)}: values may only contain letters, digits and _ . : / -`);
  });

  it('accepts every allowed value character', () => {
    expect(renderQuery('{{ v }}', { v: 'Az09_.:/-' })).toBe('Az09_.:/-');
  });

  it('ignores unsafe values the template does not use', () => {
    expect(renderQuery('up', { v: '"' })).toBe('up');
  });

  it.each([
    ['a space inside the name', 'x{{ a b }}', ['{{ a b }}']],
    ['an empty placeholder', 'x{{}}', ['{{}}']],
    ['a leading digit', '{{ 1a }}', ['{{ 1a }}']],
    ['an unclosed placeholder', 'x{{ a', ['{{ (unbalanced)']],
  ])('rejects %s', (_what, template, malformed) => {
    expect(renderError(template, { a: '1' }).malformed).toEqual(malformed);
  });
});

describe('templateVariables and promDuration', () => {
  it('lists variables in order of first use', () => {
    expect(templateVariables(BUILTIN_QUERIES['request-success-rate'])).toEqual({ names: ['namespace', 'target', 'interval'], malformed: [] });
  });

  it.each([
    [60_000, '60s'],
    [1000, '1s'],
    [300_000, '300s'],
    [1500, '1500ms'],
  ])('formats %i ms as %s', (ms, expected) => {
    expect(promDuration(ms)).toBe(expected);
  });
});

describe('checkTemplates', () => {
  it.each<[string, MetricSpec[], { path: (string | number)[]; message: RegExp }[]]>([
    ['built-ins with Ramp variables', [newMetric(), newMetric({ name: 'request-duration', thresholdRange: { max: 500 } })], []],
    ['a custom query using its own vars', [newMetric({ name: 'q', query: 'x{a="{{ a }}",ns="{{ namespace }}"}[{{ interval }}]', vars: { a: 'b' } })], []],
    ['a missing variable', [newMetric({ name: 'q', query: 'x{a="{{ a }}"}' })],
      [{ path: ['metrics', 0, 'query'], message: /^query for metric "q" uses \{\{ a \}\} but no variable "a" is defined; defined: namespace, target, interval/ }]],
    ['an unsafe var value', [newMetric({ name: 'q', query: 'x{a="{{ a }}"}', vars: { a: '"}' } })],
      [{ path: ['metrics', 0, 'vars', 'a'], message: /metric "q" cannot use variable a="\\"}"/ }]],
    ['a var shadowing a Ramp variable', [newMetric({ name: 'q', query: 'up', vars: { interval: '5m' } })],
      [{ path: ['metrics', 0, 'vars', 'interval'], message: /var "interval" is provided by Ramp and cannot be redefined/ }]],
    ['a malformed placeholder', [newMetric({ name: 'q', query: 'x{{ a-b }}' })],
      [{ path: ['metrics', 0, 'query'], message: /malformed placeholder \{\{ a-b \}\}/ }]],
    ['duplicate metric names', [newMetric(), newMetric()],
      [{ path: ['metrics', 1, 'name'], message: /metric name "request-success-rate" is used twice/ }]],
    ['an unknown metric without a query', [newMetric({ name: 'latency' })],
      [{ path: ['metrics', 0, 'name'], message: /metric "latency" has no query and is not a built-in/ }]],
  ])('%s', (_what, metrics, expected) => {
    const problems = checkTemplates(newAnalysis(metrics), ['namespace', 'target']);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((e, i) => {
      expect(problems[i]!.path).toEqual(e.path);
      expect(problems[i]!.message).toMatch(e.message);
    });
  });

  it('reports a built-in query as broken when Ramp does not provide its variables', () => {
    const problems = checkTemplates(newAnalysis([newMetric()]), ['namespace']);
    expect(problems.map((p) => p.message)).toEqual([expect.stringContaining('uses {{ target }} but no variable "target" is defined')]);
  });
});
