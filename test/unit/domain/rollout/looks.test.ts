import { COUNTER_TEMPLATES } from '../../../../src/domain/analysis/counters';
import { BUILTIN_QUERIES, CONTOUR_BUILTIN_QUERIES } from '../../../../src/domain/analysis/templates';
import { dueLook, startRun } from '../../../../src/domain/rollout/looks';
import type { ResolvedRollout } from '../../../../src/domain/spec/schema';
import { validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';
import { specWith, T0 } from '../../../support/machine';

const GATEWAY = {
  provider: 'gateway-api',
  route: { kind: 'HTTPRoute', name: 'storefront' },
  routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' },
};

/** A spec routed by a Gateway API HTTPRoute (the builder's traffic replaced, not merged). */
function gatewaySpec(steps: unknown[]): ResolvedRollout {
  const raw = newTestRolloutRaw({ spec: { steps } }) as { spec: Record<string, unknown> };
  raw.spec.traffic = GATEWAY;
  return validateRollout(raw);
}

const judged = { interval: '30s', judge: { sequential: {} } };
const metrics = { interval: '30s', metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }, { name: 'mine', query: 'sum(x{w="{{ target }}"})', thresholdRange: { max: 1 } }] };

/** The first look of the rollout's step analysis (step 0), at T0. */
function firstLook(spec: ResolvedRollout) {
  const step = spec.spec.steps[0]!;
  if (step.kind !== 'analysis') throw new Error('step 0 is not an analysis');
  const run = startRun('step', step.analysis, T0);
  run.nextAt = T0;
  return dueLook(run, step.analysis, spec, T0)!;
}

describe('dueLook: the arms a look reads', () => {
  it('Istio: the canary and target Deployments, Istio\'s queries as they always were (no arms field)', () => {
    const spec = specWith([{ analysis: judged }]);
    const look = firstLook(spec);
    const args = look.args[0] as { canary?: string; baseline: string; queries: unknown };
    expect(look.activity === 'readCounters' || look.activity === 'readBaselineHistory').toBe(true);
    expect(args.baseline).toBe(spec.spec.target.deployment);
    if (look.activity === 'readCounters') expect(args.canary).toBe(spec.spec.canary.deploymentName);
    const { arms: _none, ...istio } = COUNTER_TEMPLATES.istio;
    expect(JSON.stringify(args.queries)).toBe(JSON.stringify(istio));
  });

  it('Gateway API: the stable and canary Services, with Contour\'s queries', () => {
    const spec = gatewaySpec([{ analysis: judged }]);
    const look = firstLook(spec);
    const args = look.args[0] as { canary?: string; baseline: string; queries: { arms?: string; workloadLabel: string } };
    expect(args.baseline).toBe('storefront-stable');
    if (look.activity === 'readCounters') expect(args.canary).toBe('storefront-canary');
    expect(args.queries).toEqual(COUNTER_TEMPLATES.contour);
  });

  it('Gateway API with the user\'s own queries: the Deployments their {{ workloads }} name', () => {
    const own = {
      requests: 'sum by (workload) (app_requests_total{namespace="{{ namespace }}",workload=~"{{ workloads }}"})',
      errors: 'sum by (workload) (app_requests_total{namespace="{{ namespace }}",workload=~"{{ workloads }}",code=~"5.."})',
      latencyBuckets: 'sum by (workload, le) (app_latency_ms_bucket{namespace="{{ namespace }}",workload=~"{{ workloads }}"})',
      workloadLabel: 'workload',
    };
    const spec = gatewaySpec([{ analysis: { ...judged, counters: own } }]);
    const args = firstLook(spec).args[0] as { baseline: string; queries: unknown };
    expect(args.baseline).toBe(spec.spec.target.deployment);
    expect(args.queries).toEqual(own);
  });

  it('Istio threshold metrics: target is the canary Deployment and the analysis goes as it is', () => {
    const spec = specWith([{ analysis: metrics }]);
    const step = spec.spec.steps[0]!;
    const run = startRun('step', step.kind === 'analysis' ? step.analysis : undefined!, T0);
    const look = dueLook(run, step.kind === 'analysis' ? step.analysis : undefined!, spec, run.nextAt)!;
    expect(look.activity).toBe('measureAnalysis');
    const args = look.args[0] as { analysis: unknown; vars: Record<string, string> };
    expect(args.vars).toEqual({ namespace: spec.metadata.namespace, target: spec.spec.canary.deploymentName });
    expect(args.analysis).toBe(step.kind === 'analysis' ? step.analysis : undefined);
    expect(BUILTIN_QUERIES['request-success-rate']).toContain('istio_requests_total');
  });

  it('Gateway API threshold metrics: target is the canary Service, built-ins written out as Contour\'s, own queries untouched', () => {
    const spec = gatewaySpec([{ analysis: metrics }]);
    const step = spec.spec.steps[0]!;
    const analysis = step.kind === 'analysis' ? step.analysis : undefined!;
    const run = startRun('step', analysis, T0);
    const look = dueLook(run, analysis, spec, run.nextAt)!;
    const args = look.args[0] as { analysis: { metrics: { name: string; query?: string }[] }; vars: Record<string, string> };
    expect(args.vars).toEqual({ namespace: spec.metadata.namespace, target: 'storefront-canary' });
    expect(args.analysis.metrics.map((m) => [m.name, m.query])).toEqual([
      ['request-success-rate', CONTOUR_BUILTIN_QUERIES['request-success-rate']],
      ['mine', 'sum(x{w="{{ target }}"})'],
    ]);
    // The spec itself is not changed.
    expect(analysis.metrics?.[0]?.query).toBeUndefined();
  });
});
