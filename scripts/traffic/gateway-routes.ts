/**
 * How a Gateway API implementation turns an HTTPRoute or GRPCRoute into a backend, as pure
 * functions over the route object the traffic generator reads: the request picks a rule by the
 * route's matches (Gateway API's precedence among matches), the rule picks a backendRef by weight,
 * and the backendRef names a Service of the route's namespace whose ready endpoints answer (the
 * endpoint part is mesh.ts' `resolveEntry`, shared with Istio).
 *
 * Matching covers HTTPRoute path (Exact, PathPrefix), method, headers and query parameters
 * (Exact, RegularExpression) and GRPCRoute method (Exact: service, method) and headers (Exact,
 * RegularExpression). RegularExpression is implementation-specific; it is read as Envoy (and so
 * Contour) reads it: RE2 matched against the whole value, which JavaScript's engine agrees with
 * for the patterns Ramp writes. A path RegularExpression never matches here, so a test cannot
 * depend on a guess.
 *
 * A rule's RequestMirror filters and the Set-Cookie of its ResponseHeaderModifier filters (on the
 * rule or on a backendRef) are read too: the generator mirrors and sets cookies as the gateway would.
 */

/** The route kinds the generator follows (gateway.networking.k8s.io/v1). */
export const GATEWAY_ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'] as const;
export type GatewayRouteKind = (typeof GATEWAY_ROUTE_KINDS)[number];

/** The plural of each kind in the API's paths. */
export const GATEWAY_ROUTE_PLURALS: Readonly<Record<GatewayRouteKind, string>> = { HTTPRoute: 'httproutes', GRPCRoute: 'grpcroutes' };

/** The weight of a backendRef that sets none (Gateway API's default). */
export const DEFAULT_BACKEND_WEIGHT = 1;

/** One request the generator sends: its path (for gRPC `/<service>/<method>`), method, headers, query parameters and cookies. */
export interface GatewayRequest {
  /** The path, optionally with `?query`, whose parameters join `query`. */
  path: string;
  /** HTTP method; default GET (gRPC: POST, which is what gRPC sends). */
  method?: string;
  headers?: Readonly<Record<string, string>>;
  /** Query parameters besides those in `path`. */
  query?: Readonly<Record<string, string>>;
  /** Cookies sent in the Cookie header, after any the `headers` give it. */
  cookies?: Readonly<Record<string, string>>;
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
  /** Set-Cookie values its responses carry (ResponseHeaderModifier filters of the ref and of its rule). */
  setCookies?: string[];
}

/** A RequestMirror filter: a copy of `percent` % of the rule's requests goes to a Service port, its response discarded. */
export interface GatewayMirror {
  service: string;
  port?: number;
  /** 0..100. */
  percent: number;
}

/** One rule of the route: its name (or index) and weighted backendRefs. */
export interface GatewayRule {
  /** The rule's `name`, or `#<index>` when it has none. */
  label: string;
  index: number;
  backends: BackendRefEntry[];
  /** Its RequestMirror filters. */
  mirrors: GatewayMirror[];
}

/** Thrown when the route cannot be followed (not an object with rules). */
export class GatewayRouteError extends Error {
  override name = 'GatewayRouteError';
}

interface RawMatch {
  path?: { type?: unknown; value?: unknown };
  method?: unknown;
  headers?: { type?: unknown; name?: unknown; value?: unknown }[];
  queryParams?: { type?: unknown; name?: unknown; value?: unknown }[];
}

interface RawFilter {
  type?: unknown;
  requestMirror?: { backendRef?: { name?: unknown; port?: unknown }; percent?: unknown; fraction?: { numerator?: unknown; denominator?: unknown } };
  responseHeaderModifier?: { set?: { name?: unknown; value?: unknown }[]; add?: { name?: unknown; value?: unknown }[] };
}

interface RawGrpcMatch {
  method?: { type?: unknown; service?: unknown; method?: unknown };
  headers?: { type?: unknown; name?: unknown; value?: unknown }[];
}

interface RawRule {
  name?: unknown;
  matches?: unknown;
  backendRefs?: { group?: unknown; kind?: unknown; name?: unknown; namespace?: unknown; port?: unknown; weight?: unknown; filters?: unknown }[];
  filters?: unknown;
}

const filtersOf = (x: unknown): RawFilter[] => (Array.isArray(x) ? (x as RawFilter[]) : []);

/** The Set-Cookie values ResponseHeaderModifier filters set or add (header names are case-insensitive). */
export function setCookiesOfFilters(filters: unknown): string[] {
  const out: string[] = [];
  for (const f of filtersOf(filters)) {
    if (f.type !== 'ResponseHeaderModifier') continue;
    for (const h of [...(f.responseHeaderModifier?.set ?? []), ...(f.responseHeaderModifier?.add ?? [])]) {
      if (typeof h.name === 'string' && h.name.toLowerCase() === 'set-cookie' && typeof h.value === 'string') out.push(h.value);
    }
  }
  return out;
}

