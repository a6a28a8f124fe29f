/**
 * Property-based checks of everything that reads untrusted input: thousands of generated specs,
 * valid and invalid, arbitrary text, deep nesting and arbitrary command payloads. Valid specs are
 * accepted and normalized the same way from YAML and JSON; invalid ones are rejected with a
 * SpecError whose every problem names a path; nothing throws anything else or hangs.
 */
import fc from 'fast-check';
import YAML from 'yaml';
import { COMMANDS, parseCommandInput } from '../../../../src/domain/rollout/commands';
import { parseRollout, SpecError, validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';

const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const duration = fc.oneof(fc.integer({ min: 0, max: 3600 }).map((n) => `${n}s`), fc.integer({ min: 1, max: 90 }).map((n) => `${n}m`));
const metric = fc.record({
  name: fc.constantFrom('request-success-rate', 'request-duration'),
  thresholdRange: fc.integer({ min: 0, max: 1000 }).chain((min) => fc.record({ min: fc.constant(min), max: fc.integer({ min, max: 2000 }) })),
});
const step = fc.oneof(
  fc.integer({ min: 0, max: 100 }).map((w) => ({ setWeight: w })),
  fc.option(duration, { nil: undefined }).map((d) => ({ pause: d === undefined ? {} : { duration: d } })),
  fc.record({ timeout: duration, onTimeout: fc.constantFrom('abort', 'promote') }).map((a) => ({ approval: a })),
  fc.record({ interval: fc.integer({ min: 1, max: 600 }).map((n) => `${n}s`), count: fc.integer({ min: 1, max: 20 }), metrics: fc.array(metric, { minLength: 1, maxLength: 2 }) })
    .map((a) => ({ analysis: { ...a, metrics: a.metrics.filter((m, i, all) => all.findIndex((x) => x.name === m.name) === i) } })),
);

const validRaw = fc.record({ ns: name, rollout: name, deployment: name, steps: fc.array(step, { minLength: 1, maxLength: 12 }), mode: fc.constantFrom('subset', 'service') })
  .map(({ ns, rollout, deployment, steps, mode }) => newTestRolloutRaw({
    metadata: { name: rollout, namespace: ns },
    spec: {
      target: { deployment },
      steps,
      traffic: { routing: mode === 'subset' ? { mode: 'subset', destinationRule: 'dr' } : { mode: 'service', stableService: 's', canaryService: 'c', destinationRule: null } },
    },
  }));

function expectSpecErrorWithPaths(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    for (const p of (err as SpecError).problems) {
      expect(typeof p.path).toBe('string');
      expect(p.message.length).toBeGreaterThan(0);
    }
  }
}

describe('spec properties', () => {
  it('accepts every valid spec, the same from JSON and from YAML, keeping its steps', () => {
    fc.assert(fc.property(validRaw, (raw) => {
      const fromObject = validateRollout(raw);
      expect(parseRollout(JSON.stringify(raw))).toEqual(fromObject);
      expect(parseRollout(YAML.stringify(raw))).toEqual(fromObject);
      const steps = (raw as { spec: { steps: unknown[] } }).spec.steps;
      expect(fromObject.spec.steps).toHaveLength(steps.length);
      for (const [i, s] of fromObject.spec.steps.entries()) {
        const inStep = steps[i] as Record<string, unknown>;
        expect(Object.keys(inStep)).toEqual([s.kind]);
        if (s.kind === 'setWeight') expect(s.weight).toBe(inStep.setWeight);
      }
      expect(fromObject.spec.canary.deploymentName).toBe(`${fromObject.spec.target.deployment}-canary`);
    }), { numRuns: 1000 });
  });

  it('answers a spec with any leaf replaced by an arbitrary value with a result or a SpecError naming paths, never another error', () => {
    const leafPaths = (o: unknown, prefix: (string | number)[] = []): (string | number)[][] =>
      typeof o === 'object' && o !== null
        ? Object.entries(o).flatMap(([k, v]) => leafPaths(v, [...prefix, Array.isArray(o) ? Number(k) : k]))
        : [prefix];
    fc.assert(fc.property(validRaw, fc.nat(), fc.jsonValue(), (raw, pick, value) => {
      const paths = leafPaths(raw);
      const target = paths[pick % paths.length]!;
      const mutated = structuredClone(raw) as Record<string | number, unknown>;
      let node: Record<string | number, unknown> = mutated;
      for (const k of target.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
      node[target.at(-1)!] = value;
      expectSpecErrorWithPaths(() => validateRollout(mutated));
      expectSpecErrorWithPaths(() => parseRollout(JSON.stringify(mutated)));
    }), { numRuns: 3000 });
  });

  it('answers arbitrary text with a result or a SpecError', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      expectSpecErrorWithPaths(() => parseRollout(text));
    }), { numRuns: 3000 });
  });

  it.each([
    ['deeply nested flow sequences', '['.repeat(20_000) + ']'.repeat(20_000)],
    ['deeply nested JSON objects', '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)],
    ['deeply nested block mappings', Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' 1'],
  ])('rejects %s cleanly', (_n, text) => {
    expect(() => parseRollout(text)).toThrow(SpecError);
  });
});

describe('command payload properties', () => {
  it('answers any payload of any command with ok or a message, never a throw', () => {
    fc.assert(fc.property(fc.constantFrom(...COMMANDS), fc.oneof(fc.jsonValue(), fc.anything()), (cmd, raw) => {
      const res = parseCommandInput(cmd, raw);
      if (!res.ok) expect(res.message).toMatch(new RegExp(`^${cmd}`));
    }), { numRuns: 3000 });
  });
});
