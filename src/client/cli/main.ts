#!/usr/bin/env node
/**
 * The `ramp` CLI: one commander tree (per-command help, did-you-mean, flags checked per command),
 * every local check before any connection, one exit code (docs/cli.md): 0 promoted / done,
 * 1 rolled back or failed, 2 invalid input or refused, 3 unreachable, 4 unexpected.
 *
 * `ramp --help` must stay cheap (decision 0019): this module loads commander and light modules
 * only; each command's module — and with it Temporal's client or Kubernetes' — is required inside
 * its action, so only the command that runs pays for it.
 */
import * as os from 'node:os';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DurationError, parseDuration } from '../../domain/duration';
import { PHASE_VALUES } from '../../domain/rollout/phases';
import type { CliContext, GlobalFlags } from './context';
import { connect, makeOutput } from './context';
import { classifyError, CliError, ExitCode } from './errors';
import { userPath } from './paths';
import { packageVersion } from './version';

/* eslint-disable @typescript-eslint/no-require-imports -- the lazy loading the module comment describes */
const load = {
  validate: () => require('./commands/validate') as typeof import('./commands/validate'),
  start: () => require('./commands/start') as typeof import('./commands/start'),
  status: () => require('./commands/status') as typeof import('./commands/status'),
  list: () => require('./commands/list') as typeof import('./commands/list'),
  history: () => require('./commands/history') as typeof import('./commands/history'),
  story: () => require('./commands/story') as typeof import('./commands/story'),
  control: () => require('./commands/control') as typeof import('./commands/control'),
  undo: () => require('./commands/undo') as typeof import('./commands/undo'),
  retry: () => require('./commands/retry') as typeof import('./commands/retry'),
  report: () => require('./commands/report') as typeof import('./commands/report'),
  completion: () => require('./completion') as typeof import('./completion'),
  cluster: () => require('../cluster') as typeof import('../cluster'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

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

// ---- option values, checked while parsing (so before any connection) ---------------------------

function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as DurationError).message);
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a whole number of at least 1, got ${JSON.stringify(value)}`);
  return n;
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function k8sNamespace(value: string): string {
  if (!K8S_NAME.test(value) || value.length > 63) throw new InvalidArgumentError('not a Kubernetes namespace name (lowercase letters, digits and -, at most 63)');
  return value;
}

// ---- the options several commands share --------------------------------------------------------

/** The flags of a command that connects to Temporal. */
function temporalOptions(cmd: Command): Command {
  return cmd
    .option('--address <host:port>', 'Temporal frontend (else TEMPORAL_ADDRESS, a profile, or localhost:7233)')
    .option('--temporal-namespace <namespace>', 'Temporal namespace (else TEMPORAL_NAMESPACE, a profile, or default)')
    .option('--api-key <key>', 'Temporal Cloud API key, turns TLS on (else TEMPORAL_API_KEY)')
    .option('--profile <name>', 'profile of ~/.config/temporalio/temporal.toml (else TEMPORAL_PROFILE)')
    .option('--task-queue <queue>', 'the workers\' task queue (else RAMP_TASK_QUEUE, or ramp)')
    .option('--ui-url <url>', 'Temporal UI base URL for links (else RAMP_TEMPORAL_UI_URL, or the dev server\'s)');
}

/** -o/--output for a command that prints a result. */
function outputOption(cmd: Command): Command {
  return cmd.addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'));
}

function namespaceOption(cmd: Command, what: string): Command {
  return cmd.option('-n, --namespace <namespace>', what, k8sNamespace);
}

const NAME_HELP = 'the rollout: NAME (with -n), NAMESPACE/NAME, the target NAMESPACE/DEPLOYMENT, or its workflow id rollout/NAMESPACE/DEPLOYMENT';

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

// ---- the tree ----------------------------------------------------------------------------------

/** Thrown to end parsing early: help or the version was printed, or help was shown for a missing command. */
class ParseDone extends Error {
  override name = 'ParseDone';
  constructor(readonly code: ExitCode) {
    super('parsing ended early');
  }
}

/** commander's own error as one line naming the command and where its help is. */
function parserError(err: CommanderError, cmd: Command): never {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') {
    throw new ParseDone(err.exitCode === 0 ? ExitCode.Ok : ExitCode.Invalid);
  }
  const path = commandPath(cmd);
  const text = err.message.replace(/^error: /, '').replace(/\n\(/g, ' (').replace(/\n/g, ' ');
  throw new CliError(`${path === 'ramp' ? '' : `${path.slice('ramp '.length)}: `}${text} — see ${path} --help`, ExitCode.Invalid);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** What an action needs besides its flags. */
interface Env {
  env: NodeJS.ProcessEnv;
  /** A path the user typed, made absolute against the user's directory (INIT_CWD under npm). */
  fullPath(p: string): string;
}

type Action = (...args: unknown[]) => Promise<ExitCode>;

/** Flags of a command that sends a command or starts a rollout. */
interface ByFlag { by?: string }

async function withTemporal(flags: GlobalFlags, e: Env, fn: (ctx: CliContext) => Promise<ExitCode>): Promise<ExitCode> {
  const ctx = await connect(flags, makeOutput(flags), e.env);
  try {
    return await fn(ctx);
  } catch (err) {
    throw classifyError(err, { address: ctx.address, namespace: ctx.temporalNamespace });
  } finally {
    await ctx.close();
  }
}

function kubeConfig(path: string | undefined, e: Env) {
  const { cliKubeConfig, KubeConfigError } = load.cluster();
  try {
    return cliKubeConfig(path, e.env, (p) => e.fullPath(p));
  } catch (err) {
    if (err instanceof KubeConfigError) throw new CliError(`Kubernetes configuration: ${err.message}`, ExitCode.Invalid);
    throw err;
  }
}

interface SpecFlags extends GlobalFlags { file: string; image?: string; namespace?: string }

function readSpec(flags: SpecFlags, e: Env) {
  const { loadSpec } = load.validate();
  return loadSpec({ file: flags.file, fullPath: flags.file === '-' ? undefined : e.fullPath(flags.file), image: flags.image, namespace: flags.namespace });
}

/** The name a spec is reported under. */
const specLabel = (file: string) => (file === '-' ? load.validate().STDIN_NAME : file);

/** `--timeout` only means something with `--wait` (or `--watch`): refuse it alone rather than ignore it. */
function timeoutNeeds(flag: string, has: boolean, timeout: number | undefined): void {
  if (timeout !== undefined && !has) throw new CliError(`--timeout is for ${flag}: add ${flag}, or drop --timeout`, ExitCode.Invalid);
}

/** Builds the command tree; `result` receives the exit code of the action that ran. */
export function buildProgram(e: Env, result: (code: ExitCode) => void): Command {
  const by = (flags: ByFlag) => flags.by ?? whoAmI(e.env);
  const act = (fn: Action) => async (...args: unknown[]) => result(await fn(...args));
  const byOption = (cmd: Command) => cmd.option('--by <who>', 'recorded as who sent it (default: GITHUB_ACTOR / GITLAB_USER_LOGIN in CI, else user@host)');
  const waitOptions = (cmd: Command) => cmd
    .option('--wait', 'follow the rollout to its end; the exit code is its outcome')
    .option('--timeout <duration>', 'with --wait: give up waiting after this long (e.g. 30m, 2h); the rollout goes on', duration);

  const program = new Command('ramp')
    .description('ramp — durable canary rollouts on Temporal')
    .usage('<command> [options]')
    .version(packageVersion(), '-V, --version', 'print the version of this ramp')
    .helpCommand('help [command]', 'help for a command')
    .addHelpText('after', `
