/**
 * Writing a routing or workload change into a manifest file as a person would: only the values that
 * differ are rewritten, in the file's own layout. The change is computed as a diff between the object
 * in the file and the object a router wants, and each difference becomes a splice of the original
 * text at the byte ranges the YAML parser reports. Nothing is re-serialised, so comments, key order,
 * blank lines, quoting, flow or block style and the other documents of the file keep their bytes;
 * only new content (a `ramp-*` route entry, a subset) is rendered, in the file's indentation.
 *
 * Every result is parsed again before it is returned: the object must read back exactly as wanted
 * and every other document as it was, or the edit is refused — a wrong commit to a GitOps repository
 * deploys, so a layout this module cannot edit safely is an error, never a guess.
 */
import { Document, isAlias, parse, isMap, isPair, isScalar, isSeq, type Node, type Pair, Scalar, visit, type YAMLMap, type YAMLSeq } from 'yaml';
import { jsonEqual } from '../traffic/objects';
import { findObject, ManifestError, type ManifestDocument, type ManifestFile, type ObjectLocator, parseManifestFile } from './manifest-file';

/** Options of applyObjectChange. */
export interface EditOptions {
  /** The file's path in the repository, for messages. */
  file?: string;
}

/** One splice of the original text: replace [start, end) with `text` (start === end: an insertion). */
interface Splice {
  start: number;
  end: number;
  text: string;
  /** Order of creation: insertions at the same offset keep it. */
  seq: number;
}

/** How new block content is indented: spaces per level, and whether a sequence under a key is indented. */
interface Layout {
  indent: number;
  indentSeq: boolean;
}

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `spec.http[1].route[0].weight` from path segments. */
export function pathInWords(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out || '(document root)';
}

/** The first path where two JSON values differ, for messages; undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, path: (string | number)[] = []): string | undefined {
  if (jsonEqual(a, b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], [...path, i]);
      if (d) return d;
    }
  }
  if (isObject(a) && isObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[k], b[k], [...path, k]);
      if (d) return d;
    }
  }
  return pathInWords(path);
}

/**
 * What identifies a sequence item across a change when it is not equal: its `name` (HTTP routes,
 * subsets, containers, backendRefs), else an Istio route entry's destination.
 */
function identity(v: unknown): string | undefined {
  if (!isObject(v)) return undefined;
  if (typeof v.name === 'string') return `name:${v.name}`;
  if (v.destination !== undefined) return `destination:${JSON.stringify(v.destination)}`;
  return undefined;
}

/** Pairs of (old index, new index) of equal items, longest common subsequence first. */
function equalPairs(a: readonly unknown[], b: readonly unknown[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  const len: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i]![j] = jsonEqual(a[i], b[j]) ? len[i + 1]![j + 1]! + 1 : Math.max(len[i + 1]![j]!, len[i]![j + 1]!);
    }
  }
  const out: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m;) {
    if (jsonEqual(a[i], b[j])) out.push([i++, j++]);
    else if (len[i + 1]![j]! >= len[i]![j + 1]!) i++;
    else j++;
  }
  return out;
}

/**
 * Which old item each new item continues (and is then edited in place): equal items first; between
 * them, items of the same identity; a stretch where as many items went as came is paired in order.
 * Unpaired old items are removed, unpaired new items inserted.
 */
export function alignSequence(a: readonly unknown[], b: readonly unknown[]): Map<number, number> {
  const pairs = new Map<number, number>();
  const anchors = [[-1, -1], ...equalPairs(a, b), [a.length, b.length]] as [number, number][];
  for (let k = 0; k + 1 < anchors.length; k++) {
    const [i0, j0] = anchors[k]!;
    const [i1, j1] = anchors[k + 1]!;
    if (k + 2 < anchors.length) pairs.set(j1, i1);
    const olds = range(i0 + 1, i1);
    const news = range(j0 + 1, j1);
    if (olds.length === news.length) {
      news.forEach((j, x) => pairs.set(j, olds[x]!));
      continue;
    }
    let from = 0;
    for (const j of news) {
      const id = identity(b[j]);
      if (id === undefined) continue;
      const at = olds.findIndex((i, x) => x >= from && identity(a[i]) === id);
      if (at < 0) continue;
      pairs.set(j, olds[at]!);
      from = at + 1;
    }
  }
  return pairs;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, x) => from + x);
}

