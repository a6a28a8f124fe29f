/**
 * The traffic generator plays the Istio sidecars of a mesh that KWOK cannot run. It follows one
 * HTTP route of a VirtualService in the real apiserver (a watch, plus a periodic re-read in case
 * the watch stalls; on errors it keeps the last weights it knew), sends `rps` requests a second
 * to the local demo service versions in the proportions that route's weights give, and counts
 * every answer the way the destination sidecar would: `istio_requests_total` and
 * `istio_request_duration_milliseconds` per workload, with Istio's label names and default
 * buckets. The real Prometheus scrapes them through a file-SD target file.
 *
 * Like real Istio metrics, a series appears with its first request: a workload that got no
 * traffic has no series, so queries about it answer "no data" rather than 0.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { listenOnLoopback, seededRandom } from './demo-service';

const ISTIO = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' } as const;

/**
 * Istio's default buckets for `istio_request_duration_milliseconds` (Envoy's default histogram
 * buckets, in ms): 0.5 ms to one hour.
 */
export const ISTIO_DURATION_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** The `source_workload` label on every series: who sends the requests. */
export const SOURCE_WORKLOAD = 'ramp-traffic';

/** Which route entries a destination serves: `destination.host` (short or FQDN) and `subset`. */
export interface DestinationMatch {
  host: string;
  /** Omit for an entry without subset (service routing). */
  subset?: string;
}

/** One version behind the route: where its requests go and which workload its metrics name. */
export interface TrafficDestination {
  match: DestinationMatch;
  /** `destination_workload` of its series, e.g. storefront-original-canary. */
  workload: string;
  /** The demo service version to call; must be http://127.0.0.1:PORT/… */
  url: string;
}

export interface TrafficGeneratorOptions {
  /** Path of a kubeconfig, or a loaded one. */
  kubeconfig: string | k8s.KubeConfig;
  /** Namespace of the VirtualService and of the workloads. */
  namespace: string;
  /** Name of the VirtualService to follow. */
  virtualService: string;
  /** Name of the HTTP route in it whose weights split the traffic. */
  route: string;
  /** The versions behind the route. */
  destinations: TrafficDestination[];
  /** Requests per second over all destinations. */
  rps: number;
  /** Prometheus' file-SD directory; the target file goes there. */
  targetsDir: string;
  /** Port of /metrics on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Seed of the PRNG that picks each request's destination. Default 1. */
  seed?: number;
  /** The generator stops itself after this long, ms. Default one hour. */
  maxDurationMs?: number;
  /** A request without an answer after this long counts as an upstream timeout (504), ms. Default 10 s. */
  requestTimeoutMs?: number;
  /** How often the VirtualService is re-read besides the watch, ms. Default 2 s. */
  resyncMs?: number;
  /** Where weight changes and errors are reported, one line each. Default: nowhere. */
  log?: (line: string) => void;
}

/** One entry of the followed route, as last read. */
export interface WeightEntry {
  host: string;
  subset?: string;
  /** Percent of the route's traffic. */
  weight: number;
  /** The destination's workload; undefined when no destination matches the entry. */
  workload?: string;
}

/** What one workload got so far. */
export interface WorkloadStats {
  /** Requests sent to it. */
  sent: number;
  /** Requests answered (or failed) so far. */
  completed: number;
  /** Completed requests with a 5xx code. */
  errors: number;
  /** Completed requests by response code. */
  byCode: Record<string, number>;
  /** Its share of all requests sent to a workload, 0..1: the observed split. */
  share: number;
  /** Percent of the route its entry currently has, 0 when absent. */
  weight: number;
}

export interface TrafficStats {
  /** Milliseconds since start. */
  elapsedMs: number;
  /** Requests sent to a workload. */
  sent: number;
  /** Requests in flight. */
  inFlight: number;
  /** Requests the weights sent to a route entry no destination serves (not sent). */
  unmatched: number;
  /** Requests not sent because all weights were 0, too many were in flight, or the generator fell behind. */
  skipped: number;
  /** The followed route's entries, as last read. */
  weights: WeightEntry[];
  /** resourceVersion of the VirtualService the weights come from. */
  resourceVersion?: string;
  /** How many times the weights changed since start (the first read counts). */
  weightChanges: number;
  /** The last error reading the VirtualService, if the last read failed. */
  lastError?: string;
  /** Per workload, every destination listed. */
  workloads: Record<string, WorkloadStats>;
  /** Why it stopped, once it has. */
  stopped?: StopReason;
}

