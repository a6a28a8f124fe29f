/**
 * Pure Istio routing logic: which HTTP routes of a VirtualService Ramp manages, how their
 * destinations are recognised (hosts resolved as Istio resolves them), what a managed route looks
 * like for a canary weight, the JSON Patches that change only those routes, and the DestinationRule
 * subsets a rollout needs (service routing's Services are in services.ts, shared with Gateway API),
 * and the routing features (header routes, mirroring, sticky sessions) as Ramp's own `ramp-*`
 * entries and fields. The router activity reads objects, calls these,
 * and writes the result; nothing here does I/O, so every decision is table-testable.
 */
import type { RequestMatch, RouteFeature, StringMatch } from '../rollout/calls';
import type { Versions } from '../rollout/model';
import type { IstioTraffic, RouteSelector, Routing } from '../spec/schema';
import { assertWeight, cloneJson, jsonEqual, JsonPatchOp, ObjectMeta, objectId, TrafficConfigError, versionGuard } from './objects';
import { MANAGED_BY, MANAGED_BY_LABEL } from './services';

// Kept importable from here for the Istio router's callers and tests; they live where both routers share them.
export { assertWeight, jsonEqual, objectId, TrafficConfigError, type JsonPatchOp, type ObjectMeta } from './objects';
export {
  buildCanaryService, buildSelectorPatch, MANAGED_BY, MANAGED_BY_LABEL, planServicePins, POD_TEMPLATE_HASH, selects,
  type Service, type ServicePins, type ServicePort, type ServiceRouting,
} from './services';

// ---- narrow local types (only the fields Ramp reads; everything else is carried through) ----

/** `destination` of an Istio HTTPRouteDestination. */
export interface IstioDestination {
  host: string;
  subset?: string;
  port?: { number?: number };
  [field: string]: unknown;
}

/** One entry of an HTTP route's `route` array; other fields (headers, …) are kept as they are. */
export interface RouteDestination {
  destination: IstioDestination;
  weight?: number;
  [field: string]: unknown;
}

/** One entry of `spec.http`. */
export interface HttpRoute {
  name?: string;
  match?: { uri?: { prefix?: string; exact?: string }; [field: string]: unknown }[];
  route?: RouteDestination[];
  [field: string]: unknown;
}

/** A networking.istio.io VirtualService, as far as Ramp reads it. */
export interface VirtualService {
  metadata?: ObjectMeta;
  spec?: { hosts?: string[]; http?: HttpRoute[]; [field: string]: unknown };
}

