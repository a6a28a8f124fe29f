/**
 * The routing-feature steps in the state machine: setHeaderRoute and setMirror call
 * trafficSetFeature with their inverse recorded first, a step without match (or at 0 %) takes its
 * feature back at once and drops the inverse, sticky sessions come right after the routes, and every
 * feature left is undone in reverse order on promotion and on rollback.
 */
import { acceptCommand, commandRefusal } from '../../../../src/domain/rollout/rules';
import { drive, fail, resultOf, specWith } from '../../../support/machine';

const beta = { name: 'beta', match: [{ header: 'x-canary', value: 'true' }] };
const header = { kind: 'header', name: 'beta', match: [{ header: 'x-canary', value: { exact: 'true' } }] };

/** Each call as `activity` or `activity:change` for the router's writes. */
const trace = (d: ReturnType<typeof drive>) => d.calls.map((c) => {
  if (c.activity === 'trafficSetFeature') return `setFeature:${(c.args[2] as { kind: string; name?: string }).kind}${(c.args[2] as { name?: string }).name ? `:${(c.args[2] as { name: string }).name}` : ''}`;
  if (c.activity === 'trafficUndo' || c.activity === 'trafficApply') return `${c.activity}:${String(c.args[2])}`;
  if (c.activity === 'trafficSetWeight') return `setWeight:${(c.args[2] as { weight: number }).weight}`;
  return c.activity;
});

const PREFIX = ['preflight', 'ensureCanary', 'waitAvailable', 'trafficApply:subsets', 'trafficApply:routes'];

