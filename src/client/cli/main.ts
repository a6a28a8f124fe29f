#!/usr/bin/env node
/**
 * The `ramp` CLI. Parses once, runs one command, sets the exit code (docs/cli.md): 0 promoted /
 * done, 1 rolled back or failed, 2 invalid input or refused, 3 unreachable, 4 no worker polling.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { DurationError, parseDuration } from '../../domain/duration';
import { cliKubeConfig, KubeConfigError } from '../cluster';
import { connect, makeOutput, Output } from './context';
import { CliError, ExitCode } from './errors';
import { control } from './commands/control';
import { history } from './commands/history';
import { list } from './commands/list';
import { start } from './commands/start';
import { status } from './commands/status';
import { story } from './commands/story';
import { loadSpec, validate, validateOnCluster } from './commands/validate';
import { userPath } from './paths';
import { packageVersion } from './version';

export const USAGE = `ramp — durable canary rollouts on Temporal

Usage:
  ramp start -f FILE [--image IMG] [--wait] [--timeout DURATION]   start a rollout (exit 0 promoted, 1 rolled back, 2 refused)
  ramp start -f FILE --dry-run [--kubeconfig PATH]                 = validate --cluster: starts nothing
  ramp status NAME [--watch]                                       phase, step, weights, analysis, what it waits for
  ramp list [--phase PHASE] [-n NAMESPACE]                         running and recent rollouts
  ramp history NAME                                                past rollouts of a target: outcome, who, why
  ramp story NAME                                                  one rollout step by step, from its history
  ramp approve NAME | promote NAME [--full] | pause NAME | resume NAME
  ramp abort NAME --reason TEXT
  ramp validate -f FILE [--image IMG]                              check a spec offline
  ramp validate -f FILE --cluster [--kubeconfig PATH]              also check it against the cluster (no Temporal
                                                                   needed): every problem, or what it will change
  ramp --version                                                   the version of this ramp

NAME is a Rollout's name (with -n NAMESPACE, default "default"), NAMESPACE/NAME, or a workflow id.
Read commands take --output json. Commands sent by people record --by (default user@host, or the CI user).
With no worker polling the rollout's task queue, a command is queued in its history as a signal (exit 4).
Relative paths (-f, --kubeconfig, KUBECONFIG) are read from the directory npm was run in (INIT_CWD).

Temporal: --address, --temporal-namespace, --api-key, --profile, or TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_API_KEY, TEMPORAL_TLS_* , TEMPORAL_PROFILE / ~/.config/temporalio/temporal.toml.
--task-queue (RAMP_TASK_QUEUE, default ramp), --ui-url (RAMP_TEMPORAL_UI_URL), --debug for stack traces.
Kubernetes (--cluster, --dry-run): --kubeconfig, else KUBECONFIG, else in-cluster, else ~/.kube/config.
Exit codes: 0 promoted/ok, 1 rolled back/failed/timed out, 2 invalid input or refused (problems found),
3 Temporal or the cluster unreachable, 4 no worker polls the rollout's task queue (command queued).`;

const OPTIONS = {
  file: { type: 'string', short: 'f' },
  image: { type: 'string' },
  wait: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  cluster: { type: 'boolean' },
  kubeconfig: { type: 'string' },
  timeout: { type: 'string' },
  output: { type: 'string', short: 'o' },
  namespace: { type: 'string', short: 'n' },
  phase: { type: 'string' },
  reason: { type: 'string' },
  full: { type: 'boolean' },
  by: { type: 'string' },
  watch: { type: 'boolean', short: 'w' },
  address: { type: 'string' },
  'temporal-namespace': { type: 'string' },
  profile: { type: 'string' },
  'api-key': { type: 'string' },
  'task-queue': { type: 'string' },
  'ui-url': { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** Who sends a command: --by, else the CI's user, else user@host. */
