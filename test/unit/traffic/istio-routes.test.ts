import type { GatewayRequest } from '../../../scripts/traffic/gateway-routes';
import { httpRoutes, istioMatchSatisfied, matchHttpRoute, mirrorChosen, setCookiesOfHeaders, stringMatches } from '../../../scripts/traffic/istio-routes';
import { RouteError } from '../../../scripts/traffic/mesh';

/** A VirtualService as the apiserver returns it, with only what the generator reads. */
function newTestVirtualService(http: unknown[]): unknown {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'shop' }, spec: { hosts: ['web'], http } };
}

/** The cookie match Ramp writes for a cookie header route: NAME=VALUE anywhere in the Cookie header. */
const cookieRegex = (name: string, value: string) => `^(.*?;\\s*)?${name}=${value}(;.*)?$`;

describe('stringMatches: Istio StringMatch', () => {
  const table: { m: unknown; value: string | undefined; want: boolean }[] = [
    { m: { exact: 'yes' }, value: 'yes', want: true },
    { m: { exact: 'yes' }, value: 'yes!', want: false },
    { m: { prefix: '/api' }, value: '/apis', want: true },
    { m: { prefix: '/api' }, value: '/ap', want: false },
    { m: { regex: 'v[0-9]+' }, value: 'v12', want: true },
    { m: { regex: 'v[0-9]+' }, value: 'xv12', want: false },
    { m: { exact: 'yes' }, value: undefined, want: false },
    { m: {}, value: 'x', want: false },
    { m: 'yes', value: 'yes', want: false },
  ];
  it.each(table)('$m on $value → $want', ({ m, value, want }) => {
    expect(stringMatches(m, value)).toBe(want);
  });
});

describe('istioMatchSatisfied: one HTTPMatchRequest', () => {
  const table: { name: string; req: GatewayRequest; match: object; want: boolean }[] = [
    { name: 'an empty element matches everything', req: { path: '/x' }, match: {}, want: true },
    { name: 'uri prefix', req: { path: '/api/cart?x=1' }, match: { uri: { prefix: '/api' } }, want: true },
    { name: 'uri exact ignores the query', req: { path: '/login?next=/' }, match: { uri: { exact: '/login' } }, want: true },
    { name: 'uri regex', req: { path: '/v2/cart' }, match: { uri: { regex: '/v[0-9]/.*' } }, want: true },
    { name: 'ignoreUriCase', req: { path: '/API' }, match: { uri: { exact: '/api' }, ignoreUriCase: true }, want: true },
    { name: 'header exact, name case-insensitive', req: { path: '/', headers: { 'X-Canary': 'yes' } }, match: { headers: { 'x-canary': { exact: 'yes' } } }, want: true },
    { name: 'header missing', req: { path: '/' }, match: { headers: { 'x-canary': { exact: 'yes' } } }, want: false },
    { name: 'header prefix', req: { path: '/', headers: { 'x-user': 'beta-1' } }, match: { headers: { 'x-user': { prefix: 'beta-' } } }, want: true },
    { name: 'header regex', req: { path: '/', headers: { 'x-user': 'beta-1' } }, match: { headers: { 'x-user': { regex: 'beta-[0-9]' } } }, want: true },
    { name: 'header and uri both needed: uri fails', req: { path: '/shop', headers: { 'x-canary': 'yes' } }, match: { uri: { prefix: '/api' }, headers: { 'x-canary': { exact: 'yes' } } }, want: false },
    { name: 'cookie among others', req: { path: '/', cookies: { a: '1', canary: 'yes', b: '2' } }, match: { headers: { cookie: { regex: cookieRegex('canary', 'yes') } } }, want: true },
    { name: 'cookie first', req: { path: '/', cookies: { canary: 'yes' } }, match: { headers: { cookie: { regex: cookieRegex('canary', 'yes') } } }, want: true },
    { name: 'cookie name as a suffix of another', req: { path: '/', cookies: { xcanary: 'yes' } }, match: { headers: { cookie: { regex: cookieRegex('canary', 'yes') } } }, want: false },
    { name: 'query param exact', req: { path: '/?beta=1' }, match: { queryParams: { beta: { exact: '1' } } }, want: true },
    { name: 'query param from query', req: { path: '/', query: { beta: 'on' } }, match: { queryParams: { beta: { regex: 'on|1' } } }, want: true },
    { name: 'query param missing', req: { path: '/' }, match: { queryParams: { beta: { exact: '1' } } }, want: false },
    { name: 'method', req: { path: '/', method: 'POST' }, match: { method: { exact: 'GET' } }, want: false },
    { name: 'an unevaluated field never matches', req: { path: '/' }, match: { sourceLabels: { app: 'x' } }, want: false },
  ];
  it.each(table)('$name', ({ req, match, want }) => {
    expect(istioMatchSatisfied(req, match)).toBe(want);
  });
});

