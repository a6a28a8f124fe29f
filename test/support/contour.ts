/**
 * Helpers for tests that attach routes to the stack's Gateway, whose status Contour writes:
 * Contour's Accepted / ResolvedRefs on a route, waiting for it to accept a new route, and running
 * a router call as Temporal would while the route is pending.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Failure } from '../../src/shared/failures';
import { eventually } from './stack';

/** The part of a route's status these helpers read. */
export interface RouteWithStatus {
  metadata: { generation: number };
  status?: { parents?: { controllerName: string; conditions: { type: string; status: string; reason: string; observedGeneration: number }[] }[] };
}

/** Contour's Accepted and ResolvedRefs on the route, as sorted [type, status, reason, observedGeneration], and the route's generation. */
export function contourConditions(route: RouteWithStatus, controllerName: string): { generation: number; conditions: (string | number)[][] } {
  const p = route.status?.parents?.find((x) => x.controllerName === controllerName);
  const conditions = (p?.conditions ?? []).filter((k) => ['Accepted', 'ResolvedRefs'].includes(k.type)).map((k) => [k.type, k.status, k.reason, k.observedGeneration]).sort();
  return { generation: route.metadata.generation, conditions };
}

/** Waits until Contour reports the route Accepted and ResolvedRefs True at its current generation. */
export async function contourAccepts(read: () => Promise<RouteWithStatus>, controllerName: string): Promise<void> {
  await eventually('Contour accepting the new route', async () => {
    const s = contourConditions(await read(), controllerName);
    return s.conditions.length === 2 && s.conditions.every((k) => k[1] === 'True' && k[3] === s.generation) ? true : undefined;
  });
}

/**
 * The activity as Temporal runs it: RoutePending (Contour batches its status updates, and a loaded
 * machine can take longer than the router's own wait) is retried; anything else is not.
 */
export async function retriedWhilePending<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ApplicationFailure && err.type === Failure.RoutePending) || attempt === 10) throw err;
    }
  }
}
