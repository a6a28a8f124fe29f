/**
 * What a person reads when a file is not a valid Rollout: one message per mistake, saying what to
 * write (required fields with an example, did-you-mean for typos), and files that are not a
 * Rollout at all (empty, several documents, absurd nesting, another controller's spec) told as
 * such rather than as a list of zod's complaints.
 */
import YAML from 'yaml';
import { MAX_DEPTH, parseRollout, SpecError, type SpecProblem, validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';

/** The problems parseRollout reports for text (none: it parsed). */
function problemsOf(text: string, opts: Parameters<typeof parseRollout>[1] = {}): SpecProblem[] {
  try {
    parseRollout(text, opts);
    return [];
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    return err.problems;
  }
}

const messages = (text: string, opts: Parameters<typeof parseRollout>[1] = {}) =>
  problemsOf(text, opts).map((p) => `${p.path || '(document)'}: ${p.message}`);

/** A valid spec as YAML, with a patch merged in (null deletes a field). */
const yaml = (patch: Record<string, unknown> = {}) => YAML.stringify(newTestRolloutRaw(patch));

describe('required fields say "required", what the field is and an example', () => {
  it.each([
    ['steps', { spec: { steps: null } },
      'spec.steps: required — the rollout\'s steps, in order; each has exactly one of setWeight, pause, approval, analysis, setHeaderRoute, setMirror, e.g. steps: [{setWeight: 10}, {pause: {}}, {setWeight: 100}]'],
    ['target.deployment', { spec: { target: { deployment: null } } },
      'spec.target.deployment: required — the stable Deployment: the canary copies its pod template, and promotion rolls it to the canary\'s, e.g. deployment: storefront'],
    ['metadata.name', { metadata: { name: null } }, 'metadata.name: required — the rollout\'s name, as `ramp status NAME` takes it, e.g. name: storefront'],
    ['apiVersion', { apiVersion: null }, 'apiVersion: required — the version of Ramp\'s API the file is written for, e.g. apiVersion: ramp.dev/v1alpha1'],
    ['a field of one union member', { spec: { traffic: { routing: { mode: 'service', destinationRule: null, stableService: 'sf-stable' } } } },
      'spec.traffic.routing.canaryService: required — the Service the managed routes send canary traffic to, e.g. canaryService: storefront-canary'],
    ['the field that picks the union member', { spec: { traffic: { routing: { mode: null } } } },
      'spec.traffic.routing.mode: required — "subset" (one Service over both versions; a DestinationRule\'s subsets tell them apart by the version label) '
      + 'or "service" (two Services, one selecting the stable pods and one the canary pods)'],
    ['the traffic router', { spec: { traffic: { provider: null } } },
      'spec.traffic.provider: required — "istio" (Istio: weights on the routes of a VirtualService) or "gateway-api" (Gateway API: weights on the backendRefs of an HTTPRoute\'s or GRPCRoute\'s rules)'],
    ['a metric\'s thresholdRange', { spec: { steps: [{ analysis: { metrics: [{ name: 'request-success-rate' }] } }] } },
      'spec.steps[0].analysis.metrics[0].thresholdRange: required — the range a measurement passes in: min, max or both, e.g. thresholdRange: {min: 99}'],
  ])('%s', (_name, patch, want) => {
    expect(messages(yaml(patch))).toEqual([want]);
    // The same words for an object that never was text (the workflow's input, an update).
    expect(() => validateRollout(newTestRolloutRaw(patch))).toThrow(want);
  });

  it('a wrong value is still reported as wrong, not as missing', () => {
    expect(messages(yaml({ spec: { steps: 'ten percent' } }))).toEqual(['spec.steps: Invalid input: expected array, received string']);
  });
});

describe('did you mean: unknown fields name the field they most likely meant, at their own line', () => {
  const base = yaml();

  it('a misspelt required field is one mistake, said once', () => {
    const text = base.replace('  steps:', '  stpes:');
    const line = text.split('\n').indexOf('  stpes:') + 1;
    expect(problemsOf(text)).toEqual([{ path: 'spec', message: 'unknown field "stpes": did you mean "steps"?', line, col: 3 }]);
  });

  it.each([
    ['a step kind in the wrong case', { spec: { steps: [{ setweight: 10 }] } },
      'spec.steps[0]: unknown step "setweight": did you mean "setWeight"? a step is one of setWeight, pause, approval, analysis, setHeaderRoute, setMirror'],
    ['a field of the chosen union member', { spec: { traffic: { routing: { destinationRul: 'storefront' } } } },
      'spec.traffic.routing: unknown field "destinationRul": did you mean "destinationRule"?'],
    ['a field of the other union member', { spec: { traffic: { routing: { mode: 'service', destinationRule: null, stableService: 'a', canaryServce: 'b' } } } },
      'spec.traffic.routing: unknown field "canaryServce": did you mean "canaryService"?'],
    ['nothing close: the fields that are there', { spec: { canary: { sidecar: true } } },
      'spec.canary: unknown field "sidecar": remove it or check the spelling; the fields here are image, container, podTemplatePatch, replicas, deploymentName, versionLabel'],
  ])('%s', (_name, patch, want) => {
    expect(messages(yaml(patch))).toContain(want);
  });

  it('each unknown field is its own problem', () => {
    expect(messages(yaml({ spec: { canary: { imag: 'x', replica: 2 } } }))).toEqual([
      'spec.canary: unknown field "imag": did you mean "image"?',
      'spec.canary: unknown field "replica": did you mean "replicas"?',
    ]);
  });
});

describe('files that are not one Rollout', () => {
  it.each([
    ['an empty file', ''],
    ['only comments', '# nothing yet\n\n'],
    ['only a document marker', '---\n'],
  ])('%s is empty', (_name, text) => {
    expect(messages(text)).toEqual(['(document): is empty: a Rollout has apiVersion: ramp.dev/v1alpha1, kind: Rollout, metadata and spec (docs/spec.md lists every field)']);
  });

  it('several documents: which ones, where, and one Rollout per file', () => {
    const text = `${yaml()}---\n${yaml({ metadata: { name: 'checkout' } })}---\napiVersion: v1\nkind: Service\n`;
    const starts = text.split('\n').flatMap((l, i) => (l.startsWith('apiVersion') ? [i + 1] : []));
    expect(messages(text)).toEqual([
      `(document): holds 3 YAML documents: document 1 at line ${starts[0]} (Rollout storefront), document 2 at line ${starts[1]} (Rollout checkout), `
      + `document 3 at line ${starts[2]} (Service); a file holds one Rollout: put each in a file of its own`,
    ]);
    expect(messages(text)[0]).not.toMatch(/parseAllDocuments|YAML\./);
  });

  it('a trailing or leading document marker is no second document', () => {
    expect(messages(`---\n${yaml()}---\n`)).toEqual([]);
  });

  it.each([
    ['a list', '- setWeight: 10\n', 'got a list'],
    ['text', 'hello\n', 'got the text "hello"'],
    ['a number', '42\n', 'got the number 42'],
  ])('%s is not a Rollout', (_name, text, got) => {
    expect(messages(text)).toEqual([`(document): must be a Rollout: a mapping with apiVersion, kind, metadata and spec; ${got}`]);
  });
});

describe('nesting is limited before the YAML nodes are built, so no stack overflows', () => {
  const nested = `nests more than ${MAX_DEPTH} levels deep; a Rollout spec, podTemplatePatch included, needs far fewer: is this the right file?`;
  it.each([
    ['10,000 flow sequences', '['.repeat(10_000) + ']'.repeat(10_000)],
    ['10,000 JSON objects', '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)],
    ['10,000 flow mappings in a spec', `apiVersion: ramp.dev/v1alpha1\nspec: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`],
    ['1,000 block mappings', Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' 1'],
    ['1,000 block sequences', Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i * 2)}-`).join('\n') + ' 1'],
  ])('%s', (_name, text) => {
    const found = problemsOf(text);
    expect(found.map((p) => p.message)).toEqual([nested]);
    // The line and column of the first collection too deep.
    expect(found[0]!.line).toBeGreaterThan(0);
  });

  it('a podTemplatePatch as deep as real ones is fine', () => {
    const deep = Array.from({ length: 20 }).reduce<unknown>((inner, _, i) => ({ [`k${i}`]: inner }), 'v');
    expect(messages(yaml({ spec: { canary: { podTemplatePatch: { metadata: { annotations: { a: 'b' } }, x: deep } } } }))).toEqual([]);
  });

  it('aliases cannot nest deeper than the text does', () => {
    const text = Array.from({ length: 5 }, (_, i) => (i === 0 ? 'a0: &a0 [x]' : `a${i}: &a${i} ${'['.repeat(20)}*a${i - 1}${']'.repeat(20)}`)).join('\n');
    expect(messages(text)).toEqual([`(document): nests more than ${MAX_DEPTH} levels deep through its aliases; a Rollout spec needs far fewer`]);
  });
});

describe('specs of other canary controllers say what they are and where Ramp\'s equivalents are', () => {
  const argo = [
    'apiVersion: argoproj.io/v1alpha1',
    'kind: Rollout',
    'metadata: {name: storefront}',
    'spec:',
    '  replicas: 3',
    '  strategy:',
    '    canary:',
    '      steps: [{setWeight: 20}, {pause: {}}]',
    '',
  ].join('\n');

  it.each([
    ['an Argo Rollout', argo],
    ['an Argo Rollout without its apiVersion', argo.replace('apiVersion: argoproj.io/v1alpha1\n', '')],
    ['an Argo strategy under Ramp\'s apiVersion', argo.replace('argoproj.io/v1alpha1', 'ramp.dev/v1alpha1')],
  ])('%s', (_name, text) => {
    const found = messages(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^\(document\): this is an Argo Rollouts Rollout.*not a Ramp Rollout: Ramp's is apiVersion ramp\.dev\/v1alpha1, kind Rollout\. /);
    expect(found[0]).toContain('spec.strategy.canary.steps become spec.steps');
    expect(found[0]).toMatch(/see docs\/coming-from-argo-rollouts\.md$/);
  });

  it('a Flagger Canary', () => {
    const text = 'apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo}\nspec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n  analysis: {stepWeight: 10, maxWeight: 50}\n';
    const found = messages(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^\(document\): this is a Flagger Canary \(apiVersion flagger\.app\/v1beta1\), not a Ramp Rollout/);
    expect(found[0]).toContain('targetRef becomes spec.target.deployment');
    expect(found[0]).toMatch(/see docs\/coming-from-flagger\.md$/);
  });

  it('a Ramp spec with a wrong kind is not taken for Flagger\'s', () => {
    expect(messages(yaml({ kind: 'Canary' }))).toEqual(['kind: must be "Rollout"']);
  });
});

describe('-n, as kubectl has it', () => {
  const withoutNamespace = yaml({ metadata: { namespace: null } });

  it('fills a missing metadata.namespace', () => {
    expect(parseRollout(withoutNamespace, { namespace: 'prod' }).metadata).toEqual({ name: 'storefront', namespace: 'prod' });
    expect(parseRollout(withoutNamespace).metadata.namespace).toBe('default');
  });

  it('agrees with the same namespace in the spec', () => {
    expect(parseRollout(yaml(), { namespace: 'mushop' }).metadata.namespace).toBe('mushop');
  });

  it('refuses a different one at metadata.namespace, naming both and the fix, with the other problems', () => {
    const text = yaml({ spec: { steps: [{ setWeight: 120 }] } });
    const line = text.split('\n').indexOf('  namespace: mushop') + 1;
    expect(problemsOf(text, { namespace: 'prod' })).toEqual([
      {
        path: 'metadata.namespace', line, col: 14,
        message: 'is "mushop", but the command line says -n prod: run with -n mushop (or without -n), or remove metadata.namespace from the file to take the namespace from -n',
      },
      expect.objectContaining({ path: 'spec.steps[0].setWeight', message: 'must be between 0 and 100, got 120' }),
    ]);
  });

  it('checks a namespace it fills like any other', () => {
    expect(messages(withoutNamespace, { namespace: 'Prod_1' })).toEqual([
      'metadata.namespace: must be a lowercase DNS name: letters, digits, "-" and ".", starting and ending with a letter or digit',
    ]);
  });
});
