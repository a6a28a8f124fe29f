/**
 * How a Gateway API implementation turns an HTTPRoute or GRPCRoute into a backend, as pure
 * functions over the route object the traffic generator reads: the request picks a rule by the
 * route's matches (Gateway API's precedence among matches), the rule picks a backendRef by weight,
 * and the backendRef names a Service of the route's namespace whose ready endpoints answer (the
 * endpoint part is mesh.ts' `resolveEntry`, shared with Istio).
 *
 * Matching covers what the standard channel defines as core: HTTPRoute path (Exact, PathPrefix),
 * headers (Exact) and method; GRPCRoute method (Exact: service, method) and headers (Exact).
 * Extended match types (RegularExpression, query parameters) are implementation-specific; a match
 * that uses one never matches here, so a test cannot depend on a guess.
 */

/** The route kinds the generator follows (gateway.networking.k8s.io/v1). */
export const GATEWAY_ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'] as const;
export type GatewayRouteKind = (typeof GATEWAY_ROUTE_KINDS)[number];

/** The plural of each kind in the API's paths. */
export const GATEWAY_ROUTE_PLURALS: Readonly<Record<GatewayRouteKind, string>> = { HTTPRoute: 'httproutes', GRPCRoute: 'grpcroutes' };

/** The weight of a backendRef that sets none (Gateway API's default). */
export const DEFAULT_BACKEND_WEIGHT = 1;

/** One request the generator sends: its path (for gRPC `/<service>/<method>`), method and headers. */
export interface GatewayRequest {
  path: string;
  /** HTTP method; default GET (gRPC: POST, which is what gRPC sends). */
  method?: string;
  headers?: Readonly<Record<string, string>>;
}

/** One backendRef of a rule, as read. */
export interface BackendRefEntry {
  /** The Service's name. */
  service: string;
  /** The Service port the ref names; undefined when the ref names none (then it is invalid). */
  port?: number;
  /** Its weight: a share of the sum of the rule's weights. */
  weight: number;
  /** Why requests sent to it are answered 500 by the gateway (a ref Gateway API calls invalid), if so. */
  invalid?: string;
}

/** One rule of the route: its name (or index) and weighted backendRefs. */
export interface GatewayRule {
  /** The rule's `name`, or `#<index>` when it has none. */
  label: string;
  index: number;
  backends: BackendRefEntry[];
}

/** Thrown when the route cannot be followed (not an object with rules). */
export class GatewayRouteError extends Error {
  override name = 'GatewayRouteError';
}

interface RawMatch {
  path?: { type?: unknown; value?: unknown };
  method?: unknown;
  headers?: { type?: unknown; name?: unknown; value?: unknown }[];
  queryParams?: unknown[];
}

interface RawGrpcMatch {
  method?: { type?: unknown; service?: unknown; method?: unknown };
  headers?: { type?: unknown; name?: unknown; value?: unknown }[];
}

interface RawRule {
  name?: unknown;
  matches?: unknown;
  backendRefs?: { group?: unknown; kind?: unknown; name?: unknown; namespace?: unknown; port?: unknown; weight?: unknown }[];
}

function rawRules(route: unknown): RawRule[] {
  const rules = (route as { spec?: { rules?: unknown } } | undefined)?.spec?.rules;
  if (!Array.isArray(rules) || rules.length === 0) throw new GatewayRouteError('it has no rules');
  return rules as RawRule[];
}

const ruleLabel = (r: RawRule, i: number) => (typeof r.name === 'string' && r.name !== '' ? r.name : `#${i}`);

/**
 * The rules of a route with their backendRefs. A ref without weight has 1; a ref that is not a core
 * Service of the route's namespace, or names no port, is kept with the reason it is invalid
 * (Gateway API: requests it would get are answered 500).
 */
export function gatewayRules(route: unknown, namespace: string): GatewayRule[] {
  return rawRules(route).map((r, index) => ({
    label: ruleLabel(r, index),
    index,
    backends: (Array.isArray(r.backendRefs) ? r.backendRefs : []).map((b): BackendRefEntry => {
      const service = typeof b.name === 'string' ? b.name : '';
      const weight = typeof b.weight === 'number' ? b.weight : DEFAULT_BACKEND_WEIGHT;
      const port = typeof b.port === 'number' ? b.port : undefined;
      const entry: BackendRefEntry = { service, weight, ...(port === undefined ? {} : { port }) };
      const text = (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x));
      const group = b.group ?? '';
      const kind = b.kind ?? 'Service';
      if (group !== '' || kind !== 'Service') entry.invalid = `backendRef ${text(group) || 'core'}/${text(kind)} ${service} is not a Service`;
      else if (b.namespace !== undefined && b.namespace !== namespace) entry.invalid = `backendRef ${text(b.namespace)}/${service} is in another namespace (needs a ReferenceGrant, which the generator does not read)`;
      else if (service === '') entry.invalid = 'backendRef has no name';
      else if (port === undefined) entry.invalid = `backendRef ${service} names no port (required for a Service)`;
      return entry;
    }),
  }));
}

