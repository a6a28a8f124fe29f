import {
  contourClusterName, fullRegexMatch, GatewayRouteError, gatewayRules, grpcMatchRank, httpMatchRank, matchRule, mirrorsOfFilters, pathHasPrefix,
  requestHeader, requestQuery, setCookiesOfFilters, type GatewayRequest,
} from '../../../scripts/traffic/gateway-routes';

/** An HTTPRoute as the apiserver returns it, with only what the generator reads. */
function newTestRoute(rules: unknown[]): unknown {
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: 'shop' }, spec: { parentRefs: [{ name: 'gw' }], rules } };
}

describe('pathHasPrefix: Gateway API PathPrefix matches whole path elements', () => {
  const table: [string, string, boolean][] = [
    ['/', '/', true],
    ['/anything/at/all', '/', true],
    ['/api', '/api', true],
    ['/api/', '/api', true],
    ['/api/v1', '/api', true],
    ['/api', '/api/', true],
    ['/apis', '/api', false],
    ['/ap', '/api', false],
    ['/api/v1?x=1', '/api/v1', true],
  ];
  it.each(table)('%s with prefix %s → %s', (path, prefix, want) => {
    expect(pathHasPrefix(path, prefix)).toBe(want);
  });
});

describe('httpMatchRank: which HTTPRoute matches a request satisfies', () => {
  const req = (path: string, headers?: Record<string, string>, method?: string): GatewayRequest => ({ path, ...(headers ? { headers } : {}), ...(method ? { method } : {}) });
  const table: { name: string; req: GatewayRequest; match: object; matches: boolean }[] = [
    { name: 'an empty match is PathPrefix /', req: req('/x'), match: {}, matches: true },
    { name: 'Exact path', req: req('/login'), match: { path: { type: 'Exact', value: '/login' } }, matches: true },
    { name: 'Exact path, longer request', req: req('/login/x'), match: { path: { type: 'Exact', value: '/login' } }, matches: false },
    { name: 'prefix', req: req('/api/cart'), match: { path: { type: 'PathPrefix', value: '/api' } }, matches: true },
    { name: 'prefix not on an element boundary', req: req('/apix'), match: { path: { value: '/api' } }, matches: false },
    { name: 'header exact, name case-insensitive', req: req('/', { 'X-Canary': 'yes' }), match: { headers: [{ name: 'x-canary', value: 'yes' }] }, matches: true },
    { name: 'header value differs', req: req('/', { 'x-canary': 'no' }), match: { headers: [{ name: 'x-canary', value: 'yes' }] }, matches: false },
    { name: 'header missing', req: req('/'), match: { headers: [{ type: 'Exact', name: 'x-canary', value: 'yes' }] }, matches: false },
    { name: 'RegularExpression is implementation-specific: never matches', req: req('/a'), match: { path: { type: 'RegularExpression', value: '/.*' } }, matches: false },
    { name: 'header RegularExpression', req: req('/', { 'x-user': 'beta-7' }), match: { headers: [{ type: 'RegularExpression', name: 'x-user', value: 'beta-\\d+' }] }, matches: true },
    { name: 'header RegularExpression matches the whole value', req: req('/', { 'x-user': 'xbeta-7' }), match: { headers: [{ type: 'RegularExpression', name: 'x-user', value: 'beta-\\d+' }] }, matches: false },
    { name: 'header of an unknown type never matches', req: req('/', { a: 'b' }), match: { headers: [{ type: 'Prefix', name: 'a', value: 'b' }] }, matches: false },
    { name: 'cookie as a Cookie header RegularExpression', req: { path: '/', cookies: { other: '1', canary: 'yes' } }, match: { headers: [{ type: 'RegularExpression', name: 'Cookie', value: '^(.*?;\\s*)?canary=yes(;.*)?$' }] }, matches: true },
    { name: 'cookie with another value', req: { path: '/', cookies: { canary: 'no' } }, match: { headers: [{ type: 'RegularExpression', name: 'Cookie', value: '^(.*?;\\s*)?canary=yes(;.*)?$' }] }, matches: false },
    { name: 'query parameter Exact from the path', req: req('/?a=b'), match: { queryParams: [{ name: 'a', value: 'b' }] }, matches: true },
    { name: 'query parameter Exact from query', req: { path: '/', query: { a: 'b' } }, match: { queryParams: [{ type: 'Exact', name: 'a', value: 'b' }] }, matches: true },
    { name: 'query parameter names are case-sensitive', req: req('/?A=b'), match: { queryParams: [{ name: 'a', value: 'b' }] }, matches: false },
    { name: 'query parameter missing', req: req('/'), match: { queryParams: [{ name: 'a', value: 'b' }] }, matches: false },
    { name: 'query parameter RegularExpression', req: req('/?group=beta'), match: { queryParams: [{ type: 'RegularExpression', name: 'group', value: 'beta|alpha' }] }, matches: true },
    { name: 'method default GET', req: req('/'), match: { method: 'GET' }, matches: true },
    { name: 'method differs', req: req('/', undefined, 'POST'), match: { method: 'GET' }, matches: false },
  ];
  it.each(table)('$name', ({ req: r, match, matches }) => {
    expect(httpMatchRank(r, match) !== undefined).toBe(matches);
  });
});

