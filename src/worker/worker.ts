/**
 * Builds a Ramp worker from its configuration: one Temporal connection, one Kubernetes config,
 * one HTTP client, injected into the activities. Tests build workers here too.
 */
import axios from 'axios';
import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadKubeConfig } from '../infra/kube';
import { temporalConnectionOptions } from '../infra/temporal-connection';
import type { WorkerConfig } from './config';

export interface RampWorker {
  worker: Worker;
  connection: NativeConnection;
  /** Stops polling, waits for running activities, and closes the connection. */
  shutdown(): Promise<void>;
}

export async function createRampWorker(
  config: WorkerConfig,
  overrides: Partial<Pick<WorkerOptions, 'identity' | 'workflowBundle' | 'workflowsPath' | 'shutdownGraceTime'>> = {},
): Promise<RampWorker> {
  const kube = loadKubeConfig(config.KUBECONFIG);
  const http = axios.create({ timeout: 10_000 });
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.RAMP_TASK_QUEUE,
      activities: createActivities({ kube, http, prometheusUrl: config.RAMP_PROMETHEUS_URL }),
      maxConcurrentActivityTaskExecutions: config.RAMP_MAX_CONCURRENT_ACTIVITIES,
      ...(config.RAMP_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: config.RAMP_MAX_CACHED_WORKFLOWS } : {}),
      ...(overrides.workflowBundle ? {} : { workflowsPath: overrides.workflowsPath ?? require.resolve('../workflows') }),
      ...overrides,
    });
    return {
      worker,
      connection,
      async shutdown() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await connection.close();
      },
    };
  } catch (err) {
    await connection.close();
    throw err;
  }
}
