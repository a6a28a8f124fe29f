import {
  behaviourOfPod, canonicalRevisionOfPod, expectedShares, findRoute, matchesLabels, pickByWeight, pickUniform, readyPodsOfService, resolveEntry,
  resolveHost, RouteError, routeEntries, serviceOfHost, subsetsFor, versionOfPod, workloadOfPod,
  type DestinationRuleLike, type Endpoint, type EndpointSliceLike, type MeshState, type PodLike, type RouteSelector,
} from '../../../scripts/traffic/mesh';

const NS = 'shop';

/** A pod of Deployment `deployment` (through its ReplicaSet), as the controllers name and label it. */
function newTestPod(name: string, opts: { deployment?: string; hash?: string; labels?: Record<string, string>; image?: string; images?: string[] } = {}): PodLike {
  const hash = opts.hash ?? 'abc123';
  const labels = { ...(opts.deployment ? { 'pod-template-hash': hash } : {}), ...opts.labels };
  return {
    metadata: {
      name,
      namespace: NS,
      ...(opts.deployment ? { generateName: `${opts.deployment}-${hash}-`, ownerReferences: [{ kind: 'ReplicaSet', name: `${opts.deployment}-${hash}`, controller: true }] } : {}),
      labels,
    },
    spec: { containers: (opts.images ?? [opts.image ?? 'app:v1']).map((image, i) => ({ name: `c${i}`, image })) },
  };
}

function newTestSlice(service: string, endpoints: { pod: string; ready?: boolean | null }[], name = `${service}-x`): EndpointSliceLike {
  return {
    metadata: { name, labels: { 'kubernetes.io/service-name': service } },
    endpoints: endpoints.map((e) => ({ conditions: e.ready === undefined ? {} : { ready: e.ready }, targetRef: { kind: 'Pod', name: e.pod } })),
  };
}

describe('resolveHost and serviceOfHost: Istio’s short-name rule', () => {
  const table: { host: string; fqdn: string; service: string | undefined }[] = [
    { host: 'web', fqdn: 'web.shop.svc.cluster.local', service: 'web' },
    { host: 'web.shop.svc.cluster.local', fqdn: 'web.shop.svc.cluster.local', service: 'web' },
    // A name with a dot is taken as written: no Service has the hostname `web.shop`.
    { host: 'web.shop', fqdn: 'web.shop', service: undefined },
    { host: 'web.shop.svc', fqdn: 'web.shop.svc', service: undefined },
    { host: 'web.other.svc.cluster.local', fqdn: 'web.other.svc.cluster.local', service: undefined },
    { host: 'a.b.shop.svc.cluster.local', fqdn: 'a.b.shop.svc.cluster.local', service: undefined },
    { host: 'storefront.example.com', fqdn: 'storefront.example.com', service: undefined },
    { host: '*', fqdn: '*', service: undefined },
  ];
  it.each(table)('$host → $fqdn', ({ host, fqdn, service }) => {
    expect(resolveHost(host, NS)).toBe(fqdn);
    expect(serviceOfHost(host, NS)).toBe(service);
  });
});

describe('matchesLabels', () => {
  const table: { labels?: Record<string, string>; selector?: Record<string, string>; want: boolean }[] = [
    { labels: { app: 'web', version: 'v1' }, selector: { version: 'v1' }, want: true },
    { labels: { app: 'web', version: 'v1' }, selector: { version: 'v2' }, want: false },
    { labels: { app: 'web' }, selector: { version: 'v1' }, want: false },
    { labels: { app: 'web' }, selector: {}, want: true },
    { labels: undefined, selector: undefined, want: true },
    { labels: undefined, selector: { app: 'web' }, want: false },
  ];
  it.each(table)('$labels ⊇ $selector: $want', ({ labels, selector, want }) => {
    expect(matchesLabels(labels, selector)).toBe(want);
  });
});

