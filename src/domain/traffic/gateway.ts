/**
 * Pure Gateway API routing logic: which rules of an HTTPRoute or GRPCRoute Ramp manages, how the
 * stable and canary backendRefs are recognised, what a managed rule's backendRefs look like for a
 * canary weight, the JSON Patches that change only those, and whether the route's implementation
 * has accepted the route at a given generation. The router activity reads the route, calls these and
 * writes the result; nothing here does I/O.
 *
 * Gateway API weights are relative (a backendRef's share is weight / Σ weights, default 1, 0 sends
 * nothing), so Ramp always writes both refs on the denominator 100: stable 100 − w, canary w.
 */
import type { RequestMatch, RouteFeature, StringMatch, Weights } from '../rollout/calls';
import type { GatewayTraffic, RuleSelector } from '../spec/schema';
import { assertWeight, cloneJson, jsonEqual, JsonPatchOp, ObjectMeta, objectId, TrafficConfigError, versionGuard } from './objects';

// ---- narrow local types (only the fields Ramp reads; everything else is carried through) ----

/** One entry of a rule's `backendRefs`; filters and other fields are kept as they are. */
export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [field: string]: unknown;
}

/** One entry of `spec.rules`; matches, filters and the rest are carried through untouched. */
export interface RouteRule {
  name?: string;
  backendRefs?: BackendRef[];
  [field: string]: unknown;
}

/** One condition of a route's status (metav1.Condition). */
export interface RouteCondition {
  type: string;
  /** 'True', 'False' or 'Unknown'. */
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  [field: string]: unknown;
}

/** One entry of `status.parents`: what one implementation says about the route on one parent. */
export interface RouteParentStatus {
  parentRef: { group?: string; kind?: string; namespace?: string; name: string; sectionName?: string; port?: number };
  controllerName?: string;
  conditions?: RouteCondition[];
}

/** A gateway.networking.k8s.io/v1 HTTPRoute or GRPCRoute, as far as Ramp reads it. */
export interface GatewayRoute {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { parentRefs?: unknown[]; hostnames?: string[]; rules?: RouteRule[]; [field: string]: unknown };
  status?: { parents?: RouteParentStatus[] };
}

/** A managed rule: its place in `spec.rules`, its name ('' when unnamed), its backendRefs and how it is recorded. */
export interface ManagedRule {
  /** Its index in `spec.rules`, where patches write. */
  index: number;
  /** Its index among the user's rules (Ramp's own left out): what `{index: n}` selectors and snapshot keys count. */
  position: number;
  name: string;
  backendRefs: BackendRef[];
  /** `name:<name>` for a named rule, else `index:<n>`: how the snapshot finds it again. */
  key: string;
}

/** A managed rule as recorded in a snapshot: its key and its backendRefs as they were. */
export interface SnapshotRule {
  key: string;
  backendRefs: BackendRef[];
}

/** What the pure functions need to know: the traffic spec and the route's namespace. */
export interface GatewayContext {
  traffic: GatewayTraffic;
  namespace: string;
}

// ---- backendRefs ---------------------------------------------------------------------------

/** A core Service in the route's own namespace (group '' and kind Service are the API's defaults). */
function isLocalService(b: BackendRef, c: GatewayContext): boolean {
  return (b.group ?? '') === '' && (b.kind ?? 'Service') === 'Service' && (b.namespace ?? c.namespace) === c.namespace;
}

function isStable(b: BackendRef, c: GatewayContext): boolean {
  return isLocalService(b, c) && b.name === c.traffic.routing.stableService;
}

function isCanary(b: BackendRef, c: GatewayContext): boolean {
  return isLocalService(b, c) && b.name === c.traffic.routing.canaryService;
}

/** A backendRef in words: `Service web:8080`, `Service other/web`, `example.com/Bucket assets`. */
function describeRef(b: BackendRef, c: GatewayContext): string {
  const kind = (b.group ?? '') === '' ? (b.kind ?? 'Service') : `${b.group}/${b.kind ?? 'Service'}`;
  const ns = b.namespace !== undefined && b.namespace !== c.namespace ? `${b.namespace}/` : '';
  return `${kind} ${ns}${b.name}${b.port !== undefined ? `:${b.port}` : ''}`;
}

/** The weight a backendRef carries: the API's default is 1. */
function weightOf(b: BackendRef): number {
  return b.weight ?? 1;
}

// ---- finding the managed rules -------------------------------------------------------------

/** A selector in words, for plans and messages: `primary`, `#2`. */
export function ruleInWords(s: RuleSelector): string {
  return 'name' in s ? s.name : `#${s.index}`;
}

