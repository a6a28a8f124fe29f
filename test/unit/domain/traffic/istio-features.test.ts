/**
 * The Istio routing features as pure patches: header routes, mirroring and sticky sessions added in
 * front of (or on) the managed routes, every other route untouched, and each taken back exactly.
 */
import type { IstioTraffic } from '../../../../src/domain/spec/schema';
import { describeTraffic } from '../../../../src/domain/traffic/describe';
import type { RouteFeature } from '../../../../src/domain/rollout/calls';
import {
  buildRemoveFeaturePatch, buildSetFeaturePatch, buildSetWeightPatch, conditionsOf, cookieRegex, findManagedRoutes, HttpRoute,
  IstioContext, JsonPatchOp, jsonEqual, readWeights, snapshotRoutes, VirtualService,
} from '../../../../src/domain/traffic/istio';

const apiRoute = (): HttpRoute => ({ name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api' } }] });
const shopRoute = (): HttpRoute => ({
  name: 'shop', match: [{ uri: { prefix: '/shop' } }, { uri: { prefix: '/cart' } }],
  route: [{ destination: { host: 'storefront', subset: 'stable' }, weight: 100 }, { destination: { host: 'storefront', subset: 'canary' }, weight: 0 }],
  timeout: '5s', retries: { attempts: 2 },
});
const defaultRoute = (): HttpRoute => ({
  route: [{ destination: { host: 'storefront', subset: 'stable' }, weight: 100 }, { destination: { host: 'storefront', subset: 'canary' }, weight: 0 }],
});

function newTestVirtualService(http: HttpRoute[] = [apiRoute(), shopRoute(), defaultRoute()]): VirtualService {
  return { metadata: { name: 'storefront', namespace: 'mushop', resourceVersion: '7' }, spec: { hosts: ['storefront'], http } };
}

function newTestContext(routes: IstioTraffic['virtualService']['routes'] = [{ name: 'shop' }, { default: true }]): IstioContext {
  return {
    namespace: 'mushop',
    traffic: {
      provider: 'istio', virtualService: { name: 'storefront', routes }, host: 'storefront',
      routing: { mode: 'subset', destinationRule: 'storefront', stableSubset: 'stable', canarySubset: 'canary' }, onDrift: 'pause',
    },
  };
}

/** RFC 6902 as the apiserver applies it, arrays included; a failed test throws. */
function applyPatch<T>(doc: T, ops: JsonPatchOp[]): T {
  const out = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  for (const op of ops) {
    const keys = op.path.split('/').slice(1);
    const last = keys.pop()!;
    let parent: Record<string, unknown> | unknown[] = out;
    for (const k of keys) parent = (parent)[k] as Record<string, unknown>;
    const value = JSON.parse(JSON.stringify(op.value ?? null)) as unknown;
    if (Array.isArray(parent)) {
      const i = Number(last);
      if (op.op === 'test' && !jsonEqual(parent[i], op.value)) throw new Error(`test ${op.path} failed`);
      if (op.op === 'add') parent.splice(i, 0, value);
      if (op.op === 'replace') parent[i] = value;
      if (op.op === 'remove') parent.splice(i, 1);
      continue;
    }
    if (op.op === 'test' && !jsonEqual(parent[last], op.value)) throw new Error(`test ${op.path} failed`);
    if (op.op === 'replace' || op.op === 'add') parent[last] = value;
    if (op.op === 'remove') delete parent[last];
  }
  return out as T;
}

const header: RouteFeature = { kind: 'header', name: 'beta', match: [{ header: 'X-Canary', value: { exact: 'true' } }, { query: 'beta', value: { prefix: 'y' } }] };
const sticky = (c: IstioContext): IstioContext => ({ ...c, sticky: { cookie: 'ramp-canary', maxAgeSeconds: 86400, value: 'v2' } });

describe('conditionsOf', () => {
  const cases: { name: string; match: Parameters<typeof conditionsOf>[0]; want: ReturnType<typeof conditionsOf> }[] = [
    { name: 'a header, lower-cased as Istio wants it', match: [{ header: 'X-Canary', value: { exact: 'true' } }], want: { headers: { 'x-canary': { exact: 'true' } } } },
    { name: 'a query parameter by regex', match: [{ query: 'beta', value: { regex: 'y.*' } }], want: { queryParams: { beta: { regex: 'y.*' } } } },
    { name: 'a cookie becomes a Cookie header regex', match: [{ cookie: 'team', value: { exact: 'a.b' } }], want: { headers: { cookie: { regex: '^(.*?;\\s*)?team=a\\.b(;.*)?$' } } } },
  ];
  it.each(cases)('$name', ({ match, want }) => expect(conditionsOf(match)).toEqual(want));
});

describe('cookieRegex', () => {
  const cases: { value: Parameters<typeof cookieRegex>[1]; header: string; matches: boolean }[] = [
    { value: { exact: 'v2' }, header: 'ramp-canary=v2', matches: true },
    { value: { exact: 'v2' }, header: 'a=1; ramp-canary=v2; b=2', matches: true },
    { value: { exact: 'v2' }, header: 'ramp-canary=v20', matches: false },
    { value: { exact: 'v2' }, header: 'xramp-canary=v2', matches: false },
    { value: { prefix: 'v' }, header: 'a=1;ramp-canary=v9', matches: true },
    { value: { regex: 'v[0-9]+' }, header: 'ramp-canary=v12; z=1', matches: true },
    { value: { regex: 'v[0-9]+' }, header: 'ramp-canary=vx', matches: false },
  ];
  it.each(cases)('$value on "$header": $matches', ({ value, header: h, matches }) => {
    expect(new RegExp(cookieRegex('ramp-canary', value)).test(h)).toBe(matches);
  });
});

describe('buildSetFeaturePatch: header route', () => {
  const c = newTestContext();
  const vs = newTestVirtualService();
  const after = applyPatch(vs, buildSetFeaturePatch(vs, c, header));
  const http = after.spec!.http!;

  it('adds one entry immediately before each managed route, named ramp-header-<name>, -2 from the second on', () => {
    expect(http.map((r) => r.name)).toEqual(['api', 'ramp-header-beta', 'shop', 'ramp-header-beta-2', undefined]);
  });

  it('matches the route\'s matches with the conditions added, sends to the canary at 100 and copies the other fields', () => {
    expect(http[1]).toEqual({
      name: 'ramp-header-beta',
      match: [
        { uri: { prefix: '/shop' }, headers: { 'x-canary': { exact: 'true' } }, queryParams: { beta: { prefix: 'y' } } },
        { uri: { prefix: '/cart' }, headers: { 'x-canary': { exact: 'true' } }, queryParams: { beta: { prefix: 'y' } } },
      ],
      route: [{ destination: { host: 'storefront', subset: 'canary' }, weight: 100 }],
      timeout: '5s', retries: { attempts: 2 },
    });
    expect(http[3]!.match).toEqual([{ headers: { 'x-canary': { exact: 'true' } }, queryParams: { beta: { prefix: 'y' } } }]);
  });

  it('leaves every other route as it was', () => {
    expect(http[0]).toEqual(apiRoute());
    expect(http[2]).toEqual(shopRoute());
    expect(http[4]).toEqual(defaultRoute());
  });

  it('is idempotent: the same feature again is no patch', () => {
    expect(buildSetFeaturePatch(after, c, header)).toEqual([]);
  });

  it('replaces its own entries when the step changes the conditions', () => {
    const other: RouteFeature = { ...header, match: [{ cookie: 'beta', value: { exact: '1' } }] };
    const again = applyPatch(after, buildSetFeaturePatch(after, c, other));
    expect(again.spec!.http!.map((r) => r.name)).toEqual(['api', 'ramp-header-beta', 'shop', 'ramp-header-beta-2', undefined]);
    expect(again.spec!.http![1]!.match![0]).toEqual({ uri: { prefix: '/shop' }, headers: { cookie: { regex: '^(.*?;\\s*)?beta=1(;.*)?$' } } });
  });

  it('Ramp\'s entries are invisible to index selectors, the default route, weights and snapshots', () => {
    const byIndex = newTestContext([{ index: 1 }, { index: 2 }]);
    expect(findManagedRoutes(after, byIndex).map((r) => r.name)).toEqual(['shop', '']);
    expect(readWeights(after, c)).toEqual(readWeights(vs, c));
    expect(snapshotRoutes(after, c)).toEqual(snapshotRoutes(vs, c));
    const weighted = applyPatch(after, buildSetWeightPatch(after, c, 30));
    expect(weighted.spec!.http![1]).toEqual(http[1]);
    expect(weighted.spec!.http![4]!.route![1]!.weight).toBe(30);
  });

  it('undo removes exactly its entries, and nothing else', () => {
    const other: RouteFeature = { kind: 'header', name: 'other', match: [{ header: 'x-other', value: { exact: '1' } }] };
    const both = applyPatch(after, buildSetFeaturePatch(after, c, other));
    const undone = applyPatch(both, buildRemoveFeaturePatch(both, c, 'header:beta', snapshotRoutes(vs, c)));
    expect(undone.spec!.http!.map((r) => r.name)).toEqual(['api', 'ramp-header-other', 'shop', 'ramp-header-other-2', undefined]);
    const clean = applyPatch(undone, buildRemoveFeaturePatch(undone, c, 'header:other', snapshotRoutes(vs, c)));
    expect(clean).toEqual(vs);
    expect(buildRemoveFeaturePatch(clean, c, 'header:other', snapshotRoutes(vs, c))).toEqual([]);
  });

  it('guards the write: a newer object fails the patch instead of being overwritten', () => {
    const ops = buildSetFeaturePatch(vs, c, header);
    expect(() => applyPatch({ ...vs, metadata: { ...vs.metadata, resourceVersion: '8' } }, ops)).toThrow('test /metadata/resourceVersion failed');
  });
});

describe('service routing', () => {
  const c: IstioContext = {
    namespace: 'mushop',
    traffic: {
      provider: 'istio', virtualService: { name: 'storefront', routes: [] }, host: 'storefront-stable', port: 8080,
      routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }, onDrift: 'pause',
    },
  };
  const vs = newTestVirtualService([apiRoute(), { route: [{ destination: { host: 'storefront-stable.mushop.svc.cluster.local' } }] }]);

  it('the header route and the mirror point at the canary Service, in the host form the route uses', () => {
    const after = applyPatch(vs, buildSetFeaturePatch(vs, c, header));
    const canary = { host: 'storefront-canary.mushop.svc.cluster.local', port: { number: 8080 } };
    expect(after.spec!.http![1]!.route).toEqual([{ destination: canary, weight: 100 }]);
    const mirrored = applyPatch(after, buildSetFeaturePatch(after, c, { kind: 'mirror', percent: 5 }));
    expect(mirrored.spec!.http![2]!.mirror).toEqual(canary);
    // The header route's entry is not a managed route: the mirror is only on the default route.
    expect(mirrored.spec!.http![1]!.mirror).toBeUndefined();
  });

  it('a header route is undone by name even when the managed route has changed shape since', () => {
    const after = applyPatch(vs, buildSetFeaturePatch(vs, c, header));
    after.spec!.http![2]!.route = [{ destination: { host: 'elsewhere' } }];
    const undone = applyPatch(after, buildRemoveFeaturePatch(after, c, 'header:beta', snapshotRoutes(vs, c)));
    expect(undone.spec!.http!.map((r) => r.name)).toEqual(['api', undefined]);
  });
});

describe('buildSetFeaturePatch: mirror', () => {
  const c = newTestContext();
  const own = { host: 'shadow' };
  const vs = newTestVirtualService([apiRoute(), { ...shopRoute(), mirror: own, mirrorPercentage: { value: 1 } }, defaultRoute()]);
  const snapshot = snapshotRoutes(vs, c);

  it('mirrors the percentage to the canary on each managed route only, and undo puts back what was there', () => {
    const after = applyPatch(vs, buildSetFeaturePatch(vs, c, { kind: 'mirror', percent: 20 }));
    for (const i of [1, 2]) {
      expect(after.spec!.http![i]!.mirror).toEqual({ host: 'storefront', subset: 'canary' });
      expect(after.spec!.http![i]!.mirrorPercentage).toEqual({ value: 20 });
    }
    expect(after.spec!.http![0]).toEqual(apiRoute());
    expect(buildSetFeaturePatch(after, c, { kind: 'mirror', percent: 20 })).toEqual([]);
    const at50 = applyPatch(after, buildSetFeaturePatch(after, c, { kind: 'mirror', percent: 50 }));
    expect(at50.spec!.http![2]!.mirrorPercentage).toEqual({ value: 50 });
    const undone = applyPatch(at50, buildRemoveFeaturePatch(at50, c, 'mirror', snapshot));
    expect(undone).toEqual(vs);
    expect(buildRemoveFeaturePatch(undone, c, 'mirror', snapshot)).toEqual([]);
  });
});

describe('buildSetFeaturePatch: sticky sessions', () => {
  const c = sticky(newTestContext());
  const vs = newTestVirtualService();

  it('sets the cookie on canary entries, adds ramp-sticky entries, keeps the cookie through weight changes, and undo takes all of it back', () => {
    const after = applyPatch(vs, buildSetFeaturePatch(vs, c, { kind: 'sticky', cookie: 'ramp-canary', maxAgeSeconds: 86400 }));
    const http = after.spec!.http!;
    expect(http.map((r) => r.name)).toEqual(['api', 'ramp-sticky', 'shop', 'ramp-sticky-2', undefined]);
    expect(http[2]!.route![1]).toEqual({
      destination: { host: 'storefront', subset: 'canary' }, weight: 0,
      headers: { response: { add: { 'set-cookie': 'ramp-canary=v2; Max-Age=86400; Path=/' } } },
    });
    expect(http[2]!.route![0]).toEqual(shopRoute().route![0]);
    expect(http[1]!.match![0]!.headers).toEqual({ cookie: { regex: '^(.*?;\\s*)?ramp-canary=v2(;.*)?$' } });
    expect(http[1]!.route).toEqual([{ destination: { host: 'storefront', subset: 'canary' }, weight: 100 }]);

    const weighted = applyPatch(after, buildSetWeightPatch(after, c, 40));
    expect(weighted.spec!.http![4]!.route![1]!.headers).toEqual(http[4]!.route![1]!.headers);
    expect(weighted.spec!.http![4]!.route![1]!.weight).toBe(40);

    const undone = applyPatch(after, buildRemoveFeaturePatch(after, c, 'sticky', snapshotRoutes(vs, c)));
    expect(undone).toEqual(vs);
  });
});

describe('describeTraffic', () => {
  it('names sticky sessions when the spec has them', () => {
    const t = { ...newTestContext([{ name: 'shop' }]).traffic, stickySession: { cookie: 'ramp-canary', maxAgeSeconds: 3600 } };
    expect(describeTraffic(t)).toBe('istio (VirtualService storefront, route(s) shop; subset routing via DestinationRule storefront); sticky sessions: cookie ramp-canary, 3600s');
  });
});
