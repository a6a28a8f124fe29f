/**
 * zod's issues said the way a person fixes the file: a missing field says "required" with what
 * it is and an example (both from the schema's metadata, the same text docs/spec.md shows), and
 * an unknown field names the known one it most likely meant.
 */
import { stringify } from 'yaml';
import { z } from 'zod';
import { closest } from './closest';

type Schema = z.core.$ZodType;
type Path = (string | number)[];

/** What a problem needs from zod's issue. */
export interface Issue {
  code: string;
  message: string;
  path: PropertyKey[];
  keys?: string[];
}

/** One issue as one or more problems: the path it is at, the message, and for an unknown field the key itself. */
export interface IssueProblem {
  path: Path;
  message: string;
  /** The unknown field, so its line can be found. */
  key?: string;
  /** The known field an unknown one most likely meant. */
  meant?: string;
  /** Set on "required" problems. */
  required?: true;
}

/** Issues about a value of the wrong shape, which for an absent value means "required". */
const SHAPE_CODES = new Set(['invalid_type', 'invalid_value', 'invalid_union']);

/**
 * Every issue as problems. A required field that an unknown one next to it misspells (`stpes`
 * for `steps`) is one mistake, said once: by the did-you-mean.
 */
export function issuesProblems(root: Schema, raw: unknown, issues: readonly Issue[]): IssueProblem[] {
  const all = issues.flatMap((iss) => issueProblems(root, raw, iss));
  const meant = new Set(all.filter((p) => p.meant !== undefined).map((p) => JSON.stringify([...p.path, p.meant])));
  return all.filter((p) => !(p.required && meant.has(JSON.stringify(p.path))));
}

function issueProblems(root: Schema, raw: unknown, iss: Issue): IssueProblem[] {
  const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (iss.code === 'unrecognized_keys' && iss.keys) {
    const known = knownKeys(root, raw, path);
    return iss.keys.map((key) => {
      const meant = closest(key, known);
      if (meant !== undefined) return { path, key, meant, message: `unknown field ${JSON.stringify(key)}: did you mean ${JSON.stringify(meant)}?` };
      const here = known.length > 0 ? `; the fields here are ${known.join(', ')}` : '';
      return { path, key, message: `unknown field ${JSON.stringify(key)}: remove it or check the spelling${here}` };
    });
  }
  if (SHAPE_CODES.has(iss.code) && path.length > 0 && isMissing(raw, path)) {
    return [{ path, required: true, message: requiredMessage(root, raw, path) }];
  }
  return [{ path, message: iss.message }];
}

/** `required — <description>, e.g. <key>: <example>`, from the field's metadata. */
function requiredMessage(root: Schema, raw: unknown, path: Path): string {
  const key = path.at(-1)!;
  const parent = schemaAt(root, raw, path.slice(0, -1));
  const discriminator = parent && unionOptions(parent)?.discriminator;
  if (parent && discriminator === key) {
    // The field that picks the member of a union: name every member.
    const members = unionOptions(parent)!.options.map((o) => {
      const field = objectShape(o)?.[String(key)];
      const m = field ? metaOf(field) : {};
      const value = field ? literalValue(field) : undefined;
      return `${JSON.stringify(value)}${m.description ? ` (${m.description})` : ''}`;
    });
    return `required — ${members.join(' or ')}`;
  }
  const field = schemaAt(root, raw, path);
  const meta = field ? metaOf(field) : {};
  const what = meta.description ? ` — ${meta.description}` : '';
  const example = Array.isArray(meta.examples) && meta.examples.length > 0 ? `, e.g. ${asYaml(String(key), meta.examples[0])}` : '';
  return `required${what}${example}`;
}

/** A value in YAML's flow style, on one line, as one writes it in a file: `[{setWeight: 10}]`. */
export function flowYaml(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', flowCollectionPadding: false, lineWidth: 0 }).trim();
}

/** `key: value` in flow style. */
function asYaml(key: string, value: unknown): string {
  return flowYaml({ [key]: value }).slice(1, -1);
}

function isMissing(raw: unknown, path: Path): boolean {
  let node = raw;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node === undefined;
}

function valueAt(raw: unknown, path: Path): unknown {
  let node = raw;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

// ---- walking the schema -------------------------------------------------------------------

type Def = {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  discriminator?: string;
  values?: unknown[];
};
const defOf = (s: Schema) => s._zod.def as unknown as Def;

/** The wrappers (optional, default, pipe …) from the outside in, ending at the schema that has the shape. */
function chain(s: Schema): Schema[] {
  const out = [s];
  for (;;) {
    const d = defOf(out.at(-1)!);
    const next = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
    if (next === undefined) return out;
    out.push(next);
  }
}

const core = (s: Schema) => chain(s).at(-1)!;

/** The field's metadata; the outermost wrapper's wins (`k8sName.meta(…)` inside `.optional().meta(…)`). */
export function metaOf(s: Schema): { description?: string; examples?: unknown[]; [k: string]: unknown } {
  return Object.assign({}, ...chain(s).reverse().map((c) => z.globalRegistry.get(c) ?? {})) as { description?: string; examples?: unknown[] };
}

function objectShape(s: Schema): Record<string, Schema> | undefined {
  const d = defOf(core(s));
  return d.type === 'object' ? d.shape : undefined;
}

function unionOptions(s: Schema): { options: Schema[]; discriminator?: string } | undefined {
  const d = defOf(core(s));
  return d.type === 'union' && d.options ? { options: d.options, discriminator: d.discriminator } : undefined;
}

function literalValue(s: Schema): unknown {
  const d = defOf(core(s));
  return d.type === 'literal' ? d.values?.[0] : undefined;
}

/** The union member the value is: by its discriminator when it has one, else the first object member. */
function memberFor(s: Schema, value: unknown): Schema | undefined {
  const u = unionOptions(s);
  if (!u) return s;
  const v = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const objects = u.options.filter((o) => objectShape(o) !== undefined);
  if (u.discriminator !== undefined) {
    const match = objects.find((o) => literalValue(objectShape(o)![u.discriminator!]!) === v[u.discriminator!]);
    if (match) return match;
  }
  return objects[0];
}

/** The schema of the field at path, choosing union members by the value in raw. */
function schemaAt(root: Schema, raw: unknown, path: Path): Schema | undefined {
  let s: Schema | undefined = root;
  for (let i = 0; i < path.length && s !== undefined; i++) {
    const seg = path[i]!;
    s = memberFor(s, valueAt(raw, path.slice(0, i)));
    if (s === undefined) return undefined;
    const d = defOf(core(s));
    if (d.type === 'object') s = d.shape?.[String(seg)];
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else return undefined;
  }
  return s;
}

function knownKeys(root: Schema, raw: unknown, path: Path): string[] {
  const s = schemaAt(root, raw, path);
  const member = s && memberFor(s, valueAt(raw, path));
  return member ? Object.keys(objectShape(member) ?? {}) : [];
}
