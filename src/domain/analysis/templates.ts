/**
 * Query templates: the built-in queries of each traffic provider's metrics (Istio's and Contour's,
 * PromQL parity with Flagger's observers) and the `{{ name }}` substitution every metric query
 * goes through. Pure: the activity renders, spec validation checks the same templates before a
 * rollout starts.
 */
import type { AnalysisSpec, BuiltinMetric, MetricSpec } from '../spec/analysis';

/** The label selector every built-in query shares: server-side Istio metrics of the canary workload. */
const ISTIO_CANARY_SELECTOR =
  'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"';

/**
 * Built-in queries keyed by metric name. Both aggregate with `sum` so they answer one series (or
 * none when the workload got no traffic, which evaluates as "no data", never as a pass).
 */
export const BUILTIN_QUERIES: Readonly<Record<BuiltinMetric, string>> = {
  // Share of requests that did not answer 5xx, in percent (0–100).
  'request-success-rate': [
    `sum(rate(istio_requests_total{${ISTIO_CANARY_SELECTOR},response_code!~"5.*"}[{{ interval }}]))`,
    `/ sum(rate(istio_requests_total{${ISTIO_CANARY_SELECTOR}}[{{ interval }}]))`,
    '* 100',
  ].join('\n'),
  // 99th percentile request duration in milliseconds.
  'request-duration': [
    'histogram_quantile(0.99,',
    `  sum(rate(istio_request_duration_milliseconds_bucket{${ISTIO_CANARY_SELECTOR}}[{{ interval }}])) by (le)`,
    ')',
  ].join('\n'),
};

/** The canary's Contour cluster stats: `envoy_cluster_name` is `<namespace>_<service>_<port>`, `{{ target }}` the canary Service. */
const CONTOUR_CANARY_SELECTOR = 'envoy_cluster_name=~"{{ namespace }}_{{ target }}_[0-9]+"';

/**
 * Built-in queries over Envoy's cluster stats as Contour serves them (Flagger's Contour observer
 * reads the same series), for a Gateway API router: the canary is its Service. Requests are the sum
 * over response codes, as Flagger counts them.
 */
export const CONTOUR_BUILTIN_QUERIES: Readonly<Record<BuiltinMetric, string>> = {
  'request-success-rate': [
    `sum(rate(envoy_cluster_upstream_rq{${CONTOUR_CANARY_SELECTOR},envoy_response_code!~"5.*"}[{{ interval }}]))`,
    `/ sum(rate(envoy_cluster_upstream_rq{${CONTOUR_CANARY_SELECTOR}}[{{ interval }}]))`,
    '* 100',
  ].join('\n'),
  'request-duration': [
    'histogram_quantile(0.99,',
    `  sum(rate(envoy_cluster_upstream_rq_time_bucket{${CONTOUR_CANARY_SELECTOR}}[{{ interval }}])) by (le)`,
    ')',
  ].join('\n'),
};

/** A set of built-in metric queries and what `{{ target }}` names in them. */
export interface BuiltinQuerySet {
  queries: Readonly<Record<BuiltinMetric, string>>;
  /** `workloads`: the canary Deployment; `services`: the canary Service. */
  target: 'workloads' | 'services';
}

/** The built-in metric queries by traffic provider; a provider without an entry reads Istio's. */
export const TRAFFIC_BUILTIN_QUERIES: Readonly<Record<string, BuiltinQuerySet>> = {
  istio: { queries: BUILTIN_QUERIES, target: 'workloads' },
  'gateway-api': { queries: CONTOUR_BUILTIN_QUERIES, target: 'services' },
};

/** The built-in query set of a traffic provider (Istio's for one without its own). */
export function builtinQueriesFor(trafficProvider: string): BuiltinQuerySet {
  return Object.hasOwn(TRAFFIC_BUILTIN_QUERIES, trafficProvider) ? TRAFFIC_BUILTIN_QUERIES[trafficProvider]! : TRAFFIC_BUILTIN_QUERIES.istio!;
}

/**
 * The analysis with each built-in metric's query written out from the provider's set, so the
 * activity renders exactly what the workflow chose. Istio's analyses are returned as they are:
 * the activity's default is Istio's set, and their inputs stay what they always were.
 */
