import type { IstioTraffic as TrafficSpec } from '../../../../src/domain/spec/schema';
import {
  buildCanaryService,
  buildRestoreRoutesPatch,
  buildSetWeightPatch,
  buildSubsetsPatch,
  DestinationRule,
  ensureSubsets,
  findManagedRoutes,
  HttpRoute,
  inspectVirtualService,
  IstioContext,
  planDestinationRule,
  planServicePins,
  promotionSubsets,
  rebaseSubsets,
  resolveHost,
  JsonPatchOp,
  jsonEqual,
  readWeights,
  restoreSubsets,
  RouteDestination,
  routesToCanary,
  routeWeights,
  sameHost,
  serviceOfHost,
  Service,
  snapshotRoutes,
  Subset,
  SubsetRouting,
  TrafficConfigError,
  VirtualService,
  weightedRoute,
} from '../../../../src/domain/traffic/istio';

// ---- builders ----------------------------------------------------------------------------

const apiRoute = (): HttpRoute => ({ name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api', port: { number: 8080 } } }] });
const assetsRoute = (): HttpRoute => ({ name: 'assets', match: [{ uri: { prefix: '/assets' } }], route: [{ destination: { host: 'assets' } }], timeout: '5s' });
const defaultRoute = (): HttpRoute => ({ route: [{ destination: { host: 'storefront', subset: 'stable' } }] });

/** A VirtualService shaped like the MuShop guide's: api, assets, then an unnamed default route to storefront/stable. */
function newTestVirtualService(http: HttpRoute[] = [apiRoute(), assetsRoute(), defaultRoute()], resourceVersion = '42'): VirtualService {
  return { metadata: { name: 'storefront', namespace: 'mushop', resourceVersion }, spec: { hosts: ['mushop.example.com'], gateways: ['mushop-gw'], http } };
}

function newTestTraffic(over: Partial<TrafficSpec> = {}): TrafficSpec {
  return {
    provider: 'istio',
    virtualService: { name: 'storefront', routes: [] },
    host: 'storefront',
    routing: { mode: 'subset', destinationRule: 'storefront', stableSubset: 'stable', canarySubset: 'canary' },
    onDrift: 'pause',
    ...over,
  };
}

const serviceTraffic = (over: Partial<TrafficSpec> = {}) =>
  newTestTraffic({ host: 'storefront-stable', routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }, ...over });

const ctx = (traffic: TrafficSpec = newTestTraffic()): IstioContext => ({ traffic, namespace: 'mushop' });

const subsetRouting = newTestTraffic().routing as SubsetRouting;
const versionLabel = { key: 'version', stable: 'v1', canary: 'v2' };

/** Applies the RFC 6902 ops Ramp writes to a copy of `doc`, failing like the apiserver on a failed test. */
function applyPatch<T>(doc: T, ops: JsonPatchOp[]): T {
  const out = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  for (const op of ops) {
    const keys = op.path.split('/').slice(1);
    const last = keys.pop()!;
    let parent: Record<string, unknown> = out;
    for (const k of keys) parent = parent[k] as Record<string, unknown>;
    if (op.op === 'test' && !jsonEqual(parent[last], op.value)) throw new Error(`test ${op.path} failed`);
    if (op.op === 'replace' || op.op === 'add') parent[last] = JSON.parse(JSON.stringify(op.value));
    if (op.op === 'remove') delete parent[last];
  }
  return out as T;
}

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof TrafficConfigError) return err.problems;
    throw err;
  }
  return [];
};

// ---- finding routes ----------------------------------------------------------------------

