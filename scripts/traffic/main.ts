/**
 * Traffic for the MuShop storefront on the local stack: starts the demo service's two versions
 * (v1 serves the stable workload, v2 the canary) and the traffic generator that splits requests
 * between them by the weights of route `primary` of VirtualService `storefront`.
 *
 *   tsx scripts/traffic/main.ts --namespace mushop --rps 20 --canary-error-rate 0.05
 *
 * Latencies are MEDIAN or MEDIAN:P99 in milliseconds (a single number is a constant latency).
 * Runs until SIGINT/SIGTERM or --max-duration; the stack's kubeconfig and Prometheus targets
 * directory are the defaults.
 */
import { parseArgs } from 'node:util';
import { loadStackConfig } from '../stack/config';
import { readStackInfo } from '../stack/info';
import { startDemoService, type DemoService, type LatencyMs } from './demo-service';
import { startTrafficGenerator, type TrafficGenerator, type TrafficStats } from './generator';

export interface MushopTrafficOptions {
  /** Namespace of the storefront objects. Default mushop. */
  namespace?: string;
  /** Requests per second over both versions. Default 20. */
  rps?: number;
  /** subset: stable/canary subsets of host storefront; service: hosts storefront-stable/storefront-canary. Default subset. */
  mode?: 'subset' | 'service';
  /** Stable (v1) behaviour. Defaults: no errors, latency 20:80. */
  stable?: { errorRate?: number; latencyMs?: LatencyMs };
  /** Canary (v2) behaviour. Defaults: as stable. */
  canary?: { errorRate?: number; latencyMs?: LatencyMs };
  /** Seed of every PRNG (the destination picks, and each version's errors and latencies). Default 1. */
  seed?: number;
  /** Stops by itself after this long, ms. Default one hour. */
  maxDurationMs?: number;
  /** Port of /metrics; default a free one. */
  metricsPort?: number;
  /** Default: the local stack's. */
  kubeconfig?: string;
  /** Default: the local stack's. */
  targetsDir?: string;
  /** Weight changes and errors; default nowhere. */
  log?: (line: string) => void;
}

export interface MushopTraffic {
  /** v1, serving workload storefront-original. */
  stable: DemoService;
  /** v2, serving workload storefront-original-canary; setBehaviour() makes it bad mid-rollout. */
  canary: DemoService;
  generator: TrafficGenerator;
  /** Stops the generator, then both versions. */
  stop(): Promise<void>;
}

/** The workloads Ramp's rollout of examples/mushop/rollout.yaml runs: the target and its canary. */
export const STOREFRONT = { virtualService: 'storefront', route: 'primary', stableWorkload: 'storefront-original', canaryWorkload: 'storefront-original-canary' } as const;

const DEFAULT_LATENCY: LatencyMs = { median: 20, p99: 80 };