/** The managed rules in words. */
export function managedRulesInWords(selectors: readonly RuleSelector[]): string {
  if (selectors.length === 0) return 'every rule sending to the stable Service';
  return `rule(s) ${selectors.map(ruleInWords).join(', ')}`;
}

function ruleLabel(r: RouteRule | undefined, index: number): string {
  return r?.name ? `"${r.name}"` : `#${index} (unnamed)`;
}

/** How a person selects the rule at `index` in a spec, for messages. */
function howToSelect(r: RouteRule, index: number): string {
  return r.name ? `"${r.name}"` : `#${index} (unnamed; select it with {index: ${index}})`;
}

function keyOf(r: RouteRule, index: number): string {
  return r.name ? `name:${r.name}` : `index:${index}`;
}

function routeId(route: GatewayRoute, c: GatewayContext): string {
  return objectId(c.traffic.route.kind, route.metadata);
}

/**
 * Rules whose name starts with `ramp-` are the ones Ramp adds for routing features (header and
 * sticky routes). They send only to the canary, so counting them as the user's would make them
 * managed rules, shift `{index: n}` selectors and snapshot keys, and skew weight reads.
 */
export const RAMP_RULE_PREFIX = 'ramp-';

/** Whether a rule is one Ramp added for a routing feature. */
export function isRampRule(r: RouteRule): boolean {
  return (r.name ?? '').startsWith(RAMP_RULE_PREFIX);
}

/** The user's rules (Ramp's own left out), each with its index in `spec.rules`. */
function userRules(route: GatewayRoute): { rule: RouteRule; at: number }[] {
  return (route.spec?.rules ?? []).flatMap((rule, at) => (isRampRule(rule) ? [] : [{ rule, at }]));
}

/** Finds the managed rules. Never throws: what is missing comes back as problems. */
function locate(route: GatewayRoute, c: GatewayContext): { rules: ManagedRule[]; problems: string[] } {
  const id = routeId(route, c);
  const user = userRules(route);
  const all = user.map((u) => u.rule);
  const problems: string[] = [];
  if (all.length === 0) {
    return { rules: [], problems: [`${id} has no rules (spec.rules is empty); add a rule whose backendRefs send traffic to Service ${c.namespace}/${c.traffic.routing.stableService}`] };
  }
  const ways = all.map((r, i) => howToSelect(r, i)).join(', ');
  const indexes: number[] = [];
  if (c.traffic.route.rules.length === 0) {
    all.forEach((r, i) => {
      if ((r.backendRefs ?? []).some((b) => isStable(b, c))) indexes.push(i);
    });
    if (indexes.length === 0) {
      problems.push(`${id} has no rule with a backendRef to Service ${c.namespace}/${c.traffic.routing.stableService} (rules: ${ways}); send a rule to it, or set spec.traffic.routing.stableService to the Service the route sends to`);
    }
  }
  for (const sel of c.traffic.route.rules) {
    const found = 'name' in sel ? all.findIndex((r) => r.name === sel.name) : sel.index < all.length ? sel.index : -1;
    if (found < 0) {
      problems.push(`${id} has no rule ${'name' in sel ? `named "${sel.name}"` : `at index ${sel.index}`} (rules: ${ways}); set spec.traffic.route.rules to select the rules Ramp should manage`);
    } else if (!indexes.includes(found)) indexes.push(found);
  }
  indexes.sort((a, b) => a - b);
  const rules = indexes.map((position) => ({
    index: user[position]!.at, position, name: all[position]!.name ?? '', backendRefs: all[position]!.backendRefs ?? [], key: keyOf(all[position]!, position),
  }));
  return { rules, problems };
}