describe('findManagedRoutes', () => {
  const cases: { name: string; http: HttpRoute[]; routes: string[]; want: { index: number; name: string }[] }[] = [
    { name: 'default route: the one without match', http: [apiRoute(), assetsRoute(), defaultRoute()], routes: [], want: [{ index: 2, name: '' }] },
    {
      name: 'default route may be named and an empty match counts as none',
      http: [apiRoute(), { ...defaultRoute(), name: 'primary', match: [] }],
      routes: [],
      want: [{ index: 1, name: 'primary' }],
    },
    {
      name: 'named routes, in spec order, duplicates ignored',
      http: [apiRoute(), { ...defaultRoute(), name: 'beta', match: [{ headers: { beta: { exact: '1' } } }] }, { ...defaultRoute(), name: 'primary' }],
      routes: ['primary', 'beta', 'primary'],
      want: [{ index: 2, name: 'primary' }, { index: 1, name: 'beta' }],
    },
  ];
  it.each(cases)('$name', ({ http, routes, want }) => {
    const found = findManagedRoutes(newTestVirtualService(http), ctx(newTestTraffic({ virtualService: { name: 'storefront', routes: routes.map((name) => ({ name })) } })));
    expect(found.map((r) => ({ index: r.index, name: r.name }))).toEqual(want);
  });

  const bad: { name: string; http: HttpRoute[]; routes?: string[]; traffic?: TrafficSpec; want: RegExp[] }[] = [
    {
      name: 'missing named route',
      http: [apiRoute(), assetsRoute()],
      routes: ['primary'],
      want: [/^VirtualService mushop\/storefront has no HTTP route named "primary" \(routes: "api", "assets"\); set spec.traffic.virtualService.routes to select the routes Ramp should manage$/],
    },
    {
      name: 'every missing route is named',
      http: [apiRoute()],
      routes: ['primary', 'beta'],
      want: [/no HTTP route named "primary"/, /no HTTP route named "beta"/],
    },
    { name: 'no default route', http: [apiRoute(), assetsRoute()], want: [/has no HTTP route without match \(the default route\) \(routes: "api", "assets"\); set spec.traffic.virtualService.routes/] },
    {
      name: 'unnamed routes: the message says how to select each',
      http: [{ match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api' } }] }, defaultRoute()],
      routes: ['primary'],
      want: [/\(routes: #0 \(unnamed; select it with \{index: 0\} or \{prefix: "\/api"\}\), #1 \(unnamed; select it with \{index: 1\} or \{default: true\}\)\)/],
    },
    {
      name: 'ambiguous default route',
      http: [defaultRoute(), apiRoute(), { ...defaultRoute(), name: 'other' }],
      want: [/has 2 HTTP routes without match \(#0 \(unnamed; select it with \{index: 0\}\), "other"\), so the default route is ambiguous; select one in spec.traffic.virtualService.routes/],
    },
    { name: 'duplicate route names', http: [{ ...defaultRoute(), name: 'x' }, { ...defaultRoute(), name: 'x' }], routes: ['x'], want: [/has 2 HTTP routes named "x"/] },
    { name: 'no HTTP routes at all', http: [], want: [/has no HTTP routes \(spec.http is empty\)/] },
    { name: 'route without destinations', http: [{ name: 'redir', redirect: { uri: '/' } }], routes: ['redir'], want: [/HTTP route "redir" has no route destinations/] },
    {
      name: 'stable subset missing',
      http: [{ route: [{ destination: { host: 'storefront', subset: 'v1' } }] }],
      want: [/HTTP route #0 \(unnamed\) has no destination storefront \(subset stable, or no subset\) \(destinations: storefront subset v1\); route it to that host, or set spec.traffic.host/],
    },
    {
      name: 'service mode: stable Service missing',
      http: [defaultRoute()],
      traffic: serviceTraffic(),
      want: [/has no destination storefront-stable \(destinations: storefront subset stable\); route it to that Service, or set spec.traffic.routing.stableService/],
    },
    {
      name: 'service mode: a route to name.ns, which Istio does not resolve',
      http: [{ route: [{ destination: { host: 'storefront-stable.mushop' } }] }],
      traffic: serviceTraffic(),
      want: [/sends traffic to host "storefront-stable.mushop", which Istio does not resolve to the Service mushop\/storefront-stable/],
    },
    {
      name: 'a third destination',
      http: [{ route: [{ destination: { host: 'storefront', subset: 'stable' }, weight: 90 }, { destination: { host: 'legacy' }, weight: 10 }] }],
      want: [/HTTP route #0 \(unnamed\) also sends traffic to legacy; Ramp splits a route between stable and canary only/],
    },
  ];
  it.each(bad)('rejects: $name', ({ http, routes = [], traffic = newTestTraffic(), want }) => {
    const t = { ...traffic, virtualService: { name: 'storefront', routes: routes.map((name) => ({ name })) } };
    const vs = newTestVirtualService(http);
    const problems = problemsOf(() => findManagedRoutes(vs, ctx(t)));
    expect(problems).toHaveLength(want.length);
    want.forEach((re, i) => expect(problems[i]).toMatch(re));
    expect(inspectVirtualService(vs, ctx(t))).toEqual(problems);
  });

  it('finds nothing wrong with a well-formed VirtualService', () => {
    expect(inspectVirtualService(newTestVirtualService(), ctx(newTestTraffic()))).toEqual([]);
  });
});

// ---- weights -------------------------------------------------------------------------------

describe('weightedRoute', () => {
  const stableEntry: RouteDestination = { destination: { host: 'storefront', subset: 'stable' } };
  const cases: { name: string; original: RouteDestination[]; traffic: TrafficSpec; weight: number; want: RouteDestination[] }[] = [
    {
      name: 'subset mode at 10',
      original: [stableEntry],
      traffic: newTestTraffic(),
      weight: 10,
      want: [
        { destination: { host: 'storefront', subset: 'stable' }, weight: 90 },
        { destination: { host: 'storefront', subset: 'canary' }, weight: 10 },
      ],
    },
    {
      name: 'subset mode at 0 keeps a canary entry at 0',
      original: [stableEntry],
      traffic: newTestTraffic(),
      weight: 0,
      want: [
        { destination: { host: 'storefront', subset: 'stable' }, weight: 100 },
        { destination: { host: 'storefront', subset: 'canary' }, weight: 0 },
      ],
    },
    {
      name: 'subset mode at 100 keeps the stable entry at 0',
      original: [{ destination: { host: 'storefront', subset: 'stable' }, weight: 40 }, { destination: { host: 'storefront', subset: 'canary' }, weight: 60 }],
      traffic: newTestTraffic(),
      weight: 100,
      want: [
        { destination: { host: 'storefront', subset: 'stable' }, weight: 0 },
        { destination: { host: 'storefront', subset: 'canary' }, weight: 100 },
      ],
    },
    {
      name: 'service mode uses the two Services as hosts',
      original: [{ destination: { host: 'storefront-stable' } }],
      traffic: serviceTraffic(),
      weight: 25,
      want: [
        { destination: { host: 'storefront-stable' }, weight: 75 },
        { destination: { host: 'storefront-canary' }, weight: 25 },
      ],
    },
    {
      name: 'traffic.port is set on both destinations',
      original: [{ destination: { host: 'storefront', subset: 'stable', port: { number: 80 } } }],
      traffic: newTestTraffic({ port: 8080 }),
      weight: 50,
      want: [
        { destination: { host: 'storefront', subset: 'stable', port: { number: 8080 } }, weight: 50 },
        { destination: { host: 'storefront', subset: 'canary', port: { number: 8080 } }, weight: 50 },
      ],
    },
    {
      name: 'without traffic.port the original port and other fields (headers) are kept on both',
      original: [{ destination: { host: 'storefront', subset: 'stable', port: { number: 80 } }, headers: { response: { set: { x: 'y' } } } }],
      traffic: newTestTraffic(),
      weight: 30,
      want: [
        { destination: { host: 'storefront', subset: 'stable', port: { number: 80 } }, headers: { response: { set: { x: 'y' } } }, weight: 70 },
        { destination: { host: 'storefront', subset: 'canary', port: { number: 80 } }, headers: { response: { set: { x: 'y' } } }, weight: 30 },
      ],
    },
  ];
  it.each(cases)('$name', ({ original, traffic, weight, want }) => {
    expect(weightedRoute(original, ctx(traffic), weight)).toEqual(want);
  });

  it('depends only on the stable entry, so applying it twice gives the same route', () => {
    const once = weightedRoute([stableEntry], ctx(newTestTraffic()), 20);
    expect(weightedRoute(once, ctx(newTestTraffic()), 20)).toEqual(once);
  });

  it.each([-1, 101, 12.5, Number.NaN])('rejects weight %p', (w) => {
    expect(() => weightedRoute([stableEntry], ctx(newTestTraffic()), w)).toThrow(RangeError);
  });
});

describe('routeWeights', () => {
  const t = newTestTraffic();
  const cases: { name: string; route: RouteDestination[]; want: { stable: number; canary: number } }[] = [
    { name: 'a single destination without weight gets 100', route: [{ destination: { host: 'storefront', subset: 'stable' } }], want: { stable: 100, canary: 0 } },
    {
      name: 'explicit weights',
      route: [{ destination: { host: 'storefront', subset: 'stable' }, weight: 40 }, { destination: { host: 'storefront', subset: 'canary' }, weight: 60 }],
      want: { stable: 40, canary: 60 },
    },
    { name: 'a missing weight among several counts as 0', route: [{ destination: { host: 'storefront', subset: 'stable' } }, { destination: { host: 'storefront', subset: 'canary' }, weight: 100 }], want: { stable: 0, canary: 100 } },
  ];
  it.each(cases)('$name', ({ route, want }) => expect(routeWeights(route, ctx(t))).toEqual(want));

  it('reads every managed route of a VirtualService', () => {
    const http = [{ ...defaultRoute(), name: 'a', match: [{ port: 1 }] }, { ...defaultRoute(), name: 'b' }];
    const t2 = newTestTraffic({ virtualService: { name: 'storefront', routes: [{ name: 'a' }, { name: 'b' }] } });
    const vs = applyPatch(newTestVirtualService(http), buildSetWeightPatch(newTestVirtualService(http), ctx(t2), 35));
    expect(readWeights(vs, ctx(t2))).toEqual([
      { name: 'a', weights: { stable: 65, canary: 35 } },
      { name: 'b', weights: { stable: 65, canary: 35 } },
    ]);
  });
});

// ---- patches -------------------------------------------------------------------------------

describe('buildSetWeightPatch', () => {
  it('guards on resourceVersion, then replaces only the default route', () => {
    const ops = buildSetWeightPatch(newTestVirtualService(), ctx(newTestTraffic()), 10);
    expect(ops).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      // The unnamed default route has no name to test: the resourceVersion test covers it.
      {
        op: 'replace',
        path: '/spec/http/2/route',
        value: [
          { destination: { host: 'storefront', subset: 'stable' }, weight: 90 },
          { destination: { host: 'storefront', subset: 'canary' }, weight: 10 },
        ],
      },
    ]);
  });

  it('tests the name of each named route it replaces', () => {
    const http = [apiRoute(), { ...defaultRoute(), name: 'beta', match: [{ headers: { beta: { exact: '1' } } }] }, { ...defaultRoute(), name: 'primary' }];
    const t = newTestTraffic({ virtualService: { name: 'storefront', routes: [{ name: 'primary' }, { name: 'beta' }] } });
    const ops = buildSetWeightPatch(newTestVirtualService(http), ctx(t), 60);
    expect(ops.map(({ op, path }) => `${op} ${path}`)).toEqual([
      'test /metadata/resourceVersion',
      'test /spec/http/2/name',
      'test /spec/http/1/name',
      'replace /spec/http/2/route',
      'replace /spec/http/1/route',
    ]);
    expect(ops[1]).toEqual({ op: 'test', path: '/spec/http/2/name', value: 'primary' });
  });

  it('leaves every other route and field byte-for-byte as it was', () => {
    const before = newTestVirtualService();
    const after = applyPatch(before, buildSetWeightPatch(before, ctx(newTestTraffic()), 60));
    expect(JSON.stringify(after.spec!.http![0])).toBe(JSON.stringify(before.spec!.http![0]));
    expect(JSON.stringify(after.spec!.http![1])).toBe(JSON.stringify(before.spec!.http![1]));
    expect({ ...after.spec, http: undefined }).toEqual({ ...before.spec, http: undefined });
    expect(readWeights(after, ctx(newTestTraffic()))).toEqual([{ name: 'default', weights: { stable: 40, canary: 60 } }]);
  });

  it('is empty when the routes already carry the weight, whatever the key order', () => {
    const vs = applyPatch(newTestVirtualService(), buildSetWeightPatch(newTestVirtualService(), ctx(newTestTraffic()), 10));
    expect(buildSetWeightPatch(vs, ctx(newTestTraffic()), 10)).toEqual([]);
    vs.spec!.http![2]!.route = [
      { weight: 90, destination: { subset: 'stable', host: 'storefront' } },
      { weight: 10, destination: { subset: 'canary', host: 'storefront' } },
    ];
    expect(buildSetWeightPatch(vs, ctx(newTestTraffic()), 10)).toEqual([]);
    expect(buildSetWeightPatch(vs, ctx(newTestTraffic()), 11)).toHaveLength(2);
  });

  it('fails (as the apiserver would) when applied to a newer version of the object', () => {
    const ops = buildSetWeightPatch(newTestVirtualService(), ctx(newTestTraffic()), 10);
    expect(() => applyPatch(newTestVirtualService(undefined, '43'), ops)).toThrow('test /metadata/resourceVersion failed');
  });

  it('refuses to build a patch without a resourceVersion', () => {
    const vs = newTestVirtualService();
    delete vs.metadata!.resourceVersion;
    expect(() => buildSetWeightPatch(vs, ctx(newTestTraffic()), 10)).toThrow(/VirtualService mushop\/storefront has no metadata.resourceVersion/);
  });

  it('throws TrafficConfigError when the managed route is missing', () => {
    const t = newTestTraffic({ virtualService: { name: 'storefront', routes: [{ name: 'primary' }] } });
    expect(() => buildSetWeightPatch(newTestVirtualService(), ctx(t), 10)).toThrow(TrafficConfigError);
  });
});

describe('snapshot and restore of routes', () => {
  const steps: { name: string; traffic: TrafficSpec; http: () => HttpRoute[] }[] = [
    { name: 'default route, subset mode', traffic: newTestTraffic(), http: () => [apiRoute(), assetsRoute(), defaultRoute()] },
    {
      name: 'named routes, service mode with port',
      traffic: serviceTraffic({ port: 80, virtualService: { name: 'storefront', routes: [{ name: 'web' }, { name: 'beta' }] } }),
      http: () => [
        apiRoute(),
        { name: 'beta', match: [{ headers: { beta: { exact: '1' } } }], route: [{ destination: { host: 'storefront-stable' }, headers: { request: { set: { b: '1' } } } }] },
        assetsRoute(),
        { name: 'web', route: [{ destination: { host: 'storefront-stable', port: { number: 80 } }, weight: 100 }], retries: { attempts: 3 } },
      ],
    },
  ];
  it.each(steps)('$name: 10 → 60 → 100 → 0 then restore gives the original object exactly', ({ traffic, http }) => {
    const original = newTestVirtualService(http());
    const snap = snapshotRoutes(original, ctx(traffic));
    let vs = original;
    for (const [i, w] of [10, 60, 100, 0].entries()) {
      vs = applyPatch(vs, buildSetWeightPatch(vs, ctx(traffic), w));
      vs.metadata!.resourceVersion = String(100 + i);
      expect(readWeights(vs, ctx(traffic)).every((r) => r.weights.canary === w && r.weights.stable === 100 - w)).toBe(true);
    }
    const restore = buildRestoreRoutesPatch(vs, snap);
    expect(restore.missing).toEqual([]);
    expect(restore.ops.filter((o) => o.op === 'replace')).toHaveLength(snap.length);
    const restored = applyPatch(vs, restore.ops);
    restored.metadata!.resourceVersion = original.metadata!.resourceVersion;
    expect(JSON.stringify(restored)).toBe(JSON.stringify(original));
    expect(buildRestoreRoutesPatch(restored, snap)).toEqual({ ops: [], missing: [] });
  });

  it('snapshot is a copy, not a view of the object', () => {
    const vs = newTestVirtualService();
    const snap = snapshotRoutes(vs, ctx(newTestTraffic()));
    vs.spec!.http![2]!.route![0]!.weight = 5;
    expect(snap).toEqual([{ selector: 'default', route: [{ destination: { host: 'storefront', subset: 'stable' } }] }]);
  });

  it('a snapshot route that is gone routes nothing to the canary: listed as missing, not an error', () => {
    const vs = newTestVirtualService([apiRoute()]);
    expect(buildRestoreRoutesPatch(vs, [{ selector: 'name:primary', route: [] }])).toEqual({ ops: [], missing: ['name:primary'] });
  });
});

describe('routesToCanary', () => {
  it('names routes that still send traffic to the canary', () => {
    const vs = newTestVirtualService();
    expect(routesToCanary(vs, ctx(newTestTraffic()))).toEqual([]);
    const at0 = applyPatch(vs, buildSetWeightPatch(vs, ctx(newTestTraffic()), 0));
    expect(routesToCanary(at0, ctx(newTestTraffic()))).toEqual([]);
    const at5 = applyPatch(vs, buildSetWeightPatch(vs, ctx(newTestTraffic()), 5));
    expect(routesToCanary(at5, ctx(newTestTraffic()))).toEqual(['#2 (unnamed)']);
  });
});

// ---- DestinationRule -----------------------------------------------------------------------

function newTestDestinationRule(subsets?: Subset[], host = 'storefront'): DestinationRule {
  return { metadata: { name: 'storefront', namespace: 'mushop', resourceVersion: '7' }, spec: { host, ...(subsets ? { subsets } : {}) } };
}

describe('ensureSubsets', () => {
  const cases: { name: string; current: Subset[] | undefined; want: Subset[] }[] = [
    { name: 'no subsets', current: undefined, want: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }] },
    {
      name: 'stable exists with more labels; others untouched',
      current: [{ name: 'legacy', labels: { version: 'v0' } }, { name: 'stable', labels: { app: 'storefront', version: 'v1' }, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }],
      want: [
        { name: 'legacy', labels: { version: 'v0' } },
        { name: 'stable', labels: { app: 'storefront', version: 'v1' }, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
        { name: 'canary', labels: { version: 'v2' } },
      ],
    },
    {
      name: 'both exist: version labels set, in place',
      current: [{ name: 'canary', labels: { version: 'old' } }, { name: 'stable' }],
      want: [{ name: 'canary', labels: { version: 'v2' } }, { name: 'stable', labels: { version: 'v1' } }],
    },
  ];
  it.each(cases)('$name', ({ current, want }) => {
    const before = JSON.stringify(current);
    expect(ensureSubsets(current, subsetRouting, versionLabel)).toEqual(want);
    expect(ensureSubsets(want, subsetRouting, versionLabel)).toEqual(want);
    expect(JSON.stringify(current)).toBe(before);
  });
});

describe('restoreSubsets', () => {
  const cases: { name: string; current: Subset[] | undefined; snapshot: Subset[] | undefined; want: Subset[] | undefined }[] = [
    { name: 'added subsets removed, field dropped when the snapshot had none', current: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }], snapshot: undefined, want: undefined },
    {
      name: 'changed stable subset put back, canary removed',
      current: [{ name: 'stable', labels: { app: 'a', version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }],
      snapshot: [{ name: 'stable', labels: { app: 'a', version: 'old' } }],
      want: [{ name: 'stable', labels: { app: 'a', version: 'old' } }],
    },
    {
      name: "someone else's subset added since is kept",
      current: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }, { name: 'mirror', labels: { version: 'm' } }],
      snapshot: [{ name: 'stable', labels: { version: 'v1' } }],
      want: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'mirror', labels: { version: 'm' } }],
    },
    { name: 'a deleted stable subset comes back in place', current: [{ name: 'x' }], snapshot: [{ name: 'stable' }, { name: 'x' }], want: [{ name: 'stable' }, { name: 'x' }] },
    { name: 'an empty list stays a list', current: [{ name: 'canary' }], snapshot: [], want: [] },
  ];
  it.each(cases)('$name', ({ current, snapshot, want }) => {
    expect(restoreSubsets(current, snapshot, subsetRouting)).toEqual(want);
  });

  it('round-trips with ensureSubsets', () => {
    for (const snapshot of [undefined, [], [{ name: 'stable', labels: { version: 'v1' } }], [{ name: 'other' }, { name: 'canary', labels: { version: 'zz' } }]]) {
      expect(restoreSubsets(ensureSubsets(snapshot, subsetRouting, versionLabel), snapshot, subsetRouting)).toEqual(snapshot);
    }
  });
});

