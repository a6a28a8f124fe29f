/**
 * Istio's standard metrics as the judges read them: the cumulative request, 5xx and duration
 * histogram counters of two workloads (the canary and its baseline), from three instant queries
 * that each cover both workloads. Pure: the queries are strings, the answers are turned into
 * `ArmCounters` here, and the activity only sends them.
 *
 * Counters are summed over the workload's pods. A pod that restarts resets its share, so the sum
 * can go down; the judges count a decrease as a reset (Prometheus' `increase` semantics). Like
 * Istio's own series, a workload that has served no request has no series: it reads as zero
 * requests, which the judges treat as "not enough data", never as a pass.
 */
import type { ArmCounters, Histogram } from './judge';

/** The label values that select one workload's server-side Istio series. */
export interface WorkloadSelector {
  namespace: string;
  /** `destination_workload`: the Deployment's name. */
  workload: string;
}

/** The three queries, each answering one series per workload (and per `le` for the buckets). */
export interface CounterQueries {
  requests: string;
  errors: string;
  buckets: string;
}

/** Namespace and workload names are DNS labels: they cannot leave a quoted label value. */
const SAFE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export class CounterQueryError extends Error {
  override name = 'CounterQueryError';
}

export function counterQueries(namespace: string, workloads: readonly string[]): CounterQueries {
  for (const v of [namespace, ...workloads]) {
    if (!SAFE.test(v)) throw new CounterQueryError(`cannot select Istio series of ${JSON.stringify(v)}: namespace and workload must be Kubernetes names`);
  }
  // A "." is the only regex character a Kubernetes name can hold; in a PromQL string its escape is "\\.".
  const alternatives = workloads.map((w) => w.replaceAll('.', '\\\\.')).join('|');
  const selector = `reporter="destination",destination_workload_namespace="${namespace}",destination_workload=~"${alternatives}"`;
  return {
    requests: `sum by (destination_workload) (istio_requests_total{${selector}})`,
    errors: `sum by (destination_workload) (istio_requests_total{${selector},response_code=~"5.."})`,
    buckets: `sum by (destination_workload, le) (istio_request_duration_milliseconds_bucket{${selector}})`,
  };
}

/** One series of an instant vector, as the metrics provider returns it. */
export interface LabelledValue {
  labels: Record<string, string>;
  value: number;
}

/** The answers to the three queries. */
export interface CounterAnswers {
  requests: LabelledValue[];
  errors: LabelledValue[];
  buckets: LabelledValue[];
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
 * One workload's counters from the three answers. The `+Inf` bucket becomes the histogram's
 * `count` (JSON, hence workflow history, has no Infinity); without any bucket series the workload
 * has no latency histogram.
 */
export function armCounters(answers: CounterAnswers, workload: string): ArmCounters {
  const mine = (series: LabelledValue[]) => series.filter((s) => s.labels.destination_workload === workload);
  const one = (series: LabelledValue[], what: string) => {
    const own = mine(series);
    if (own.length > 1) throw new CounterAnswerError(`${what} of ${workload}: ${own.length} series where the query sums to one`);
    return own.length === 0 ? 0 : count(own[0]!.value, `${what} of ${workload}`);
  };
  const requests = one(answers.requests, 'requests');
  const errors = one(answers.errors, '5xx responses');
  const rows = mine(answers.buckets);
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

/** One series of a range query: its labels and its samples, [epoch ms, value], oldest first. */
export interface LabelledPoints {
  labels: Record<string, string>;
  points: [number, number][];
}

/** The answers to the three queries asked as range queries. */
export interface CounterRangeAnswers {
  requests: LabelledPoints[];
  errors: LabelledPoints[];
  buckets: LabelledPoints[];
}

/**
 * One workload's counters at each evaluation time of three range queries, oldest first: the
 * longest run of consecutive times, ending at the last one, at which the workload's request series
 * has a sample (earlier samples may belong to a workload that did not exist yet, or to a gap in
 * scraping; a step across a gap is not one batch). `times` are the query's evaluation times.
 */
export function armHistory(answers: CounterRangeAnswers, workload: string, times: number[]): ArmCounters[] {
  const at = (series: LabelledPoints[], t: number): LabelledValue[] => series.flatMap((s) => {
    const p = s.points.find(([ts]) => Math.abs(ts - t) <= 1);
    return p ? [{ labels: s.labels, value: p[1] }] : [];
  });
  const mine = answers.requests.filter((s) => s.labels.destination_workload === workload);
  const present = (t: number) => mine.some((s) => s.points.some(([ts]) => Math.abs(ts - t) <= 1));
  let first = times.length;
  while (first > 0 && present(times[first - 1]!)) first--;
  return times.slice(first).map((t) => armCounters({ requests: at(answers.requests, t), errors: at(answers.errors, t), buckets: at(answers.buckets, t) }, workload));
}