/** Problems with one managed rule's backendRefs: one stable ref in the route's namespace, and nothing but stable and canary. */
function backendProblems(route: GatewayRoute, r: ManagedRule, c: GatewayContext): string[] {
  const id = `${routeId(route, c)} rule ${ruleLabel(route.spec?.rules?.[r.index], r.position)}`;
  const stableSvc = c.traffic.routing.stableService;
  const problems: string[] = [];
  const elsewhere = r.backendRefs.filter((b) => (b.namespace ?? c.namespace) !== c.namespace);
  if (elsewhere.length > 0) {
    problems.push(`${id} has backendRefs in another namespace (${elsewhere.map((b) => describeRef(b, c)).join(', ')}); Ramp weights Services in the route's namespace ${c.namespace} only: point the rule at Services there, or manage another rule`);
  }
  const all = r.backendRefs.map((b) => describeRef(b, c)).join(', ') || 'none';
  const stable = r.backendRefs.filter((b) => isStable(b, c));
  if (stable.length === 0) {
    problems.push(`${id} has no backendRef to Service ${c.namespace}/${stableSvc} (backendRefs: ${all}); send the rule to it, or set spec.traffic.routing.stableService to match`);
    return problems;
  }
  if (stable.length > 1) problems.push(`${id} has ${stable.length} backendRefs to the stable Service ${stableSvc}; Ramp manages a rule with one`);
  const others = r.backendRefs.filter((b) => !isStable(b, c) && !isCanary(b, c) && (b.namespace ?? c.namespace) === c.namespace);
  if (others.length > 0) {
    problems.push(`${id} also sends traffic to ${others.map((b) => describeRef(b, c)).join(', ')}; Ramp splits a rule between the stable and canary Services only: move other backends to a rule of their own, or leave this rule out of spec.traffic.route.rules`);
  }
  return problems;
}

/** Every problem preventing Ramp from managing the route's rules; empty when it can. */
export function inspectRoute(route: GatewayRoute, c: GatewayContext): string[] {
  const { rules, problems } = locate(route, c);
  return [...problems, ...rules.flatMap((r) => backendProblems(route, r, c))];
}

/** The managed rules; throws TrafficConfigError naming every problem. */
export function findManagedRules(route: GatewayRoute, c: GatewayContext): ManagedRule[] {
  const { rules, problems } = locate(route, c);
  const all = [...problems, ...rules.flatMap((r) => backendProblems(route, r, c))];
  if (all.length > 0) throw new TrafficConfigError(all);
  return rules;
}

// ---- weights -------------------------------------------------------------------------------

function stableRefOf(refs: BackendRef[], c: GatewayContext): BackendRef {
  const stable = refs.find((b) => isStable(b, c));
  if (!stable) throw new TrafficConfigError([`rule has no backendRef to Service ${c.traffic.routing.stableService} (backendRefs: ${refs.map((b) => describeRef(b, c)).join(', ')})`]);
  return stable;
}

/** A copy of the stable ref (its filters and other fields kept) naming `name` at `weight`, on spec.traffic.port or the stable's port. */
function refLike(stable: BackendRef, c: GatewayContext, name: string, weight: number): BackendRef {
  const { weight: _weight, port, ...rest } = cloneJson(stable);
  const p = c.traffic.port ?? port;
  return { ...rest, name, ...(p !== undefined ? { port: p } : {}), weight };
}

/**
 * The backendRefs of a managed rule for a canary weight: the stable ref (its filters and other
 * fields kept) at 100 − w, then a copy of it naming the canary Service at w. The port is
 * spec.traffic.port, else the stable ref's. Depends only on the stable ref and the sticky cookie the
 * current canary ref carries (kept, so a weight change does not end sticky sessions), so it is the
 * same whether or not a canary ref existed.
 */
export function weightedRefs(refs: BackendRef[], c: GatewayContext, canaryWeight: number): BackendRef[] {
  assertWeight(canaryWeight);
  const stable = stableRefOf(refs, c);
  const canary = refLike(stable, c, c.traffic.routing.canaryService, canaryWeight);
  const cookies = stickyCookies(refs, c);
  return [refLike(stable, c, stable.name, 100 - canaryWeight), cookies.length > 0 ? withSetCookies(canary, cookies) : canary];
}

/**
 * The split of one rule in percent of its stable and canary refs (weights default to 1). Both at 0
 * sends nothing anywhere: reported as 0 / 0.
 */
export function ruleWeights(refs: BackendRef[], c: GatewayContext): Weights {
  const sum = (pick: (b: BackendRef) => boolean) => refs.filter(pick).reduce((acc, b) => acc + weightOf(b), 0);
  const stable = sum((b) => isStable(b, c));
  const canary = sum((b) => isCanary(b, c));
  if (stable + canary === 0) return { stable: 0, canary: 0 };
  const canaryPct = Math.round((100 * canary) / (stable + canary));
  return { stable: 100 - canaryPct, canary: canaryPct };
}

/** The split of every managed rule, in spec.rules order. */
export function readWeights(route: GatewayRoute, c: GatewayContext): { name: string; weights: Weights }[] {
  return findManagedRules(route, c).map((r) => ({ name: r.name ? r.name : `#${r.position}`, weights: ruleWeights(r.backendRefs, c) }));
}

// ---- patches -------------------------------------------------------------------------------