NAME is a Rollout's name (with -n NAMESPACE, default "default"), NAMESPACE/NAME, or a workflow id.
Exit codes: 0 promoted / done, 1 rolled back / aborted / failed / timed out, 2 invalid input or
refused, 3 unreachable (Temporal, the cluster, or no worker polling: command queued), 4 unexpected.
Shell completion: ramp completion bash|zsh|fish. Every command: ramp help COMMAND.`);

  const start = program.command('start').description('validate a Rollout spec and start it (exit 0 promoted, 1 rolled back, 2 refused with --wait)')
    .requiredOption('-f, --file <file>', 'the Rollout spec (YAML or JSON); - reads it from stdin')
    .option('--image <image>', 'the canary\'s image, instead of the spec\'s spec.canary.image');
  namespaceOption(start, 'fills a spec without metadata.namespace; a spec naming another is refused');
  waitOptions(start);
  start.addOption(new Option('--dry-run', 'check the spec against the cluster instead (= validate --cluster): starts nothing').conflicts(['wait', 'timeout']))
    .option('--kubeconfig <path>', 'with --dry-run: the cluster to check (else KUBECONFIG, in-cluster, ~/.kube/config)');
  byOption(start);
  temporalOptions(outputOption(start)).option('--debug', 'print the stack trace of an error')
    .addHelpText('after', examples([
      'ramp start -f rollout.yaml --image web:v2 --wait --timeout 2h',
      'ramp start -f rollout.yaml -n prod',
      'helm template ... | ramp start -f - --wait',
      'ramp start -f rollout.yaml --dry-run',
    ]))
    .action(act(async (...args) => {
      const flags = args[0] as SpecFlags & ByFlag & { wait?: boolean; timeout?: number; dryRun?: boolean; kubeconfig?: string };
      timeoutNeeds('--wait', flags.wait === true, flags.timeout);
      if (flags.kubeconfig !== undefined && !flags.dryRun) throw new CliError('--kubeconfig is for --dry-run: a started rollout uses the worker\'s credentials', ExitCode.Invalid);
      const out = makeOutput(flags);
      // Validate before connecting: a bad spec is exit 2 even when Temporal is down.
      const rollout = readSpec(flags, e);
      if (flags.dryRun) return load.validate().validateOnCluster(out, specLabel(flags.file), rollout, kubeConfig(flags.kubeconfig, e));
      return withTemporal(flags, e, (ctx) => load.start().start(ctx, { rollout, wait: flags.wait === true, timeoutMs: flags.timeout, startedBy: by(flags) }));
    }));

  const validate = program.command('validate').description('check a Rollout spec offline; with --cluster, also its whole preflight against the live cluster (no Temporal needed)')
    .requiredOption('-f, --file <file>', 'the Rollout spec (YAML or JSON); - reads it from stdin')
    .option('--image <image>', 'the canary\'s image, instead of the spec\'s spec.canary.image');
  namespaceOption(validate, 'fills a spec without metadata.namespace; a spec naming another is refused');
  outputOption(validate.option('--cluster', 'also check it against the cluster: every problem with its fix, or what it will change')
    .option('--kubeconfig <path>', 'with --cluster: the cluster (else KUBECONFIG, in-cluster, ~/.kube/config)'))
    .option('--debug', 'print the stack trace of an error')
    .addHelpText('after', examples(['ramp validate -f rollout.yaml', 'ramp validate -f rollout.yaml --cluster --kubeconfig ~/.kube/prod', 'cat rollout.yaml | ramp validate -f - -n shop']))
    .action(act(async (...args) => {
      const flags = args[0] as SpecFlags & { cluster?: boolean; kubeconfig?: string };
      if (flags.kubeconfig !== undefined && !flags.cluster) throw new CliError('--kubeconfig is for --cluster: add --cluster to check the spec against that cluster', ExitCode.Invalid);
      const out = makeOutput(flags);
      const rollout = readSpec(flags, e);
      const v = load.validate();
      return flags.cluster ? v.validateOnCluster(out, specLabel(flags.file), rollout, kubeConfig(flags.kubeconfig, e)) : v.validate(out, specLabel(flags.file), rollout);
    }));

  /** A command that reads or drives one rollout by NAME over Temporal. */
  const byName = (name: string, description: string, lines: string[]) => {
    const cmd = program.command(name).description(description).addArgument(new Argument('<name>', NAME_HELP));
    namespaceOption(cmd, 'the namespace NAME is in (default: default)');
    return cmd.addHelpText('after', examples(lines));
  };
  const finish = (cmd: Command) => temporalOptions(outputOption(cmd)).option('--debug', 'print the stack trace of an error');

  const status = byName('status', 'phase, step, weights, what it waits for, the last analysis with its evidence',
    ['ramp status storefront -n shop', 'ramp status shop/storefront --watch --timeout 30m', 'ramp status shop/storefront -o json']);
  finish(status.option('-w, --watch', 'follow it live until it ends')
    .option('--timeout <duration>', 'with --watch: stop watching after this long (e.g. 30m); the rollout goes on', duration))
    .action(act(async (...args) => {
      const [name, flags] = args as [string, GlobalFlags & { namespace?: string; watch?: boolean; timeout?: number }];
      timeoutNeeds('--watch', flags.watch === true, flags.timeout);
      return withTemporal(flags, e, (ctx) => load.status().status(ctx, name, flags.namespace, { watch: flags.watch === true, timeoutMs: flags.timeout }));
    }));

  const list = program.command('list').description('running and recent rollouts, newest first, with their step and canary weight');
  namespaceOption(list, 'only rollouts in this namespace');
  finish(list.addOption(new Option('--phase <phase>', 'only rollouts in this phase').choices(PHASE_VALUES))
    .option('--limit <n>', 'at most this many rollouts', positiveInt, 20))
    .addHelpText('after', examples(['ramp list', 'ramp list -n shop --phase AwaitingApproval', 'ramp list --limit 100 -o json']))
    .action(act(async (...args) => {
      const flags = args[0] as GlobalFlags & { namespace?: string; phase?: string; limit: number };
      return withTemporal(flags, e, (ctx) => load.list().list(ctx, flags.phase, flags.namespace, flags.limit));
    }));

  const history = byName('history', 'past rollouts of the same target: outcome, duration, who started, approved or aborted, why',
    ['ramp history storefront -n shop', 'ramp history shop/storefront --limit 5 -o json']);
  finish(history.option('--limit <n>', 'at most this many runs', positiveInt, 20))
    .action(act(async (...args) => {
      const [name, flags] = args as [string, GlobalFlags & { namespace?: string; limit: number }];
      return withTemporal(flags, e, (ctx) => load.history().history(ctx, name, flags.namespace, flags.limit));
    }));

  const story = byName('story', 'one rollout step by step, from its Temporal history', ['ramp story shop/storefront']);
  finish(story).action(act(async (...args) => {
    const [name, flags] = args as [string, GlobalFlags & { namespace?: string }];
    return withTemporal(flags, e, (ctx) => load.story().story(ctx, name, flags.namespace));
  }));

  const controls = [
    ['approve', 'end the approval step the rollout waits in', []],
    ['promote', 'end what the rollout waits on (a pause, an approval, an analysis, a hold); --full skips every remaining step', ['--full']],
    ['pause', 'hold the rollout at the next step boundary', []],
    ['resume', 'end a hold or a pause step', []],
    ['abort', 'roll back now: traffic to stable, then remove the canary', ['--reason']],
  ] as const;
  for (const [verb, description, extra] of controls) {
    const cmd = byName(verb, description, verb === 'abort' ? ['ramp abort shop/storefront --reason "p99 up"'] : [`ramp ${verb} storefront -n shop --by alice`]);
    if ((extra as readonly string[]).includes('--full')) cmd.option('--full', 'skip every remaining step and promote');
    if ((extra as readonly string[]).includes('--reason')) cmd.option('--reason <text>', 'why (required; recorded in the rollout\'s history)');
    byOption(cmd);
    finish(cmd).action(act(async (...args) => {
      const [name, flags] = args as [string, GlobalFlags & ByFlag & { namespace?: string; reason?: string; full?: boolean }];
      if (verb === 'abort' && !flags.reason) throw new CliError('abort needs --reason TEXT: say why, it is recorded in the rollout history', ExitCode.Invalid);
      return withTemporal(flags, e, (ctx) => load.control().control(ctx, verb, name, flags.namespace, { by: by(flags), reason: flags.reason, full: flags.full }));
    }));
  }

  const undo = byName('undo', 'start a new rollout back to the image before the last promotion (found in the rollout history)',
    ['ramp undo shop/storefront --wait', 'ramp undo storefront -n shop --by alice']);
  finish(byOption(waitOptions(undo))).action(act(async (...args) => {
    const [name, flags] = args as [string, GlobalFlags & ByFlag & { namespace?: string; wait?: boolean; timeout?: number }];
    timeoutNeeds('--wait', flags.wait === true, flags.timeout);
    return withTemporal(flags, e, (ctx) => load.undo().undo(ctx, name, flags.namespace, { wait: flags.wait === true, timeoutMs: flags.timeout, startedBy: by(flags) }));
  }));

  const retry = byName('retry', 'start an aborted, rolled-back or refused rollout again with the same spec',
    ['ramp retry shop/storefront --wait --timeout 1h']);
  finish(byOption(waitOptions(retry))).action(act(async (...args) => {
    const [name, flags] = args as [string, GlobalFlags & ByFlag & { namespace?: string; wait?: boolean; timeout?: number }];
    timeoutNeeds('--wait', flags.wait === true, flags.timeout);
    return withTemporal(flags, e, (ctx) => load.retry().retry(ctx, name, flags.namespace, { wait: flags.wait === true, timeoutMs: flags.timeout, startedBy: by(flags) }));
  }));

  // -o names the report's file here, as in the issue's `ramp report NAME -o report.html`.
  const report = byName('report', 'write one self-contained HTML file: the rollout\'s timeline, analysis charts, who did what, the outcome',
    ['ramp report shop/storefront', 'ramp report shop/storefront --run 3f2c… -o last-week.html']);
  temporalOptions(report.option('--run <id>', 'that run of the rollout (default: the latest)')
    .option('-o, --output <file>', 'where to write it (default: NAME-report.html, / written as -)'))
    .option('--debug', 'print the stack trace of an error')
    .action(act(async (...args) => {
      const [name, flags] = args as [string, Omit<GlobalFlags, 'output'> & { namespace?: string; run?: string; output?: string }];
      const outFile = e.fullPath(flags.output ?? `${name.replace(/\//g, '-')}-report.html`);
      const connFlags: GlobalFlags = { ...flags, output: 'text' };
      return withTemporal(connFlags, e, (ctx) => load.report().report(ctx, name, flags.namespace, { runId: flags.run, outFile }));
    }));

  program.command('version').description('print the version of this ramp').action(act(() => {
    process.stdout.write(`${packageVersion()}\n`);
    return Promise.resolve(ExitCode.Ok);
  }));

  program.command('completion').description('print a shell completion script (commands and their flags)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', examples(['source <(ramp completion bash)        # bash, e.g. in ~/.bashrc', 'ramp completion zsh > "${fpath[1]}/_ramp"   # zsh', 'ramp completion fish > ~/.config/fish/completions/ramp.fish']))
    .action(act((...args) => {
      const shell = args[0] as 'bash' | 'zsh' | 'fish';
      process.stdout.write(load.completion().completionScript(shell, program));
      return Promise.resolve(ExitCode.Ok);
    }));

  const output = {
    writeOut: (s: string) => process.stdout.write(s),
    writeErr: (s: string) => process.stderr.write(s),
    // Errors are written once, by the handler at the end, as text or as -o json asks.
    outputError: () => undefined,
  };
  for (const cmd of [program, ...program.commands]) {
    cmd.configureOutput(output).exitOverride((err) => parserError(err, cmd)).showSuggestionAfterError(true);
  }
  return program;
}

