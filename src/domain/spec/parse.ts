/**
 * Reading a Rollout spec from YAML or JSON text: syntax errors with line and column, then schema
 * problems listed all at once by path (`spec.steps[2].setWeight: must be between 0 and 100, got
 * 120`), each with the line it is on when the text is YAML.
 */
import { isNode, LineCounter, parseDocument, YAMLError } from 'yaml';
import { imageTag } from '../workload/versions';
import { rolloutSchema, ResolvedRollout } from './schema';

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
   * The namespace given on the command line (`-n`), as kubectl takes it: fills a missing
   * metadata.namespace; a spec that names another one is refused.
   */
  namespace?: string;
}

/** Refuses inputs large or deep enough to be an attack rather than a spec. */
const MAX_BYTES = 1024 * 1024;

export function parseRollout(text: string, opts: ParseOptions = {}): ResolvedRollout {
  const source = opts.source ?? '(input)';
  if (text.length > MAX_BYTES) {
    throw new SpecError(source, [{ path: '', message: `is ${text.length} bytes; a Rollout spec may be at most ${MAX_BYTES} bytes` }]);
  }
  const lineCounter = new LineCounter();
  // JSON is YAML 1.2, so one parser reads both. Aliases are capped against "billion laughs".
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new SpecError(source, doc.errors.map((e: YAMLError) => {
      const pos = e.linePos?.[0];
      return { path: '', message: `syntax error: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, line: pos?.line, col: pos?.col };
    }));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new SpecError(source, [{ path: '', message: (err as Error).message }]);
  }
  if (opts.image !== undefined) raw = withImage(raw, opts.image);
  if (opts.namespace !== undefined) raw = withNamespace(raw, opts.namespace, source, doc, lineCounter);
  const res = rolloutSchema.safeParse(raw);
  if (res.success) return res.data;
  const problems = res.error.issues.map((iss): SpecProblem => {
    const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
    const node = closestNode(doc, path);
    const pos = node?.range ? lineCounter.linePos(node.range[0]) : undefined;
    return { path: formatPath(path), message: issueMessage(iss), line: pos?.line, col: pos?.col };
  });
  throw new SpecError(source, problems);
}

/** Validates an already-parsed object (the workflow input, an update payload). */
export function validateRollout(raw: unknown, source = '(input)'): ResolvedRollout {
  const res = rolloutSchema.safeParse(raw);
  if (res.success) return res.data;
  throw new SpecError(source, res.error.issues.map((iss) => ({
    path: formatPath(iss.path.filter((p): p is string | number => typeof p !== 'symbol')),
    message: issueMessage(iss),
  })));
}

/** zod's messages, with unknown fields said the way a person fixes them. */
function issueMessage(iss: { code: string; message: string; keys?: string[] }): string {
  if (iss.code === 'unrecognized_keys' && iss.keys) {
    return `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}: remove it or check the spelling`;
  }
  return iss.message;
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

/** The spec with `-n`'s namespace where it names none; a different one is a problem, as in kubectl. */
function withNamespace(raw: unknown, namespace: string, source: string, doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const r = raw as { metadata?: Record<string, unknown> };
  const own = r.metadata?.namespace;
  if (own === undefined || own === null) return { ...r, metadata: { ...(r.metadata ?? {}), namespace } };
  if (own !== namespace) {
    const node = closestNode(doc, ['metadata', 'namespace']);
    const pos = node?.range ? lineCounter.linePos(node.range[0]) : undefined;
    throw new SpecError(source, [{
      path: 'metadata.namespace',
      message: `is ${JSON.stringify(own)} but -n says ${JSON.stringify(namespace)}: drop one, or make them agree`,
      line: pos?.line, col: pos?.col,
    }]);
  }
  return raw;
}

/** The deepest YAML node along path that exists, for a line number. */
function closestNode(doc: ReturnType<typeof parseDocument>, path: (string | number)[]) {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = doc.getIn(path.slice(0, n), true);
    if (isNode(node)) return node;
  }
  return undefined;
}