describe('buildSubsetsPatch', () => {
  const two = [{ name: 'stable' }, { name: 'canary' }];
  const cases: { name: string; dr: DestinationRule; subsets: Subset[] | undefined; want: JsonPatchOp[] }[] = [
    { name: 'unchanged', dr: newTestDestinationRule(two), subsets: two, want: [] },
    { name: 'both absent', dr: newTestDestinationRule(), subsets: undefined, want: [] },
    { name: 'add when absent', dr: newTestDestinationRule(), subsets: two, want: [{ op: 'test', path: '/metadata/resourceVersion', value: '7' }, { op: 'add', path: '/spec/subsets', value: two }] },
    { name: 'replace when present', dr: newTestDestinationRule([{ name: 'stable' }]), subsets: two, want: [{ op: 'test', path: '/metadata/resourceVersion', value: '7' }, { op: 'replace', path: '/spec/subsets', value: two }] },
    { name: 'remove back to none', dr: newTestDestinationRule(two), subsets: undefined, want: [{ op: 'test', path: '/metadata/resourceVersion', value: '7' }, { op: 'remove', path: '/spec/subsets' }] },
  ];
  it.each(cases)('$name', ({ dr, subsets, want }) => {
    expect(buildSubsetsPatch(dr, subsets)).toEqual(want);
    if (want.length > 0) expect(applyPatch(dr, want).spec!.subsets).toEqual(subsets);
  });
});

