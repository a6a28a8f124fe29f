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
import type { Weights } from '../rollout/calls';
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

/** A managed rule: its position in `spec.rules`, its name ('' when unnamed), its backendRefs and how it is recorded. */
export interface ManagedRule {
  index: number;
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

/** Finds the managed rules. Never throws: what is missing comes back as problems. */
function locate(route: GatewayRoute, c: GatewayContext): { rules: ManagedRule[]; problems: string[] } {
  const id = routeId(route, c);
  const all = route.spec?.rules ?? [];
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
  const rules = indexes.map((index) => ({ index, name: all[index]!.name ?? '', backendRefs: all[index]!.backendRefs ?? [], key: keyOf(all[index]!, index) }));
  return { rules, problems };
}

/** Problems with one managed rule's backendRefs: one stable ref in the route's namespace, and nothing but stable and canary. */
function backendProblems(route: GatewayRoute, r: ManagedRule, c: GatewayContext): string[] {
  const id = `${routeId(route, c)} rule ${ruleLabel(route.spec?.rules?.[r.index], r.index)}`;
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

/**
 * The backendRefs of a managed rule for a canary weight: the stable ref (its filters and other
 * fields kept) at 100 − w, then a copy of it naming the canary Service at w. The port is
 * spec.traffic.port, else the stable ref's. Depends only on the stable ref, so it is the same
 * whether or not a canary ref existed.
 */
export function weightedRefs(refs: BackendRef[], c: GatewayContext, canaryWeight: number): BackendRef[] {
  assertWeight(canaryWeight);
  const stable = refs.find((b) => isStable(b, c));
  if (!stable) throw new TrafficConfigError([`rule has no backendRef to Service ${c.traffic.routing.stableService} (backendRefs: ${refs.map((b) => describeRef(b, c)).join(', ')})`]);
  const { weight: _weight, port, ...rest } = stable;
  const p = c.traffic.port ?? port;
  const at = (name: string, weight: number): BackendRef => ({ ...rest, name, ...(p !== undefined ? { port: p } : {}), weight });
  return [at(stable.name, 100 - canaryWeight), at(c.traffic.routing.canaryService, canaryWeight)];
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
  return findManagedRules(route, c).map((r) => ({ name: r.name ? r.name : `#${r.index}`, weights: ruleWeights(r.backendRefs, c) }));
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
  const missing: string[] = [];
  const desired: { index: number; backendRefs: BackendRef[] }[] = [];
  for (const s of saved) {
    const [kind, ...rest] = s.key.split(':');
    const v = rest.join(':');
    const index = kind === 'name' ? rules.findIndex((r) => r.name === v) : Number(v) < rules.length ? Number(v) : -1;
    const ours = index >= 0 && (rules[index]!.backendRefs ?? []).some((b) => isStable(b, c) || isCanary(b, c));
    if (!ours) missing.push(s.key);
    else desired.push({ index, backendRefs: s.backendRefs });
  }
  return { ops: rulesPatch(route, c.traffic.route.kind, desired), missing };
}

/** The rules (any, not only managed ones) that still send traffic (weight > 0, default 1) to the canary Service. */
export function rulesToCanary(route: GatewayRoute, c: GatewayContext): string[] {
  return (route.spec?.rules ?? []).flatMap((r, i) => ((r.backendRefs ?? []).some((b) => isCanary(b, c) && weightOf(b) > 0) ? [r.name ? r.name : `#${i} (unnamed)`] : []));
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
