/**
 * The counters the judges read: the cumulative requests, 5xx responses and latency-histogram
 * buckets of two workloads (the canary and its baseline), from three instant queries that each
 * cover both workloads. Pure: which queries (a built-in template set keyed by mesh or router, or
 * PromQL of the user's own), how they are rendered, and how their answers become `ArmCounters`;
 * the activity only sends them.
 *
 * Counters are summed over the workload's pods. A pod that restarts resets its share, so the sum
 * can go down; the judges count a decrease as a reset (Prometheus' `increase` semantics). A
 * workload that has served no request has no series: it reads as zero requests, which the judges
 * treat as "not enough data", never as a pass.
 */
import type { ArmCounters, Histogram } from './judge';
import type { RangeSeries, Series } from './query-result';
import { templateVariables } from './templates';

/**
 * The three counter queries as templates, and the label that names the workload in their answers.
 * Templates use `{{ namespace }}` (the rollout's namespace) and `{{ workloads }}` (a regex matching
 * exactly the workloads read, for a `=~` matcher).
 */
export interface CounterQueryTemplates {
  /** Cumulative requests per workload, e.g. `sum by (<workloadLabel>) (…_total{…})`. */
  requests: string;
  /** Cumulative 5xx responses per workload. */
  errors: string;
  /** Cumulative request-duration buckets in milliseconds per workload and `le`: `sum by (<workloadLabel>, le) (…_bucket{…})`. */
  latencyBuckets: string;
  /** The label whose value is the arm's name (a Deployment's, or with `arms: services` a Service's) in every answer. */
  workloadLabel: string;
  /**
   * What the arms are named by in these metrics: `workloads` (absent: the canary and target
   * Deployments) or `services` (the canary and stable Services of a service-routed router, whose
   * proxy counts per upstream Service).
   */
  arms?: CounterArms;
}

/** What names the canary and baseline arms in a template set's metrics. */
export type CounterArms = 'workloads' | 'services';

/** The three queries of one read, rendered for a namespace and its workloads. */
export type CounterQueries = Pick<CounterQueryTemplates, 'requests' | 'errors' | 'latencyBuckets'>;

/** The query fields of a template set, in the order they are sent. */
export const COUNTER_QUERIES = ['requests', 'errors', 'latencyBuckets'] as const;
export type CounterQueryName = (typeof COUNTER_QUERIES)[number];

/** The placeholders a counter template may use. */
export const COUNTER_VARIABLES = ['namespace', 'workloads'] as const;

/** Built-in template sets, keyed by the mesh or router whose standard metrics they read. */
export const COUNTER_TEMPLATE_KEYS = ['istio', 'contour'] as const;
export type CounterTemplateKey = (typeof COUNTER_TEMPLATE_KEYS)[number];

// Istio's standard metrics, server side (reporter="destination"): `destination_workload` is the
// Deployment's name. These render byte for byte to the queries every recorded rollout sent.
const ISTIO_SELECTOR = 'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ workloads }}"';

/**
 * Contour's Envoy names each Service port's cluster stats `<namespace>_<service>_<port>`
 * (`envoy_cluster_name`); Service and namespace names hold no `_`, so the Service is the middle
 * part, copied by label_replace into the label the answers are grouped by.
 */
const CONTOUR_ARM_LABEL = 'upstream_service';
const contourArms = (metric: string, extra = '') =>
  `label_replace(${metric}{envoy_cluster_name=~"{{ namespace }}_({{ workloads }})_[0-9]+"${extra}}, "${CONTOUR_ARM_LABEL}", "$1", "envoy_cluster_name", "{{ namespace }}_(.+)_[0-9]+")`;

/** The built-in template sets, by key. */
export const COUNTER_TEMPLATES: Readonly<Record<CounterTemplateKey, Readonly<CounterQueryTemplates>>> = {
  istio: {
    requests: `sum by (destination_workload) (istio_requests_total{${ISTIO_SELECTOR}})`,
    errors: `sum by (destination_workload) (istio_requests_total{${ISTIO_SELECTOR},response_code=~"5.."})`,
    latencyBuckets: `sum by (destination_workload, le) (istio_request_duration_milliseconds_bucket{${ISTIO_SELECTOR}})`,
    workloadLabel: 'destination_workload',
  },
  // Envoy's cluster stats as Contour serves them (Flagger's Contour observer reads the same series).
  // Requests are the sum over response codes, as Flagger counts them: an answer Envoy gave for the
  // cluster itself (503, no healthy upstream) is a 5xx of that arm, though no upstream request was made.
  contour: {
    requests: `sum by (${CONTOUR_ARM_LABEL}) (${contourArms('envoy_cluster_upstream_rq')})`,
    errors: `sum by (${CONTOUR_ARM_LABEL}) (${contourArms('envoy_cluster_upstream_rq', ',envoy_response_code=~"5.."')})`,
    latencyBuckets: `sum by (${CONTOUR_ARM_LABEL}, le) (${contourArms('envoy_cluster_upstream_rq_time_bucket')})`,
    workloadLabel: CONTOUR_ARM_LABEL,
    arms: 'services',
  },
};

