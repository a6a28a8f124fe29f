/**
 * A kustomize `kustomization.yaml` names the files its folder builds (`resources:`); the agent
 * applies nothing else from that folder. When Ramp adds the canary's manifest to such a folder it
 * must add the file to `resources:` in the same commit, and take it out again at cleanup. Edited as
 * lines, so every other byte of the file stays as it was.
 */
import { isScalar, isSeq, parseDocument, Scalar, YAMLSeq } from 'yaml';

export class KustomizationError extends Error {
  override name = 'KustomizationError';
}

/** The names a folder's kustomization file may have, in kustomize's order of preference. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

function resourcesOf(file: string, text: string): { seq?: YAMLSeq<unknown>; items: string[] } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new KustomizationError(`${file} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]!}); fix it first`);
  const node = doc.get('resources', true);
  if (node === undefined || node === null) return { items: [] };
  if (!isSeq(node)) throw new KustomizationError(`${file}: resources is not a list; make it one (resources: [...])`);
  const items = node.items.map((i) => (isScalar(i) ? String((i).value) : ''));
  return { seq: node, items };
}

const lineStart = (text: string, at: number) => text.lastIndexOf('\n', at - 1) + 1;
const lineEnd = (text: string, at: number) => {
  const i = text.indexOf('\n', at);
  return i < 0 ? text.length : i + 1;
};

/** The file with `entry` in its resources (unchanged when it is there already). */
export function addResource(file: string, text: string, entry: string): string {
  const { seq, items } = resourcesOf(file, text);
  if (items.includes(entry)) return text;
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  if (!seq) return `${text}${text === '' || text.endsWith('\n') ? '' : eol}resources:${eol}- ${entry}${eol}`;
  const range = seq.range!;
  if (seq.flow) {
    const close = text.lastIndexOf(']', range[1]);
    const sep = items.length === 0 ? '' : ', ';
    return `${text.slice(0, close)}${sep}${entry}${text.slice(close)}`;
  }
  const last = seq.items.at(-1) as Scalar;
  const at = last.range![0];
  const start = lineStart(text, at);
  const prefix = text.slice(start, at);
  if (!/^\s*-\s+$/.test(prefix)) throw new KustomizationError(`${file}: the last resources item does not start its own line; put each item on a line of its own`);
  const end = lineEnd(text, last.range![1]);
  const before = text.slice(0, end);
  return `${before}${before.endsWith('\n') ? '' : eol}${prefix}${entry}${eol}${text.slice(end)}`;
}

/** The file without `entry` in its resources (unchanged when it is not there). */
export function removeResource(file: string, text: string, entry: string): string {
  const { seq, items } = resourcesOf(file, text);
  const index = items.indexOf(entry);
  if (!seq || index < 0) return text;
  const item = seq.items[index] as Scalar;
  const [from, to] = item.range!;
  if (seq.flow) {
    // The item and the comma on one side of it.
    const after = text.slice(to).match(/^\s*,\s*/);
    if (after) return text.slice(0, from) + text.slice(to + after[0].length);
    const before = text.slice(0, from).match(/,\s*$/);
    return text.slice(0, from - (before ? before[0].length : 0)) + text.slice(to);
  }
  return text.slice(0, lineStart(text, from)) + text.slice(lineEnd(text, to));
}
