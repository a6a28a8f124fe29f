/**
 * What every traffic router's pure module needs about Kubernetes objects: the metadata fields Ramp
 * reads, the JSON Patch operations it writes, the resourceVersion guard that makes a write fail on
 * a concurrent edit, JSON equality for "is there anything to write", and the error naming problems.
 */

/** The metadata fields Ramp reads. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  uid?: string;
  labels?: Record<string, string>;
}

/** One RFC 6902 operation; the subset Ramp writes. */
export interface JsonPatchOp {
  op: 'test' | 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** Thrown when a route, DestinationRule or Service lacks what the traffic spec needs; `problems` lists each, with its fix. */
export class TrafficConfigError extends Error {
  override name = 'TrafficConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** JSON equality: key order is ignored and an undefined member equals a missing one. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!jsonEqual(ao[k], bo[k])) return false;
  return true;
}

/** A deep copy of a JSON value, so a snapshot does not share arrays with the object it was read from. */
export function cloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** `Kind namespace/name`, for messages. */
export function objectId(kind: string, meta: ObjectMeta | undefined): string {
  return `${kind} ${meta?.namespace ?? '?'}/${meta?.name ?? '?'}`;
}

/**
 * The first op of every write: the object must still be the version that was read, so a concurrent
 * edit makes the patch fail (HTTP 422 without causes, a Conflict) instead of being overwritten.
 */
export function versionGuard(meta: ObjectMeta | undefined, kind: string): JsonPatchOp {
  if (!meta?.resourceVersion) {
    throw new Error(`${objectId(kind, meta)} has no metadata.resourceVersion; patches must be built from an object read from the apiserver`);
  }
  return { op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion };
}

/** Throws RangeError unless w is a whole percentage. */
export function assertWeight(w: number): void {
  if (!Number.isInteger(w) || w < 0 || w > 100) throw new RangeError(`canary weight must be a whole number between 0 and 100, got ${w}`);
}
