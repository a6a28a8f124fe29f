/**
 * The traffic generator plays the Istio sidecars of a mesh that KWOK cannot run. It follows a
 * VirtualService in the real apiserver and routes each request as a sidecar would: the first http
 * entry that matches the request (the followed route, whose weights Ramp sets, is the one its stats
 * report), a destination picked by weight, its host's Service, that Service's ready endpoints from
 * its EndpointSlices, narrowed to the entry's DestinationRule subset, one pod picked (see
 * mesh.ts). The pod's container image chooses which local demo service answers; the pod's
 * workload, version and revision label the metrics. So what the cluster really selects is what
 * gets traffic: a Service that also selects the canary's pods sends it traffic at weight 0, a
 * subset that selects no ready pod answers 503.
 *
 * It reads the VirtualService, the DestinationRules, EndpointSlices and Pods of one namespace by
 * watches plus a periodic full re-read (in case a watch stalls); on errors it keeps the last state
 * it knew. Every answer is counted as the destination sidecar would: `istio_requests_total` and
 * `istio_request_duration_milliseconds` with Istio's label names and default buckets, served on
 * /metrics for the real Prometheus (a file-SD target file). A request with no endpoint is a 503
 * reported by the source, as Envoy does, with `destination_workload="unknown"`.
 *
 * Like real Istio metrics, a series appears with its first request: a workload that got no
 * traffic has no series, so queries about it answer "no data" rather than 0.
 *
 * Pointed at a Gateway API HTTPRoute or GRPCRoute instead (`gatewayRoute`), it plays the gateway:
 * each request of `requests` picks its rule by the route's matches (gateway-routes.ts), the rule's
 * backendRef weights pick a Service of the namespace, and that Service's ready endpoints a pod.
 * Those requests are counted as Contour's Envoy counts them, per upstream cluster
 * `<namespace>_<service>_<port>` (`envoy_cluster_upstream_rq…`), with no Istio series.
 *
 * Requests (`requests`) carry headers, query parameters and cookies, and each comes from one of
 * `clients` simulated clients with a cookie jar: a VirtualService's http entries are matched in
 * order as Istio does (istio-routes.ts), so a header route before the followed one takes the
 * requests it matches. A route's mirror (Istio `mirror` + `mirrorPercentage`, Gateway API
 * `RequestMirror`) sends a copy of that share of its requests to the mirror's pods: the copy is
 * counted where the real proxies count it (Istio: the destination sidecar's
 * `istio_requests_total`, indistinguishable from user traffic and with no source-side series;
 * Contour: the mirror Service's cluster stats), its response discarded, and the stats keep it
 * apart from user-facing requests (`mirrored`). A destination's Set-Cookie response header
 * operation (Istio `headers.response`, Gateway API `ResponseHeaderModifier`) lands in the client's
 * jar, which sends it on later requests: sticky sessions can be watched per client.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { applySetCookie, jarCookies, type CookieJar } from './cookies';
import { listenOnLoopback, seededRandom } from './demo-service';
import { newClusterSeries, newSeries, observe, observeCluster, renderEnvoyClusterMetrics, renderIstioMetrics, type ClusterSeries, type IstioSeries } from './exposition';
import {
  contourClusterName, GATEWAY_ROUTE_KINDS, GATEWAY_ROUTE_PLURALS, GatewayRouteError, gatewayRules, matchRule,
  type GatewayRequest, type GatewayRouteKind,
} from './gateway-routes';
import { httpRoutes, matchHttpRoute, mirrorChosen, type IstioHttpRoute } from './istio-routes';
import {
  describeRouteSelector, expectedShares, findRoute, pickByWeight, pickUniform, resolveEntry, RouteError, routeEntries, toRouteSelector, UNKNOWN,
  type DestinationRuleLike, type Endpoint, type EndpointSliceLike, type PodLike, type Resolution, type RouteEntry, type RouteSelector,
} from './mesh';
import { ObjectCache, type CachedObject } from './object-cache';

export { ISTIO_DURATION_BUCKETS_MS } from './exposition';
export type { RouteSelector } from './mesh';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;
const GATEWAY_API = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;

/** The `source_workload` label on every series: who sends the requests. */
export const SOURCE_WORKLOAD = 'ramp-traffic';

export interface TrafficGeneratorOptions {
  /** Path of a kubeconfig, or a loaded one. */
  kubeconfig: string | k8s.KubeConfig;
  /** Namespace of the VirtualService or Gateway API route and of everything it routes to. */
  namespace: string;
  /** Name of the VirtualService to follow; give it or `gatewayRoute`. */
  virtualService?: string;
  /**
   * With `virtualService`: its HTTP route whose weights split the traffic, reported in `entries`:
   * a name, `{ index }`, or `{ default: true }` (the first without match). Every http entry is
   * matched per request; a request no entry matches is `unmatched` (Istio's 404).
   */
  route?: string | RouteSelector;
  /** The HTTPRoute or GRPCRoute to follow instead of a VirtualService: every rule, matched per request as the gateway would. */
  gatewayRoute?: { kind: GatewayRouteKind; name: string };
  /**
   * The requests sent, each picked with its `weight`'s share (default 1); the route's matches
   * choose their rule (Gateway API) or http entry (Istio). gRPC requests have the path
   * `/<service>/<method>`. Default: `GET /`.
   */
  requests?: readonly (GatewayRequest & { weight?: number })[];
  /** How many simulated clients send the requests, each with its own cookie jar; each request comes from one picked uniformly. Default 1. */
  clients?: number;
  /** Which demo service plays a pod, by container image: image → http://127.0.0.1:PORT/… */
  images: Readonly<Record<string, string>>;
  /** The demo service for pods whose images `images` does not list; without it they answer 503 (UF). */
  defaultUrl?: string;
  /** The pod label whose value is `destination_version`. Default `version`. */
  versionLabel?: string;
  /** Requests per second over all destinations. */
  rps: number;
  /** Prometheus' file-SD directory; the target file goes there. */
  targetsDir: string;
  /** Port of /metrics on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Seed of the PRNG that picks each request's route entry and pod. Default 1. */
  seed?: number;
  /** The generator stops itself after this long, ms. Default one hour. */
  maxDurationMs?: number;
  /** A request without an answer after this long counts as an upstream timeout (504), ms. Default 10 s. */
  requestTimeoutMs?: number;
  /** How often every object is re-read besides the watches, ms. Default 2 s. */
  resyncMs?: number;
  /** Where routing changes and errors are reported, one line each. Default: nowhere. */
  log?: (line: string) => void;
}

