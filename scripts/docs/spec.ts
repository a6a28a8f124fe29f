/**
 * `npm run docs:spec`: writes docs/spec.md and schema/rollout.schema.json from the zod schema
 * (src/domain/spec/), through its JSON Schema, so the reference, the editors' schema and the
 * parser cannot disagree. test/unit/docs/spec-doc.test.ts fails when the files differ from what
 * this writes now.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flowYaml } from '../../src/domain/spec/issues';
import { JSON_SCHEMA_PATH, type JsonSchema, rolloutJsonSchema } from '../../src/domain/spec/json-schema';

export const SPEC_DOC_PATH = 'docs/spec.md';

export function renderJsonSchema(schema: JsonSchema = rolloutJsonSchema()): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

type Section = { id: string; title: string; intro?: string; schema: JsonSchema; path: string; note?: string };

const obj = (v: unknown): JsonSchema | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonSchema) : undefined);
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => `\`${text}\``;
const anchor = (path: string) => path.replace(/\[\]/g, '').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();

/** The definition a property refers to (`$ref` directly or in zod's `allOf: [{$ref}]`). */
function refName(s: JsonSchema): string | undefined {
  const ref = typeof s.$ref === 'string' ? s.$ref : (Array.isArray(s.allOf) ? obj(s.allOf[0])?.$ref : undefined);
  return typeof ref === 'string' ? ref.replace('#/definitions/', '') : undefined;
}

/** A union member's name: the value of the field that tells the members apart. */
function memberName(member: JsonSchema): string {
  for (const [key, field] of Object.entries(obj(member.properties) ?? {})) {
    const c = obj(field)?.const;
    if (c !== undefined) return `${key}: ${flowYaml(c)}`;
  }
  return 'member';
}

const isObject = (s: JsonSchema) => obj(s.properties) !== undefined;
const unionOf = (s: JsonSchema) => (Array.isArray(s.oneOf) ? (s.oneOf as JsonSchema[]) : undefined);

/** `, 0 ≤ x < 1`: the bounds a number must keep, as inequalities so open and closed ends read apart. */
function range(s: JsonSchema): string {
  const lo = s.minimum !== undefined ? `${flowYaml(s.minimum)} ≤ ` : s.exclusiveMinimum !== undefined ? `${flowYaml(s.exclusiveMinimum)} < ` : '';
  const hi = s.maximum !== undefined ? ` ≤ ${flowYaml(s.maximum)}` : s.exclusiveMaximum !== undefined ? ` < ${flowYaml(s.exclusiveMaximum)}` : '';
  return lo || hi ? `, ${lo}x${hi}` : '';
}

