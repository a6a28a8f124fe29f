import type { GatewayTraffic, RuleSelector } from '../../../../src/domain/spec/schema';
import {
  BackendRef, buildRestorePatch, buildSetWeightPatch, findManagedRules, GatewayContext, GatewayRoute, inspectRoute, readWeights, RouteParentStatus,
  routeAcceptance, ruleWeights, rulesToCanary, snapshotRules, weightedRefs,
} from '../../../../src/domain/traffic/gateway';
import type { JsonPatchOp } from '../../../../src/domain/traffic/objects';

const ns = 'shop';

function ctx(rules: RuleSelector[] = [], port?: number): GatewayContext {
  const traffic: GatewayTraffic = {
    provider: 'gateway-api', route: { kind: 'HTTPRoute', name: 'storefront', rules }, ...(port !== undefined ? { port } : {}),
    routing: { mode: 'service', stableService: 'web-stable', canaryService: 'web-canary' }, onDrift: 'pause',
  };
  return { traffic, namespace: ns };
}

const stable = (extra: Partial<BackendRef> = {}): BackendRef => ({ name: 'web-stable', port: 8080, ...extra });
const canary = (extra: Partial<BackendRef> = {}): BackendRef => ({ name: 'web-canary', port: 8080, ...extra });

/** A storefront route: /api to another Service, a named primary rule to the stable with a filter, and an unnamed catch-all to it too. */
function newRoute(primary: BackendRef[] = [stable()], catchAll: BackendRef[] = [stable()]): GatewayRoute {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute',
    metadata: { name: 'storefront', namespace: ns, resourceVersion: '41', generation: 3 },
    spec: {
      parentRefs: [{ name: 'public', sectionName: 'https' }],
      hostnames: ['shop.example.com'],
      rules: [
        { name: 'api', matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'api', port: 80 }] },
        {
          name: 'primary', matches: [{ headers: [{ name: 'x-beta', value: '1' }] }],
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-from', value: 'gw' }] } }], backendRefs: primary,
        },
        { backendRefs: catchAll, timeouts: { request: '10s' } },
      ],
    },
  };
}

