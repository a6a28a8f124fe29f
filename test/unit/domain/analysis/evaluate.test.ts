import type { QueryFailure, QueryResult } from '../../../../src/domain/analysis/query-result';
import {
  decideAnalysis,
  evaluateMeasurement,
  type AnalysisPhase,
  type Measurement,
  type MeasurementPhase,
} from '../../../../src/domain/analysis/evaluate';
import type { AnalysisSpec, MetricSpec } from '../../../../src/domain/spec/analysis';

function newMetric(overrides: Partial<MetricSpec> = {}): MetricSpec {
  return { name: 'request-success-rate', thresholdRange: { min: 99 }, noData: 'inconclusive', vars: {}, ...overrides };
}

function newAnalysis(overrides: Partial<AnalysisSpec> = {}): AnalysisSpec {
  return { interval: 60_000, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, metrics: [newMetric()], count: 3, ...overrides };
}

const AT = '2026-01-01T00:00:00.000Z';
const LETTER: Record<string, MeasurementPhase> = { S: 'Successful', F: 'Failed', I: 'Inconclusive', E: 'Error' };

/** One interval per letter of `seq` (S, F, I, E) for metric `metric`. */
function history(seq: string, metric = 'request-success-rate'): Measurement[][] {
  return [...seq].map((c) => [measurement(metric, LETTER[c]!)]);
}

function measurement(metric: string, phase: MeasurementPhase): Measurement {
  const messages: Record<MeasurementPhase, Partial<Measurement>> = {
    Successful: { value: 99.9, message: 'value 99.9 within min 99' },
    Failed: { value: 91.2, message: 'value 91.2 below min 99' },
    Inconclusive: { message: 'no data: the query matched no series' },
    Error: { message: 'Prometheus query failed: connect ECONNREFUSED' },
  };
  return { metric, phase, at: AT, ...messages[phase] };
}

/** Zips per-metric histories into intervals. */
function zip(...histories: Measurement[][][]): Measurement[][] {
  const n = Math.max(...histories.map((h) => h.length));
  return Array.from({ length: n }, (_, i) => histories.flatMap((h) => h[i] ?? []));
}

describe('evaluateMeasurement', () => {
  const range = (min?: number, max?: number) => newMetric({ thresholdRange: { min, max } });

  it.each<[string, MetricSpec, QueryResult | QueryFailure, MeasurementPhase, RegExp | undefined]>([
    ['a value above min', range(99), { kind: 'value', value: 99.5 }, 'Successful', /^value 99.5 within min 99$/],
    ['a value equal to min (inclusive)', range(99), { kind: 'value', value: 99 }, 'Successful', undefined],
    ['a value below min', range(99), { kind: 'value', value: 91.2 }, 'Failed', /^value 91.2 below min 99$/],
    ['a value equal to max (inclusive)', range(undefined, 500), { kind: 'value', value: 500 }, 'Successful', undefined],
    ['a value above max', range(undefined, 500), { kind: 'value', value: 612.3456 }, 'Failed', /^value 612.346 above max 500$/],
    ['a value inside min and max', range(1, 2), { kind: 'value', value: 1.5 }, 'Successful', /within range \[1, 2\]/],
    ['a value below a range', range(1, 2), { kind: 'value', value: 0 }, 'Failed', /below min 1/],
    ['a value above a range', range(1, 2), { kind: 'value', value: 3 }, 'Failed', /above max 2/],
    ['zero against min 0', range(0), { kind: 'value', value: 0 }, 'Successful', undefined],
    ['a NaN value (never a pass)', range(undefined, 500), { kind: 'value', value: NaN }, 'Inconclusive', /no data: the value is NaN/],
    ['no data by default', range(99), { kind: 'noData', detail: 'the query matched no series' }, 'Inconclusive', /^no data: the query matched no series$/],
    ['no data with noData: fail', newMetric({ noData: 'fail' }), { kind: 'noData', detail: 'x' }, 'Failed', /^no data \(noData: fail\): x$/],
    ['several series', range(99), { kind: 'manySeries', count: 3 }, 'Error', /returned 3 series where one was expected/],
    ['a query error', range(99), { kind: 'error', message: 'boom' }, 'Error', /^boom$/],
  ])('%s', (_what, metric, result, phase, message) => {
    const m = evaluateMeasurement(metric, result);
    expect(m.metric).toBe(metric.name);
    expect(m.phase).toBe(phase);
    if (message) expect(m.message).toMatch(message);
    if (result.kind === 'value' && Number.isFinite(result.value)) expect(m.value).toBe(result.value);
    else expect(m.value).toBeUndefined();
  });
});

