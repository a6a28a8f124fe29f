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

/**
 * With no answer to the rollout's status query for this long, its worker counts as gone although
 * Temporal may list it for another minute (see POLL_WINDOW_MS): a live worker answers in well
 * under a second, and a view that warns within 30 s cannot wait for the listing to age.
 */
export const QUIET_MS = 15_000;

/** How often a view that follows a rollout asks whether a worker runs it. */
export const WORKER_CHECK_MS = 10_000;

const WAITS = 'the rollout waits for a worker and goes on when one polls';

/** A change in whether a worker runs the rollout, for views that print one line per change. */
export type WorkerChange = { kind: 'lost'; text: string } | { kind: 'back'; text: string };

/**
 * Whether a worker can be seen to run a rollout, from Temporal's list of pollers and from when the
 * rollout last answered its status query. Takes time as input; the view feeds it what it learns.
 */
export class WorkerWatch {
  private pollers?: Pollers;
  private answeredAt: number;
  /** While no worker is seen: the last answer before that (or when the view began). */
  private silentSince?: number;

  /** `since`: when the view began following, the quiet spell's start before any answer. */
  constructor(readonly taskQueue: string, since: number) {
    this.answeredAt = since;
  }

  /** A status query was answered at `at`. */
  answered(at: number): void {
    this.answeredAt = Math.max(this.answeredAt, at);
  }

  /** Temporal listed these pollers. */
  polled(p: Pollers): void {
    this.pollers = p;
  }

  /** Why no worker can be seen to run the rollout at `now`, in one clause; undefined when one can. */
  trouble(now: number): string | undefined {
    if (this.pollers && !this.pollers.polling) return noWorkerText(this.pollers, now);
    const quiet = now - this.answeredAt;
    if (quiet < QUIET_MS) return undefined;
    const listed = this.pollers?.lastPollAt !== undefined ? `; Temporal lists a poll of it begun ${sinceText(this.pollers.lastPollAt, now)}` : '';
    return `no worker on task queue ${this.taskQueue} has answered for ${Math.round(quiet / 1000)}s${listed}`;
  }

  /** The change since the previous call, if any: a worker lost, or one back after it was lost. */
  change(now: number): WorkerChange | undefined {
    const trouble = this.trouble(now);
    if (trouble !== undefined && this.silentSince === undefined) {
      this.silentSince = this.answeredAt;
      return { kind: 'lost', text: `${trouble}; ${WAITS}` };
    }
    if (trouble === undefined && this.silentSince !== undefined) {
      const silent = Math.round((now - this.silentSince) / 1000);
      this.silentSince = undefined;
      return { kind: 'back', text: `a worker runs the rollout again (task queue ${this.taskQueue}, after ${silent}s without an answer); the rollout goes on` };
    }
    return undefined;
  }

  /** The line a live view shows while no worker runs the rollout. */
  line(now: number): string | undefined {
    const trouble = this.trouble(now);
    return trouble === undefined ? undefined : `${trouble}; ${WAITS}`;
  }
}
