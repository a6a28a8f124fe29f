/**
 * The analysis part of a Rollout spec (an analysis step, or the rollout-wide `spec.analysis`):
 * threshold metrics or a canary-vs-baseline judge, validated and resolved once, like the rest of
 * the spec (src/domain/spec/schema.ts).
 */
import { z } from 'zod';
import { checkCounters, COUNTER_TEMPLATE_KEYS, type CountersSpec } from '../analysis/counters';
import { checkTemplates, RAMP_VARIABLES } from '../analysis/templates';
import { JudgeConfigError } from '../analysis/judge';
import { MAX_CALIBRATION_BATCHES, resolveSequentialConfig, SEQUENTIAL_DEFAULTS, type SequentialConfig } from '../analysis/sequential-judge';
import { FLAGGER_DEFAULTS, type ThresholdConfig } from '../analysis/threshold-judge';
import { formatDuration } from '../duration';
import { duration, int } from './fields';

/**
 * The metrics provider an analysis uses when it names none. Analyses name providers; the worker
 * knows their addresses and credentials (src/activities/metrics/factory.ts), which therefore never
 * enter a workflow's input or history.
 */
export const DEFAULT_METRICS_PROVIDER = 'prometheus';

/** What a metrics provider's name looks like: a DNS label, e.g. `prometheus` or `thanos-eu`. */
export const METRICS_PROVIDER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Built-in Istio metrics, with Flagger's queries (see src/domain/analysis/templates.ts). */
export const BUILTIN_METRICS = ['request-success-rate', 'request-duration'] as const;
export type BuiltinMetric = (typeof BUILTIN_METRICS)[number];

const thresholdRange = z
  .strictObject({
    min: z.number().optional().meta({ description: 'the lowest passing value', examples: [99] }),
    max: z.number().optional().meta({ description: 'the highest passing value', examples: [500] }),
  })
  .refine((r) => r.min !== undefined || r.max !== undefined, 'give min, max or both')
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, {
    error: 'min must not be greater than max',
  })
  .meta({ description: 'the range a measurement passes in: min, max or both', examples: [{ min: 99 }] });

const metricSchema = z
  .strictObject({
    name: z.string().min(1, 'must not be empty').meta({
      description: `a built-in metric (${BUILTIN_METRICS.join(', ')}), or the name of your \`query\``,
      examples: ['request-success-rate'],
    }),
    query: z.string().min(1).optional().meta({
      description: `PromQL answering one value, with {{ ${RAMP_VARIABLES.join(' }}, {{ ')} }} and \`vars\`; absent for a built-in metric`,
      examples: ['sum(rate(checkout_errors_total{namespace="{{ namespace }}",app="{{ app }}"}[{{ interval }}]))'],
    }),
    thresholdRange,
    noData: z.enum(['inconclusive', 'fail'], { error: 'must be "inconclusive" or "fail"' }).default('inconclusive')
      .meta({ description: 'what a measurement with no data counts as; never a pass', examples: ['fail'] }),
    vars: z.record(z.string(), z.string()).default({}).meta({ description: 'extra variables for `query`', examples: [{ app: 'checkout' }] }),
    window: duration.optional().meta({ description: 'the range rates are computed over; default: the analysis `interval`', examples: ['2m'] }),
  })
  .superRefine((m, ctx) => {
    if (m.query === undefined && !(BUILTIN_METRICS as readonly string[]).includes(m.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['name'],
        message: `unknown metric ${JSON.stringify(m.name)}: use a built-in (${BUILTIN_METRICS.join(', ')}) or give a PromQL query`,
      });
    }
  })
  .meta({ id: 'metric', description: 'a threshold metric, measured every interval', examples: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] });

const fraction = (what: string) => z.number({ error: `must be ${what} between 0 and 1 (exclusive)` })
  .gt(0, `must be ${what} between 0 and 1 (exclusive)`).lt(1, `must be ${what} between 0 and 1 (exclusive)`);
const nonNegative = (max: number) => z.number({ error: `must be a number between 0 and ${max}` })
  .min(0, `must be a number between 0 and ${max}`).max(max, `must be a number between 0 and ${max}`);

