import { parseRollout, SpecError, validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw, specProblems } from '../../../support/builders';

const problems = specProblems;

describe('Rollout spec: defaults resolved once', () => {
  it('resolves every default of a minimal spec', () => {
    const r = validateRollout(newTestRolloutRaw());
    expect(r.spec.canary).toEqual({
      image: 'storefront:beta', container: undefined, podTemplatePatch: undefined, replicas: 1,
      deploymentName: 'storefront-original-canary', versionLabel: { key: 'version', stable: 'original', canary: 'beta' },
    });
    expect(r.spec.traffic).toMatchObject({ provider: 'istio', host: 'storefront' });
    expect(r.spec.traffic.routing).toEqual({ mode: 'subset', destinationRule: 'storefront', stableSubset: 'stable', canarySubset: 'canary' });
    expect(r.spec.steps).toEqual([
      { kind: 'setWeight', weight: 10 }, { kind: 'setWeight', weight: 50 },
      { kind: 'approval', timeoutMs: undefined, onTimeout: 'abort', via: 'command' }, { kind: 'setWeight', weight: 100 },
    ]);
    expect(r.spec.progressDeadlineMs).toBe(600_000);
    expect(r.spec.rollback).toEqual({ scaleDownDelayMs: 30_000 });
  });

  it('resolves analysis defaults and durations', () => {
    const r = validateRollout(newTestRolloutRaw({
      spec: { steps: [{ pause: { duration: '1m30s' } }, { analysis: { interval: '10s', metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] } }] },
    }));
    expect(r.spec.steps[0]).toEqual({ kind: 'pause', durationMs: 90_000 });
    expect(r.spec.steps[1]).toEqual({
      kind: 'analysis',
      analysis: {
        interval: 10_000, count: 5, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, noData: 'inconclusive', vars: {} }],
      },
    });
  });

  it('accepts service routing', () => {
    const r = validateRollout(newTestRolloutRaw({
      spec: { traffic: { routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary', destinationRule: null } } },
    }));
    expect(r.spec.traffic.routing).toEqual({ mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' });
  });
});

describe('Rollout spec: every problem by path', () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['weight over 100', { spec: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 120 }] } }, ['spec.steps[2].setWeight: must be between 0 and 100, got 120']],
    ['weight not a whole number', { spec: { steps: [{ setWeight: 12.5 }] } }, ['spec.steps[0].setWeight: must be a whole number between 0 and 100, got 12.5']],
    ['weight as a string', { spec: { steps: [{ setWeight: '10' }] } }, ['spec.steps[0].setWeight: must be a whole number between 0 and 100, got "10"']],
    ['two kinds in one step', { spec: { steps: [{ setWeight: 10, pause: {} }] } }, ['spec.steps[0]: each step has exactly one of setWeight, pause, approval, analysis, setHeaderRoute, setMirror; got setWeight and pause']],
    ['empty step', { spec: { steps: [{}] } }, ['spec.steps[0]: each step has exactly one of setWeight, pause, approval, analysis, setHeaderRoute, setMirror; got none']],
    ['unknown step key', { spec: { steps: [{ setWieght: 10 }] } }, ['spec.steps[0]: unknown step "setWieght": did you mean "setWeight"? a step is one of setWeight, pause, approval, analysis, setHeaderRoute, setMirror']],
    ['no steps', { spec: { steps: [] } }, ['spec.steps: give at least one step, e.g. - setWeight: 10']],
    ['bad duration', { spec: { steps: [{ pause: { duration: '5 minutes' } }] } }, ['spec.steps[0].pause.duration: must be a duration such as "30s", "5m" or "1h30m" (units ms, s, m, h), got "5 minutes"']],
    ['wrong apiVersion', { apiVersion: 'argoproj.io/v1alpha1' }, ['apiVersion: must be "ramp.dev/v1alpha1"']],
    ['bad name', { metadata: { name: 'Store_Front' } }, ['metadata.name: must be a lowercase DNS name: letters, digits, "-" and ".", starting and ending with a letter or digit']],
    ['same version labels', { spec: { canary: { versionLabel: { canary: 'original' } } } }, ['spec.canary.versionLabel.canary: stable and canary must differ']],
    ['no image nor patch', { spec: { canary: { image: null } } }, ['spec.canary.image: give image (or --image on the command line) or podTemplatePatch']],
    ['unknown provider', { spec: { traffic: { provider: 'linkerd' } } }, ['spec.traffic.provider: must be "istio" (an Istio VirtualService) or "gateway-api" (a Gateway API HTTPRoute or GRPCRoute)']],
    ['unknown routing mode', { spec: { traffic: { routing: { mode: 'header' } } } }, ['spec.traffic.routing.mode: must be "subset" (DestinationRule subsets) or "service" (separate stable and canary Services)']],
    ['same subsets', { spec: { traffic: { routing: { stableSubset: 'v1', canarySubset: 'v1' } } } }, ['spec.traffic.routing.canarySubset: must differ from stableSubset']],
    ['canary named like stable', { spec: { canary: { deploymentName: 'storefront-original' } } }, ['spec.canary.deploymentName: must differ from spec.target.deployment']],
    ['unknown metric', { spec: { steps: [{ analysis: { metrics: [{ name: 'errors', thresholdRange: { max: 1 } }] } }] } },
      ['spec.steps[0].analysis.metrics[0].name: unknown metric "errors": use a built-in (request-success-rate, request-duration) or give a PromQL query']],
    ['min above max', { spec: { steps: [{ analysis: { metrics: [{ name: 'request-duration', thresholdRange: { min: 500, max: 100 } }] } }] } },
      ['spec.steps[0].analysis.metrics[0].thresholdRange: min must not be greater than max']],
    ['interval below 1s', { spec: { analysis: { interval: '500ms', metrics: [{ name: 'request-duration', thresholdRange: { max: 100 } }] } } },
      ['spec.analysis.interval: must be at least 1s, got 500ms']],
    ['noData pass is not allowed', { spec: { steps: [{ analysis: { metrics: [{ name: 'request-duration', noData: 'pass', thresholdRange: { max: 1 } }] } }] } },
      ['spec.steps[0].analysis.metrics[0].noData: must be "inconclusive" or "fail"']],
    ['typo in spec', { spec: { stpes: [] } }, ['spec: unknown field "stpes": did you mean "steps"?']],
  ];
  it.each(cases)('%s', (_name, patch, expected) => {
    expect(problems(newTestRolloutRaw(patch))).toEqual(expected);
  });

  it('lists several problems at once', () => {
    const found = problems(newTestRolloutRaw({ metadata: { name: '' }, spec: { steps: [{ setWeight: -1 }, { setWeight: 101 }] } }));
    expect(found).toHaveLength(3);
  });
});