/** Starts both versions and the generator for the MuShop storefront; stops what it started if a step fails. */
export async function startMushopTraffic(opts: MushopTrafficOptions = {}): Promise<MushopTraffic> {
  const seed = opts.seed ?? 1;
  const namespace = opts.namespace ?? 'mushop';
  const mode = opts.mode ?? 'subset';
  let kubeconfig = opts.kubeconfig;
  let targetsDir = opts.targetsDir;
  if (kubeconfig === undefined || targetsDir === undefined) {
    const info = readStackInfo(loadStackConfig());
    kubeconfig ??= info.kubernetes.kubeconfig;
    targetsDir ??= info.prometheus.targetsDir;
  }
  const started: { close(): Promise<void> }[] = [];
  try {
    const stable = await startDemoService({ version: 'v1', seed: seed * 3 + 1, errorRate: opts.stable?.errorRate ?? 0, latencyMs: opts.stable?.latencyMs ?? DEFAULT_LATENCY });
    started.push(stable);
    const canary = await startDemoService({
      version: 'v2',
      seed: seed * 3 + 2,
      errorRate: opts.canary?.errorRate ?? opts.stable?.errorRate ?? 0,
      latencyMs: opts.canary?.latencyMs ?? opts.stable?.latencyMs ?? DEFAULT_LATENCY,
    });
    started.push(canary);
    const match = mode === 'subset'
      ? { stable: { host: 'storefront', subset: 'stable' }, canary: { host: 'storefront', subset: 'canary' } }
      : { stable: { host: 'storefront-stable' }, canary: { host: 'storefront-canary' } };
    const generator = await startTrafficGenerator({
      kubeconfig,
      namespace,
      virtualService: STOREFRONT.virtualService,
      route: STOREFRONT.route,
      destinations: [
        { match: match.stable, workload: STOREFRONT.stableWorkload, url: stable.url },
        { match: match.canary, workload: STOREFRONT.canaryWorkload, url: canary.url },
      ],
      rps: opts.rps ?? 20,
      targetsDir,
      port: opts.metricsPort,
      seed,
      maxDurationMs: opts.maxDurationMs,
      log: opts.log,
    });
    return {
      stable,
      canary,
      generator,
      async stop() {
        await generator.stop();
        await Promise.all([stable.close(), canary.close()]);
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}

/** Parses "20" (constant) or "20:80" (median:p99) milliseconds. */
export function parseLatency(text: string, flag: string): LatencyMs {
  const m = /^(\d+(?:\.\d+)?)(?::(\d+(?:\.\d+)?))?$/.exec(text.trim());
  if (!m) throw new Error(`${flag} must be MEDIAN or MEDIAN:P99 in milliseconds, e.g. 20 or 20:80; got ${JSON.stringify(text)}`);
  const median = Number(m[1]);
  return { median, p99: m[2] === undefined ? median : Number(m[2]) };
}

function parseNumber(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} must be a number from ${min} to ${max}; got ${JSON.stringify(text)}`);
  return n;
}

const USAGE = `usage: tsx scripts/traffic/main.ts [options]
  --namespace NS              namespace of the storefront (default mushop)
  --rps N                     requests per second over both versions (default 20)
  --mode subset|service       how the route names the versions (default subset)
  --stable-error-rate R       share of 5xx from v1, 0..1 (default 0)
  --stable-latency-ms L       v1 latency, MEDIAN or MEDIAN:P99 (default 20:80)
  --canary-error-rate R       share of 5xx from v2, 0..1 (default: as stable)
  --canary-latency-ms L       v2 latency (default: as stable)
  --seed N                    PRNG seed (default 1)
  --max-duration SECONDS      stop after this long (default 3600)
  --metrics-port N            port of /metrics (default: a free one)
  --kubeconfig FILE           default: the local stack's
  --targets-dir DIR           Prometheus file-SD directory (default: the local stack's)`;

/** The options a command line asks for; throws with a message naming the bad flag. */
export function parseTrafficArgs(argv: string[]): MushopTrafficOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      namespace: { type: 'string' },
      rps: { type: 'string' },
      mode: { type: 'string' },
      'stable-error-rate': { type: 'string' },
      'stable-latency-ms': { type: 'string' },
      'canary-error-rate': { type: 'string' },
      'canary-latency-ms': { type: 'string' },
      seed: { type: 'string' },
      'max-duration': { type: 'string' },
      'metrics-port': { type: 'string' },
      kubeconfig: { type: 'string' },
      'targets-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (values.mode !== undefined && values.mode !== 'subset' && values.mode !== 'service') {
    throw new Error(`--mode must be subset or service; got ${JSON.stringify(values.mode)}`);
  }
  const behaviour = (which: 'stable' | 'canary') => {
    const rate = values[`${which}-error-rate`];
    const latency = values[`${which}-latency-ms`];
    return {
      errorRate: rate === undefined ? undefined : parseNumber(rate, `--${which}-error-rate`, 0, 1),
      latencyMs: latency === undefined ? undefined : parseLatency(latency, `--${which}-latency-ms`),
    };
  };
  return {
    namespace: values.namespace,
    rps: values.rps === undefined ? undefined : parseNumber(values.rps, '--rps', 0.1, 5000),
    mode: values.mode,
    stable: behaviour('stable'),
    canary: behaviour('canary'),
    seed: values.seed === undefined ? undefined : parseNumber(values.seed, '--seed', 0, 2 ** 32 - 1),
    maxDurationMs: values['max-duration'] === undefined ? undefined : parseNumber(values['max-duration'], '--max-duration', 1, 86_400) * 1000,
    metricsPort: values['metrics-port'] === undefined ? undefined : parseNumber(values['metrics-port'], '--metrics-port', 0, 65_535),
    kubeconfig: values.kubeconfig,
    targetsDir: values['targets-dir'],
  };
}

/** One line summarising the traffic: totals, and the split and errors since `prev` when given. */
export function formatStats(s: TrafficStats, prev?: TrafficStats): string {
  const recentSent = (name: string) => s.workloads[name]!.sent - (prev?.workloads[name]?.sent ?? 0);
  const recentTotal = Object.keys(s.workloads).reduce((a, name) => a + recentSent(name), 0);
  const parts = Object.entries(s.workloads).map(([name, w]) => {
    const p = prev?.workloads[name];
    const total = `sent ${w.sent}, 5xx ${w.errors}/${w.completed}`;
    if (!p) return `${name}: weight ${w.weight}%, ${total}`;
    const share = recentTotal > 0 ? (recentSent(name) / recentTotal) * 100 : 0;
    return `${name}: weight ${w.weight}%, got ${share.toFixed(0)}% with 5xx ${w.errors - p.errors}/${w.completed - p.completed} lately (${total})`;
  });
  return `${(s.elapsedMs / 1000).toFixed(0)}s  ${parts.join('  |  ')}${s.lastError ? `  (VirtualService: ${s.lastError})` : ''}`;
}

async function main(): Promise<void> {
  let opts: MushopTrafficOptions | 'help';
  try {
    opts = parseTrafficArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (opts === 'help') {
    console.log(USAGE);
    return;
  }
  const log = (line: string) => console.log(`[traffic] ${line}`);
  const traffic = await startMushopTraffic({ ...opts, log });
  const { stable, canary, generator } = traffic;
  console.log([
    `v1 (storefront-original)        ${stable.url}  errors ${stable.behaviour().errorRate}, latency ${JSON.stringify(stable.behaviour().latencyMs)}`,
    `v2 (storefront-original-canary) ${canary.url}  errors ${canary.behaviour().errorRate}, latency ${JSON.stringify(canary.behaviour().latencyMs)}`,
    `metrics                         ${generator.metricsUrl}  (Prometheus target file ${generator.targetFile})`,
    `change the canary:  curl -X POST ${canary.url}control -d '{"errorRate":0.1}'`,
    'Ctrl-C stops.',
  ].join('\n'));

  let prev = generator.stats();
  const ticker = setInterval(() => {
    const now = generator.stats();
    console.log(formatStats(now, prev));
    prev = now;
  }, 10_000);
  const onSignal = (signal: NodeJS.Signals) => {
    console.log(`\n${signal}: stopping`);
    void traffic.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const reason = await generator.done;
  clearInterval(ticker);
  await traffic.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  console.log(`stopped (${reason}): ${formatStats(generator.stats())}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