describe('decideAnalysis, one metric', () => {
  it.each<[string, Partial<AnalysisSpec>, string, AnalysisPhase, RegExp]>([
    ['no measurements yet', {}, '', 'Running', /0 of 3 measurements/],
    ['some passes, count not reached', {}, 'SS', 'Running', /2 of 3 measurements/],
    ['count reached, all passed', {}, 'SSS', 'Successful', /all 1 metric passed 3 measurements/],
    ['a failure over the limit of 0', {}, 'SF', 'Failed',
      /^metric request-success-rate failed 1 of 2 measurements \(limit 0\): last value 91.2 below min 99$/],
    ['failures within the limit, then count reached', { failureLimit: 1 }, 'FSS', 'Successful', /passed 3 measurements/],
    ['failures over the limit', { failureLimit: 1, count: 5 }, 'FSF', 'Failed', /failed 2 of 3 measurements \(limit 1\): last value 91.2 below min 99/],
    ['an inconclusive over the limit', {}, 'SI', 'Inconclusive',
      /^metric request-success-rate was inconclusive in 1 of 2 measurements \(limit 0\): last no data: the query matched no series$/],
    ['inconclusives within the limit', { inconclusiveLimit: 1 }, 'ISS', 'Successful', /passed/],
    ['errors up to the limit keep it running', { consecutiveErrorLimit: 2 }, 'EE', 'Running', /2 in a row, limit 2/],
    ['errors over the limit', { consecutiveErrorLimit: 2 }, 'SEEE', 'Error',
      /^metric request-success-rate errored 3 times in a row \(limit 2\): last Prometheus query failed: connect ECONNREFUSED$/],
    ['a non-error resets the consecutive count', { consecutiveErrorLimit: 1, count: 5 }, 'EESEE', 'Error', /errored 2 times in a row/],
    ['interleaved errors stay under the limit', { consecutiveErrorLimit: 1, count: 5 }, 'ESESE', 'Running', /2 of 5 measurements/],
    ['errors do not count towards count', { consecutiveErrorLimit: 1 }, 'SESES', 'Successful', /passed 3 measurements/],
    ['a limit of 0 errors', { consecutiveErrorLimit: 0 }, 'SE', 'Error', /errored 1 times in a row \(limit 0\)/],
    ['the first limit exceeded settles the metric', { count: 5 }, 'IF', 'Inconclusive', /inconclusive in 1 of 1/],
    ['background analysis keeps running', { count: undefined }, 'SSSSSSSSSS', 'Running', /10 measurements, until stopped/],
    ['background analysis still fails', { count: undefined }, 'SSSSF', 'Failed', /failed 1 of 5/],
    ['the verdict sticks once reached', {}, 'SSSFFF', 'Successful', /passed 3 measurements/],
    ['a failure sticks despite later passes', { count: 5 }, 'FSSSS', 'Failed', /failed 1 of 1 measurements/],
  ])('%s', (_what, overrides, seq, phase, reason) => {
    const d = decideAnalysis(newAnalysis(overrides), history(seq));
    expect(d.phase).toBe(phase);
    expect(d.reason).toMatch(reason);
  });

  it('counts measurements up to the one that settled the metric', () => {
    const d = decideAnalysis(newAnalysis({ count: 10, failureLimit: 1, consecutiveErrorLimit: 5 }), history('SIEESFFS'));
    expect(d.phase).toBe('Inconclusive');
    expect(d.counts).toEqual({ successful: 1, failed: 0, inconclusive: 1, error: 0, consecutiveErrors: 0 });
    expect(d.metrics[0]).toMatchObject({ metric: 'request-success-rate', phase: 'Inconclusive', completed: 2 });
  });

  it('reports consecutive errors of a running analysis', () => {
    const d = decideAnalysis(newAnalysis(), history('SEE'));
    expect(d.counts).toEqual({ successful: 1, failed: 0, inconclusive: 0, error: 2, consecutiveErrors: 2 });
    expect(d.metrics[0]!.last?.phase).toBe('Error');
  });
});

describe('decideAnalysis, several metrics', () => {
  const twoMetrics = (overrides: Partial<AnalysisSpec> = {}) => newAnalysis({
    metrics: [newMetric(), newMetric({ name: 'request-duration', thresholdRange: { max: 500 } })],
    ...overrides,
  });

  it.each<[string, string, string, AnalysisPhase, RegExp]>([
    ['both pass', 'SSS', 'SSS', 'Successful', /all 2 metrics passed 3 measurements/],
    ['one still running keeps it running', 'SSS', 'SSE', 'Running', /metric request-duration running \(2 of 3 measurements\)/],
    ['failed beats error', 'SSE', 'SF', 'Failed', /metric request-duration failed/],
    ['failed beats inconclusive, whatever the order', 'SF', 'I', 'Failed', /metric request-success-rate failed/],
    ['error beats inconclusive', 'I', 'EEEEE', 'Error', /metric request-duration errored 5 times/],
    ['inconclusive beats running', 'I', 'S', 'Inconclusive', /metric request-success-rate was inconclusive/],
    ['the first of equally bad metrics explains', 'F', 'F', 'Failed', /^metric request-success-rate failed/],
  ])('%s', (_what, a, b, phase, reason) => {
    const d = decideAnalysis(twoMetrics(), zip(history(a), history(b, 'request-duration')));
    expect(d.phase).toBe(phase);
    expect(d.reason).toMatch(reason);
  });

  it('sums counts over metrics and keeps the longest error streak', () => {
    const d = decideAnalysis(twoMetrics({ count: 5 }), zip(history('SSE'), history('EEE', 'request-duration')));
    expect(d.counts).toEqual({ successful: 2, failed: 0, inconclusive: 0, error: 4, consecutiveErrors: 3 });
    expect(d.metrics.map((m) => m.phase)).toEqual(['Running', 'Running']);
  });

  it('ignores measurements of metrics the analysis does not have', () => {
    const d = decideAnalysis(newAnalysis(), zip(history('SSS'), history('FFF', 'other')));
    expect(d.phase).toBe('Successful');
  });
});