function whoAmI(env: NodeJS.ProcessEnv): string {
  const ci = env.GITHUB_ACTOR ?? env.GITLAB_USER_LOGIN;
  if (ci) return `${ci} (ci)`;
  try {
    return `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    return 'unknown';
  }
}

function needName(cmd: string, positionals: string[]): string {
  const name = positionals[1];
  if (!name) throw new CliError(`ramp ${cmd} needs a rollout NAME (see ramp --help)`, ExitCode.Invalid);
  if (positionals.length > 2) throw new CliError(`ramp ${cmd}: unexpected argument ${JSON.stringify(positionals[2])}`, ExitCode.Invalid);
  return name;
}

export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message} (see ramp --help)`, ExitCode.Invalid);
  }
  const { values: v, positionals } = parsed;
  const cmd = positionals[0];
  const out: Output = makeOutput(v);
  if (v.version || cmd === 'version') {
    out.print(packageVersion());
    return ExitCode.Ok;
  }
  if (v.help || cmd === undefined || cmd === 'help') {
    out.print(USAGE);
    return cmd === undefined && !v.help ? ExitCode.Invalid : ExitCode.Ok;
  }
  const by = v.by ?? whoAmI(env);
  const fullPath = (p: string) => userPath(p, env, process.cwd());
  const kube = () => {
    try {
      return cliKubeConfig(v.kubeconfig, env, fullPath);
    } catch (err) {
      if (err instanceof KubeConfigError) throw new CliError(`Kubernetes configuration: ${err.message}`, ExitCode.Invalid);
      throw err;
    }
  };

  switch (cmd) {
    case 'validate': {
      if (!v.file) throw new CliError('ramp validate needs -f FILE', ExitCode.Invalid);
      if (v.kubeconfig !== undefined && !v.cluster) throw new CliError('--kubeconfig is for --cluster: add --cluster to check the spec against that cluster', ExitCode.Invalid);
      const rollout = loadSpec(v.file, v.image, fullPath(v.file));
      return v.cluster ? validateOnCluster(out, v.file, rollout, kube()) : validate(out, v.file, rollout);
    }
    case 'start': {
      if (!v.file) throw new CliError('ramp start needs -f FILE (a Rollout spec)', ExitCode.Invalid);
      if (v['dry-run']) {
        // The same check as validate --cluster; --wait and --timeout have nothing to wait for.
        return validateOnCluster(out, v.file, loadSpec(v.file, v.image, fullPath(v.file)), kube());
      }
      if (v.kubeconfig !== undefined) throw new CliError('--kubeconfig is for --dry-run: a started rollout uses the worker\'s credentials', ExitCode.Invalid);
      let timeoutMs: number | undefined;
      if (v.timeout !== undefined) {
        try {
          timeoutMs = parseDuration(v.timeout);
        } catch (err) {
          throw new CliError(`--timeout: ${(err as DurationError).message}`, ExitCode.Invalid);
        }
      }
      // Validate before connecting: a bad spec is exit 2 even when Temporal is down.
      const rollout = loadSpec(v.file, v.image, fullPath(v.file));
      const ctx = await connect(v, out, env);
      try {
        return await start(ctx, { rollout, wait: v.wait === true, timeoutMs, startedBy: by });
      } finally {
        await ctx.close();
      }
    }
    case 'status': case 'list': case 'history': case 'story':
    case 'approve': case 'promote': case 'pause': case 'resume': case 'abort': {
      const name = cmd === 'list' ? '' : needName(cmd, positionals);
      const ctx = await connect(v, out, env);
      try {
        switch (cmd) {
          case 'status': return await status(ctx, name, v.namespace, v.watch === true);
          case 'list': return await list(ctx, v.phase, v.namespace);
          case 'history': return await history(ctx, name, v.namespace);
          case 'story': return await story(ctx, name, v.namespace);
          default: return await control(ctx, cmd, name, v.namespace, { by, reason: v.reason, full: v.full });
        }
      } finally {
        await ctx.close();
      }
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(cmd)} (see ramp --help)`, ExitCode.Invalid);
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const debug = argv.includes('--debug');
      if (err instanceof CliError) {
        process.stderr.write(`ramp: ${err.message}\n`);
        if (debug) process.stderr.write(`${err.stack}\n`);
        process.exitCode = err.exitCode;
      } else {
        process.stderr.write(`ramp: ${(err as Error).message ?? String(err)}${debug ? `\n${(err as Error).stack}` : ' (--debug for details)'}\n`);
        process.exitCode = ExitCode.Failed;
      }
    },
  );
}