/** One patch replacing the backendRefs of each rule whose current value differs from `desired`; [] when none does. */
function rulesPatch(route: GatewayRoute, kind: string, desired: { index: number; backendRefs: BackendRef[] }[]): JsonPatchOp[] {
  const rules = route.spec?.rules ?? [];
  const changed = desired.filter((d) => !jsonEqual(rules[d.index]?.backendRefs, d.backendRefs));
  if (changed.length === 0) return [];
  const ops: JsonPatchOp[] = [versionGuard(route.metadata, kind)];
  for (const d of changed) {
    const name = rules[d.index]?.name;
    // A named rule must still be at the index it was read at; an unnamed one is covered by the resourceVersion.
    if (name) ops.push({ op: 'test', path: `/spec/rules/${d.index}/name`, value: name });
  }
  return [...ops, ...changed.map((d): JsonPatchOp => ({ op: 'replace', path: `/spec/rules/${d.index}/backendRefs`, value: d.backendRefs }))];
}

/** JSON Patch setting the canary weight of every managed rule; [] when they already carry it. Everything else is untouched. */
export function buildSetWeightPatch(route: GatewayRoute, c: GatewayContext, canaryWeight: number): JsonPatchOp[] {
  const rules = findManagedRules(route, c);
  return rulesPatch(route, c.traffic.route.kind, rules.map((r) => ({ index: r.index, backendRefs: weightedRefs(r.backendRefs, c, canaryWeight) })));
}

/** The managed rules as they are now, for a snapshot. */
export function snapshotRules(route: GatewayRoute, c: GatewayContext): SnapshotRule[] {
  return findManagedRules(route, c).map((r) => ({ key: r.key, backendRefs: cloneJson(r.backendRefs) }));
}

/**
 * JSON Patch putting the snapshot's backendRefs back exactly; no ops when they already are. A
 * recorded rule that is gone, or that no longer sends to the stable or canary Service (the rules
 * were reordered and an unnamed one moved), is listed in `missing` and left alone.
 */
export function buildRestorePatch(route: GatewayRoute, c: GatewayContext, saved: SnapshotRule[]): { ops: JsonPatchOp[]; missing: string[] } {
  const rules = route.spec?.rules ?? [];
  // Index keys count the user's rules, as the selectors do: Ramp's feature rules may sit between them.
  const user = userRules(route);
  const missing: string[] = [];
  const desired: { index: number; backendRefs: BackendRef[] }[] = [];
  for (const s of saved) {
    const [kind, ...rest] = s.key.split(':');
    const v = rest.join(':');
    const index = kind === 'name' ? rules.findIndex((r) => r.name === v) : (user[Number(v)]?.at ?? -1);
    const ours = index >= 0 && (rules[index]!.backendRefs ?? []).some((b) => isStable(b, c) || isCanary(b, c));
    if (!ours) missing.push(s.key);
    else desired.push({ index, backendRefs: s.backendRefs });
  }
  return { ops: rulesPatch(route, c.traffic.route.kind, desired), missing };
}

/** The rules (any, not only managed ones) that still send traffic (weight > 0, default 1, or a mirror) to the canary Service. */
export function rulesToCanary(route: GatewayRoute, c: GatewayContext): string[] {
  const sends = (r: RouteRule) => (r.backendRefs ?? []).some((b) => isCanary(b, c) && weightOf(b) > 0) || filtersOf(r).some((f) => isRampMirror(f, c));
  return (route.spec?.rules ?? []).flatMap((r, i) => (sends(r) ? [r.name ? r.name : `#${i} (unnamed)`] : []));
}

// ---- routing features (header routes, mirroring, sticky sessions) ---------------------------

/** Thrown when a routing feature cannot be expressed on the route (its kind lacks the match, a name clashes, too many rules): the step is invalid, retrying cannot help. */
export class FeatureError extends Error {
  override name = 'FeatureError';
}

/** One filter of a rule or backendRef; only RequestMirror and ResponseHeaderModifier are read. */
interface RouteFilter {
  type: string;
  requestMirror?: { backendRef?: BackendRef; percent?: number; [field: string]: unknown };
  responseHeaderModifier?: { add?: HeaderValue[]; [field: string]: unknown };
  [field: string]: unknown;
}

interface HeaderValue {
  name: string;
  value: string;
}

/** A header or query parameter condition as HTTPRoute/GRPCRoute matches spell it. */
interface ValueMatch {
  name: string;
  type: 'Exact' | 'RegularExpression';
  value: string;
}