/** One DestinationRule subset. */
export interface Subset {
  name: string;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

/** A networking.istio.io DestinationRule, as far as Ramp reads it. */
export interface DestinationRule {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { host?: string; subsets?: Subset[]; [field: string]: unknown };
}

/** A managed HTTP route: its position in `spec.http`, its name ('' when unnamed) and its destinations. */
export interface ManagedRoute {
  index: number;
  name: string;
  route: RouteDestination[];
  /** How the spec selects it, as a key (`name:primary`, `index:2`, `default`, `prefix:/api`). */
  selector: string;
}

/** Split of one route in percent. Same shape as the router's `Weights`. */
export interface RouteWeights {
  stable: number;
  canary: number;
}

/** A managed route as recorded in a snapshot: its selector key and its destinations as they were. */
export interface SnapshotRoute {
  selector: string;
  route: unknown[];
  /** The route's own `mirror` and `mirrorPercentage` as they were, to put back after Ramp's mirror (absent: none). */
  mirror?: unknown;
  mirrorPercentage?: unknown;
}

export type SubsetRouting = Extract<Routing, { mode: 'subset' }>;

/** What the pure functions need to know: the traffic spec and the VirtualService's namespace. */
export interface IstioContext {
  traffic: IstioTraffic;
  namespace: string;
  /**
   * Sticky sessions while they are set: the canary entry of every weighted route then carries the
   * cookie, so a weight change keeps it (the value is the canary's version).
   */
  sticky?: { cookie: string; maxAgeSeconds: number; value: string };
}

/** Entries whose name starts with this are Ramp's: selectors, snapshots and drift checks ignore them. */
export const RAMP_ENTRY_PREFIX = 'ramp-';

/** Is this HTTP route one Ramp added (a header route, a sticky-session route)? */
export function isRampEntry(r: HttpRoute | undefined): boolean {
  return typeof r?.name === 'string' && r.name.startsWith(RAMP_ENTRY_PREFIX);
}

/** The routes people wrote, each with its position in spec.http: what selectors count and match. */
function userRoutes(http: HttpRoute[]): { r: HttpRoute; at: number }[] {
  return http.flatMap((r, at) => (isRampEntry(r) ? [] : [{ r, at }]));
}

function hasMatch(r: HttpRoute): boolean {
  return Array.isArray(r.match) && r.match.length > 0;
}

/** How a person selects the route at `index` in a spec, for messages. */
function howToSelect(r: HttpRoute | undefined, index: number, http: HttpRoute[]): string {
  if (r?.name) return `"${r.name}"`;
  const ways = [`{index: ${index}}`];
  if (r && !hasMatch(r) && http.filter((h) => !hasMatch(h)).length === 1) ways.push('{default: true}');
  const prefix = r?.match?.find((m) => m.uri?.prefix !== undefined)?.uri?.prefix;
  if (prefix !== undefined) ways.push(`{prefix: "${prefix}"}`);
  return `#${index} (unnamed; select it with ${ways.join(' or ')})`;
}

function routeLabel(r: HttpRoute | undefined, index: number): string {
  return r?.name ? `"${r.name}"` : `#${index} (unnamed)`;
}

function describeDestination(d: IstioDestination | undefined): string {
  if (!d) return '(no destination)';
  return d.subset ? `${d.host} subset ${d.subset}` : d.host;
}

// ---- hosts, as Istio resolves them ---------------------------------------------------------

/** Kubernetes' default cluster domain, which Istio appends to short names. */
export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * A destination host as Istio resolves it: a name without a dot is a Service of the rule's
 * namespace (`web` → `web.<ns>.svc.cluster.local`); a name with a dot is taken as written, so
 * `web.<ns>` and `web.<ns>.svc` name no Kubernetes Service.
 */
export function resolveHost(host: string, namespace: string): string {
  return host.includes('.') ? host : `${host}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

/** Do two hosts name the same Service, as Istio resolves them in `namespace`? */
export function sameHost(a: string, b: string, namespace: string): boolean {
  return resolveHost(a, namespace) === resolveHost(b, namespace);
}

/** The Service (name, namespace) a host resolves to, or undefined for a host that is not a Kubernetes Service. */
export function serviceOfHost(host: string, namespace: string): { name: string; namespace: string } | undefined {
  const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.(.+)$/.exec(resolveHost(host, namespace));
  return m && m[3] === CLUSTER_DOMAIN ? { name: m[1]!, namespace: m[2]! } : undefined;
}

/** `web.<ns>` or `web.<ns>.svc`: meant as a Service, but Istio does not expand it. */
function unexpandedForm(host: string, namespace: string): boolean {
  return new RegExp(`^[a-z0-9-]+\\.${namespace.replace(/[.]/g, '\\.')}(\\.svc)?$`).test(host);
}

/** The same Service's host in the form `like` is written (short or fully qualified). */
function inFormOf(service: string, like: string, namespace: string): string {
  return like.includes('.') ? resolveHost(service, namespace) : service;
}

// ---- destinations --------------------------------------------------------------------------

/** Problems with spec.traffic.host itself. */
export function hostProblems(c: IstioContext): string[] {
  const r = c.traffic.routing;
  if (unexpandedForm(c.traffic.host, c.namespace)) {
    const svc = c.traffic.host.split('.')[0]!;
    return [`spec.traffic.host "${c.traffic.host}" is not a Service host as Istio resolves it (it expands only names without a dot); write "${svc}" or "${resolveHost(svc, c.namespace)}"`];
  }
  if (r.mode === 'service' && !sameHost(c.traffic.host, r.stableService, c.namespace)) {
    return [`spec.traffic.host "${c.traffic.host}" does not name the stable Service ${c.namespace}/${r.stableService}; in service routing the host is the stable Service's (leave it out, or write "${r.stableService}" or "${resolveHost(r.stableService, c.namespace)}")`];
  }
  return [];
}

/** Is `d` the stable destination? In subset mode a destination to the host without a subset counts too (a plain route, before Ramp adds subsets). */
function isStable(d: IstioDestination | undefined, c: IstioContext): boolean {
  if (!d) return false;
  const r = c.traffic.routing;
  if (r.mode === 'subset') return sameHost(d.host, c.traffic.host, c.namespace) && (d.subset === r.stableSubset || d.subset === undefined);
  return sameHost(d.host, c.traffic.host, c.namespace) && d.subset === undefined;
}

function isCanary(d: IstioDestination | undefined, c: IstioContext): boolean {
  if (!d) return false;
  const r = c.traffic.routing;
  if (r.mode === 'subset') return sameHost(d.host, c.traffic.host, c.namespace) && d.subset === r.canarySubset;
  return sameHost(d.host, r.canaryService, c.namespace) && d.subset === undefined;
}

function describeStable(c: IstioContext): string {
  const r = c.traffic.routing;
  return r.mode === 'subset' ? `${c.traffic.host} (subset ${r.stableSubset}, or no subset)` : c.traffic.host;
}

// ---- finding the managed routes ------------------------------------------------------------

/** The key a selector is recorded under. */
export function selectorKey(s: RouteSelector): string {
  if ('name' in s) return `name:${s.name}`;
  if ('index' in s) return `index:${s.index}`;
  if ('prefix' in s) return `prefix:${s.prefix}`;
  return 'default';
}

/** A selector in words, for plans and messages: `primary`, `#2`, `the default route`, `the route for prefix /api`. */
export function routeInWords(s: RouteSelector): string {
  if ('name' in s) return s.name;
  if ('index' in s) return `#${s.index}`;
  if ('prefix' in s) return `the route for prefix ${s.prefix}`;
  return 'the default route';
}

/** The managed routes in words. */
export function managedRoutesInWords(selectors: readonly RouteSelector[]): string {
  if (selectors.length === 0) return 'the default route';
  const named = selectors.filter((s) => 'name' in s || 'index' in s);
  const others = selectors.filter((s) => !('name' in s || 'index' in s));
  return [...(named.length > 0 ? [`route(s) ${named.map(routeInWords).join(', ')}`] : []), ...others.map(routeInWords)].join(' and ');
}

