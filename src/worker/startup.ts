/**
 * Checks at start that the worker can reach what every rollout needs — Temporal, the Kubernetes
 * API server, Prometheus — and turns each failure into one line that names the setting to fix.
 * A worker that starts anyway would accept rollouts and fail each of them at its first call.
 */
import * as k8s from '@kubernetes/client-node';
import { NativeConnection } from '@temporalio/worker';
import type { AxiosInstance } from 'axios';
import { createPrometheusProvider } from '../activities/metrics/prometheus';
import { loadKubeConfig } from '../infra/kube';
import { temporalConnectionOptions } from '../infra/temporal-connection';
import type { WorkerConfig } from './config';
import { StartupError } from './errors';
import { prometheusAuth } from './worker';

export { StartupError };

const CHECK_TIMEOUT_MS = 10_000;

function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function withTimeout<T>(what: string, p: Promise<T>, ms = CHECK_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The gist of a Temporal SDK transport error: its gRPC status code and the innermost message, e.g.
 * "Connection refused" out of tonic's `ConnectError(… Os { … message: "Connection refused" })`, or
 * the resolver's `error: "failed to lookup address information: …"`.
 */
export function temporalErrorGist(err: unknown): { code?: string; message: string } {
  const raw = err instanceof Error ? err.message : String(err);
  const code = /code: (\w+)/.exec(raw)?.[1];
  const inner = [...raw.matchAll(/(?:message|error): \\?"((?:[^"\\]|\\.)*?)\\?"/g)].map((m) => m[1]!).pop();
  return { ...(code ? { code } : {}), message: oneLine(inner ?? raw, 200) };
}

/** The one-line error for a failed connection or namespace lookup. */
export function temporalStartupError(config: Pick<WorkerConfig, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_API_KEY'>, err: unknown): StartupError {
  const { code, message } = temporalErrorGist(err);
  const at = `Temporal at ${config.TEMPORAL_ADDRESS}`;
  if (code === 'NotFound' && /namespace/i.test(message)) {
    return new StartupError('TEMPORAL_NAMESPACE', `TEMPORAL_NAMESPACE=${config.TEMPORAL_NAMESPACE}: ${at} has no such namespace (${message}); set TEMPORAL_NAMESPACE to an existing namespace`, err);
  }
  if (code === 'Unauthenticated' || code === 'PermissionDenied') {
    const setting = config.TEMPORAL_API_KEY ? 'TEMPORAL_API_KEY' : 'TEMPORAL_TLS_CLIENT_CERT_PATH';
    return new StartupError(setting, `${setting}: ${at} refused the worker's credentials (${code}: ${message}); check ${setting} and that it may use namespace ${config.TEMPORAL_NAMESPACE}`, err);
  }
  return new StartupError('TEMPORAL_ADDRESS', `TEMPORAL_ADDRESS=${config.TEMPORAL_ADDRESS}: cannot reach Temporal (${message}); set TEMPORAL_ADDRESS to the host:port of your Temporal frontend`, err);
}

/** Connects to Temporal, or throws the StartupError naming the setting to fix. */
export async function connectTemporal(config: WorkerConfig): Promise<NativeConnection> {
  let options: ReturnType<typeof temporalConnectionOptions>;
  try {
    options = temporalConnectionOptions(config);
  } catch (err) {
    // A TLS file that cannot be read: the message names its setting already.
    throw new StartupError(/^(\w+)=/.exec((err as Error).message)?.[1] ?? 'TEMPORAL_ADDRESS', oneLine((err as Error).message), err);
  }
  try {
    return await withTimeout(`Temporal at ${config.TEMPORAL_ADDRESS}`, NativeConnection.connect(options));
  } catch (err) {
    throw temporalStartupError(config, err);
  }
}