describe('hosts, as Istio resolves them', () => {
  it.each([
    ['storefront', 'storefront.mushop.svc.cluster.local'],
    ['storefront.mushop.svc.cluster.local', 'storefront.mushop.svc.cluster.local'],
    // A name with a dot is taken as written: Istio does not expand these.
    ['storefront.mushop', 'storefront.mushop'],
    ['storefront.mushop.svc', 'storefront.mushop.svc'],
    ['api.example.com', 'api.example.com'],
  ])('%s resolves to %s in namespace mushop', (host, want) => {
    expect(resolveHost(host, 'mushop')).toBe(want);
  });

  it.each([
    ['storefront', 'storefront.mushop.svc.cluster.local', true],
    ['storefront', 'storefront.mushop', false],
    ['storefront.other.svc.cluster.local', 'storefront', false],
    ['catalogue', 'storefront', false],
  ])('%s and %s are the same Service: %p', (a, b, want) => {
    expect(sameHost(a, b, 'mushop')).toBe(want);
    expect(sameHost(b, a, 'mushop')).toBe(want);
  });

  it('names the Service a host is', () => {
    expect(serviceOfHost('web', 'shop')).toEqual({ name: 'web', namespace: 'shop' });
    expect(serviceOfHost('web.other.svc.cluster.local', 'shop')).toEqual({ name: 'web', namespace: 'other' });
    expect(serviceOfHost('web.shop', 'shop')).toBeUndefined();
  });

  it('a route to the FQDN is the same destination; a route to name.ns says Istio does not resolve it', () => {
    const fqdn = newTestVirtualService([{ route: [{ destination: { host: 'storefront.mushop.svc.cluster.local', subset: 'stable' } }] }]);
    expect(inspectVirtualService(fqdn, ctx())).toEqual([]);
    // The canary entry is written in the route's own form.
    expect(buildSetWeightPatch(fqdn, ctx(), 10).at(-1)).toMatchObject({ value: [
      { destination: { host: 'storefront.mushop.svc.cluster.local', subset: 'stable' }, weight: 90 },
      { destination: { host: 'storefront.mushop.svc.cluster.local', subset: 'canary' }, weight: 10 },
    ] });
    const short = newTestVirtualService([{ route: [{ destination: { host: 'storefront.mushop', subset: 'stable' } }] }]);
    expect(inspectVirtualService(short, ctx())).toEqual([
      'VirtualService mushop/storefront HTTP route #0 (unnamed) sends traffic to host "storefront.mushop", which Istio does not resolve to the Service mushop/storefront (it expands only names without a dot); write "storefront" or "storefront.mushop.svc.cluster.local" in the route',
    ]);
  });
});

