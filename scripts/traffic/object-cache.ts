/**
 * The last known state of one kind of object in one namespace, fed by both a watch and periodic
 * full lists. The two race: a list may be answered from a snapshot older than watch events already
 * applied, so every change is ordered by resourceVersion (etcd revisions, compared as integers):
 * an object or a deletion newer than a list's snapshot survives that list.
 */

export interface CachedObject {
  metadata?: { name?: string; resourceVersion?: string };
}

/** -1, 0 or 1; undefined when either is not an etcd revision (then the newest arrival wins). */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const newer = (a: string | undefined, b: string | undefined) => compareResourceVersions(a, b) === 1;

export class ObjectCache<T extends CachedObject> {
  private readonly objects = new Map<string, T>();
  // Deletions seen on the watch, by name, at their revision: an older list must not bring them back.
  private readonly deleted = new Map<string, string | undefined>();
  private latest: string | undefined;

  /** The newest resourceVersion seen (a list's or an event's): where a watch resumes. */
  get resourceVersion(): string | undefined {
    return this.latest;
  }

  /** Every object, sorted by name. */
  values(): T[] {
    return [...this.objects.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v]) => v);
  }

  get(name: string): T | undefined {
    return this.objects.get(name);
  }

  get size(): number {
    return this.objects.size;
  }

  private advance(rv: string | undefined): void {
    if (rv !== undefined && (this.latest === undefined || newer(rv, this.latest))) this.latest = rv;
  }

  /** Replaces the state with a full list taken at `listRv`; true if anything changed. */
  applyList(items: readonly T[], listRv: string | undefined): boolean {
    let changed = false;
    const listed = new Set<string>();
    for (const item of items) {
      const name = item.metadata?.name;
      if (!name) continue;
      listed.add(name);
      if (this.deleted.has(name) && newer(this.deleted.get(name), listRv)) continue;
      const current = this.objects.get(name);
      if (current && newer(current.metadata?.resourceVersion, item.metadata?.resourceVersion)) continue;
      if (current?.metadata?.resourceVersion !== item.metadata?.resourceVersion || current === undefined) {
        this.objects.set(name, item);
        changed = true;
      }
    }
    for (const [name, obj] of [...this.objects]) {
      // Absent from the list: gone, unless the watch brought it after the list's snapshot.
      if (!listed.has(name) && !newer(obj.metadata?.resourceVersion, listRv)) {
        this.objects.delete(name);
        changed = true;
      }
    }
    for (const [name, rv] of [...this.deleted]) {
      if (!newer(rv, listRv)) this.deleted.delete(name);
    }
    this.advance(listRv);
    return changed;
  }

  /** Applies one watch event (ADDED, MODIFIED, DELETED, BOOKMARK); true if anything changed. */
  applyEvent(type: string, obj: T): boolean {
    const name = obj.metadata?.name;
    const rv = obj.metadata?.resourceVersion;
    this.advance(rv);
    if (type === 'BOOKMARK' || !name) return false;
    const current = this.objects.get(name);
    if (type === 'DELETED') {
      this.deleted.set(name, rv);
      return this.objects.delete(name);
    }
    if (type !== 'ADDED' && type !== 'MODIFIED') return false;
    if (current && newer(current.metadata?.resourceVersion, rv)) return false;
    if (this.deleted.has(name) && newer(this.deleted.get(name), rv)) return false;
    this.deleted.delete(name);
    if (current?.metadata?.resourceVersion === rv && current !== undefined) return false;
    this.objects.set(name, obj);
    return true;
  }
}