/**
 * The template a rollout's counters come from when its analysis names none, by traffic provider.
 * Gateway API's metrics depend on the implementation: Contour's is the default, another
 * implementation needs `counters.template` or queries of the user's own.
 */
export const TRAFFIC_COUNTER_TEMPLATES: Readonly<Partial<Record<string, CounterTemplateKey>>> = { istio: 'istio', 'gateway-api': 'contour' };

/** What an analysis says about its counters, as validated (every field optional). */
export interface CountersSpec {
  /** The built-in template set the queries not given here come from; default: the traffic provider's. */
  template?: CounterTemplateKey;
  /** The user's own PromQL for the request counter, replacing the template's. */
  requests?: string;
  /** The same for the 5xx counter. */
  errors?: string;
  /** The same for the latency buckets (milliseconds, by workload and `le`). */
  latencyBuckets?: string;
  /** The label the user's queries group by; default: the template's. */
  workloadLabel?: string;
}

/** A problem in a `counters` section; `path` is relative to it. */
export interface CountersProblem {
  /** The field, e.g. ['latencyBuckets']. */
  path: string[];
  /** What is wrong and how to fix it. */
  message: string;
}

/** Thrown when counter queries cannot be chosen or rendered: no template for the provider, a bad name or placeholder. */
export class CounterQueryError extends Error {
  override name = 'CounterQueryError';
}

/** A Prometheus label name. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The label lists of every `by (…)` clause in a query. */
function groupings(query: string): string[][] {
  return [...query.matchAll(/\bby\s*\(([^()]*)\)/g)].map((m) => m[1]!.split(',').map((l) => l.trim()).filter((l) => l !== ''));
}

/**
 * What is wrong with one counter query template, for the field `name`: placeholders other than
 * {{ namespace }} and {{ workloads }}, no {{ workloads }} selection, or no `by (…)` grouping that
 * keeps the workload label (and `le` for the buckets).
 */
