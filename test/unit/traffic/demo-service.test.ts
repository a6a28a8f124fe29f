import {
  applyBehaviour,
  BehaviourError,
  drawLatencyMs,
  drawOutcome,
  seededRandom,
  startDemoService,
  type BehaviourChange,
  type DemoBehaviour,
  type DemoService,
} from '../../../scripts/traffic/demo-service';

const STABLE: DemoBehaviour = { errorRate: 0, latencyMs: { median: 20, p99: 80 } };

/** The q-quantile of sorted values (nearest rank). */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** `n` latencies of `behaviour` from one seeded stream, sorted. */
function sortedLatencies(behaviour: DemoBehaviour, seed: number, n: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => drawOutcome(behaviour, random).delayMs).sort((a, b) => a - b);
}

describe('applyBehaviour: the tail', () => {
  const tail = { share: 0.02, latencyMs: { median: 200, p99: 800 } };

  it('accepts a tail and keeps it through changes that do not name it', () => {
    const withTail = applyBehaviour(STABLE, { tail });
    expect(withTail).toEqual({ ...STABLE, tail });
    expect(applyBehaviour(withTail, { errorRate: 0.1 })).toEqual({ errorRate: 0.1, latencyMs: STABLE.latencyMs, tail });
  });

  it('removes the tail on null, and leaves no tail key when there is none', () => {
    const removed = applyBehaviour(applyBehaviour(STABLE, { tail }), { tail: null });
    expect(removed).toEqual(STABLE);
    expect('tail' in removed).toBe(false);
    expect('tail' in applyBehaviour(STABLE, { errorRate: 0.5 })).toBe(false);
  });

  it('accepts the edges: share 0 and 1, a constant tail latency', () => {
    for (const t of [{ share: 0, latencyMs: { median: 5, p99: 5 } }, { share: 1, latencyMs: { median: 0, p99: 0 } }]) {
      expect(applyBehaviour(STABLE, { tail: t }).tail).toEqual(t);
    }
  });

  it('copies the tail it is given and the tail it keeps', () => {
    const given = { share: 0.1, latencyMs: { median: 50, p99: 100 } };
    const next = applyBehaviour(STABLE, { tail: given });
    given.latencyMs.median = 1;
    expect(next.tail?.latencyMs.median).toBe(50);
    const kept = applyBehaviour(next, {});
    expect(kept.tail).not.toBe(next.tail);
    expect(kept.tail?.latencyMs).not.toBe(next.tail?.latencyMs);
  });

  // As POST /control would pass them: JSON of any shape.
  const bad: { name: string; tail: unknown; message: RegExp }[] = [
    { name: 'a number', tail: 0.02, message: /^tail must be \{"share": 0\.\.1, "latencyMs": \{"median", "p99"\}\} or null, got 0\.02$/ },
    { name: 'a string', tail: 'slow', message: /^tail must be .* or null, got "slow"$/ },
    { name: 'an array', tail: [0.02], message: /^tail must be .* or null, got \[0\.02\]$/ },
    { name: 'no share', tail: { latencyMs: { median: 200, p99: 800 } }, message: /^tail\.share must be a number from 0 to 1, got undefined$/ },
    { name: 'a share as a string', tail: { share: '0.02', latencyMs: { median: 200, p99: 800 } }, message: /^tail\.share must be a number from 0 to 1, got "0\.02"$/ },
    { name: 'a negative share', tail: { share: -0.1, latencyMs: { median: 200, p99: 800 } }, message: /^tail\.share must be a number from 0 to 1, got -0\.1$/ },
    { name: 'a share above 1', tail: { share: 1.5, latencyMs: { median: 200, p99: 800 } }, message: /^tail\.share must be a number from 0 to 1, got 1\.5$/ },
    { name: 'a NaN share', tail: { share: NaN, latencyMs: { median: 200, p99: 800 } }, message: /^tail\.share must be a number from 0 to 1, got null$/ },
    { name: 'no latency', tail: { share: 0.02 }, message: /^tail\.latencyMs must be \{"median": number, "p99": number\}, got undefined$/ },
    { name: 'a null latency', tail: { share: 0.02, latencyMs: null }, message: /^tail\.latencyMs must be \{"median": number, "p99": number\}, got null$/ },
    { name: 'a latency as a number', tail: { share: 0.02, latencyMs: 200 }, message: /^tail\.latencyMs must be \{"median": number, "p99": number\}, got 200$/ },
    { name: 'no p99', tail: { share: 0.02, latencyMs: { median: 200 } }, message: /^tail\.latencyMs must be \{"median": number, "p99": number\}, got \{"median":200\}$/ },
    { name: 'a p99 below the median', tail: { share: 0.02, latencyMs: { median: 200, p99: 100 } }, message: /^tail\.latencyMs needs 0 <= median <= p99 <= 60000, got median 200, p99 100$/ },
    { name: 'a negative median', tail: { share: 0.02, latencyMs: { median: -1, p99: 100 } }, message: /^tail\.latencyMs needs 0 <= median <= p99 <= 60000, got median -1, p99 100$/ },
    { name: 'a p99 over a minute', tail: { share: 0.02, latencyMs: { median: 200, p99: 60_001 } }, message: /^tail\.latencyMs needs 0 <= median <= p99 <= 60000, got median 200, p99 60001$/ },
    { name: 'a zero median under a p99', tail: { share: 0.02, latencyMs: { median: 0, p99: 100 } }, message: /^tail\.latencyMs\.median must be above 0 when p99 is/ },
  ];
  it.each(bad)('rejects $name', ({ tail: t, message }) => {
    const change = { tail: t } as BehaviourChange;
    expect(() => applyBehaviour(STABLE, change)).toThrow(BehaviourError);
    expect(() => applyBehaviour(STABLE, change)).toThrow(message);
  });
});