/** The edit of one document: collects splices while walking the YAML nodes beside the wanted value. */
class DocumentEdit {
  readonly splices: Splice[] = [];
  private readonly text: string;
  private readonly layout: Layout;

  constructor(
    private readonly file: ManifestFile,
    private readonly target: ManifestDocument,
  ) {
    this.text = file.text;
    this.layout = this.detectLayout();
  }

  private fail(path: readonly (string | number)[], node: Node | null | undefined, detail: string): never {
    const line = node?.range ? this.lineOf(node.range[0]) : this.target.line;
    throw new ManifestError(this.file.path, `${pathInWords(path)}: ${detail}`, this.target.index, line);
  }

  private lineOf(offset: number): number {
    let line = 1;
    for (let i = this.text.indexOf('\n'); i >= 0 && i < offset; i = this.text.indexOf('\n', i + 1)) line++;
    return line;
  }

  // ---- positions in the text ----

  private lineStart(pos: number): number {
    return this.text.lastIndexOf('\n', pos - 1) + 1;
  }

  /** Just past the line break of the line holding `pos` (the text's end on a last line without one). */
  private afterLine(pos: number): number {
    const nl = this.text.indexOf('\n', pos);
    return nl < 0 ? this.text.length : nl + 1;
  }

  /** Where the line holding `pos` ends, before its line break. */
  private lineEnd(pos: number): number {
    const nl = this.text.indexOf('\n', pos);
    if (nl < 0) return this.text.length;
    return this.text[nl - 1] === '\r' ? nl - 1 : nl;
  }

  private column(pos: number): number {
    return pos - this.lineStart(pos);
  }

  private onlyIndentBefore(pos: number): boolean {
    return this.text.slice(this.lineStart(pos), pos).trim() === '';
  }

  /** Where a node's own content ends: past its last character, before trailing comments and blank lines. */
  private contentEnd(node: Node | null | undefined, fallback: number): number {
    if (!node?.range) return fallback;
    if (isScalar(node) || isAlias(node) || ((isMap(node) || isSeq(node)) && node.flow)) {
      let end = node.range[1];
      while (end > node.range[0] && /[\r\n]/.test(this.text[end - 1]!)) end--;
      return end;
    }
    if (!isMap(node) && !isSeq(node)) return fallback;
    const last = (node.items as unknown[]).at(-1);
    if (isPair(last)) return this.pairEnd(last);
    return this.contentEnd(last as Node, node.range[1]);
  }

  private pairEnd(pair: Pair): number {
    const keyEnd = (pair.key as Node).range![1];
    return this.contentEnd(pair.value as Node | null, keyEnd);
  }

  /** Above the line at `ls`, the comment lines directly over it: they belong to the item below them. */
  private commentsAbove(ls: number): number {
    let at = ls;
    while (at > 0) {
      const prev = this.lineStart(at - 1);
      if (!this.text.slice(prev, at).trimStart().startsWith('#')) break;
      at = prev;
    }
    return at;
  }

  // ---- rendering new content ----

  private detectLayout(): Layout {
    const layout: Partial<Layout> = {};
    visit(this.target.doc, {
      Pair: (_, pair) => {
        const key = pair.key as Node | null;
        const value = pair.value as Node | null;
        if (!key?.range || !value?.range) return;
        if (layout.indent === undefined && isMap(value) && !value.flow && isPair(value.items[0])) {
          const child = value.items[0].key as Node;
          if (child.range && this.onlyIndentBefore(child.range[0])) layout.indent = this.column(child.range[0]) - this.column(key.range[0]);
        }
        if (layout.indentSeq === undefined && isSeq(value) && !value.flow && value.range) {
          const dash = this.text.lastIndexOf('-', value.range[0]);
          layout.indentSeq = this.column(dash) > this.column(key.range[0]);
        }
      },
    });
    return { indent: layout.indent && layout.indent > 0 ? layout.indent : 2, indentSeq: layout.indentSeq ?? true };
  }