/** A pod of a route entry, as last resolved. */
export interface EndpointStats {
  pod: string;
  workload: string;
  version: string;
  image: string;
}

/** One entry of the followed route, as last read and resolved, with what it got. */
export interface EntryStats {
  /** With a Gateway API route: the rule the entry belongs to (its name, or `#<index>`). */
  rule?: string;
  /** With a Gateway API route: the backendRef's port, and Contour's stat name of its cluster. */
  port?: number;
  cluster?: string;
  /** With a Gateway API route: why the backendRef is invalid (its requests are answered 500). */
  invalid?: string;
  host: string;
  subset?: string;
  /** Its weight: a share of the sum of the route's weights. */
  weight: number;
  /** The FQDN its host means. */
  fqdn: string;
  /** The Service its host names, if any. */
  service?: string;
  /** The ready pods that answer its requests now. */
  endpoints: EndpointStats[];
  /** Why it has no endpoint, when it has none. */
  noEndpointReason?: string;
  /** Set-Cookie values its responses carry. */
  setCookies?: string[];
  /** Requests the weights gave it. */
  picked: number;
  /** Of those, answered 503 because it had no ready endpoint. */
  noEndpoint: number;
}

/** Requests and their outcomes. */
export interface RequestCounts {
  /** Requests sent. */
  sent: number;
  /** Requests answered (or failed) so far. */
  completed: number;
  /** Completed requests with a 5xx code. */
  errors: number;
  /** Completed requests by response code. */
  byCode: Record<string, number>;
}

/** What one simulated client sent and who answered it. */
export interface ClientStats {
  /** User-facing requests it sent. */
  requests: number;
  /** Of those, how many each workload answered ("unknown": no pod could). */
  byWorkload: Record<string, number>;
  /** Of those, how many each Service (route host or backendRef) took. */
  byService: Record<string, number>;
  /** The cookies in its jar now. */
  cookies: Record<string, string>;
}

/** What one workload or image got so far. */
export interface VersionStats {
  /** Mirrored copies it served: never a user-facing answer, and not in the other counts. */
  mirrored: RequestCounts;
  /** User-facing requests sent to it (for "unknown": requests no pod could take). */
  sent: number;
  /** Requests answered (or failed) so far. */
  completed: number;
  /** Completed requests with a 5xx code. */
  errors: number;
  /** Completed requests by response code. */
  byCode: Record<string, number>;
  /** Its share of all requests routed, 0..1: the observed split. */
  share: number;
  /** The share the current route and endpoints give it, 0..1. */
  expectedShare: number;
}

export interface TrafficStats {
  /** Milliseconds since start. */
  elapsedMs: number;
  /** Requests routed: sent to a pod, or answered 503 for want of one. */
  requests: number;
  /** Requests sent to a pod. */
  sent: number;
  /** Requests in flight. */
  inFlight: number;
  /** Requests answered 503 because their route entry had no ready endpoint. */
  noEndpoint: number;
  /** Requests not sent because all weights were 0, too many were in flight, or the generator fell behind. */
  skipped: number;
  /** Requests no route entry matched (the proxy answers 404), or whose entry has no destination. */
  unmatched: number;
  /** Mirrored copies sent to a pod (not in `requests` or `sent`). */
  mirrored: number;
  /** Mirrored copies dropped because the mirror destination had no ready endpoint (the proxy drops them silently). */
  mirrorNoEndpoint: number;
  /** Per simulated client, in order. */
  clients: ClientStats[];
  /** Per request of `requests`, in order: how many were routed and which workloads answered them. */
  byRequest: { requests: number; byWorkload: Record<string, number> }[];
  /** Which route is followed, e.g. `route "primary"` or `HTTPRoute web`. */
  route: string;
  /** The VirtualService's hosts (a Gateway API route's hostnames), as last read. */
  hosts: string[];
  /** The followed route's entries, as last read and resolved. */
  entries: EntryStats[];
  /** resourceVersion of the VirtualService the weights come from. */
  resourceVersion?: string;
  /** How many times the weights changed since start (the first read counts). */
  weightChanges: number;
  /** How many times the routing table (weights or endpoints) changed since start. */
  tableChanges: number;
  /** What is wrong now: the route unreadable or gone, or a read failing. */
  lastError?: string;
  /** By `destination_workload`, "unknown" for requests without endpoint. */
  workloads: Record<string, VersionStats>;
  /** By the image of the pod that answered. */
  images: Record<string, VersionStats>;
  /** By the Service the route entry names (a Gateway API route's backendRef). */
  services: Record<string, VersionStats>;
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

/** Thrown when the generator's options are wrong or what it follows cannot be read at start. */
export class TrafficGeneratorError extends Error {
  override name = 'TrafficGeneratorError';
}

/** Each key's requests and share between two stats of one generator: the recent split. */
export function sharesBetween(prev: TrafficStats | undefined, now: TrafficStats, by: 'workloads' | 'images' | 'services' = 'workloads'): { requests: number; byKey: Record<string, { sent: number; share: number }> } {
  const requests = now.requests - (prev?.requests ?? 0);
  const byKey: Record<string, { sent: number; share: number }> = {};
  for (const [key, v] of Object.entries(now[by])) {
    const sent = v.sent - (prev?.[by][key]?.sent ?? 0);
    byKey[key] = { sent, share: requests > 0 ? sent / requests : 0 };
  }
  return { requests, byKey };
}

// ---- helpers ----

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

function checkUrl(what: string, url: string, problems: string[]): void {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    problems.push(`${what}: ${JSON.stringify(url)} is not a URL`);
    return;
  }
  // The generator is a local stand-in for sidecars: it never sends traffic anywhere else.
  if (u.protocol !== 'http:' || u.hostname !== '127.0.0.1') problems.push(`${what}: ${url} must be http://127.0.0.1:PORT/…`);
}