describe('matchHttpRoute: the first http entry that takes the request', () => {
  const http = [
    { name: 'api', match: [{ uri: { prefix: '/api' } }] },
    { name: 'ramp-header-beta', match: [{ uri: { prefix: '/' }, headers: { 'x-beta': { exact: '1' } } }, { uri: { prefix: '/' }, queryParams: { beta: { exact: '1' } } }] },
    { name: 'primary', match: [{ uri: { prefix: '/' } }] },
    { name: 'never', match: [] },
  ];
  const table: { req: GatewayRequest; want: string | undefined }[] = [
    { req: { path: '/' }, want: 'primary' },
    { req: { path: '/', headers: { 'x-beta': '1' } }, want: 'ramp-header-beta' },
    { req: { path: '/?beta=1' }, want: 'ramp-header-beta' },
    // Order, not specificity: the earlier api entry wins over the header route.
    { req: { path: '/api/x', headers: { 'x-beta': '1' } }, want: 'api' },
  ];
  it.each(table)('$req → $want', ({ req, want }) => {
    expect(http[matchHttpRoute(http, req)]?.name).toBe(want);
  });

  it('answers -1 when no entry matches, and takes an entry without match', () => {
    expect(matchHttpRoute([{ match: [{ uri: { prefix: '/api' } }] }], { path: '/' })).toBe(-1);
    expect(matchHttpRoute([{ match: [{ uri: { prefix: '/api' } }] }, {}], { path: '/' })).toBe(1);
  });
});

describe('httpRoutes: every http entry with destinations, mirror and Set-Cookie', () => {
  it('reads weights, mirrors and the response header operations of routes and destinations', () => {
    const routes = httpRoutes(newTestVirtualService([
      { name: 'ramp-header-beta', match: [{ headers: { 'x-beta': { exact: '1' } } }], route: [{ destination: { host: 'web', subset: 'canary' }, weight: 100 }] },
      {
        name: 'primary',
        headers: { response: { set: { 'x-route': 'primary' } } },
        route: [
          { destination: { host: 'web', subset: 'stable' }, weight: 90 },
          { destination: { host: 'web', subset: 'canary' }, weight: 10, headers: { response: { add: { 'Set-Cookie': 'c=1; Max-Age=60; Path=/' } } } },
        ],
        mirror: { host: 'web', subset: 'canary', port: { number: 80 } },
        mirrorPercentage: { value: 20 },
      },
      { redirect: { uri: '/elsewhere' } },
      { route: [{ destination: { host: 'a' } }], mirror: { host: 'b' } },
    ]));
    expect(routes).toEqual([
      { label: 'ramp-header-beta', destinations: [{ host: 'web', subset: 'canary', weight: 100 }] },
      {
        label: 'primary',
        destinations: [{ host: 'web', subset: 'stable', weight: 90 }, { host: 'web', subset: 'canary', weight: 10, setCookies: ['c=1; Max-Age=60; Path=/'] }],
        mirror: { host: 'web', subset: 'canary', port: 80, percent: 20 },
      },
      { label: '#2', destinations: [] },
      // One destination without weight has 100; a mirror without mirrorPercentage copies everything.
      { label: '#3', destinations: [{ host: 'a', weight: 100 }], mirror: { host: 'b', percent: 100 } },
    ]);
  });

  it('throws a RouteError for a destination without host', () => {
    expect(() => httpRoutes(newTestVirtualService([{ route: [{ destination: {} }] }]))).toThrow(RouteError);
  });
});

describe('setCookiesOfHeaders', () => {
  const table: { headers: unknown; want: string[] }[] = [
    { headers: { response: { set: { 'set-cookie': 'a=1' } } }, want: ['a=1'] },
    { headers: { response: { add: { 'Set-Cookie': 'a=1' } } }, want: ['a=1'] },
    { headers: { request: { set: { 'set-cookie': 'a=1' } } }, want: [] },
    { headers: undefined, want: [] },
  ];
  it.each(table)('$headers → $want', ({ headers, want }) => {
    expect(setCookiesOfHeaders(headers)).toEqual(want);
  });
});

describe('mirrorChosen: a copy with probability percent/100', () => {
  const table: [number, number, boolean][] = [[20, 0, true], [20, 0.1999, true], [20, 0.2, false], [0, 0, false], [100, 0.9999, true]];
  it.each(table)('%s %% with draw %s → %s', (percent, u, want) => {
    expect(mirrorChosen(percent, u)).toBe(want);
  });
});