describe('subsetsFor: the DestinationRules of the Service, merged as Istio merges them', () => {
  const rule = (name: string, host: string, created: string, subsets: { name: string; labels?: Record<string, string> }[]): DestinationRuleLike =>
    ({ metadata: { name, creationTimestamp: created }, spec: { host, subsets } });
  const fqdn = 'web.shop.svc.cluster.local';
  const table: { what: string; rules: DestinationRuleLike[]; want: Record<string, Record<string, string>> }[] = [
    { what: 'a short host', rules: [rule('r', 'web', '2026-01-01T00:00:00Z', [{ name: 'stable', labels: { version: 'v1' } }])], want: { stable: { version: 'v1' } } },
    { what: 'an FQDN host', rules: [rule('r', fqdn, '2026-01-01T00:00:00Z', [{ name: 'canary', labels: { version: 'v2' } }])], want: { canary: { version: 'v2' } } },
    { what: 'a rule for another host', rules: [rule('r', 'api', '2026-01-01T00:00:00Z', [{ name: 'stable', labels: { version: 'v1' } }])], want: {} },
    { what: 'a host written web.shop (not the Service to Istio)', rules: [rule('r', 'web.shop', '2026-01-01T00:00:00Z', [{ name: 'stable' }])], want: {} },
    {
      what: 'two rules: subsets merged, the older rule’s definition wins',
      rules: [
        rule('b-newer', 'web', '2026-01-02T00:00:00Z', [{ name: 'stable', labels: { version: 'other' } }, { name: 'canary', labels: { version: 'v2' } }]),
        rule('a-older', fqdn, '2026-01-01T00:00:00Z', [{ name: 'stable', labels: { version: 'v1' } }]),
      ],
      want: { stable: { version: 'v1' }, canary: { version: 'v2' } },
    },
    { what: 'a subset without labels selects everything', rules: [rule('r', 'web', '2026-01-01T00:00:00Z', [{ name: 'all' }])], want: { all: {} } },
  ];
  it.each(table)('$what', ({ rules, want }) => {
    expect(Object.fromEntries(subsetsFor(fqdn, rules, NS))).toEqual(want);
  });
});

describe('workloadOfPod: Istio’s destination_workload', () => {
  const table: { what: string; pod: PodLike; want: string }[] = [
    { what: 'a Deployment’s pod: its ReplicaSet without the pod-template-hash', pod: newTestPod('web-stable-abc123-xyz', { deployment: 'web-stable' }), want: 'web-stable' },
    { what: 'a Deployment whose name has dashes', pod: newTestPod('storefront-original-canary-5f6-q', { deployment: 'storefront-original-canary', hash: '5f6' }), want: 'storefront-original-canary' },
    {
      what: 'a ReplicaSet without pod-template-hash: the ReplicaSet',
      pod: { metadata: { name: 'rs-1-q', generateName: 'rs-1-', ownerReferences: [{ kind: 'ReplicaSet', name: 'rs-1', controller: true }] } },
      want: 'rs-1',
    },
    {
      what: 'a StatefulSet’s pod',
      pod: { metadata: { name: 'db-0', generateName: 'db-', ownerReferences: [{ kind: 'StatefulSet', name: 'db', controller: true }] } },
      want: 'db',
    },
    {
      what: 'a CronJob’s pod: the Job without its schedule suffix',
      pod: { metadata: { name: 'report-28888800-abcde', generateName: 'report-28888800-', ownerReferences: [{ kind: 'Job', name: 'report-28888800', controller: true }] } },
      want: 'report',
    },
    { what: 'a bare pod: its own name', pod: { metadata: { name: 'debug' } }, want: 'debug' },
    {
      what: 'an owner that is not the controller is ignored',
      pod: { metadata: { name: 'x-1', generateName: 'x-', ownerReferences: [{ kind: 'ReplicaSet', name: 'x', controller: false }] } },
      want: 'x-1',
    },
    {
      what: 'the workload-name label wins',
      pod: newTestPod('web-stable-abc123-xyz', { deployment: 'web-stable', labels: { 'service.istio.io/workload-name': 'named' } }),
      want: 'named',
    },
  ];
  it.each(table)('$what', ({ pod, want }) => {
    expect(workloadOfPod(pod)).toBe(want);
  });
});

