/**
 * How an Istio sidecar turns a VirtualService route into a pod, as pure functions over the objects
 * the traffic generator reads: the route entry picked by weight names a host; the host names a
 * Service (Istio's short-name rule); the Service's ready endpoints come from its EndpointSlices;
 * an entry's subset (from the DestinationRules for that Service) narrows them by pod labels; one
 * endpoint is picked; its pod decides the demo behaviour (by container image) and the workload,
 * version and revision its metrics name.
 *
 * Objects are read through narrow local types so these functions can be table-tested without a
 * cluster; only the fields used here are declared.
 */

/** The cluster domain of Service FQDNs (Istio's default, and the local stack's). */
export const CLUSTER_DOMAIN = 'cluster.local';

/** The pod label that overrides Istio's workload name for a pod. */
export const WORKLOAD_NAME_LABEL = 'service.istio.io/workload-name';
/** The pod label Istio reads first for a workload's canonical revision. */
export const CANONICAL_REVISION_LABEL = 'service.istio.io/canonical-revision';
/** The pod label Istio reads first for a workload's canonical service. */
export const CANONICAL_NAME_LABEL = 'service.istio.io/canonical-name';
/** The label EndpointSlice controllers put on each slice: the name of its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The `destination_workload` of requests no pod answered. */
export const UNKNOWN = 'unknown';

export interface OwnerReferenceLike {
  kind?: string;
  name?: string;
  controller?: boolean;
}

export interface ObjectMetaLike {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string | Date;
  generateName?: string;
  labels?: Record<string, string>;
  ownerReferences?: OwnerReferenceLike[];
}

export interface PodLike {
  metadata?: ObjectMetaLike;
  spec?: { containers?: { name?: string; image?: string }[] };
}

export interface EndpointLike {
  conditions?: { ready?: boolean | null };
  targetRef?: { kind?: string; name?: string; uid?: string };
}

export interface EndpointSliceLike {
  metadata?: ObjectMetaLike;
  endpoints?: EndpointLike[] | null;
}

export interface SubsetLike {
  name?: string;
  labels?: Record<string, string>;
}

export interface DestinationRuleLike {
  metadata?: ObjectMetaLike;
  spec?: { host?: string; subsets?: SubsetLike[] };
}

// ---- hosts ----

/**
 * The FQDN a VirtualService or DestinationRule host means, by Istio's rule
 * (pilot `ResolveShortnameToFQDN`): a name without a dot is a Service of the object's namespace;
 * a name with a dot is taken as written. So `name.ns` and `name.ns.svc` are not Service names to
 * Istio (no Service's hostname is written that way) and route nowhere.
 */
export function resolveHost(host: string, namespace: string, domain = CLUSTER_DOMAIN): string {
  if (host === '*' || host.includes('.')) return host;
  return `${host}.${namespace}.svc.${domain}`;
}

/** The name of the Service of `namespace` that `host` (resolved as Istio does) names, or undefined. */
export function serviceOfHost(host: string, namespace: string, domain = CLUSTER_DOMAIN): string | undefined {
  const suffix = `.${namespace}.svc.${domain}`;
  const fqdn = resolveHost(host, namespace, domain);
  if (!fqdn.endsWith(suffix)) return undefined;
  const name = fqdn.slice(0, -suffix.length);
  return name !== '' && !name.includes('.') ? name : undefined;
}

// ---- labels and subsets ----