describe('grpcMatchRank: which GRPCRoute matches a request /<service>/<method> satisfies', () => {
  const table: { name: string; path: string; match: object; matches: boolean }[] = [
    { name: 'no method: every request', path: '/shop.Cart/Add', match: {}, matches: true },
    { name: 'service and method', path: '/shop.Cart/Add', match: { method: { service: 'shop.Cart', method: 'Add' } }, matches: true },
    { name: 'other method', path: '/shop.Cart/Remove', match: { method: { service: 'shop.Cart', method: 'Add' } }, matches: false },
    { name: 'service only: all its methods', path: '/shop.Cart/Remove', match: { method: { type: 'Exact', service: 'shop.Cart' } }, matches: true },
    { name: 'other service', path: '/shop.Orders/Add', match: { method: { service: 'shop.Cart' } }, matches: false },
    { name: 'method only', path: '/any.Svc/Add', match: { method: { method: 'Add' } }, matches: true },
    { name: 'RegularExpression: never matches', path: '/shop.Cart/Add', match: { method: { type: 'RegularExpression', service: '.*' } }, matches: false },
    { name: 'not a gRPC path', path: '/shop.Cart', match: { method: { service: 'shop.Cart' } }, matches: false },
  ];
  it.each(table)('$name', ({ path, match, matches }) => {
    expect(grpcMatchRank({ path }, match) !== undefined).toBe(matches);
  });
});

describe('matchRule: the rule a request goes to, by Gateway API precedence', () => {
  const route = newTestRoute([
    { name: 'catch-all', backendRefs: [{ name: 'web', port: 80 }] },
    { name: 'api', matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'api', port: 80 }] },
    { name: 'api-v2', matches: [{ path: { type: 'PathPrefix', value: '/api/v2' } }], backendRefs: [{ name: 'api2', port: 80 }] },
    { name: 'login', matches: [{ path: { type: 'Exact', value: '/api/v2/login' } }], backendRefs: [{ name: 'login', port: 80 }] },
    { name: 'canary-header', matches: [{ path: { value: '/api' }, headers: [{ name: 'x-canary', value: 'yes' }] }], backendRefs: [{ name: 'api-canary', port: 80 }] },
    { name: 'api-again', matches: [{ path: { value: '/api' } }], backendRefs: [{ name: 'never', port: 80 }] },
    { name: 'beta-query', matches: [{ path: { value: '/api' }, queryParams: [{ name: 'beta', value: '1' }] }], backendRefs: [{ name: 'api-beta', port: 80 }] },
  ]);
  const table: { req: GatewayRequest; rule: string }[] = [
    { req: { path: '/' }, rule: 'catch-all' },
    { req: { path: '/shop' }, rule: 'catch-all' },
    { req: { path: '/api/cart' }, rule: 'api' },
    { req: { path: '/api/v2/cart' }, rule: 'api-v2' },
    { req: { path: '/api/v2/login' }, rule: 'login' },
    { req: { path: '/api/cart', headers: { 'x-canary': 'yes' } }, rule: 'canary-header' },
    { req: { path: '/api/v2/x', headers: { 'x-canary': 'yes' } }, rule: 'api-v2' },
    // Equal paths: a query parameter match counts after the headers.
    { req: { path: '/api/cart?beta=1' }, rule: 'beta-query' },
    { req: { path: '/api/cart?beta=1', headers: { 'x-canary': 'yes' } }, rule: 'canary-header' },
  ];
  const labels = gatewayRules(route, 'shop').map((r) => r.label);
  it.each(table)('$req.path $req.headers → $rule', ({ req, rule }) => {
    expect(labels[matchRule(route, 'HTTPRoute', req)]).toBe(rule);
  });

  it('answers -1 when no rule matches (the gateway answers 404)', () => {
    const onlyApi = newTestRoute([{ matches: [{ path: { value: '/api' } }], backendRefs: [{ name: 'api', port: 80 }] }]);
    expect(matchRule(onlyApi, 'HTTPRoute', { path: '/shop' })).toBe(-1);
  });

  it('GRPCRoute: the most specific method match wins', () => {
    const grpc = newTestRoute([
      { matches: [{ method: { service: 'shop.Cart' } }], backendRefs: [{ name: 'cart', port: 9000 }] },
      { matches: [{ method: { service: 'shop.Cart', method: 'Checkout' } }], backendRefs: [{ name: 'checkout', port: 9000 }] },
      { backendRefs: [{ name: 'rest', port: 9000 }] },
    ]);
    expect(matchRule(grpc, 'GRPCRoute', { path: '/shop.Cart/Add' })).toBe(0);
    expect(matchRule(grpc, 'GRPCRoute', { path: '/shop.Cart/Checkout' })).toBe(1);
    expect(matchRule(grpc, 'GRPCRoute', { path: '/shop.Orders/List' })).toBe(2);
  });
});

