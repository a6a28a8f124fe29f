/**
 * A Temporal client for Ramp's programmatic users and the CLI, configured like the worker from
 * the standard TEMPORAL_* environment variables.
 */
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { codecFromEnv, CodecSettings } from '../infra/codec';
import { temporalConnectionOptions } from '../infra/temporal-connection';
import { workerEnvShape } from '../worker/config';

const clientEnvSchema = z.object({
  TEMPORAL_ADDRESS: workerEnvShape.TEMPORAL_ADDRESS,
  TEMPORAL_NAMESPACE: workerEnvShape.TEMPORAL_NAMESPACE,
  TEMPORAL_API_KEY: workerEnvShape.TEMPORAL_API_KEY,
  TEMPORAL_TLS: workerEnvShape.TEMPORAL_TLS,
  TEMPORAL_TLS_CLIENT_CERT_PATH: workerEnvShape.TEMPORAL_TLS_CLIENT_CERT_PATH,
  TEMPORAL_TLS_CLIENT_KEY_PATH: workerEnvShape.TEMPORAL_TLS_CLIENT_KEY_PATH,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: workerEnvShape.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
  TEMPORAL_TLS_SERVER_NAME: workerEnvShape.TEMPORAL_TLS_SERVER_NAME,
  RAMP_TASK_QUEUE: workerEnvShape.RAMP_TASK_QUEUE,
  RAMP_CODEC_KEY_FILE: workerEnvShape.RAMP_CODEC_KEY_FILE,
  RAMP_CODEC_KEY: workerEnvShape.RAMP_CODEC_KEY,
  RAMP_CODEC_KEY_ID: workerEnvShape.RAMP_CODEC_KEY_ID,
  RAMP_CODEC_OLD_KEY_FILES: workerEnvShape.RAMP_CODEC_OLD_KEY_FILES,
});

export type ClientSettings = z.infer<typeof clientEnvSchema>;

export function loadClientSettings(env: NodeJS.ProcessEnv = process.env): ClientSettings {
  const res = clientEnvSchema.safeParse(env);
  if (res.success) return res.data;
  throw new Error(res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
}

export interface RampClient {
  client: Client;
  settings: ClientSettings;
  close(): Promise<void>;
}

export async function connectRampClient(settings = loadClientSettings()): Promise<RampClient> {
  const connection = await Connection.connect({ ...temporalConnectionOptions(settings), connectTimeout: '5s' });
  return {
    client: new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE, dataConverter: dataConverterFor(settings) }),
    settings,
    close: () => connection.close(),
  };
}

/** The Temporal UI page of one workflow execution. */
export function workflowUiUrl(uiBase: string, namespace: string, workflowId: string, runId?: string): string {
  const base = `${uiBase.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}

/** Encrypting payloads when a codec key is configured (the worker must use the same key). */
export function dataConverterFor(settings: CodecSettings) {
  const codec = codecFromEnv(settings);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