/** Whether every label of `selector` is on `labels` with the same value (an empty selector selects all). */
export function matchesLabels(labels: Readonly<Record<string, string>> | undefined, selector: Readonly<Record<string, string>> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

function creationKey(meta: ObjectMetaLike | undefined): string {
  const t = meta?.creationTimestamp;
  return t instanceof Date ? t.toISOString() : (t ?? '');
}

/**
 * The subsets the DestinationRules of `namespace` define for the Service with FQDN `fqdn`, by
 * name. Several rules for one host are merged as Istio merges them: oldest first, and a subset
 * name defined twice keeps its first definition.
 */
export function subsetsFor(fqdn: string, rules: readonly DestinationRuleLike[], namespace: string, domain = CLUSTER_DOMAIN): Map<string, Record<string, string>> {
  const matching = rules
    .filter((r) => typeof r.spec?.host === 'string' && resolveHost(r.spec.host, namespace, domain) === fqdn)
    .sort((a, b) => creationKey(a.metadata).localeCompare(creationKey(b.metadata)) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const out = new Map<string, Record<string, string>>();
  for (const rule of matching) {
    for (const s of rule.spec?.subsets ?? []) {
      if (typeof s.name === 'string' && !out.has(s.name)) out.set(s.name, { ...(s.labels ?? {}) });
    }
  }
  return out;
}

// ---- pods ----

/**
 * The workload a pod belongs to, as Istio names it in `destination_workload` (the injector's
 * `GetDeployMetaFromPod`): the pod's `service.istio.io/workload-name` label if set; else for a
 * generated pod its controller, with a ReplicaSet's `-<pod-template-hash>` suffix dropped (the
 * Deployment that owns it) and a CronJob's Job suffix dropped; else the pod's own name.
 */
export function workloadOfPod(pod: PodLike): string {
  const meta = pod.metadata ?? {};
  const override = meta.labels?.[WORKLOAD_NAME_LABEL];
  if (override) return override;
  const name = meta.name ?? UNKNOWN;
  if (!meta.generateName) return name;
  const controller = (meta.ownerReferences ?? []).find((r) => r.controller === true);
  if (!controller?.name) return name;
  const hash = meta.labels?.['pod-template-hash'];
  if (controller.kind === 'ReplicaSet' && hash && controller.name.endsWith(`-${hash}`)) {
    return controller.name.slice(0, -(hash.length + 1));
  }
  if (controller.kind === 'Job') {
    const cron = /^(.+)-\d{8,10}$/.exec(controller.name);
    if (cron) return cron[1]!;
  }
  return controller.name;
}

/** The pod's version: the value of label `versionKey`, "unknown" when absent. */
export function versionOfPod(pod: PodLike, versionKey: string): string {
  return pod.metadata?.labels?.[versionKey] ?? UNKNOWN;
}

/**
 * The pod's canonical revision: `service.istio.io/canonical-revision`, else the version label,
 * else "latest" (Istio's value when a pod says nothing).
 */
export function canonicalRevisionOfPod(pod: PodLike, versionKey: string): string {
  const labels = pod.metadata?.labels ?? {};
  return labels[CANONICAL_REVISION_LABEL] ?? labels[versionKey] ?? 'latest';
}

/** The pod's canonical service: `service.istio.io/canonical-name`, else `app.kubernetes.io/name`, else `app`, else its workload. */
export function canonicalServiceOfPod(pod: PodLike): string {
  const labels = pod.metadata?.labels ?? {};
  return labels[CANONICAL_NAME_LABEL] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? workloadOfPod(pod);
}

/**
 * Which demo behaviour serves a pod: the URL of its first container whose image `images` maps,
 * else `defaultUrl`. Undefined when nothing plays it; `image` is then its first container's.
 */
export function behaviourOfPod(pod: PodLike, images: Readonly<Record<string, string>>, defaultUrl?: string): { image: string; url?: string } {
  const containers = pod.spec?.containers ?? [];
  for (const c of containers) {
    if (c.image !== undefined && Object.hasOwn(images, c.image)) return { image: c.image, url: images[c.image] };
  }
  return { image: containers[0]?.image ?? UNKNOWN, url: defaultUrl };
}

// ---- endpoints ----

/**
 * The pods behind the ready endpoints of Service `service`, from its EndpointSlices (label
 * `kubernetes.io/service-name`), each pod once, sorted by name. An endpoint whose `ready` is
 * unset counts as ready, as the EndpointSlice API says consumers must read it.
 */
export function readyPodsOfService(service: string, slices: readonly EndpointSliceLike[]): string[] {
  const pods = new Set<string>();
  for (const slice of slices) {
    if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== service) continue;
    for (const e of slice.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      if (e.targetRef?.kind === 'Pod' && e.targetRef.name) pods.add(e.targetRef.name);
    }
  }
  return [...pods].sort();
}

/** Whether any EndpointSlice belongs to Service `service`: the controller keeps one, empty if need be, for every Service with a selector. */
export function serviceHasSlices(service: string, slices: readonly EndpointSliceLike[]): boolean {
  return slices.some((s) => s.metadata?.labels?.[SERVICE_NAME_LABEL] === service);
}

/** One pod that can answer a route entry's requests, with what its metrics say. */
export interface Endpoint {
  pod: string;
  /** `destination_workload`. */
  workload: string;
  /** `destination_version`. */
  version: string;
  /** `destination_canonical_revision`. */
  revision: string;
  /** `destination_canonical_service`. */
  canonicalService: string;
  /** The image whose behaviour it serves (its first container's when none is mapped). */
  image: string;
  /** The demo service playing it; undefined when no behaviour is configured for its image. */
  url?: string;
}

/**
 * Why a route entry has no endpoint, with the response flag Envoy would report:
 * NC (no cluster: unknown host or undefined subset) or UH (no healthy upstream).
 */
export interface NoEndpoint {
  flag: 'NC' | 'UH';
  problem: string;
}

/** What a route entry resolves to: its Service and endpoints, or why it has none. */
export interface Resolution {
  /** The FQDN the entry's host means. */
  fqdn: string;
  /** The Service of the namespace it names, if any. */
  service?: string;
  /** Ready endpoints, sorted by pod name; empty when `none` is set. */
  endpoints: Endpoint[];
  none?: NoEndpoint;
}

/** What the generator knows of the namespace: the objects it reads. */
export interface MeshState {
  namespace: string;
  rules: readonly DestinationRuleLike[];
  slices: readonly EndpointSliceLike[];
  /** By pod name. */
  pods: ReadonlyMap<string, PodLike>;
}

/** How pods become endpoints: which label is the version, which image is which behaviour. */
export interface EndpointOptions {
  versionKey: string;
  images: Readonly<Record<string, string>>;
  defaultUrl?: string;
}

/** The pod as an endpoint of a route entry. */
export function endpointOfPod(pod: PodLike, opts: EndpointOptions): Endpoint {
  const { image, url } = behaviourOfPod(pod, opts.images, opts.defaultUrl);
  const e: Endpoint = {
    pod: pod.metadata?.name ?? UNKNOWN,
    workload: workloadOfPod(pod),
    version: versionOfPod(pod, opts.versionKey),
    revision: canonicalRevisionOfPod(pod, opts.versionKey),
    canonicalService: canonicalServiceOfPod(pod),
    image,
  };
  if (url !== undefined) e.url = url;
  return e;
}

/** Resolves one route entry (host, optional subset) against the namespace's objects. */
export function resolveEntry(entry: { host: string; subset?: string }, state: MeshState, opts: EndpointOptions): Resolution {
  const fqdn = resolveHost(entry.host, state.namespace);
  const service = serviceOfHost(entry.host, state.namespace);
  if (service === undefined || !serviceHasSlices(service, state.slices)) {
    const why = service === undefined ? `no Service of namespace ${state.namespace} has the hostname ${fqdn}` : `Service ${service} has no EndpointSlice (no such Service?)`;
    return { fqdn, ...(service === undefined ? {} : { service }), endpoints: [], none: { flag: 'NC', problem: `host ${entry.host}: ${why}` } };
  }
  let selector: Record<string, string> | undefined;
  if (entry.subset !== undefined) {
    selector = subsetsFor(fqdn, state.rules, state.namespace).get(entry.subset);
    if (selector === undefined) {
      return { fqdn, service, endpoints: [], none: { flag: 'NC', problem: `subset ${entry.subset} of ${entry.host}: no DestinationRule defines it` } };
    }
  }
  const pods = readyPodsOfService(service, state.slices)
    .map((name) => state.pods.get(name))
    // An endpoint whose pod has not been read yet cannot be attributed; it joins once the pod does.
    .filter((p): p is PodLike => p !== undefined)
    .filter((p) => matchesLabels(p.metadata?.labels, selector));
  if (pods.length === 0) {
    const where = selector === undefined ? '' : ` with ${Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',') || '(no labels)'} (subset ${entry.subset})`;
    return { fqdn, service, endpoints: [], none: { flag: 'UH', problem: `Service ${service}: no ready endpoint${where}` } };
  }
  return { fqdn, service, endpoints: pods.map((p) => endpointOfPod(p, opts)) };
}

// ---- routes ----

/** Which HTTP route of a VirtualService to follow. */
export type RouteSelector = { name: string } | { index: number } | { default: true };

/** A route selector from its short form: a name, or a RouteSelector as is. */
export function toRouteSelector(route: string | RouteSelector): RouteSelector {
  return typeof route === 'string' ? { name: route } : route;
}

/** "route primary", "route #2", "the default route". */
export function describeRouteSelector(s: RouteSelector): string {
  if ('name' in s) return `route "${s.name}"`;
  if ('index' in s) return `route #${s.index}`;
  return 'the default route (the first without match)';
}

interface RouteLike {
  name?: unknown;
  match?: unknown;
  route?: { destination?: { host?: unknown; subset?: unknown }; weight?: unknown }[];
}

/** One weighted destination of the followed route. */
export interface RouteEntry {
  host: string;
  subset?: string;
  /** Its weight; a share of the sum of the route's weights. */
  weight: number;
}

/** Thrown when the followed route is missing or is not a weighted route. */
export class RouteError extends Error {
  override name = 'RouteError';
}

/** The index of the route `selector` names in `http`, or -1. */
export function findRoute(http: readonly RouteLike[], selector: RouteSelector): number {
  if ('name' in selector) return http.findIndex((r) => r.name === selector.name);
  if ('index' in selector) return Number.isInteger(selector.index) && selector.index >= 0 && selector.index < http.length ? selector.index : -1;
  // Istio matches routes in order; one without match conditions takes every request that reaches it.
  return http.findIndex((r) => r.match === undefined || r.match === null || (Array.isArray(r.match) && r.match.length === 0));
}

/**
 * The weighted entries of the selected HTTP route of a VirtualService. An entry without weight
 * has 100 when it is the only one and 0 otherwise (Istio requires weights once there are several).
 * Throws a RouteError when the route does not exist or is not a weighted route.
 */
export function routeEntries(vs: unknown, selector: RouteSelector): RouteEntry[] {
  const http = (vs as { spec?: { http?: RouteLike[] } } | undefined)?.spec?.http;
  const routes = Array.isArray(http) ? http : [];
  const i = findRoute(routes, selector);
  const what = describeRouteSelector(selector);
  if (i < 0) {
    const names = routes.map((r, j) => `#${j} ${typeof r.name === 'string' ? r.name : '(unnamed)'}${r.match === undefined ? ' (no match)' : ''}`).join(', ');
    throw new RouteError(`it has no ${what} (routes: ${names || 'none'})`);
  }
  const found = routes[i]!;
  if (!Array.isArray(found.route) || found.route.length === 0) {
    throw new RouteError(`its ${what} has no destinations (a redirect or direct response?)`);
  }
  const only = found.route.length === 1;
  return found.route.map((entry) => {
    const host = entry.destination?.host;
    if (typeof host !== 'string') throw new RouteError(`its ${what} has an entry without destination.host`);
    const subset = typeof entry.destination?.subset === 'string' ? entry.destination.subset : undefined;
    const weight = typeof entry.weight === 'number' ? entry.weight : only ? 100 : 0;
    return subset === undefined ? { host, weight } : { host, subset, weight };
  });
}

// ---- picking ----

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

/** Picks one of n items with one uniform draw u in [0, 1): each equally likely. */
export function pickUniform(n: number, u: number): number {
  return Math.min(n - 1, Math.floor(u * n));
}

/**
 * The share of requests each key should get from a routing table: per entry, its weight's share
 * of the total, split evenly over its endpoints (an entry without endpoints gives its share to
 * UNKNOWN). Keys come from `keyOf` (a workload, an image).
 */
export function expectedShares(table: readonly { weight: number; endpoints: readonly Endpoint[] }[], keyOf: (e: Endpoint) => string): Record<string, number> {
  const total = table.reduce((a, t) => a + Math.max(0, t.weight), 0);
  const out: Record<string, number> = {};
  if (total <= 0) return out;
  for (const t of table) {
    const share = Math.max(0, t.weight) / total;
    if (share === 0) continue;
    if (t.endpoints.length === 0) {
      out[UNKNOWN] = (out[UNKNOWN] ?? 0) + share;
      continue;
    }
    for (const e of t.endpoints) out[keyOf(e)] = (out[keyOf(e)] ?? 0) + share / t.endpoints.length;
  }
  return out;
}