describe('gatewayRules: each rule\'s backendRefs with their weights', () => {
  it('reads names, ports and weights; a missing weight is 1, 0 stays 0', () => {
    const rules = gatewayRules(newTestRoute([
      { name: 'split', backendRefs: [{ name: 'stable', port: 80, weight: 80 }, { name: 'canary', port: 80, weight: 20 }] },
      { backendRefs: [{ name: 'a', port: 8080 }, { name: 'b', port: 8080, weight: 0 }] },
      { filters: [{ type: 'RequestRedirect' }] },
    ]), 'shop');
    expect(rules).toEqual([
      { label: 'split', index: 0, mirrors: [], backends: [{ service: 'stable', port: 80, weight: 80 }, { service: 'canary', port: 80, weight: 20 }] },
      { label: '#1', index: 1, mirrors: [], backends: [{ service: 'a', port: 8080, weight: 1 }, { service: 'b', port: 8080, weight: 0 }] },
      { label: '#2', index: 2, mirrors: [], backends: [] },
    ]);
  });

  it('reads a rule\'s mirrors and the Set-Cookie of the rule\'s and each ref\'s ResponseHeaderModifier', () => {
    const [rule] = gatewayRules(newTestRoute([{
      filters: [
        { type: 'RequestMirror', requestMirror: { backendRef: { name: 'canary', port: 80 }, percent: 20 } },
        { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'X-Rule', value: '1' }] } },
      ],
      backendRefs: [
        { name: 'stable', port: 80, weight: 80 },
        { name: 'canary', port: 80, weight: 20, filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'Set-Cookie', value: 'c=1; Max-Age=60; Path=/' }] } }] },
      ],
    }]), 'shop');
    expect(rule!.mirrors).toEqual([{ service: 'canary', port: 80, percent: 20 }]);
    expect(rule!.backends.map((b) => b.setCookies)).toEqual([undefined, ['c=1; Max-Age=60; Path=/']]);
  });

  const invalid: { ref: object; reason: RegExp }[] = [
    { ref: { kind: 'ServiceImport', group: 'multicluster.x-k8s.io', name: 'x', port: 80 }, reason: /is not a Service/ },
    { ref: { name: 'x', namespace: 'other', port: 80 }, reason: /another namespace.*ReferenceGrant/ },
    { ref: { name: 'x' }, reason: /names no port/ },
  ];
  it.each(invalid)('marks $ref invalid: $reason', ({ ref, reason }) => {
    const [rule] = gatewayRules(newTestRoute([{ backendRefs: [ref] }]), 'shop');
    expect(rule!.backends[0]!.invalid).toMatch(reason);
  });

  it('a ref naming its own namespace is valid', () => {
    const [rule] = gatewayRules(newTestRoute([{ backendRefs: [{ name: 'x', namespace: 'shop', port: 80 }] }]), 'shop');
    expect(rule!.backends[0]!.invalid).toBeUndefined();
  });

  it('throws a GatewayRouteError for a route without rules', () => {
    expect(() => gatewayRules(newTestRoute([]), 'shop')).toThrow(GatewayRouteError);
    expect(() => gatewayRules({ spec: {} }, 'shop')).toThrow(/no rules/);
  });
});

