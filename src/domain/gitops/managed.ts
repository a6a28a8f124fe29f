/**
 * The fields of an object Ramp owns in GitOps mode, and their comparison: a commit by someone else
 * that changes one of them is drift; the cluster "shows the committed values" when these fields
 * match, whatever the apiserver added or defaulted elsewhere. Field ownership in the spirit of
 * server-side apply, written down as paths because a git repository has no managedFields.
 */
import { jsonEqual } from '../traffic/objects';

/**
 * One managed path. Segments are map keys; `[*]` is every item of a list, `[ramp]` only Ramp's own
 * `ramp-*` items (compared by presence: their content is covered by the other paths).
 */
export interface ManagedPath {
  path: string;
  /** The value the apiserver gives the field when a manifest leaves it out, so absent and default compare equal. */
  default?: unknown;
}

/** Entries whose name starts with this are Ramp's, as in the traffic routers. */
const RAMP_PREFIX = 'ramp-';

/** What Ramp owns, by kind. */
export const MANAGED_PATHS: Readonly<Record<string, readonly ManagedPath[]>> = {
  VirtualService: [
    { path: 'spec.http[ramp]' },
    { path: 'spec.http[*].route[*].destination.host' },
    { path: 'spec.http[*].route[*].destination.subset' },
    { path: 'spec.http[*].route[*].weight' },
    { path: 'spec.http[*].mirror' },
    { path: 'spec.http[*].mirrorPercentage' },
  ],
  DestinationRule: [
    { path: 'spec.subsets[*].name' },
    { path: 'spec.subsets[*].labels' },
  ],
  HTTPRoute: [
    { path: 'spec.rules[ramp]' },
    { path: 'spec.rules[*].backendRefs[*].name' },
    { path: 'spec.rules[*].backendRefs[*].port' },
    // Gateway API defaults a backendRef's weight to 1.
    { path: 'spec.rules[*].backendRefs[*].weight', default: 1 },
  ],
  Deployment: [
    { path: 'spec.template.spec.containers[*].image' },
  ],
};

/** One managed value that differs. */
export interface ManagedDifference {
  /** Where, with the indexes of `expected` (of `actual` for an item only it has): `spec.http[1].route[0].weight`. */
  path: string;
  expected: unknown;
  actual: unknown;
}

type Segment = { key: string } | { items: 'all' | 'ramp' };

function segments(path: string): Segment[] {
  return path.split('.').flatMap((part): Segment[] => {
    const m = /^([^[]+)((?:\[(?:\*|ramp)\])*)$/.exec(part);
    if (!m) throw new Error(`managed path "${path}" has a malformed segment "${part}"`);
    const lists = [...m[2]!.matchAll(/\[(\*|ramp)\]/g)].map((x): Segment => ({ items: x[1] === 'ramp' ? 'ramp' : 'all' }));
    return [{ key: m[1]! }, ...lists];
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nameOf = (v: unknown): string | undefined => (isObject(v) && typeof v.name === 'string' ? v.name : undefined);

/**
 * The items of two lists that correspond: by name when every item has one (a header route inserted
 * by hand must not shift every later comparison), else by position.
 */
function pairItems(e: unknown[], a: unknown[]): { e?: number; a?: number }[] {
  const named = [...e, ...a].every((v) => nameOf(v) !== undefined);
  if (!named) return Array.from({ length: Math.max(e.length, a.length) }, (_, i) => ({ e: i < e.length ? i : undefined, a: i < a.length ? i : undefined }));
  const out: { e?: number; a?: number }[] = e.map((v, i) => {
    const j = a.findIndex((w) => nameOf(w) === nameOf(v));
    return { e: i, a: j < 0 ? undefined : j };
  });
  a.forEach((w, j) => {
    if (!e.some((v) => nameOf(v) === nameOf(w))) out.push({ a: j });
  });
  return out;
}

function compare(e: unknown, a: unknown, segs: Segment[], at: string, rule: ManagedPath, out: ManagedDifference[]): void {
  const [seg, ...rest] = segs;
  if (seg === undefined) {
    const ev = e === undefined ? rule.default : e;
    const av = a === undefined ? rule.default : a;
    if (!jsonEqual(ev, av)) out.push({ path: at, expected: e, actual: a });
    return;
  }
  if ('key' in seg) {
    const next = at === '' ? seg.key : `${at}.${seg.key}`;
    compare(isObject(e) ? e[seg.key] : undefined, isObject(a) ? a[seg.key] : undefined, rest, next, rule, out);
    return;
  }
  const el: unknown[] = Array.isArray(e) ? e : [];
  const al: unknown[] = Array.isArray(a) ? a : [];
  for (const p of pairItems(el, al)) {
    const ev = p.e === undefined ? undefined : el[p.e];
    const av = p.a === undefined ? undefined : al[p.a];
    const where = `${at}[${p.e ?? p.a!}]`;
    const rampOnOneSide = (ev === undefined || av === undefined) && [nameOf(ev), nameOf(av)].some((n) => n?.startsWith(RAMP_PREFIX));
    if (seg.items === 'ramp') {
      if (rampOnOneSide) out.push({ path: where, expected: nameOf(ev), actual: nameOf(av) });
      continue;
    }
    // A Ramp entry on one side only is one difference, said by its `[ramp]` path, not one per field.
    if (rampOnOneSide) continue;
    compare(ev, av, rest, where, rule, out);
  }
}

/**
 * The managed values of `expected` (what Ramp committed) that `actual` (the file after someone's
 * commit, or the object in the cluster) does not show. The kind is `expected`'s; a kind Ramp does
 * not manage has no managed paths and never differs.
 */
export function managedDiff(expected: unknown, actual: unknown): ManagedDifference[] {
  const kind = isObject(expected) && typeof expected.kind === 'string' ? expected.kind : undefined;
  const rules = kind === undefined ? [] : MANAGED_PATHS[kind] ?? [];
  const out: ManagedDifference[] = [];
  for (const rule of rules) compare(expected, actual, segments(rule.path), '', rule, out);
  return out;
}