/** Why a generator stopped: stop() was called, or the maximum duration passed. */
export type StopReason = 'stopped' | 'max-duration';

export interface TrafficGenerator {
  /** Where Prometheus scrapes, e.g. http://127.0.0.1:40123/metrics. */
  metricsUrl: string;
  /** The file-SD target file written at start. */
  targetFile: string;
  /** Counts so far. */
  stats(): TrafficStats;
  /** Stops sending, removes the target file, waits briefly for requests in flight, closes /metrics. */
  stop(): Promise<void>;
  /** Resolves once it has stopped, by stop() or after the maximum duration. */
  done: Promise<StopReason>;
}

/** Thrown when the generator's options are wrong or the followed route cannot be read at start. */
export class TrafficGeneratorError extends Error {
  override name = 'TrafficGeneratorError';
}

// ---- pure parts ----

/** The host without the namespace's cluster-local suffix, so short names and FQDNs compare equal. */
export function shortHost(host: string, namespace: string): string {
  for (const suffix of [`.${namespace}.svc.cluster.local`, `.${namespace}.svc`, `.${namespace}`]) {
    if (host.endsWith(suffix)) return host.slice(0, -suffix.length);
  }
  return host;
}

interface RouteLike {
  name?: unknown;
  route?: { destination?: { host?: unknown; subset?: unknown }; weight?: unknown }[];
}

/**
 * The weighted entries of HTTP route `route` of a VirtualService. An entry without weight has
 * 100 when it is the only one and 0 otherwise (Istio requires weights once there are several).
 * Throws a TrafficGeneratorError when the route does not exist or is not a weighted route.
 */
export function routeEntries(vs: unknown, route: string): { host: string; subset?: string; weight: number }[] {
  const http = (vs as { spec?: { http?: RouteLike[] } } | undefined)?.spec?.http;
  const found = Array.isArray(http) ? http.find((r) => r.name === route) : undefined;
  if (!found) {
    const names = Array.isArray(http) ? http.map((r) => (typeof r.name === 'string' ? r.name : '(unnamed)')).join(', ') : '';
    throw new TrafficGeneratorError(`it has no HTTP route named "${route}" (routes: ${names || 'none'})`);
  }
  if (!Array.isArray(found.route) || found.route.length === 0) {
    throw new TrafficGeneratorError(`its route "${route}" has no destinations (a redirect or direct response?)`);
  }
  const only = found.route.length === 1;
  return found.route.map((entry) => {
    const host = entry.destination?.host;
    if (typeof host !== 'string') throw new TrafficGeneratorError(`its route "${route}" has an entry without destination.host`);
    const subset = typeof entry.destination?.subset === 'string' ? entry.destination.subset : undefined;
    const weight = typeof entry.weight === 'number' ? entry.weight : only ? 100 : 0;
    return subset === undefined ? { host, weight } : { host, subset, weight };
  });
}

/** Index of the destination serving a route entry, or -1. */
export function matchDestination(entry: { host: string; subset?: string }, destinations: readonly TrafficDestination[], namespace: string): number {
  const host = shortHost(entry.host, namespace);
  return destinations.findIndex((d) => shortHost(d.match.host, namespace) === host && d.match.subset === entry.subset);
}

/** Picks an entry index by weight with one uniform draw u in [0, 1); -1 when all weights are 0. */
export function pickByWeight(weights: readonly number[], u: number): number {
  const total = weights.reduce((a, w) => a + Math.max(0, w), 0);
  if (total <= 0) return -1;
  let x = u * total;
  for (let i = 0; i < weights.length; i++) {
    const w = Math.max(0, weights[i]!);
    if (x < w) return i;
    x -= w;
  }
  return weights.findLastIndex((w) => w > 0);
}