describe('planDestinationRule', () => {
  const rule = (name: string, host: string): DestinationRule => ({ metadata: { name, namespace: 'mushop', resourceVersion: '1' }, spec: { host } });
  const subsetT = (destinationRule?: string) => newTestTraffic({ routing: { mode: 'subset', ...(destinationRule ? { destinationRule } : {}), stableSubset: 'stable', canarySubset: 'canary' } });
  it.each([
    ['none for the host: create one named after the rollout', [rule('other', 'catalogue')], undefined, { kind: 'create', name: 'storefront-ramp' }],
    ['none, but the spec names one: create it', [], 'mine', { kind: 'create', name: 'mine' }],
    ['the one rule for the host (in FQDN form) is used', [rule('sf', 'storefront.mushop.svc.cluster.local')], undefined, { kind: 'use', name: 'sf' }],
    ['the named rule', [rule('sf', 'storefront'), rule('sf2', 'storefront')], 'sf2', { kind: 'use', name: 'sf2' }],
  ] as const)('%s', (_name, rules, named, want) => {
    const plan = planDestinationRule([...rules], ctx(subsetT(named)), 'storefront');
    expect(plan.kind === 'use' ? { kind: 'use', name: plan.rule.metadata?.name } : plan).toEqual(want);
  });

  it.each([
    ['two rules for the host', [rule('a', 'storefront'), rule('b', 'storefront')], undefined, /^2 DestinationRules cover host storefront \(a, b\); set spec.traffic.routing.destinationRule/],
    ['the named rule is for another host', [rule('sf', 'catalogue')], 'sf', /^DestinationRule mushop\/sf is for host "catalogue", not "storefront"; set spec.traffic.host/],
    ['the named rule is missing but another covers the host', [rule('sf', 'storefront')], 'mine', /^DestinationRule mushop\/mine not found, and DestinationRule mushop\/sf already covers host storefront; set spec.traffic.routing.destinationRule to it/],
  ] as const)('problem: %s', (_name, rules, named, want) => {
    const plan = planDestinationRule([...rules], ctx(subsetT(named)), 'storefront');
    expect(plan.kind).toBe('problem');
    if (plan.kind === 'problem') expect(plan.problem).toMatch(want);
  });
});