describe('applyBehaviour: error rate and main latency', () => {
  const bad: { name: string; change: unknown; message: RegExp }[] = [
    { name: 'an error rate above 1', change: { errorRate: 2 }, message: /^errorRate must be a number from 0 to 1, got 2$/ },
    { name: 'an error rate as a string', change: { errorRate: '0.1' }, message: /^errorRate must be a number from 0 to 1, got "0\.1"$/ },
    { name: 'a latency without p99', change: { latencyMs: { median: 5 } }, message: /^latencyMs must be \{"median": number, "p99": number\}, got \{"median":5\}$/ },
    { name: 'a p99 below the median', change: { latencyMs: { median: 5, p99: 1 } }, message: /^latencyMs needs 0 <= median <= p99 <= 60000, got median 5, p99 1$/ },
    { name: 'a zero median under a p99', change: { latencyMs: { median: 0, p99: 1 } }, message: /^latencyMs\.median must be above 0 when p99 is/ },
  ];
  it.each(bad)('rejects $name', ({ change, message }) => {
    expect(() => applyBehaviour(STABLE, change as BehaviourChange)).toThrow(message);
  });
});

describe('drawOutcome', () => {
  it('without a tail, gives a seed the outcomes the error-then-latency draws always gave', () => {
    const behaviour: DemoBehaviour = { errorRate: 0.3, latencyMs: { median: 20, p99: 80 } };
    const random = seededRandom(7);
    const outcomes = Array.from({ length: 6 }, () => drawOutcome(behaviour, random));
    // Seed 7's first six outcomes, as the service answered them before it had tails.
    const pinned: [boolean, number][] = [
      [true, 24.695642023785396], [false, 10.979482947064978], [false, 13.18224686065879],
      [false, 25.844916584080973], [false, 25.29538755449614], [false, 12.317567424825068],
    ];
    outcomes.forEach((o, i) => {
      expect(o.failed).toBe(pinned[i]![0]);
      expect(o.delayMs).toBeCloseTo(pinned[i]![1], 9);
    });
    // The same order of draws, spelled out: one for the error, then the latency's.
    const reference = seededRandom(7);
    const stream = seededRandom(7);
    for (let i = 0; i < 1000; i++) {
      const failed = reference() < behaviour.errorRate;
      expect(drawOutcome(behaviour, stream)).toEqual({ failed, delayMs: drawLatencyMs(behaviour.latencyMs, reference) });
    }
  });

  it('is deterministic with a tail: the same seed gives the same outcomes', () => {
    const behaviour: DemoBehaviour = { ...STABLE, errorRate: 0.05, tail: { share: 0.3, latencyMs: { median: 200, p99: 800 } } };
    const a = seededRandom(3);
    const b = seededRandom(3);
    const first = Array.from({ length: 500 }, () => drawOutcome(behaviour, a));
    expect(Array.from({ length: 500 }, () => drawOutcome(behaviour, b))).toEqual(first);
  });

  it('takes the tail for about its share of requests, and leaves the error draw alone', () => {
    const behaviour: DemoBehaviour = { errorRate: 0.1, latencyMs: { median: 10, p99: 10 }, tail: { share: 0.25, latencyMs: { median: 500, p99: 500 } } };
    const random = seededRandom(5);
    const n = 10_000;
    const outcomes = Array.from({ length: n }, () => drawOutcome(behaviour, random));
    const slow = outcomes.filter((o) => o.delayMs === 500).length;
    const failed = outcomes.filter((o) => o.failed).length;
    expect(outcomes.every((o) => o.delayMs === 10 || o.delayMs === 500)).toBe(true);
    expect(slow / n).toBeGreaterThan(0.22);
    expect(slow / n).toBeLessThan(0.28);
    expect(failed / n).toBeGreaterThan(0.08);
    expect(failed / n).toBeLessThan(0.12);
  });

  it('a 2 % tail at ten times the median moves the p99 about 2.5× and leaves the median', () => {
    // Stable 20:80 has its p99 at 80 ms. With 2 % of requests drawn from 200:800, 1 % of all
    // requests (half the tail) lie above 200 ms, so the p99 lands near 200 ms = 2.5 × 80; the
    // median moves only from the 50th to the 51st percentile of 20:80, about 20.3 ms.
    const n = 40_000;
    const without = sortedLatencies(STABLE, 9, n);
    const withTail = sortedLatencies({ ...STABLE, tail: { share: 0.02, latencyMs: { median: 200, p99: 800 } } }, 9, n);
    const medianRatio = quantile(withTail, 0.5) / quantile(without, 0.5);
    const p99Ratio = quantile(withTail, 0.99) / quantile(without, 0.99);
    expect(medianRatio).toBeGreaterThan(0.95);
    expect(medianRatio).toBeLessThan(1.05);
    expect(p99Ratio).toBeGreaterThan(2);
    expect(p99Ratio).toBeLessThan(3);
    // The p90 the judge's slow bound comes from stays where it was, within a bucket.
    expect(quantile(withTail, 0.9)).toBeLessThan(50);
  });
});