/** A label value in the text exposition format: backslash, double quote and newline escaped. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderLabels(labels: Readonly<Record<string, string>>, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return `{${pairs.join(',')}}`;
}

/** One label set's counter and histogram. */
export interface IstioSeries {
  labels: Readonly<Record<string, string>>;
  /** istio_requests_total. */
  requests: number;
  /** Non-cumulative count per bucket of ISTIO_DURATION_BUCKETS_MS, then one for above the last. */
  buckets: number[];
  /** Sum of durations, ms. */
  sumMs: number;
}

/** The Prometheus text exposition (format 0.0.4) of Istio's request count and duration metrics. */
export function renderIstioMetrics(series: readonly IstioSeries[]): string {
  const out: string[] = [
    '# HELP istio_requests_total Requests handled, as counted by the destination sidecar (played by the Ramp traffic generator).',
    '# TYPE istio_requests_total counter',
  ];
  for (const s of series) out.push(`istio_requests_total${renderLabels(s.labels)} ${s.requests}`);
  out.push(
    '# HELP istio_request_duration_milliseconds Request duration as seen by the destination sidecar (played by the Ramp traffic generator).',
    '# TYPE istio_request_duration_milliseconds histogram',
  );
  for (const s of series) {
    let cumulative = 0;
    ISTIO_DURATION_BUCKETS_MS.forEach((le, i) => {
      cumulative += s.buckets[i]!;
      out.push(`istio_request_duration_milliseconds_bucket${renderLabels(s.labels, ['le', String(le)])} ${cumulative}`);
    });
    out.push(`istio_request_duration_milliseconds_bucket${renderLabels(s.labels, ['le', '+Inf'])} ${s.requests}`);
    out.push(`istio_request_duration_milliseconds_sum${renderLabels(s.labels)} ${s.sumMs}`);
    out.push(`istio_request_duration_milliseconds_count${renderLabels(s.labels)} ${s.requests}`);
  }
  return out.join('\n') + '\n';
}

/** The bucket index of a duration: the first bucket whose upper bound is at least it. */
function bucketIndex(ms: number): number {
  const i = ISTIO_DURATION_BUCKETS_MS.findIndex((le) => ms <= le);
  return i === -1 ? ISTIO_DURATION_BUCKETS_MS.length : i;
}