function validate(opts: TrafficGeneratorOptions): void {
  const problems: string[] = [];
  if (!(opts.rps > 0 && opts.rps <= 5000)) problems.push(`rps must be above 0 and at most 5000, got ${opts.rps}`);
  if (!opts.namespace) problems.push('namespace is required');
  if ((opts.virtualService === undefined) === (opts.gatewayRoute === undefined)) problems.push('give virtualService (with route) or gatewayRoute, not both');
  if (opts.virtualService !== undefined) {
    if (!opts.virtualService) problems.push('virtualService must not be empty');
    if (opts.route === undefined) problems.push('route is required with virtualService');
    const route = toRouteSelector(opts.route ?? '');
    if ('name' in route && !route.name) problems.push('route needs a name');
    if ('index' in route && !(Number.isInteger(route.index) && route.index >= 0)) problems.push(`route index must be an integer from 0, got ${route.index}`);
  }
  if (opts.gatewayRoute !== undefined) {
    if (!(GATEWAY_ROUTE_KINDS as readonly string[]).includes(opts.gatewayRoute.kind)) problems.push(`gatewayRoute.kind must be ${GATEWAY_ROUTE_KINDS.join(' or ')}, got ${JSON.stringify(opts.gatewayRoute.kind)}`);
    if (!opts.gatewayRoute.name) problems.push('gatewayRoute.name is required');
  }
  for (const [i, r] of (opts.requests ?? []).entries()) {
    if (!r.path.startsWith('/')) problems.push(`requests[${i}].path must start with "/", got ${JSON.stringify(r.path)}`);
    if (r.weight !== undefined && !(r.weight >= 0)) problems.push(`requests[${i}].weight must be 0 or more, got ${r.weight}`);
  }
  if (opts.requests !== undefined && !opts.requests.some((r) => (r.weight ?? 1) > 0)) problems.push('requests must hold at least one request with a weight above 0');
  if (opts.clients !== undefined && !(Number.isInteger(opts.clients) && opts.clients >= 1 && opts.clients <= 10_000)) problems.push(`clients must be an integer from 1 to 10000, got ${opts.clients}`);
  if (Object.keys(opts.images).length === 0 && opts.defaultUrl === undefined) problems.push('images must map at least one image to a demo service, or defaultUrl be set');
  for (const [image, url] of Object.entries(opts.images)) checkUrl(`image ${image}`, url, problems);
  if (opts.defaultUrl !== undefined) checkUrl('defaultUrl', opts.defaultUrl, problems);
  if (opts.versionLabel !== undefined && !opts.versionLabel) problems.push('versionLabel must not be empty');
  if (opts.maxDurationMs !== undefined && !(opts.maxDurationMs > 0)) problems.push(`maxDurationMs must be above 0, got ${opts.maxDurationMs}`);
  if (!fs.existsSync(opts.targetsDir)) problems.push(`targetsDir ${opts.targetsDir} does not exist (is the local stack up? \`npm run stack -- status\`)`);
  if (problems.length > 0) throw new TrafficGeneratorError(`traffic generator: ${problems.join('; ')}`);
}

/** One kind of object the generator follows: how to list it, where to watch it, and what it knows. */
interface Source {
  kind: string;
  cache: ObjectCache<CachedObject>;
  list(): Promise<{ items: CachedObject[]; resourceVersion?: string }>;
  watchPath: string;
  fieldSelector?: string;
  /** The last list or watch failure, cleared by the next good list. */
  error?: string;
  listing: boolean;
}

/** A route entry with its resolution and counters; counters survive re-resolution by entry key. */
interface TableEntry extends RouteEntry, Resolution {
  key: string;
  /** With a Gateway API route: the index and label of the entry's rule, its port, cluster and invalidity. */
  rule?: number;
  ruleLabel?: string;
  port?: number;
  cluster?: string;
  invalid?: string;
  setCookies?: string[];
}

/** A mirror destination with its resolution and the share of requests it copies. */
interface MirrorEntry extends TableEntry {
  /** 0..100. */
  percent: number;
}

/** What one VirtualService http entry or Gateway API rule does with a request it takes. */
interface RouteGroup {
  entries: TableEntry[];
  mirrors: MirrorEntry[];
}

interface ClientState {
  jar: CookieJar;
  requests: number;
  byWorkload: Map<string, number>;
  byService: Map<string, number>;
}

interface EntryCounters {
  picked: number;
  noEndpoint: number;
}

type Counts = RequestCounts;

/** User-facing counts with the mirrored copies kept apart. */
interface VersionCounts extends Counts {
  mirrored: Counts;
}

const newPlainCounts = (): Counts => ({ sent: 0, completed: 0, errors: 0, byCode: {} });
const newCounts = (): VersionCounts => ({ ...newPlainCounts(), mirrored: newPlainCounts() });
const copyCounts = (c: Counts): Counts => ({ ...c, byCode: { ...c.byCode } });
const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);

function count(c: Counts, code: number): void {
  c.completed++;
  c.byCode[String(code)] = (c.byCode[String(code)] ?? 0) + 1;
  if (code >= 500) c.errors++;
}