export function withBuiltinQueries<A extends Pick<AnalysisSpec, 'metrics'>>(analysis: A, trafficProvider: string): A {
  const set = builtinQueriesFor(trafficProvider);
  if (set.queries === BUILTIN_QUERIES || !analysis.metrics.some((m) => m.query === undefined)) return analysis;
  return { ...analysis, metrics: analysis.metrics.map((m) => (m.query === undefined ? { ...m, query: queryTemplateFor(m, set.queries) } : m)) };
}

/** Variables Ramp itself provides to every query; a metric's `vars` may not redefine them. */
export const RAMP_VARIABLES = ['namespace', 'target', 'interval'] as const;

/**
 * What a variable's value may contain. Values are inserted verbatim, and without quotes, braces,
 * commas, spaces or operators a value cannot leave the label value (or range) it is placed in.
 */
export const VARIABLE_VALUE_PATTERN = /^[A-Za-z0-9_.:/-]*$/;

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

/** Thrown when a query template cannot be rendered: unknown variables, malformed placeholders or unsafe values. */
export class TemplateError extends Error {
  override name = 'TemplateError';

  constructor(
    message: string,
    /** The metric whose query failed to render, when known. */
    readonly metric: string | undefined,
    /** Variables the template uses but nobody defined. */
    readonly missing: string[],
    /** Placeholders whose content is not a variable name, e.g. `{{ a b }}`. */
    readonly malformed: string[],
    /** Variables whose value may not be inserted into PromQL. */
    readonly unsafe: string[],
  ) {
    super(message);
  }
}

/** The query template of a metric: its own `query`, or the built-in one for its name (from `builtins`, default Istio's). */
export function queryTemplateFor(metric: Pick<MetricSpec, 'name' | 'query'>, builtins: Readonly<Record<BuiltinMetric, string>> = BUILTIN_QUERIES): string {
  if (metric.query !== undefined) return metric.query;
  const builtin = Object.hasOwn(builtins, metric.name) ? (builtins as Readonly<Record<string, string>>)[metric.name] : undefined;
  if (builtin === undefined) {
    throw new TemplateError(
      `metric ${JSON.stringify(metric.name)} has no query and is not a built-in (${Object.keys(builtins).join(', ')}); give it a PromQL query`,
      metric.name, [], [], []);
  }
  return builtin;
}

/** The variable names a template uses, in order of first use, and the placeholders that name no variable. */
export function templateVariables(template: string): { names: string[]; malformed: string[] } {
  const names: string[] = [];
  const malformed: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1]!.trim();
    if (!VARIABLE_NAME.test(name)) {
      if (!malformed.includes(m[0])) malformed.push(m[0]);
    } else if (!names.includes(name)) {
      names.push(name);
    }
  }
  // A "{{" or "}}" left over after taking out whole placeholders is an unclosed one.
  const rest = template.replace(PLACEHOLDER, '');
  const stray = /\{\{|\}\}/.exec(rest);
  if (stray) malformed.push(`${stray[0]} (unbalanced)`);
  return { names, malformed };
}

/** Prometheus duration for a range selector: whole seconds as `60s`, anything finer in `ms`. */
export function promDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}

const quoteList = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(', ');
const placeholders = (xs: string[]) => xs.map((x) => `{{ ${x} }}`).join(', ');

function missingMessage(subject: string, missing: string[], defined: string[]): string {
  const one = missing.length === 1;
  return `${subject} uses ${placeholders(missing)} but no variable${one ? '' : 's'} ${quoteList(missing)} ${one ? 'is' : 'are'} defined; `
    + `defined: ${defined.length > 0 ? defined.join(', ') : '(none)'} (add ${one ? 'it' : 'them'} to the metric's vars or fix the query)`;
}

function unsafeMessage(subject: string, unsafe: { name: string; value: string }[]): string {
  const list = unsafe.map((u) => `${u.name}=${JSON.stringify(u.value)}`).join(', ');
  return `${subject} cannot use variable${unsafe.length === 1 ? '' : 's'} ${list}: values may only contain letters, digits and _ . : / - `
    + '(they are inserted into PromQL verbatim; put quotes and operators in the query itself)';
}