/** The fields of a route's `matches[]` entry a feature adds to; path, method and the rest are carried through. */
interface RouteMatch {
  headers?: ValueMatch[];
  queryParams?: ValueMatch[];
  [field: string]: unknown;
}

/** The step a feature comes from, for messages. */
export function featureInWords(f: RouteFeature): string {
  if (f.kind === 'header') return `step setHeaderRoute "${f.name}"`;
  if (f.kind === 'mirror') return `step setMirror (percent ${f.percent})`;
  return 'spec.traffic.stickySession';
}

function filtersOf(r: { [field: string]: unknown }): RouteFilter[] {
  return (r.filters as RouteFilter[] | undefined) ?? [];
}

/** The RequestMirror filter Ramp adds: the user has no reason to mirror to the canary Service themselves. */
function isRampMirror(f: RouteFilter, c: GatewayContext): boolean {
  return f.type === 'RequestMirror' && f.requestMirror?.backendRef !== undefined && isCanary(f.requestMirror.backendRef, c);
}

const isSetCookie = (h: HeaderValue) => h.name.toLowerCase() === 'set-cookie';

function setCookiesOf(ref: BackendRef | undefined): HeaderValue[] {
  const f = filtersOf(ref ?? {}).find((x) => x.type === 'ResponseHeaderModifier');
  return (f?.responseHeaderModifier?.add ?? []).filter(isSetCookie);
}

/**
 * The sticky-session cookies the canary ref sets: its Set-Cookie headers the stable ref does not
 * set. The canary ref is otherwise a copy of the stable one, so this is exactly what Ramp added.
 */
function stickyCookies(refs: BackendRef[], c: GatewayContext): HeaderValue[] {
  const fromStable = setCookiesOf(refs.find((b) => isStable(b, c)));
  return setCookiesOf(refs.find((b) => isCanary(b, c))).filter((h) => !fromStable.some((s) => jsonEqual(s, h)));
}

/** The ref with `cookies` added to its ResponseHeaderModifier (the CRD allows one per backendRef, so an existing one is extended). */
function withSetCookies(ref: BackendRef, cookies: HeaderValue[]): BackendRef {
  const out = cloneJson(ref);
  const filters = filtersOf(out);
  const existing = filters.find((f) => f.type === 'ResponseHeaderModifier');
  if (existing) existing.responseHeaderModifier = { ...existing.responseHeaderModifier, add: [...(existing.responseHeaderModifier?.add ?? []), ...cookies] };
  else filters.push({ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: cookies } });
  out.filters = filters;
  return out;
}

/** Escapes RE2's metacharacters, so a literal value matches only itself. */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/**
 * A cookie condition as a `Cookie` header regular expression: Gateway API has no cookie match. The
 * cookie may be first or follow another one and `; `; the value ends at `;` or the end.
 */
export function cookieRegex(cookie: string, value: StringMatch): string {
  const v = 'exact' in value ? escapeRegex(value.exact) : 'prefix' in value ? `${escapeRegex(value.prefix)}[^;]*` : `(?:${value.regex})`;
  return `^(.*?;\\s*)?${escapeRegex(cookie)}=${v}(;.*)?$`;
}

/** A header or query value condition: prefixes become an anchored regular expression, which both route kinds accept. */
function valueMatch(name: string, value: StringMatch): ValueMatch {
  if ('exact' in value) return { name, type: 'Exact', value: value.exact };
  if ('prefix' in value) return { name, type: 'RegularExpression', value: `^${escapeRegex(value.prefix)}` };
  return { name, type: 'RegularExpression', value: value.regex };
}

/** The conditions of a header route as match fields; GRPCRoute has no query parameters. */
function conditionsOf(match: RequestMatch[], c: GatewayContext, step: string): { headers: ValueMatch[]; queryParams: ValueMatch[] } {
  const headers: ValueMatch[] = [];
  const queryParams: ValueMatch[] = [];
  for (const m of match) {
    if ('header' in m) headers.push(valueMatch(m.header, m.value));
    else if ('cookie' in m) headers.push({ name: 'Cookie', type: 'RegularExpression', value: cookieRegex(m.cookie, m.value) });
    else if (c.traffic.route.kind === 'GRPCRoute') {
      throw new FeatureError(`${step} matches query parameter "${m.query}", but a GRPCRoute matches only headers and methods; match a header (or cookie) instead`);
    } else queryParams.push(valueMatch(m.query, m.value));
  }
  return { headers, queryParams };
}

/**
 * The rule's matches with the conditions added to each (a rule without matches gets one match with
 * just them). Header names are a list-map key in the CRD and compared case-insensitively by the
 * API, so a condition on a header the match already tests is refused rather than written twice.
 */
