/** The analysis judge in the spec: defaults resolved once, every impossible value refused by path. */
import { validateRollout } from '../../../../src/domain/spec/parse';
import { SEQUENTIAL_DEFAULTS } from '../../../../src/domain/analysis/sequential-judge';
import { FLAGGER_DEFAULTS } from '../../../../src/domain/analysis/threshold-judge';
import { newTestRolloutRaw, specProblems } from '../../../support/builders';

const withStep = (analysis: Record<string, unknown>) => newTestRolloutRaw({ spec: { steps: [{ setWeight: 10 }, { analysis }] } });

const problems = specProblems;

describe('judge: defaults', () => {
  it('an empty sequential judge gets every default, frozen into the resolved spec', () => {
    const r = validateRollout(withStep({ interval: '15s', judge: { sequential: {} } }));
    expect(r.spec.steps[1]).toEqual({
      kind: 'analysis',
      analysis: {
        interval: 15_000, count: 5, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, metrics: [],
        judge: { kind: 'sequential', config: { ...SEQUENTIAL_DEFAULTS, latencyNoise: SEQUENTIAL_DEFAULTS.noise }, atEnd: 'pass' },
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
    ['unknown judge setting', { judge: { sequential: { alfa: 0.1 } } }, ['spec.steps[1].analysis.judge.sequential: unknown field "alfa": remove it or check the spelling']],
    ['unknown judge', { judge: { kayenta: {} } }, [
      'spec.steps[1].analysis.judge: unknown field "kayenta": remove it or check the spelling',
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

  it('the scrape interval allows what it should: interval = scrape, window = two scrapes', () => {
    expect(problems(withStep({ interval: '15s', scrapeInterval: '15s', metrics: [{ name: 'request-duration', thresholdRange: { max: 500 }, window: '30s' }] }))).toEqual([]);
  });
});