function describeSelector(s: RouteSelector): string {
  if ('name' in s) return `named "${s.name}"`;
  if ('index' in s) return `at index ${s.index}`;
  if ('prefix' in s) return `matching the URI prefix "${s.prefix}"`;
  return 'without match (the default route)';
}

function selectorFromKey(key: string): RouteSelector {
  if (key === 'default') return { default: true };
  const [kind, ...rest] = key.split(':');
  const v = rest.join(':');
  if (kind === 'name') return { name: v };
  if (kind === 'index') return { index: Number(v) };
  return { prefix: v };
}

function matches(r: HttpRoute, i: number, s: RouteSelector): boolean {
  if ('name' in s) return r.name === s.name;
  if ('index' in s) return i === s.index;
  if ('prefix' in s) return (r.match ?? []).some((m) => m.uri?.prefix === s.prefix);
  return !hasMatch(r);
}

/** Finds routes by selector (the default route when there is none). Never throws: what is missing or ambiguous comes back as problems. */
function locate(vs: VirtualService, selectors: readonly RouteSelector[]): { routes: ManagedRoute[]; problems: string[] } {
  const id = objectId('VirtualService', vs.metadata);
  const http = vs.spec?.http ?? [];
  const routes: ManagedRoute[] = [];
  const problems: string[] = [];
  if (http.length === 0) {
    return { routes, problems: [`${id} has no HTTP routes (spec.http is empty); Ramp shifts traffic in HTTP routes only: add one sending traffic to the stable destination`] };
  }
  const wanted = selectors.length === 0 ? [{ default: true } as const] : selectors;
  const seen = new Set<string>();
  // Ramp's own entries are invisible here, so `{index: N}` and the default route mean what the person wrote.
  const user = userRoutes(http);
  const mine = user.map((u) => u.r);
  const ways = mine.map((r, i) => howToSelect(r, i, mine)).join(', ');
  for (const sel of wanted) {
    const key = selectorKey(sel);
    if (seen.has(key)) continue;
    seen.add(key);
    const candidates = mine.flatMap((r, i) => (matches(r, i, sel) ? [i] : []));
    if (candidates.length === 0) {
      problems.push(`${id} has no HTTP route ${describeSelector(sel)} (routes: ${ways}); set spec.traffic.virtualService.routes to select the routes Ramp should manage`);
      continue;
    }
    if (candidates.length > 1) {
      const which = candidates.map((i) => howToSelect(mine[i], i, mine)).join(', ');
      problems.push('default' in sel
        ? `${id} has ${candidates.length} HTTP routes without match (${which}), so the default route is ambiguous; select one in spec.traffic.virtualService.routes`
        : `${id} has ${candidates.length} HTTP routes ${describeSelector(sel)} (${which}); select one of them by index`);
      continue;
    }
    const index = user[candidates[0]!]!.at;
    if (routes.some((r) => r.index === index)) continue;
    const r = http[index]!;
    if (!Array.isArray(r.route) || r.route.length === 0) {
      problems.push(`${id} HTTP route ${routeLabel(r, candidates[0]!)} has no route destinations (a redirect or direct response?); manage a route that forwards to the stable destination`);
      continue;
    }
    routes.push({ index, name: r.name ?? '', route: r.route, selector: key });
  }
  return { routes, problems };
}

/** Problems with the destinations of one managed route: the stable one must be there, and nothing but stable and canary. */
function destinationProblems(vs: VirtualService, r: ManagedRoute, c: IstioContext): string[] {
  const id = objectId('VirtualService', vs.metadata);
  // Counted as selectors count, without Ramp's entries.
  const label = routeLabel(vs.spec?.http?.[r.index], userRoutes(vs.spec?.http ?? []).findIndex((u) => u.at === r.index));
  const all = r.route.map((d) => describeDestination(d.destination)).join(', ');
  const stableEntries = r.route.filter((d) => isStable(d.destination, c));
  if (stableEntries.length === 0) {
    const unexpanded = r.route.find((d) => unexpandedForm(d.destination?.host ?? '', c.namespace));
    if (unexpanded) {
      const svc = unexpanded.destination.host.split('.')[0]!;
      return [`${id} HTTP route ${label} sends traffic to host "${unexpanded.destination.host}", which Istio does not resolve to the Service ${c.namespace}/${svc} (it expands only names without a dot); write "${svc}" or "${resolveHost(svc, c.namespace)}" in the route`];
    }
    const fix = c.traffic.routing.mode === 'subset'
      ? 'route it to that host, or set spec.traffic.host and spec.traffic.routing.stableSubset to match'
      : 'route it to that Service, or set spec.traffic.routing.stableService to match';
    // The destinations are listed here already; a second "other destinations" problem would repeat them.
    return [`${id} HTTP route ${label} has no destination ${describeStable(c)} (destinations: ${all}); ${fix}`];
  }
  const problems: string[] = [];
  if (stableEntries.length > 1) problems.push(`${id} HTTP route ${label} has ${stableEntries.length} entries for the stable destination; Ramp manages a route with one`);
  const others = r.route.filter((d) => !isStable(d.destination, c) && !isCanary(d.destination, c));
  if (others.length > 0) {
    problems.push(`${id} HTTP route ${label} also sends traffic to ${others.map((d) => describeDestination(d.destination)).join(', ')}; Ramp splits a route between stable and canary only: move other destinations to a route of their own`);
  }
  return problems;
}