/** What a value of this schema is, in a few words, linking to the section that details it. */
function typeOf(s: JsonSchema, path: string): string {
  const ref = refName(s);
  if (ref !== undefined) return `[${ref}](#${anchor(ref)})`;
  if (s.const !== undefined) return code(flowYaml(s.const));
  if (Array.isArray(s.enum)) return s.enum.map((v) => code(flowYaml(v))).join(' or ');
  if (typeof s.title === 'string') return `[${s.title}](#${anchor(s.title)})`;
  const union = unionOf(s);
  if (union) return `one of ${union.map((m) => `[${memberName(m)}](#${anchor(`${path} ${memberName(m)}`)})`).join(', ')}`;
  if (isObject(s)) return `[object](#${anchor(path)})`;
  if (s.type === 'array') {
    const items = obj(s.items) ?? {};
    const item = isObject(items) ? `[objects](#${anchor(`${path}[]`)})` : typeOf(items, `${path}[]`);
    return `list of ${item}${s.minItems !== undefined ? ` (at least ${flowYaml(s.minItems)})` : ''}`;
  }
  if (s.type === 'object') {
    const values = obj(s.additionalProperties);
    return values && typeof values.type === 'string' ? `map of string to ${values.type}` : 'object (any fields)';
  }
  if (s.type === 'integer') return s.minimum !== undefined && s.maximum !== undefined ? `whole number ${flowYaml(s.minimum)}–${flowYaml(s.maximum)}` : `whole number${range(s)}`;
  if (s.type === 'number') return `number${range(s)}`;
  return typeof s.type === 'string' ? s.type : 'any';
}

/** Sections for a field's value: its object, each union member, its list's items. */
function childSections(s: JsonSchema, path: string): Section[] {
  if (refName(s) !== undefined) return [];
  const union = unionOf(s);
  if (union) {
    return union.map((m) => ({
      id: anchor(`${path} ${memberName(m)}`), title: `${code(path)} with ${code(memberName(m))}`, path, schema: m,
      intro: typeof m.description === 'string' ? m.description : undefined,
    }));
  }
  if (isObject(s)) return [{ id: anchor(path), title: code(path), path, schema: s, intro: typeof s.description === 'string' ? s.description : undefined }];
  const items = obj(s.items);
  if (s.type === 'array' && items && isObject(items)) {
    const one = items.maxProperties === 1 ? `Each item has exactly one of these fields. ` : '';
    return [{ id: anchor(`${path}[]`), title: code(`${path}[]`), path: `${path}[]`, schema: items, note: one }];
  }
  return [];
}

function renderSection(section: Section, out: string[]): void {
  out.push(`<a id="${section.id}"></a>`, `### ${section.title}`, '');
  const intro = [section.intro, section.note].filter(Boolean).join('. ').trim();
  if (intro) out.push(`${intro.charAt(0).toUpperCase()}${intro.slice(1)}${/[.:]$/.test(intro) ? '' : '.'}`, '');
  const required = new Set(Array.isArray(section.schema.required) ? (section.schema.required as string[]) : []);
  out.push('| field | type | required | default | description | example |', '|---|---|---|---|---|---|');
  const nested: Section[] = [];
  for (const [key, value] of Object.entries(obj(section.schema.properties) ?? {})) {
    const field = obj(value) ?? {};
    const path = section.path ? `${section.path}.${key}` : key;
    const example = Array.isArray(field.examples) ? code(flowYaml(field.examples[0])) : '';
    out.push(`| ${[
      code(path), typeOf(field, path), required.has(key) ? 'yes' : '',
      field.default !== undefined ? code(flowYaml(field.default)) : '',
      typeof field.description === 'string' ? field.description : '', example,
    ].map(cell).join(' | ')} |`);
    nested.push(...childSections(field, path));
  }
  out.push('');
  for (const s of nested) renderSection(s, out);
}

/** What the named value types accept (the schema's titles). */
const VALUE_TYPES: [string, string][] = [
  ['duration', 'a length of time: `500ms`, `30s`, `5m`, `1h30m` (units ms, s, m, h, in sequence), or a number of seconds'],
  ['Kubernetes name', 'a DNS-1123 name: lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253 characters'],
  ['label key', 'a Kubernetes label key, with an optional DNS prefix: `version`, `app.kubernetes.io/version`'],
  ['label value', 'a Kubernetes label value: letters, digits, `-`, `_` and `.`, at most 63 characters'],
  ['route selector', 'an HTTP route of the VirtualService: its name (`primary`), or `{name: primary}`, `{index: 2}` (its position in spec.http, from 0), `{default: true}` (the route without a match) or `{prefix: /api}` (the route matching that URI prefix)'],
];

export function renderSpecDoc(schema: JsonSchema = rolloutJsonSchema()): string {
  const out: string[] = [
    '# The Rollout spec',
    '',
    '<!-- Generated by `npm run docs:spec` (scripts/docs/spec.ts) from the zod schema in src/domain/spec/.',
    '     Edit the descriptions and examples there, in the schema\'s `.meta()`, then run the script. -->',
    '',
    'Every field of a Ramp Rollout: its type, whether it is required, its default, what it does and an',
    'example. The parser reads YAML or JSON and reports every problem at once, by path and line',
    '(`ramp validate -f FILE`); a missing field is reported with the description and example shown here.',
    'A complete spec: [examples/mushop/rollout.yaml](../examples/mushop/rollout.yaml).',
    '',
    `The same schema is published as JSON Schema (draft-07) in [${JSON_SCHEMA_PATH}](../${JSON_SCHEMA_PATH}),`,
    'for editors: with a YAML language server (VS Code\'s YAML extension, for one), a first line',
    '',
    '```yaml',
    `# yaml-language-server: $schema=<relative path to ${JSON_SCHEMA_PATH}>`,
    '```',
    '',
    'gives completion, these descriptions on hover, and checks while typing. A few rules span fields',
    'and are the parser\'s alone (image or podTemplatePatch; a judge\'s batch against the interval).',
    '',
    '## Value types',
    '',
    '| type | what it accepts |',
    '|---|---|',
    ...VALUE_TYPES.map(([name, what]) => `| <a id="${anchor(name)}"></a>${name} | ${cell(what)} |`),
    '',
    '## Fields',
    '',
  ];
  renderSection({ id: 'rollout', title: 'Rollout', path: '', schema, intro: 'the top level of the file' }, out);
  out.push('## Shared parts', '', 'Parts of an analysis that appear in more than one place.', '');
  for (const [name, def] of Object.entries(obj(schema.definitions) ?? {})) {
    const d = obj(def) ?? {};
    renderSection({ id: anchor(name), title: code(name), path: name, schema: d, intro: typeof d.description === 'string' ? d.description : undefined }, out);
  }
  return `${out.join('\n').trimEnd()}\n`;
}

if (require.main === module) {
  const root = join(__dirname, '..', '..');
  const schema = rolloutJsonSchema();
  writeFileSync(join(root, JSON_SCHEMA_PATH), renderJsonSchema(schema));
  writeFileSync(join(root, SPEC_DOC_PATH), renderSpecDoc(schema));
  console.log(`wrote ${JSON_SCHEMA_PATH} and ${SPEC_DOC_PATH}`);
}
