/**
 * Cumulative counters (as Prometheus keeps them) turned into increments between two looks, the way
 * both judges count: a counter that went down was reset, histogram buckets are read at fixed bounds.
 */
import type { ArmCounters, Histogram } from './judge';

/** Counters remembered from the previous look, to turn cumulative counters into increments. */
export interface LastCounters {
  requests: number;
  errors: number;
  /** Cumulative bucket counts at each bound of `le`, then the total (`+Inf`); NaN where unknown. */
  buckets: number[];
}

/** What the next look needs of an arm's counters: requests, errors and the buckets at bounds `le`. */
export function lastOf(arm: ArmCounters, le: number[]): LastCounters {
  return { requests: arm.requests, errors: arm.errors, buckets: bucketCounts(arm.latency, le) };
}

/** The finite bucket bounds of an arm's histogram (none without one). */
export function boundsOf(arm: ArmCounters): number[] {
  return (arm.latency?.buckets ?? []).map((b) => b.le).filter((le) => Number.isFinite(le));
}

/** Counts at each bound of `le`, then the total; a bound the arm does not expose reads as NaN. */
export function bucketCounts(latency: Histogram | undefined, le: number[]): number[] {
  if (latency === undefined) return [...le, 0].map(() => NaN);
  return [...le.map((bound) => latency.buckets.find((b) => b.le === bound)?.count ?? NaN), latency.count];
}

/** Increment of a cumulative counter; a decrease is a reset (Prometheus `increase` semantics). */
export function increment(now: number, before: number): { d: number; reset: boolean } {
  if (!Number.isFinite(now) || !Number.isFinite(before)) return { d: 0, reset: false };
  return now >= before ? { d: now - before, reset: false } : { d: now, reset: true };
}
