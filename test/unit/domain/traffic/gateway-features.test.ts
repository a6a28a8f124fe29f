/**
 * Routing features on Gateway API routes (header routes, mirroring, sticky sessions), computed
 * purely: what each patch adds, that it touches only Ramp's entries, that undo gives the route back
 * exactly, and that Ramp's rules stay out of selectors, weights and snapshots.
 */
import type { RouteFeature } from '../../../../src/domain/rollout/calls';
import type { GatewayTraffic, RuleSelector } from '../../../../src/domain/spec/schema';
import {
  BackendRef, buildFeaturePatch, buildRestorePatch, buildSetWeightPatch, cookieRegex, FeatureError, FeatureInput, findManagedRules, GatewayContext,
  GatewayRoute, readWeights, RouteRule, rulesToCanary, snapshotRules,
} from '../../../../src/domain/traffic/gateway';
import type { JsonPatchOp } from '../../../../src/domain/traffic/objects';

const ns = 'shop';
type Kind = GatewayTraffic['route']['kind'];

function ctx(rules: RuleSelector[] = [], kind: Kind = 'HTTPRoute'): GatewayContext {
  const traffic: GatewayTraffic = {
    provider: 'gateway-api', route: { kind, name: 'storefront', rules },
    routing: { mode: 'service', stableService: 'web-stable', canaryService: 'web-canary' }, onDrift: 'pause',
  };
  return { traffic, namespace: ns };
}

const xFrom = { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-from', value: 'gw' }] } };

/** /api to another Service; a named primary rule (a header match, a filter) and an unnamed catch-all, both split 90/10. */
function newRoute(kind: Kind = 'HTTPRoute'): GatewayRoute {
  const split = (): BackendRef[] => [{ name: 'web-stable', port: 8080, weight: 90 }, { name: 'web-canary', port: 8080, weight: 10 }];
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind,
    metadata: { name: 'storefront', namespace: ns, resourceVersion: '41', generation: 3 },
    spec: {
      parentRefs: [{ name: 'public' }],
      rules: [
        { name: 'api', matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'api', port: 80 }] },
        { name: 'primary', matches: [{ headers: [{ name: 'x-beta', type: 'Exact', value: '1' }] }, { path: { type: 'PathPrefix', value: '/shop' } }], filters: [xFrom], backendRefs: split() },
        { backendRefs: split() },
      ],
    },
  };
}