/**
 * Substitutes every `{{ name }}` (spaces inside the braces optional) in `template` with
 * `vars[name]`. Throws a TemplateError naming every missing variable, every malformed
 * placeholder and every used value outside VARIABLE_VALUE_PATTERN.
 */
export function renderQuery(template: string, vars: Readonly<Record<string, string>>, metric?: string): string {
  const subject = metric === undefined ? 'query' : `query for metric ${JSON.stringify(metric)}`;
  const { names, malformed } = templateVariables(template);
  if (malformed.length > 0) {
    throw new TemplateError(
      `${subject} has malformed placeholder${malformed.length === 1 ? '' : 's'} ${malformed.join(', ')}: write variables as {{ name }} with a letter or _ first, then letters, digits or _`,
      metric, [], malformed, []);
  }
  const missing = names.filter((n) => !Object.hasOwn(vars, n));
  if (missing.length > 0) throw new TemplateError(missingMessage(subject, missing, Object.keys(vars)), metric, missing, [], []);
  const unsafe = names.filter((n) => !VARIABLE_VALUE_PATTERN.test(vars[n]!)).map((n) => ({ name: n, value: vars[n]! }));
  if (unsafe.length > 0) throw new TemplateError(unsafeMessage(subject, unsafe), metric, [], [], unsafe.map((u) => u.name));
  return template.replace(PLACEHOLDER, (_whole, inner: string) => vars[inner.trim()]!);
}

/** A problem in an analysis found before the rollout starts; `path` is relative to the analysis. */
export interface TemplateProblem {
  /** Where, e.g. ['metrics', 0, 'query']. */
  path: (string | number)[];
  /** The metric concerned. */
  metric: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/**
 * Checks every metric's query against the variables that will exist when it runs: `knownVars`
 * (what Ramp provides, e.g. namespace and target), `interval` and the metric's own vars. Also
 * rejects unsafe var values, vars that shadow Ramp's, and duplicate metric names (measurements
 * are matched to metrics by name).
 */
export function checkTemplates(analysis: Pick<AnalysisSpec, 'metrics'>, knownVars: readonly string[]): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const provided = [...new Set([...knownVars, 'interval'])];
  const seen = new Set<string>();
  analysis.metrics.forEach((metric, i) => {
    const at = (...rest: (string | number)[]) => ['metrics', i, ...rest];
    if (seen.has(metric.name)) {
      problems.push({ path: at('name'), metric: metric.name, message: `metric name ${JSON.stringify(metric.name)} is used twice in this analysis; give each metric a unique name` });
    }
    seen.add(metric.name);

    const varNames = Object.keys(metric.vars);
    for (const name of varNames) {
      if (provided.includes(name)) {
        problems.push({ path: at('vars', name), metric: metric.name, message: `var ${JSON.stringify(name)} is provided by Ramp and cannot be redefined; rename it` });
      }
      const value = metric.vars[name]!;
      if (!VARIABLE_VALUE_PATTERN.test(value)) {
        problems.push({ path: at('vars', name), metric: metric.name, message: unsafeMessage(`metric ${JSON.stringify(metric.name)}`, [{ name, value }]) });
      }
    }

    let template: string;
    try {
      template = queryTemplateFor(metric);
    } catch (err) {
      problems.push({ path: at('name'), metric: metric.name, message: (err as Error).message });
      return;
    }
    const { names, malformed } = templateVariables(template);
    const subject = `query for metric ${JSON.stringify(metric.name)}`;
    if (malformed.length > 0) {
      problems.push({ path: at('query'), metric: metric.name, message: `${subject} has malformed placeholder${malformed.length === 1 ? '' : 's'} ${malformed.join(', ')}: write variables as {{ name }}` });
    }
    const defined = [...provided, ...varNames.filter((n) => !provided.includes(n))];
    const missing = names.filter((n) => !defined.includes(n));
    if (missing.length > 0) problems.push({ path: at('query'), metric: metric.name, message: missingMessage(subject, missing, defined) });
  });
  return problems;
}
