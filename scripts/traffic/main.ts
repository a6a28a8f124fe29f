/**
 * Traffic for the MuShop storefront on the local stack: starts the demo service's two versions
 * (v1 plays pods running the stable image, v2 pods running the canary's or any other image) and
 * the traffic generator, which routes requests as Istio would by route `primary` of VirtualService
 * `storefront`: the route's weights, the Services' ready endpoints, the DestinationRule's subsets.
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
import { startDemoService, type DemoService, type LatencyMs, type TailBehaviour } from './demo-service';
import { sharesBetween, startTrafficGenerator, type TrafficGenerator, type TrafficGeneratorOptions, type TrafficStats } from './generator';
import { GATEWAY_ROUTE_KINDS, type GatewayRouteKind } from './gateway-routes';
import type { RouteSelector } from './mesh';

export interface MushopTrafficOptions {
  /** Namespace of the storefront objects. Default mushop. */
  namespace?: string;
  /** Requests per second. Default 20. */
  rps?: number;
  /** The HTTP route of VirtualService storefront to follow. Default `primary`. */
  route?: string | RouteSelector;
  /** Follow this HTTPRoute or GRPCRoute instead of the VirtualService (requests `GET /`). */
  gatewayRoute?: { kind: GatewayRouteKind; name: string };
  /** The request mix (headers, query parameters, cookies), as the generator's `requests`. Default `GET /`. */
  requests?: TrafficGeneratorOptions['requests'];
  /** Simulated clients, each with a cookie jar, as the generator's `clients`. Default 1. */
  clients?: number;
  /** Pods running this image are played by v1. Default STOREFRONT.stableImage. */
  stableImage?: string;
  /** Pods running this image, or any image but the stable one, are played by v2. Default STOREFRONT.canaryImage. */
  canaryImage?: string;
  /** Stable (v1) behaviour. Defaults: no errors, latency 20:80, no tail. */
  stable?: { errorRate?: number; latencyMs?: LatencyMs; tail?: TailBehaviour };
  /** Canary (v2) behaviour. Defaults, field by field: as stable. */
  canary?: { errorRate?: number; latencyMs?: LatencyMs; tail?: TailBehaviour };
  /** Seed of every PRNG (the route and pod picks, and each version's errors and latencies). Default 1. */
  seed?: number;
  /** Stops by itself after this long, ms. Default one hour. */
  maxDurationMs?: number;
  /** Port of /metrics; default a free one. */
  metricsPort?: number;
  /** Default: the local stack's. */
  kubeconfig?: string;
  /** Default: the local stack's. */
  targetsDir?: string;
  /** Routing changes and errors; default nowhere. */
  log?: (line: string) => void;
}

export interface MushopTraffic {
  /** v1, playing pods that run the stable image. */
  stable: DemoService;
  /** v2, playing pods that run any other image; setBehaviour() makes it bad mid-rollout. */
  canary: DemoService;
  generator: TrafficGenerator;
  /** Stops the generator, then both versions. */
  stop(): Promise<void>;
}

/** The MuShop storefront as Ramp's rollout of examples/mushop/rollout.yaml sees it: the target, its canary, their images. */
export const STOREFRONT = {
  virtualService: 'storefront',
  route: 'primary',
  stableWorkload: 'storefront-original',
  canaryWorkload: 'storefront-original-canary',
  stableImage: 'iad.ocir.io/mushop/storefront:original',
  canaryImage: 'iad.ocir.io/mushop/storefront:beta',
} as const;

const DEFAULT_LATENCY: LatencyMs = { median: 20, p99: 80 };

