/**
 * The scale bench's worker process (`node --import tsx bench/scale/worker.ts`). It builds the
 * worker from the same parts as src/worker/worker.ts — Ramp's activities with injected Kubernetes
 * and Prometheus clients, the rollout workflow — and passes the knobs the worker's environment
 * does not expose yet straight to Worker.create, so their effect can be measured:
 *
 *   SCALE_MAX_WORKFLOW_TASKS     maxConcurrentWorkflowTaskExecutions (SDK default 40)
 *   SCALE_MAX_LOCAL_ACTIVITIES   maxConcurrentLocalActivityExecutions (SDK default 100)
 *   SCALE_STICKY_TIMEOUT         stickyQueueScheduleToStartTimeout (SDK default 10s)
 *   SCALE_WORKFLOW_BUNDLE        path of a prebuilt workflow bundle; unset bundles at start
 *   SCALE_SDK_METRICS_ADDRESS    host:port for the SDK's Prometheus metrics (cache hits, latencies)
 *
 * plus the worker's own RAMP_* and TEMPORAL_* settings (src/worker/config.ts). It writes one JSON
 * line per event on stdout: `ready` with its start-up timings, then `sample` every second with
 * event-loop delay and the worker's in-flight counts.
 */
import axios from 'axios';
import * as fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { createMetricsProviders } from '../../src/activities/metrics/factory';
import { loadKubeConfig } from '../../src/infra/kube';
import { temporalConnectionOptions } from '../../src/infra/temporal-connection';
import { loadWorkerConfig } from '../../src/worker/config';
import { metricsProviderSettings } from '../../src/worker/worker';
import { ignoreRolloutObservations } from '../../src/worker/rollouts';

/** One line of the worker's stdout protocol. */
export type WorkerLine =
  | { event: 'ready'; startup: { importsMs: number; connectMs: number; createMs: number; totalMs: number }; options: Record<string, unknown> }
  | {
    event: 'sample';
    at: number;
    loopDelayMs: { p50: number; p99: number; max: number };
    inFlightActivations: number;
    inFlightActivities: number;
    cachedWorkflows: number;
    /** Where the resident memory is: the V8 heap of the main isolate, buffers outside it, and the rest (native). */
    memoryMiB: { rss: number; heapUsed: number; heapTotal: number; external: number };
  };

function optionalInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${raw}: must be a whole number`);
  return n;
}

function emit(line: WorkerLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main(): Promise<void> {
  // Module loading (tsx compiling Ramp and the SDK) counts as start-up time too.
  const importsMs = performance.now();
  const config = loadWorkerConfig();
  const maxWorkflowTasks = optionalInt('SCALE_MAX_WORKFLOW_TASKS');
  const maxLocalActivities = optionalInt('SCALE_MAX_LOCAL_ACTIVITIES');
  const stickyTimeout = process.env.SCALE_STICKY_TIMEOUT || undefined;
  const bundlePath = process.env.SCALE_WORKFLOW_BUNDLE || undefined;
  const metricsAddress = process.env.SCALE_SDK_METRICS_ADDRESS || undefined;

  Runtime.install({
    logger: new DefaultLogger('WARN'),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
  });

  const t0 = performance.now();
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const connectMs = performance.now() - t0;

  const kube = loadKubeConfig(config.KUBECONFIG);
  const http = axios.create({ timeout: 10_000 });
  const metrics = createMetricsProviders(metricsProviderSettings(config), { http });
  const options = {
    maxConcurrentActivityTaskExecutions: config.RAMP_MAX_CONCURRENT_ACTIVITIES,
    ...(config.RAMP_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: config.RAMP_MAX_CACHED_WORKFLOWS } : {}),
    ...(maxWorkflowTasks !== undefined ? { maxConcurrentWorkflowTaskExecutions: maxWorkflowTasks } : {}),
    ...(maxLocalActivities !== undefined ? { maxConcurrentLocalActivityExecutions: maxLocalActivities } : {}),
    ...(stickyTimeout !== undefined ? { stickyQueueScheduleToStartTimeout: stickyTimeout as `${number}s` } : {}),
  };
  const t1 = performance.now();
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.RAMP_TASK_QUEUE,
    activities: createActivities({ kube, http, prometheusUrl: config.RAMP_PROMETHEUS_URL, metrics }),
    ...(bundlePath ? { workflowBundle: { code: fs.readFileSync(bundlePath, 'utf8') } } : { workflowsPath: require.resolve('../../src/workflows') }),
    // The rollout workflow reports to a sink the real worker turns into metrics; the benchmark ignores it.
    sinks: ignoreRolloutObservations,
    ...options,
  });
  const createMs = performance.now() - t1;

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const mib = (b: number) => Math.round(b / 2 ** 20);
  const sampler = setInterval(() => {
    const s = worker.getStatus();
    const m = process.memoryUsage();
    emit({
      event: 'sample',
      at: Date.now(),
      loopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      inFlightActivations: s.numInFlightWorkflowActivations,
      inFlightActivities: s.numInFlightActivities,
      cachedWorkflows: s.numCachedWorkflows,
      memoryMiB: { rss: mib(m.rss), heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal), external: mib(m.external) },
    });
    loop.reset();
  }, 1000);

  const stop = () => worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const running = worker.run();
  emit({
    event: 'ready',
    startup: { importsMs: Math.round(importsMs), connectMs: Math.round(connectMs), createMs: Math.round(createMs), totalMs: Math.round(performance.now()) },
    options: { ...options, bundle: bundlePath ? 'prebuilt' : 'at start', maxCachedWorkflowsEffective: worker.options.maxCachedWorkflows },
  });
  try {
    await running;
  } finally {
    clearInterval(sampler);
    loop.disable();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`scale worker failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