describe('routing-feature steps', () => {
  const cases: { name: string; steps: unknown[]; extra?: Record<string, unknown>; calls: string[]; saga: string[] }[] = [
    {
      name: 'a header route is set, and stays recorded for the saga',
      steps: [{ setHeaderRoute: beta }, { pause: {} }],
      calls: [...PREFIX, 'setFeature:header:beta'], saga: ['subsets', 'routes', 'header:beta'],
    },
    {
      name: 'a step without match removes it at once and drops its inverse',
      steps: [{ setHeaderRoute: beta }, { setWeight: 10 }, { setHeaderRoute: { name: 'beta' } }, { pause: {} }],
      calls: [...PREFIX, 'setFeature:header:beta', 'setWeight:10', 'trafficUndo:header:beta'], saga: ['subsets', 'routes'],
    },
    {
      name: 'removing a header route never set is nothing to do',
      steps: [{ setHeaderRoute: { name: 'nope' } }, { pause: {} }],
      calls: PREFIX, saga: ['subsets', 'routes'],
    },
    {
      name: 'a mirror, replaced by a higher percentage (one inverse), then stopped by 0',
      steps: [{ setMirror: { percent: 20 } }, { setMirror: { percent: 50 } }, { setMirror: { percent: 0 } }, { pause: {} }],
      calls: [...PREFIX, 'setFeature:mirror', 'setFeature:mirror', 'trafficUndo:mirror'], saga: ['subsets', 'routes'],
    },
    {
      name: 'sticky sessions come right after the routes, before the first step',
      steps: [{ setWeight: 10 }, { pause: {} }], extra: { traffic: { provider: 'istio', virtualService: { name: 'storefront' }, routing: { mode: 'subset' }, stickySession: { maxAge: '1h' } } },
      calls: [...PREFIX, 'setFeature:sticky', 'setWeight:10'], saga: ['subsets', 'routes', 'sticky'],
    },
  ];

  it.each(cases)('$name', ({ steps, extra, calls, saga }) => {
    const d = drive(specWith(steps, extra)).run();
    expect(trace(d)).toEqual(calls);
    expect(d.r.saga.flatMap((i) => (i.kind === 'traffic' ? [i.change] : []))).toEqual(saga);
    expect(d.r.status.phase).toBe('Paused');
  });

  it('the feature call carries the resolved feature and the snapshot; its answer becomes the snapshot', () => {
    const d = drive(specWith([{ setHeaderRoute: beta }, { pause: {} }])).run();
    const call = d.calls.find((c) => c.activity === 'trafficSetFeature')!;
    expect(call.args[2]).toEqual(header);
    expect(call.args[1]).toEqual({ v: 1 });
    expect(d.r.runtime!.snapshot).toEqual({ v: 3 });
    expect(d.r.saga.at(-1)).toEqual({ kind: 'traffic', change: 'header:beta', description: 'header route beta (header x-canary = "true" → canary)', carriesTraffic: true });
  });

  it('sticky sessions get the cookie and Max-Age in seconds', () => {
    const d = drive(specWith([{ pause: {} }], { traffic: { provider: 'istio', virtualService: { name: 'storefront' }, routing: { mode: 'subset' }, stickySession: {} } })).run();
    expect(d.calls.find((c) => c.activity === 'trafficSetFeature')!.args[2]).toEqual({ kind: 'sticky', cookie: 'ramp-canary', maxAgeSeconds: 86400 });
  });

  it.each([
    ['promotion', 'promote', 'Promoted'],
    ['an abort', 'abort', 'RolledBack'],
  ] as const)('%s undoes every feature left, in reverse order, before the routes', (_what, command, outcome) => {
    const spec = specWith([{ setMirror: { percent: 20 } }, { setHeaderRoute: beta }, { pause: {} }], {
      traffic: { provider: 'istio', virtualService: { name: 'storefront' }, routing: { mode: 'subset' }, stickySession: {} },
      rollback: { scaleDownDelay: '0s' },
    });
    const d = drive(spec).run();
    d.calls.length = 0;
    acceptCommand(d.r, d.spec, command, { by: 'alice' }, 'update', d.now);
    d.run();
    expect(trace(d).filter((c) => c.startsWith('trafficUndo'))).toEqual([
      'trafficUndo:header:beta', 'trafficUndo:mirror', 'trafficUndo:sticky', 'trafficUndo:routes', 'trafficUndo:subsets',
    ]);
    expect(resultOf(d)!.outcome).toBe(outcome);
  });

  it('a step replacing a header route keeps its place in the saga, in the new words', () => {
    const d = drive(specWith([{ setHeaderRoute: beta }, { setMirror: { percent: 5 } }, { setHeaderRoute: { name: 'beta', match: [{ query: 'b', value: { prefix: 'y' } }] } }, { pause: {} }])).run();
    expect(d.r.saga.flatMap((i) => (i.kind === 'traffic' ? [[i.change, i.description]] : []))).toEqual([
      ['subsets', 'set subsets'], ['routes', 'add the canary at 0 %'],
      ['header:beta', 'header route beta (query b starts with "y" → canary)'], ['mirror', 'mirror of 5% of requests to the canary'],
    ]);
  });

  it('during a rollback the status weights go back to stable with the routes\' undo, not with a feature\'s', () => {
    const d = drive(specWith([{ setWeight: 30 }, { setHeaderRoute: beta }, { pause: {} }], { rollback: { scaleDownDelay: '0s' } })).run();
    acceptCommand(d.r, d.spec, 'abort', { by: 'oncall' }, 'update', d.now);
    const seen: string[] = [];
    d.run((c) => {
      if (c.activity === 'trafficUndo') seen.push(`${String(c.args[2])}@${d.r.status.weights.canary}`);
      return undefined;
    });
    expect(seen).toEqual(['header:beta@30', 'routes@30', 'subsets@0']);
  });

  it('a feature write that fails rolls back, undoing the feature too (it may have been written)', () => {
    const d = drive(specWith([{ setHeaderRoute: beta }, { pause: {} }], { rollback: { scaleDownDelay: '0s' } }))
      .run((c) => (c.activity === 'trafficSetFeature' ? fail('Invalid', 'the router cannot') : undefined));
    expect(trace(d).filter((c) => c.startsWith('trafficUndo'))).toEqual(['trafficUndo:header:beta', 'trafficUndo:routes', 'trafficUndo:subsets']);
    expect(resultOf(d)).toMatchObject({ outcome: 'RolledBack', reason: 'the router cannot' });
  });

  it('a plain promote during a feature step is refused like one during a weight step (nothing waits)', () => {
    const d = drive(specWith([{ setHeaderRoute: beta }, { pause: {} }])).run((c) => (c.activity === 'trafficSetFeature' ? 'pending' : undefined));
    expect(commandRefusal(d.r, d.spec, 'promote', {})).toContain('which does not wait for anything');
    expect(commandRefusal(d.r, d.spec, 'promote', { full: true })).toBeUndefined();
  });
});