describe('parseRollout (text)', () => {
  const yaml = [
    'apiVersion: ramp.dev/v1alpha1',
    'kind: Rollout',
    'metadata: {name: storefront, namespace: mushop}',
    'spec:',
    '  target: {deployment: storefront-original, service: storefront}',
    '  canary: {versionLabel: {stable: original, canary: beta}}',
    '  traffic:',
    '    provider: istio',
    '    virtualService: {name: storefront}',
    '    routing: {mode: subset, destinationRule: storefront}',
    '  steps:',
    '    - setWeight: 10',
    '    - setWeight: 120',
    '',
  ].join('\n');

  it('applies --image and gives the line of each problem', () => {
    const err = (() => { try { parseRollout(yaml, { source: 'rollout.yaml', image: 'storefront:v2' }); } catch (e) { return e as SpecError; } })();
    expect(err).toBeInstanceOf(SpecError);
    expect(err!.problems).toEqual([{ path: 'spec.steps[1].setWeight', message: 'must be between 0 and 100, got 120', line: 13, col: 18 }]);
    expect(err!.message).toContain('rollout.yaml: invalid Rollout spec');
  });

  it('accepts the same spec fixed, reading the image from --image', () => {
    const r = parseRollout(yaml.replace('120', '100'), { image: 'storefront:v2' });
    expect(r.spec.canary.image).toBe('storefront:v2');
  });

  it.each([
    ['a canary value that repeated the image tag follows --image', { image: 'storefront:2.2.0', versionLabel: { key: 'version', stable: '2.1.2', canary: '2.2.0' } }, undefined],
    ['an explicit canary value of its own stays', { image: 'storefront:2.2.0', versionLabel: { key: 'version', stable: '2.1.2', canary: 'beta' } }, 'beta'],
  ])('--image: %s', (_n, canary, want) => {
    const r = parseRollout(JSON.stringify(newTestRolloutRaw({ spec: { canary } })), { image: 'storefront:2.3.0' });
    expect(r.spec.canary.image).toBe('storefront:2.3.0');
    // Undefined: derived from the new image's tag at the preflight (2.3.0).
    expect(r.spec.canary.versionLabel.canary).toBe(want);
    expect(r.spec.canary.versionLabel.stable).toBe('2.1.2');
  });

  it('reads JSON too', () => {
    const r = parseRollout(JSON.stringify(newTestRolloutRaw()));
    expect(r.metadata).toEqual({ name: 'storefront', namespace: 'mushop' });
  });

  it.each([
    ['unclosed flow sequence', 'a: [1, 2\nb: 3', 2, 1],
    ['duplicate key', 'apiVersion: x\napiVersion: y\n', 2, 1],
    ['bad indentation', 'spec:\n  target: 1\n bad: 2\n', 3, 1],
  ])('reports YAML syntax errors with line and column: %s', (_n, text, line, col) => {
    try {
      parseRollout(text);
      throw new Error('expected a SpecError');
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      const p = (e as SpecError).problems[0]!;
      expect(p.message).toMatch(/^syntax error: /);
      expect([p.line, p.col]).toEqual([line, col]);
    }
  });

  it('refuses oversized input', () => {
    expect(() => parseRollout('#'.repeat(1024 * 1024 + 1))).toThrow(/at most 1048576 bytes/);
  });

  it('refuses alias bombs', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]', 'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]'].join('\n');
    expect(() => parseRollout(bomb)).toThrow(SpecError);
  });
});