function narrowedMatches(rule: RouteRule, cond: { headers: ValueMatch[]; queryParams: ValueMatch[] }, c: GatewayContext, step: string, label: string): RouteMatch[] {
  const base = (rule.matches as RouteMatch[] | undefined) ?? [];
  // The HTTPRoute CRD defaults a match's path to PathPrefix /: written so, the rule reads back as written.
  const bare: RouteMatch = c.traffic.route.kind === 'HTTPRoute' ? { path: { type: 'PathPrefix', value: '/' } } : {};
  const narrow = (m: RouteMatch): RouteMatch => {
    const out = cloneJson(m);
    for (const [field, add] of [['headers', cond.headers], ['queryParams', cond.queryParams]] as const) {
      if (add.length === 0) continue;
      const have = out[field] ?? [];
      const names = [...have, ...add].map((h) => h.name.toLowerCase());
      const twice = names.find((n, i) => names.indexOf(n) !== i);
      if (twice !== undefined) {
        throw new FeatureError(`${step} adds a condition on ${field === 'headers' ? 'header' : 'query parameter'} "${twice}", which rule ${label} (or another condition of the step) already matches; Gateway API allows one condition per name in a match: drop one of them`);
      }
      out[field] = [...have, ...add];
    }
    return out;
  };
  return base.length === 0 ? [narrow(bare)] : base.map(narrow);
}

/** The feature kind of a change id: `header:<name>` → header. */
function kindOfChange(change: string): RouteFeature['kind'] {
  if (change.startsWith('header:')) return 'header';
  if (change === 'mirror' || change === 'sticky') return change;
  throw new FeatureError(`the Gateway API router has no routing feature "${change}"`);
}

/**
 * The names of the rules a header or sticky feature adds, one before each managed rule:
 * `ramp-header-<name>` (or `ramp-sticky`), then `-2`, `-3` … — rule names must be unique in a route.
 */
export function featureRuleNames(change: string, count: number): string[] {
  const base = change.startsWith('header:') ? `${RAMP_RULE_PREFIX}header-${change.slice('header:'.length)}` : `${RAMP_RULE_PREFIX}${change}`;
  return Array.from({ length: count }, (_, k) => (k === 0 ? base : `${base}-${k + 1}`));
}

const RULE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** HTTPRoute and GRPCRoute both allow at most 16 rules. */
const MAX_RULES = 16;

/** What `buildFeaturePatch` needs besides the route. */
export interface FeatureInput {
  /** The change id (`featureChange`). */
  change: string;
  /** The feature to set; undefined takes the change back. */
  feature?: RouteFeature;
  /** The names of the rules this change added before (from the snapshot). */
  owned: string[];
  /** Rule names other features of this rollout own: a clash with them is refused, not overwritten. */
  others: string[];
  /** The canary's version label value: the sticky cookie's value. */
  canaryVersion?: string;
}

/** The patch for a feature and the names of the rules the feature has once it is written. */
export interface FeaturePlan {
  ops: JsonPatchOp[];
  rules: string[];
}

/**
 * JSON Patch setting (or, without `feature`, taking back) one routing feature on the managed rules;
 * no ops when the route already is so. Only Ramp's entries change:
 * - header: a rule before each managed rule, its matches narrowed by the conditions, its filters
 *   (Ramp's mirror left out) copied, sending to the canary only;
 * - mirror: a RequestMirror filter to the canary Service on each managed rule, `percent` of its
 *   requests (0 removes it);
 * - sticky: a Set-Cookie on the canary ref's responses, and a rule before each managed rule
 *   sending requests with that cookie to the canary (HTTPRoute only: GRPCRoute has no cookies).
 * Ops: the resourceVersion guard, then removals of Ramp's rules (each tested by name, from the
 * end), the managed rules' changed fields (their names tested), then the new rules in final order,
 * so each index is valid when its op applies.
 */
