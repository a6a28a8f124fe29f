/**
 * One version of the demo service, as a local HTTP server on 127.0.0.1. KWOK never runs pods, so
 * the two versions a rollout moves traffic between run here instead. Every GET (other than
 * /control) answers 200, or 500 with probability `errorRate`, after a latency drawn from a
 * log-normal distribution given by its median and 99th percentile; with a `tail`, a share of the
 * requests draws from a second, slower distribution instead (a version that regresses only in its
 * tail). Draws come from a seeded PRNG, so the n-th request a version receives always gets the
 * same outcome.
 *
 *   GET  /control  → the current behaviour as JSON
 *   POST /control  {"errorRate"?: 0..1, "latencyMs"?: {"median", "p99"},
 *                   "tail"?: {"share": 0..1, "latencyMs": {"median", "p99"}} | null}
 *                  → changes it at run time (a null tail removes it)
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

/** A share of the requests that answers from a second latency distribution. */
export interface TailBehaviour {
  /** Share of requests, 0..1, whose latency is drawn from `latencyMs` here instead of the main one. */
  share: number;
  /** Latency distribution of those requests. */
  latencyMs: LatencyMs;
}

/** What a version does with each request. */
export interface DemoBehaviour {
  /** Share of requests answered 500, 0..1. */
  errorRate: number;
  /** Latency distribution of every answer, successful or not, outside the tail. */
  latencyMs: LatencyMs;
  /** Requests that take their latency from another distribution; absent: none do. */
  tail?: TailBehaviour;
}

/** A change to a behaviour: absent fields stay as they are; a null tail removes the tail. */
export interface BehaviourChange {
  /** New share of requests answered 500. */
  errorRate?: number;
  /** New main latency distribution. */
  latencyMs?: LatencyMs;
  /** New tail, or null for none. */
  tail?: TailBehaviour | null;
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
  setBehaviour(change: BehaviourChange): DemoBehaviour;
  /** Requests answered so far, by status code. */
  counts(): Record<number, number>;
  /** Stops listening and drops requests still waiting for their latency. */
  close(): Promise<void>;
}

/** Thrown when a behaviour is out of range (error rate or tail share outside 0..1, p99 below the median, …). */
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

/** Throws a BehaviourError, naming the field `name`, unless `latency` is a usable log-normal. */
function checkLatency(name: string, latency: LatencyMs, given: unknown): void {
  const { median, p99 } = latency;
  if (typeof median !== 'number' || typeof p99 !== 'number' || !Number.isFinite(median) || !Number.isFinite(p99)) {
    throw new BehaviourError(`${name} must be {"median": number, "p99": number}, got ${JSON.stringify(given)}`);
  }
  if (median < 0 || p99 < median || p99 > MAX_LATENCY_MS) {
    throw new BehaviourError(`${name} needs 0 <= median <= p99 <= ${MAX_LATENCY_MS}, got median ${median}, p99 ${p99}`);
  }
  if (median === 0 && p99 > 0) {
    throw new BehaviourError(`${name}.median must be above 0 when p99 is (a log-normal latency cannot have a zero median)`);
  }
}

/** The tail after `change` (undefined: none), checked; `change` comes from JSON, so its shape is checked too. */
function nextTail(current: TailBehaviour | undefined, change: TailBehaviour | null | undefined): TailBehaviour | undefined {
  if (change === undefined) return current && { share: current.share, latencyMs: { ...current.latencyMs } };
  if (change === null) return undefined;
  if (typeof change !== 'object' || Array.isArray(change)) {
    throw new BehaviourError(`tail must be {"share": 0..1, "latencyMs": {"median", "p99"}} or null, got ${JSON.stringify(change)}`);
  }
  const { share, latencyMs } = change as Partial<TailBehaviour>;
  if (typeof share !== 'number' || !(share >= 0 && share <= 1)) {
    throw new BehaviourError(`tail.share must be a number from 0 to 1, got ${JSON.stringify(share)}`);
  }
  if (typeof latencyMs !== 'object' || latencyMs === null) {
    throw new BehaviourError(`tail.latencyMs must be {"median": number, "p99": number}, got ${JSON.stringify(latencyMs)}`);
  }
  const tail = { share, latencyMs: { median: latencyMs.median, p99: latencyMs.p99 } };
  checkLatency('tail.latencyMs', tail.latencyMs, latencyMs);
  return tail;
}