/** Loads the kubeconfig and asks the API server its version, or throws the StartupError naming KUBECONFIG. */
export async function checkKubernetes(config: Pick<WorkerConfig, 'KUBECONFIG'>, env: NodeJS.ProcessEnv = process.env): Promise<k8s.KubeConfig> {
  const source = config.KUBECONFIG ? `KUBECONFIG=${config.KUBECONFIG}` : env.KUBERNETES_SERVICE_HOST ? 'KUBECONFIG (unset: the in-cluster ServiceAccount)' : 'KUBECONFIG (unset: ~/.kube/config)';
  let kube: k8s.KubeConfig;
  try {
    kube = loadKubeConfig(config.KUBECONFIG, env);
  } catch (err) {
    const msg = (err as Error).message;
    throw new StartupError('KUBECONFIG', oneLine(msg.startsWith('KUBECONFIG') ? msg : `${source}: ${msg}`), err);
  }
  const server = kube.getCurrentCluster()?.server ?? '(no server)';
  try {
    await withTimeout(`the Kubernetes API server at ${server}`, kube.makeApiClient(k8s.VersionApi).getCode());
  } catch (err) {
    const status = (err as { code?: unknown }).code;
    if (status === 401 || status === 403) {
      throw new StartupError('KUBECONFIG', `${source}: the Kubernetes API server at ${server} refused the credentials (HTTP ${status}); fix the user in the kubeconfig, or the ServiceAccount token`, err);
    }
    throw new StartupError('KUBECONFIG', `${source}: cannot reach the Kubernetes API server at ${server} (${oneLine((err as Error).message, 200)}); point KUBECONFIG at a kubeconfig for a running cluster`, err);
  }
  return kube;
}

/** Sends Prometheus a trivial query with the worker's credentials, or throws the StartupError naming the setting to fix. */
export async function checkPrometheus(config: WorkerConfig, http: AxiosInstance): Promise<void> {
  let auth: ReturnType<typeof prometheusAuth>;
  try {
    auth = prometheusAuth(config);
  } catch (err) {
    const msg = (err as Error).message;
    throw new StartupError(/^(RAMP_\w+)/.exec(msg)?.[1] ?? 'RAMP_PROMETHEUS_URL', oneLine(msg), err);
  }
  const provider = createPrometheusProvider({ http, url: config.RAMP_PROMETHEUS_URL, auth, timeoutMs: CHECK_TIMEOUT_MS });
  const url = `RAMP_PROMETHEUS_URL=${config.RAMP_PROMETHEUS_URL}`;
  try {
    await provider.query('vector(1)');
  } catch (err) {
    const status = (err as { httpStatus?: unknown }).httpStatus;
    if (status === 401 || status === 403) {
      const setting = config.RAMP_PROMETHEUS_BEARER_TOKEN_FILE ? 'RAMP_PROMETHEUS_BEARER_TOKEN_FILE' : config.RAMP_PROMETHEUS_BASIC_AUTH_FILE ? 'RAMP_PROMETHEUS_BASIC_AUTH_FILE' : 'RAMP_PROMETHEUS_BEARER_TOKEN_FILE';
      throw new StartupError(setting, `${setting}: Prometheus at ${config.RAMP_PROMETHEUS_URL} refused the worker's credentials (HTTP ${status}); give ${setting} a file with valid credentials`, err);
    }
    const cause = (err as { cause?: unknown }).cause;
    if (cause !== undefined) {
      const why = oneLine(`${(cause as { code?: string }).code ?? 'no answer'}: ${cause instanceof Error ? cause.message : JSON.stringify(cause)}`, 200);
      throw new StartupError('RAMP_PROMETHEUS_URL', `${url}: cannot reach Prometheus (${why}); set RAMP_PROMETHEUS_URL to the base URL of your Prometheus (or Thanos, Mimir) query API`, err);
    }
    const why = oneLine((err as Error).message.replace(/^Prometheus query failed: /, '').replace(/; query: vector\(1\)$/, ''), 200);
    throw new StartupError('RAMP_PROMETHEUS_URL', `${url}: no Prometheus query API answers there (${why}); set RAMP_PROMETHEUS_URL to the base URL of the query API, with its path prefix if it has one`, err);
  }
}