/** Runs one command line; resolves to the exit code, or throws a CliError. */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  let code: ExitCode = ExitCode.Ok;
  const program = buildProgram({ env, fullPath: (p) => userPath(p, env, process.cwd()) }, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof ParseDone) return err.code;
    throw classifyError(err);
  }
  return code;
}

/** Whether the command line asks for JSON output (its errors then come as JSON too). */
export function wantsJson(argv: readonly string[]): boolean {
  // `report`'s -o is its output file.
  if (argv[0] === 'report') return false;
  return argv.some((a, i) => a === '--output=json' || a === '-ojson' || ((a === '-o' || a === '--output') && argv[i + 1] === 'json'));
}

/**
 * Writes an error the way the command line asked and returns its exit code: one line on stderr
 * (`--debug` adds the stack); with `-o json` also `{ error, exitCode, problems }` on stdout, so a
 * pipeline that parses stdout gets one JSON document whether the command worked or not.
 */
export function reportError(err: unknown, argv: readonly string[]): ExitCode {
  const e = classifyError(err);
  process.stderr.write(`ramp: ${e.message}\n`);
  if (argv.includes('--debug')) {
    const original = e.cause ?? err;
    process.stderr.write(`${(original as Error)?.stack ?? String(original)}\n`);
  }
  if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ error: e.message.split('\n')[0], exitCode: e.exitCode, problems: e.problems ?? [] })}\n`);
  return e.exitCode;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  // `ramp list | head -1`: the reader has all it wanted; the rest has nowhere to go, and that is
  // not an error of the command (as a program killed by SIGPIPE prints nothing).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportError(err, argv);
    },
  );
}
