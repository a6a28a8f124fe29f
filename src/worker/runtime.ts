/**
 * The Temporal SDK's process-wide runtime for the worker process: its log lines go to Ramp's JSON
 * logger (the SDK Core's own lines too, forwarded from WARN up), and its worker metrics (pollers,
 * task slots, latencies, failures) are served by the SDK's Prometheus exporter at
 * RAMP_SDK_METRICS_ADDRESS/metrics under their standard names (temporal_num_pollers, …), so
 * Temporal's published dashboards work unchanged.
 */
import type { Logger } from '@temporalio/common';
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { WorkerConfig } from './config';
import { StartupError } from './errors';

export function installRuntime(config: Pick<WorkerConfig, 'RAMP_SDK_METRICS_ADDRESS' | 'RAMP_LOG_LEVEL'>, logger: Logger): Runtime {
  // Core's DEBUG and TRACE lines are per poll and per activation: only asked for with trace.
  const core = config.RAMP_LOG_LEVEL === 'trace' ? 'DEBUG' : 'WARN';
  try {
    return Runtime.install({
      logger,
      telemetryOptions: {
        logging: { filter: makeTelemetryFilterString({ core, other: 'ERROR' }), forward: {} },
        metrics: { prometheus: { bindAddress: config.RAMP_SDK_METRICS_ADDRESS } },
      },
    });
  } catch (err) {
    throw new StartupError('RAMP_SDK_METRICS_ADDRESS', `RAMP_SDK_METRICS_ADDRESS=${config.RAMP_SDK_METRICS_ADDRESS}: the Temporal SDK's metrics exporter cannot start (${(err as Error).message.replace(/\s+/g, ' ')}); set RAMP_SDK_METRICS_ADDRESS to a free host:port`, err);
  }
}