function describeTable(table: readonly TableEntry[], prefix = ''): string {
  return table.map((t) => {
    const share = 'percent' in t ? `${(t as MirrorEntry).percent} %` : String(t.weight);
    const dest = `${prefix}${t.ruleLabel === undefined ? '' : `rule ${t.ruleLabel}: `}${t.host}${t.subset ? `/${t.subset}` : ''}${t.port === undefined ? '' : `:${t.port}`} ${share}`;
    if (t.invalid) return `${dest} → invalid (${t.invalid})`;
    if (t.none) return `${dest} → no endpoint (${t.none.problem})`;
    const byWorkload = new Map<string, number>();
    for (const e of t.endpoints) {
      const k = `${e.workload} (${e.version}, ${e.image})`;
      byWorkload.set(k, (byWorkload.get(k) ?? 0) + 1);
    }
    return `${dest} → ${[...byWorkload].map(([k, n]) => `${n}× ${k}`).join(' + ')}`;
  }).join('; ');
}

// ---- the generator ----

/**
 * Starts following the route and sending traffic. Resolves once the route and the namespace's
 * objects have been read and the target file is written; rejects with a TrafficGeneratorError when
 * the options are wrong or the VirtualService, its route or the other objects cannot be read.
 */
export async function startTrafficGenerator(opts: TrafficGeneratorOptions): Promise<TrafficGenerator> {
  validate(opts);
  const { namespace, rps } = opts;
  const gateway = opts.gatewayRoute;
  // Exactly one of the two is set (validate).
  const followed = gateway?.name ?? opts.virtualService!;
  const selector = toRouteSelector(opts.route ?? { default: true });
  const routeName = gateway ? `${gateway.kind} ${gateway.name}` : describeRouteSelector(selector);
  const requestMix = opts.requests ?? [{ path: '/' }];
  /** Per request of the mix: routed requests by the workload that answered ("requests" under the empty key). */
  const byRequest = requestMix.map(() => new Map<string, number>());
  const clients: ClientState[] = Array.from({ length: opts.clients ?? 1 }, () => ({ jar: new Map(), requests: 0, byWorkload: new Map(), byService: new Map() }));
  const endpointOpts = { versionKey: opts.versionLabel ?? 'version', images: opts.images, defaultUrl: opts.defaultUrl };
  const log = opts.log ?? (() => undefined);
  const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
  const maxInFlight = Math.max(64, Math.ceil(rps * 10));
  const kc = typeof opts.kubeconfig === 'string' ? loadKubeConfig(opts.kubeconfig) : opts.kubeconfig;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const vsName = gateway ? `${gateway.kind} ${namespace}/${gateway.name}` : `VirtualService ${namespace}/${followed}`;
  const random = seededRandom(opts.seed ?? 1);
  const startedAt = performance.now();
  const ns = encodeURIComponent(namespace);

  const asList = (l: { items: unknown[]; metadata?: { resourceVersion?: string } }) => ({ items: l.items as CachedObject[], resourceVersion: l.metadata?.resourceVersion });
  const customList = (api: { group: string; version: string }, plural: string, fieldSelector?: string) => async () =>
    asList((await custom.listNamespacedCustomObject({ ...api, namespace, plural, fieldSelector })) as { items: unknown[]; metadata?: { resourceVersion?: string } });
  const nameSelector = `metadata.name=${followed}`;
  const source = (kind: string, list: Source['list'], watchPath: string, fieldSelector?: string): Source =>
    ({ kind, cache: new ObjectCache<CachedObject>(), list, watchPath, fieldSelector, listing: false });
  const customSource = (kind: string, api: { group: string; version: string }, plural: string, fieldSelector?: string) =>
    source(kind, customList(api, plural, fieldSelector), `/apis/${api.group}/${api.version}/namespaces/${ns}/${plural}`, fieldSelector);
  // The object whose weights split the traffic; DestinationRules matter only to Istio's subsets.
  const vsSource = gateway
    ? customSource(gateway.kind, GATEWAY_API, GATEWAY_ROUTE_PLURALS[gateway.kind], nameSelector)
    : customSource('VirtualService', ISTIO, 'virtualservices', nameSelector);
  const drSource = gateway ? undefined : customSource('DestinationRule', ISTIO, 'destinationrules');
  const sliceSource = source('EndpointSlice', async () => asList(await discovery.listNamespacedEndpointSlice({ namespace })), `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`);
  const podSource = source('Pod', async () => asList(await core.listNamespacedPod({ namespace })), `/api/v1/namespaces/${ns}/pods`);
  const sources = drSource ? [vsSource, drSource, sliceSource, podSource] : [vsSource, sliceSource, podSource];

  // ---- the routing table ----
  let dirty = true;
  let table: TableEntry[] = [];
  /** With a Gateway API route: the route as last read usable (its matches pick each request's rule). */
  let gatewayObject: unknown;
  /** With a VirtualService: its http entries as last read usable (their matches pick each request's entry). */
  let vsRoutes: IstioHttpRoute[] = [];
  let vsMatches: { match?: unknown }[] = [];
  /** Per Gateway API rule or VirtualService http entry, in order: its resolved destinations and mirrors. */
  let groups: RouteGroup[] = [];
  let entriesJson = '';
  let tableText = '';
  let hosts: string[] = [];
  let resourceVersion: string | undefined;
  let routeProblem: string | undefined;
  let followedIndex = -1;
  let weightChanges = 0;
  let tableChanges = 0;
  const entryCounters = new Map<string, EntryCounters>();

  const currentError = (): string | undefined => {
    const problems = [
      ...(routeProblem ? [`${vsName}: ${routeProblem}`] : []),
      ...sources.filter((s) => s.error).map((s) => `${s.kind}s: ${s.error}`),
    ];
    return problems.length > 0 ? problems.join('; ') : undefined;
  };
  let loggedError: string | undefined;
  const reportErrors = () => {
    const e = currentError();
    if (e !== undefined && e !== loggedError) log(`${e}; routing on the last known state (${tableText || 'none yet'})`);
    loggedError = e;
  };

  /** Re-reads the route and resolves every entry; keeps the last weights when the route is gone or unusable. */
  const rebuild = () => {
    dirty = false;
    if (gateway) {
      rebuildGateway(gateway.kind);
      return;
    }
    const vs = vsSource.cache.get(followed);
    if (vs === undefined) {
      routeProblem = 'it does not exist (deleted?)';
    } else {
      try {
        // The followed route must be a weighted route; the others only need to be readable.
        routeEntries(vs, selector);
        const routes = httpRoutes(vs);
        routeProblem = undefined;
        vsRoutes = routes;
        vsMatches = (vs as { spec?: { http?: { match?: unknown }[] } }).spec?.http ?? [];
        followedIndex = findRoute(vsMatches, selector);
        resourceVersion = vs.metadata?.resourceVersion;
        const h = (vs as { spec?: { hosts?: unknown } }).spec?.hosts;
        hosts = Array.isArray(h) ? h.filter((x): x is string => typeof x === 'string') : [];
      } catch (err) {
        if (!(err instanceof RouteError)) throw err;
        routeProblem = err.message;
      }
    }
    // On a problem the last usable entries stay, resolved against the endpoints as they are now.
    const pods = new Map(podSource.cache.values().map((p) => [p.metadata?.name ?? '', p as PodLike]));
    const state = { namespace, rules: (drSource?.cache.values() ?? []) as DestinationRuleLike[], slices: sliceSource.cache.values() as EndpointSliceLike[], pods };
    groups = vsRoutes.map((r, i) => {
      // The followed route's counters survive entries added before it; another entry's are its own.
      const prefix = i === followedIndex ? '' : `${r.label}\u0000`;
      const entries = r.destinations.map((d): TableEntry => ({ ...d, ...resolveEntry(d, state, endpointOpts), key: `${prefix}${d.host}\u0000${d.subset ?? ''}` }));
      const mirrors = r.mirror === undefined ? [] : [{
        host: r.mirror.host, ...(r.mirror.subset === undefined ? {} : { subset: r.mirror.subset }), weight: 0, percent: r.mirror.percent,
        ...resolveEntry(r.mirror, state, endpointOpts), key: `mirror\u0000${r.label}`,
      }];
      return { entries, mirrors };
    });
    table = groups[followedIndex]?.entries ?? [];
    noteTable(JSON.stringify(vsRoutes), `${vsName} ${routeName}`);
  };

  /** Counts a change of weights (`json`) or of the routing table, and logs the table once per change. */
  const noteTable = (json: string, what: string) => {
    if (json !== entriesJson) {
      entriesJson = json;
      weightChanges++;
    }
    // Besides the followed route: a VirtualService's other http entries, and every mirror.
    const others = gateway ? [] : groups.flatMap((g, i) => (i === followedIndex ? [] : [describeTable(g.entries, `route ${vsRoutes[i]?.label ?? `#${i}`}: `)]));
    const mirrors = groups.flatMap((g, i) => (g.mirrors.length === 0 ? [] : [describeTable(g.mirrors, `mirror of ${gateway ? '' : `route ${vsRoutes[i]?.label ?? `#${i}`}: `}`)]));
    const text = [describeTable(table), ...others, ...mirrors].filter((x) => x !== '').join('; ');
    if (text !== tableText) {
      tableText = text;
      tableChanges++;
      log(`${what}: ${text} (resourceVersion ${resourceVersion ?? '?'})`);
    }
    reportErrors();
  };

  /** As rebuild, for a Gateway API route: every rule's backendRefs, each a Service of the namespace resolved to its ready endpoints. */
  const rebuildGateway = (kind: GatewayRouteKind) => {
    const route = vsSource.cache.get(followed);
    if (route === undefined) {
      routeProblem = 'it does not exist (deleted?)';
    } else {
      try {
        const rules = gatewayRules(route, namespace);
        routeProblem = undefined;
        gatewayObject = route;
        resourceVersion = route.metadata?.resourceVersion;
        const h = (route as { spec?: { hostnames?: unknown } }).spec?.hostnames;
        hosts = Array.isArray(h) ? h.filter((x): x is string => typeof x === 'string') : [];
        const pods = new Map(podSource.cache.values().map((p) => [p.metadata?.name ?? '', p as PodLike]));
        const state = { namespace, rules: [], slices: sliceSource.cache.values() as EndpointSliceLike[], pods };
        groups = rules.map((rule) => ({
          entries: rule.backends.map((b): TableEntry => {
            const base = {
              host: b.service, weight: b.weight, rule: rule.index, ruleLabel: rule.label, key: `${rule.index}\u0000${b.service}\u0000${b.port ?? ''}`,
              ...(b.setCookies === undefined ? {} : { setCookies: b.setCookies }),
            };
            const port = b.port === undefined ? {} : { port: b.port, cluster: contourClusterName(namespace, b.service, b.port) };
            if (b.invalid !== undefined) return { ...base, ...port, invalid: b.invalid, fqdn: b.service, endpoints: [] };
            const resolved = resolveEntry({ host: b.service }, state, endpointOpts);
            // A Service that does not exist makes the ref invalid (500, no cluster); one without ready endpoints is Envoy's 503.
            if (resolved.none?.flag === 'NC') return { ...base, ...port, ...resolved, invalid: `backendRef ${b.service}: ${resolved.none.problem}` };
            return { ...base, ...port, ...resolved };
          }),
          mirrors: rule.mirrors.map((m, j): MirrorEntry => ({
            host: m.service, weight: 0, percent: m.percent, rule: rule.index, ruleLabel: rule.label, key: `mirror\u0000${rule.index}\u0000${j}`,
            ...(m.port === undefined ? {} : { port: m.port, cluster: contourClusterName(namespace, m.service, m.port) }),
            ...resolveEntry({ host: m.service }, state, endpointOpts),
          })),
        }));
      } catch (err) {
        if (!(err instanceof GatewayRouteError)) throw err;
        routeProblem = err.message;
      }
    }
    table = groups.flatMap((g) => g.entries);
    noteTable(JSON.stringify(groups.map((g) => [g.entries.map((t) => [t.rule, t.host, t.port, t.weight, t.setCookies]), g.mirrors.map((m) => [m.host, m.port, m.percent])])), `${kind} ${namespace}/${followed}`);
  };

  const relist = async (s: Source): Promise<void> => {
    if (s.listing) return;
    s.listing = true;
    try {
      const { items, resourceVersion: rv } = await s.list();
      s.error = undefined;
      if (s.cache.applyList(items, rv)) dirty = true;
    } finally {
      s.listing = false;
    }
  };

  for (const s of sources) {
    try {
      await relist(s);
    } catch (err) {
      throw new TrafficGeneratorError(`traffic generator: cannot read the ${s.kind}s of namespace ${namespace}: ${describeError(err)}`);
    }
  }
  try {
    if (!vsSource.cache.get(followed)) throw new Error('not found');
    if (gateway) gatewayRules(vsSource.cache.get(followed), namespace);
    else routeEntries(vsSource.cache.get(followed), selector);
  } catch (err) {
    throw new TrafficGeneratorError(`traffic generator: cannot follow ${routeName} of ${vsName}: ${describeError(err)}`);
  }
  rebuild();

  // ---- metrics ----
  const series = new Map<string, IstioSeries>();
  const clusters = new Map<string, ClusterSeries>();
  const workloads = new Map<string, VersionCounts>();
  const images = new Map<string, VersionCounts>();
  const services = new Map<string, VersionCounts>();
  const countsOf = (m: Map<string, VersionCounts>, key: string) => {
    let c = m.get(key);
    if (!c) m.set(key, (c = newCounts()));
    return c;
  };
  let requests = 0;
  let sent = 0;
  let inFlight = 0;
  let noEndpoint = 0;
  let skipped = 0;
  let unmatched = 0;
  let mirrored = 0;
  let mirrorNoEndpoint = 0;

  const observeSeries = (labels: Record<string, string>, durationMs: number) => {
    const key = Object.values(labels).join('\u0000');
    let s = series.get(key);
    if (!s) series.set(key, (s = newSeries(labels)));
    observe(s, durationMs);
  };

  const destinationLabels = (t: TableEntry, e: Endpoint, code: number, flags: string): Record<string, string> => ({
    reporter: 'destination',
    source_workload: SOURCE_WORKLOAD,
    source_workload_namespace: namespace,
    destination_workload: e.workload,
    destination_workload_namespace: namespace,
    destination_version: e.version,
    destination_canonical_service: e.canonicalService,
    destination_canonical_revision: e.revision,
    destination_service: t.fqdn,
    destination_service_name: t.service ?? t.host,
    destination_service_namespace: namespace,
    request_protocol: 'http',
    response_code: String(code),
    response_flags: flags,
  });

  // Without an upstream there is no destination sidecar: Envoy's source reporter counts the 503.
  const noEndpointLabels = (t: TableEntry): Record<string, string> => ({
    reporter: 'source',
    source_workload: SOURCE_WORKLOAD,
    source_workload_namespace: namespace,
    destination_workload: UNKNOWN,
    destination_workload_namespace: UNKNOWN,
    destination_version: UNKNOWN,
    destination_canonical_service: UNKNOWN,
    destination_canonical_revision: UNKNOWN,
    destination_service: t.fqdn,
    destination_service_name: t.service ?? t.host,
    destination_service_namespace: t.service === undefined ? UNKNOWN : namespace,
    request_protocol: 'http',
    response_code: '503',
    response_flags: t.none?.flag ?? 'UH',
  });

  // A Gateway API route's requests are counted by the gateway's Envoy, per upstream cluster (Contour's stat names).
  const observeClusterOf = (t: TableEntry, code: number, durationMs: number | undefined) => {
    if (t.cluster === undefined) return;
    let c = clusters.get(t.cluster);
    if (!c) clusters.set(t.cluster, (c = newClusterSeries(t.cluster)));
    observeCluster(c, code, durationMs);
  };

  /** The counts of a request's workload, image and Service: the user-facing ones, or those of mirrored copies. */
  const countsFor = (t: TableEntry, e: Endpoint, mirror: boolean): Counts[] => {
    const all = [countsOf(workloads, e.workload), countsOf(images, e.image), countsOf(services, t.service ?? t.host)];
    return mirror ? all.map((c) => c.mirrored) : all;
  };

  // A mirrored copy is counted exactly as a user-facing request by the proxy that serves it: Istio's
  // destination sidecar and Contour's mirror cluster do not tell them apart (and Istio's source side never sees the copy).
  const record = (t: TableEntry, e: Endpoint, code: number, flags: string, durationMs: number, mirror: boolean) => {
    if (gateway) observeClusterOf(t, code, durationMs);
    else observeSeries(destinationLabels(t, e, code, flags), durationMs);
    for (const c of countsFor(t, e, mirror)) count(c, code);
  };

  // ---- requests ----
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
  const unplayed = new Set<string>();

  /** Sends a request to a pod: a user-facing one from `client`, or (without client) a mirrored copy whose response is discarded. */
  const send = (t: TableEntry, e: Endpoint, client: ClientState | undefined) => {
    const mirror = client === undefined;
    if (mirror) mirrored++;
    else sent++;
    inFlight++;
    for (const c of countsFor(t, e, mirror)) c.sent++;
    const t0 = performance.now();
    let finished = false;
    // Codes and flags an Envoy sidecar reports when the upstream fails rather than answers.
    const finish = (code: number, flags: string) => {
      if (finished) return;
      finished = true;
      inFlight--;
      record(t, e, code, flags, performance.now() - t0, mirror);
      // The proxy adds the destination's response headers to what the pod answered; the client's jar keeps the cookies.
      if (client !== undefined && flags === '-') for (const c of t.setCookies ?? []) applySetCookie(client.jar, c, performance.now());
    };
    if (e.url === undefined) {
      if (!unplayed.has(e.image)) log(`pod ${e.pod} (${e.workload}) runs image ${e.image}, which no demo service plays: its requests fail (503 UF)`);
      unplayed.add(e.image);
      finish(503, 'UF');
      return;
    }
    const req = http.get(e.url, { agent, timeout: requestTimeoutMs }, (res) => {
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

  const countersOf = (key: string) => {
    let c = entryCounters.get(key);
    if (!c) entryCounters.set(key, (c = { picked: 0, noEndpoint: 0 }));
    return c;
  };

  /** The rule or http entry that takes a request, or undefined when none matches. */
  const groupFor = (req: GatewayRequest): RouteGroup | undefined => {
    const i = gateway
      ? (gatewayObject === undefined ? -1 : matchRule(gatewayObject, gateway.kind, req))
      : matchHttpRoute(vsMatches, req);
    return i < 0 ? undefined : groups[i];
  };

  // Draws are made only where there is a choice, so a seed picks the same routes as before clients and mixes existed.
  const nextRequest = (): { req: GatewayRequest; client: ClientState; kind: Map<string, number> } => {
    const k = gateway || requestMix.length > 1 ? pickByWeight(requestMix.map((r) => r.weight ?? 1), random()) : 0;
    const mix = requestMix[k]!;
    const client = clients.length > 1 ? clients[pickUniform(clients.length, random())]! : clients[0]!;
    const cookies = { ...(mix.cookies ?? {}), ...jarCookies(client.jar, performance.now()) };
    return { req: Object.keys(cookies).length > 0 ? { ...mix, cookies } : mix, client, kind: byRequest[k]! };
  };

  /** Sends each mirror of the group its copy, with its percentage's probability. */
  const mirrorOf = (group: RouteGroup) => {
    for (const m of group.mirrors) {
      if (!mirrorChosen(m.percent, random())) continue;
      // Envoy sends a shadow and forgets it: with no endpoint there is nothing to count.
      if (m.endpoints.length === 0 || m.invalid !== undefined) mirrorNoEndpoint++;
      else send(m, m.endpoints[pickUniform(m.endpoints.length, random())]!, undefined);
    }
  };

  const dispatchOne = () => {
    const { req, client, kind } = nextRequest();
    const group = groupFor(req);
    if (group === undefined || group.entries.length === 0) {
      // No entry takes the request, or it has no destination: the proxy answers itself, and no upstream counts it.
      requests++;
      unmatched++;
      return;
    }
    const entries = group.entries;
    const i = pickByWeight(entries.map((t) => t.weight), random());
    if (i < 0 || inFlight >= maxInFlight) {
      skipped++;
      return;
    }
    const t = entries[i]!;
    const c = countersOf(t.key);
    c.picked++;
    requests++;
    client.requests++;
    bump(kind, '');
    bump(client.byService, t.service ?? t.host);
    mirrorOf(group);
    if (t.endpoints.length === 0) {
      bump(client.byWorkload, UNKNOWN);
      bump(kind, UNKNOWN);
      c.noEndpoint++;
      noEndpoint++;
      const w = countsOf(workloads, UNKNOWN);
      w.sent++;
      // Gateway API: a request for an invalid backendRef gets 500; one for a Service without ready endpoints, Envoy's 503.
      const code = t.invalid ? 500 : 503;
      count(w, code);
      const svc = countsOf(services, t.service ?? t.host);
      svc.sent++;
      count(svc, code);
      if (!gateway) observeSeries(noEndpointLabels(t), 0);
      else if (!t.invalid) observeClusterOf(t, 503, undefined);
      return;
    }
    const e = t.endpoints[pickUniform(t.endpoints.length, random())]!;
    bump(client.byWorkload, e.workload);
    bump(kind, e.workload);
    send(t, e, client);
  };

  // Requests are due at an even pace from a baseline; after a stall of over a second the
  // missed ones are skipped rather than sent in a burst.
  let baseline = performance.now();
  let sinceBaseline = 0;
  const tickMs = Math.max(5, Math.min(50, 1000 / rps));
  const dispatchTimer = setInterval(() => {
    if (dirty) rebuild();
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
      const body = gateway ? renderEnvoyClusterMetrics([...clusters.values()]) : renderIstioMetrics([...series.values()]);
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

  // ---- following the namespace ----
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

  const failed = (s: Source, message: string) => {
    s.error = message;
    reportErrors();
  };
  const relistQuietly = (s: Source) => relist(s).then(() => {
    if (dirty) rebuild();
    else reportErrors();
  }, (err: unknown) => failed(s, `read failed: ${describeError(err)}`));

  const resyncTimer = setInterval(() => {
    if (!stopCtl.signal.aborted) for (const s of sources) void relistQuietly(s);
  }, opts.resyncMs ?? 2_000);

  const watcher = new k8s.Watch(kc);
  const watchAborts = new Set<AbortController>();
  const watchOnce = (s: Source) => new Promise<void>((resolve) => {
    let ctl: AbortController | undefined;
    const ended = () => {
      if (ctl) watchAborts.delete(ctl);
      resolve();
    };
    watcher
      .watch(
        s.watchPath,
        { ...(s.fieldSelector ? { fieldSelector: s.fieldSelector } : {}), resourceVersion: s.cache.resourceVersion, allowWatchBookmarks: true },
        (phase: string, obj: unknown) => {
          if (phase === 'ERROR') {
            failed(s, `watch error: ${(obj as { message?: string } | undefined)?.message ?? 'unknown'}`);
          } else if (s.cache.applyEvent(phase, obj as CachedObject)) {
            dirty = true;
          }
        },
        (err: unknown) => {
          if (err && !stopCtl.signal.aborted) failed(s, `watch ended: ${describeError(err)}`);
          ended();
        },
      )
      .then((c) => {
        ctl = c;
        watchAborts.add(c);
        if (stopCtl.signal.aborted) c.abort();
      }, (err: unknown) => {
        failed(s, `watch failed: ${describeError(err)}`);
        ended();
      });
  });
  const followLoop = async (s: Source) => {
    while (!stopCtl.signal.aborted) {
      await watchOnce(s);
      if (stopCtl.signal.aborted) return;
      // The watch ended (server timeout, expired resourceVersion, error): read afresh, then watch again.
      await pause(500);
      if (!stopCtl.signal.aborted) await relistQuietly(s);
    }
  };
  for (const s of sources) void followLoop(s);

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
      for (const c of watchAborts) c.abort();
      fs.rmSync(targetFile, { force: true });
      // Let requests in flight finish so their answers are counted, but not for long.
      const deadline = performance.now() + 2_000;
      while (inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      agent.destroy();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      log(`traffic generator for ${namespace} stopped (${reason}) after ${requests} requests`);
      resolveDone(reason);
    })();
    return stopping;
  };
  const maxDurationMs = opts.maxDurationMs ?? 3_600_000;
  const maxTimer = setTimeout(() => {
    log(`traffic generator for ${namespace}: maximum duration of ${Math.round(maxDurationMs / 1000)}s reached`);
    void stopWith('max-duration');
  }, maxDurationMs);

  /**
   * The entries with the weight that gives each its expected share of all requests: the route's
   * weights for a VirtualService; for a Gateway API route, each request's share times its rule's
   * weight share (requests no rule matches have no entry).
   */
  const shareTable = (): { weight: number; endpoints: readonly Endpoint[]; service?: string; host: string }[] => {
    const totalMix = requestMix.reduce((a, r) => a + (r.weight ?? 1), 0);
    const out = new Map<TableEntry, number>();
    // Cookies in client jars are left out: the expectation is for a client's first request.
    for (const req of requestMix) {
      const entries = groupFor(req)?.entries ?? [];
      const sum = entries.reduce((a, t) => a + Math.max(0, t.weight), 0);
      if (sum <= 0) continue;
      for (const t of entries) out.set(t, (out.get(t) ?? 0) + ((req.weight ?? 1) / totalMix) * (Math.max(0, t.weight) / sum));
    }
    return [...out].map(([t, weight]) => ({ weight, endpoints: t.endpoints, service: t.service, host: t.host }));
  };

  const serviceShares = (): Record<string, number> => {
    const rows = shareTable();
    const total = rows.reduce((a, t) => a + t.weight, 0);
    const out: Record<string, number> = {};
    for (const t of rows) if (total > 0 && t.weight > 0) out[t.service ?? t.host] = (out[t.service ?? t.host] ?? 0) + t.weight / total;
    return out;
  };

  const versionStats = (m: Map<string, VersionCounts>, expected: Record<string, number>): Record<string, VersionStats> => {
    const out: Record<string, VersionStats> = {};
    for (const key of new Set([...m.keys(), ...Object.keys(expected)])) {
      const c = m.get(key) ?? newCounts();
      out[key] = { ...copyCounts(c), mirrored: copyCounts(c.mirrored), share: requests > 0 ? c.sent / requests : 0, expectedShare: expected[key] ?? 0 };
    }
    return out;
  };

  return {
    metricsUrl,
    targetFile,
    done,
    stop: () => stopWith('stopped'),
    stats() {
      if (dirty && !stopReason) rebuild();
      return {
        elapsedMs: performance.now() - startedAt,
        requests,
        sent,
        inFlight,
        noEndpoint,
        skipped,
        unmatched,
        mirrored,
        mirrorNoEndpoint,
        clients: clients.map((c) => ({
          requests: c.requests,
          byWorkload: Object.fromEntries(c.byWorkload),
          byService: Object.fromEntries(c.byService),
          cookies: jarCookies(c.jar, performance.now()),
        })),
        byRequest: byRequest.map((m) => ({ requests: m.get('') ?? 0, byWorkload: Object.fromEntries([...m].filter(([k]) => k !== '')) })),
        route: routeName,
        hosts: [...hosts],
        entries: table.map((t) => {
          const c = entryCounters.get(t.key) ?? { picked: 0, noEndpoint: 0 };
          return {
            ...(t.ruleLabel === undefined ? {} : { rule: t.ruleLabel }),
            ...(t.port === undefined ? {} : { port: t.port }),
            ...(t.cluster === undefined ? {} : { cluster: t.cluster }),
            ...(t.invalid === undefined ? {} : { invalid: t.invalid }),
            host: t.host,
            ...(t.subset === undefined ? {} : { subset: t.subset }),
            weight: t.weight,
            fqdn: t.fqdn,
            ...(t.service === undefined ? {} : { service: t.service }),
            endpoints: t.endpoints.map((e) => ({ pod: e.pod, workload: e.workload, version: e.version, image: e.image })),
            ...(t.none ? { noEndpointReason: t.none.problem } : {}),
            ...(t.setCookies === undefined ? {} : { setCookies: [...t.setCookies] }),
            picked: c.picked,
            noEndpoint: c.noEndpoint,
          };
        }),
        resourceVersion,
        weightChanges,
        tableChanges,
        lastError: currentError(),
        workloads: versionStats(workloads, expectedShares(shareTable(), (e) => e.workload)),
        images: versionStats(images, Object.fromEntries(Object.entries(expectedShares(shareTable(), (e) => e.image)).filter(([k]) => k !== UNKNOWN))),
        services: versionStats(services, serviceShares()),
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