describe('version and canonical revision of a pod', () => {
  const table: { labels: Record<string, string>; key: string; version: string; revision: string }[] = [
    { labels: { version: 'v1' }, key: 'version', version: 'v1', revision: 'v1' },
    { labels: { version: 'v1', 'service.istio.io/canonical-revision': 'r7' }, key: 'version', version: 'v1', revision: 'r7' },
    { labels: { track: 'beta' }, key: 'track', version: 'beta', revision: 'beta' },
    { labels: {}, key: 'version', version: 'unknown', revision: 'latest' },
  ];
  it.each(table)('$labels by $key', ({ labels, key, version, revision }) => {
    const pod = newTestPod('p', { labels });
    expect(versionOfPod(pod, key)).toBe(version);
    expect(canonicalRevisionOfPod(pod, key)).toBe(revision);
  });
});

describe('behaviourOfPod: which demo service plays a pod, by image', () => {
  const images = { 'app:v1': 'http://127.0.0.1:1/', 'app:v2': 'http://127.0.0.1:2/' };
  const table: { what: string; containers: string[]; defaultUrl?: string; want: { image: string; url?: string } }[] = [
    { what: 'a mapped image', containers: ['app:v2'], want: { image: 'app:v2', url: 'http://127.0.0.1:2/' } },
    { what: 'the first mapped container, after an unmapped sidecar', containers: ['proxy:1', 'app:v1'], want: { image: 'app:v1', url: 'http://127.0.0.1:1/' } },
    { what: 'an unmapped image with a default', containers: ['app:v3'], defaultUrl: 'http://127.0.0.1:9/', want: { image: 'app:v3', url: 'http://127.0.0.1:9/' } },
    { what: 'an unmapped image without default', containers: ['app:v3'], want: { image: 'app:v3', url: undefined } },
  ];
  it.each(table)('$what', ({ containers, defaultUrl, want }) => {
    expect(behaviourOfPod(newTestPod('p', { images: containers }), images, defaultUrl)).toEqual(want);
  });
});

describe('readyPodsOfService', () => {
  it('takes ready endpoints (and unset ready) of the Service’s slices, each pod once, sorted', () => {
    const slices = [
      newTestSlice('web', [{ pod: 'c', ready: true }, { pod: 'a' }, { pod: 'gone', ready: false }], 'web-1'),
      // A dual-stack Service has a slice per address family naming the same pods.
      newTestSlice('web', [{ pod: 'a', ready: true }, { pod: 'b', ready: null }], 'web-2'),
      newTestSlice('api', [{ pod: 'z', ready: true }]),
      { metadata: { name: 'web-empty', labels: { 'kubernetes.io/service-name': 'web' } }, endpoints: null },
    ];
    expect(readyPodsOfService('web', slices)).toEqual(['a', 'b', 'c']);
    expect(readyPodsOfService('none', slices)).toEqual([]);
  });
});