/** A short description of a Kubernetes client error: status code and the apiserver's message. */
function describeError(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    let message = '';
    try {
      message = (JSON.parse(String(err.body)) as { message?: string }).message ?? '';
    } catch {
      // the body was not a Status object
    }
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function validate(opts: TrafficGeneratorOptions): void {
  const problems: string[] = [];
  if (!(opts.rps > 0 && opts.rps <= 5000)) problems.push(`rps must be above 0 and at most 5000, got ${opts.rps}`);
  if (!opts.namespace) problems.push('namespace is required');
  if (!opts.virtualService) problems.push('virtualService is required');
  if (!opts.route) problems.push('route is required');
  if (opts.destinations.length === 0) problems.push('destinations must list at least one version');
  const seen = new Set<string>();
  for (const d of opts.destinations) {
    const key = `${shortHost(d.match.host, opts.namespace)}/${d.match.subset ?? ''}`;
    if (seen.has(key)) problems.push(`two destinations match host ${d.match.host}${d.match.subset ? ` subset ${d.match.subset}` : ''}`);
    seen.add(key);
    if (!d.workload) problems.push(`the destination for ${d.match.host} needs a workload name`);
    let url: URL | undefined;
    try {
      url = new URL(d.url);
    } catch {
      problems.push(`destination ${d.workload}: url ${JSON.stringify(d.url)} is not a URL`);
    }
    // The generator is a local stand-in for sidecars: it never sends traffic anywhere else.
    if (url && (url.protocol !== 'http:' || url.hostname !== '127.0.0.1')) {
      problems.push(`destination ${d.workload}: url ${d.url} must be http://127.0.0.1:PORT/…`);
    }
  }
  if (opts.maxDurationMs !== undefined && !(opts.maxDurationMs > 0)) problems.push(`maxDurationMs must be above 0, got ${opts.maxDurationMs}`);
  if (!fs.existsSync(opts.targetsDir)) problems.push(`targetsDir ${opts.targetsDir} does not exist (is the local stack up? \`npm run stack -- status\`)`);
  if (problems.length > 0) throw new TrafficGeneratorError(`traffic generator: ${problems.join('; ')}`);
}

// ---- the generator ----

/**
 * Starts following the route and sending traffic. Resolves once the route has been read and the
 * target file is written; rejects with a TrafficGeneratorError when the options are wrong or the
 * VirtualService or its route cannot be read.
 */
export async function startTrafficGenerator(opts: TrafficGeneratorOptions): Promise<TrafficGenerator> {
  validate(opts);
  const { namespace, virtualService, route, destinations, rps } = opts;
  const log = opts.log ?? (() => undefined);
  const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
  const maxInFlight = Math.max(64, Math.ceil(rps * 10));
  const kc = typeof opts.kubeconfig === 'string' ? loadKubeConfig(opts.kubeconfig) : opts.kubeconfig;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const vsName = `VirtualService ${namespace}/${virtualService}`;
  const random = seededRandom(opts.seed ?? 1);
  const startedAt = performance.now();

  // ---- weights ----
  let entries: WeightEntry[] = [];
  let entryDestination: number[] = [];
  let resourceVersion: string | undefined;
  let weightChanges = 0;
  let lastError: string | undefined;

  const describeWeights = () => entries.map((e) => `${e.workload ?? `${e.host}${e.subset ? `/${e.subset}` : ''} (no destination)`} ${e.weight}%`).join(', ');

  const recordError = (message: string) => {
    if (message !== lastError) log(`${vsName}: ${message}; keeping the last weights (${describeWeights() || 'none yet'})`);
    lastError = message;
  };

  /** Takes the weights from a VirtualService read or watched; false when it was older or unusable. */
  const applyVirtualService = (vs: unknown): boolean => {
    const rv = (vs as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    // A read that raced with a watch event may bring an older version; resourceVersions are etcd revisions.
    if (rv !== undefined && resourceVersion !== undefined && /^\d+$/.test(rv) && /^\d+$/.test(resourceVersion) && BigInt(rv) < BigInt(resourceVersion)) {
      return false;
    }
    let next: { host: string; subset?: string; weight: number }[];
    try {
      next = routeEntries(vs, route);
    } catch (err) {
      recordError((err as Error).message);
      return false;
    }
    resourceVersion = rv;
    lastError = undefined;
    const indices = next.map((e) => matchDestination(e, destinations, namespace));
    const nextEntries = next.map((e, i) => ({ ...e, workload: indices[i]! >= 0 ? destinations[indices[i]!]!.workload : undefined }));
    if (JSON.stringify(nextEntries) !== JSON.stringify(entries)) {
      entries = nextEntries;
      entryDestination = indices;
      weightChanges++;
      log(`${vsName} route ${route}: ${describeWeights()} (resourceVersion ${rv ?? '?'})`);
    }
    return true;
  };

  const readVirtualService = () => custom.getNamespacedCustomObject({ ...ISTIO, namespace, name: virtualService }) as Promise<unknown>;

  try {
    const first = await readVirtualService();
    routeEntries(first, route);
    applyVirtualService(first);
  } catch (err) {
    throw new TrafficGeneratorError(`traffic generator: cannot follow route "${route}" of ${vsName}: ${describeError(err)}`);
  }

  // ---- metrics ----
  const series = new Map<string, IstioSeries>();
  const workloads: Record<string, Omit<WorkloadStats, 'share' | 'weight'>> = {};
  for (const d of destinations) workloads[d.workload] = { sent: 0, completed: 0, errors: 0, byCode: {} };
  let sent = 0;
  let inFlight = 0;
  let unmatched = 0;
  let skipped = 0;

  const record = (d: TrafficDestination, code: number, flags: string, durationMs: number) => {
    const key = `${d.workload}\u0000${code}\u0000${flags}`;
    let s = series.get(key);
    if (!s) {
      const service = shortHost(d.match.host, namespace);
      s = {
        labels: {
          reporter: 'destination',
          source_workload: SOURCE_WORKLOAD,
          source_workload_namespace: namespace,
          destination_workload: d.workload,
          destination_workload_namespace: namespace,
          destination_service: `${service}.${namespace}.svc.cluster.local`,
          destination_service_name: service,
          destination_service_namespace: namespace,
          request_protocol: 'http',
          response_code: String(code),
          response_flags: flags,
        },
        requests: 0,
        buckets: new Array<number>(ISTIO_DURATION_BUCKETS_MS.length + 1).fill(0),
        sumMs: 0,
      };
      series.set(key, s);
    }
    s.requests++;
    s.buckets[bucketIndex(durationMs)]!++;
    s.sumMs += durationMs;
    const w = workloads[d.workload]!;
    w.completed++;
    w.byCode[String(code)] = (w.byCode[String(code)] ?? 0) + 1;
    if (code >= 500) w.errors++;
  };

  // ---- requests ----
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });

  const send = (d: TrafficDestination) => {
    sent++;
    inFlight++;
    workloads[d.workload]!.sent++;
    const t0 = performance.now();
    let finished = false;
    // Codes and flags an Envoy sidecar reports when the upstream fails rather than answers.
    const finish = (code: number, flags: string) => {
      if (finished) return;
      finished = true;
      inFlight--;
      record(d, code, flags, performance.now() - t0);
    };
    const req = http.get(d.url, { agent, timeout: requestTimeoutMs }, (res) => {
      res.on('error', () => finish(503, 'UC'));
      res.on('end', () => finish(res.statusCode ?? 503, '-'));
      // After 'end' this is a no-op; without it, a response cut short without an error would never count.
      res.on('close', () => finish(503, 'UC'));
      res.resume();
    });
    req.on('timeout', () => {
      finish(504, 'UT');
      req.destroy();
    });
    req.on('error', () => finish(503, 'UF'));
  };

  const dispatchOne = () => {
    const i = pickByWeight(entries.map((e) => e.weight), random());
    if (i < 0 || inFlight >= maxInFlight) {
      skipped++;
      return;
    }
    const d = entryDestination[i]!;
    if (d < 0) {
      unmatched++;
      return;
    }
    send(destinations[d]!);
  };

  // Requests are due at an even pace from a baseline; after a stall of over a second the
  // missed ones are skipped rather than sent in a burst.
  let baseline = performance.now();
  let sinceBaseline = 0;
  const tickMs = Math.max(5, Math.min(50, 1000 / rps));
  const dispatchTimer = setInterval(() => {
    const now = performance.now();
    let due = Math.floor(((now - baseline) * rps) / 1000) - sinceBaseline;
    if (due > rps) {
      skipped += due;
      baseline = now;
      sinceBaseline = 0;
      due = 0;
    }
    for (let i = 0; i < due; i++) {
      sinceBaseline++;
      dispatchOne();
    }
  }, tickMs);

  // ---- /metrics and the target file ----
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      const body = renderIstioMetrics([...series.values()]);
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('only GET /metrics here\n');
    }
  });
  const targetFile = path.join(opts.targetsDir, `traffic-${namespace}.json`);
  const stopCtl = new AbortController();
  try {
    const port = await listenOnLoopback(server, opts.port);
    // Written aside and renamed, so Prometheus never reads half a file; the temporary name does not match *.json.
    const tmp = path.join(opts.targetsDir, `.traffic-${namespace}.json.tmp`);
    fs.writeFileSync(tmp, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { ramp_traffic: namespace } }], null, 2) + '\n');
    fs.renameSync(tmp, targetFile);
  } catch (err) {
    clearInterval(dispatchTimer);
    agent.destroy();
    server.close();
    throw new TrafficGeneratorError(`traffic generator: cannot serve /metrics or write ${targetFile}: ${(err as Error).message}`);
  }
  const metricsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

  // ---- following the VirtualService ----
  const pause = (ms: number) => new Promise<void>((resolve) => {
    if (stopCtl.signal.aborted) return resolve();
    const onStop = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      stopCtl.signal.removeEventListener('abort', onStop);
      resolve();
    }, ms);
    stopCtl.signal.addEventListener('abort', onStop, { once: true });
  });

  let resyncing = false;
  const resync = () => {
    if (resyncing || stopCtl.signal.aborted) return;
    resyncing = true;
    readVirtualService()
      .then((vs) => applyVirtualService(vs), (err: unknown) => recordError(`read failed: ${describeError(err)}`))
      .finally(() => {
        resyncing = false;
      });
  };
  const resyncTimer = setInterval(resync, opts.resyncMs ?? 2_000);

  const watcher = new k8s.Watch(kc);
  let watchAbort: AbortController | undefined;
  const watchOnce = () => new Promise<void>((resolve) => {
    watcher
      .watch(
        `/apis/${ISTIO.group}/${ISTIO.version}/namespaces/${encodeURIComponent(namespace)}/${ISTIO.plural}`,
        { fieldSelector: `metadata.name=${virtualService}`, resourceVersion, allowWatchBookmarks: true },
        (phase: string, obj: unknown) => {
          if (phase === 'ADDED' || phase === 'MODIFIED') applyVirtualService(obj);
          else if (phase === 'DELETED') recordError('it was deleted');
          else if (phase === 'ERROR') recordError(`watch error: ${(obj as { message?: string } | undefined)?.message ?? 'unknown'}`);
          else if (phase === 'BOOKMARK') {
            const rv = (obj as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
            if (rv) resourceVersion = rv;
          }
        },
        (err: unknown) => {
          if (err && !stopCtl.signal.aborted) recordError(`watch ended: ${describeError(err)}`);
          resolve();
        },
      )
      .then((ctl) => {
        watchAbort = ctl;
        if (stopCtl.signal.aborted) ctl.abort();
      }, (err: unknown) => {
        recordError(`watch failed: ${describeError(err)}`);
        resolve();
      });
  });
  const followLoop = async () => {
    while (!stopCtl.signal.aborted) {
      await watchOnce();
      if (stopCtl.signal.aborted) return;
      // The watch ended (server timeout, expired resourceVersion, error): read afresh, then watch again.
      await pause(500);
      try {
        applyVirtualService(await readVirtualService());
      } catch (err) {
        recordError(`read failed: ${describeError(err)}`);
      }
    }
  };
  void followLoop();

  // ---- stopping ----
  let stopReason: StopReason | undefined;
  let resolveDone!: (reason: StopReason) => void;
  const done = new Promise<StopReason>((r) => {
    resolveDone = r;
  });
  let stopping: Promise<void> | undefined;
  const stopWith = (reason: StopReason): Promise<void> => {
    stopping ??= (async () => {
      stopReason = reason;
      stopCtl.abort();
      clearInterval(dispatchTimer);
      clearInterval(resyncTimer);
      clearTimeout(maxTimer);
      watchAbort?.abort();
      fs.rmSync(targetFile, { force: true });
      // Let requests in flight finish so their answers are counted, but not for long.
      const deadline = performance.now() + 2_000;
      while (inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      agent.destroy();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      log(`traffic generator for ${namespace} stopped (${reason}) after ${sent} requests`);
      resolveDone(reason);
    })();
    return stopping;
  };
  const maxDurationMs = opts.maxDurationMs ?? 3_600_000;
  const maxTimer = setTimeout(() => {
    log(`traffic generator for ${namespace}: maximum duration of ${Math.round(maxDurationMs / 1000)}s reached`);
    void stopWith('max-duration');
  }, maxDurationMs);

  return {
    metricsUrl,
    targetFile,
    done,
    stop: () => stopWith('stopped'),
    stats() {
      const toWorkloads = sent;
      const out: Record<string, WorkloadStats> = {};
      for (const [name, w] of Object.entries(workloads)) {
        const weight = entries.filter((e) => e.workload === name).reduce((a, e) => a + e.weight, 0);
        out[name] = { ...w, byCode: { ...w.byCode }, share: toWorkloads > 0 ? w.sent / toWorkloads : 0, weight };
      }
      return {
        elapsedMs: performance.now() - startedAt,
        sent,
        inFlight,
        unmatched,
        skipped,
        weights: entries.map((e) => ({ ...e })),
        resourceVersion,
        weightChanges,
        lastError,
        workloads: out,
        stopped: stopReason,
      };
    },
  };
}

function loadKubeConfig(file: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new TrafficGeneratorError(`traffic generator: cannot load kubeconfig ${file}: ${(err as Error).message}`);
  }
  return kc;
}
