/**
 * Reading a manifest file of a GitOps repository: its documents (a file may hold several, split by
 * `---`), each kept as the `yaml` library's Document so an edit can find the exact bytes of every
 * node, and the one document that holds a given object. Pure: the caller reads the file and passes
 * its text and path (the path only names the file in messages).
 */
import { type Document, isMap, LineCounter, parseAllDocuments } from 'yaml';

/** Which object an edit is for: the apiVersion's group (the version may differ), kind, name and, when given, namespace. */
export interface ObjectLocator {
  apiVersion: string;
  kind: string;
  name: string;
  /** Matched only when the document names a namespace too: kustomize often sets it for the whole overlay. */
  namespace?: string;
}

/** One document of a manifest file. */
export interface ManifestDocument {
  /** 0-based position in the file. */
  index: number;
  /** 1-based line where the document's content starts. */
  line: number;
  /** The parsed document, with source ranges. */
  doc: Document.Parsed;
  /** Its value as plain JSON; null for a document with no content (only comments, or an empty `---` section). */
  value: unknown;
}

/** A manifest file's text split into documents. */
export interface ManifestFile {
  path: string;
  text: string;
  /** The file's line ending: edits write new lines with it. */
  eol: '\n' | '\r\n';
  documents: ManifestDocument[];
}

/** Thrown when a manifest file cannot be read or edited as asked; the message names the file, document and line, and the fix. */
export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly document?: number,
    readonly line?: number,
  ) {
    super(`${file}${document !== undefined ? `: document ${document + 1}` : ''}${line !== undefined ? ` (line ${line})` : ''}: ${detail}`);
  }
}

/** The group of an apiVersion: `networking.istio.io/v1` → `networking.istio.io`, `v1` → '' (the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** `Kind namespace/name` (or `Kind name` without a namespace), for messages. */
export function locatorInWords(l: ObjectLocator): string {
  return `${l.kind} ${l.namespace ? `${l.namespace}/` : ''}${l.name} (${groupOf(l.apiVersion) || 'core'} group)`;
}

/**
 * The file's line ending. A file mixing both is refused: an inserted line would match only half of
 * it, and git diffs of such files are noise either way.
 */
function lineEnding(path: string, text: string): '\n' | '\r\n' {
  const crlf = (text.match(/\r\n/g) ?? []).length;
  const lf = (text.match(/\n/g) ?? []).length;
  if (crlf > 0 && crlf < lf) {
    throw new ManifestError(path, `mixes CRLF and LF line endings (${crlf} CRLF, ${lf - crlf} LF); convert the file to one of them (for example with dos2unix) and commit that first`);
  }
  return crlf > 0 ? '\r\n' : '\n';
}

/**
 * Parses every document of a manifest file. YAML merge keys (`<<`) are resolved as kubectl
 * resolves them, so the values read are the values the apiserver would see.
 */
export function parseManifestFile(path: string, text: string): ManifestFile {
  const eol = lineEnding(path, text);
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, merge: true, prettyErrors: true });
  const documents: ManifestDocument[] = [];
  for (const [index, doc] of docs.entries()) {
    const line = lineCounter.linePos(doc.contents?.range?.[0] ?? doc.range[0]).line;
    const error = doc.errors[0];
    if (error) {
      const at = error.linePos?.[0];
      throw new ManifestError(path, `is not valid YAML: ${error.message.split('\n')[0]!}; fix the syntax (Ramp edits only files that parse)`, index, at?.line ?? line);
    }
    documents.push({ index, line, doc, value: doc.toJS({ maxAliasCount: 100 }) as unknown });
  }
  return { path, text, eol, documents };
}

function field(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Does this document hold the object? */
export function matches(d: ManifestDocument, l: ObjectLocator): boolean {
  if (!isMap(d.doc.contents)) return false;
  const apiVersion = field(d.value, 'apiVersion');
  const namespace = field(d.value, 'metadata', 'namespace');
  return typeof apiVersion === 'string' && groupOf(apiVersion) === groupOf(l.apiVersion)
    && field(d.value, 'kind') === l.kind
    && field(d.value, 'metadata', 'name') === l.name
    && (l.namespace === undefined || namespace === undefined || namespace === l.namespace);
}

/** The one document that holds the object; a ManifestError when none or several do. */
export function findObject(file: ManifestFile, l: ObjectLocator): ManifestDocument {
  const found = file.documents.filter((d) => matches(d, l));
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    const held = file.documents
      .filter((d) => isMap(d.doc.contents))
      .map((d) => `${String(field(d.value, 'kind'))} ${String(field(d.value, 'metadata', 'name'))} (document ${d.index + 1})`);
    throw new ManifestError(file.path, `holds no ${locatorInWords(l)}; it holds ${held.length > 0 ? held.join(', ') : 'no objects'}. Point the rollout's GitOps source at the file that defines it`);
  }
  const where = found.map((d) => `document ${d.index + 1} (line ${d.line})`).join(' and ');
  throw new ManifestError(file.path, `holds ${locatorInWords(l)} ${found.length} times, in ${where}; keep one definition so Ramp knows which to edit`, found[1]!.index, found[1]!.line);
}
