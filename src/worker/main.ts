/**
 * The worker process: `npm run worker` (or `node dist/src/worker/main.js`). Configuration comes from
 * the environment (src/worker/config.ts). It logs JSON lines on stdout, serves /healthz, /readyz and
 * Ramp's /metrics on RAMP_HTTP_ADDRESS and the SDK's metrics on RAMP_SDK_METRICS_ADDRESS, checks
 * that Temporal, Kubernetes and Prometheus answer before it polls, and drains on SIGINT/SIGTERM.
 * A worker that cannot start says why in one line per broken setting (RAMP_DEBUG=1 adds the stack).
 */
import axios from 'axios';
import { loadWorkerConfig, WorkerConfig, WorkerConfigError, workerEnvShape } from './config';
import { startHttpServer } from './http';
import { createJsonLogger, TemporalPinoLogger } from './logger';
import { RampMetrics } from './metrics';
import { WorkerReadiness } from './readiness';
import type { RolloutRegistry } from './rollouts';
import { installRuntime } from './runtime';
import { checkKubernetes, checkPrometheus, connectTemporal, StartupError, temporalStartupError } from './startup';
import { createRampWorker, type RampWorker } from './worker';

/** Every check that failed at start, each already one line. */
class StartupErrors extends Error {
  override name = 'StartupErrors';

  constructor(readonly errors: StartupError[]) {
    super(errors.map((e) => e.message).join('\n'));
  }
}

const fulfilled = <T>(r: PromiseSettledResult<T>): T => (r as PromiseFulfilledResult<T>).value;

async function start(config: WorkerConfig) {
  const log = createJsonLogger(config.RAMP_LOG_LEVEL);
  // The SDK's log lines about a workflow get its rollout and step once the worker knows them.
  const known: { rollouts?: RolloutRegistry } = {};
  const sdkLogger = new TemporalPinoLogger(log, (workflowId) => known.rollouts?.logFields(workflowId));
  installRuntime(config, sdkLogger);

  const readiness = new WorkerReadiness(config.TEMPORAL_ADDRESS);
  const metrics = new RampMetrics({ ready: async () => (await readiness.check()).ready, processMetrics: true });
  // Served first, so probes and scrapes see "alive, not ready" while the checks and bundling run.
  const server = await startHttpServer(config.RAMP_HTTP_ADDRESS, { readiness: () => readiness.check(), metrics: () => metrics.exposition() });
  log.info({ address: server.address, sdkMetricsAddress: config.RAMP_SDK_METRICS_ADDRESS }, `serving /healthz, /readyz and /metrics on ${server.address}`);

  const [kube, prometheus, temporal] = await Promise.allSettled([
    checkKubernetes(config),
    checkPrometheus(config, axios.create()),
    connectTemporal(config),
  ]);
  const failed = [kube, prometheus, temporal].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failed.length > 0) {
    if (temporal.status === 'fulfilled') await temporal.value.close();
    await server.close();
    throw failed.every((e) => e instanceof StartupError) ? new StartupErrors(failed) : failed[0];
  }
  const connection = fulfilled(temporal);
  let ramp: RampWorker;
  try {
    ramp = await createRampWorker(config, {}, { kube: fulfilled(kube), connection }, { logger: sdkLogger, metrics });
  } catch (err) {
    await connection.close();
    await server.close();
    // Worker.create describes the namespace: a wrong one or refused credentials show up here.
    const gist = err instanceof Error ? err.message : '';
    throw /code: (NotFound|Unauthenticated|PermissionDenied)/.test(gist) ? new StartupErrors([temporalStartupError(config, err)]) : err;
  }
  known.rollouts = ramp.rollouts;
  readiness.attach(ramp.worker, connection);
  return { log, ramp, server, readiness };
}

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const { log, ramp, server, readiness } = await start(config);
  log.info({ taskQueue: config.RAMP_TASK_QUEUE, temporalAddress: config.TEMPORAL_ADDRESS, temporalNamespace: config.TEMPORAL_NAMESPACE },
    `polling task queue ${config.RAMP_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE})`);
  try {
    await ramp.worker.run();
    log.info('worker stopped');
  } catch (err) {
    log.fatal({ error: err }, 'worker failed');
    process.exitCode = 1;
  } finally {
    readiness.stop('shutting down');
    await ramp.connection.close();
    await server.close();
  }
}

/** The message of an error and of each cause under it, with stacks. */
function fullTrace(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 10; e = (e as { cause?: unknown }).cause) {
    if (!(e instanceof Error)) {
      parts.push(JSON.stringify(e) ?? 'undefined');
      break;
    }
    parts.push(e.stack ?? e.message);
  }
  return parts.join('\ncaused by: ');
}

main().catch((err: unknown) => {
  const debug = ['1', 'true'].includes(process.env.RAMP_DEBUG ?? '');
  if (err instanceof WorkerConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else if (err instanceof StartupErrors || err instanceof StartupError) {
    for (const e of err instanceof StartupErrors ? err.errors : [err]) {
      process.stderr.write(`ramp worker: cannot start: ${e.message}\n`);
      if (debug) process.stderr.write(`${fullTrace(e)}\n`);
    }
  } else {
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
    // A message that starts with a setting's name already says what to fix (a bundle or key file that cannot be read).
    const named = Object.keys(workerEnvShape).some((k) => message.startsWith(`${k}:`) || message.startsWith(`${k}=`));
    process.stderr.write(`ramp worker: cannot start: ${message}${debug || named ? '' : ' (RAMP_DEBUG=1 shows the stack trace)'}\n`);
    if (debug) process.stderr.write(`${fullTrace(err)}\n`);
  }
  process.exit(1);
});