/**
 * The sequential judge's settings (src/domain/analysis/sequential-judge.ts, docs/decisions/0007); every
 * field is optional and defaults to SEQUENTIAL_DEFAULTS. Resolved into the workflow's input at
 * start, so a later change of defaults never changes a running rollout's verdicts.
 */
const D = SEQUENTIAL_DEFAULTS;
/** A setting's description, its default (the judge's, applied at start) and an example. */
const setting = (description: string, dflt: unknown, example: unknown) => ({ description, default: dflt, examples: [example] });
const sequentialJudgeSchema = z.strictObject({
  alpha: fraction('a probability').optional()
    .meta(setting('bound on P(rollback | canary as good as baseline) and on P(promote | canary worse than tolerance)', D.alpha, 0.01)),
  tolerance: z.number({ error: 'must be a number in (0, 10]' }).gt(0, 'must be in (0, 10], e.g. 0.5 for +50 %').max(10, 'must be in (0, 10], e.g. 0.5 for +50 %').optional()
    .meta(setting('δ: "no worse" means error and slow-request ratios ≤ 1 + δ', D.tolerance, 0.2)),
  latencyQuantile: fraction('a quantile').optional().meta(setting('requests slower than this quantile of the baseline count as slow', D.latencyQuantile, 0.95)),
  minRequests: int(1, 10_000_000).optional().meta(setting('canary requests before any decision', D.minRequests, 500)),
  minEvents: int(1, 1_000_000).optional().meta(setting('canary errors (or slow requests) a rollback needs at least', D.minEvents, 10)),
  minPromoteRequests: int(1, 10_000_000).optional().meta(setting('canary requests before an early promotion', D.minPromoteRequests, 5000)),
  batch: duration.optional().meta(setting('the time scale of minute-to-minute noise: the unit of evidence; at least `interval`', formatDuration(D.batchMs), '2m')),
  noise: nonNegative(3).optional().meta(setting('prior of the batch-to-batch noise of the error share', D.noise, 0.3)),
  latencyNoise: nonNegative(3).optional().meta(setting('the same for the slow-request share; default: `noise`', D.noise, 0.3)),
  noiseFloor: nonNegative(3).optional().meta(setting('the noise allowance never goes below this', D.noiseFloor, 0.1)),
  noisePriorBatches: nonNegative(1000).optional().meta(setting('how many batches the noise prior weighs', D.noisePriorBatches, 20)),
  splitNoise: nonNegative(3).optional().meta(setting('noise allowed in the canary\'s share of requests against its weight', D.splitNoise, 0.1)),
  splitTolerance: z.number({ error: 'must be a number in (0, 10]' }).gt(0, 'must be in (0, 10]').max(10, 'must be in (0, 10]').optional()
    .meta(setting('how far the canary\'s share of requests may be from its weight before the split is reported', D.splitTolerance, 0.3)),
  calibrationBatches: int(0, MAX_CALIBRATION_BATCHES).optional().meta(setting(
    'batches of the baseline\'s history read before the first look to narrow the noise priors for a steady service; 0 turns it off',
    D.calibrationBatches, 0,
  )),
  calibrationFloor: nonNegative(3).optional().meta(setting('calibration never narrows a noise prior below this', D.calibrationFloor, 0.2)),
  canaryNoiseFactor: nonNegative(10).optional().meta(setting('how much more than the baseline the canary is assumed to wander from batch to batch', D.canaryNoiseFactor, 1.5)),
  tailQuantile: fraction('a quantile').optional().meta(setting('requests slower than this quantile of the baseline count for the tail test', D.tailQuantile, 0.999)),
  tailNoise: nonNegative(3).optional().meta(setting('the noise prior of the tail test', D.tailNoise, 0.8)),
  noiseCorrelation: z.number({ error: 'must be a number from 0 to 0.99' }).min(0, 'must be a number from 0 to 0.99').max(0.99, 'must be a number from 0 to 0.99').optional()
    .meta(setting('correlation of the noise from one batch to the next (0: independent batches; noise that lasts needs more)', D.noiseCorrelation, 0.5)),
  calibrationCeiling: nonNegative(3).optional().meta(setting('calibration may widen a noise prior up to this for a baseline that wanders more', D.calibrationCeiling, 1.5)),
  promote: z.boolean({ error: 'must be true or false' }).optional()
    .meta(setting('may the judge end the analysis early once the canary is shown no worse than the tolerance?', D.promote, false)),
  atEnd: z.enum(['pass', 'inconclusive'], { error: 'must be "pass" or "inconclusive"' }).default('inconclusive').meta({
    description: 'when `count` looks end without a verdict: `inconclusive` (the rollout holds and a person decides) or `pass` (promote what was not shown to regress)',
    examples: ['pass'],
  }),
}).meta({ id: 'sequentialJudge', description: 'the canary against its baseline, anytime-valid (docs/analysis.md); every setting is optional', examples: [{ atEnd: 'pass' }] });