describe('contourClusterName', () => {
  it('is Contour\'s alt stat name <namespace>_<service>_<port>', () => {
    expect(contourClusterName('shop', 'web-canary', 8080)).toBe('shop_web-canary_8080');
  });
});

describe('mirrorsOfFilters: RequestMirror filters and the share they copy', () => {
  const mirror = (requestMirror: object) => [{ type: 'RequestMirror', requestMirror }];
  const table: { name: string; filters: unknown; want: unknown }[] = [
    { name: 'no percent or fraction: every request', filters: mirror({ backendRef: { name: 'c', port: 80 } }), want: [{ service: 'c', port: 80, percent: 100 }] },
    { name: 'percent', filters: mirror({ backendRef: { name: 'c', port: 80 }, percent: 20 }), want: [{ service: 'c', port: 80, percent: 20 }] },
    { name: 'fraction', filters: mirror({ backendRef: { name: 'c', port: 80 }, fraction: { numerator: 1, denominator: 8 } }), want: [{ service: 'c', port: 80, percent: 12.5 }] },
    { name: 'fraction: denominator default 100', filters: mirror({ backendRef: { name: 'c' }, fraction: { numerator: 30 } }), want: [{ service: 'c', percent: 30 }] },
    { name: 'percent wins over fraction', filters: mirror({ backendRef: { name: 'c', port: 80 }, percent: 5, fraction: { numerator: 1, denominator: 2 } }), want: [{ service: 'c', port: 80, percent: 5 }] },
    { name: 'other filters are not mirrors', filters: [{ type: 'RequestHeaderModifier' }], want: [] },
    { name: 'no filters', filters: undefined, want: [] },
  ];
  it.each(table)('$name', ({ filters, want }) => {
    expect(mirrorsOfFilters(filters)).toEqual(want);
  });
});

describe('setCookiesOfFilters: the Set-Cookie a ResponseHeaderModifier writes', () => {
  const table: { name: string; filters: unknown; want: string[] }[] = [
    { name: 'set', filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'Set-Cookie', value: 'a=1' }] } }], want: ['a=1'] },
    { name: 'add, name case-insensitive', filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'set-cookie', value: 'a=1' }] } }], want: ['a=1'] },
    { name: 'another header', filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-A', value: '1' }] } }], want: [] },
    { name: 'a request header modifier does not reach the response', filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'Set-Cookie', value: 'a=1' }] } }], want: [] },
  ];
  it.each(table)('$name', ({ filters, want }) => {
    expect(setCookiesOfFilters(filters)).toEqual(want);
  });
});

describe('request headers, query and regular expressions', () => {
  it('joins cookies into the Cookie header after the one the headers give', () => {
    expect(requestHeader({ path: '/', headers: { Cookie: 'a=1' }, cookies: { b: '2', c: '3' } }, 'cookie')).toBe('a=1; b=2; c=3');
    expect(requestHeader({ path: '/', cookies: { b: '2' } }, 'Cookie')).toBe('b=2');
    expect(requestHeader({ path: '/' }, 'cookie')).toBeUndefined();
  });

  it('reads the query of the path (decoded, first occurrence) and lets `query` override it', () => {
    expect(requestQuery({ path: '/a?x=1&x=2&y=a%20b&z' })).toEqual({ x: '1', y: 'a b', z: '' });
    expect(requestQuery({ path: '/a?x=1', query: { x: '9', w: '0' } })).toEqual({ x: '9', w: '0' });
  });

  const regex: [string, string, boolean][] = [['a.c', 'abc', true], ['a.c', 'xabc', false], ['a|b', 'b', true], ['(', '(', false]];
  it.each(regex)('%s wholly matches %s → %s (an invalid pattern matches nothing)', (pattern, value, want) => {
    expect(fullRegexMatch(pattern, value)).toBe(want);
  });
});
