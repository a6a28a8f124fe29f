/** The analysis judge in the spec: defaults resolved once, every impossible value refused by path. */
import { validateRollout } from '../../../../src/domain/spec/parse';
import { SEQUENTIAL_DEFAULTS } from '../../../../src/domain/analysis/sequential-judge';
import { FLAGGER_DEFAULTS } from '../../../../src/domain/analysis/threshold-judge';
import { newTestRolloutRaw, specProblems } from '../../../support/builders';

const withStep = (analysis: Record<string, unknown>) => newTestRolloutRaw({ spec: { steps: [{ setWeight: 10 }, { analysis }] } });

const problems = specProblems;

describe('judge: defaults', () => {
  it('an empty sequential judge gets every default, frozen into the resolved spec: until it decides, holding at 30 minutes', () => {
    const r = validateRollout(withStep({ interval: '15s', judge: { sequential: {} } }));
    expect(r.spec.steps[1]).toEqual({
      kind: 'analysis',
      analysis: {
        // 30 minutes of 15 s looks; "not enough evidence yet" at the end holds for a person.
        interval: 15_000, count: 120, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, metrics: [],
        judge: { kind: 'sequential', config: { ...SEQUENTIAL_DEFAULTS, latencyNoise: SEQUENTIAL_DEFAULTS.noise }, atEnd: 'inconclusive' },
      },
    });
  });

  it('sequential settings override the defaults; batch is a duration', () => {
    const r = validateRollout(withStep({ interval: '10s', judge: { sequential: { alpha: 0.01, tolerance: 0.2, batch: '2m', noise: 0.3, promote: false, atEnd: 'inconclusive' } } }));
    const step = r.spec.steps[1]!;
    if (step.kind !== 'analysis') throw new Error('expected an analysis step');
    expect(step.analysis.judge).toEqual({
      kind: 'sequential',
      config: { ...SEQUENTIAL_DEFAULTS, alpha: 0.01, tolerance: 0.2, batchMs: 120_000, noise: 0.3, latencyNoise: 0.3, promote: false },
      atEnd: 'inconclusive',
    });
  });

  it('a provider and counters are kept as given; without them the resolved analysis has neither (the worker\'s prometheus, the traffic provider\'s queries)', () => {
    const counters = {
      template: 'istio',
      errors: 'sum by (destination_workload) (istio_requests_total{destination_workload=~"{{ workloads }}",response_code=~"5..|429"})',
    };
    const r = validateRollout(withStep({ interval: '15s', provider: 'thanos-eu', judge: { sequential: {} }, counters }));
    const step = r.spec.steps[1]!;
    if (step.kind !== 'analysis') throw new Error('expected an analysis step');
    expect(step.analysis.provider).toBe('thanos-eu');
    expect(step.analysis.counters).toEqual(counters);
    expect(Object.keys(step.analysis.counters!)).toEqual(['template', 'errors']);

    const plain = validateRollout(withStep({ interval: '15s', judge: { sequential: {} } })).spec.steps[1]!;
    expect(plain.kind === 'analysis' && ['provider', 'counters'].filter((k) => k in plain.analysis)).toEqual([]);
  });

  it('an empty threshold judge is Flagger at its documented defaults, checking every analysis interval', () => {
    const r = validateRollout(newTestRolloutRaw({ spec: { analysis: { judge: { threshold: {} } } } }));
    expect(r.spec.analysis).toEqual({
      interval: 60_000, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, metrics: [],
      judge: { kind: 'threshold', config: { ...FLAGGER_DEFAULTS } },
    });
  });
});

