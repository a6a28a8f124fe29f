/**
 * What every command gets: a Temporal client configured the ecosystem's way — flags, then the
 * standard TEMPORAL_* environment variables, then a Temporal environment-config profile
 * (~/.config/temporalio/temporal.toml, `--profile` / TEMPORAL_PROFILE) — and where to print.
 *
 * The CLI loads this module at every start, `ramp --help` included: Temporal's client and the
 * environment-config reader are required inside connect(), only by commands that connect.
 */
import type { Client, Connection } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../../shared/constants';
import { CliError, ExitCode } from './errors';

/** The Temporal connection and output flags, as the commands that connect or print take them. */
export interface GlobalFlags {
  /** --address: host:port of the Temporal frontend. */
  address?: string;
  /** --temporal-namespace. */
  temporalNamespace?: string;
  /** --profile: a profile of the Temporal environment-config TOML. */
  profile?: string;
  /** --api-key: Temporal Cloud API key. */
  apiKey?: string;
  /** --task-queue: the workers' task queue. */
  taskQueue?: string;
  /** --ui-url: the Temporal UI's base URL, for links. */
  uiUrl?: string;
  /** -o/--output: json or text. */
  output?: string;
}

export interface Output {
  /** Machine-readable output requested (--output json). */
  json: boolean;
  /** stdout is a terminal: live views may redraw. */
  tty: boolean;
  print(text: string): void;
  error(text: string): void;
}

export interface CliContext {
  client: Client;
  temporalNamespace: string;
  address: string;
  taskQueue: string;
  /** Base URL of the Temporal UI, for links. */
  uiUrl: string;
  out: Output;
  close(): Promise<void>;
}

export function makeOutput(flags: GlobalFlags): Output {
  if (flags.output !== undefined && flags.output !== 'json' && flags.output !== 'text') {
    throw new CliError(`--output ${flags.output}: use json or text`, ExitCode.Invalid);
  }
  return {
    json: flags.output === 'json',
    tty: Boolean(process.stdout.isTTY),
    print: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    error: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  };
}

export async function connect(flags: GlobalFlags, out: Output, env: NodeJS.ProcessEnv = process.env): Promise<CliContext> {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded on the first connection only (see the module comment) */
  const { Client, Connection } = require('@temporalio/client') as typeof import('@temporalio/client');
  const { loadClientConnectConfig } = require('@temporalio/envconfig') as typeof import('@temporalio/envconfig');
  const { dataConverterFor } = require('../connect') as typeof import('../connect');
  /* eslint-enable @typescript-eslint/no-require-imports */
  let profile;
  try {
    // An empty variable counts as unset (as shells and CI systems often leave them).
    const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
    profile = loadClientConnectConfig({ profile: flags.profile, overrideEnvVars: vars });
  } catch (err) {
    throw new CliError(`Temporal configuration: ${(err as Error).message} (check TEMPORAL_CONFIG_FILE / --profile)`, ExitCode.Invalid);
  }
  const address = flags.address || profile.connectionOptions.address || 'localhost:7233';
  const namespace = flags.temporalNamespace || profile.namespace || 'default';
  const apiKey = flags.apiKey ?? profile.connectionOptions.apiKey;
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address,
      tls: profile.connectionOptions.tls,
      apiKey: typeof apiKey === 'string' ? apiKey : undefined,
      metadata: profile.connectionOptions.metadata,
      connectTimeout: '5s',
    });
    await connection.workflowService.getSystemInfo({}, );
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${address}: ${(err as Error).message.split('\n')[0]} — set --address or TEMPORAL_ADDRESS (or a profile in ~/.config/temporalio/temporal.toml)`,
      ExitCode.Unreachable,
    );
  }
  const uiUrl = flags.uiUrl ?? env.RAMP_TEMPORAL_UI_URL ?? defaultUiUrl(address);
  let dataConverter;
  try {
    dataConverter = dataConverterFor(env);
  } catch (err) {
    await connection.close();
    throw new CliError((err as Error).message, ExitCode.Invalid);
  }
  return {
    client: new Client({ connection, namespace, dataConverter }),
    temporalNamespace: namespace,
    address,
    taskQueue: flags.taskQueue ?? env.RAMP_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    uiUrl,
    out,
    close: () => connection.close(),
  };
}

/** The dev server's UI listens on the frontend port + 1000; Temporal Cloud has its own. */
function defaultUiUrl(address: string): string {
  if (address.endsWith('.tmprl.cloud:7233')) return 'https://cloud.temporal.io';
  const [host, port] = address.split(':');
  return `http://${host === '127.0.0.1' || host === 'localhost' ? host : host}:${Number(port) + 1000}`;
}