/** Flagger's check loop, for parity: one check of the canary alone per interval. */
const thresholdJudgeSchema = z.strictObject({
  minSuccessRate: z.number({ error: 'must be a percentage between 0 and 100' }).min(0, 'must be a percentage between 0 and 100').max(100, 'must be a percentage between 0 and 100')
    .default(FLAGGER_DEFAULTS.minSuccessRate).meta({ description: 'the lowest share of non-5xx canary responses per interval, percent', examples: [99.5] }),
  maxP99: duration.prefault(formatDuration(FLAGGER_DEFAULTS.maxP99Ms)).meta({ description: 'the highest canary P99 latency per interval', examples: ['1s'] }),
  threshold: int(1, 1000).default(FLAGGER_DEFAULTS.threshold).meta({ description: 'failed checks that roll back', examples: [3] }),
}).meta({ id: 'thresholdJudge', description: 'Flagger\'s check loop: one check of the canary alone per interval', examples: [{ minSuccessRate: 99 }] });

const judgeSchema = z
  .strictObject({
    sequential: sequentialJudgeSchema.optional().meta({ description: 'the sequential judge: canary against baseline, anytime-valid', examples: [{ atEnd: 'pass' }] }),
    threshold: thresholdJudgeSchema.optional().meta({ description: 'Flagger\'s checks of the canary alone', examples: [{ minSuccessRate: 99 }] }),
  }, {
    error: 'must be an object with one of sequential, threshold',
  })
  .superRefine((j, ctx) => {
    const kinds = Object.keys(j).filter((k) => j[k as keyof typeof j] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `give exactly one of sequential (canary vs baseline, anytime-valid) or threshold (Flagger's checks); got ${kinds.length === 0 ? 'none' : kinds.join(' and ')}` });
    }
  })
  // For the JSON Schema: exactly one judge (the refinement above says so to zod).
  .meta({ minProperties: 1, maxProperties: 1 });

const providerName = z
  .string({ error: 'must be the name of a metrics provider the worker is configured with, e.g. "prometheus"' })
  .regex(METRICS_PROVIDER_NAME, 'must be the name of a metrics provider the worker is configured with (lowercase letters, digits and "-", at most 63), e.g. "prometheus"; its address and credentials are the worker\'s settings, not the spec\'s');

const query = z.string({ error: 'must be a PromQL query' }).min(1, 'must be a PromQL query');

/**
 * Where a judge reads its counters: the built-in queries of a mesh or router (`template`, default
 * the traffic provider's), and PromQL of the user's own for any of them (src/domain/analysis/counters.ts).
 */
