/**
 * Startup checks (src/worker/startup.ts) and the Prometheus error types (provider-errors.ts),
 * against closed loopback ports and missing files: each failure is one line naming its setting.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import axios from 'axios';
import { createPrometheusProvider, PrometheusError } from '../../../src/activities/metrics/prometheus';
import { loadWorkerConfig } from '../../../src/worker/config';
import { RampMetrics } from '../../../src/worker/metrics';
import { countProviderErrors, prometheusErrorType } from '../../../src/worker/provider-errors';
import { checkKubernetes, checkPrometheus, connectTemporal, StartupError, temporalErrorGist, temporalStartupError } from '../../../src/worker/startup';
import { observedVerdict } from '../../../src/workflows/observe';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function failure(p: Promise<unknown>): Promise<StartupError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StartupError);
  expect((err as Error).message).not.toContain('\n');
  return err as StartupError;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-startup-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('startup checks', () => {
  it('Temporal on a closed port: TEMPORAL_ADDRESS, with the reason from the transport error', async () => {
    const port = await closedPort();
    const err = await failure(connectTemporal(loadWorkerConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` })));
    expect(err.setting).toBe('TEMPORAL_ADDRESS');
    expect(err.message).toBe(`TEMPORAL_ADDRESS=127.0.0.1:${port}: cannot reach Temporal (Connection refused); set TEMPORAL_ADDRESS to the host:port of your Temporal frontend`);
  });

  it("Temporal's own answers: an unknown namespace names TEMPORAL_NAMESPACE, refused credentials the credential setting", () => {
    const raw = 'Namespace nope was not found or otherwise could not be described: Status { code: NotFound, message: "Namespace nope is not found.", details: b"..." }';
    expect(temporalErrorGist(new Error(raw))).toEqual({ code: 'NotFound', message: 'Namespace nope is not found.' });
    const dns = 'tonic::transport::Error(Transport, ConnectError(ConnectError("dns error", Custom { kind: Uncategorized, error: "failed to lookup address information: Name or service not known" })))';
    expect(temporalErrorGist(new Error(dns))).toEqual({ message: 'failed to lookup address information: Name or service not known' });
    const cfg = loadWorkerConfig({ TEMPORAL_NAMESPACE: 'nope' });
    expect(temporalStartupError(cfg, new Error(raw)).setting).toBe('TEMPORAL_NAMESPACE');
    const denied = new Error('Status { code: Unauthenticated, message: "Request unauthorized." }');
    expect(temporalStartupError({ ...cfg, TEMPORAL_API_KEY: 'k' }, denied).setting).toBe('TEMPORAL_API_KEY');
    expect(temporalStartupError(cfg, denied).message).toMatch(/^TEMPORAL_TLS_CLIENT_CERT_PATH: Temporal at localhost:7233 refused the worker's credentials \(Unauthenticated: Request unauthorized.\)/);
  });

  it('a kubeconfig that does not exist: KUBECONFIG', async () => {
    const err = await failure(checkKubernetes({ KUBECONFIG: path.join(tmp, 'missing') }, {}));
    expect(err.setting).toBe('KUBECONFIG');
    expect(err.message).toBe(`KUBECONFIG=${path.join(tmp, 'missing')}: file not found; point KUBECONFIG at a kubeconfig file, or unset it to use the in-cluster ServiceAccount`);
  });

  it('a kubeconfig whose API server does not answer: KUBECONFIG, naming the server', async () => {
    const port = await closedPort();
    const file = path.join(tmp, 'closed.kubeconfig');
    fs.writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: c',
      'clusters: [{name: k, cluster: {server: "https://127.0.0.1:' + port + '", insecure-skip-tls-verify: true}}]',
      'users: [{name: u, user: {token: x}}]', 'contexts: [{name: c, context: {cluster: k, user: u}}]', '',
    ].join('\n'));
    const err = await failure(checkKubernetes({ KUBECONFIG: file }, {}));
    expect(err.setting).toBe('KUBECONFIG');
    expect(err.message).toMatch(new RegExp(`^KUBECONFIG=${file}: cannot reach the Kubernetes API server at https://127.0.0.1:${port} \\(.*ECONNREFUSED.*\\); point KUBECONFIG at a kubeconfig for a running cluster$`));
  });

  it('Prometheus on a closed port: RAMP_PROMETHEUS_URL; an unreadable credentials file: its own setting', async () => {
    const port = await closedPort();
    const err = await failure(checkPrometheus(loadWorkerConfig({ RAMP_PROMETHEUS_URL: `http://127.0.0.1:${port}` }), axios.create()));
    expect(err.setting).toBe('RAMP_PROMETHEUS_URL');
    expect(err.message).toBe(`RAMP_PROMETHEUS_URL=http://127.0.0.1:${port}: cannot reach Prometheus (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port}); set RAMP_PROMETHEUS_URL to the base URL of your Prometheus (or Thanos, Mimir) query API`);
    const creds = await failure(checkPrometheus(loadWorkerConfig({ RAMP_PROMETHEUS_BEARER_TOKEN_FILE: path.join(tmp, 'no-token') }), axios.create()));
    expect(creds.setting).toBe('RAMP_PROMETHEUS_BEARER_TOKEN_FILE');
  });
});

describe('Prometheus error types', () => {
  it('a backend that does not answer is `unreachable`, and the counting provider counts it', async () => {
    const metrics = new RampMetrics();
    const provider = createPrometheusProvider({ http: axios.create(), url: `http://127.0.0.1:${await closedPort()}` });
    const err = await provider.query('up').then(() => undefined, (e: unknown) => e);
    expect(prometheusErrorType(err)).toBe('unreachable');
    const counted = countProviderErrors(new Map([['prometheus', provider]]), metrics).get('prometheus')!;
    await expect(counted.queryVector('up')).rejects.toThrow(/cannot reach Prometheus/);
    await expect(counted.queryRange('up', { start: 2, end: 1, stepMs: 1000 })).rejects.toThrow(/need start ≤ end/);
    const body = (await metrics.exposition()).body;
    expect(body).toContain('ramp_prometheus_errors_total{type="unreachable"} 1');
    expect(body).toContain('ramp_prometheus_errors_total{type="bad_response"} 1');
  });

  it("Prometheus' errorType when it gives one (unknown ones are `other`), `http` for a bare HTTP error", () => {
    const e = (errorType?: string, httpStatus?: number) => new PrometheusError('m', 'u', 'q', errorType, httpStatus);
    expect(prometheusErrorType(e('bad_data', 400))).toBe('bad_data');
    expect(prometheusErrorType(e('execution', 422))).toBe('execution');
    expect(prometheusErrorType(e('something_new', 500))).toBe('other');
    expect(prometheusErrorType(e(undefined, 502))).toBe('http');
    expect(prometheusErrorType(new Error('x'))).toBe('other');
  });
});

describe('verdict labels', () => {
  const v = (phase: string, judge?: { kind: 'sequential' | 'threshold'; verdict: 'continue' | 'rollback' | 'promote' | 'error' }) =>
    ({ at: '2026-01-01T00:00:00Z', phase, reason: '', measurements: [], source: 'step' as const, ...(judge ? { judge } : {}) });
  it.each([
    ['sequential continue', 'sequential', 'continue', v('Running', { kind: 'sequential', verdict: 'continue' })],
    ['sequential error look', 'sequential', 'error', v('Running', { kind: 'sequential', verdict: 'error' })],
    ['threshold rollback', 'threshold', 'rollback', v('Failed', { kind: 'threshold', verdict: 'rollback' })],
    ['judged, ended Inconclusive', 'sequential', 'inconclusive', v('Inconclusive', { kind: 'sequential', verdict: 'continue' })],
    ['metrics Running', 'metrics', 'continue', v('Running')],
    ['metrics Successful', 'metrics', 'promote', v('Successful')],
    ['metrics Failed', 'metrics', 'rollback', v('Failed')],
    ['metrics Error', 'metrics', 'error', v('Error')],
    ['metrics Inconclusive', 'metrics', 'inconclusive', v('Inconclusive')],
  ])('%s → judge %s, decision %s', (_label, judge, decision, verdict) => {
    expect(observedVerdict(verdict)).toEqual({ judge, decision });
  });
});
