import { noWorkerText, pollerPresence, POLL_WINDOW_MS, WorkerWatch } from '../../../src/client/workers';

const NOW = Date.parse('2026-11-26T10:00:00Z');
// Seconds come as a Long from the wire; anything with toNumber() reads the same.
const poller = (agoMs: number, identity: string) => ({ identity, lastAccessTime: { seconds: { toNumber: () => Math.floor((NOW - agoMs) / 1000) }, nanos: 0 } });

describe('pollerPresence: does a worker poll the task queue?', () => {
  const table = [
    { what: 'none listed', pollers: [], polling: false, identities: [] as string[], lastAgo: undefined },
    { what: 'an idle live worker: its long poll began 55 s ago', pollers: [poller(55_000, 'w1')], polling: true, identities: ['w1'], lastAgo: 55_000 },
    { what: 'a worker that stopped: still listed, its last poll past the window', pollers: [poller(POLL_WINDOW_MS + 5_000, 'w1')], polling: false, identities: [], lastAgo: POLL_WINDOW_MS + 5_000 },
    { what: 'one stopped, one live', pollers: [poller(300_000, 'old'), poller(2_000, 'new')], polling: true, identities: ['new'], lastAgo: 2_000 },
  ];
  it.each(table)('$what', ({ pollers, polling, identities, lastAgo }) => {
    const p = pollerPresence('ramp', pollers, NOW);
    expect(p.polling).toBe(polling);
    expect(p.identities).toEqual(identities);
    expect(p.lastPollAt).toBe(lastAgo === undefined ? undefined : NOW - lastAgo);
  });

  it('says when the last poll began', () => {
    expect(noWorkerText(pollerPresence('ramp', [poller(180_000, 'w1')], NOW), NOW)).toBe('no worker is polling task queue ramp (the last poll began 3m ago)');
    expect(noWorkerText(pollerPresence('ramp', [], NOW), NOW)).toBe('no worker is polling task queue ramp');
  });
});

describe('WorkerWatch: does a worker run the rollout a view follows?', () => {
  const s = (n: number) => NOW + n * 1000;
  const live = pollerPresence('ramp', [poller(1_000, 'w1')], NOW);
  const none = pollerPresence('ramp', [], NOW);
  type Event = ['answered' | 'polled-live' | 'polled-none' | 'check', number];
  const table: { what: string; events: Event[]; changes: (string | undefined)[] }[] = [
    {
      what: 'a worker answers all along: nothing to say',
      events: [['polled-live', 0], ['answered', 0], ['check', 0], ['answered', 9], ['check', 10], ['answered', 19], ['check', 20]],
      changes: [undefined, undefined, undefined],
    },
    {
      what: 'no poller at the start: said at once, once',
      events: [['polled-none', 0], ['check', 0], ['check', 10]],
      changes: ['lost: no worker is polling task queue ramp; the rollout waits for a worker and goes on when one polls', undefined],
    },
    {
      what: 'a worker stops while Temporal still lists it: said once the quiet spell is QUIET_MS long, then back',
      events: [['polled-live', 0], ['answered', 1], ['check', 10], ['check', 16], ['check', 26], ['answered', 40], ['check', 40]],
      changes: [
        undefined,
        'lost: no worker on task queue ramp has answered for 15s; Temporal lists a poll of it begun 17s ago; the rollout waits for a worker and goes on when one polls',
        undefined,
        'back: a worker runs the rollout again (task queue ramp, after 39s without an answer); the rollout goes on',
      ],
    },
    {
      what: 'nothing answered yet: the quiet spell counts from when the view began',
      events: [['check', 14], ['check', 15]],
      changes: [undefined, 'lost: no worker on task queue ramp has answered for 15s; the rollout waits for a worker and goes on when one polls'],
    },
  ];
  it.each(table)('$what', ({ events, changes }) => {
    const watch = new WorkerWatch('ramp', NOW);
    const seen: (string | undefined)[] = [];
    for (const [kind, at] of events) {
      if (kind === 'answered') watch.answered(s(at));
      else if (kind === 'polled-live') watch.polled(live);
      else if (kind === 'polled-none') watch.polled(none);
      else {
        const c = watch.change(s(at));
        seen.push(c && `${c.kind}: ${c.text}`);
      }
    }
    expect(seen).toEqual(changes);
  });

  it('the live view line says the rollout goes on once a worker polls', () => {
    const watch = new WorkerWatch('ramp', NOW);
    watch.polled(none);
    expect(watch.line(s(3))).toBe('no worker is polling task queue ramp; the rollout waits for a worker and goes on when one polls');
    watch.polled(live);
    watch.answered(s(4));
    expect(watch.line(s(5))).toBeUndefined();
  });
});
