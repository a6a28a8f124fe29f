/**
 * How an Istio sidecar picks a VirtualService HTTP route for a request, and what that route does
 * besides its weighted destinations: mirroring and response header operations. Pure functions
 * over the VirtualService object the traffic generator reads; mesh.ts turns a destination into pods.
 *
 * Istio takes the first http entry, in order, that has no `match` or one of whose `match` elements
 * the request fully satisfies. Within an element, `uri`, `method`, `headers` and `queryParams` are
 * evaluated (exact, prefix, regex; regex is RE2 on the whole value). An element naming anything
 * else (authority, port, sourceLabels, gateways, withoutHeaders …) never matches here, so a test
 * cannot depend on a guess.
 */
import { fullRegexMatch, requestHeader, requestQuery, type GatewayRequest } from './gateway-routes';
import { RouteError, type RouteEntry } from './mesh';

/** The fields of a match element the generator evaluates; others make the element never match. */
const EVALUATED = new Set(['name', 'uri', 'method', 'headers', 'queryParams', 'ignoreUriCase']);

/** Istio's StringMatch: one of exact, prefix, regex. */
interface StringMatchLike {
  exact?: unknown;
  prefix?: unknown;
  regex?: unknown;
}

/** Whether `value` satisfies an Istio StringMatch; a missing value, or a match of none of the three kinds, never does. */
export function stringMatches(m: unknown, value: string | undefined, ignoreCase = false): boolean {
  if (value === undefined || m === null || typeof m !== 'object') return false;
  const sm = m as StringMatchLike;
  const v = ignoreCase ? value.toLowerCase() : value;
  const want = (x: string) => (ignoreCase ? x.toLowerCase() : x);
  if (typeof sm.exact === 'string') return v === want(sm.exact);
  if (typeof sm.prefix === 'string') return v.startsWith(want(sm.prefix));
  if (typeof sm.regex === 'string') return fullRegexMatch(sm.regex, value);
  return false;
}

/** Whether the request satisfies one HTTPMatchRequest element of a VirtualService route. */
export function istioMatchSatisfied(req: GatewayRequest, match: unknown): boolean {
  if (match === null || typeof match !== 'object') return false;
  const m = match as { uri?: unknown; method?: unknown; headers?: unknown; queryParams?: unknown; ignoreUriCase?: unknown };
  if (Object.keys(m).some((k) => !EVALUATED.has(k))) return false;
  if (m.uri !== undefined && !stringMatches(m.uri, req.path.split('?')[0], m.ignoreUriCase === true)) return false;
  if (m.method !== undefined && !stringMatches(m.method, req.method ?? 'GET')) return false;
  for (const [name, sm] of Object.entries((m.headers ?? {}) as Record<string, unknown>)) {
    if (!stringMatches(sm, requestHeader(req, name))) return false;
  }
  const query = requestQuery(req);
  for (const [name, sm] of Object.entries((m.queryParams ?? {}) as Record<string, unknown>)) {
    if (!stringMatches(sm, Object.hasOwn(query, name) ? query[name] : undefined)) return false;
  }
  return true;
}

/** The index of the http entry that takes the request (the first whose match is empty or satisfied), or -1: the sidecar answers 404. */
export function matchHttpRoute(http: readonly { match?: unknown }[], req: GatewayRequest): number {
  return http.findIndex((r) => r.match === undefined || r.match === null || (Array.isArray(r.match) && (r.match.length === 0 || r.match.some((m) => istioMatchSatisfied(req, m)))));
}

/** Istio's Headers: operations on the request and on the response. */
interface HeadersLike {
  response?: { set?: Record<string, unknown>; add?: Record<string, unknown> };
}

/** The Set-Cookie values a Headers object's response operations set or add (names are case-insensitive). */
export function setCookiesOfHeaders(headers: unknown): string[] {
  const r = (headers as HeadersLike | undefined)?.response;
  const out: string[] = [];
  for (const ops of [r?.set, r?.add]) {
    for (const [name, value] of Object.entries(ops ?? {})) if (name.toLowerCase() === 'set-cookie' && typeof value === 'string') out.push(value);
  }
  return out;
}

/** A route's mirror: a copy of `percent` % of its requests goes to host (and subset), its response discarded. */
export interface IstioMirror {
  host: string;
  subset?: string;
  port?: number;
  /** 0..100. */
  percent: number;
}

/** One destination of an http entry, with the Set-Cookie its responses carry. */
export interface IstioDestination extends RouteEntry {
  setCookies?: string[];
}

/** What an http entry does with a request it takes. */
export interface IstioHttpRoute {
  /** Its `name`, or `#<index>`. */
  label: string;
  /** Its weighted destinations; empty for a redirect or direct response, which no pod answers. */
  destinations: IstioDestination[];
  mirror?: IstioMirror;
}

interface RawHttpRoute {
  name?: unknown;
  headers?: unknown;
  route?: { destination?: { host?: unknown; subset?: unknown }; weight?: unknown; headers?: unknown }[];
  mirror?: { host?: unknown; subset?: unknown; port?: { number?: unknown } };
  mirrorPercentage?: { value?: unknown };
  mirror_percent?: unknown;
}

/**
 * Every http entry of a VirtualService, in order. Weights as mesh.ts' routeEntries reads them; a
 * destination's Set-Cookie comes from the route's and the destination's response header
 * operations; a mirror without mirrorPercentage mirrors every request (Istio's default).
 * Throws a RouteError when a destination has no host.
 */
export function httpRoutes(vs: unknown): IstioHttpRoute[] {
  const http = (vs as { spec?: { http?: unknown } } | undefined)?.spec?.http;
  return (Array.isArray(http) ? (http as RawHttpRoute[]) : []).map((r, i) => {
    const label = typeof r.name === 'string' ? r.name : `#${i}`;
    const dests = Array.isArray(r.route) ? r.route : [];
    const routeCookies = setCookiesOfHeaders(r.headers);
    const destinations = dests.map((d): IstioDestination => {
      const host = d.destination?.host;
      if (typeof host !== 'string') throw new RouteError(`its route ${label} has an entry without destination.host`);
      const weight = typeof d.weight === 'number' ? d.weight : dests.length === 1 ? 100 : 0;
      const out: IstioDestination = { host, weight };
      if (typeof d.destination?.subset === 'string') out.subset = d.destination.subset;
      const cookies = [...routeCookies, ...setCookiesOfHeaders(d.headers)];
      if (cookies.length > 0) out.setCookies = cookies;
      return out;
    });
    const route: IstioHttpRoute = { label, destinations };
    if (typeof r.mirror?.host === 'string') {
      const value = typeof r.mirrorPercentage?.value === 'number' ? r.mirrorPercentage.value : typeof r.mirror_percent === 'number' ? r.mirror_percent : 100;
      route.mirror = { host: r.mirror.host, percent: Math.min(100, Math.max(0, value)) };
      if (typeof r.mirror.subset === 'string') route.mirror.subset = r.mirror.subset;
      if (typeof r.mirror.port?.number === 'number') route.mirror.port = r.mirror.port.number;
    }
    return route;
  });
}

/** Whether a request is mirrored, with one uniform draw u in [0, 1): probability percent/100. */
export function mirrorChosen(percent: number, u: number): boolean {
  return u * 100 < percent;
}
