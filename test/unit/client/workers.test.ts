import { noWorkerText, pollerPresence, POLL_WINDOW_MS } from '../../../src/client/workers';

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