/** The behaviour after `change`, or a BehaviourError saying what is out of range. */
export function applyBehaviour(current: DemoBehaviour, change: BehaviourChange): DemoBehaviour {
  const next: DemoBehaviour = {
    errorRate: change.errorRate ?? current.errorRate,
    latencyMs: change.latencyMs ? { median: change.latencyMs.median, p99: change.latencyMs.p99 } : { ...current.latencyMs },
  };
  const { errorRate } = next;
  if (typeof errorRate !== 'number' || !(errorRate >= 0 && errorRate <= 1)) {
    throw new BehaviourError(`errorRate must be a number from 0 to 1, got ${JSON.stringify(errorRate)}`);
  }
  checkLatency('latencyMs', next.latencyMs, change.latencyMs);
  // Without a tail the key stays absent, so GET /control answers as it does for a version that never had one.
  const tail = nextTail(current.tail, change.tail);
  if (tail) next.tail = tail;
  return next;
}

/** A copy of a behaviour that shares no object with it. */
function copyBehaviour(b: DemoBehaviour): DemoBehaviour {
  const copy: DemoBehaviour = { errorRate: b.errorRate, latencyMs: { ...b.latencyMs } };
  if (b.tail) copy.tail = { share: b.tail.share, latencyMs: { ...b.tail.latencyMs } };
  return copy;
}

/**
 * The outcome of one request from `random`: first the error draw, then, only when there is a tail,
 * the draw that picks the tail, then the latency draws (none for a constant latency). Without a
 * tail there is no tail draw, so a seed gives the same sequence of outcomes as for a service that
 * has no notion of tails: seeded runs of a tail-less behaviour stay comparable.
 */
export function drawOutcome(behaviour: DemoBehaviour, random: () => number): { failed: boolean; delayMs: number } {
  const failed = random() < behaviour.errorRate;
  const { tail } = behaviour;
  const latency = tail !== undefined && random() < tail.share ? tail.latencyMs : behaviour.latencyMs;
  return { failed, delayMs: drawLatencyMs(latency, random) };
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
  let behaviour = applyBehaviour(DEFAULT_BEHAVIOUR, { errorRate: opts.errorRate, latencyMs: opts.latencyMs ?? DEFAULT_BEHAVIOUR.latencyMs, tail: opts.tail });
  const random = seededRandom(opts.seed);
  const counts: Record<number, number> = {};
  // Answers waiting for their latency; close() cancels them.
  const pending = new Set<NodeJS.Timeout>();
  const { version } = opts;

  const setBehaviour = (change: BehaviourChange): DemoBehaviour => {
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
      return sendJson(res, 400, { error: 'the body must be a JSON object: {"errorRate"?: 0..1, "latencyMs"?: {"median", "p99"}, "tail"?: {"share", "latencyMs"} | null}' });
    }
    try {
      return sendJson(res, 200, { version, ...setBehaviour(change) });
    } catch (err) {
      if (err instanceof BehaviourError) return sendJson(res, 400, { error: err.message });
      throw err;
    }
  };

  const serve = (res: http.ServerResponse): void => {
    // Every draw happens on arrival, so the outcome of the n-th request does not depend on timing.
    const { failed, delayMs } = drawOutcome(behaviour, random);
    const status = failed ? 500 : 200;
    const timer = setTimeout(() => {
      pending.delete(timer);
      counts[status] = (counts[status] ?? 0) + 1;
      sendJson(res, status, { version, status }, { 'x-demo-version': version });
    }, delayMs);
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
    behaviour: () => copyBehaviour(behaviour),
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