// ---- matching ----

/** Path elements of a path: split on "/", empty elements dropped (so a trailing "/" does not count). */
function elements(path: string): string[] {
  return path.split('?')[0]!.split('/').filter((e) => e !== '');
}

/** Whether `path` has `prefix` as a whole-element prefix (Gateway API PathPrefix: `/foo` matches `/foo/bar`, not `/foobar`). */
export function pathHasPrefix(path: string, prefix: string): boolean {
  const p = elements(prefix);
  const e = elements(path);
  return p.length <= e.length && p.every((x, i) => e[i] === x);
}

/** The header a request carries under `name` (names are case-insensitive). */
function header(req: GatewayRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(req.headers ?? {})) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Whether every header match is an Exact one the request satisfies (a match of another type never is). */
function headersMatch(req: GatewayRequest, headers: RawMatch['headers']): boolean {
  for (const h of headers ?? []) {
    if ((h.type ?? 'Exact') !== 'Exact' || typeof h.name !== 'string') return false;
    if (header(req, h.name) !== h.value) return false;
  }
  return true;
}

/**
 * How specific a satisfied match is, compared element by element, larger first: Gateway API's
 * precedence among an HTTPRoute's matches (exact path, longest prefix, method, most headers, most
 * query parameters); ties go to the earlier rule.
 */
export type MatchRank = number[];

/** The rank of an HTTPRoute match the request satisfies, or undefined. A rule without matches matches every path (PathPrefix "/"). */
export function httpMatchRank(req: GatewayRequest, match: RawMatch): MatchRank | undefined {
  const type = match.path?.type ?? 'PathPrefix';
  const value = typeof match.path?.value === 'string' ? match.path.value : '/';
  const path = req.path.split('?')[0]!;
  if (type === 'Exact') {
    if (path !== value) return undefined;
  } else if (type === 'PathPrefix') {
    if (!pathHasPrefix(path, value)) return undefined;
  } else {
    return undefined;
  }
  if (typeof match.method === 'string' && match.method !== (req.method ?? 'GET')) return undefined;
  if (Array.isArray(match.queryParams) && match.queryParams.length > 0) return undefined;
  if (!headersMatch(req, match.headers)) return undefined;
  return [type === 'Exact' ? 1 : 0, value.length, typeof match.method === 'string' ? 1 : 0, match.headers?.length ?? 0];
}

/**
 * The rank of a GRPCRoute match the request (path `/<service>/<method>`) satisfies, or undefined.
 * A match without method matches every method; one with only `service` every method of it.
 */
export function grpcMatchRank(req: GatewayRequest, match: RawGrpcMatch): MatchRank | undefined {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(req.path.split('?')[0]!);
  const m0 = match.method;
  if (m0 !== undefined) {
    if ((m0.type ?? 'Exact') !== 'Exact' || !m) return undefined;
    if (typeof m0.service === 'string' && m0.service !== m[1]) return undefined;
    if (typeof m0.method === 'string' && m0.method !== m[2]) return undefined;
  }
  if (!headersMatch(req, match.headers)) return undefined;
  const len = (x: unknown) => (typeof x === 'string' ? x.length : 0);
  return [len(m0?.service), len(m0?.method), match.headers?.length ?? 0];
}

function compareRanks(a: MatchRank, b: MatchRank): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The index of the rule that takes `req`, or -1 when no rule matches (the gateway answers 404).
 * Among every satisfied match of every rule the most specific wins; ties go to the earlier rule.
 */
export function matchRule(route: unknown, kind: GatewayRouteKind, req: GatewayRequest): number {
  let best = -1;
  let bestRank: MatchRank | undefined;
  rawRules(route).forEach((rule, i) => {
    const matches: object[] = Array.isArray(rule.matches) && rule.matches.length > 0 ? (rule.matches as object[]) : [{}];
    for (const match of matches) {
      const rank = kind === 'GRPCRoute' ? grpcMatchRank(req, match) : httpMatchRank(req, match);
      if (rank !== undefined && (bestRank === undefined || compareRanks(rank, bestRank) > 0)) {
        best = i;
        bestRank = rank;
      }
    }
  });
  return best;
}

/** Contour's Envoy stat name of the cluster for a Service port: `<namespace>_<service>_<port>`. */
export function contourClusterName(namespace: string, service: string, port: number): string {
  return `${namespace}_${service}_${port}`;
}
