/**
 * The worker's HTTP endpoint (src/worker/http.ts), served for real on a free loopback port:
 * liveness, readiness with its reason, Ramp's metrics, and a taken port named by its setting.
 */
import * as net from 'node:net';
import { StartupError } from '../../../src/worker/errors';
import { startHttpServer, type RampHttpServer, type Readiness } from '../../../src/worker/http';
import { RampMetrics } from '../../../src/worker/metrics';

let readiness: Readiness = { ready: false, reason: 'starting: not connected to Temporal at 127.0.0.1:7233 yet' };
const metrics = new RampMetrics();
let server: RampHttpServer;

beforeAll(async () => {
  server = await startHttpServer('127.0.0.1:0', { readiness: () => Promise.resolve(readiness), metrics: () => metrics.exposition() });
});
afterAll(async () => {
  await server?.close();
});

const get = async (path: string) => {
  const res = await fetch(`http://${server.address}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
};

describe('worker HTTP endpoint', () => {
  it('listens on the port it was given, or a free one for 0', () => {
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.address).not.toBe('127.0.0.1:0');
  });

  it('/healthz is 200 while the process runs, ready or not', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
  });

  it('/readyz is 503 with the reason on one line until ready, then 200', async () => {
    readiness = { ready: false, reason: 'worker is INITIALIZED,\n  not polling' };
    expect(await get('/readyz')).toMatchObject({ status: 503, body: 'worker is INITIALIZED, not polling\n' });
    readiness = { ready: true };
    expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
  });

  it("/metrics is Ramp's metrics in the Prometheus text format", async () => {
    metrics.setRollout({ namespace: 'shop', name: 'web', phase: 'Paused', phaseSince: 1_700_000_000, step: 1, canaryWeight: 20 });
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('ramp_rollout_canary_weight_percent{namespace="shop",name="web"} 20');
    expect(res.body).toContain('ramp_rollouts{phase="Paused"} 1');
  });

  it('answers 404 elsewhere, naming its paths', async () => {
    expect(await get('/nope')).toMatchObject({ status: 404, body: expect.stringContaining('/healthz, /readyz or /metrics') });
  });

  it('a port already taken fails with a StartupError naming the setting', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const err = await startHttpServer(`127.0.0.1:${port}`, { readiness: () => Promise.resolve(readiness), metrics: () => metrics.exposition() }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(StartupError);
      expect((err as StartupError).setting).toBe('RAMP_HTTP_ADDRESS');
      expect((err as Error).message).toBe(`RAMP_HTTP_ADDRESS=127.0.0.1:${port}: cannot listen (the port is in use); set RAMP_HTTP_ADDRESS to a free host:port`);
    } finally {
      taken.close();
    }
  });
});