/** Applies test/add/replace/remove as the apiserver would (array add inserts), failing on a failed test. */
function applyPatch(obj: GatewayRoute, ops: JsonPatchOp[]): GatewayRoute {
  const out = JSON.parse(JSON.stringify(obj)) as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path.split('/').slice(1);
    const last = parts.pop()!;
    let rec = out;
    for (const p of parts) rec = rec[p] as Record<string, unknown>;
    const arr: unknown[] | undefined = Array.isArray(rec) ? rec : undefined;
    if (op.op === 'test') {
      if (JSON.stringify(rec[last]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else if (op.op === 'remove') {
      if (arr) arr.splice(Number(last), 1);
      else delete rec[last];
    } else if (op.op === 'add' && arr) arr.splice(Number(last), 0, op.value);
    else rec[last] = op.value;
  }
  return out;
}

const header = (match: Extract<RouteFeature, { kind: 'header' }>['match'], name = 'beta'): RouteFeature => ({ kind: 'header', name, match });
const input = (change: string, feature?: RouteFeature, owned: string[] = []): FeatureInput => ({ change, feature, owned, others: [], canaryVersion: 'v2' });
const rulesOf = (r: GatewayRoute): RouteRule[] => r.spec!.rules!;

describe('header routes', () => {
  it('adds a rule before each managed rule, its matches narrowed, filters copied, to the canary only', () => {
    const route = newRoute();
    const plan = buildFeaturePatch(route, ctx(), input('header:beta', header([{ header: 'x-canary', value: { exact: 'true' } }])));
    const after = applyPatch(route, plan.ops);
    expect(rulesOf(after).map((r) => r.name)).toEqual(['api', 'ramp-header-beta', 'primary', 'ramp-header-beta-2', undefined]);
    expect(rulesOf(after)[1]).toEqual({
      name: 'ramp-header-beta',
      matches: [
        { headers: [{ name: 'x-beta', type: 'Exact', value: '1' }, { name: 'x-canary', type: 'Exact', value: 'true' }] },
        { path: { type: 'PathPrefix', value: '/shop' }, headers: [{ name: 'x-canary', type: 'Exact', value: 'true' }] },
      ],
      filters: [xFrom],
      backendRefs: [{ name: 'web-canary', port: 8080, weight: 1 }],
    });
    // The unnamed catch-all has no matches: one match with just the condition.
    expect(rulesOf(after)[3]).toEqual({ name: 'ramp-header-beta-2', matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x-canary', type: 'Exact', value: 'true' }] }], backendRefs: [{ name: 'web-canary', port: 8080, weight: 1 }] });
    // Every rule of the user's is as it was.
    expect([rulesOf(after)[0], rulesOf(after)[2], rulesOf(after)[4]]).toEqual(rulesOf(route));
    expect(plan.rules).toEqual(['ramp-header-beta', 'ramp-header-beta-2']);
  });

  it.each<[string, Kind, Extract<RouteFeature, { kind: 'header' }>['match'], Record<string, unknown>]>([
    ['exact header', 'HTTPRoute', [{ header: 'x-canary', value: { exact: 'yes' } }], { headers: [{ name: 'x-canary', type: 'Exact', value: 'yes' }] }],
    ['prefix header: an anchored, escaped regex', 'HTTPRoute', [{ header: 'x-ver', value: { prefix: '2.1+' } }], { headers: [{ name: 'x-ver', type: 'RegularExpression', value: '^2\\.1\\+' }] }],
    ['regex header as written', 'GRPCRoute', [{ header: 'x-ver', value: { regex: 'b(eta|1)' } }], { headers: [{ name: 'x-ver', type: 'RegularExpression', value: 'b(eta|1)' }] }],
    ['query parameter', 'HTTPRoute', [{ query: 'canary', value: { exact: '1' } }], { queryParams: [{ name: 'canary', type: 'Exact', value: '1' }] }],
    ['cookie: the Cookie header, value escaped', 'HTTPRoute', [{ cookie: 'tier', value: { exact: 'a.b' } }], { headers: [{ name: 'Cookie', type: 'RegularExpression', value: '^(.*?;\\s*)?tier=a\\.b(;.*)?$' }] }],
    ['all conditions at once', 'HTTPRoute', [{ header: 'x-a', value: { exact: '1' } }, { query: 'q', value: { regex: '^z' } }], {
      headers: [{ name: 'x-a', type: 'Exact', value: '1' }], queryParams: [{ name: 'q', type: 'RegularExpression', value: '^z' }],
    }],
  ])('%s', (_, kind, match, want) => {
    const route = newRoute(kind);
    const after = applyPatch(route, buildFeaturePatch(route, ctx([{ index: 2 }], kind), input('header:beta', header(match))).ops);
    // The rule has no matches: one match with just the conditions (and, on an HTTPRoute, the CRD's default path).
    expect(rulesOf(after)[2]!.matches).toEqual([kind === 'HTTPRoute' ? { path: { type: 'PathPrefix', value: '/' }, ...want } : want]);
  });

  it.each<[string, string, boolean]>([
    ['first cookie', 'tier=a.b', true],
    ['after another cookie', 'x=1; tier=a.b; y=2', true],
    ['another value', 'tier=aXb', false],
    ['a longer name ending in it', 'mytier=a.b', false],
    ['a longer value', 'tier=a.bc', false],
  ])('the cookie regex: %s', (_, header, matches) => {
    expect(new RegExp(cookieRegex('tier', { exact: 'a.b' })).test(header)).toBe(matches);
  });

  it('is refused on a GRPCRoute for a query parameter, naming the step', () => {
    expect(() => buildFeaturePatch(newRoute('GRPCRoute'), ctx([], 'GRPCRoute'), input('header:beta', header([{ query: 'canary', value: { exact: '1' } }]))))
      .toThrow(new FeatureError('step setHeaderRoute "beta" matches query parameter "canary", but a GRPCRoute matches only headers and methods; match a header (or cookie) instead'));
  });

  it('is refused when a condition names a header the rule already matches (the CRD keys headers by name)', () => {
    expect(() => buildFeaturePatch(newRoute(), ctx([{ name: 'primary' }]), input('header:beta', header([{ header: 'X-Beta', value: { exact: '2' } }])))).toThrow(/header "x-beta", which rule "primary"/);
  });

  it('is refused when its rule name is not a valid rule name, or another feature\'s rule has it', () => {
    expect(() => buildFeaturePatch(newRoute(), ctx(), input('header:Beta_1', header([{ header: 'x', value: { exact: '1' } }], 'Beta_1')))).toThrow(/"ramp-header-Beta_1" is not a valid Gateway API rule name/);
    const route = newRoute();
    expect(() => buildFeaturePatch(route, ctx(), { ...input('header:beta', header([{ header: 'x', value: { exact: '1' } }])), others: ['ramp-header-beta-2'] })).toThrow(/another routing feature of this rollout already uses/);
  });

  it('replacing one changes its rules only; a retry writes nothing; undo gives the route back exactly', () => {
    const route = newRoute();
    const c = ctx();
    const first = buildFeaturePatch(route, c, input('header:beta', header([{ header: 'x-canary', value: { exact: 'true' } }])));
    const once = applyPatch(route, first.ops);
    expect(buildFeaturePatch(once, c, input('header:beta', header([{ header: 'x-canary', value: { exact: 'true' } }]), first.rules)).ops).toEqual([]);
    const changed = applyPatch(once, buildFeaturePatch(once, c, input('header:beta', header([{ header: 'x-canary', value: { exact: 'yes' } }]), first.rules)).ops);
    expect(rulesOf(changed).map((r) => r.name)).toEqual(['api', 'ramp-header-beta', 'primary', 'ramp-header-beta-2', undefined]);
    expect(JSON.stringify(rulesOf(changed)[1])).toContain('"yes"');
    const undo = buildFeaturePatch(changed, c, input('header:beta', undefined, first.rules));
    expect(undo.ops[0]).toEqual({ op: 'test', path: '/metadata/resourceVersion', value: '41' });
    expect(applyPatch(changed, undo.ops)).toEqual(route);
    expect(buildFeaturePatch(route, c, input('header:beta', undefined, first.rules)).ops).toEqual([]);
  });

  it('undo removes its own rules only, leaving another feature\'s', () => {
    const c = ctx();
    const route = newRoute();
    const a = buildFeaturePatch(route, c, input('header:a', header([{ header: 'x-a', value: { exact: '1' } }], 'a')));
    const withA = applyPatch(route, a.ops);
    const b = buildFeaturePatch(withA, c, { ...input('header:b', header([{ header: 'x-b', value: { exact: '1' } }], 'b')), others: a.rules });
    const both = applyPatch(withA, b.ops);
    const undoA = applyPatch(both, buildFeaturePatch(both, c, { ...input('header:a', undefined, a.rules), others: b.rules }).ops);
    expect(rulesOf(undoA).map((r) => r.name)).toEqual(['api', 'ramp-header-b', 'primary', 'ramp-header-b-2', undefined]);
  });
});

describe("Ramp's rules stay out of the user's", () => {
  const c = ctx();
  const route = newRoute();
  const withHeader = applyPatch(route, buildFeaturePatch(route, c, input('header:beta', header([{ header: 'x-canary', value: { exact: 'true' } }]))).ops);

  it('index selectors and the default count the user\'s rules', () => {
    expect(findManagedRules(withHeader, ctx([{ index: 2 }])).map((r) => [r.index, r.position])).toEqual([[4, 2]]);
    expect(findManagedRules(withHeader, c).map((r) => [r.index, r.position, r.key])).toEqual([[2, 1, 'name:primary'], [4, 2, 'index:2']]);
  });

  it('weights, snapshots and their restore do not see them', () => {
    expect(readWeights(withHeader, c)).toEqual(readWeights(route, c));
    expect(snapshotRules(withHeader, c)).toEqual(snapshotRules(route, c));
    const saved = snapshotRules(route, c).map((s) => ({ ...s, backendRefs: [{ name: 'web-stable', port: 8080 }] }));
    const restored = applyPatch(withHeader, buildRestorePatch(withHeader, c, saved).ops);
    expect(rulesOf(restored).map((r) => r.name)).toEqual(['api', 'ramp-header-beta', 'primary', 'ramp-header-beta-2', undefined]);
    expect(rulesOf(restored)[4]!.backendRefs).toEqual([{ name: 'web-stable', port: 8080 }]);
  });

  it('a weight change touches only the managed backendRefs', () => {
    const after = applyPatch(withHeader, buildSetWeightPatch(withHeader, c, 50));
    expect(rulesOf(after)[1]).toEqual(rulesOf(withHeader)[1]);
    expect(rulesOf(after)[4]!.backendRefs).toEqual([{ name: 'web-stable', port: 8080, weight: 50 }, { name: 'web-canary', port: 8080, weight: 50 }]);
  });

  it('its rules count as sending to the canary (the canary Service stays while they exist)', () => {
    expect(rulesToCanary(withHeader, c)).toEqual(['ramp-header-beta', 'primary', 'ramp-header-beta-2', '#4 (unnamed)']);
  });
});

describe('mirroring', () => {
  const c = ctx();
  const mirror = (percent: number, port = 8080) => ({ type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'web-canary', port }, percent } });

  it('adds a RequestMirror filter to each managed rule, after the user\'s filters', () => {
    const route = newRoute();
    const after = applyPatch(route, buildFeaturePatch(route, c, input('mirror', { kind: 'mirror', percent: 20 })).ops);
    expect(rulesOf(after)[1]!.filters).toEqual([xFrom, mirror(20)]);
    expect(rulesOf(after)[2]!.filters).toEqual([mirror(20)]);
    expect(rulesOf(after)[0]).toEqual(rulesOf(route)[0]);
    expect(readWeights(after, c)).toEqual(readWeights(route, c));
  });

  it('replacing sets the new percent, 0 and undo remove exactly that filter, a retry writes nothing', () => {
    const route = newRoute();
    const at20 = applyPatch(route, buildFeaturePatch(route, c, input('mirror', { kind: 'mirror', percent: 20 })).ops);
    expect(buildFeaturePatch(at20, c, input('mirror', { kind: 'mirror', percent: 20 })).ops).toEqual([]);
    const at50 = applyPatch(at20, buildFeaturePatch(at20, c, input('mirror', { kind: 'mirror', percent: 50 })).ops);
    expect(rulesOf(at50)[1]!.filters).toEqual([xFrom, mirror(50)]);
    expect(applyPatch(at50, buildFeaturePatch(at50, c, input('mirror', { kind: 'mirror', percent: 0 })).ops)).toEqual(route);
    expect(applyPatch(at50, buildFeaturePatch(at50, c, input('mirror')).ops)).toEqual(route);
  });

  it('a header route added while mirroring does not copy the mirror; the weights keep it', () => {
    const route = newRoute();
    const mirrored = applyPatch(route, buildFeaturePatch(route, c, input('mirror', { kind: 'mirror', percent: 20 })).ops);
    const both = applyPatch(mirrored, buildFeaturePatch(mirrored, c, input('header:beta', header([{ header: 'x', value: { exact: '1' } }]))).ops);
    expect(rulesOf(both)[1]!.filters).toEqual([xFrom]);
    expect(rulesOf(applyPatch(both, buildSetWeightPatch(both, c, 30)))[2]!.filters).toEqual([xFrom, mirror(20)]);
  });
});

describe('sticky sessions', () => {
  const c = ctx();
  const sticky: RouteFeature = { kind: 'sticky', cookie: 'ramp-canary', maxAgeSeconds: 86400 };
  const setCookie = { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'Set-Cookie', value: 'ramp-canary=v2; Max-Age=86400; Path=/' }] } };

  it('sets the cookie on canary responses and sends requests carrying it to the canary', () => {
    const route = newRoute();
    const plan = buildFeaturePatch(route, c, input('sticky', sticky));
    const after = applyPatch(route, plan.ops);
    expect(plan.rules).toEqual(['ramp-sticky', 'ramp-sticky-2']);
    expect(rulesOf(after)[2]!.backendRefs).toEqual([{ name: 'web-stable', port: 8080, weight: 90 }, { name: 'web-canary', port: 8080, weight: 10, filters: [setCookie] }]);
    expect(rulesOf(after)[3]).toEqual({
      name: 'ramp-sticky-2', matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'Cookie', type: 'RegularExpression', value: '^(.*?;\\s*)?ramp-canary=v2(;.*)?$' }] }], backendRefs: [{ name: 'web-canary', port: 8080, weight: 1 }],
    });
  });

  it('extends a ResponseHeaderModifier the backendRef already has (one is allowed per backendRef)', () => {
    const route = newRoute();
    const own = { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'x-v', value: '1' }] } };
    rulesOf(route)[2]!.backendRefs = [{ name: 'web-stable', port: 8080, weight: 90, filters: [own] }, { name: 'web-canary', port: 8080, weight: 10, filters: [own] }];
    const after = applyPatch(route, buildFeaturePatch(route, ctx([{ index: 2 }]), input('sticky', sticky)).ops);
    expect(rulesOf(after)[3]!.backendRefs![1]!.filters).toEqual([{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'x-v', value: '1' }, setCookie.responseHeaderModifier.add[0]] } }]);
    expect(applyPatch(after, buildFeaturePatch(after, ctx([{ index: 2 }]), input('sticky', undefined, ['ramp-sticky'])).ops)).toEqual(route);
  });

  it('survives weight changes and is undone exactly', () => {
    const route = newRoute();
    const on = applyPatch(route, buildFeaturePatch(route, c, input('sticky', sticky)).ops);
    const at60 = applyPatch(on, buildSetWeightPatch(on, c, 60));
    expect(rulesOf(at60)[2]!.backendRefs).toEqual([{ name: 'web-stable', port: 8080, weight: 40 }, { name: 'web-canary', port: 8080, weight: 60, filters: [setCookie] }]);
    expect(buildFeaturePatch(at60, c, input('sticky', sticky, ['ramp-sticky', 'ramp-sticky-2'])).ops).toEqual([]);
    const off = applyPatch(at60, buildFeaturePatch(at60, c, input('sticky', undefined, ['ramp-sticky', 'ramp-sticky-2'])).ops);
    expect(off).toEqual(applyPatch(route, buildSetWeightPatch(route, c, 60)));
  });

  it('is refused on a GRPCRoute, naming spec.traffic.stickySession', () => {
    expect(() => buildFeaturePatch(newRoute('GRPCRoute'), ctx([], 'GRPCRoute'), input('sticky', sticky))).toThrow(/^spec\.traffic\.stickySession needs cookies, which a GRPCRoute cannot match or set/);
  });

  it('is refused before the canary ref exists, and undone without one', () => {
    const route = newRoute();
    rulesOf(route)[2]!.backendRefs = [{ name: 'web-stable', port: 8080 }];
    expect(() => buildFeaturePatch(route, ctx([{ index: 2 }]), input('sticky', sticky))).toThrow(/has no backendRef to the canary Service web-canary yet/);
    expect(buildFeaturePatch(route, ctx([{ index: 2 }]), input('sticky')).ops).toEqual([]);
  });
});

describe('limits', () => {
  it('refuses a feature that would exceed 16 rules, naming the step', () => {
    const route = newRoute();
    rulesOf(route).push(...Array.from({ length: 12 }, (_, i) => ({ name: `extra-${i}`, backendRefs: [{ name: 'api', port: 80 }] })));
    expect(() => buildFeaturePatch(route, ctx(), input('header:beta', header([{ header: 'x', value: { exact: '1' } }])))).toThrow(/^step setHeaderRoute "beta" would give HTTPRoute shop\/storefront 17 rules; a route allows 16/);
  });
});
