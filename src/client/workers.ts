/**
 * Whether any worker polls a task queue, from Temporal's own list of its pollers. The server lists
 * a poller with the time its last poll began and holds a poll open for up to a minute, so a live
 * idle worker's time can be almost a minute old; a worker that stopped stays listed for minutes,
 * its time growing older. Commands use this to choose between an update (a worker answers at once)
 * and a signal (written to the rollout's history now, applied when a worker polls).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { msOf } from './history';

/** A poller whose last poll began longer ago than this has stopped: a live one polls again at least every minute. */
export const POLL_WINDOW_MS = 70_000;

/** The fields of Temporal's PollerInfo read here (its timestamps' seconds are a Long on the wire). */
interface PollerInfo {
  identity?: string | null;
  lastAccessTime?: Parameters<typeof msOf>[0];
}

export interface Pollers {
  taskQueue: string;
  /** Some worker polled within POLL_WINDOW_MS. */
  polling: boolean;
  /** Epoch ms (server clock) when the most recent poll began, if the server lists any poller. */
  lastPollAt?: number;
  /** Identities of the workers that polled within the window. */
  identities: string[];
}

/** What the pollers listed for `taskQueue` say at `now` (epoch ms). */
export function pollerPresence(taskQueue: string, pollers: readonly PollerInfo[], now: number): Pollers {
  const seen = pollers.map((p) => ({ at: msOf(p.lastAccessTime), identity: p.identity ?? '' }));
  const times = seen.map((p) => p.at).filter((t): t is number => t !== undefined);
  const recent = seen.filter((p) => p.at !== undefined && now - p.at <= POLL_WINDOW_MS);
  return {
    taskQueue,
    polling: recent.length > 0,
    ...(times.length > 0 ? { lastPollAt: Math.max(...times) } : {}),
    identities: recent.map((p) => p.identity),
  };
}

/** Asks Temporal who polls the workflow task queue `taskQueue` (workflow tasks: what runs updates, signals and queries). */
export async function workflowPollers(client: Client, taskQueue: string, now = Date.now()): Promise<Pollers> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return pollerPresence(taskQueue, res.pollers ?? [], now);
}

/** "2m ago", "45s ago": how long ago the last poll began. */
export function sinceText(atMs: number, now: number): string {
  const s = Math.max(0, Math.round((now - atMs) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

/** The truth about a queue nobody polls, in one clause. */
export function noWorkerText(p: Pollers, now: number): string {
  return `no worker is polling task queue ${p.taskQueue}${p.lastPollAt !== undefined ? ` (the last poll began ${sinceText(p.lastPollAt, now)})` : ''}`;
}