const countersSchema = z
  .strictObject({
    template: z.enum(COUNTER_TEMPLATE_KEYS, { error: `must be one of ${COUNTER_TEMPLATE_KEYS.join(', ')}` }).optional()
      .meta({ description: 'the built-in queries any query not given here comes from; default: the traffic provider\'s', examples: ['istio'] }),
    requests: query.optional().meta({
      description: 'cumulative requests per workload, `by (<workloadLabel>)`, with {{ namespace }} and {{ workloads }}',
      examples: ['sum by (workload) (app_requests_total{namespace="{{namespace}}", workload=~"{{workloads}}"})'],
    }),
    errors: query.optional().meta({
      description: 'cumulative 5xx responses per workload',
      examples: ['sum by (workload) (app_requests_total{namespace="{{namespace}}", workload=~"{{workloads}}", code=~"5.."})'],
    }),
    latencyBuckets: query.optional().meta({
      description: 'cumulative request-duration buckets in milliseconds, `by (<workloadLabel>, le)`',
      examples: ['sum by (workload, le) (app_request_duration_ms_bucket{namespace="{{namespace}}", workload=~"{{workloads}}"})'],
    }),
    workloadLabel: z.string({ error: 'must be a Prometheus label name' }).optional()
      .meta({ description: 'the label whose value is the arm\'s name in every answer (a Deployment\'s; with template contour a Service\'s); default: the template\'s', examples: ['workload'] }),
  })
  .superRefine((c, ctx) => {
    for (const p of checkCounters(c)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  })
  .meta({ id: 'counters', description: 'the queries a judge reads its counters with (docs/analysis.md)', examples: [{ template: 'istio' }] });

const analysisFields = {
  interval: duration.prefault(formatDuration(60_000)).meta({ description: 'the time between measurements, or between a judge\'s looks', examples: ['30s'] }),
  failureLimit: int(0, 1000).default(0)
    .meta({ description: 'measurements allowed to fail before the analysis fails (Argo Rollouts\' failureLimit, Flagger\'s threshold)', examples: [1] }),
  inconclusiveLimit: int(0, 1000).default(0).meta({ description: 'inconclusive measurements allowed before the analysis is inconclusive', examples: [1] }),
  consecutiveErrorLimit: int(0, 1000).default(4).meta({ description: 'measurements in a row the metrics backend may fail before the analysis ends in Error', examples: [2] }),
  metrics: z.array(metricSchema).min(1, 'give at least one metric').optional().meta({
    description: 'threshold metrics (Argo Rollouts / Flagger style); give metrics or judge',
    examples: [[{ name: 'request-success-rate', thresholdRange: { min: 99 } }]],
  }),
  judge: judgeSchema.optional().meta({ description: 'the canary against its baseline, from their counters; give metrics or judge', examples: [{ sequential: {} }] }),
  counters: countersSchema.optional().meta({
    description: 'the queries a judge reads its counters with, when not the traffic provider\'s built-in ones',
    examples: [{ template: 'istio', workloadLabel: 'destination_workload' }],
  }),
  provider: providerName.optional().meta({
    description: 'the metrics provider, by the name the worker gives it, that answers this analysis\' queries',
    default: DEFAULT_METRICS_PROVIDER, examples: ['thanos-eu'],
  }),
  scrapeInterval: duration.optional().meta({
    description: 'Prometheus\' scrape interval for these metrics: an interval shorter than it, or a rate window shorter than two, is refused',
    examples: ['15s'],
  }),
};

type RawAnalysis = z.output<z.ZodObject<typeof analysisFields>> & { count?: number };

/**
 * Checks what one field cannot check alone (metrics or a judge; batch and windows against the
 * interval and the scrape interval) and resolves the judge's defaults. Issue paths are relative to
 * the analysis, so messages name e.g. spec.steps[3].analysis.judge.sequential.batch.
 */
function resolveAnalysis(a: RawAnalysis, ctx: z.RefinementCtx): AnalysisSpec {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const secs = (ms: number) => `${ms / 1000}s`;
  if (a.metrics === undefined && a.judge === undefined) {
    issue(['metrics'], 'give metrics (a threshold per measurement) or judge (the canary against its baseline, e.g. judge: {sequential: {}})');
  }
  if (a.metrics !== undefined && a.judge !== undefined) {
    issue(['judge'], 'give either metrics or judge in one analysis, not both; put the other in its own analysis step or in spec.analysis');
  }
  for (const p of checkTemplates({ metrics: a.metrics ?? [] }, RAMP_VARIABLES)) issue(p.path, p.message);
  if (a.counters !== undefined && a.metrics !== undefined && a.judge === undefined) {
    issue(['counters'], 'counters are what a judge reads; threshold metrics bring their own queries: drop counters, or use judge');
  }
  const scrape = a.scrapeInterval;
  if (scrape !== undefined) {
    if (a.interval < scrape) {
      issue(['interval'], `must be at least the scrape interval (${secs(scrape)}), got ${secs(a.interval)}: a shorter interval reads the same samples again`);
    }
    (a.metrics ?? []).forEach((m, i) => {
      const window = m.window ?? a.interval;
      if (window < 2 * scrape) {
        issue(m.window !== undefined ? ['metrics', i, 'window'] : ['interval'],
          `the rate window (${secs(window)}) must span at least two scrapes (${secs(2 * scrape)}): rate() needs two samples`);
      }
    });
  }
  let judge: ResolvedJudge | undefined;
  if (a.judge?.sequential) {
    const { batch, atEnd, ...rest } = a.judge.sequential;
    const partial: Partial<SequentialConfig> = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    if (batch !== undefined) partial.batchMs = batch;
    const batchMs = batch ?? SEQUENTIAL_DEFAULTS.batchMs;
    if (batchMs < a.interval) {
      issue(['judge', 'sequential', 'batch'], `must be at least the analysis interval (${secs(a.interval)}), got ${secs(batchMs)}: a batch holds one or more looks`);
    }
    try {
      judge = { kind: 'sequential', config: resolveSequentialConfig(partial), atEnd };
    } catch (err) {
      if (!(err instanceof JudgeConfigError)) throw err;
      issue(['judge', 'sequential'], err.message.replace(/^sequential judge: /, ''));
    }
  } else if (a.judge?.threshold) {
    const t = a.judge.threshold;
    judge = { kind: 'threshold', config: { minSuccessRate: t.minSuccessRate, maxP99Ms: t.maxP99, threshold: t.threshold, intervalMs: a.interval } };
  }
  return {
    interval: a.interval,
    failureLimit: a.failureLimit,
    inconclusiveLimit: a.inconclusiveLimit,
    consecutiveErrorLimit: a.consecutiveErrorLimit,
    metrics: a.metrics ?? [],
    ...(judge ? { judge } : {}),
    ...(a.counters ? { counters: definedOnly(a.counters) } : {}),
    ...(a.provider !== undefined ? { provider: a.provider } : {}),
    ...(a.count !== undefined ? { count: a.count } : {}),
  };
}

/** The fields that were given (zod keeps absent optional keys as `undefined`, which JSON drops anyway). */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Looks of a threshold-metrics analysis step without `count` (Argo Rollouts' and Flagger's habit). */
export const DEFAULT_METRIC_LOOKS = 5;
/**
 * How long a judged analysis step without `count` may take: it ends when the judge decides (roll
 * back, or promote once the canary is shown no worse than the tolerance), and holds for a person
 * at this limit (docs/decisions/0016-real-world-signals.md).
 */
export const DEFAULT_JUDGED_STEP_MS = 30 * 60_000;

const count = int(1, 10_000).optional().meta({
  description: `looks: default ${DEFAULT_METRIC_LOOKS} with metrics; with a judge, until it decides, at most ${formatDuration(DEFAULT_JUDGED_STEP_MS)}`,
  examples: [12],
});
export const analysisStep = z.strictObject({ ...analysisFields, count }).transform((a, ctx) => resolveAnalysis({
  ...a,
  count: a.count ?? (a.judge !== undefined ? Math.ceil(DEFAULT_JUDGED_STEP_MS / a.interval) : DEFAULT_METRIC_LOOKS),
}, ctx));
export const backgroundAnalysis = z.strictObject(analysisFields).transform(resolveAnalysis);

// ---- resolved types ------------------------------------------------------------------------

export interface MetricSpec {
  name: string;
  query?: string;
  thresholdRange: { min?: number; max?: number };
  noData: 'inconclusive' | 'fail';
  vars: Record<string, string>;
  /** Range for rate() windows, in ms; defaults to the analysis interval. */
  window?: number;
}

/** A judge that compares the canary with its baseline from their counters, defaults resolved. */
export type ResolvedJudge =
  | { kind: 'sequential'; config: SequentialConfig; atEnd: 'pass' | 'inconclusive' }
  | { kind: 'threshold'; config: ThresholdConfig };

export interface AnalysisSpec {
  /** Time between measurements (or looks of a judge), ms. */
  interval: number;
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
  /** Threshold metrics; empty when a judge decides. */
  metrics: MetricSpec[];
  /** Canary-vs-baseline judge; when set, `metrics` is empty. */
  judge?: ResolvedJudge;
  /**
   * Where the judge reads its counters, as given (validated); absent: the traffic provider's
   * built-in queries. `counterTemplatesFor(counters, traffic provider)` resolves it.
   */
  counters?: CountersSpec;
  /** The worker's metrics provider that answers this analysis, by name; absent: DEFAULT_METRICS_PROVIDER. */
  provider?: string;
  /** Number of measurements (analysis steps only; background analysis runs until promotion). */
  count?: number;
}