/** Every problem preventing Ramp from managing the VirtualService's routes; empty when it can. */
export function inspectVirtualService(vs: VirtualService, c: IstioContext): string[] {
  const { routes, problems } = locate(vs, c.traffic.virtualService.routes);
  return [...problems, ...routes.flatMap((r) => destinationProblems(vs, r, c))];
}

/** The managed routes; throws TrafficConfigError naming every problem. */
export function findManagedRoutes(vs: VirtualService, c: IstioContext): ManagedRoute[] {
  const { routes, problems } = locate(vs, c.traffic.virtualService.routes);
  const all = [...problems, ...routes.flatMap((r) => destinationProblems(vs, r, c))];
  if (all.length > 0) throw new TrafficConfigError(all);
  return routes;
}

// ---- weights -------------------------------------------------------------------------------

/**
 * The `route` array of a managed route for a canary weight: the stable entry (with its other fields,
 * such as headers, kept) at 100-w, then the same entry pointed at the canary destination at w. Hosts
 * keep the form the route used (short or fully qualified). Depends only on the stable entry, so it
 * is the same whether or not a canary entry existed.
 */
export function weightedRoute(original: RouteDestination[], c: IstioContext, canaryWeight: number): RouteDestination[] {
  assertWeight(canaryWeight);
  const entry = original.find((d) => isStable(d.destination, c));
  if (!entry) {
    throw new TrafficConfigError([`route has no destination ${describeStable(c)} (destinations: ${original.map((d) => describeDestination(d.destination)).join(', ')})`]);
  }
  const { destination, weight: _weight, ...rest } = entry;
  const port = c.traffic.port !== undefined ? { number: c.traffic.port } : destination.port;
  const at = (host: string, subset: string | undefined): IstioDestination => {
    const { subset: _subset, port: _port, ...other } = destination;
    return { ...other, host, ...(subset !== undefined ? { subset } : {}), ...(port !== undefined ? { port } : {}) };
  };
  const r = c.traffic.routing;
  const stable = r.mode === 'subset' ? at(destination.host, r.stableSubset) : at(destination.host, undefined);
  const canary = r.mode === 'subset' ? at(destination.host, r.canarySubset) : at(inFormOf(r.canaryService, destination.host, c.namespace), undefined);
  const canaryRest = c.sticky ? { ...rest, headers: withSetCookie(rest.headers, stickySetCookie(c.sticky)) } : rest;
  return [
    { ...rest, destination: stable, weight: 100 - canaryWeight },
    { ...canaryRest, destination: canary, weight: canaryWeight },
  ];
}

/**
 * Split of a route array. A destination without a weight gets 100 when it is the only one (Istio's
 * rule) and 0 otherwise.
 */
export function routeWeights(route: RouteDestination[], c: IstioContext): RouteWeights {
  const weightOf = (d: RouteDestination) => d.weight ?? (route.length === 1 ? 100 : 0);
  const sum = (pick: (d: IstioDestination) => boolean) => route.filter((d) => pick(d.destination)).reduce((acc, d) => acc + weightOf(d), 0);
  return { stable: sum((d) => isStable(d, c)), canary: sum((d) => isCanary(d, c)) };
}

/** The split of every managed route, in spec.http order. */
export function readWeights(vs: VirtualService, c: IstioContext): { name: string; weights: RouteWeights }[] {
  return findManagedRoutes(vs, c).map((r) => ({ name: r.name || r.selector, weights: routeWeights(r.route, c) }));
}

// ---- patches -------------------------------------------------------------------------------

/**
 * Guards for one write: the object must still be the version that was read, and every replaced
 * route must still sit at its index. A concurrent edit makes the patch fail instead of being overwritten.
 */
function guards(meta: ObjectMeta | undefined, kind: string, http: HttpRoute[], indexes: number[]): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [versionGuard(meta, kind)];
  for (const i of indexes) {
    const name = http[i]?.name;
    // An unnamed route has no name to test; the resourceVersion test covers it.
    if (name) ops.push({ op: 'test', path: `/spec/http/${i}/name`, value: name });
  }
  return ops;
}

/** One patch replacing the `route` of each managed route whose current value differs from `desired`; [] when none does. */
function routesPatch(vs: VirtualService, desired: { index: number; route: unknown[] }[]): JsonPatchOp[] {
  const http = vs.spec?.http ?? [];
  const changed = desired.filter((d) => !jsonEqual(http[d.index]?.route, d.route));
  if (changed.length === 0) return [];
  return [
    ...guards(vs.metadata, 'VirtualService', http, changed.map((d) => d.index)),
    ...changed.map((d): JsonPatchOp => ({ op: 'replace', path: `/spec/http/${d.index}/route`, value: d.route })),
  ];
}

/** JSON Patch setting the canary weight of every managed route; [] when they already carry it. Other routes are untouched. */
export function buildSetWeightPatch(vs: VirtualService, c: IstioContext, canaryWeight: number): JsonPatchOp[] {
  const routes = findManagedRoutes(vs, c);
  return routesPatch(vs, routes.map((r) => ({ index: r.index, route: weightedRoute(r.route, c, canaryWeight) })));
}

