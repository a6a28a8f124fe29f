/**
 * The worker's configuration, read once from the environment and validated with zod, so a
 * missing or wrong setting fails at start with the variable's name. Temporal settings use the
 * standard TEMPORAL_* variables of the Temporal CLI and SDK environment configuration.
 */
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';

const hostPort = z
  .string()
  .regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

const optionalPath = z.string().min(1).optional();

/** RAMP_LOG_LEVEL's values, least severe first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type RampLogLevel = (typeof LOG_LEVELS)[number];

/** Every environment variable the worker reads, with its rule and default. */
export const workerEnvShape = {
  TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: optionalPath,
  TEMPORAL_TLS_CLIENT_KEY_PATH: optionalPath,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: optionalPath,
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  RAMP_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  /** Path of a kubeconfig file; unset means in-cluster config, or ~/.kube/config outside a cluster. */
  KUBECONFIG: optionalPath,
  RAMP_PROMETHEUS_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://prometheus:9090' }).default('http://127.0.0.1:9090'),
  /** Prometheus credentials, read by the worker only (never part of a workflow's input or history). */
  RAMP_PROMETHEUS_BEARER_TOKEN_FILE: optionalPath,
  /** A file holding `username:password` for Prometheus basic auth. */
  RAMP_PROMETHEUS_BASIC_AUTH_FILE: optionalPath,
  /** Payload encryption (off unless a key is given): see src/infra/codec.ts. */
  RAMP_CODEC_KEY_FILE: optionalPath,
  RAMP_CODEC_KEY: z.string().min(1).optional(),
  RAMP_CODEC_KEY_ID: z.string().min(1).optional(),
  RAMP_CODEC_OLD_KEY_FILES: z.string().optional(),
  RAMP_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().positive().default(100),
  RAMP_MAX_CACHED_WORKFLOWS: z.coerce.number().int().nonnegative().optional(),
  /** Workflow tasks run at once (the SDK's default is 40); at least 2, as sticky execution needs. */
  RAMP_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2, { error: 'must be a whole number ≥ 2 (sticky execution needs two slots)' }).optional(),
  /** A prebuilt workflow bundle (`npm run build:bundle`); unset: the worker bundles at start. */
  RAMP_WORKFLOW_BUNDLE: optionalPath,
  /** GitOps rollouts: where the worker keeps its clones (one per rollout), and who its commits are by. */
  RAMP_GIT_WORKDIR: optionalPath,
  RAMP_GIT_AUTHOR_NAME: z.string().min(1).default('Ramp'),
  RAMP_GIT_AUTHOR_EMAIL: z.string().regex(/^[^\s<>@]+@[^\s<>@]+$/, { error: 'must be an email address, e.g. ramp@example.com' }).default('ramp@localhost'),
  /** Where the worker serves /healthz, /readyz and Ramp's /metrics. */
  RAMP_HTTP_ADDRESS: hostPort.default('0.0.0.0:9464'),
  /** Where the Temporal SDK's own exporter serves the worker's SDK metrics (pollers, slots, latencies) at /metrics. */
  RAMP_SDK_METRICS_ADDRESS: hostPort.default('0.0.0.0:9465'),
  /** The least severe log lines written (JSON, one per line, on stdout). */
  RAMP_LOG_LEVEL: z.string().toLowerCase().pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })).default('info'),
  /** 1: a worker that cannot start prints the stack trace and causes, not only the one line naming the setting. */
  RAMP_DEBUG: z.enum(['0', '1', 'true', 'false'], { error: 'must be 1 or 0' }).optional(),
};

export const workerConfigSchema = z.object(workerEnvShape).refine((c) => !c.TEMPORAL_TLS_CLIENT_CERT_PATH === !c.TEMPORAL_TLS_CLIENT_KEY_PATH, {
  message: 'set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH for mTLS, or neither',
  path: ['TEMPORAL_TLS_CLIENT_KEY_PATH'],
});

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** Thrown when the worker's environment holds a missing or malformed setting. */
export class WorkerConfigError extends Error {
  override name = 'WorkerConfigError';
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const res = workerConfigSchema.safeParse(env);
  if (res.success) return res.data;
  const lines = res.error.issues.map((i) => {
    const key = i.path.join('.') || '(environment)';
    const got = typeof i.path[0] === 'string' ? env[i.path[0]] : undefined;
    return `  ${key}: ${i.message}${got !== undefined ? ` (got ${JSON.stringify(got)})` : ''}`;
  });
  throw new WorkerConfigError(`invalid worker configuration:\n${lines.join('\n')}`);
}
