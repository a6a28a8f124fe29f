/**
 * Builds a Ramp worker from its configuration: one Temporal connection, one Kubernetes config,
 * one HTTP client and the metrics providers analyses may name, injected into the activities; and
 * what observes it (src/worker/metrics.ts, rollouts.ts, interceptors.ts), whose metrics the worker
 * process serves. Tests build workers here too.
 */
import type * as k8s from '@kubernetes/client-node';
import axios from 'axios';
import type { Logger } from '@temporalio/common';
import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import * as fs from 'node:fs';
import { DEFAULT_GIT_SETTINGS } from '../activities/store/factory';
import { createActivities } from '../activities';
import { createMetricsProviders, type MetricsProviderSettings } from '../activities/metrics/factory';
import type { PrometheusOptions } from '../activities/metrics/prometheus';
import { DEFAULT_METRICS_PROVIDER } from '../domain/spec/analysis';
import { codecFromEnv } from '../infra/codec';
import { loadKubeConfig } from '../infra/kube';
import { temporalConnectionOptions } from '../infra/temporal-connection';
import { readWorkflowBundle } from './bundle';
import type { WorkerConfig } from './config';
import { activityInterceptors } from './interceptors';
import { RampMetrics } from './metrics';
import { countProviderErrors } from './provider-errors';
import { RolloutRegistry } from './rollouts';

export interface RampWorker {
  worker: Worker;
  connection: NativeConnection;
  /** Ramp's metrics of this worker (served on /metrics by the worker process). */
  metrics: RampMetrics;
  /** The rollouts this worker runs, as their workflows report them. */
  rollouts: RolloutRegistry;
  /** Stops polling, waits for running activities, and closes the connection. */
  shutdown(): Promise<void>;
}

/** Clients the worker would otherwise build from its configuration (tests inject their own). */
export interface WorkerClients {
  kube?: k8s.KubeConfig;
  /** A connection already open (the worker process opens it first, to report a failure by its setting). */
  connection?: NativeConnection;
}

/** How the worker is observed; by default a registry of its own and no log lines of Ramp's. */
export interface WorkerObservability {
  /** Where rollout phase changes, verdicts and outcomes are logged. */
  logger?: Logger;
  /** The metrics to count in (the worker process's, which also reports readiness and process metrics). */
  metrics?: RampMetrics;
}

export async function createRampWorker(
  config: WorkerConfig,
  overrides: Partial<Pick<WorkerOptions, 'identity' | 'workflowBundle' | 'workflowsPath' | 'shutdownGraceTime'>> = {},
  clients: WorkerClients = {},
  observability: WorkerObservability = {},
): Promise<RampWorker> {
  const kube = clients.kube ?? loadKubeConfig(config.KUBECONFIG);
  const http = axios.create({ timeout: 10_000 });
  const rampMetrics = observability.metrics ?? new RampMetrics();
  const rollouts = new RolloutRegistry(rampMetrics, observability.logger);
  const metrics = countProviderErrors(createMetricsProviders(metricsProviderSettings(config), { http }), rampMetrics);
  const codec = codecFromEnv(config);
  const connection = clients.connection ?? await NativeConnection.connect(temporalConnectionOptions(config));
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.RAMP_TASK_QUEUE,
      ...(codec ? { dataConverter: { payloadCodecs: [codec] } } : {}),
      activities: createActivities({
        kube, http, prometheusUrl: config.RAMP_PROMETHEUS_URL, metrics,
        git: { workRoot: config.RAMP_GIT_WORKDIR ?? DEFAULT_GIT_SETTINGS.workRoot, author: { name: config.RAMP_GIT_AUTHOR_NAME, email: config.RAMP_GIT_AUTHOR_EMAIL } },
      }),
      sinks: rollouts.sinks(),
      interceptors: { activity: [activityInterceptors(rampMetrics, rollouts)] },
      maxConcurrentActivityTaskExecutions: config.RAMP_MAX_CONCURRENT_ACTIVITIES,
      ...(config.RAMP_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: config.RAMP_MAX_CACHED_WORKFLOWS } : {}),
      ...(config.RAMP_MAX_CONCURRENT_WORKFLOW_TASKS !== undefined ? { maxConcurrentWorkflowTaskExecutions: config.RAMP_MAX_CONCURRENT_WORKFLOW_TASKS } : {}),
      ...workflowCode(config, overrides),
      ...overrides,
    });
    return {
      worker,
      connection,
      metrics: rampMetrics,
      rollouts,
      async shutdown() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await connection.close();
      },
    };
  } catch (err) {
    // A connection handed in stays its owner's to close.
    if (!clients.connection) await connection.close();
    throw err;
  }
}

/** Where the workflow code comes from: an override (tests), a prebuilt bundle, or bundled at start. */
function workflowCode(config: WorkerConfig, overrides: Partial<Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>>): Partial<WorkerOptions> {
  if (overrides.workflowBundle || overrides.workflowsPath) return {};
  if (config.RAMP_WORKFLOW_BUNDLE) return { workflowBundle: readWorkflowBundle(config.RAMP_WORKFLOW_BUNDLE, 'RAMP_WORKFLOW_BUNDLE') };
  return { workflowsPath: require.resolve('../workflows') };
}

function readSecret(setting: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`${setting}=${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}

/**
 * The metrics providers this worker offers analyses, by name: today one Prometheus, `prometheus`,
 * at RAMP_PROMETHEUS_URL. A second backend is one more entry here (with its own settings in
 * config.ts); analyses then pick it with `provider: <name>`.
 */
export function metricsProviderSettings(config: WorkerConfig): MetricsProviderSettings[] {
  return [{ name: DEFAULT_METRICS_PROVIDER, type: 'prometheus', url: config.RAMP_PROMETHEUS_URL, auth: prometheusAuth(config) }];
}

/** Prometheus credentials from files named in the environment; they never leave the worker. */
export function prometheusAuth(config: WorkerConfig): PrometheusOptions['auth'] {
  if (config.RAMP_PROMETHEUS_BEARER_TOKEN_FILE) {
    return { bearerToken: readSecret('RAMP_PROMETHEUS_BEARER_TOKEN_FILE', config.RAMP_PROMETHEUS_BEARER_TOKEN_FILE) };
  }
  if (config.RAMP_PROMETHEUS_BASIC_AUTH_FILE) {
    const raw = readSecret('RAMP_PROMETHEUS_BASIC_AUTH_FILE', config.RAMP_PROMETHEUS_BASIC_AUTH_FILE);
    const i = raw.indexOf(':');
    if (i <= 0) throw new Error('RAMP_PROMETHEUS_BASIC_AUTH_FILE: the file must hold username:password on one line');
    return { basicAuth: { username: raw.slice(0, i), password: raw.slice(i + 1) } };
  }
  return undefined;
}