/** Starts both versions and the generator for the MuShop storefront; stops what it started if a step fails. */
export async function startMushopTraffic(opts: MushopTrafficOptions = {}): Promise<MushopTraffic> {
  const seed = opts.seed ?? 1;
  const namespace = opts.namespace ?? 'mushop';
  let kubeconfig = opts.kubeconfig;
  let targetsDir = opts.targetsDir;
  if (kubeconfig === undefined || targetsDir === undefined) {
    const info = readStackInfo(loadStackConfig());
    kubeconfig ??= info.kubernetes.kubeconfig;
    targetsDir ??= info.prometheus.targetsDir;
  }
  const started: { close(): Promise<void> }[] = [];
  try {
    const stable = await startDemoService({
      version: 'v1',
      seed: seed * 3 + 1,
      errorRate: opts.stable?.errorRate ?? 0,
      latencyMs: opts.stable?.latencyMs ?? DEFAULT_LATENCY,
      tail: opts.stable?.tail,
    });
    started.push(stable);
    const canary = await startDemoService({
      version: 'v2',
      seed: seed * 3 + 2,
      errorRate: opts.canary?.errorRate ?? opts.stable?.errorRate ?? 0,
      latencyMs: opts.canary?.latencyMs ?? opts.stable?.latencyMs ?? DEFAULT_LATENCY,
      tail: opts.canary?.tail ?? opts.stable?.tail,
    });
    started.push(canary);
    const generator = await startTrafficGenerator({
      kubeconfig,
      namespace,
      ...(opts.gatewayRoute
        ? { gatewayRoute: opts.gatewayRoute }
        : { virtualService: STOREFRONT.virtualService, route: opts.route ?? STOREFRONT.route }),
      ...(opts.requests ? { requests: opts.requests } : {}),
      ...(opts.clients ? { clients: opts.clients } : {}),
      images: { [opts.stableImage ?? STOREFRONT.stableImage]: stable.url, [opts.canaryImage ?? STOREFRONT.canaryImage]: canary.url },
      // A rollout may ship any image (`ramp start --image …`): whatever is not the stable image is the new version.
      defaultUrl: canary.url,
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
  --rps N                     requests per second (default 20)
  --route NAME|#N|default     HTTP route of VirtualService storefront to follow: by name, by index
                              (#0 is the first), or the first without match (default primary)
  --gateway-route KIND/NAME   follow this HTTPRoute or GRPCRoute instead (e.g. HTTPRoute/storefront);
                              counted as Contour's Envoy counts, per Service
  --stable-image IMAGE        pods running it are played by v1 (default ${STOREFRONT.stableImage})
  --canary-image IMAGE        pods running it, or any other image, by v2 (default ${STOREFRONT.canaryImage})
  --stable-error-rate R       share of 5xx from v1, 0..1 (default 0)
  --stable-latency-ms L       v1 latency, MEDIAN or MEDIAN:P99 (default 20:80)
  --canary-error-rate R       share of 5xx from v2, 0..1 (default: as stable)
  --canary-latency-ms L       v2 latency (default: as stable)
  --seed N                    PRNG seed (default 1)
  --max-duration SECONDS      stop after this long (default 3600)
  --metrics-port N            port of /metrics (default: a free one)
  --kubeconfig FILE           default: the local stack's
  --targets-dir DIR           Prometheus file-SD directory (default: the local stack's)`;

/** A route selector from the command line: NAME, #N (an index) or `default`. */
export function parseRoute(text: string): RouteSelector {
  if (text === 'default') return { default: true };
  const index = /^#(\d+)$/.exec(text);
  if (index) return { index: Number(index[1]) };
  if (text === '' || text.startsWith('#')) throw new Error(`--route must be a route name, #N or default; got ${JSON.stringify(text)}`);
  return { name: text };
}

/** A Gateway API route from the command line: HTTPRoute/NAME or GRPCRoute/NAME. */
export function parseGatewayRoute(text: string): { kind: GatewayRouteKind; name: string } {
  const m = /^([A-Za-z]+)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m || !(GATEWAY_ROUTE_KINDS as readonly string[]).includes(m[1]!)) {
    throw new Error(`--gateway-route must be ${GATEWAY_ROUTE_KINDS.map((k) => `${k}/NAME`).join(' or ')}; got ${JSON.stringify(text)}`);
  }
  return { kind: m[1] as GatewayRouteKind, name: m[2]! };
}

/** The options a command line asks for; throws with a message naming the bad flag. */
export function parseTrafficArgs(argv: string[]): MushopTrafficOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      namespace: { type: 'string' },
      rps: { type: 'string' },
      route: { type: 'string' },
      'gateway-route': { type: 'string' },
      'stable-image': { type: 'string' },
      'canary-image': { type: 'string' },
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
  if (values.route !== undefined && values['gateway-route'] !== undefined) throw new Error('--route picks a VirtualService route; --gateway-route follows a Gateway API route instead: give one of them');
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
    route: values.route === undefined ? undefined : parseRoute(values.route),
    ...(values['gateway-route'] === undefined ? {} : { gatewayRoute: parseGatewayRoute(values['gateway-route']) }),
    stableImage: values['stable-image'],
    canaryImage: values['canary-image'],
    stable: behaviour('stable'),
    canary: behaviour('canary'),
    seed: values.seed === undefined ? undefined : parseNumber(values.seed, '--seed', 0, 2 ** 32 - 1),
    maxDurationMs: values['max-duration'] === undefined ? undefined : parseNumber(values['max-duration'], '--max-duration', 1, 86_400) * 1000,
    metricsPort: values['metrics-port'] === undefined ? undefined : parseNumber(values['metrics-port'], '--metrics-port', 0, 65_535),
    kubeconfig: values.kubeconfig,
    targetsDir: values['targets-dir'],
  };
}

/**
 * One line summarising the traffic: the route's weights, then per workload its share and 5xx
 * (since `prev` when given, else in all), and requests that found no endpoint.
 */
export function formatStats(s: TrafficStats, prev?: TrafficStats): string {
  const weights = s.entries.map((e) => `${e.rule === undefined ? '' : `${e.rule}: `}${e.host}${e.subset ? `/${e.subset}` : ''} ${e.weight}`).join(', ');
  const { requests, byKey } = sharesBetween(prev, s);
  const parts = Object.entries(s.workloads).filter(([name]) => byKey[name]!.sent > 0 || s.workloads[name]!.expectedShare > 0).map(([name, w]) => {
    const p = prev?.workloads[name];
    const errors = w.errors - (p?.errors ?? 0);
    const completed = w.completed - (p?.completed ?? 0);
    return `${name}: ${(byKey[name]!.share * 100).toFixed(0)}% (expected ${(w.expectedShare * 100).toFixed(0)}%), 5xx ${errors}/${completed}`;
  });
  const noEndpoint = s.entries.filter((e) => e.noEndpointReason).map((e) => `${e.host}${e.subset ? `/${e.subset}` : ''}: ${e.noEndpointReason}`);
  return [
    `${(s.elapsedMs / 1000).toFixed(0)}s  [${weights}]  ${requests} requests${prev ? ' lately' : ''}`,
    ...parts,
    ...(noEndpoint.length > 0 ? [`no endpoint: ${noEndpoint.join('; ')}`] : []),
    ...(s.lastError ? [`(${s.lastError})`] : []),
  ].join('  |  ');
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
    `v1 (pods running ${opts.stableImage ?? STOREFRONT.stableImage})  ${stable.url}  errors ${stable.behaviour().errorRate}, latency ${JSON.stringify(stable.behaviour().latencyMs)}`,
    `v2 (pods running any other image)  ${canary.url}  errors ${canary.behaviour().errorRate}, latency ${JSON.stringify(canary.behaviour().latencyMs)}`,
    `metrics  ${generator.metricsUrl}  (Prometheus target file ${generator.targetFile})`,
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