describe('judge and analysis: every problem by path', () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['α above 1', { judge: { sequential: { alpha: 1.5 } } }, ['spec.steps[1].analysis.judge.sequential.alpha: must be a probability between 0 and 1 (exclusive)']],
    ['α of 0', { judge: { sequential: { alpha: 0 } } }, ['spec.steps[1].analysis.judge.sequential.alpha: must be a probability between 0 and 1 (exclusive)']],
    ['negative tolerance', { judge: { sequential: { tolerance: -0.1 } } }, ['spec.steps[1].analysis.judge.sequential.tolerance: must be in (0, 10], e.g. 0.5 for +50 %']],
    ['quantile of 1', { judge: { sequential: { latencyQuantile: 1 } } }, ['spec.steps[1].analysis.judge.sequential.latencyQuantile: must be a quantile between 0 and 1 (exclusive)']],
    ['batch shorter than the interval', { interval: '30s', judge: { sequential: { batch: '10s' } } },
      ['spec.steps[1].analysis.judge.sequential.batch: must be at least the analysis interval (30s), got 10s: a batch holds one or more looks']],
    ['batch below 1 s', { interval: '1s', judge: { sequential: { batch: '500ms' } } },
      ['spec.steps[1].analysis.judge.sequential.batch: must be at least the analysis interval (1s), got 0.5s: a batch holds one or more looks', 'spec.steps[1].analysis.judge.sequential: batchMs must be a number ≥ 1000, got 500']],
    ['calibration batches not whole', { judge: { sequential: { calibrationBatches: 2.5 } } }, ['spec.steps[1].analysis.judge.sequential.calibrationBatches: must be a whole number between 0 and 120, got 2.5']],
    ['negative calibration floor', { judge: { sequential: { calibrationFloor: -0.1 } } }, ['spec.steps[1].analysis.judge.sequential.calibrationFloor: must be a number between 0 and 3']],
    ['canary noise factor too large', { judge: { sequential: { canaryNoiseFactor: 20 } } }, ['spec.steps[1].analysis.judge.sequential.canaryNoiseFactor: must be a number between 0 and 10']],
    ['unknown judge setting', { judge: { sequential: { alfa: 0.1 } } }, ['spec.steps[1].analysis.judge.sequential: unknown field "alfa": did you mean "alpha"?']],
    ['unknown judge', { judge: { kayenta: {} } }, [
      'spec.steps[1].analysis.judge: unknown field "kayenta": remove it or check the spelling; the fields here are sequential, threshold',
      'spec.steps[1].analysis.judge: give exactly one of sequential (canary vs baseline, anytime-valid) or threshold (Flagger\'s checks); got none',
    ]],
    ['two judges', { judge: { sequential: {}, threshold: {} } },
      ['spec.steps[1].analysis.judge: give exactly one of sequential (canary vs baseline, anytime-valid) or threshold (Flagger\'s checks); got sequential and threshold']],
    ['no judge in judge', { judge: {} },
      ['spec.steps[1].analysis.judge: give exactly one of sequential (canary vs baseline, anytime-valid) or threshold (Flagger\'s checks); got none']],
    ['success rate over 100', { judge: { threshold: { minSuccessRate: 101 } } }, ['spec.steps[1].analysis.judge.threshold.minSuccessRate: must be a percentage between 0 and 100']],
    ['neither metrics nor judge', { interval: '10s' },
      ['spec.steps[1].analysis.metrics: give metrics (a threshold per measurement) or judge (the canary against its baseline, e.g. judge: {sequential: {}})']],
    ['both metrics and judge', { metrics: [{ name: 'request-duration', thresholdRange: { max: 500 } }], judge: { sequential: {} } },
      ['spec.steps[1].analysis.judge: give either metrics or judge in one analysis, not both; put the other in its own analysis step or in spec.analysis']],
    ['interval below the scrape interval', { interval: '10s', scrapeInterval: '15s', judge: { sequential: {} } },
      ['spec.steps[1].analysis.interval: must be at least the scrape interval (15s), got 10s: a shorter interval reads the same samples again']],
    ['rate window of one scrape', { interval: '30s', scrapeInterval: '15s', metrics: [{ name: 'request-duration', thresholdRange: { max: 500 }, window: '20s' }] },
      ['spec.steps[1].analysis.metrics[0].window: the rate window (20s) must span at least two scrapes (30s): rate() needs two samples']],
    ['a template variable nobody defines', { metrics: [{ name: 'x', query: 'sum(up{job="{{ job }}"})', thresholdRange: { min: 1 } }] },
      ['spec.steps[1].analysis.metrics[0].query: query for metric "x" uses {{ job }} but no variable "job" is defined; defined: namespace, target, interval (add it to the metric\'s vars or fix the query)']],
    ['a var that shadows Ramp\'s', { metrics: [{ name: 'x', query: 'sum(up{ns="{{ namespace }}"})', vars: { namespace: 'other' }, thresholdRange: { min: 1 } }] },
      ['spec.steps[1].analysis.metrics[0].vars.namespace: var "namespace" is provided by Ramp and cannot be redefined; rename it']],
  ];
  it.each(cases)('%s', (_name, analysis, expected) => {
    expect(problems(withStep(analysis))).toEqual(expected);
  });

  const counters = {
    requests: 'sum by (workload) (rate_source_total{namespace="{{namespace}}", workload=~"{{workloads}}"})',
    errors: 'sum by (workload) (rate_source_total{namespace="{{namespace}}", workload=~"{{workloads}}", code=~"5.."})',
    latencyBuckets: 'sum by (workload, le) (latency_ms_bucket{namespace="{{namespace}}", workload=~"{{workloads}}"})',
    workloadLabel: 'workload',
  };
  const counterCases: [string, Record<string, unknown>, string[]][] = [
    ['a provider name that is not a DNS label', { provider: 'Thanos_EU', judge: { sequential: {} } },
      ['spec.steps[1].analysis.provider: must be the name of a metrics provider the worker is configured with (lowercase letters, digits and "-", at most 63), e.g. "prometheus"; its address and credentials are the worker\'s settings, not the spec\'s']],
    ['a provider given as an address', { provider: 'http://prometheus:9090', metrics: [{ name: 'request-duration', thresholdRange: { max: 500 } }] },
      ['spec.steps[1].analysis.provider: must be the name of a metrics provider the worker is configured with (lowercase letters, digits and "-", at most 63), e.g. "prometheus"; its address and credentials are the worker\'s settings, not the spec\'s']],
    ['an unknown counter template', { judge: { sequential: {} }, counters: { template: 'linkerd' } }, ['spec.steps[1].analysis.counters.template: must be one of istio, contour']],
    ['an unknown counters field', { judge: { sequential: {} }, counters: { template: 'istio', buckets: 'x' } },
      ['spec.steps[1].analysis.counters: unknown field "buckets": remove it or check the spelling; the fields here are template, requests, errors, latencyBuckets, workloadLabel']],
    ['bucket counters not grouped by le', { judge: { sequential: {} }, counters: { ...counters, latencyBuckets: 'sum by (workload) (latency_ms_bucket{workload=~"{{workloads}}"})' } },
      ['spec.steps[1].analysis.counters.latencyBuckets: must answer one series per workload and bucket: aggregate with by (workload, le), e.g. sum by (workload, le) (…)']],
    ['some counter queries without a template', { judge: { sequential: {} }, counters: { requests: counters.requests, workloadLabel: 'workload' } },
      ['spec.steps[1].analysis.counters.template: give the template that errors and latencyBuckets come from (istio, contour), or give errors and latencyBuckets too']],
    ['counters per Service (contour) under subset routing', { judge: { sequential: {} }, counters: { template: 'contour' } },
      ['spec.steps[1].analysis.counters: the contour counter queries count per Service, but spec.traffic.routing.mode is subset: use routing.mode service (stableService, canaryService), or a template or queries that count per Deployment']],
    ['counters on a threshold-metrics analysis', { metrics: [{ name: 'request-duration', thresholdRange: { max: 500 } }], counters: { template: 'istio' } },
      ['spec.steps[1].analysis.counters: counters are what a judge reads; threshold metrics bring their own queries: drop counters, or use judge']],
  ];
  it.each(counterCases)('%s', (_name, analysis, expected) => {
    expect(problems(withStep(analysis))).toEqual(expected);
  });

  it('the scrape interval allows what it should: interval = scrape, window = two scrapes', () => {
    expect(problems(withStep({ interval: '15s', scrapeInterval: '15s', metrics: [{ name: 'request-duration', thresholdRange: { max: 500 }, window: '30s' }] }))).toEqual([]);
  });
});