/** Applies test/replace ops as the apiserver would, failing on a failed test. */
function applyPatch(obj: GatewayRoute, ops: JsonPatchOp[]): GatewayRoute {
  const out = JSON.parse(JSON.stringify(obj)) as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path.split('/').slice(1);
    const last = parts.pop()!;
    let at: Record<string, unknown> = out;
    for (const p of parts) at = at[p] as Record<string, unknown>;
    if (op.op === 'test') {
      if (JSON.stringify(at[last]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else at[last] = op.value;
  }
  return out;
}

describe('finding the managed rules', () => {
  it.each<[string, RuleSelector[], number[]]>([
    ['by name', [{ name: 'primary' }], [1]],
    ['by index', [{ index: 2 }], [2]],
    ['both ways, each once, in spec order', [{ index: 2 }, { name: 'primary' }, { index: 1 }], [1, 2]],
    ['none given: every rule with a backendRef to the stable Service', [], [1, 2]],
  ])('%s', (_name, selectors, want) => {
    expect(findManagedRules(newRoute(), ctx(selectors)).map((r) => r.index)).toEqual(want);
  });

  it('records a named rule by name and an unnamed one by index', () => {
    expect(findManagedRules(newRoute(), ctx()).map((r) => r.key)).toEqual(['name:primary', 'index:2']);
  });

  it.each<[string, GatewayRoute, RuleSelector[], string[]]>([
    ['a name that does not exist lists the rules', newRoute(), [{ name: 'main' }],
      ['HTTPRoute shop/storefront has no rule named "main" (rules: "api", "primary", #2 (unnamed; select it with {index: 2})); set spec.traffic.route.rules to select the rules Ramp should manage']],
    ['an index past the end', newRoute(), [{ index: 3 }],
      ['HTTPRoute shop/storefront has no rule at index 3 (rules: "api", "primary", #2 (unnamed; select it with {index: 2})); set spec.traffic.route.rules to select the rules Ramp should manage']],
    ['a managed rule sending to another backend too', newRoute([stable(), { name: 'legacy', port: 8080 }]), [{ name: 'primary' }],
      ['HTTPRoute shop/storefront rule "primary" also sends traffic to Service legacy:8080; Ramp splits a rule between the stable and canary Services only: move other backends to a rule of their own, or leave this rule out of spec.traffic.route.rules']],
    ['a managed rule sending to a non-Service backend', newRoute([stable(), { group: 'example.com', kind: 'Bucket', name: 'assets' }]), [{ name: 'primary' }],
      ['HTTPRoute shop/storefront rule "primary" also sends traffic to example.com/Bucket assets; Ramp splits a rule between the stable and canary Services only: move other backends to a rule of their own, or leave this rule out of spec.traffic.route.rules']],
    ['a backendRef in another namespace', newRoute([stable({ namespace: 'other' })]), [{ name: 'primary' }], [
      'HTTPRoute shop/storefront rule "primary" has backendRefs in another namespace (Service other/web-stable:8080); Ramp weights Services in the route\'s namespace shop only: point the rule at Services there, or manage another rule',
      'HTTPRoute shop/storefront rule "primary" has no backendRef to Service shop/web-stable (backendRefs: Service other/web-stable:8080); send the rule to it, or set spec.traffic.routing.stableService to match',
    ]],
    ['a selected rule without the stable backendRef', newRoute(), [{ name: 'api' }],
      ['HTTPRoute shop/storefront rule "api" has no backendRef to Service shop/web-stable (backendRefs: Service api:80); send the rule to it, or set spec.traffic.routing.stableService to match']],
    ['no rule sends to the stable Service', newRoute([{ name: 'web', port: 80 }], [{ name: 'web', port: 80 }]), [],
      ['HTTPRoute shop/storefront has no rule with a backendRef to Service shop/web-stable (rules: "api", "primary", #2 (unnamed; select it with {index: 2})); send a rule to it, or set spec.traffic.routing.stableService to the Service the route sends to']],
    ['two stable backendRefs in one rule', newRoute([stable(), stable({ port: 9090 })]), [{ name: 'primary' }],
      ['HTTPRoute shop/storefront rule "primary" has 2 backendRefs to the stable Service web-stable; Ramp manages a rule with one']],
    ['no rules at all', { ...newRoute(), spec: { rules: [] } }, [],
      ['HTTPRoute shop/storefront has no rules (spec.rules is empty); add a rule whose backendRefs send traffic to Service shop/web-stable']],
  ])('%s: a problem with its fix', (_name, route, selectors, want) => {
    expect(inspectRoute(route, ctx(selectors))).toEqual(want);
    expect(() => findManagedRules(route, ctx(selectors))).toThrow(want[0]);
  });

  it('the stable and canary refs themselves are no problem, with or without the defaults written out', () => {
    expect(inspectRoute(newRoute([stable({ group: '', kind: 'Service', namespace: ns, weight: 90 }), canary({ weight: 10 })]), ctx([{ name: 'primary' }]))).toEqual([]);
  });
});

describe('weights', () => {
  it.each<[string, BackendRef[], { stable: number; canary: number }]>([
    ['only the stable, no weight (defaults to 1)', [stable()], { stable: 100, canary: 0 }],
    ['both without weight: 1 and 1', [stable(), canary()], { stable: 50, canary: 50 }],
    ['canary without weight beside stable 3', [stable({ weight: 3 }), canary()], { stable: 75, canary: 25 }],
    ['Ramp\'s own split on 100', [stable({ weight: 90 }), canary({ weight: 10 })], { stable: 90, canary: 10 }],
    ['canary at 0', [stable({ weight: 100 }), canary({ weight: 0 })], { stable: 100, canary: 0 }],
    ['both at 0 sends nothing', [stable({ weight: 0 }), canary({ weight: 0 })], { stable: 0, canary: 0 }],
  ])('%s', (_name, refs, want) => {
    expect(ruleWeights(refs, ctx())).toEqual(want);
  });

  it.each([0, 10, 50, 100])('canary %i: both refs written, the canary a copy of the stable ref with the canary Service', (w) => {
    const filters = [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-v', value: '1' }] } }];
    expect(weightedRefs([stable({ filters })], ctx(), w)).toEqual([
      { name: 'web-stable', port: 8080, filters, weight: 100 - w },
      { name: 'web-canary', port: 8080, filters, weight: w },
    ]);
  });

  it('the port is spec.traffic.port when given, and an existing canary ref is replaced, not kept', () => {
    expect(weightedRefs([canary({ weight: 7, port: 1 }), stable({ port: 80 })], ctx([], 8443), 20)).toEqual([
      { name: 'web-stable', port: 8443, weight: 80 },
      { name: 'web-canary', port: 8443, weight: 20 },
    ]);
  });

  it('refuses a weight that is not a whole percentage', () => {
    expect(() => weightedRefs([stable()], ctx(), 101)).toThrow(RangeError);
    expect(() => weightedRefs([stable()], ctx(), 2.5)).toThrow(RangeError);
  });
});

describe('patches', () => {
  it('one patch: resourceVersion and rule-name guards, then the backendRefs of each managed rule', () => {
    expect(buildSetWeightPatch(newRoute(), ctx(), 10)).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '41' },
      { op: 'test', path: '/spec/rules/1/name', value: 'primary' },
      { op: 'replace', path: '/spec/rules/1/backendRefs', value: [{ name: 'web-stable', port: 8080, weight: 90 }, { name: 'web-canary', port: 8080, weight: 10 }] },
      { op: 'replace', path: '/spec/rules/2/backendRefs', value: [{ name: 'web-stable', port: 8080, weight: 90 }, { name: 'web-canary', port: 8080, weight: 10 }] },
    ]);
  });

  it('everything but the managed backendRefs stays as it was', () => {
    const before = newRoute();
    const after = applyPatch(before, buildSetWeightPatch(before, ctx([{ name: 'primary' }]), 50));
    const { backendRefs: _a, ...primaryAfter } = after.spec!.rules![1]!;
    const { backendRefs: _b, ...primaryBefore } = before.spec!.rules![1]!;
    expect(JSON.stringify(primaryAfter)).toBe(JSON.stringify(primaryBefore));
    expect(JSON.stringify({ ...after.spec, rules: [after.spec!.rules![0], after.spec!.rules![2]] })).toBe(JSON.stringify({ ...before.spec, rules: [before.spec!.rules![0], before.spec!.rules![2]] }));
    expect(readWeights(after, ctx([{ name: 'primary' }]))).toEqual([{ name: 'primary', weights: { stable: 50, canary: 50 } }]);
  });

  it('nothing to write when the rules already carry the weight', () => {
    const at10 = applyPatch(newRoute(), buildSetWeightPatch(newRoute(), ctx(), 10));
    expect(buildSetWeightPatch({ ...at10, metadata: { ...at10.metadata, resourceVersion: '42' } }, ctx(), 10)).toEqual([]);
  });

  it('a concurrent edit fails the guards', () => {
    const ops = buildSetWeightPatch(newRoute(), ctx(), 10);
    const edited = newRoute();
    edited.metadata!.resourceVersion = '43';
    expect(() => applyPatch(edited, ops)).toThrow('test failed at /metadata/resourceVersion');
  });

  it('refuses to build a patch from an object not read from the apiserver', () => {
    const route = newRoute();
    delete route.metadata!.resourceVersion;
    expect(() => buildSetWeightPatch(route, ctx(), 10)).toThrow(/no metadata.resourceVersion/);
  });

  it('restore puts each managed rule\'s backendRefs back exactly, and then has nothing to write', () => {
    const before = newRoute([stable({ filters: [] })]);
    const saved = snapshotRules(before, ctx());
    const at50 = applyPatch(before, buildSetWeightPatch(before, ctx(), 50));
    const { ops, missing } = buildRestorePatch(at50, ctx(), saved);
    expect(missing).toEqual([]);
    const restored = applyPatch(at50, ops);
    expect(JSON.stringify(restored.spec)).toBe(JSON.stringify(before.spec));
    expect(buildRestorePatch(restored, ctx(), saved).ops).toEqual([]);
  });

  it('restore leaves alone a rule that is gone or no longer Ramp\'s (an unnamed rule moved)', () => {
    const before = newRoute();
    const saved = snapshotRules(before, ctx());
    const moved = newRoute();
    moved.spec!.rules = [{ ...moved.spec!.rules![1]!, backendRefs: [stable({ weight: 90 }), canary({ weight: 10 })] }, { backendRefs: [{ name: 'other', port: 80 }] }];
    const { ops, missing } = buildRestorePatch(moved, ctx(), saved);
    expect(missing).toEqual(['index:2']);
    expect(ops.filter((o) => o.op === 'replace').map((o) => o.path)).toEqual(['/spec/rules/0/backendRefs']);
  });

  it('rulesToCanary: any rule whose canary ref carries weight (an unset weight is 1)', () => {
    expect(rulesToCanary(newRoute([stable({ weight: 100 }), canary({ weight: 0 })], [stable()]), ctx())).toEqual([]);
    expect(rulesToCanary(newRoute([stable(), canary()], [stable({ weight: 1 }), canary({ weight: 5 })]), ctx())).toEqual(['primary', '#2 (unnamed)']);
  });
});

