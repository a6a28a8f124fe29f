/**
 * Counts failed metrics-backend queries where the activities hand them to a provider. The metrics
 * activities turn a failed query into an Error measurement or an `ok: false` answer (the analysis
 * counts it), so no failure crosses the activity boundary: the worker wraps the providers it
 * injects instead, and the activities stay as they are.
 */
import { PrometheusError } from '../activities/metrics/prometheus';
import type { MetricsProvider, MetricsProviders } from '../activities/metrics/provider';
import type { RampMetrics } from './metrics';

/** errorType values of the Prometheus HTTP API; anything else a compatible backend says counts as `other`. */
const PROMETHEUS_ERROR_TYPES = new Set(['bad_data', 'timeout', 'canceled', 'execution', 'internal', 'unavailable', 'not_found', 'not_acceptable']);

/**
 * The `type` label of a failed query: `unreachable` (no answer: refused, reset, DNS, TLS, client
 * timeout), Prometheus' own errorType, `http` (an HTTP error without a Prometheus error body),
 * `bad_response` (an answer Ramp cannot use, such as a matrix where a vector was expected), `other`.
 */
export function prometheusErrorType(err: unknown): string {
  if (!(err instanceof PrometheusError)) return 'other';
  if (err.errorType !== undefined) return PROMETHEUS_ERROR_TYPES.has(err.errorType) ? err.errorType : 'other';
  if (err.httpStatus !== undefined) return 'http';
  if (err.cause !== undefined) return 'unreachable';
  return 'bad_response';
}

function counted(provider: MetricsProvider, metrics: RampMetrics): MetricsProvider {
  const count = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      metrics.prometheusError(prometheusErrorType(err));
      throw err;
    }
  };
  return {
    query: (q, o) => count(() => provider.query(q, o)),
    queryVector: (q, o) => count(() => provider.queryVector(q, o)),
    queryRange: (q, o) => count(() => provider.queryRange(q, o)),
    isOnline: () => provider.isOnline(),
  };
}

/** The same providers, each failed query counted in ramp_prometheus_errors_total. */
export function countProviderErrors(providers: MetricsProviders, metrics: RampMetrics): MetricsProviders {
  return new Map([...providers].map(([name, p]) => [name, counted(p, metrics)]));
}