describe('promotion of the stable subset', () => {
  const versions = { key: 'version', stable: 'v1', canary: 'v2', stablePinned: false };
  const subsets: Subset[] = [{ name: 'stable', labels: { app: 'sf', version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }, { name: 'x' }];
  it('begin: the stable subset stops selecting by version; end: it selects the new version; others untouched', () => {
    expect(promotionSubsets(subsets, subsetRouting, versions, 'begin')).toEqual([{ name: 'stable', labels: { app: 'sf' } }, subsets[1], subsets[2]]);
    expect(promotionSubsets(subsets, subsetRouting, versions, 'end')).toEqual([{ name: 'stable', labels: { app: 'sf', version: 'v2' } }, subsets[1], subsets[2]]);
    expect(rebaseSubsets([{ name: 'stable', labels: { version: 'v1' } }], subsetRouting, versions)).toEqual([{ name: 'stable', labels: { version: 'v2' } }]);
    expect(rebaseSubsets(undefined, subsetRouting, versions)).toBeUndefined();
  });
});

describe('planServicePins: each Service selects only its own version', () => {
  const base = {
    namespace: 'shop', versions: { key: 'version', canary: 'v2' }, stableHash: 'abc',
    stablePods: { app: 'demo', 'pod-template-hash': 'abc' }, canaryPods: { app: 'demo', version: 'v2' },
  };
  it('both Services select every pod of the app (the Argo Rollouts guide): narrow both', () => {
    expect(planServicePins({ ...base, stable: { name: 'stable-svc', selector: { app: 'demo' } }, canary: { name: 'canary-svc', selector: { app: 'demo' } } })).toEqual({
      stable: { app: 'demo', 'pod-template-hash': 'abc' }, canary: { app: 'demo', version: 'v2' }, problems: [],
    });
  });
  it('Services already apart by version: nothing to do', () => {
    expect(planServicePins({
      ...base, stablePods: { app: 'demo', version: 'v1', 'pod-template-hash': 'abc' }, canaryPods: { app: 'demo', version: 'v2' },
      stable: { name: 's', selector: { app: 'demo', version: 'v1' } },
    })).toEqual({ problems: [] });
  });
  it('refuses what cannot be made safe, naming why', () => {
    expect(planServicePins({ ...base, stable: { name: 's', selector: { app: 'other' } } }).problems).toEqual([
      'Service shop/s does not select the stable Deployment\'s pods (selector {"app":"other"}); point spec.traffic.routing.stableService at the Service for them',
    ]);
    expect(planServicePins({ ...base, stable: { name: 's' } }).problems[0]).toMatch(/^Service shop\/s has no selector/);
    expect(planServicePins({ ...base, stable: { name: 's', selector: { app: 'demo' } }, canary: { name: 'c', selector: { tier: 'x' } } }).problems[0]).toMatch(/^Service shop\/c will not select the canary's pods/);
  });
});

// ---- canary Service ------------------------------------------------------------------------

describe('buildCanaryService', () => {
  const target: Service = {
    metadata: { name: 'storefront', namespace: 'mushop' },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 30080 }], selector: { app: 'storefront' } },
  };
  const stable: Service = { metadata: { name: 'storefront-stable', namespace: 'mushop' }, spec: { ports: [{ port: 1 }], selector: { app: 'storefront', version: 'v1' } } };

  it("copies the target's ports and the stable selector (without a pin) with the canary version", () => {
    expect(buildCanaryService({ name: 'storefront-canary', namespace: 'mushop', target, stableSelector: { ...stable.spec!.selector!, 'pod-template-hash': 'h' }, stableName: 'storefront-stable', versions: versionLabel })).toEqual({
      metadata: { name: 'storefront-canary', namespace: 'mushop', labels: { 'app.kubernetes.io/managed-by': 'ramp' } },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], selector: { app: 'storefront', version: 'v2' } },
    });
  });

  it('names every reason it cannot derive the Service', () => {
    const problems = problemsOf(() =>
      buildCanaryService({ name: 'c', namespace: 'mushop', target: { metadata: target.metadata, spec: {} }, stableSelector: undefined, stableName: 'storefront-stable', versions: versionLabel }),
    );
    expect(problems).toEqual([
      'Service mushop/storefront-stable has no selector, so Ramp cannot derive the canary Service mushop/c from it; create c yourself, selecting the canary pods',
      'Service mushop/storefront has no ports to copy to the canary Service mushop/c; create c yourself',
    ]);
  });
});

