/**
 * A spec cannot point the worker anywhere: metrics go only to the worker's configured Prometheus
 * (RAMP_PROMETHEUS_URL, never part of a spec), and a spec's templates cannot smuggle a URL or a
 * file path in through a variable. The credentials live in the worker (decision 0005, reliability.md).
 */
import { renderQuery, TemplateError } from '../../../../src/domain/analysis/templates';
import { SpecError, validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';

const metric = (m: Record<string, unknown>) => newTestRolloutRaw({ spec: { steps: [{ analysis: { metrics: [{ name: 'm', thresholdRange: { max: 1 }, query: 'up', ...m }] } }] } });

function problems(raw: unknown): string[] {
  try {
    validateRollout(raw);
    return [];
  } catch (err) {
    return (err as SpecError).problems.map((p) => `${p.path}: ${p.message}`);
  }
}

describe('a spec cannot redirect the worker', () => {
  it.each([
    ['address', 'http://attacker.example:9090'],
    ['url', 'file:///etc/passwd'],
    ['provider', { prometheus: { address: 'http://attacker.example' } }],
    ['headers', { Authorization: 'x' }],
  ])('rejects a metric field %s', (field, value) => {
    expect(problems(metric({ [field]: value }))).toEqual([`spec.steps[0].analysis.metrics[0]: unknown field "${field}": remove it or check the spelling; the fields here are name, query, thresholdRange, noData, vars, window`]);
  });

  it('keeps a URL given as a variable inert: it can only be a label value in the query sent to the configured Prometheus', () => {
    expect(renderQuery('rate(x{a="{{ v }}"}[1m])', { v: 'http://attacker.example/x' }, 'm')).toBe('rate(x{a="http://attacker.example/x"}[1m])');
  });

  it.each([
    ['a file path with spaces and quotes', '/etc/passwd" or vector(1)'],
    ['PromQL injection', 'x"} or vector(1) #'],
  ])('refuses %s smuggled in through a template variable', (_n, value) => {
    expect(() => renderQuery('rate(x{a="{{ v }}"}[1m])', { v: value }, 'm')).toThrow(TemplateError);
  });
});