/**
 * The RequestMirror filters of a rule. `percent` wins over `fraction` (denominator default 100);
 * with neither every request is mirrored, as Gateway API says.
 */
export function mirrorsOfFilters(filters: unknown): GatewayMirror[] {
  const out: GatewayMirror[] = [];
  for (const f of filtersOf(filters)) {
    if (f.type !== 'RequestMirror' || typeof f.requestMirror?.backendRef?.name !== 'string') continue;
    const m = f.requestMirror;
    let percent = 100;
    if (typeof m.percent === 'number') percent = m.percent;
    else if (typeof m.fraction?.numerator === 'number') {
      const den = typeof m.fraction.denominator === 'number' ? m.fraction.denominator : 100;
      percent = den > 0 ? (100 * m.fraction.numerator) / den : 0;
    }
    const port = m.backendRef!.port;
    out.push({ service: m.backendRef!.name as string, ...(typeof port === 'number' ? { port } : {}), percent: Math.min(100, Math.max(0, percent)) });
  }
  return out;
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
    mirrors: mirrorsOfFilters(r.filters),
    backends: (Array.isArray(r.backendRefs) ? r.backendRefs : []).map((b): BackendRefEntry => {
      const service = typeof b.name === 'string' ? b.name : '';
      const weight = typeof b.weight === 'number' ? b.weight : DEFAULT_BACKEND_WEIGHT;
      const port = typeof b.port === 'number' ? b.port : undefined;
      const entry: BackendRefEntry = { service, weight, ...(port === undefined ? {} : { port }) };
      const cookies = [...setCookiesOfFilters(r.filters), ...setCookiesOfFilters(b.filters)];
      if (cookies.length > 0) entry.setCookies = cookies;
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

/**
 * The header a request carries under `name` (names are case-insensitive). Its `cookies` are part
 * of the Cookie header, after any cookie the headers give, as a client joins them.
 */
export function requestHeader(req: GatewayRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  let value: string | undefined;
  for (const [k, v] of Object.entries(req.headers ?? {})) if (k.toLowerCase() === lower) value = v;
  if (lower === 'cookie' && req.cookies !== undefined && Object.keys(req.cookies).length > 0) {
    const jar = Object.entries(req.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
    value = value === undefined || value === '' ? jar : `${value}; ${jar}`;
  }
  return value;
}

/** The query parameters of a request: those of its path, then its `query` (which wins on a repeated name). Undecodable text is kept as is. */
export function requestQuery(req: GatewayRequest): Record<string, string> {
  const out: Record<string, string> = {};
  const q = req.path.indexOf('?');
  if (q >= 0) {
    for (const part of req.path.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const decode = (x: string) => {
        try {
          return decodeURIComponent(x.replace(/\+/g, ' '));
        } catch {
          return x;
        }
      };
      const name = decode(eq < 0 ? part : part.slice(0, eq));
      // The first occurrence counts, as Envoy's query parameter matcher reads it.
      if (!Object.hasOwn(out, name)) out[name] = decode(eq < 0 ? '' : part.slice(eq + 1));
    }
  }
  return { ...out, ...(req.query ?? {}) };
}

/** Whether `value` is wholly matched by `pattern` (Envoy's RE2 matches the whole value); an invalid pattern matches nothing. */
export function fullRegexMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u').test(value);
  } catch {
    return false;
  }
}

/** Whether a value satisfies an Exact or RegularExpression match (type default Exact); another type never does. */
function valueMatches(type: unknown, want: unknown, value: string | undefined): boolean {
  if (value === undefined || typeof want !== 'string') return false;
  if ((type ?? 'Exact') === 'Exact') return value === want;
  if (type === 'RegularExpression') return fullRegexMatch(want, value);
  return false;
}

/** Whether the request satisfies every header match. */
function headersMatch(req: GatewayRequest, headers: RawMatch['headers']): boolean {
  return (headers ?? []).every((h) => typeof h.name === 'string' && valueMatches(h.type, h.value, requestHeader(req, h.name)));
}

/** Whether the request satisfies every query parameter match (names are case-sensitive, as Gateway API says). */
function queryMatch(req: GatewayRequest, params: RawMatch['queryParams']): boolean {
  if (!Array.isArray(params) || params.length === 0) return true;
  const query = requestQuery(req);
  return params.every((p) => typeof p.name === 'string' && valueMatches(p.type, p.value, Object.hasOwn(query, p.name) ? query[p.name] : undefined));
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
  if (!queryMatch(req, match.queryParams)) return undefined;
  if (!headersMatch(req, match.headers)) return undefined;
  return [type === 'Exact' ? 1 : 0, value.length, typeof match.method === 'string' ? 1 : 0, match.headers?.length ?? 0, match.queryParams?.length ?? 0];
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
