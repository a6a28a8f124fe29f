import { sharesBetween, type TrafficStats, type VersionStats } from '../../../scripts/traffic/generator';
import { formatStats, parseRoute, parseTrafficArgs } from '../../../scripts/traffic/main';

const version = (sent: number, errors = 0, expectedShare = 0): VersionStats =>
  ({ sent, completed: sent, errors, byCode: { 200: sent - errors, ...(errors ? { 500: errors } : {}) }, share: 0, expectedShare, mirrored: { sent: 0, completed: 0, errors: 0, byCode: {} } });

function newTestStats(over: Partial<TrafficStats> = {}): TrafficStats {
  return {
    elapsedMs: 10_000, requests: 0, sent: 0, inFlight: 0, noEndpoint: 0, skipped: 0, unmatched: 0, mirrored: 0, mirrorNoEndpoint: 0, clients: [], byRequest: [], route: 'route "primary"', hosts: ['web'],
    entries: [], weightChanges: 1, tableChanges: 1, workloads: {}, images: {}, services: {}, ...over,
  };
}

describe('parseRoute: --route', () => {
  const table: { text: string; want: unknown }[] = [
    { text: 'primary', want: { name: 'primary' } },
    { text: '#0', want: { index: 0 } },
    { text: '#12', want: { index: 12 } },
    { text: 'default', want: { default: true } },
  ];
  it.each(table)('$text', ({ text, want }) => {
    expect(parseRoute(text)).toEqual(want);
  });
  it.each(['', '#', '#x', '#-1'])('rejects %j', (text) => {
    expect(() => parseRoute(text)).toThrow(/--route must be a route name, #N or default/);
  });
});

describe('parseTrafficArgs', () => {
  it('reads the route, images and behaviours', () => {
    const o = parseTrafficArgs(['--route', '#2', '--stable-image', 'web:1', '--canary-image', 'web:2', '--canary-error-rate', '0.1', '--rps', '40']);
    expect(o).toMatchObject({ route: { index: 2 }, stableImage: 'web:1', canaryImage: 'web:2', rps: 40, canary: { errorRate: 0.1 } });
  });
  it('reads --gateway-route KIND/NAME', () => {
    expect(parseTrafficArgs(['--gateway-route', 'HTTPRoute/storefront'])).toMatchObject({ gatewayRoute: { kind: 'HTTPRoute', name: 'storefront' } });
    expect(parseTrafficArgs(['--gateway-route', 'GRPCRoute/cart'])).toMatchObject({ gatewayRoute: { kind: 'GRPCRoute', name: 'cart' } });
  });
  it.each(['storefront', 'TCPRoute/x', 'HTTPRoute/', 'HTTPRoute/Big'])('rejects --gateway-route %j, naming the forms', (text) => {
    expect(() => parseTrafficArgs(['--gateway-route', text])).toThrow(/--gateway-route must be HTTPRoute\/NAME or GRPCRoute\/NAME/);
  });
  it('refuses --route with --gateway-route', () => {
    expect(() => parseTrafficArgs(['--route', 'primary', '--gateway-route', 'HTTPRoute/x'])).toThrow(/give one of them/);
  });
  it('rejects the removed --mode: the generator follows whatever the route names', () => {
    expect(() => parseTrafficArgs(['--mode', 'service'])).toThrow(/Unknown option '--mode'/);
  });
});

describe('sharesBetween: the recent split', () => {
  it('divides each key’s requests since the previous stats by all requests routed since', () => {
    const prev = newTestStats({ requests: 100, workloads: { stable: version(90), canary: version(10) } });
    const now = newTestStats({ requests: 300, workloads: { stable: version(250), canary: version(30), unknown: version(20, 20) } });
    expect(sharesBetween(prev, now)).toEqual({
      requests: 200,
      byKey: { stable: { sent: 160, share: 0.8 }, canary: { sent: 20, share: 0.1 }, unknown: { sent: 20, share: 0.1 } },
    });
    expect(sharesBetween(undefined, now).byKey.canary).toEqual({ sent: 30, share: 0.1 });
  });
});

describe('formatStats', () => {
  it('shows the weights, each workload’s recent share and 5xx, and why an entry has no endpoint', () => {
    const prev = newTestStats({ requests: 100, workloads: { stable: version(90, 0, 0.9), canary: version(10, 1, 0.1) } });
    const now = newTestStats({
      requests: 300,
      entries: [
        { host: 'web', subset: 'stable', weight: 90, fqdn: 'web.shop.svc.cluster.local', service: 'web', endpoints: [], picked: 270, noEndpoint: 0 },
        { host: 'web', subset: 'canary', weight: 10, fqdn: 'web.shop.svc.cluster.local', service: 'web', endpoints: [], noEndpointReason: 'Service web: no ready endpoint', picked: 30, noEndpoint: 20 },
      ],
      workloads: { stable: version(270, 0, 0.9), canary: version(10, 1, 0), unknown: version(20, 20, 0.1) },
    });
    expect(formatStats(now, prev)).toBe(
      '10s  [web/stable 90, web/canary 10]  200 requests lately  |  stable: 90% (expected 90%), 5xx 0/180  |  unknown: 10% (expected 10%), 5xx 20/20'
      + '  |  no endpoint: web/canary: Service web: no ready endpoint',
    );
  });
});