export function buildFeaturePatch(route: GatewayRoute, c: GatewayContext, input: FeatureInput): FeaturePlan {
  const kind = kindOfChange(input.change);
  const f = input.feature;
  const step = f ? featureInWords(f) : `undoing ${input.change}`;
  if (f && kind === 'sticky' && c.traffic.route.kind === 'GRPCRoute') {
    throw new FeatureError('spec.traffic.stickySession needs cookies, which a GRPCRoute cannot match or set; remove spec.traffic.stickySession, or route the service with an HTTPRoute');
  }
  const managed = findManagedRules(route, c);
  const all = route.spec?.rules ?? [];
  const addsRules = f !== undefined && (f.kind === 'header' || f.kind === 'sticky');
  const names = addsRules ? featureRuleNames(input.change, managed.length) : [];
  for (const n of names) {
    if (!RULE_NAME.test(n) || n.length > 253) throw new FeatureError(`${step}: the rule name "${n}" is not a valid Gateway API rule name; name the header route with lower-case letters, digits and '-'`);
    // Every `ramp-` name is Ramp's, so the only clash is with another feature's rules (`header:a`'s second rule is `header:a-2`'s first).
    if (input.others.includes(n)) throw new FeatureError(`${step} needs the rule name "${n}", which another routing feature of this rollout already uses; rename the header route`);
  }
  // The rules this change owns: those recorded, and those this call writes (a retry finds them written).
  const mine = new Set([...input.owned, ...(kind === 'header' || kind === 'sticky' ? featureRuleNames(input.change, managed.length) : [])]);
  const removed = all.flatMap((r, i) => (r.name !== undefined && mine.has(r.name) && !input.others.includes(r.name) ? [i] : []));
  const byIndex = new Map(managed.map((m) => [m.index, m]));

  const cond = f?.kind === 'header' ? conditionsOf(f.match, c, step) : undefined;
  let sticky: { cookie: HeaderValue; rule: { headers: ValueMatch[]; queryParams: ValueMatch[] } } | undefined;
  if (f?.kind === 'sticky') {
    if (!input.canaryVersion) throw new FeatureError(`${step}: the canary's version label value is not known yet; sticky sessions start once the canary is deployed`);
    sticky = {
      cookie: { name: 'Set-Cookie', value: `${f.cookie}=${input.canaryVersion}; Max-Age=${f.maxAgeSeconds}; Path=/` },
      rule: { headers: [{ name: 'Cookie', type: 'RegularExpression', value: cookieRegex(f.cookie, { exact: input.canaryVersion }) }], queryParams: [] },
    };
  }

  const next: RouteRule[] = [];
  const inserts: { at: number; rule: RouteRule }[] = [];
  const edits: JsonPatchOp[] = [];
  let mid = 0;
  all.forEach((rule, i) => {
    if (removed.includes(i)) return;
    const m = byIndex.get(i);
    if (m) {
      const label = ruleLabel(rule, m.position);
      const stable = stableRefOf(m.backendRefs, c);
      const ramp = addsRules ? { name: names[managed.indexOf(m)]!, matches: narrowedMatches(rule, cond ?? sticky!.rule, c, step, label) } : undefined;
      if (ramp) {
        const filters = filtersOf(rule).filter((x) => !isRampMirror(x, c));
        const added: RouteRule = { name: ramp.name, matches: ramp.matches, ...(filters.length > 0 ? { filters: cloneJson(filters) } : {}), backendRefs: [refLike(stable, c, c.traffic.routing.canaryService, 1)] };
        inserts.push({ at: next.length, rule: added });
        next.push(added);
      }
      const updated = changedRule(rule, m, c, kind, f, sticky?.cookie, step, label);
      for (const field of ['filters', 'backendRefs'] as const) {
        if (jsonEqual(rule[field], updated[field])) continue;
        if (rule.name) edits.push({ op: 'test', path: `/spec/rules/${mid}/name`, value: rule.name });
        edits.push(updated[field] === undefined ? { op: 'remove', path: `/spec/rules/${mid}/${field}` } : { op: 'add', path: `/spec/rules/${mid}/${field}`, value: updated[field] });
      }
      next.push(updated);
    } else next.push(rule);
    mid += 1;
  });
  if (next.length > MAX_RULES) {
    throw new FeatureError(`${step} would give ${routeId(route, c)} ${next.length} rules; a route allows ${MAX_RULES}: manage fewer rules (spec.traffic.route.rules), or drop another routing feature first`);
  }
  const rules = next.flatMap((r) => (r.name !== undefined && names.includes(r.name) ? [r.name] : []));
  if (jsonEqual(next, all)) return { ops: [], rules };
  const ops: JsonPatchOp[] = [versionGuard(route.metadata, c.traffic.route.kind)];
  for (const i of [...removed].reverse()) ops.push({ op: 'test', path: `/spec/rules/${i}/name`, value: all[i]!.name }, { op: 'remove', path: `/spec/rules/${i}` });
  ops.push(...edits);
  for (const x of inserts) ops.push({ op: 'add', path: `/spec/rules/${x.at}`, value: x.rule });
  return { ops, rules };
}

