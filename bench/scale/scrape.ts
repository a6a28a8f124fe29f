/**
 * Reading the Prometheus text format of the components (the Temporal dev server, the worker's SDK
 * metrics, kube-controller-manager, kube-apiserver) before and after a run, so the results can say
 * where time went: persistence latency, client-side throttling, work-queue waits.
 */
import * as https from 'node:https';
import axios from 'axios';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export type Snapshot = Sample[];

export function parseExposition(text: string): Snapshot {
  const out: Snapshot = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = line.match(/^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

export interface ScrapeTarget {
  url: string;
  /** Client certificate for the Kubernetes components' secure ports. */
  tls?: { cert: Buffer; key: Buffer };
}

export async function scrape(target: ScrapeTarget): Promise<Snapshot> {
  try {
    const res = await axios.get<string>(target.url, {
      timeout: 10_000,
      responseType: 'text',
      // The local components serve self-signed certificates; this only reads their metrics.
      ...(target.tls ? { httpsAgent: new https.Agent({ cert: target.tls.cert, key: target.tls.key, rejectUnauthorized: false }) } : {}),
    });
    return parseExposition(res.data);
  } catch {
    return [];
  }
}

type Filter = (labels: Record<string, string>) => boolean;

/** Sum of the samples named `name` (and matching `filter`) in a snapshot. */
export function total(s: Snapshot, name: string, filter: Filter = () => true): number {
  return s.filter((x) => x.name === name && filter(x.labels)).reduce((a, x) => a + x.value, 0);
}

/** after − before of a summed counter. */
export function delta(before: Snapshot, after: Snapshot, name: string, filter?: Filter): number {
  return total(after, name, filter) - total(before, name, filter);
}

/** Mean of a histogram over the window between two snapshots (sum/count deltas), in the histogram's unit. */
export function windowMean(before: Snapshot, after: Snapshot, histogram: string, filter?: Filter): { count: number; mean: number } {
  const count = delta(before, after, `${histogram}_count`, filter);
  const sum = delta(before, after, `${histogram}_sum`, filter);
  return { count, mean: count > 0 ? sum / count : NaN };
}

/** A quantile of a histogram over the window between two snapshots (bucket deltas, upper bound of the bucket it falls in). */
export function windowQuantile(before: Snapshot, after: Snapshot, histogram: string, q: number, filter: Filter = () => true): number {
  const buckets = new Map<number, number>();
  const add = (s: Snapshot, sign: number) => {
    for (const x of s) {
      if (x.name !== `${histogram}_bucket` || !filter(x.labels)) continue;
      const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + sign * x.value);
    }
  };
  add(after, 1);
  add(before, -1);
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const n = sorted.at(-1)?.[1] ?? 0;
  if (n <= 0) return NaN;
  return sorted.find(([, c]) => c >= q * n)?.[0] ?? NaN;
}
