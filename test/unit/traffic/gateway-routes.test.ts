import {
  contourClusterName, GatewayRouteError, gatewayRules, grpcMatchRank, httpMatchRank, matchRule, pathHasPrefix, type GatewayRequest,
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
    { name: 'header RegularExpression: never matches', req: req('/', { a: 'b' }), match: { headers: [{ type: 'RegularExpression', name: 'a', value: '.*' }] }, matches: false },
    { name: 'query parameters are not evaluated: never matches', req: req('/?a=b'), match: { queryParams: [{ name: 'a', value: 'b' }] }, matches: false },
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
  ]);
  const table: { req: GatewayRequest; rule: string }[] = [
    { req: { path: '/' }, rule: 'catch-all' },
    { req: { path: '/shop' }, rule: 'catch-all' },
    { req: { path: '/api/cart' }, rule: 'api' },
    { req: { path: '/api/v2/cart' }, rule: 'api-v2' },
    { req: { path: '/api/v2/login' }, rule: 'login' },
    { req: { path: '/api/cart', headers: { 'x-canary': 'yes' } }, rule: 'canary-header' },
    { req: { path: '/api/v2/x', headers: { 'x-canary': 'yes' } }, rule: 'api-v2' },
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
      { label: 'split', index: 0, backends: [{ service: 'stable', port: 80, weight: 80 }, { service: 'canary', port: 80, weight: 20 }] },
      { label: '#1', index: 1, backends: [{ service: 'a', port: 8080, weight: 1 }, { service: 'b', port: 8080, weight: 0 }] },
      { label: '#2', index: 2, backends: [] },
    ]);
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