describe('startDemoService: the tail in the options and in POST /control', () => {
  const opened: DemoService[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  async function start(over: Partial<Parameters<typeof startDemoService>[0]> = {}): Promise<DemoService> {
    const s = await startDemoService({ version: 'v2', seed: 1, latencyMs: { median: 0, p99: 0 }, ...over });
    opened.push(s);
    return s;
  }

  async function post(s: DemoService, body: unknown): Promise<{ status: number; data: Record<string, unknown> }> {
    const res = await fetch(`${s.url}control`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, data: (await res.json()) as Record<string, unknown> };
  }

  it('starts with the tail of the options; GET /control shows no tail key without one', async () => {
    const tail = { share: 0.02, latencyMs: { median: 200, p99: 800 } };
    expect((await start({ tail })).behaviour().tail).toEqual(tail);
    const plain = await start();
    expect(plain.behaviour()).not.toHaveProperty('tail');
    expect(await (await fetch(`${plain.url}control`)).json()).toEqual({ version: 'v2', errorRate: 0, latencyMs: { median: 0, p99: 0 } });
  });

  it('refuses to start with a bad tail', async () => {
    await expect(start({ tail: { share: 2, latencyMs: { median: 1, p99: 1 } } })).rejects.toThrow(/^tail\.share must be a number from 0 to 1, got 2$/);
  });

  it('sets, keeps and removes the tail through POST /control; a bad one is a 400 that changes nothing', async () => {
    const s = await start();
    const tail = { share: 0.05, latencyMs: { median: 150, p99: 600 } };
    expect(await post(s, { tail })).toEqual({ status: 200, data: { version: 'v2', errorRate: 0, latencyMs: { median: 0, p99: 0 }, tail } });
    expect((await post(s, { errorRate: 0.1 })).data.tail).toEqual(tail);
    const rejected = await post(s, { tail: { share: 0.05, latencyMs: { median: 150, p99: 100 } } });
    expect(rejected.status).toBe(400);
    expect(rejected.data.error).toMatch(/^tail\.latencyMs needs 0 <= median <= p99/);
    expect(s.behaviour().tail).toEqual(tail);
    const removed = await post(s, { tail: null });
    expect(removed.status).toBe(200);
    expect(removed.data).not.toHaveProperty('tail');
    expect(s.behaviour()).not.toHaveProperty('tail');
  });
});
