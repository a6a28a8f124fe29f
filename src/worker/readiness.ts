/**
 * What /readyz answers: ready once the worker runs and polls both its workflow and activity task
 * queues, and Temporal answers on the worker's connection; otherwise the reason, in a few words.
 */
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Readiness } from './http';

/** Kubernetes probes time out after 1 s by default: answer before that. */
const TEMPORAL_DEADLINE_MS = 900;

export class WorkerReadiness {
  private worker?: Pick<Worker, 'getStatus'>;
  private connection?: Pick<NativeConnection, 'withDeadline' | 'workflowService'>;
  private notYet: string;

  constructor(private readonly temporalAddress: string) {
    this.notYet = `starting: not connected to Temporal at ${temporalAddress} yet`;
  }

  /** The worker exists and holds this connection; it is ready once it polls. */
  attach(worker: Pick<Worker, 'getStatus'>, connection: Pick<NativeConnection, 'withDeadline' | 'workflowService'>): void {
    this.worker = worker;
    this.connection = connection;
  }

  /** From now on not ready, for this reason (the worker is shutting down). */
  stop(reason: string): void {
    this.notYet = reason;
    this.worker = undefined;
    this.connection = undefined;
  }

  async check(): Promise<Readiness> {
    const { worker, connection } = this;
    if (!worker || !connection) return { ready: false, reason: this.notYet };
    const s = worker.getStatus();
    if (s.runState !== 'RUNNING') return { ready: false, reason: `worker is ${s.runState}, not polling` };
    if (s.workflowPollerState !== 'POLLING') return { ready: false, reason: `workflow task poller is ${s.workflowPollerState}` };
    if (s.activityPollerState !== 'POLLING') return { ready: false, reason: `activity task poller is ${s.activityPollerState}` };
    try {
      await connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () => connection.workflowService.getSystemInfo({}));
    } catch (err) {
      return { ready: false, reason: `Temporal at ${this.temporalAddress} does not answer: ${err instanceof Error ? err.message : String(err)}` };
    }
    return { ready: true };
  }
}