describe('resolveEntry: a route entry to endpoints', () => {
  const stable = [newTestPod('web-stable-h1-a', { deployment: 'web-stable', hash: 'h1', labels: { app: 'web', version: 'v1' }, image: 'app:v1' }),
    newTestPod('web-stable-h1-b', { deployment: 'web-stable', hash: 'h1', labels: { app: 'web', version: 'v1' }, image: 'app:v1' })];
  const canary = newTestPod('web-canary-h2-a', { deployment: 'web-canary', hash: 'h2', labels: { app: 'web', version: 'v2' }, image: 'app:v2' });
  const state: MeshState = {
    namespace: NS,
    rules: [{ metadata: { name: 'web' }, spec: { host: 'web', subsets: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }, { name: 'v3', labels: { version: 'v3' } }] } }],
    slices: [
      newTestSlice('web', [{ pod: 'web-stable-h1-a', ready: true }, { pod: 'web-stable-h1-b', ready: true }, { pod: 'web-canary-h2-a', ready: true }, { pod: 'not-read-yet', ready: true }]),
      newTestSlice('idle', []),
    ],
    pods: new Map([...stable, canary].map((p) => [p.metadata!.name!, p])),
  };
  const opts = { versionKey: 'version', images: { 'app:v1': 'http://127.0.0.1:1/' }, defaultUrl: 'http://127.0.0.1:2/' };
  const table: { what: string; entry: { host: string; subset?: string }; pods: string[]; none?: { flag: string; problem: RegExp } }[] = [
    { what: 'no subset: every ready pod the Service selects', entry: { host: 'web' }, pods: ['web-canary-h2-a', 'web-stable-h1-a', 'web-stable-h1-b'] },
    { what: 'subset stable', entry: { host: 'web', subset: 'stable' }, pods: ['web-stable-h1-a', 'web-stable-h1-b'] },
    { what: 'subset canary by FQDN', entry: { host: 'web.shop.svc.cluster.local', subset: 'canary' }, pods: ['web-canary-h2-a'] },
    { what: 'a subset no ready pod matches', entry: { host: 'web', subset: 'v3' }, pods: [], none: { flag: 'UH', problem: /no ready endpoint with version=v3 \(subset v3\)/ } },
    { what: 'a subset no rule defines', entry: { host: 'web', subset: 'beta' }, pods: [], none: { flag: 'NC', problem: /subset beta of web: no DestinationRule defines it/ } },
    { what: 'a Service without endpoints', entry: { host: 'idle' }, pods: [], none: { flag: 'UH', problem: /Service idle: no ready endpoint/ } },
    { what: 'an unknown Service', entry: { host: 'nothing' }, pods: [], none: { flag: 'NC', problem: /Service nothing has no EndpointSlice/ } },
    { what: 'a host written name.ns', entry: { host: 'web.shop' }, pods: [], none: { flag: 'NC', problem: /no Service of namespace shop has the hostname web.shop/ } },
  ];
  it.each(table)('$what', ({ entry, pods, none }) => {
    const r = resolveEntry(entry, state, opts);
    expect(r.endpoints.map((e) => e.pod)).toEqual(pods);
    if (none) expect(r.none).toEqual({ flag: none.flag, problem: expect.stringMatching(none.problem) });
    else expect(r.none).toBeUndefined();
  });

  it('names each endpoint’s workload, version, revision and behaviour', () => {
    const r = resolveEntry({ host: 'web' }, state, opts);
    expect(r.endpoints[0]).toEqual({ pod: 'web-canary-h2-a', workload: 'web-canary', version: 'v2', revision: 'v2', canonicalService: 'web', image: 'app:v2', url: 'http://127.0.0.1:2/' });
    expect(r.endpoints[1]).toMatchObject({ workload: 'web-stable', image: 'app:v1', url: 'http://127.0.0.1:1/' });
    expect(r.service).toBe('web');
    expect(r.fqdn).toBe('web.shop.svc.cluster.local');
  });
});

