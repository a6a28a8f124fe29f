/**
 * The Prometheus metrics provider: instant and range queries over the HTTP API (`/api/v1/query`,
 * `/api/v1/query_range`), answers turned into typed results. Credentials come from the worker's configuration through this
 * constructor only; workflow inputs never carry them.
 */
import { isAxiosError, type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import type { QueryResult, RangeSeries, Series } from '../../domain/analysis/query-result';
import type { MetricsProvider, QueryOptions, RangeOptions } from './provider';

export interface PrometheusOptions {
  /** The HTTP client (injected so the worker shares one, with its proxy and TLS settings). */
  http: AxiosInstance;
  /** Base URL, e.g. http://prometheus:9090 (a path prefix such as /prometheus is kept). */
  url: string;
  /** Per-request timeout, ms; also sent to Prometheus as the query's evaluation timeout. Default 10 s. */
  timeoutMs?: number;
  /** How to authenticate; bearerToken wins when both are set. */
  auth?: { bearerToken?: string; basicAuth?: { username: string; password: string } };
}

/** Thrown when Prometheus cannot be reached, rejects a query, or answers something unusable. */
export class PrometheusError extends Error {
  override name = 'PrometheusError';

  constructor(
    message: string,
    /** The endpoint called (without credentials). */
    readonly url: string,
    /** The PromQL sent. */
    readonly query: string,
    /** Prometheus' errorType (bad_data, execution, timeout, …), when it gave one. */
    readonly errorType?: string,
    /** The HTTP status, when there was a response. */
    readonly httpStatus?: number,
    /** The transport error, when Prometheus could not be reached (the worker counts these apart). */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

interface ApiResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: unknown };
  errorType?: string;
  error?: string;
}

type Sample = [number, string];

/** Strips user:password@ so error messages and logs never show credentials. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function sampleValue(sample: Sample, what: string): QueryResult {
  const raw = sample[1];
  const value = Number(raw);
  // Prometheus writes NaN and ±Inf as strings ("NaN", "+Inf"); a rate over no traffic is NaN.
  if (!Number.isFinite(value)) return { kind: 'noData', detail: `${what} is ${raw}` };
  return { kind: 'value', value };
}

/** A MetricsProvider for a Prometheus server (or anything speaking its query API: Thanos, Mimir, VictoriaMetrics). */
export function createPrometheusProvider(opts: PrometheusOptions): MetricsProvider {
  const base = opts.url.replace(/\/+$/, '');
  const shownBase = redact(base);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const headers: Record<string, string> = {};
  if (opts.auth?.bearerToken) headers.Authorization = `Bearer ${opts.auth.bearerToken}`;
  const request: AxiosRequestConfig = {
    timeout: timeoutMs,
    headers,
    auth: !opts.auth?.bearerToken && opts.auth?.basicAuth ? { ...opts.auth.basicAuth } : undefined,
    // Statuses are judged below, so that Prometheus' own error body is read rather than lost.
    validateStatus: () => true,
  };

  const fail = (query: string, method: string, endpoint: string, why: string, errorType?: string, httpStatus?: number, cause?: unknown): PrometheusError =>
    new PrometheusError(`Prometheus query failed: ${method} ${shownBase}/api/v1/${endpoint}: ${why}; query: ${query}`, `${shownBase}/api/v1/${endpoint}`, query, errorType, httpStatus, cause);

  /** Sends a query to an API endpoint and returns its `data`, or throws a PrometheusError. */
  async function call(endpoint: 'query' | 'query_range', query: string, extra: Record<string, string>): Promise<{ resultType: string; result: unknown; method: string }> {
    const url = `${base}/api/v1/${endpoint}`;
    const params = new URLSearchParams({ query, timeout: `${Math.max(1, Math.ceil(timeoutMs / 1000))}s`, ...extra });
    let method = 'POST';
    let res: AxiosResponse<unknown>;
    try {
      // POST keeps long queries out of the URL; some read-only proxies only allow GET, so a
      // 405 or 501 falls back to it (as Prometheus' own Go client does).
      res = await opts.http.post<unknown>(url, params.toString(), {
        ...request,
        headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      if (res.status === 405 || res.status === 501) {
        method = 'GET';
        res = await opts.http.get<unknown>(url, { ...request, params });
      }
    } catch (err) {
      const why = isAxiosError(err) ? `${err.code ?? 'request failed'}: ${err.message}` : String(err);
      throw fail(query, method, endpoint, `cannot reach Prometheus (${why})`, undefined, undefined, err);
    }
    const body = (typeof res.data === 'object' && res.data !== null ? res.data : {}) as Partial<ApiResponse>;
    if (body.status === 'error') {
      throw fail(query, method, endpoint, `HTTP ${res.status} ${body.errorType ?? 'error'}: ${body.error ?? '(no message)'}`, body.errorType, res.status);
    }
    if (res.status < 200 || res.status >= 300 || body.status !== 'success' || body.data === undefined) {
      const text = typeof res.data === 'string' ? res.data.slice(0, 300) : JSON.stringify(res.data)?.slice(0, 300);
      throw fail(query, method, endpoint, `HTTP ${res.status} without a Prometheus success response: ${text ?? '(empty body)'}`, undefined, res.status);
    }
    return { resultType: body.data.resultType, result: body.data.result, method };
  }

  /** Prometheus takes times as (fractional) Unix seconds. */
  const at = (o?: QueryOptions): Record<string, string> => (o?.time === undefined ? {} : { time: String(o.time / 1000) });

  return {
    async query(query: string, o?: QueryOptions): Promise<QueryResult> {
      const { resultType, result, method } = await call('query', query, at(o));
      switch (resultType) {
        case 'vector': {
          const series = result as { metric: Record<string, string>; value: Sample }[];
          if (series.length === 0) return { kind: 'noData', detail: 'the query matched no series' };
          if (series.length > 1) return { kind: 'manySeries', count: series.length };
          return sampleValue(series[0]!.value, 'the only sample');
        }
        case 'scalar':
          return sampleValue(result as Sample, 'the scalar result');
        default:
          throw fail(query, method, 'query', `the query returned a ${resultType}; metrics need an instant vector or a scalar (drop range selectors that are not inside a function such as rate())`);
      }
    },

    async queryVector(query: string, o?: QueryOptions): Promise<Series[]> {
      const { resultType, result, method } = await call('query', query, at(o));
      if (resultType === 'scalar') return [{ labels: {}, value: Number((result as Sample)[1]) }];
      if (resultType !== 'vector') throw fail(query, method, 'query', `the query returned a ${resultType} where an instant vector was expected`);
      return (result as { metric: Record<string, string>; value: Sample }[]).map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },

    async queryRange(query: string, o: RangeOptions): Promise<RangeSeries[]> {
      if (!(o.end >= o.start) || !(o.stepMs > 0)) {
        throw new PrometheusError(
          `Prometheus range query: need start ≤ end and a positive step, got start ${o.start}, end ${o.end}, step ${o.stepMs} ms; query: ${query}`,
          `${shownBase}/api/v1/query_range`, query);
      }
      const { resultType, result, method } = await call('query_range', query, { start: String(o.start / 1000), end: String(o.end / 1000), step: String(o.stepMs / 1000) });
      if (resultType !== 'matrix') throw fail(query, method, 'query_range', `the range query returned a ${resultType} where a matrix was expected`);
      return (result as { metric: Record<string, string>; values: Sample[] }[]).map((r) => ({
        labels: r.metric,
        points: r.values.map(([t, v]): [number, number] => [Math.round(t * 1000), Number(v)]),
      }));
    },

    async isOnline(): Promise<boolean> {
      try {
        const res = await opts.http.get(`${base}/-/ready`, request);
        return res.status === 200;
      } catch {
        return false;
      }
    },
  };
}
