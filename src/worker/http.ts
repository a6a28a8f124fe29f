/**
 * The worker's HTTP endpoint (RAMP_HTTP_ADDRESS, default 0.0.0.0:9464), for Kubernetes probes and
 * Prometheus: `GET /healthz` is 200 while the process is alive; `GET /readyz` is 200 when the worker
 * is connected to Temporal and polling, otherwise 503 with the reason on one line; `GET /metrics` is
 * Ramp's metrics in the Prometheus text format.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StartupError } from './errors';

/** Whether the worker is ready, and why not. */
export type Readiness = { ready: true } | { ready: false; reason: string };

export interface HttpHandlers {
  readiness(): Promise<Readiness>;
  metrics(): Promise<{ body: string; contentType: string }>;
}

export interface RampHttpServer {
  /** host:port it listens on (the real port when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

/** Splits "host:port"; the setting's validation (config.ts) has checked the shape. */
export function parseHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

function send(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}

export async function startHttpServer(address: string, handlers: HttpHandlers, setting = 'RAMP_HTTP_ADDRESS'): Promise<RampHttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET\n');
    const answer = async () => {
      switch (path) {
        case '/healthz':
          return send(res, 200, 'ok\n');
        case '/readyz': {
          const r = await handlers.readiness();
          return r.ready ? send(res, 200, 'ready\n') : send(res, 503, `${r.reason.replace(/\s*\n\s*/g, ' ')}\n`);
        }
        case '/metrics': {
          const m = await handlers.metrics();
          return send(res, 200, m.body, m.contentType);
        }
        default:
          return send(res, 404, 'not found: try /healthz, /readyz or /metrics\n');
      }
    };
    answer().catch((err: unknown) => send(res, 500, `${err instanceof Error ? err.message : String(err)}\n`));
  });
  const { host, port } = parseHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' ? 'no interface has that address' : (err.code ?? err.message);
      reject(new StartupError(setting, `${setting}=${address}: cannot listen (${why}); set ${setting} to a free host:port`, err));
    });
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${host}:${bound.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
