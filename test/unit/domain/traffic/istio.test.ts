import type { TrafficSpec } from '../../../../src/domain/spec/schema';
import {
  buildCanaryService,
  buildRestoreRoutesPatch,
  buildSetWeightPatch,
  buildSubsetsPatch,
  DestinationRule,
  ensureSubsets,
  findManagedRoutes,
  HttpRoute,
  inspectDestinationRule,
  inspectVirtualService,
  JsonPatchOp,
  jsonEqual,
  readWeights,
  restoreSubsets,
  RouteDestination,
  routesToCanary,
  routeWeights,
  sameServiceHost,
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
  newTestTraffic({ routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }, ...over });

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
    const found = findManagedRoutes(newTestVirtualService(http), newTestTraffic({ virtualService: { name: 'storefront', routes } }));
    expect(found.map((r) => ({ index: r.index, name: r.name }))).toEqual(want);
  });

  const bad: { name: string; http: HttpRoute[]; routes?: string[]; traffic?: TrafficSpec; want: RegExp[] }[] = [
    {
      name: 'missing named route',
      http: [apiRoute(), assetsRoute()],
      routes: ['primary'],
      want: [/^VirtualService mushop\/storefront has no HTTP route named "primary" \(routes: api, assets\); set spec.traffic.virtualService.routes to one of them$/],
    },
    {
      name: 'every missing route is named',
      http: [apiRoute()],
      routes: ['primary', 'beta'],
      want: [/no HTTP route named "primary"/, /no HTTP route named "beta"/],
    },
    { name: 'no default route', http: [apiRoute(), assetsRoute()], want: [/has no default HTTP route \(one without match\) \(routes: api, assets\); set spec.traffic.virtualService.routes/] },
    {
      name: 'ambiguous default route',
      http: [defaultRoute(), apiRoute(), { ...defaultRoute(), name: 'other' }],
      want: [/has 2 HTTP routes without match \(#0 \(unnamed\), "other"\), so the default route is ambiguous; name the one to manage/],
    },
    { name: 'duplicate route names', http: [{ ...defaultRoute(), name: 'x' }, { ...defaultRoute(), name: 'x' }], routes: ['x'], want: [/has 2 HTTP routes named "x"/] },
    { name: 'no HTTP routes at all', http: [], want: [/has no HTTP routes \(spec.http is empty\)/] },
    { name: 'route without destinations', http: [{ name: 'redir', redirect: { uri: '/' } }], routes: ['redir'], want: [/HTTP route "redir" has no route destinations/] },
    {
      name: 'stable subset missing',
      http: [{ route: [{ destination: { host: 'storefront', subset: 'v1' } }] }],
      want: [/HTTP route #0 \(unnamed\) has no destination storefront subset stable \(destinations: storefront subset v1\); route it to that host and subset, or set spec.traffic.host/],
    },
    {
      name: 'short host is not matched against an FQDN destination',
      http: [{ route: [{ destination: { host: 'storefront.mushop.svc.cluster.local', subset: 'stable' } }] }],
      want: [/has no destination storefront subset stable/],
    },
    {
      name: 'service mode: stable Service missing',
      http: [defaultRoute()],
      traffic: serviceTraffic(),
      want: [/has no destination storefront-stable \(destinations: storefront subset stable\); route it to that Service, or set spec.traffic.routing.stableService/],
    },
    {
      name: 'a third destination',
      http: [{ route: [{ destination: { host: 'storefront', subset: 'stable' }, weight: 90 }, { destination: { host: 'legacy' }, weight: 10 }] }],
      want: [/HTTP route #0 \(unnamed\) also sends traffic to legacy; Ramp splits a route between stable and canary only/],
    },
  ];
  it.each(bad)('rejects: $name', ({ http, routes = [], traffic = newTestTraffic(), want }) => {
    const t = { ...traffic, virtualService: { name: 'storefront', routes } };
    const vs = newTestVirtualService(http);
    const problems = problemsOf(() => findManagedRoutes(vs, t));
    expect(problems).toHaveLength(want.length);
    want.forEach((re, i) => expect(problems[i]).toMatch(re));
    expect(inspectVirtualService(vs, t)).toEqual(problems);
  });

  it('finds nothing wrong with a well-formed VirtualService', () => {
    expect(inspectVirtualService(newTestVirtualService(), newTestTraffic())).toEqual([]);
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
    expect(weightedRoute(original, traffic, weight)).toEqual(want);
  });

  it('depends only on the stable entry, so applying it twice gives the same route', () => {
    const once = weightedRoute([stableEntry], newTestTraffic(), 20);
    expect(weightedRoute(once, newTestTraffic(), 20)).toEqual(once);
  });

  it.each([-1, 101, 12.5, Number.NaN])('rejects weight %p', (w) => {
    expect(() => weightedRoute([stableEntry], newTestTraffic(), w)).toThrow(RangeError);
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
  it.each(cases)('$name', ({ route, want }) => expect(routeWeights(route, t)).toEqual(want));

  it('reads every managed route of a VirtualService', () => {
    const http = [{ ...defaultRoute(), name: 'a', match: [{ port: 1 }] }, { ...defaultRoute(), name: 'b' }];
    const t2 = newTestTraffic({ virtualService: { name: 'storefront', routes: ['a', 'b'] } });
    const vs = applyPatch(newTestVirtualService(http), buildSetWeightPatch(newTestVirtualService(http), t2, 35));
    expect(readWeights(vs, t2)).toEqual([
      { name: 'a', weights: { stable: 65, canary: 35 } },
      { name: 'b', weights: { stable: 65, canary: 35 } },
    ]);
  });
});

// ---- patches -------------------------------------------------------------------------------

describe('buildSetWeightPatch', () => {
  it('guards on resourceVersion, then replaces only the default route', () => {
    const ops = buildSetWeightPatch(newTestVirtualService(), newTestTraffic(), 10);
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
    const t = newTestTraffic({ virtualService: { name: 'storefront', routes: ['primary', 'beta'] } });
    const ops = buildSetWeightPatch(newTestVirtualService(http), t, 60);
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
    const after = applyPatch(before, buildSetWeightPatch(before, newTestTraffic(), 60));
    expect(JSON.stringify(after.spec!.http![0])).toBe(JSON.stringify(before.spec!.http![0]));
    expect(JSON.stringify(after.spec!.http![1])).toBe(JSON.stringify(before.spec!.http![1]));
    expect({ ...after.spec, http: undefined }).toEqual({ ...before.spec, http: undefined });
    expect(readWeights(after, newTestTraffic())).toEqual([{ name: '', weights: { stable: 40, canary: 60 } }]);
  });

  it('is empty when the routes already carry the weight, whatever the key order', () => {
    const vs = applyPatch(newTestVirtualService(), buildSetWeightPatch(newTestVirtualService(), newTestTraffic(), 10));
    expect(buildSetWeightPatch(vs, newTestTraffic(), 10)).toEqual([]);
    vs.spec!.http![2]!.route = [
      { weight: 90, destination: { subset: 'stable', host: 'storefront' } },
      { weight: 10, destination: { subset: 'canary', host: 'storefront' } },
    ];
    expect(buildSetWeightPatch(vs, newTestTraffic(), 10)).toEqual([]);
    expect(buildSetWeightPatch(vs, newTestTraffic(), 11)).toHaveLength(2);
  });

  it('fails (as the apiserver would) when applied to a newer version of the object', () => {
    const ops = buildSetWeightPatch(newTestVirtualService(), newTestTraffic(), 10);
    expect(() => applyPatch(newTestVirtualService(undefined, '43'), ops)).toThrow('test /metadata/resourceVersion failed');
  });

  it('refuses to build a patch without a resourceVersion', () => {
    const vs = newTestVirtualService();
    delete vs.metadata!.resourceVersion;
    expect(() => buildSetWeightPatch(vs, newTestTraffic(), 10)).toThrow(/VirtualService mushop\/storefront has no metadata.resourceVersion/);
  });

  it('throws TrafficConfigError when the managed route is missing', () => {
    const t = newTestTraffic({ virtualService: { name: 'storefront', routes: ['primary'] } });
    expect(() => buildSetWeightPatch(newTestVirtualService(), t, 10)).toThrow(TrafficConfigError);
  });
});

describe('snapshot and restore of routes', () => {
  const steps: { name: string; traffic: TrafficSpec; http: () => HttpRoute[] }[] = [
    { name: 'default route, subset mode', traffic: newTestTraffic(), http: () => [apiRoute(), assetsRoute(), defaultRoute()] },
    {
      name: 'named routes, service mode with port',
      traffic: serviceTraffic({ port: 80, virtualService: { name: 'storefront', routes: ['web', 'beta'] } }),
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
    const snap = snapshotRoutes(original, traffic);
    let vs = original;
    for (const [i, w] of [10, 60, 100, 0].entries()) {
      vs = applyPatch(vs, buildSetWeightPatch(vs, traffic, w));
      vs.metadata!.resourceVersion = String(100 + i);
      expect(readWeights(vs, traffic).every((r) => r.weights.canary === w && r.weights.stable === 100 - w)).toBe(true);
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
    const snap = snapshotRoutes(vs, newTestTraffic());
    vs.spec!.http![2]!.route![0]!.weight = 5;
    expect(snap).toEqual([{ name: '', route: [{ destination: { host: 'storefront', subset: 'stable' } }] }]);
  });

  it('a snapshot route that is gone routes nothing to the canary: listed as missing, not an error', () => {
    const vs = newTestVirtualService([apiRoute()]);
    expect(buildRestoreRoutesPatch(vs, [{ name: 'primary', route: [] }])).toEqual({ ops: [], missing: ['primary'] });
  });
});

describe('routesToCanary', () => {
  it('names routes that still send traffic to the canary', () => {
    const vs = newTestVirtualService();
    expect(routesToCanary(vs, newTestTraffic())).toEqual([]);
    const at0 = applyPatch(vs, buildSetWeightPatch(vs, newTestTraffic(), 0));
    expect(routesToCanary(at0, newTestTraffic())).toEqual([]);
    const at5 = applyPatch(vs, buildSetWeightPatch(vs, newTestTraffic(), 5));
    expect(routesToCanary(at5, newTestTraffic())).toEqual(['#2 (unnamed)']);
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

describe('inspectDestinationRule and sameServiceHost', () => {
  it.each([
    ['storefront', 'storefront', true],
    ['storefront.mushop', 'storefront', true],
    ['storefront.mushop.svc', 'storefront', true],
    ['storefront.mushop.svc.cluster.local', 'storefront', true],
    ['storefront.other.svc.cluster.local', 'storefront', false],
    ['catalogue', 'storefront', false],
  ])('%s vs %s in mushop: %p', (a, b, want) => {
    expect(sameServiceHost(a, b, 'mushop')).toBe(want);
    expect(sameServiceHost(b, a, 'mushop')).toBe(want);
  });

  it('says which host the DestinationRule is for and how to fix it', () => {
    expect(inspectDestinationRule(newTestDestinationRule(undefined, 'storefront.mushop.svc.cluster.local'), newTestTraffic(), 'mushop')).toEqual([]);
    expect(inspectDestinationRule(newTestDestinationRule(undefined, 'catalogue'), newTestTraffic(), 'mushop')).toEqual([
      'DestinationRule mushop/storefront is for host "catalogue", not "storefront"; set spec.traffic.host to the DestinationRule\'s host, or spec.traffic.routing.destinationRule to the rule for storefront',
    ]);
  });
});

// ---- canary Service ------------------------------------------------------------------------

describe('buildCanaryService', () => {
  const target: Service = {
    metadata: { name: 'storefront', namespace: 'mushop' },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 30080 }], selector: { app: 'storefront' } },
  };
  const stable: Service = { metadata: { name: 'storefront-stable', namespace: 'mushop' }, spec: { ports: [{ port: 1 }], selector: { app: 'storefront', version: 'v1' } } };

  it("copies the target's ports and the stable selector with the canary version", () => {
    expect(buildCanaryService({ name: 'storefront-canary', namespace: 'mushop', target, stable, versionLabel })).toEqual({
      metadata: { name: 'storefront-canary', namespace: 'mushop', labels: { 'app.kubernetes.io/managed-by': 'ramp' } },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], selector: { app: 'storefront', version: 'v2' } },
    });
  });

  it('names every reason it cannot derive the Service', () => {
    const problems = problemsOf(() =>
      buildCanaryService({ name: 'c', namespace: 'mushop', target: { metadata: target.metadata, spec: {} }, stable: { metadata: stable.metadata, spec: { ports: [{ port: 1 }] } }, versionLabel }),
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
