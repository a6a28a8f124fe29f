/**
 * People's commands on a running rollout: resume a pause, pause and resume between steps,
 * promote --full; and the search attributes the UI and `ramp list` filter on.
 */
import { validateRollout } from '../../../src/domain/spec/parse';
import { pauseUpdate, promoteUpdate, resumeUpdate, statusQuery } from '../../../src/shared/messages';
import { RampOutcome, RampPhase, RampTarget } from '../../../src/shared/search-attributes';
import { startRollout } from '../../../src/client/rollouts';
import { recordHistory } from '../../support/histories';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
let w: TestWorker;
let shop: Mushop;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
});
beforeEach(async () => {
  shop = await createMushop(kc, { mode: 'subset' });
});
afterEach(async () => {
  await shop?.cleanup();
});

const phase = waitForPhase;

it('resume ends an indefinite pause; the search attributes follow the phase and outcome', async () => {
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }])), { taskQueue: w.taskQueue });
  await phase(handle, 'Paused');
  const sa = (await handle.describe()).typedSearchAttributes;
  expect(sa.get(RampPhase)).toBe('Paused');
  expect(sa.get(RampTarget)).toBe(`${shop.namespace}/storefront-original`);
  const s = await handle.executeUpdate(resumeUpdate, { args: [{ by: 'bob' }] });
  expect(s.status.audit.at(-1)).toMatchObject({ event: 'resume', by: 'bob' });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Promoted');
  const after = (await handle.describe()).typedSearchAttributes;
  expect(after.get(RampOutcome)).toBe('Promoted');
  expect(after.get(RampPhase)).toBe('Succeeded');
  await recordHistory(handle, 'resume-pause');
});

it('a person pauses between steps: the rollout holds after the current step until resumed', async () => {
  const view = clusterView(kc, shop.namespace);
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { pause: { duration: '2s' } }, { setWeight: 40 }, { setWeight: 100 }])), { taskQueue: w.taskQueue });
  await phase(handle, 'Paused');
  await handle.executeUpdate(pauseUpdate, { args: [{ by: 'carol', reason: 'checking dashboards' }] });
  // The timed pause ends; the person's pause holds the rollout before step 3.
  const held = await eventually('held by carol', async () => {
    const s = await handle.query(statusQuery);
    return s.phase === 'Paused' && s.pause?.by === 'carol' ? s : undefined;
  }, 20_000, 200);
  expect(held.message).toBe('paused by carol: checking dashboards; resume to continue');
  expect(held.step.index).toBe(2);
  expect(await view.canaryWeight()).toBe(10);
  await handle.executeUpdate(resumeUpdate, { args: [{ by: 'carol' }] });
  expect((await awaitResult(handle)).outcome).toBe('Promoted');
  await recordHistory(handle, 'user-pause-resume');
});

it('promote --full skips every remaining step', async () => {
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { approval: {} }, { setWeight: 100 }])), { taskQueue: w.taskQueue });
  await phase(handle, 'Paused');
  await handle.executeUpdate(promoteUpdate, { args: [{ full: true, by: 'dave' }] });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Promoted');
  expect(result.reason).toMatch(/promoted in full by dave/);
  expect(result.status.audit.map((a) => a.event)).toEqual(['start', 'readiness', 'promote', 'promoted']);
  expect((await clusterView(kc, shop.namespace).vs()).spec).toEqual(shop.original.vs.spec);
  await recordHistory(handle, 'promote-full');
});

it('a plain promote skips only the current pause', async () => {
  const view = clusterView(kc, shop.namespace);
  const handle = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { pause: {} }, { setWeight: 30 }, { pause: {} }, { setWeight: 100 }])), { taskQueue: w.taskQueue });
  await phase(handle, 'Paused');
  await handle.executeUpdate(promoteUpdate, { args: [{ by: 'erin' }] });
  const second = await eventually('second pause', async () => {
    const s = await handle.query(statusQuery);
    return s.phase === 'Paused' && s.step.index === 3 ? s : undefined;
  }, 20_000, 200);
  expect(second.weights).toEqual({ stable: 70, canary: 30 });
  expect(await view.canaryWeight()).toBe(30);
  await handle.executeUpdate(promoteUpdate, { args: [{ by: 'erin' }] });
  expect((await awaitResult(handle)).outcome).toBe('Promoted');
});