/** The managed routes as they are now, for a snapshot. */
export function snapshotRoutes(vs: VirtualService, c: IstioContext): SnapshotRoute[] {
  const http = vs.spec?.http ?? [];
  return findManagedRoutes(vs, c).map((r) => {
    const { mirror, mirrorPercentage } = http[r.index]!;
    return {
      selector: r.selector, route: cloneJson(r.route),
      ...(mirror !== undefined ? { mirror: cloneJson(mirror) } : {}),
      ...(mirrorPercentage !== undefined ? { mirrorPercentage: cloneJson(mirrorPercentage) } : {}),
    };
  });
}

/**
 * JSON Patch putting the snapshot's routes back exactly; no ops when they already are. A managed
 * route that no longer exists routes nothing to the canary: it is listed in `missing`, not an error.
 */
export function buildRestoreRoutesPatch(vs: VirtualService, routes: SnapshotRoute[]): { ops: JsonPatchOp[]; missing: string[] } {
  const missing: string[] = [];
  const desired: { index: number; route: unknown[] }[] = [];
  for (const r of routes) {
    const { routes: found, problems } = locate(vs, [selectorFromKey(r.selector)]);
    if (problems.length > 0 || !found[0]) missing.push(r.selector);
    else desired.push({ index: found[0].index, route: r.route });
  }
  return { ops: routesPatch(vs, desired), missing };
}

/** The HTTP routes (any, not only managed ones) that still send traffic (weight > 0) to the canary destination. */
export function routesToCanary(vs: VirtualService, c: IstioContext): string[] {
  const http = vs.spec?.http ?? [];
  return http.flatMap((r, i) => {
    const route = r.route ?? [];
    const sends = route.some((d) => isCanary(d.destination, c) && (d.weight ?? (route.length === 1 ? 100 : 0)) > 0);
    return sends ? [r.name ? r.name : `#${i} (unnamed)`] : [];
  });
}

// ---- routing features: header routes, mirroring, sticky sessions ---------------------------

/** Escapes a literal for an RE2 regular expression (Istio's `regex` matches the whole value). */
export function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A cookie condition as a regex on the Cookie header: the pair may be anywhere in the list. */
export function cookieRegex(name: string, value: StringMatch): string {
  const v = 'exact' in value ? escapeRegex(value.exact) : 'prefix' in value ? `${escapeRegex(value.prefix)}[^;]*` : `(?:${value.regex})`;
  return `^(.*?;\\s*)?${escapeRegex(name)}=${v}(;.*)?$`;
}

type IstioStringMatch = { exact: string } | { prefix: string } | { regex: string };

/** The `headers` and `queryParams` a list of conditions adds to a match element (Istio wants header names in lower case). */
export function conditionsOf(match: readonly RequestMatch[]): { headers?: Record<string, IstioStringMatch>; queryParams?: Record<string, IstioStringMatch> } {
  const headers: Record<string, IstioStringMatch> = {};
  const queryParams: Record<string, IstioStringMatch> = {};
  for (const m of match) {
    if ('header' in m) headers[m.header.toLowerCase()] = { ...m.value };
    else if ('query' in m) queryParams[m.query] = { ...m.value };
    else headers.cookie = { regex: cookieRegex(m.cookie, m.value) };
  }
  return {
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(Object.keys(queryParams).length > 0 ? { queryParams } : {}),
  };
}

/** A managed route's match list with the conditions added to each element (one element when it has none). */
function matchWith(r: HttpRoute, match: readonly RequestMatch[]): Record<string, unknown>[] {
  const add = conditionsOf(match);
  const elements: Record<string, unknown>[] = hasMatch(r) ? r.match! : [{}];
  return elements.map((el) => {
    const out: Record<string, unknown> = { ...cloneJson(el) };
    if (add.headers) out.headers = { ...(el.headers as object | undefined), ...add.headers };
    if (add.queryParams) out.queryParams = { ...(el.queryParams as object | undefined), ...add.queryParams };
    return out;
  });
}

/** The name of Ramp's entry in front of the k-th managed route (0-based): `<base>`, then `<base>-2`, `<base>-3` … */
export function entryName(base: string, k: number): string {
  return k === 0 ? base : `${base}-${k + 1}`;
}

/** The names Ramp's entries of one feature carry, given how many routes it manages. */
function entryNames(base: string, managed: number): Set<string> {
  return new Set(Array.from({ length: Math.max(managed, 1) }, (_, k) => entryName(base, k)));
}

/** The base name of a feature's entries: `ramp-header-<name>`, `ramp-sticky`; none for a mirror (a field, not an entry). */
export function featureEntryBase(change: string): string | undefined {
  if (change.startsWith('header:')) return `${RAMP_ENTRY_PREFIX}header-${change.slice('header:'.length)}`;
  if (change === 'sticky') return `${RAMP_ENTRY_PREFIX}sticky`;
  return undefined;
}

/** The canary's entry of a managed route as the weighted route builds it, without sticky cookies. */
function canaryEntry(r: ManagedRoute, c: IstioContext): RouteDestination {
  return weightedRoute(r.route, { traffic: c.traffic, namespace: c.namespace }, 0)[1]!;
}

