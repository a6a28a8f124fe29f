/**
 * docs/spec.md and schema/rollout.schema.json are generated from the zod schema
 * (`npm run docs:spec`); these tests fail when either differs from what the generator writes now,
 * when a field lacks a description or an example, and when an example spec does not pass both the
 * parser and the published JSON Schema.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import YAML from 'yaml';
import { renderJsonSchema, renderSpecDoc, SPEC_DOC_PATH } from '../../../scripts/docs/spec';
import { JSON_SCHEMA_PATH, type JsonSchema, rolloutJsonSchema } from '../../../src/domain/spec/json-schema';
import { parseRollout } from '../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../support/builders';

const ROOT = path.join(__dirname, '..', '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** The file as generated, or an error saying how to regenerate it and where it first differs. */
function expectGenerated(file: string, generated: string): void {
  const actual = read(file);
  if (actual === generated) return;
  const [a, g] = [actual.split('\n'), generated.split('\n')];
  const i = g.findIndex((line, n) => line !== a[n]);
  throw new Error(`${file} is out of date with the zod schema in src/domain/spec/: run \`npm run docs:spec\` and commit the result.\n`
    + `First difference, line ${i + 1}:\n  in the file: ${a[i] ?? '(end of file)'}\n  generated:   ${g[i] ?? '(end of file)'}`);
}

function exampleSpecs(dir = path.join(ROOT, 'examples')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return exampleSpecs(full);
    return /\.ya?ml$/.test(e.name) ? [full] : [];
  });
}

/** Every property schema in the JSON Schema, by path, definitions included. */
function fields(schema: JsonSchema, at: string): [string, JsonSchema][] {
  const out: [string, JsonSchema][] = [];
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [key, field] of Object.entries(props)) {
    const here = at ? `${at}.${key}` : key;
    out.push([here, field], ...fields(field, here));
  }
  for (const member of (schema.oneOf ?? []) as JsonSchema[]) out.push(...fields(member, at));
  if (schema.items) out.push(...fields(schema.items as JsonSchema, `${at}[]`));
  return out;
}

describe('docs/spec.md and the JSON Schema, generated from the zod schema', () => {
  it(`${SPEC_DOC_PATH} is what scripts/docs/spec.ts writes`, () => {
    expectGenerated(SPEC_DOC_PATH, renderSpecDoc());
  });

  it(`${JSON_SCHEMA_PATH} is what scripts/docs/spec.ts writes`, () => {
    expectGenerated(JSON_SCHEMA_PATH, renderJsonSchema());
  });

  it('gives every field a description and an example', () => {
    const schema = rolloutJsonSchema();
    const all = [
      ...fields(schema, ''),
      ...Object.entries((schema.definitions ?? {}) as Record<string, JsonSchema>).flatMap(([name, d]) => fields(d, name)),
    ];
    expect(all.length).toBeGreaterThan(60);
    const undocumented = all.filter(([, f]) => typeof f.description !== 'string' || !Array.isArray(f.examples) || f.examples.length === 0).map(([p]) => p);
    expect(undocumented).toEqual([]);
  });

  it('names every field of a spec in docs/spec.md, by path', () => {
    const doc = renderSpecDoc();
    for (const field of ['spec.canary.podTemplatePatch', 'spec.canary.container', 'spec.traffic.host', 'spec.traffic.port',
      'spec.traffic.routing.stableService', 'spec.traffic.routing.stableSubset', 'spec.steps[].approval.onTimeout', 'sequentialJudge.alpha']) {
      expect(doc).toContain(`| \`${field}\` |`);
    }
    // Union members each get their own table, named by the value that selects them.
    expect(doc).toContain('### `spec.traffic` with `provider: istio`');
    expect(doc).toContain('### `spec.traffic.routing` with `mode: subset`');
    expect(doc).toContain('### `spec.traffic.routing` with `mode: service`');
  });
});

describe('example specs', () => {
  // Durations are a string or a number of seconds: a union of types, which strict mode only warns about.
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
  const validate = ajv.compile(rolloutJsonSchema());
  const files = exampleSpecs();

  it('exist', () => {
    expect(files.map((f) => path.relative(ROOT, f))).toContain(path.join('examples', 'mushop', 'rollout.yaml'));
  });

  it.each(files.map((f) => [path.relative(ROOT, f), f]))('%s names the published JSON Schema on its first line, by a path that resolves', (_name, file) => {
    const first = fs.readFileSync(file, 'utf8').split('\n')[0]!;
    const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(match).not.toBeNull();
    expect(path.resolve(path.dirname(file), match![1]!)).toBe(path.join(ROOT, JSON_SCHEMA_PATH));
  });

  it.each(files.map((f) => [path.relative(ROOT, f), f]))('%s is accepted by the parser and by the JSON Schema', (_name, file) => {
    const text = fs.readFileSync(file, 'utf8');
    expect(() => parseRollout(text, { source: file })).not.toThrow();
    const raw = YAML.parse(text) as unknown;
    expect(validate(raw) ? [] : validate.errors).toEqual([]);
  });

  it('the JSON Schema refuses what the parser refuses: unknown fields, two kinds in one step, a missing field', () => {
    const bad: [string, unknown][] = [
      ['unknown field', newTestRolloutRaw({ spec: { stpes: [] } })],
      ['two step kinds', newTestRolloutRaw({ spec: { steps: [{ setWeight: 10, pause: {} }] } })],
      ['weight over 100', newTestRolloutRaw({ spec: { steps: [{ setWeight: 120 }] } })],
      ['bad name', newTestRolloutRaw({ metadata: { name: 'Store_Front' } })],
      ['bad duration', newTestRolloutRaw({ spec: { progressDeadline: '5 minutes' } })],
      ['service routing without services', newTestRolloutRaw({ spec: { traffic: { routing: { mode: 'service', destinationRule: null } } } })],
    ];
    for (const [name, raw] of bad) {
      expect(() => parseRollout(JSON.stringify(raw))).toThrow();
      expect([name, validate(JSON.parse(JSON.stringify(raw)))]).toEqual([name, false]);
    }
    expect(validate(JSON.parse(JSON.stringify(newTestRolloutRaw())))).toBe(true);
  });
});
