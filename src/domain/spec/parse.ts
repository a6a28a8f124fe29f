/**
 * Reading a Rollout spec from YAML or JSON text: a file that is not one Rollout (empty, several
 * documents, nested absurdly deep, another controller's spec) said as such; syntax errors with line
 * and column; then schema problems listed all at once by path (`spec.steps[2].setWeight: must be
 * between 0 and 100, got 120`), each with the line it is on (src/domain/spec/issues.ts words them).
 */
import { Composer, CST, Document, isMap, isNode, isScalar, LineCounter, Parser, YAMLError } from 'yaml';
import { imageTag } from '../workload/versions';
import { foreignSpecMessage } from './foreign';
import { type IssueProblem, issuesProblems } from './issues';
import { API_VERSION, KIND, rolloutSchema, ResolvedRollout } from './schema';

export interface SpecProblem {
  /** Dotted path with [index] for arrays, e.g. spec.steps[2].setWeight. */
  path: string;
  message: string;
  /** 1-based position in the source text, when known. */
  line?: number;
  col?: number;
}

/** Thrown when a spec cannot be read or is invalid; `problems` lists every one found. */
export class SpecError extends Error {
  override name = 'SpecError';
  constructor(readonly source: string, readonly problems: SpecProblem[]) {
    super(`${source}: invalid Rollout spec\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  }
}

export function formatProblem(p: SpecProblem): string {
  const where = p.line !== undefined ? ` (line ${p.line}${p.col !== undefined ? `, column ${p.col}` : ''})` : '';
  return `${p.path || '(document)'}: ${p.message}${where}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

export interface ParseOptions {
  /** Shown in error messages (a file name). */
  source?: string;
  /** Overrides spec.canary.image, as `ramp start --image` does. */
  image?: string;
  /**
   * The namespace the command line names (`-n`), as kubectl takes it: it fills a missing
   * metadata.namespace, and a spec naming another one is a problem at metadata.namespace.
   */
  namespace?: string;
}

/** Refuses inputs large or deep enough to be an attack rather than a spec. */
const MAX_BYTES = 1024 * 1024;
/**
 * Nesting a Rollout may have: its own fields go 7 levels deep, a podTemplatePatch (affinity, say)
 * some 15 more. Checked before the YAML parser builds nodes, whose recursion a deeper file overflows.
 */
export const MAX_DEPTH = 64;

const YAML_OPTIONS = { uniqueKeys: true } as const;

export function parseRollout(text: string, opts: ParseOptions = {}): ResolvedRollout {
  const source = opts.source ?? '(input)';
  const fail: (problems: SpecProblem[]) => never = (problems) => {
    throw new SpecError(source, problems);
  };
  if (text.length > MAX_BYTES) {
    fail([{ path: '', message: `is ${text.length} bytes; a Rollout spec may be at most ${MAX_BYTES} bytes` }]);
  }
  const lineCounter = new LineCounter();
  const at = (offset: number) => lineCounter.linePos(offset);
  // JSON is YAML 1.2, so one parser reads both. The parser proper is iterative; building nodes
  // from its tokens is not, so the depth is checked in between.
  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(text));
  const tooDeep = deeperThan(tokens, MAX_DEPTH);
  if (tooDeep !== undefined) {
    fail([{ path: '', message: `nests more than ${MAX_DEPTH} levels deep; a Rollout spec, podTemplatePatch included, needs far fewer: is this the right file?`, ...at(tooDeep) }]);
  }
  // A document with nothing in it (a trailing `---`) is no document, as kubectl has it.
  const docs = Array.from(new Composer(YAML_OPTIONS).compose(tokens)).filter((d) => d.errors.length > 0 || !isEmpty(d.contents));
  if (docs.length === 0) {
    fail([{ path: '', message: `is empty: a Rollout has apiVersion: ${API_VERSION}, kind: ${KIND}, metadata and spec (docs/spec.md lists every field)` }]);
  }
  if (docs.length > 1) fail([{ path: '', message: severalDocuments(docs, at) }]);
  const doc = docs[0]!;
  if (doc.errors.length > 0) {
    fail(doc.errors.map((e: YAMLError) => ({ path: '', message: `syntax error: ${e.message.split('\n')[0]!}`, ...at(e.pos[0]) })));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    fail([{ path: '', message: (err as Error).message }]);
  }
  // Aliases can nest what the text does not.
  if (valueDeeperThan(raw, MAX_DEPTH)) fail([{ path: '', message: `nests more than ${MAX_DEPTH} levels deep through its aliases; a Rollout spec needs far fewer` }]);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail([{ path: '', message: `must be a Rollout: a mapping with apiVersion, kind, metadata and spec; got ${describeValue(raw)}`, ...at(doc.contents!.range[0]) }]);
  }
  const foreign = foreignSpecMessage(raw, API_VERSION);
  if (foreign !== undefined) fail([{ path: '', message: foreign }]);
  if (opts.image !== undefined) raw = withImage(raw, opts.image);
  const { raw: withNs, conflict } = withNamespace(raw, opts.namespace);
  const located = (p: IssueProblem): SpecProblem => {
    const node = p.key !== undefined ? keyNode(doc, p.path, p.key) : closestNode(doc, p.path);
    const pos = node?.range ? at(node.range[0]) : undefined;
    return { path: formatPath(p.path), message: p.message, line: pos?.line, col: pos?.col };
  };
  const res = rolloutSchema.safeParse(withNs);
  const problems = [
    ...(conflict ? [conflict] : []),
    ...(res.success ? [] : issuesProblems(rolloutSchema, withNs, res.error.issues)),
  ].map(located);
  if (problems.length > 0) fail(problems);
  return res.data!;
}

/** Validates an already-parsed object (the workflow input, an update payload). */
export function validateRollout(raw: unknown, source = '(input)'): ResolvedRollout {
  const res = rolloutSchema.safeParse(raw);
  if (res.success) return res.data;
  throw new SpecError(source, issuesProblems(rolloutSchema, raw, res.error.issues).map((p) => ({ path: formatPath(p.path), message: p.message })));
}

/** Several documents: which ones, and that a file holds one Rollout. */
function severalDocuments(docs: Document.Parsed[], at: (offset: number) => { line: number }): string {
  const described = docs.map((d, i) => {
    const kind = d.get('kind');
    const name = d.getIn(['metadata', 'name']);
    const what = typeof kind === 'string' ? ` (${kind}${typeof name === 'string' ? ` ${name}` : ''})` : '';
    // Its content's line, not its `---` marker's: that is where a person looks.
    return `document ${i + 1} at line ${at(d.contents?.range[0] ?? d.range[0]).line}${what}`;
  });
  return `holds ${docs.length} YAML documents: ${described.join(', ')}; a file holds one Rollout: put each in a file of its own`;
}

function isEmpty(node: Document.Parsed['contents']): boolean {
  return node === null || (isScalar(node) && node.value === null && node.source === '');
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v === 'number' ? 'the number' : 'the value'} ${JSON.stringify(v)}`;
}

/**
 * The spec with the command line's namespace: filled in when the spec names none; when it names
 * another, the spec keeps its own and the conflict is a problem to report.
 */
function withNamespace(raw: unknown, namespace: string | undefined): { raw: unknown; conflict?: IssueProblem } {
  const r = raw as { metadata?: unknown };
  if (namespace === undefined || typeof raw !== 'object' || raw === null || typeof r.metadata !== 'object' || r.metadata === null) return { raw };
  const metadata = r.metadata as { namespace?: unknown };
  if (metadata.namespace === undefined || metadata.namespace === null) return { raw: { ...r, metadata: { ...metadata, namespace } } };
  // Not a string: the schema says what is wrong with it.
  if (typeof metadata.namespace !== 'string' || metadata.namespace === namespace) return { raw };
  return {
    raw,
    conflict: {
      path: ['metadata', 'namespace'],
      message: `is ${JSON.stringify(metadata.namespace)}, but the command line says -n ${namespace}: `
        + `run with -n ${metadata.namespace} (or without -n), or remove metadata.namespace from the file to take the namespace from -n`,
    },
  };
}

/**
 * The spec with `--image` as the canary's image. A canary version value that merely repeated the
 * spec's own image tag follows the new image (it is derived from the tag again, decisions/0015);
 * any other explicit value stays.
 */
function withImage(raw: unknown, image: string): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const r = raw as { spec?: { canary?: Record<string, unknown> } };
  if (typeof r.spec !== 'object' || r.spec === null) return raw;
  const canary: Record<string, unknown> = { ...(r.spec.canary ?? {}), image };
  const label = canary.versionLabel as Record<string, unknown> | undefined;
  const oldImage = r.spec.canary?.image;
  if (label && typeof oldImage === 'string' && label.canary !== undefined && label.canary === imageTag(oldImage)) {
    const { canary: _repeated, ...rest } = label;
    canary.versionLabel = rest;
  }
  return { ...r, spec: { ...r.spec, canary } };
}

/** The deepest YAML node along path that exists, for a line number. */
function closestNode(doc: Document.Parsed, path: (string | number)[]) {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = doc.getIn(path.slice(0, n), true);
    if (isNode(node)) return node;
  }
  return undefined;
}

/** The key of an unknown field, for its own line rather than its parent's. */
function keyNode(doc: Document.Parsed, path: (string | number)[], key: string) {
  const parent: unknown = doc.getIn(path, true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (pair && isNode(pair.key)) return pair.key;
  }
  return closestNode(doc, path);
}

/** The offset of the first collection nested deeper than max, in the parser's tokens, without recursion. */
function deeperThan(tokens: CST.Token[], max: number): number | undefined {
  const stack: [CST.Token, number][] = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (token.type === 'document') {
      if (token.value) stack.push([token.value, depth]);
    } else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth + 1 > max) return token.offset;
      for (const item of token.items) {
        if ('key' in item && item.key) stack.push([item.key, depth + 1]);
        if (item.value) stack.push([item.value, depth + 1]);
      }
    }
  }
  return undefined;
}

/** Whether a parsed value nests deeper than max (aliases can), without recursion. */
function valueDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