/** A managed rule with the mirror or sticky cookie set as `f` says (taken back without `f`); header routes leave it as it is. */
function changedRule(rule: RouteRule, m: ManagedRule, c: GatewayContext, kind: RouteFeature['kind'], f: RouteFeature | undefined, cookie: HeaderValue | undefined, step: string, label: string): RouteRule {
  if (kind === 'mirror') {
    const filters = filtersOf(rule).filter((x) => !isRampMirror(x, c));
    if (f?.kind === 'mirror' && f.percent > 0) {
      const stable = stableRefOf(m.backendRefs, c);
      const port = c.traffic.port ?? stable.port;
      // group and kind are the CRD's defaults, written out so the filter reads back as written.
      const backendRef = { group: '', kind: 'Service', name: c.traffic.routing.canaryService, ...(port !== undefined ? { port } : {}) };
      filters.push({ type: 'RequestMirror', requestMirror: { backendRef, percent: f.percent } });
    }
    // An emptied list is removed, not left as [], so undo gives back the rule as the user wrote it.
    const { filters: _old, ...rest } = rule;
    return filters.length > 0 ? { ...rule, filters } : rest;
  }
  if (kind !== 'sticky') return rule;
  const refs = m.backendRefs;
  const at = refs.findIndex((b) => isCanary(b, c));
  if (at < 0) {
    if (!f) return rule;
    throw new FeatureError(`${step}: rule ${label} has no backendRef to the canary Service ${c.traffic.routing.canaryService} yet; sticky sessions start after the rollout's first weight step has added it`);
  }
  const stable = stableRefOf(refs, c);
  // The canary ref rebuilt from the stable one at its weight: exactly the stable's copy, plus the cookie when set.
  let canary = refLike(stable, c, c.traffic.routing.canaryService, weightOf(refs[at]!));
  if (cookie) {
    if (setCookiesOf(canary).length > 0) throw new FeatureError(`${step}: the backendRef of rule ${label} already adds a Set-Cookie header, and Gateway API allows one header of a name per modifier; drop spec.traffic.stickySession or that header`);
    canary = withSetCookies(canary, [cookie]);
  }
  return { ...rule, backendRefs: refs.map((b, i) => (i === at ? canary : b)) };
}

// ---- route status --------------------------------------------------------------------------

/** What the route's implementations say about it at a generation. */
export type Acceptance =
  /** No implementation reports on the route (none watches its parents): a write counts once read back. */
  | { state: 'unreported' }
  /** Every parent reports Accepted and ResolvedRefs True at that generation or later. */
  | { state: 'accepted' }
  /** Some parent has not reported on that generation yet. */
  | { state: 'pending'; detail: string }
  /** A parent reports Accepted or ResolvedRefs False at that generation: it will not serve the route as written. */
  | { state: 'rejected'; parent: string; condition: string; reason: string; message: string };

/** A parentRef in words: `Gateway shop/public section https`. */
export function parentInWords(p: RouteParentStatus['parentRef'], namespace: string): string {
  return `${p.kind ?? 'Gateway'} ${p.namespace ?? namespace}/${p.name}${p.sectionName ? ` section ${p.sectionName}` : ''}`;
}

/**
 * The route's acceptance at `generation`, from `status.parents[].conditions`. A condition without
 * observedGeneration is taken as current: the field is optional, and an implementation that leaves
 * it out would otherwise hold every rollout.
 */
export function routeAcceptance(route: GatewayRoute, generation: number): Acceptance {
  const parents = route.status?.parents ?? [];
  if (parents.length === 0) return { state: 'unreported' };
  const namespace = route.metadata?.namespace ?? '?';
  const current = (k: RouteCondition) => k.observedGeneration === undefined || k.observedGeneration >= generation;
  const waiting: string[] = [];
  for (const p of parents) {
    const parent = parentInWords(p.parentRef, namespace);
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const k = p.conditions?.find((x) => x.type === type);
      if (k && current(k) && k.status === 'False') {
        return { state: 'rejected', parent, condition: type, reason: k.reason ?? '(no reason)', message: k.message ?? '(no message)' };
      }
      if (!k) waiting.push(`${parent}: no ${type} condition yet`);
      else if (!current(k)) waiting.push(`${parent}: ${type} at generation ${k.observedGeneration}`);
      else if (k.status !== 'True') waiting.push(`${parent}: ${type} ${k.status}${k.reason ? ` (${k.reason})` : ''}`);
    }
  }
  return waiting.length === 0 ? { state: 'accepted' } : { state: 'pending', detail: waiting.join('; ') };
}