describe('jsonEqual', () => {
  it.each([
    [{ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }, true],
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [[1, 2], [2, 1], false],
    [{ a: 0 }, { a: null }, false],
    [[], {}, false],
    [undefined, undefined, true],
  ])('%j vs %j: %p', (a, b, want) => expect(jsonEqual(a, b)).toBe(want));
});

describe('routes as the guides write them', () => {
  const mushopEdge = () => newTestVirtualService([
    { match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'mushop-api' } }] },
    { match: [{ uri: { prefix: '/assets' } }], route: [{ destination: { host: 'mushop-assets' } }] },
    { route: [{ destination: { host: 'storefront.mushop.svc.cluster.local', port: { number: 80 } } }] },
  ]);

  it.each([
    [{ default: true } as const, 'default'],
    [{ index: 2 }, 'index:2'],
  ])('selects %j: the unnamed default route, recorded as %s', (selector, key) => {
    const t = newTestTraffic({ virtualService: { name: 'storefront', routes: [selector] }, routing: { mode: 'subset', stableSubset: 'stable', canarySubset: 'canary' } });
    expect(findManagedRoutes(mushopEdge(), ctx(t)).map((r) => [r.index, r.selector])).toEqual([[2, key]]);
  });

  it('selects by URI prefix (here a route that is not the storefront\'s, which the check then names)', () => {
    const t = newTestTraffic({ virtualService: { name: 'storefront', routes: [{ prefix: '/assets' }] } });
    expect(inspectVirtualService(mushopEdge(), ctx(t))).toEqual([expect.stringMatching(/^VirtualService mushop\/storefront HTTP route #1 \(unnamed\) has no destination storefront/)]);
  });

  it('a route to the plain host (no subset) is the stable destination; the rollout adds subsets and the restore puts the plain host back', () => {
    const t = newTestTraffic({ virtualService: { name: 'storefront', routes: [{ default: true }] }, routing: { mode: 'subset', stableSubset: 'stable', canarySubset: 'canary' } });
    const original = mushopEdge();
    expect(inspectVirtualService(original, ctx(t))).toEqual([]);
    expect(readWeights(original, ctx(t))).toEqual([{ name: 'default', weights: { stable: 100, canary: 0 } }]);
    const snap = snapshotRoutes(original, ctx(t));
    const at10 = applyPatch(original, buildSetWeightPatch(original, ctx(t), 10));
    expect(at10.spec!.http![2]!.route).toEqual([
      { destination: { host: 'storefront.mushop.svc.cluster.local', subset: 'stable', port: { number: 80 } }, weight: 90 },
      { destination: { host: 'storefront.mushop.svc.cluster.local', subset: 'canary', port: { number: 80 } }, weight: 10 },
    ]);
    expect(JSON.stringify(at10.spec!.http!.slice(0, 2))).toBe(JSON.stringify(original.spec!.http!.slice(0, 2)));
    const restored = applyPatch(at10, buildRestoreRoutesPatch(at10, snap).ops);
    expect(restored.spec).toEqual(original.spec);
  });

  it('service routing writes the canary Service in the form the route uses', () => {
    const t = serviceTraffic();
    const route = [{ destination: { host: 'storefront-stable.mushop.svc.cluster.local' } }];
    expect(weightedRoute(route, ctx(t), 20)).toEqual([
      { destination: { host: 'storefront-stable.mushop.svc.cluster.local' }, weight: 80 },
      { destination: { host: 'storefront-canary.mushop.svc.cluster.local' }, weight: 20 },
    ]);
  });
});