describe('route status: is the route accepted at the generation written?', () => {
  // Shaped as Contour and Envoy Gateway write status.parents (controllerName, parentRef, conditions).
  const parent = (conditions: RouteParentStatus['conditions'], name = 'public'): RouteParentStatus => ({
    parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name, sectionName: 'https' },
    controllerName: 'projectcontour.io/gateway-controller',
    conditions,
  });
  const cond = (type: string, status: string, observedGeneration: number | undefined, reason = type, message = `${type} ${status}`) => ({
    type, status, reason, message, lastTransitionTime: '2026-11-26T10:00:00Z', ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  });
  const ok = (gen: number | undefined) => [cond('Accepted', 'True', gen), cond('ResolvedRefs', 'True', gen)];
  const withStatus = (parents: RouteParentStatus[] | undefined): GatewayRoute => ({ metadata: { name: 'storefront', namespace: ns, generation: 4 }, ...(parents ? { status: { parents } } : {}) });

  it.each<[string, RouteParentStatus[] | undefined, ReturnType<typeof routeAcceptance>]>([
    ['no status at all: no implementation watches the route', undefined, { state: 'unreported' }],
    ['an empty parents list', [], { state: 'unreported' }],
    ['accepted and resolved at the generation', [parent(ok(4))], { state: 'accepted' }],
    ['accepted at a later generation', [parent(ok(5))], { state: 'accepted' }],
    ['conditions without observedGeneration count as current', [parent(ok(undefined))], { state: 'accepted' }],
    ['accepted at an older generation only', [parent(ok(3))],
      { state: 'pending', detail: 'Gateway infra/public section https: Accepted at generation 3; Gateway infra/public section https: ResolvedRefs at generation 3' }],
    ['one of two parents not yet at the generation', [parent(ok(4)), parent(ok(3).slice(0, 1), 'internal')],
      { state: 'pending', detail: 'Gateway infra/internal section https: Accepted at generation 3; Gateway infra/internal section https: no ResolvedRefs condition yet' }],
    ['Unknown at the generation', [parent([cond('Accepted', 'Unknown', 4, 'Pending'), cond('ResolvedRefs', 'True', 4)])],
      { state: 'pending', detail: 'Gateway infra/public section https: Accepted Unknown (Pending)' }],
    ['not allowed by the listeners', [parent([cond('Accepted', 'False', 4, 'NotAllowedByListeners', 'No listeners included by this parent ref allowed this attachment.'), cond('ResolvedRefs', 'True', 4)])],
      { state: 'rejected', parent: 'Gateway infra/public section https', condition: 'Accepted', reason: 'NotAllowedByListeners', message: 'No listeners included by this parent ref allowed this attachment.' }],
    ['a backend that does not exist', [parent(ok(4)), parent([cond('Accepted', 'True', 4), cond('ResolvedRefs', 'False', 4, 'BackendNotFound', 'service "web-canary" not found')], 'internal')],
      { state: 'rejected', parent: 'Gateway infra/internal section https', condition: 'ResolvedRefs', reason: 'BackendNotFound', message: 'service "web-canary" not found' }],
    ['rejected only at an older generation: the new one may fix it', [parent([cond('Accepted', 'True', 4), cond('ResolvedRefs', 'False', 3, 'BackendNotFound')])],
      { state: 'pending', detail: 'Gateway infra/public section https: ResolvedRefs at generation 3' }],
  ])('%s', (_name, parents, want) => {
    expect(routeAcceptance(withStatus(parents), 4)).toEqual(want);
  });
});
