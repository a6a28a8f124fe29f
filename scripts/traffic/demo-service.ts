/**
 * One version of the demo service, as a local HTTP server on 127.0.0.1. KWOK never runs pods, so
 * the two versions a rollout moves traffic between run here instead. Every GET (other than
 * /control) answers 200, or 500 with probability `errorRate`, after a latency drawn from a
 * log-normal distribution given by its median and 99th percentile. Draws come from a seeded
 * PRNG, so the n-th request a version receives always gets the same outcome.
 *
 *   GET  /control  → the current behaviour as JSON
 *   POST /control  {"errorRate"?: 0..1, "latencyMs"?: {"median", "p99"}} → changes it at run time
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** How slow a version answers: a log-normal distribution, in milliseconds. */
export interface LatencyMs {
  /** Half of the answers are faster than this. */
  median: number;
  /** 99 % of the answers are faster than this; equal to `median` for a constant latency. */
  p99: number;
}

/** What a version does with each request. */
export interface DemoBehaviour {
  /** Share of requests answered 500, 0..1. */
  errorRate: number;
  /** Latency distribution of every answer, successful or not. */
  latencyMs: LatencyMs;
}

export interface DemoServiceOptions extends Partial<DemoBehaviour> {
  /** Reported in every answer's body and `x-demo-version` header, e.g. "v1". */
  version: string;
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Seed of the PRNG behind errors and latencies. */
  seed: number;
}

export interface DemoService {
  /** Base URL, e.g. http://127.0.0.1:41234/. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** The version it reports. */
  version: string;
  /** The current behaviour. */
  behaviour(): DemoBehaviour;
  /** Changes the behaviour from now on (what POST /control does); returns the new one. */
  setBehaviour(change: Partial<DemoBehaviour>): DemoBehaviour;
  /** Requests answered so far, by status code. */
  counts(): Record<number, number>;
  /** Stops listening and drops requests still waiting for their latency. */
  close(): Promise<void>;
}

/** Thrown when a behaviour is out of range (error rate outside 0..1, p99 below the median, …). */
export class BehaviourError extends Error {
  override name = 'BehaviourError';
}

const Z_99 = 2.3263478740408408;
// No answer waits longer, whatever the tail of the distribution says.
const MAX_LATENCY_MS = 60_000;
const DEFAULT_BEHAVIOUR: DemoBehaviour = { errorRate: 0, latencyMs: { median: 10, p99: 50 } };

/** Listens on 127.0.0.1 (port 0: a free one); resolves with the port, rejects if it cannot bind. */
export async function listenOnLoopback(server: http.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** A deterministic uniform [0, 1) generator (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw from two uniform ones (Box–Muller). */
function normal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) is not a number
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A latency draw from the log-normal distribution with this median and p99, capped at a minute. */
export function drawLatencyMs(latency: LatencyMs, random: () => number): number {
  if (latency.p99 === latency.median) return latency.median;
  const sigma = Math.log(latency.p99 / latency.median) / Z_99;
  return Math.min(MAX_LATENCY_MS, latency.median * Math.exp(sigma * normal(random)));
}

/** The behaviour after `change`, or a BehaviourError saying what is out of range. */
export function applyBehaviour(current: DemoBehaviour, change: Partial<DemoBehaviour>): DemoBehaviour {
  const next: DemoBehaviour = {
    errorRate: change.errorRate ?? current.errorRate,
    latencyMs: change.latencyMs ? { median: change.latencyMs.median, p99: change.latencyMs.p99 } : { ...current.latencyMs },
  };
  const { errorRate, latencyMs: { median, p99 } } = next;
  if (typeof errorRate !== 'number' || !(errorRate >= 0 && errorRate <= 1)) {
    throw new BehaviourError(`errorRate must be a number from 0 to 1, got ${JSON.stringify(errorRate)}`);
  }
  if (typeof median !== 'number' || typeof p99 !== 'number' || !Number.isFinite(median) || !Number.isFinite(p99)) {
    throw new BehaviourError(`latencyMs must be {"median": number, "p99": number}, got ${JSON.stringify(change.latencyMs)}`);
  }
  if (median < 0 || p99 < median || p99 > MAX_LATENCY_MS) {
    throw new BehaviourError(`latencyMs needs 0 <= median <= p99 <= ${MAX_LATENCY_MS}, got median ${median}, p99 ${p99}`);
  }
  if (median === 0 && p99 > 0) {
    throw new BehaviourError('latencyMs.median must be above 0 when p99 is (a log-normal latency cannot have a zero median)');
  }
  return next;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > limit) reject(new BehaviourError(`control request body is over ${limit} bytes`));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** Starts one version of the demo service on 127.0.0.1. */
export async function startDemoService(opts: DemoServiceOptions): Promise<DemoService> {
  let behaviour = applyBehaviour(DEFAULT_BEHAVIOUR, { errorRate: opts.errorRate, latencyMs: opts.latencyMs ?? DEFAULT_BEHAVIOUR.latencyMs });
  const random = seededRandom(opts.seed);
  const counts: Record<number, number> = {};
  // Answers waiting for their latency; close() cancels them.
  const pending = new Set<NodeJS.Timeout>();
  const { version } = opts;

  const setBehaviour = (change: Partial<DemoBehaviour>): DemoBehaviour => {
    behaviour = applyBehaviour(behaviour, change);
    return behaviour;
  };

  const control = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (req.method === 'GET') return sendJson(res, 200, { version, ...behaviour });
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use GET or POST on /control' }, { Allow: 'GET, POST' });
    let change: unknown;
    try {
      change = JSON.parse(await readBody(req));
    } catch (err) {
      return sendJson(res, 400, { error: err instanceof BehaviourError ? err.message : 'the body is not JSON' });
    }
    if (typeof change !== 'object' || change === null || Array.isArray(change)) {
      return sendJson(res, 400, { error: 'the body must be a JSON object: {"errorRate"?: 0..1, "latencyMs"?: {"median", "p99"}}' });
    }
    try {
      return sendJson(res, 200, { version, ...setBehaviour(change) });
    } catch (err) {
      if (err instanceof BehaviourError) return sendJson(res, 400, { error: err.message });
      throw err;
    }
  };

  const serve = (res: http.ServerResponse): void => {
    // Both draws happen on arrival, so the outcome of the n-th request does not depend on timing.
    const failed = random() < behaviour.errorRate;
    const delay = drawLatencyMs(behaviour.latencyMs, random);
    const status = failed ? 500 : 200;
    const timer = setTimeout(() => {
      pending.delete(timer);
      counts[status] = (counts[status] ?? 0) + 1;
      sendJson(res, status, { version, status }, { 'x-demo-version': version });
    }, delay);
    pending.add(timer);
  };

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/control') {
      control(req, res).catch((err: unknown) => sendJson(res, 500, { error: String(err) }));
    } else if (req.method === 'GET') {
      serve(res);
    } else {
      sendJson(res, 405, { error: `use GET; POST only on /control` }, { Allow: 'GET' });
    }
  });
  const port = await listenOnLoopback(server, opts.port);

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    version,
    behaviour: () => ({ errorRate: behaviour.errorRate, latencyMs: { ...behaviour.latencyMs } }),
    setBehaviour,
    counts: () => ({ ...counts }),
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const t of pending) clearTimeout(t);
        pending.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