/**
 * Ramp's entry in front of a managed route: the route's matches with the conditions added, to the
 * canary at 100, with the route's other fields (timeout, retries, header operations) copied; a
 * mirror stays the managed route's own.
 */
function entryBefore(vs: VirtualService, r: ManagedRoute, c: IstioContext, name: string, match: readonly RequestMatch[]): HttpRoute {
  const http = vs.spec?.http ?? [];
  const { name: _name, match: _match, route: _route, mirror: _mirror, mirrorPercentage: _pct, mirrors: _mirrors, ...rest } = http[r.index]!;
  return { name, match: matchWith(http[r.index]!, match), route: [{ ...canaryEntry(r, c), weight: 100 }], ...cloneJson(rest) };
}

/** The Set-Cookie value canary responses carry for sticky sessions. */
export function stickySetCookie(s: { cookie: string; maxAgeSeconds: number; value: string }): string {
  return `${s.cookie}=${s.value}; Max-Age=${s.maxAgeSeconds}; Path=/`;
}

function withSetCookie(headers: unknown, value: string): Record<string, unknown> {
  const h = (headers ?? {}) as { response?: { add?: Record<string, string> } };
  return { ...h, response: { ...h.response, add: { ...h.response?.add, 'set-cookie': value } } };
}

/** `headers` without Ramp's Set-Cookie (and without the objects that held only it); undefined when nothing is left. */
function withoutSetCookie(headers: unknown): unknown {
  const h = headers as { response?: { add?: Record<string, string>; [k: string]: unknown }; [k: string]: unknown } | undefined;
  if (!h?.response?.add || !('set-cookie' in h.response.add)) return headers;
  const { 'set-cookie': _cookie, ...add } = h.response.add;
  const { add: _add, ...response } = h.response;
  const nextResponse = Object.keys(add).length > 0 ? { ...response, add } : response;
  const { response: _response, ...other } = h;
  const out = Object.keys(nextResponse).length > 0 ? { ...other, response: nextResponse } : other;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A route array with the canary entries' Set-Cookie added (`value`) or taken out (undefined). */
function stickyRoute(route: RouteDestination[], c: IstioContext, value: string | undefined): RouteDestination[] {
  return route.map((d) => {
    if (!isCanary(d.destination, c)) return d;
    const { headers, ...rest } = d;
    const next = value === undefined ? withoutSetCookie(headers) : withSetCookie(headers, value);
    return { ...rest, ...(next !== undefined ? { headers: next } : {}) };
  });
}

/** What one feature write changes: fields of managed routes (by index in spec.http), Ramp's entries to drop, entries to add before managed routes. */
interface FeatureEdit {
  fields: { index: number; field: string; value: unknown }[];
  drop: Set<string>;
  insert?: (r: ManagedRoute, k: number) => HttpRoute;
}

/**
 * One guarded JSON Patch for a feature edit, [] when the VirtualService already is as wanted. Field
 * changes come first (at the indexes read), then Ramp's entries are removed from the end, then the
 * new ones inserted in front of their routes from the end, so no op shifts an index a later op uses.
 */
function featurePatch(vs: VirtualService, c: IstioContext, edit: FeatureEdit): JsonPatchOp[] {
  const http = vs.spec?.http ?? [];
  const managed = findManagedRoutes(vs, c);
  const ops: JsonPatchOp[] = [];
  const work: HttpRoute[] = http.map((r) => ({ ...r }));
  for (const f of edit.fields) {
    const current = http[f.index]?.[f.field];
    if (jsonEqual(current, f.value)) continue;
    if (f.value === undefined) ops.push({ op: 'remove', path: `/spec/http/${f.index}/${f.field}` });
    else ops.push({ op: 'add', path: `/spec/http/${f.index}/${f.field}`, value: f.value });
    if (f.value === undefined) delete work[f.index]![f.field];
    else work[f.index]![f.field] = f.value;
  }
  for (let i = work.length - 1; i >= 0; i--) {
    const name = work[i]!.name;
    if (name !== undefined && edit.drop.has(name)) {
      ops.push({ op: 'test', path: `/spec/http/${i}/name`, value: name }, { op: 'remove', path: `/spec/http/${i}` });
      work.splice(i, 1);
    }
  }
  if (edit.insert) {
    const after = findManagedRoutes({ ...vs, spec: { ...vs.spec, http: work } }, c);
    const entries = after.map((r, k) => ({ at: r.index, entry: edit.insert!(managed[k]!, k) }));
    for (const { at, entry } of [...entries].sort((a, b) => b.at - a.at)) {
      ops.push({ op: 'add', path: `/spec/http/${at}`, value: entry });
      work.splice(at, 0, entry);
    }
  }
  if (jsonEqual(work, http)) return [];
  return [...guards(vs.metadata, 'VirtualService', http, managed.map((r) => r.index)), ...ops];
}

/**
 * JSON Patch adding a routing feature to the managed routes, or replacing the one with the same
 * change id; [] when it is already so:
 * - header: an entry `ramp-header-<name>` in front of each managed route sends requests meeting the
 *   conditions to the canary;
 * - mirror: each managed route mirrors `percent` % of its requests to the canary;
 * - sticky (`c.sticky` set): canary entries set the cookie, and an entry `ramp-sticky` in front of
 *   each managed route sends requests carrying it to the canary.
 */
export function buildSetFeaturePatch(vs: VirtualService, c: IstioContext, feature: RouteFeature): JsonPatchOp[] {
  const managed = findManagedRoutes(vs, c);
  switch (feature.kind) {
    case 'header': {
      const base = featureEntryBase(`header:${feature.name}`)!;
      return featurePatch(vs, c, {
        fields: [], drop: entryNames(base, managed.length),
        insert: (r, k) => entryBefore(vs, r, c, entryName(base, k), feature.match),
      });
    }
    case 'mirror':
      return featurePatch(vs, c, {
        fields: managed.flatMap((r) => [
          { index: r.index, field: 'mirror', value: cloneJson(canaryEntry(r, c).destination) },
          { index: r.index, field: 'mirrorPercentage', value: { value: feature.percent } },
        ]),
        drop: new Set(),
      });
    case 'sticky': {
      if (!c.sticky) throw new TrafficConfigError(['sticky sessions need the canary version for the cookie value (a bug: the router passes it)']);
      const sticky = c.sticky;
      const base = featureEntryBase('sticky')!;
      const cookie: RequestMatch[] = [{ cookie: sticky.cookie, value: { exact: sticky.value } }];
      return featurePatch(vs, c, {
        fields: managed.map((r) => ({ index: r.index, field: 'route', value: stickyRoute(r.route, c, stickySetCookie(sticky)) })),
        drop: entryNames(base, managed.length),
        insert: (r, k) => entryBefore(vs, r, c, entryName(base, k), cookie),
      });
    }
  }
}

/**
 * JSON Patch taking a feature back by its change id: Ramp's entries of that feature removed (by
 * name, nothing else), a mirror put back as the snapshot recorded each route's, sticky cookies
 * taken off the canary entries. Managed routes that are gone are skipped; [] when nothing is left to undo.
 */
export function buildRemoveFeaturePatch(vs: VirtualService, c: IstioContext, change: string, routes: SnapshotRoute[]): JsonPatchOp[] {
  const base = featureEntryBase(change);
  const present = routes.flatMap((s) => {
    const { routes: found } = locate(vs, [selectorFromKey(s.selector)]);
    return found[0] ? [{ s, r: found[0] }] : [];
  });
  // Entries are dropped by name whatever the routes now are; only the managed routes that are still there are guarded.
  const names = base === undefined ? new Set<string>() : entryNames(base, routes.length);
  const guarded = (edit: FeatureEdit): JsonPatchOp[] => {
    const probe: IstioContext = { ...c, traffic: { ...c.traffic, virtualService: { ...c.traffic.virtualService, routes: present.map((p) => selectorFromKey(p.s.selector)) } } };
    if (present.length === 0) return dropOnly(vs, edit.drop);
    return featurePatch(vs, probe, edit);
  };
  if (change === 'mirror') {
    return guarded({
      fields: present.flatMap(({ s, r }) => [
        { index: r.index, field: 'mirror', value: s.mirror },
        { index: r.index, field: 'mirrorPercentage', value: s.mirrorPercentage },
      ]),
      drop: new Set(),
    });
  }
  if (change === 'sticky') {
    return guarded({ fields: present.map(({ r }) => ({ index: r.index, field: 'route', value: stickyRoute(r.route, c, undefined) })), drop: names });
  }
  // A header route is only entries: removed by name, whatever shape the managed routes are in now.
  return dropOnly(vs, names);
}

/** Removes Ramp's entries by name (each name tested at its index), guarded by the resourceVersion. */
function dropOnly(vs: VirtualService, drop: Set<string>): JsonPatchOp[] {
  const http = vs.spec?.http ?? [];
  const ops: JsonPatchOp[] = [];
  for (let i = http.length - 1; i >= 0; i--) {
    const name = http[i]!.name;
    if (name !== undefined && drop.has(name)) ops.push({ op: 'test', path: `/spec/http/${i}/name`, value: name }, { op: 'remove', path: `/spec/http/${i}` });
  }
  return ops.length > 0 ? [versionGuard(vs.metadata, 'VirtualService'), ...ops] : [];
}

// ---- DestinationRule -----------------------------------------------------------------------

/** The DestinationRules among `rules` that apply to the traffic's host. */
export function rulesForHost(rules: DestinationRule[], c: IstioContext): DestinationRule[] {
  return rules.filter((dr) => dr.spec?.host !== undefined && sameHost(dr.spec.host, c.traffic.host, c.namespace));
}

/** What to do about the DestinationRule in subset mode. */
export type RulePlan =
  | { kind: 'use'; rule: DestinationRule }
  | { kind: 'create'; name: string }
  | { kind: 'problem'; problem: string };

/**
 * Which DestinationRule a rollout uses: the one the spec names, or the one rule for the host; none
 * for the host → Ramp creates one (named by the spec, else `<rollout>-ramp`) and deletes it afterwards.
 */
export function planDestinationRule(rules: DestinationRule[], c: IstioContext, rollout: string): RulePlan {
  const r = c.traffic.routing as SubsetRouting;
  const forHost = rulesForHost(rules, c);
  if (r.destinationRule !== undefined) {
    const named = rules.find((dr) => dr.metadata?.name === r.destinationRule);
    if (named) {
      if (!forHost.includes(named)) {
        return {
          kind: 'problem',
          problem: `${objectId('DestinationRule', named.metadata)} is for host ${JSON.stringify(named.spec?.host ?? '')}, not ${JSON.stringify(c.traffic.host)}; set spec.traffic.host to the DestinationRule's host, or spec.traffic.routing.destinationRule to the rule for ${c.traffic.host}`,
        };
      }
      return { kind: 'use', rule: named };
    }
    if (forHost.length > 0) {
      return { kind: 'problem', problem: `DestinationRule ${c.namespace}/${r.destinationRule} not found, and ${forHost.map((d) => objectId('DestinationRule', d.metadata)).join(', ')} already covers host ${c.traffic.host}; set spec.traffic.routing.destinationRule to it (two rules for one host conflict in Istio)` };
    }
    return { kind: 'create', name: r.destinationRule };
  }
  if (forHost.length === 1) return { kind: 'use', rule: forHost[0]! };
  if (forHost.length > 1) {
    return { kind: 'problem', problem: `${forHost.length} DestinationRules cover host ${c.traffic.host} (${forHost.map((d) => d.metadata?.name).join(', ')}); set spec.traffic.routing.destinationRule to the one Ramp should add its subsets to` };
  }
  return { kind: 'create', name: `${rollout}-ramp` };
}

/** A DestinationRule Ramp creates for a rollout: the host with the stable and canary subsets. */
export function buildDestinationRule(name: string, c: IstioContext, versions: Versions): DestinationRule {
  const r = c.traffic.routing as SubsetRouting;
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: c.namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    spec: { host: c.traffic.host, subsets: ensureSubsets(undefined, r, versions) },
  };
}

