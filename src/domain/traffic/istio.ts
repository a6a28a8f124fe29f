/**
 * Pure Istio routing logic: which HTTP routes of a VirtualService Ramp manages, what their weighted
 * `route` array looks like for a canary weight, and the JSON Patches that change only those routes
 * (or a DestinationRule's subsets). The router activity reads objects, calls these, and writes the
 * result; nothing here does I/O, so every decision is table-testable.
 */
import type { Routing, TrafficSpec } from '../spec/schema';

// ---- narrow local types (only the fields Ramp reads; everything else is carried through) ----

/** The metadata fields Ramp reads. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  uid?: string;
  labels?: Record<string, string>;
}

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
  match?: unknown[];
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
  metadata?: ObjectMeta;
  spec?: { host?: string; subsets?: Subset[]; [field: string]: unknown };
}

/** One port of a core/v1 Service. */
export interface ServicePort {
  name?: string;
  protocol?: string;
  appProtocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

/** A core/v1 Service, as far as Ramp reads it. */
export interface Service {
  metadata?: ObjectMeta;
  spec?: { ports?: ServicePort[]; selector?: Record<string, string>; [field: string]: unknown };
}

/** One RFC 6902 operation; the subset Ramp writes. */
export interface JsonPatchOp {
  op: 'test' | 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** A managed HTTP route: its position in `spec.http`, its name ('' when unnamed) and its destinations. */
export interface ManagedRoute {
  index: number;
  name: string;
  route: RouteDestination[];
}

/** Split of one route in percent. Same shape as the router's `Weights`. */
export interface RouteWeights {
  stable: number;
  canary: number;
}

/** A managed route as recorded in a TrafficSnapshot. */
export interface SnapshotRoute {
  name: string;
  route: unknown[];
}

export type SubsetRouting = Extract<Routing, { mode: 'subset' }>;

/** The version label that tells stable pods from canary pods. */
export interface VersionLabel {
  key: string;
  stable: string;
  canary: string;
}

/** Label Ramp puts on objects it creates, so cleanup only deletes its own. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Value of MANAGED_BY_LABEL on Ramp's objects. */
export const MANAGED_BY = 'ramp';

/** Thrown when a VirtualService, DestinationRule or Service lacks what the traffic spec needs; `problems` lists each, with its fix. */
export class TrafficConfigError extends Error {
  override name = 'TrafficConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

// ---- small helpers -------------------------------------------------------------------------

/** JSON equality: key order is ignored and an undefined member equals a missing one. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!jsonEqual(ao[k], bo[k])) return false;
  return true;
}

function objectId(kind: string, meta: ObjectMeta | undefined): string {
  return `${kind} ${meta?.namespace ?? '?'}/${meta?.name ?? '?'}`;
}

function routeLabel(r: HttpRoute | undefined, index: number): string {
  return r?.name ? `"${r.name}"` : `#${index} (unnamed)`;
}

function listRoutes(http: HttpRoute[]): string {
  return http.length === 0 ? 'none' : http.map((r, i) => (r.name ? r.name : `#${i} (unnamed)`)).join(', ');
}

function describeDestination(d: IstioDestination | undefined): string {
  if (!d) return '(no destination)';
  return d.subset ? `${d.host} subset ${d.subset}` : d.host;
}

function hasMatch(r: HttpRoute): boolean {
  return Array.isArray(r.match) && r.match.length > 0;
}

// ---- destinations --------------------------------------------------------------------------

/** The destination of stable traffic: the stable subset of the host, or the stable Service. */
export function stableDestination(traffic: TrafficSpec): { host: string; subset?: string } {
  const r = traffic.routing;
  return r.mode === 'subset' ? { host: traffic.host, subset: r.stableSubset } : { host: r.stableService };
}

/** The destination of canary traffic: the canary subset of the host, or the canary Service. */
export function canaryDestination(traffic: TrafficSpec): { host: string; subset?: string } {
  const r = traffic.routing;
  return r.mode === 'subset' ? { host: traffic.host, subset: r.canarySubset } : { host: r.canaryService };
}

/** Exact match on host and subset, as configured (no short-name/FQDN folding). */
function isDestination(d: IstioDestination | undefined, want: { host: string; subset?: string }): boolean {
  return d !== undefined && d.host === want.host && d.subset === want.subset;
}

// ---- finding the managed routes ------------------------------------------------------------

/**
 * Finds routes by name; '' stands for the default route (the single route without `match`).
 * Never throws: what is missing or ambiguous comes back as problems.
 */
function locate(vs: VirtualService, names: string[]): { routes: (ManagedRoute & { selector: string })[]; problems: string[] } {
  const id = objectId('VirtualService', vs.metadata);
  const http = vs.spec?.http ?? [];
  const routes: (ManagedRoute & { selector: string })[] = [];
  const problems: string[] = [];
  if (http.length === 0) {
    return { routes, problems: [`${id} has no HTTP routes (spec.http is empty); Ramp shifts traffic in HTTP routes only: add one sending traffic to the stable destination`] };
  }
  const wanted = names.length === 0 ? [''] : [...new Set(names)];
  for (const name of wanted) {
    const candidates = http.flatMap((r, i) => ((name === '' ? !hasMatch(r) : r.name === name) ? [i] : []));
    if (candidates.length === 0) {
      problems.push(
        name === ''
          ? `${id} has no default HTTP route (one without match) (routes: ${listRoutes(http)}); set spec.traffic.virtualService.routes to the routes Ramp should manage`
          : `${id} has no HTTP route named "${name}" (routes: ${listRoutes(http)}); set spec.traffic.virtualService.routes to one of them`,
      );
      continue;
    }
    if (candidates.length > 1) {
      const which = candidates.map((i) => routeLabel(http[i], i)).join(', ');
      problems.push(
        name === ''
          ? `${id} has ${candidates.length} HTTP routes without match (${which}), so the default route is ambiguous; name the one to manage in spec.traffic.virtualService.routes`
          : `${id} has ${candidates.length} HTTP routes named "${name}" (${which}); give each route a unique name`,
      );
      continue;
    }
    const index = candidates[0]!;
    const r = http[index]!;
    if (!Array.isArray(r.route) || r.route.length === 0) {
      problems.push(`${id} HTTP route ${routeLabel(r, index)} has no route destinations (a redirect or direct response?); manage a route that forwards to the stable destination`);
      continue;
    }
    routes.push({ index, name: r.name ?? '', route: r.route, selector: name });
  }
  return { routes, problems };
}

/** Problems with the destinations of one managed route: the stable one must be there, and nothing but stable and canary. */
function destinationProblems(vs: VirtualService, r: ManagedRoute, traffic: TrafficSpec): string[] {
  const id = objectId('VirtualService', vs.metadata);
  const label = routeLabel(vs.spec?.http?.[r.index], r.index);
  const stable = stableDestination(traffic);
  const canary = canaryDestination(traffic);
  const all = r.route.map((d) => describeDestination(d.destination)).join(', ');
  if (!r.route.some((d) => isDestination(d.destination, stable))) {
    const fix = traffic.routing.mode === 'subset'
      ? 'route it to that host and subset, or set spec.traffic.host and spec.traffic.routing.stableSubset to match'
      : 'route it to that Service, or set spec.traffic.routing.stableService to match';
    // The destinations are listed here already; a second "other destinations" problem would repeat them.
    return [`${id} HTTP route ${label} has no destination ${describeDestination(stable)} (destinations: ${all}); ${fix}`];
  }
  const others = r.route.filter((d) => !isDestination(d.destination, stable) && !isDestination(d.destination, canary));
  if (others.length === 0) return [];
  return [
    `${id} HTTP route ${label} also sends traffic to ${others.map((d) => describeDestination(d.destination)).join(', ')}; Ramp splits a route between stable and canary only: move other destinations to a route of their own`,
  ];
}

/** Every problem preventing Ramp from managing the VirtualService's routes; empty when it can. */
export function inspectVirtualService(vs: VirtualService, traffic: TrafficSpec): string[] {
  const { routes, problems } = locate(vs, traffic.virtualService.routes);
  return [...problems, ...routes.flatMap((r) => destinationProblems(vs, r, traffic))];
}

/** The managed routes (by name from traffic.virtualService.routes, or the default route); throws TrafficConfigError naming every problem. */
export function findManagedRoutes(vs: VirtualService, traffic: TrafficSpec): ManagedRoute[] {
  const { routes, problems } = locate(vs, traffic.virtualService.routes);
  const all = [...problems, ...routes.flatMap((r) => destinationProblems(vs, r, traffic))];
  if (all.length > 0) throw new TrafficConfigError(all);
  return routes;
}

// ---- weights -------------------------------------------------------------------------------

/** Throws RangeError unless w is a whole percentage. */
export function assertWeight(w: number): void {
  if (!Number.isInteger(w) || w < 0 || w > 100) throw new RangeError(`canary weight must be a whole number between 0 and 100, got ${w}`);
}

/**
 * The `route` array of a managed route for a canary weight: the stable entry (with its other fields,
 * such as headers, kept) at 100-w, then the same entry pointed at the canary destination at w.
 * Depends only on the stable entry, so it is the same whether or not a canary entry existed.
 */
export function weightedRoute(original: RouteDestination[], traffic: TrafficSpec, canaryWeight: number): RouteDestination[] {
  assertWeight(canaryWeight);
  const stable = stableDestination(traffic);
  const entry = original.find((d) => isDestination(d.destination, stable));
  if (!entry) {
    throw new TrafficConfigError([`route has no destination ${describeDestination(stable)} (destinations: ${original.map((d) => describeDestination(d.destination)).join(', ')})`]);
  }
  const { destination, weight: _weight, ...rest } = entry;
  const port = traffic.port !== undefined ? { number: traffic.port } : destination.port;
  const at = (want: { host: string; subset?: string }): IstioDestination => {
    const { subset: _subset, port: _port, ...other } = destination;
    return { ...other, host: want.host, ...(want.subset !== undefined ? { subset: want.subset } : {}), ...(port !== undefined ? { port } : {}) };
  };
  return [
    { ...rest, destination: at(stable), weight: 100 - canaryWeight },
    { ...rest, destination: at(canaryDestination(traffic)), weight: canaryWeight },
  ];
}

/**
 * Split of a route array. A destination without a weight gets 100 when it is the only one (Istio's
 * rule) and 0 otherwise.
 */
export function routeWeights(route: RouteDestination[], traffic: TrafficSpec): RouteWeights {
  const stable = stableDestination(traffic);
  const canary = canaryDestination(traffic);
  const weightOf = (d: RouteDestination) => d.weight ?? (route.length === 1 ? 100 : 0);
  const sum = (want: { host: string; subset?: string }) =>
    route.filter((d) => isDestination(d.destination, want)).reduce((acc, d) => acc + weightOf(d), 0);
  return { stable: sum(stable), canary: sum(canary) };
}

/** The split of every managed route, in spec.http order. */
export function readWeights(vs: VirtualService, traffic: TrafficSpec): { name: string; weights: RouteWeights }[] {
  return findManagedRoutes(vs, traffic).map((r) => ({ name: r.name, weights: routeWeights(r.route, traffic) }));
}

// ---- patches -------------------------------------------------------------------------------

/**
 * Guards for one write: the object must still be the version that was read, and every replaced
 * route must still sit at its index. A concurrent edit makes the patch fail instead of being overwritten.
 */
function guards(meta: ObjectMeta | undefined, kind: string, http: HttpRoute[] | undefined, indexes: number[]): JsonPatchOp[] {
  if (!meta?.resourceVersion) {
    throw new Error(`${objectId(kind, meta)} has no metadata.resourceVersion; patches must be built from an object read from the apiserver`);
  }
  const ops: JsonPatchOp[] = [{ op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion }];
  for (const i of indexes) {
    const name = http?.[i]?.name;
    // An unnamed default route has no name to test; the resourceVersion test covers it.
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
export function buildSetWeightPatch(vs: VirtualService, traffic: TrafficSpec, canaryWeight: number): JsonPatchOp[] {
  const routes = findManagedRoutes(vs, traffic);
  return routesPatch(vs, routes.map((r) => ({ index: r.index, route: weightedRoute(r.route, traffic, canaryWeight) })));
}

/** The managed routes as they are now, for a TrafficSnapshot. */
export function snapshotRoutes(vs: VirtualService, traffic: TrafficSpec): SnapshotRoute[] {
  return findManagedRoutes(vs, traffic).map((r) => ({ name: r.name, route: cloneJson(r.route) }));
}

/**
 * JSON Patch putting the snapshot's routes back exactly; no ops when they already are. A managed
 * route that no longer exists routes nothing to the canary: it is listed in `missing`, not an error.
 */
export function buildRestoreRoutesPatch(vs: VirtualService, routes: SnapshotRoute[]): { ops: JsonPatchOp[]; missing: string[] } {
  const missing: string[] = [];
  const found: (ManagedRoute & { selector: string })[] = [];
  for (const r of routes) {
    const { routes: one, problems } = locate(vs, [r.name]);
    if (problems.length > 0) missing.push(r.name || 'default');
    else found.push(...one);
  }
  const bySelector = new Map(routes.map((r) => [r.name, r.route]));
  return { ops: routesPatch(vs, found.map((f) => ({ index: f.index, route: bySelector.get(f.selector)! }))), missing };
}

/** Names of the HTTP routes (any, not only managed ones) that still send traffic (weight > 0) to the canary destination. */
export function routesToCanary(vs: VirtualService, traffic: TrafficSpec): string[] {
  const canary = canaryDestination(traffic);
  const http = vs.spec?.http ?? [];
  return http.flatMap((r, i) => {
    const route = r.route ?? [];
    const sends = route.some((d) => isDestination(d.destination, canary) && (d.weight ?? (route.length === 1 ? 100 : 0)) > 0);
    return sends ? [r.name ? r.name : `#${i} (unnamed)`] : [];
  });
}

function cloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

// ---- DestinationRule -----------------------------------------------------------------------

/** True when two service hosts name the same Service in `namespace` (short name, name.ns, name.ns.svc, or FQDN). */
export function sameServiceHost(a: string, b: string, namespace: string): boolean {
  const norm = (h: string) => {
    const parts = h.split('.');
    if (parts.length === 1) return `${h}.${namespace}`;
    if (parts.length >= 3 && parts[2] === 'svc') return `${parts[0]}.${parts[1]}`;
    return h;
  };
  return a === b || norm(a) === norm(b);
}

/** Problems preventing Ramp from using the DestinationRule; empty when it can. */
export function inspectDestinationRule(dr: DestinationRule, traffic: TrafficSpec, namespace: string): string[] {
  const host = dr.spec?.host;
  if (host !== undefined && sameServiceHost(host, traffic.host, namespace)) return [];
  return [
    `${objectId('DestinationRule', dr.metadata)} is for host ${JSON.stringify(host ?? '')}, not ${JSON.stringify(traffic.host)}; set spec.traffic.host to the DestinationRule's host, or spec.traffic.routing.destinationRule to the rule for ${traffic.host}`,
  ];
}

/**
 * Subsets with the stable and canary subsets present and selecting the version label; other subsets,
 * and other labels and fields of these two, are kept. New subsets go at the end.
 */
export function ensureSubsets(current: Subset[] | undefined, routing: SubsetRouting, versionLabel: VersionLabel): Subset[] {
  const out = (current ?? []).map((s) => ({ ...s }));
  const ensure = (name: string, value: string) => {
    const existing = out.find((s) => s.name === name);
    if (existing) existing.labels = { ...existing.labels, [versionLabel.key]: value };
    else out.push({ name, labels: { [versionLabel.key]: value } });
  };
  ensure(routing.stableSubset, versionLabel.stable);
  ensure(routing.canarySubset, versionLabel.canary);
  return out;
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
  const guard = guards(dr.metadata, 'DestinationRule', undefined, []);
  if (subsets === undefined) return [...guard, { op: 'remove', path: '/spec/subsets' }];
  return [...guard, { op: current === undefined ? 'add' : 'replace', path: '/spec/subsets', value: subsets }];
}

// ---- canary Service ------------------------------------------------------------------------

/**
 * The canary Service for service mode: the target Service's ports, the stable Service's selector with
 * the version label set to the canary value, labelled as Ramp's. Throws TrafficConfigError when the
 * stable Service selects no pods by label (headless without selector, ExternalName).
 */
export function buildCanaryService(input: {
  name: string;
  namespace: string;
  target: Service;
  stable: Service;
  versionLabel: VersionLabel;
}): Service & { metadata: ObjectMeta; spec: { ports: ServicePort[]; selector: Record<string, string> } } {
  const { name, namespace, target, stable, versionLabel } = input;
  const selector = stable.spec?.selector;
  const problems: string[] = [];
  if (!selector || Object.keys(selector).length === 0) {
    problems.push(`${objectId('Service', stable.metadata)} has no selector, so Ramp cannot derive the canary Service ${namespace}/${name} from it; create ${name} yourself, selecting the canary pods`);
  }
  const ports = target.spec?.ports ?? [];
  if (ports.length === 0) {
    problems.push(`${objectId('Service', target.metadata)} has no ports to copy to the canary Service ${namespace}/${name}; create ${name} yourself`);
  }
  if (problems.length > 0) throw new TrafficConfigError(problems);
  return {
    metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    spec: {
      // nodePort is cluster-unique and the canary Service is ClusterIP, so it is not copied.
      ports: ports.map(({ nodePort: _nodePort, ...p }) => ({ ...p })),
      selector: { ...selector, [versionLabel.key]: versionLabel.canary },
    },
  };
}