export function counterQueryProblems(name: CounterQueryName, query: string, workloadLabel: string): string[] {
  const problems: string[] = [];
  const { names, malformed } = templateVariables(query);
  if (malformed.length > 0) problems.push(`has malformed placeholder${malformed.length === 1 ? '' : 's'} ${malformed.join(', ')}: write {{ namespace }} or {{ workloads }}`);
  const unknown = names.filter((n) => !(COUNTER_VARIABLES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    problems.push(`uses ${unknown.map((n) => `{{ ${n} }}`).join(', ')}; a counter query knows only {{ namespace }} (the rollout's namespace) and {{ workloads }} (a regex of the canary's and the baseline's names)`);
  }
  if (!names.includes('workloads')) {
    problems.push(`must select the canary and the baseline with {{ workloads }}, e.g. ${workloadLabel}=~"{{ workloads }}"`);
  }
  const needed = name === 'latencyBuckets' ? [workloadLabel, 'le'] : [workloadLabel];
  if (!groupings(query).some((labels) => needed.every((l) => labels.includes(l)))) {
    problems.push(`must answer one series per workload${name === 'latencyBuckets' ? ' and bucket' : ''}: aggregate with by (${needed.join(', ')}), e.g. sum by (${needed.join(', ')}) (…)`);
  }
  return problems;
}

/**
 * Checks a `counters` section on its own: every rule that does not depend on the rollout's traffic
 * provider. Queries given without `template` must be all three, with `workloadLabel`; queries not
 * given come from `template` and group by its label, so a different `workloadLabel` needs all three.
 */
export function checkCounters(spec: CountersSpec): CountersProblem[] {
  const problems: CountersProblem[] = [];
  const own = COUNTER_QUERIES.filter((q) => spec[q] !== undefined);
  const missing = COUNTER_QUERIES.filter((q) => spec[q] === undefined);
  const base = spec.template !== undefined ? COUNTER_TEMPLATES[spec.template] : undefined;

  if (spec.workloadLabel !== undefined && !LABEL_NAME.test(spec.workloadLabel)) {
    problems.push({ path: ['workloadLabel'], message: `must be a Prometheus label name (letters, digits and _, not starting with a digit), got ${JSON.stringify(spec.workloadLabel)}` });
    return problems;
  }
  if (own.length === 0) {
    if (spec.workloadLabel !== undefined) {
      problems.push({ path: ['workloadLabel'], message: 'names the label your own requests, errors and latencyBuckets queries group by; give them, or drop workloadLabel to use the template\'s' });
    }
    return problems;
  }
  if (base === undefined && missing.length > 0) {
    problems.push({
      path: ['template'],
      message: `give the template that ${missing.join(' and ')} ${missing.length === 1 ? 'comes' : 'come'} from (${COUNTER_TEMPLATE_KEYS.join(', ')}), or give ${missing.join(' and ')} too`,
    });
  }
  const label = spec.workloadLabel ?? base?.workloadLabel;
  if (label === undefined) {
    problems.push({ path: ['workloadLabel'], message: 'give the label your queries group by and whose value is the workload\'s name, e.g. workloadLabel: workload' });
    return problems;
  }
  if (base !== undefined && label !== base.workloadLabel && missing.length > 0) {
    problems.push({
      path: ['workloadLabel'],
      message: `the ${spec.template} template's ${missing.join(' and ')} group by ${base.workloadLabel}, not ${label}; give ${missing.join(' and ')} too, or drop workloadLabel`,
    });
  }
  for (const q of own) for (const message of counterQueryProblems(q, spec[q]!, label)) problems.push({ path: [q], message });
  return problems;
}

/**
 * The three query templates an analysis reads its counters with: its own queries, the rest from its
 * template or, without one, from the traffic provider's. Throws a CounterQueryError when the traffic
 * provider has no template and the analysis names none (a spec `checkCounters` accepts otherwise resolves).
 */
export function counterTemplatesFor(spec: CountersSpec | undefined, trafficProvider: string): CounterQueryTemplates {
  const key = spec?.template ?? (Object.hasOwn(TRAFFIC_COUNTER_TEMPLATES, trafficProvider) ? TRAFFIC_COUNTER_TEMPLATES[trafficProvider] : undefined);
  const base = key !== undefined ? COUNTER_TEMPLATES[key] : undefined;
  const own = (q: CounterQueryName) => spec?.[q] ?? base?.[q];
  const requests = own('requests');
  const errors = own('errors');
  const latencyBuckets = own('latencyBuckets');
  const workloadLabel = spec?.workloadLabel ?? base?.workloadLabel;
  if (requests === undefined || errors === undefined || latencyBuckets === undefined || workloadLabel === undefined) {
    throw new CounterQueryError(`traffic provider ${JSON.stringify(trafficProvider)} has no built-in counter queries: set the analysis' counters.template (${COUNTER_TEMPLATE_KEYS.join(', ')}) or give its requests, errors, latencyBuckets and workloadLabel`);
  }
  // The arms are what the named template's metrics count by; queries of the user's own without a
  // template name Deployments (`{{ workloads }}`). Absent means workloads, so Istio's input stays as it was.
  const arms = spec?.template !== undefined || spec?.requests === undefined || spec.errors === undefined || spec.latencyBuckets === undefined ? base?.arms : undefined;
  return { requests, errors, latencyBuckets, workloadLabel, ...(arms === undefined ? {} : { arms }) };
}

/**
 * What is wrong with reading an analysis' counters under a traffic spec: counters that count per
 * Service (`contour`) need service routing, which names the two Services. Undefined when nothing is.
 */
export function countersRoutingProblem(spec: CountersSpec | undefined, trafficProvider: string, routingMode: string): string | undefined {
  let arms: CounterArms | undefined;
  try {
    arms = counterTemplatesFor(spec, trafficProvider).arms;
  } catch (err) {
    if (err instanceof CounterQueryError) return err.message;
    throw err;
  }
  if (arms === 'services' && routingMode !== 'service') {
    return `the ${spec?.template ?? TRAFFIC_COUNTER_TEMPLATES[trafficProvider] ?? ''} counter queries count per Service, but spec.traffic.routing.mode is ${routingMode}: use routing.mode service (stableService, canaryService), or a template or queries that count per Deployment`;
  }
  return undefined;
}

/** The names the counters of the canary and the baseline are read by, for a template set's arms. */
export function armNames(arms: CounterArms | undefined, names: { canaryWorkload: string; baselineWorkload: string; canaryService?: string; stableService?: string }): { canary: string; baseline: string } {
  if (arms !== 'services') return { canary: names.canaryWorkload, baseline: names.baselineWorkload };
  if (names.canaryService === undefined || names.stableService === undefined) {
    throw new CounterQueryError('these counter queries count per Service (arms: services), but the traffic routing names no canary and stable Service: use routing.mode service, or counter queries that count per Deployment');
  }
  return { canary: names.canaryService, baseline: names.stableService };
}

/** Namespace and workload names are DNS labels: they cannot leave a quoted label value. */
const SAFE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Renders the three queries for `namespace` and `workloads`. Throws a CounterQueryError for a name
 * that is not a Kubernetes name or a template that does not render (see `counterQueryProblems`).
 */
export function renderCounterQueries(templates: CounterQueryTemplates, namespace: string, workloads: readonly string[]): CounterQueries {
  for (const v of [namespace, ...workloads]) {
    if (!SAFE.test(v)) throw new CounterQueryError(`cannot select the counters of ${JSON.stringify(v)}: namespace and workload must be Kubernetes names`);
  }
  if (!LABEL_NAME.test(templates.workloadLabel)) throw new CounterQueryError(`workload label ${JSON.stringify(templates.workloadLabel)} is not a Prometheus label name`);
  // A "." is the only regex character a Kubernetes name can hold; in a PromQL string its escape is "\\.".
  const values: Record<string, string> = { namespace, workloads: workloads.map((w) => w.replaceAll('.', '\\\\.')).join('|') };
  const render = (name: CounterQueryName): string => {
    const problems = counterQueryProblems(name, templates[name], templates.workloadLabel);
    if (problems.length > 0) throw new CounterQueryError(`counter query ${name} ${problems.join('; ')}`);
    return templates[name].replace(/\{\{([^{}]*)\}\}/g, (_whole, inner: string) => values[inner.trim()]!);
  };
  return { requests: render('requests'), errors: render('errors'), latencyBuckets: render('latencyBuckets') };
}

/** The answers to the three queries. */
export interface CounterAnswers {
  requests: Series[];
  errors: Series[];
  latencyBuckets: Series[];
}

/** Thrown when an answer cannot be counters (a negative or non-finite count, a bad `le`). */
export class CounterAnswerError extends Error {
  override name = 'CounterAnswerError';
}

function count(value: number, what: string): number {
  if (!Number.isFinite(value) || value < 0) throw new CounterAnswerError(`${what} is ${value}; a counter must be a finite number ≥ 0`);
  return value;
}

/**
 * One workload's counters from the three answers, its series picked by `workloadLabel`. The `+Inf`
 * bucket becomes the histogram's `count` (JSON, hence workflow history, has no Infinity); without
 * any bucket series the workload has no latency histogram.
 */
export function armCounters(answers: CounterAnswers, workload: string, workloadLabel: string): ArmCounters {
  const mine = (series: Series[]) => series.filter((s) => s.labels[workloadLabel] === workload);
  const one = (series: Series[], what: string) => {
    const own = mine(series);
    if (own.length > 1) throw new CounterAnswerError(`${what} of ${workload}: ${own.length} series where the query sums to one`);
    return own.length === 0 ? 0 : count(own[0]!.value, `${what} of ${workload}`);
  };
  const requests = one(answers.requests, 'requests');
  const errors = one(answers.errors, '5xx responses');
  const rows = mine(answers.latencyBuckets);
  if (rows.length === 0) return { requests, errors };

  const buckets: Histogram['buckets'] = [];
  let total: number | undefined;
  for (const row of rows) {
    const raw = row.labels.le;
    const n = count(row.value, `bucket le=${raw} of ${workload}`);
    if (raw === '+Inf') {
      total = n;
      continue;
    }
    const le = Number(raw);
    if (raw === undefined || !Number.isFinite(le)) throw new CounterAnswerError(`bucket of ${workload} has le=${JSON.stringify(raw)}; expected a number or +Inf`);
    buckets.push({ le, count: n });
  }
  buckets.sort((a, b) => a.le - b.le);
  // Without a +Inf bucket (a histogram cut by relabelling), the largest finite bucket is the best total there is.
  return { requests, errors, latency: { buckets, count: total ?? buckets.at(-1)?.count ?? 0 } };
}

/** The answers to the three queries asked as range queries. */
export interface CounterRangeAnswers {
  requests: RangeSeries[];
  errors: RangeSeries[];
  latencyBuckets: RangeSeries[];
}

/**
 * One workload's counters at each evaluation time of three range queries, oldest first: the
 * longest run of consecutive times, ending at the last one, at which the workload's request series
 * has a sample (earlier samples may belong to a workload that did not exist yet, or to a gap in
 * scraping; a step across a gap is not one batch). `times` are the query's evaluation times.
 */
export function armHistory(answers: CounterRangeAnswers, workload: string, times: number[], workloadLabel: string): ArmCounters[] {
  const at = (series: RangeSeries[], t: number): Series[] => series.flatMap((s) => {
    const p = s.points.find(([ts]) => Math.abs(ts - t) <= 1);
    return p ? [{ labels: s.labels, value: p[1] }] : [];
  });
  const mine = answers.requests.filter((s) => s.labels[workloadLabel] === workload);
  const present = (t: number) => mine.some((s) => s.points.some(([ts]) => Math.abs(ts - t) <= 1));
  let first = times.length;
  while (first > 0 && present(times[first - 1]!)) first--;
  return times.slice(first).map((t) => armCounters({
    requests: at(answers.requests, t), errors: at(answers.errors, t), latencyBuckets: at(answers.latencyBuckets, t),
  }, workload, workloadLabel));
}
