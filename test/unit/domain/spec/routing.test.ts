/** The routing-feature steps and sticky sessions in the spec: what they resolve to, and each mistake named by its field with its fix. */
import { validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw, specProblems } from '../../../support/builders';

const gateway = (kind: 'HTTPRoute' | 'GRPCRoute') => ({
  // A merge patch over the builder's Istio traffic: null takes its fields out.
  provider: 'gateway-api', route: { kind, name: 'storefront' }, virtualService: null,
  routing: { mode: 'service', destinationRule: null, stableService: 'storefront-stable', canaryService: 'storefront-canary' },
});

describe('setHeaderRoute, setMirror, stickySession', () => {
  it('resolve to the step and traffic types the workflow sees', () => {
    const r = validateRollout(newTestRolloutRaw({
      spec: {
        traffic: { provider: 'istio', virtualService: { name: 'storefront' }, routing: { mode: 'subset' }, stickySession: { cookie: 'canary', maxAge: '1h' } },
        steps: [
          { setHeaderRoute: { name: 'beta-testers', match: [{ header: 'x-canary', value: 'true' }, { cookie: 'team', value: { prefix: 'qa' } }, { query: 'b', value: { regex: 'y[0-9]+' } }] } },
          { setHeaderRoute: { name: 'beta-testers' } },
          { setMirror: { percent: 20 } },
        ],
      },
    }));
    expect(r.spec.steps).toEqual([
      { kind: 'setHeaderRoute', name: 'beta-testers', match: [{ header: 'x-canary', value: { exact: 'true' } }, { cookie: 'team', value: { prefix: 'qa' } }, { query: 'b', value: { regex: 'y[0-9]+' } }] },
      { kind: 'setHeaderRoute', name: 'beta-testers' },
      { kind: 'setMirror', percent: 20 },
    ]);
    expect(r.spec.traffic.stickySession).toEqual({ cookie: 'canary', maxAgeSeconds: 3600 });
  });

  it('sticky sessions default to cookie ramp-canary for 24h, on either provider', () => {
    const r = validateRollout(newTestRolloutRaw({ spec: { traffic: { ...gateway('HTTPRoute'), stickySession: {} } } }));
    expect(r.spec.traffic.stickySession).toEqual({ cookie: 'ramp-canary', maxAgeSeconds: 86400 });
    expect(validateRollout(newTestRolloutRaw()).spec.traffic.stickySession).toBeUndefined();
  });

  it('the same header-route name twice in one step list is fine: the later step replaces it', () => {
    const steps = [{ setHeaderRoute: { name: 'a', match: [{ header: 'x', value: '1' }] } }, { setHeaderRoute: { name: 'a', match: [{ header: 'x', value: '2' }] } }];
    expect(specProblems(newTestRolloutRaw({ spec: { steps } }))).toEqual([]);
  });

  const m = (match: unknown) => ({ spec: { steps: [{ setHeaderRoute: { name: 'beta', match } }] } });
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['an empty match list', m([]), ['spec.steps[0].setHeaderRoute.match: give at least one condition (e.g. - header: x-canary, value: "true"), or leave match out to remove the header route']],
    ['a regex that does not compile', m([{ header: 'x', value: { regex: '(' } }]), ['spec.steps[0].setHeaderRoute.match[0].value.regex: is not a valid regular expression: Invalid regular expression: /(/: Unterminated group; write an RE2 expression that matches the whole value, e.g. "beta-[0-9]+"']],
    ['a regex RE2 cannot run', m([{ header: 'x', value: { regex: 'a(?!b)' } }]), ['spec.steps[0].setHeaderRoute.match[0].value.regex: uses lookaround ((?=, (?!, (?<=, (?<!), which RE2 does not support; match the value itself instead; write an RE2 expression that matches the whole value, e.g. "beta-[0-9]+"']],
    ['a condition with two kinds', m([{ header: 'x', cookie: 'y', value: '1' }]), ['spec.steps[0].setHeaderRoute.match[0]: a condition has exactly one of header, cookie, query; got header and cookie']],
    ['a condition without value', m([{ header: 'x' }]), ['spec.steps[0].setHeaderRoute.match[0].value: required — how the header, cookie or query parameter must read: a string (exact), `{exact}`, `{prefix}` or `{regex}`, e.g. value: {exact: "true"}']],
    ['a header name with a space', m([{ header: 'x canary', value: '1' }]), ['spec.steps[0].setHeaderRoute.match[0].header: must be an HTTP header name, such as "x-canary"']],
    ['one header tested twice', m([{ header: 'X-A', value: '1' }, { header: 'x-a', value: '2' }]), ['spec.steps[0].setHeaderRoute.match[1]: conditions 0 and 1 both test header "x-a"; keep one, with a regex if several values are fine']],
    ['two cookies', m([{ cookie: 'a', value: '1' }, { cookie: 'b', value: '2' }]), ['spec.steps[0].setHeaderRoute.match[1]: conditions 0 and 1 both test the Cookie header (a cookie condition is a Cookie header match); keep one cookie condition, or express both in one regex']],
    ['a name that is not a Kubernetes name', { spec: { steps: [{ setHeaderRoute: { name: 'Beta Testers' } }] } }, ['spec.steps[0].setHeaderRoute.name: must be a lowercase DNS name: letters, digits, "-" and ".", starting and ending with a letter or digit']],
    ['mirror percent out of range', { spec: { steps: [{ setMirror: { percent: 120 } }] } }, ['spec.steps[0].setMirror.percent: must be between 0 and 100, got 120']],
    ['sticky maxAge below a second', { spec: { traffic: { provider: 'istio', virtualService: { name: 'storefront' }, routing: { mode: 'subset' }, stickySession: { maxAge: '500ms' } } } },
      ['spec.traffic.stickySession.maxAge: must be whole seconds, at least 1s (a cookie\'s Max-Age), got 500ms']],
    ['sticky sessions on a GRPCRoute', { spec: { traffic: { ...gateway('GRPCRoute'), stickySession: {} } } },
      ['spec.traffic.stickySession: a GRPCRoute cannot set cookies on responses, so sticky sessions need an HTTPRoute (or Istio); remove stickySession']],
    ['a query condition on a GRPCRoute', { spec: { traffic: gateway('GRPCRoute'), steps: [{ setHeaderRoute: { name: 'b', match: [{ query: 'q', value: '1' }] } }] } },
      ['spec.steps[0].setHeaderRoute.match[0].query: a GRPCRoute matches headers only (gRPC requests have no query parameters); match a header instead']],
  ];
  it.each(cases)('%s', (_name, patch, expected) => {
    expect(specProblems(newTestRolloutRaw(patch))).toEqual(expected);
  });
});