  /** Block YAML for a value, its first line unindented and the rest at `col`: for a place whose start is already written. */
  private block(value: unknown, col: number): string {
    const doc = quoteAmbiguous(new Document(value));
    const out = doc.toString({ indent: this.layout.indent, indentSeq: this.layout.indentSeq, lineWidth: 0 }).replace(/\n$/, '');
    return out.split('\n').map((l, i) => (i === 0 || l === '' ? l : ' '.repeat(col) + l)).join(this.file.eol);
  }

  private flow(value: unknown, padding: boolean): string {
    const doc = quoteAmbiguous(new Document(value));
    visit(doc, {
      Map: (_, m) => void (m.flow = true),
      Seq: (_, s) => void (s.flow = true),
    });
    const out = doc.toString({ flowCollectionPadding: padding, lineWidth: 0 }).replace(/\n$/, '');
    // A plain scalar is safe alone but not inside a flow collection, where , [ ] { } end it.
    if (isScalar(doc.contents) && typeof value === 'string' && /[,[\]{}]/.test(out) && !/^["']/.test(out)) return JSON.stringify(value);
    return out;
  }

  /** A scalar in place, in the style of the one it replaces where that style can hold the value. */
  private scalar(node: Scalar, value: unknown, path: readonly (string | number)[]): string {
    if (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED) {
      this.fail(path, node, `is a block scalar (${node.type === Scalar.BLOCK_LITERAL ? '|' : '>'}); Ramp rewrites only plain or quoted scalars. Write the value on one line (plain or quoted) and commit that first`);
    }
    if (typeof value !== 'string') return this.flow(value, false);
    if (value.includes('\n') || node.type === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
    if (node.type === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
    return this.flow(value, false);
  }

  private splice(start: number, end: number, text: string): void {
    // A removal that takes the last line of a file without a final line break takes the break before it, so the file ends as it did.
    if (text === '' && end === this.text.length && !this.text.endsWith('\n') && start > 0 && this.text[start - 1] === '\n') {
      start -= this.text[start - 2] === '\r' ? 2 : 1;
    }
    this.splices.push({ start, end, text, seq: this.splices.length });
  }

  /** Inserts whole lines after the line holding `pos`; at the end of a file without a final line break, the break goes first. */
  private insertLines(pos: number, lines: string): void {
    const at = this.afterLine(pos);
    if (at === this.text.length && !this.text.endsWith('\n')) this.splice(at, at, this.file.eol + lines.slice(0, -this.file.eol.length));
    else this.splice(at, at, lines);
  }

  // ---- the walk ----

  /** Refuses to edit below an anchor or through an alias: the other uses of the anchor would change too, or the alias would be replaced by a copy. */
  private guard(node: Node | null | undefined, path: readonly (string | number)[]): void {
    if (isAlias(node)) {
      this.fail(path, node, `is an alias (*${node.source}); changing it here would break the alias or change every use of &${node.source}. Write the value out in full at ${pathInWords(path)} (no alias) and commit that first`);
    }
    if (node && 'anchor' in node && node.anchor) {
      this.fail(path, node, `carries the anchor &${node.anchor}, which aliases may repeat elsewhere; changing it would change them too. Write the values out in full (no anchor, no alias) and commit that first`);
    }
    if (isMap(node) && node.items.some((p) => isScalar(p.key) && p.key.value === '<<')) {
      this.fail(path, node, 'takes values from a merge key (<<); Ramp cannot tell which of them the file really holds. Write the values out in full (no <<) and commit that first');
    }
  }

  /** Refuses to remove or replace a subtree that defines an anchor: its aliases elsewhere would dangle. */
  private guardRemoval(node: Node | null | undefined, path: readonly (string | number)[]): void {
    if (!node) return;
    visit(node, {
      Node: (_, n) => {
        if ('anchor' in n && n.anchor) this.fail(path, n, `would be removed or replaced, but it defines the anchor &${n.anchor} that aliases may use; write them out in full and commit that first`);
      },
    });
  }

  /** Edits `node` (whose value is `cur`) to hold `want`; 'replace' when the parent must rewrite it whole (its kind changes, or a block collection becomes empty). */
  walk(node: Node | null | undefined, cur: unknown, want: unknown, path: (string | number)[]): 'done' | 'replace' {
    if (jsonEqual(cur, want)) return 'done';
    this.guard(node, path);
    if (isScalar(node) && !isObject(want) && !Array.isArray(want) && node.range && node.range[0] < node.range[1]) {
      this.splice(node.range[0], this.contentEnd(node, node.range[1]), this.scalar(node, want, path));
      return 'done';
    }
    if (isMap(node) && isObject(want) && isObject(cur) && (node.flow || Object.keys(want).length > 0)) {
      this.walkMap(node, cur, want, path);
      return 'done';
    }
    if (isSeq(node) && Array.isArray(want) && Array.isArray(cur) && (node.flow || want.length > 0)) {
      this.walkSeq(node, cur, want, path);
      return 'done';
    }
    return 'replace';
  }

  private walkMap(map: YAMLMap, cur: JsonObject, want: JsonObject, path: (string | number)[]): void {
    const flow = Boolean(map.flow);
    const pad = flow && this.text[map.range![0] + 1] === ' ';
    const pairs = map.items;
    for (const [x, pair] of pairs.entries()) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) this.fail(path, map, 'has a key that is not a plain value; Ramp edits only maps with plain keys');
      const keyNode = pair.key as Node;
      const value = pair.value as Node | null;
      const at = [...path, key];
      if (!(key in want)) {
        this.guardRemoval(value, at);
        if (flow) this.removeFlowItem(pairs.map((p) => (p.key as Node).range![0]), pairs.map((p) => this.pairEnd(p)), x);
        else this.removeBlockEntry(keyNode.range![0], this.pairEnd(pair), pairs[x + 1] ? (pairs[x + 1]!.key as Node).range![0] : undefined, at, map);
        continue;
      }
      if (this.walk(value, cur[key], want[key], at) === 'replace') {
        this.guardRemoval(value, at);
        const start = keyNode.range![0];
        if (flow) this.splice(start, this.pairEnd(pair), `${this.flow(key, pad)}: ${this.flow(want[key], pad)}`);
        else this.splice(start, this.lineEnd(this.pairEnd(pair)), this.block({ [key]: want[key] }, this.column(start)));
      }
    }
    const added = Object.keys(want).filter((k) => !(k in cur));
    if (added.length === 0) return;
    if (flow) {
      const rendered = added.map((k) => `${this.flow(k, pad)}: ${this.flow(want[k], pad)}`);
      this.appendFlow(map, pairs.length > 0 ? this.pairEnd(pairs.at(-1)!) : undefined, rendered, pad);
      return;
    }
    const first = pairs[0]!.key as Node;
    const col = this.column(first.range![0]);
    const lines = added.map((k) => ' '.repeat(col) + this.block({ [k]: want[k] }, col) + this.file.eol).join('');
    this.insertLines(this.pairEnd(pairs.at(-1)!), lines);
  }

  private walkSeq(seq: YAMLSeq, cur: unknown[], want: unknown[], path: (string | number)[]): void {
    const flow = Boolean(seq.flow);
    const pad = flow && this.text[seq.range![0] + 1] === ' ';
    const items = seq.items as (Node | null)[];
    if (items.some((n) => !n?.range || isPair(n))) this.fail(path, seq, 'has an empty or key: value item Ramp cannot locate; write each item out and commit that first');
    const starts = items.map((n) => n!.range![0]);
    const ends = items.map((n) => this.contentEnd(n, n!.range![1]));
    const pairs = alignSequence(cur, want);
    const kept = new Set(pairs.values());
    for (let i = 0; i < items.length; i++) {
      if (kept.has(i)) continue;
      this.guardRemoval(items[i], [...path, i]);
      if (flow) this.removeFlowItem(starts, ends, i);
      else this.removeBlockEntry(this.dashOf(starts[i]!), ends[i]!, undefined, [...path, i], seq);
    }
    const pending: unknown[] = [];
    const flush = (before: number | undefined) => {
      if (pending.length === 0) return;
      if (flow) {
        const rendered = pending.map((v) => this.flow(v, pad));
        if (before === undefined) this.appendFlow(seq, items.length > 0 ? ends.at(-1) : undefined, rendered, pad);
        else this.splice(starts[before]!, starts[before]!, rendered.map((r) => `${r}, `).join(''));
      } else if (items.length === 0) {
        this.fail(path, seq, 'is an empty block sequence; Ramp cannot place items in it');
      } else {
        const dashCol = this.column(this.dashOf(starts[0]!));
        const lines = pending.map((v) => `${' '.repeat(dashCol)}- ${this.block(v, dashCol + 2)}${this.file.eol}`).join('');
        if (before === undefined) this.insertLines(ends.at(-1)!, lines);
        else {
          const at = this.commentsAbove(this.lineStart(this.dashOf(starts[before]!)));
          this.splice(at, at, lines);
        }
      }
      pending.length = 0;
    };
    for (let j = 0; j < want.length; j++) {
      const i = pairs.get(j);
      if (i === undefined) {
        pending.push(want[j]);
        continue;
      }
      flush(i);
      const at = [...path, i];
      if (this.walk(items[i], cur[i], want[j], at) === 'replace') {
        this.guardRemoval(items[i], at);
        if (flow) this.splice(starts[i]!, ends[i]!, this.flow(want[j], pad));
        else this.splice(starts[i]!, this.lineEnd(ends[i]!), this.block(want[j], this.column(starts[i]!)));
      }
    }
    flush(undefined);
  }

  /** The `-` of the block sequence item whose content starts at `start`. */
  private dashOf(start: number): number {
    let at = start - 1;
    while (at >= 0 && /\s/.test(this.text[at]!)) at--;
    return this.text[at] === '-' ? at : start;
  }

  /** Removes a block map entry or sequence item: its whole lines, or up to the next key when it shares its line with a parent's `-`. */
  private removeBlockEntry(start: number, end: number, nextKey: number | undefined, path: readonly (string | number)[], parent: Node): void {
    if (this.onlyIndentBefore(start)) {
      this.splice(this.lineStart(start), this.afterLine(end), '');
      return;
    }
    if (nextKey !== undefined) {
      this.splice(start, nextKey, '');
      return;
    }
    this.fail(path, parent, 'shares its line with other content Ramp cannot remove it from; put it on a line of its own and commit that first');
  }

  private removeFlowItem(starts: number[], ends: number[], i: number): void {
    if (i + 1 < starts.length) this.splice(starts[i]!, starts[i + 1]!, '');
    else if (i > 0) this.splice(ends[i - 1]!, ends[i]!, '');
    else this.splice(starts[i]!, ends[i]!, '');
  }

  private appendFlow(node: Node, lastEnd: number | undefined, rendered: string[], pad: boolean): void {
    if (lastEnd !== undefined) {
      this.splice(lastEnd, lastEnd, rendered.map((r) => `, ${r}`).join(''));
      return;
    }
    const open = node.range![0] + 1;
    this.splice(open, open, pad ? ` ${rendered.join(', ')} ` : rendered.join(', '));
  }
}

/**
 * Kubernetes reads manifests as YAML 1.1 (sigs.k8s.io/yaml), where `yes`, `on` or `0777` are not
 * strings; the `yaml` library writes them plain because YAML 1.2 reads them as strings. New strings
 * that either version would read as something else are double-quoted.
 */
function quoteAmbiguous(doc: Document): Document {
  visit(doc, {
    Scalar: (_, s) => {
      if (typeof s.value !== 'string') return;
      const plain = s.value;
      const readsBack = (version: '1.1' | '1.2') => {
        try {
          return parse(plain, { version }) === plain;
        } catch {
          return false;
        }
      };
      if (!readsBack('1.1') || !readsBack('1.2')) s.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return doc;
}

/** The text with splices applied, last offset first so earlier offsets stay valid; overlapping splices are a bug, said as such. */
function applySplices(text: string, splices: Splice[]): string {
  const ordered = [...splices].sort((a, b) => b.start - a.start || Number(a.start === a.end) - Number(b.start === b.end) || b.seq - a.seq);
  let out = text;
  let limit = text.length;
  for (const s of ordered) {
    if (s.end > limit) throw new Error(`internal error: overlapping edits at offset ${s.start}; this is a bug in Ramp's manifest editor`);
    out = out.slice(0, s.start) + s.text + out.slice(s.end);
    limit = s.start;
  }
  return out;
}

/**
 * The file's text with the object changed from `before` to `after`, touching only what differs.
 * `before` is the object as the caller read it from this text: if the file now holds something else
 * the edit is refused (someone committed in between; read the file again), the way a resourceVersion
 * guard refuses a stale write.
 */
export function applyObjectChange(text: string, locator: ObjectLocator, before: unknown, after: unknown, options: EditOptions = {}): string {
  const path = options.file ?? '(manifest)';
  const file = parseManifestFile(path, text);
  const target = findObject(file, locator);
  const stale = firstDifference(target.value, before);
  if (stale !== undefined) {
    throw new ManifestError(path, `${stale} of ${locator.kind} ${locator.name} is not what the change was computed from: the file changed since it was read. Read it again and recompute the change`, target.index, target.line);
  }
  if (!isObject(after)) throw new ManifestError(path, `the new ${locator.kind} ${locator.name} is not an object`, target.index, target.line);
  const edit = new DocumentEdit(file, target);
  if (edit.walk(target.doc.contents, target.value, after, []) === 'replace') {
    throw new ManifestError(path, `${locator.kind} ${locator.name} is not a block map at the document root; Ramp cannot edit it in place`, target.index, target.line);
  }
  const out = applySplices(text, edit.splices);
  verify(file, out, target.index, after);
  return out;
}

/** The edited text must read back as intended: the object as wanted, every other document as it was. */
function verify(file: ManifestFile, out: string, index: number, after: unknown): void {
  let again: ManifestFile;
  try {
    again = parseManifestFile(file.path, out);
  } catch (e) {
    throw new Error(`internal error: editing ${file.path} produced text that does not parse (${(e as Error).message}); the file is left unchanged. This is a bug in Ramp's manifest editor`, { cause: e });
  }
  const problem = again.documents.length !== file.documents.length
    ? `${again.documents.length} documents instead of ${file.documents.length}`
    : file.documents.map((d) => {
      const diff = firstDifference(again.documents[d.index]!.value, d.index === index ? after : d.value);
      return diff === undefined ? undefined : `document ${d.index + 1} differs at ${diff}`;
    }).find((p) => p !== undefined);
  if (problem) throw new Error(`internal error: editing ${file.path} would give ${problem}; the file is left unchanged. This is a bug in Ramp's manifest editor`);
}

/**
 * A new manifest file for an object Ramp creates (the canary Deployment): the header comment says
 * who wrote it and why, so a person browsing the repository knows not to edit it by hand.
 */
export function renderNewManifest(obj: unknown, headerComment: string): string {
  const doc = new Document(obj);
  if (headerComment.trim() !== '') doc.commentBefore = headerComment.trimEnd().split('\n').map((l) => (l === '' ? '' : ` ${l}`)).join('\n');
  return doc.toString({ lineWidth: 0 });
}