describe('routeEntries and findRoute: which HTTP route is followed', () => {
  const vs = {
    spec: {
      hosts: ['web', 'web.example.com'],
      http: [
        { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api' } }] },
        { match: [{ headers: { canary: { exact: 'yes' } } }], route: [{ destination: { host: 'web', subset: 'canary' } }] },
        { route: [{ destination: { host: 'web', subset: 'stable' }, weight: 90 }, { destination: { host: 'web', subset: 'canary' }, weight: 10 }] },
        { name: 'unreachable', route: [{ destination: { host: 'web' } }] },
      ],
    },
  };
  const table: { selector: RouteSelector; index: number }[] = [
    { selector: { name: 'api' }, index: 0 },
    { selector: { name: 'unreachable' }, index: 3 },
    { selector: { index: 2 }, index: 2 },
    { selector: { default: true }, index: 2 },
    { selector: { name: 'nope' }, index: -1 },
    { selector: { index: 4 }, index: -1 },
    { selector: { index: -1 }, index: -1 },
    { selector: { index: 1.5 }, index: -1 },
  ];
  it.each(table)('$selector → #$index', ({ selector, index }) => {
    expect(findRoute(vs.spec.http, selector)).toBe(index);
  });

  it('a route with an empty match list is a default route too', () => {
    expect(findRoute([{ match: [{ uri: { prefix: '/' } }] }, { match: [] }], { default: true })).toBe(1);
  });

  it('reads the weights of the selected route; a lone entry without weight has 100', () => {
    expect(routeEntries(vs, { default: true })).toEqual([{ host: 'web', subset: 'stable', weight: 90 }, { host: 'web', subset: 'canary', weight: 10 }]);
    expect(routeEntries(vs, { name: 'api' })).toEqual([{ host: 'api', weight: 100 }]);
  });

  it('says which routes there are when the selected one is missing', () => {
    expect(() => routeEntries(vs, { name: 'primary' })).toThrow(RouteError);
    expect(() => routeEntries(vs, { name: 'primary' })).toThrow('it has no route "primary" (routes: #0 api, #1 (unnamed), #2 (unnamed) (no match), #3 unreachable (no match))');
    expect(() => routeEntries({ spec: { http: [{ name: 'r', redirect: { uri: '/x' } }] } }, { name: 'r' })).toThrow(/has no destinations/);
  });
});

describe('picking', () => {
  const table: { weights: number[]; u: number; want: number }[] = [
    { weights: [90, 10], u: 0, want: 0 },
    { weights: [90, 10], u: 0.8999, want: 0 },
    { weights: [90, 10], u: 0.9, want: 1 },
    { weights: [0, 100], u: 0, want: 1 },
    { weights: [100, 0], u: 0.99999, want: 0 },
    { weights: [0, 0], u: 0.5, want: -1 },
    { weights: [1, 1, 2], u: 0.5, want: 2 },
  ];
  it.each(table)('pickByWeight($weights, $u) = $want', ({ weights, u, want }) => {
    expect(pickByWeight(weights, u)).toBe(want);
  });

  it('pickUniform spreads draws evenly and stays in range', () => {
    expect([0, 0.33, 0.34, 0.66, 0.67, 0.999999].map((u) => pickUniform(3, u))).toEqual([0, 0, 1, 1, 2, 2]);
  });
});

describe('expectedShares: the split a routing table gives', () => {
  const ep = (workload: string, image = `${workload}:img`): Endpoint => ({ pod: `${workload}-pod`, workload, version: 'v', revision: 'v', canonicalService: 'web', image });
  const table: { what: string; rows: { weight: number; endpoints: Endpoint[] }[]; want: Record<string, number> }[] = [
    { what: 'subsets 90/10', rows: [{ weight: 90, endpoints: [ep('stable'), ep('stable')] }, { weight: 10, endpoints: [ep('canary')] }], want: { stable: 0.9, canary: 0.1 } },
    {
      what: 'a stable Service that selects the canary’s pods too, at canary weight 0',
      rows: [{ weight: 100, endpoints: [ep('stable'), ep('stable'), ep('canary')] }, { weight: 0, endpoints: [ep('canary')] }],
      want: { stable: 2 / 3, canary: 1 / 3 },
    },
    { what: 'an entry without endpoints', rows: [{ weight: 80, endpoints: [ep('stable')] }, { weight: 20, endpoints: [] }], want: { stable: 0.8, unknown: 0.2 } },
    { what: 'all weights 0', rows: [{ weight: 0, endpoints: [ep('stable')] }], want: {} },
  ];
  it.each(table)('$what', ({ rows, want }) => {
    const got = expectedShares(rows, (e) => e.workload);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) expect(got[k]).toBeCloseTo(v, 10);
  });
});