/**
 * Subsets with the stable and canary subsets present and selecting the version label; other subsets,
 * and other labels and fields of these two, are kept. New subsets go at the end.
 */
export function ensureSubsets(current: Subset[] | undefined, routing: SubsetRouting, versions: Pick<Versions, 'key' | 'stable' | 'canary'>): Subset[] {
  const out = (current ?? []).map((s) => ({ ...s }));
  const ensure = (name: string, value: string) => {
    const existing = out.find((s) => s.name === name);
    if (existing) existing.labels = { ...existing.labels, [versions.key]: value };
    else out.push({ name, labels: { [versions.key]: value } });
  };
  ensure(routing.stableSubset, versions.stable);
  ensure(routing.canarySubset, versions.canary);
  return out;
}

/**
 * The stable subset during a promotion, so that it always has ready pods: at `begin` it stops
 * selecting by version (old and new stable pods, and the canary's, are all in it while the stable
 * rolls); at `end` it selects the new version. Other subsets are kept.
 */
export function promotionSubsets(current: Subset[] | undefined, routing: SubsetRouting, versions: Versions, stage: 'begin' | 'end'): Subset[] {
  return (current ?? []).map((s) => {
    if (s.name !== routing.stableSubset) return s;
    const labels = { ...(s.labels ?? {}) };
    if (stage === 'begin') delete labels[versions.key];
    else labels[versions.key] = versions.canary;
    return { ...s, labels };
  });
}

/** A snapshot's subsets after a promotion: the stable subset selects the new version (so an undo keeps it so). */
export function rebaseSubsets(snapshot: Subset[] | undefined, routing: SubsetRouting, versions: Versions): Subset[] | undefined {
  return snapshot?.map((s) => (s.name === routing.stableSubset ? { ...s, labels: { ...(s.labels ?? {}), [versions.key]: versions.canary } } : s));
}

/**
 * The subsets with Ramp's two (stable and canary) put back as in the snapshot: removed when the
 * snapshot had none of that name, restored when it had. Subsets others added or changed since are
 * kept, so cleanup does not undo someone else's edit. Undefined when nothing is left and the
 * snapshot had no `subsets` field.
 */
export function restoreSubsets(current: Subset[] | undefined, snapshot: Subset[] | undefined, routing: SubsetRouting): Subset[] | undefined {
  const ours = new Set([routing.stableSubset, routing.canarySubset]);
  const before = new Map((snapshot ?? []).map((s) => [s.name, s]));
  const out: Subset[] = [];
  for (const s of current ?? []) {
    if (!ours.has(s.name)) out.push(s);
    else if (before.has(s.name)) out.push(before.get(s.name)!);
  }
  // One of Ramp's subsets deleted since the snapshot comes back where it was.
  for (const [i, s] of (snapshot ?? []).entries()) {
    if (ours.has(s.name) && !out.some((o) => o.name === s.name)) out.splice(Math.min(i, out.length), 0, s);
  }
  return out.length === 0 && snapshot === undefined ? undefined : out;
}

/** JSON Patch setting the DestinationRule's subsets (removing the field when `subsets` is undefined); [] when unchanged. */
export function buildSubsetsPatch(dr: DestinationRule, subsets: Subset[] | undefined): JsonPatchOp[] {
  const current = dr.spec?.subsets;
  if (jsonEqual(current, subsets)) return [];
  const guard = [versionGuard(dr.metadata, 'DestinationRule')];
  if (subsets === undefined) return [...guard, { op: 'remove', path: '/spec/subsets' }];
  return [...guard, { op: current === undefined ? 'add' : 'replace', path: '/spec/subsets', value: subsets }];
}
