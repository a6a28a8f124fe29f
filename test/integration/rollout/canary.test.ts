/**
 * The rollout workflow on the real stack, both routing modes: 10 → 50 → approval → 100 promoted,
 * leaving the VirtualService and DestinationRule exactly as before and other routes untouched.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { validateRollout } from '../../../src/domain/spec/parse';
import { approveUpdate, statusQuery } from '../../../src/shared/messages';
import { FAIL_ON_OUTCOME_PATCH } from '../../../src/shared/outcomes';
import { RolloutAlreadyRunningError, startRollout } from '../../../src/client/rollouts';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually } from '../../support/stack';
import { patchIds, recordHistory } from '../../support/histories';
import { startTestWorker, TestWorker } from '../../support/worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
let w: TestWorker;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
});

describe.each(['subset', 'service'] as const)('%s routing: 10 → 50 → approval → 100', (mode) => {
  let shop: Mushop;
  beforeAll(async () => {
    shop = await createMushop(kc, { mode });
  });
  afterAll(async () => {
    await shop?.cleanup();
  });

  it('is promoted, and leaves routes and subsets as they were', async () => {
    const view = clusterView(kc, shop.namespace);
    const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { setWeight: 50 }, { approval: {} }, { setWeight: 100 }]));
    const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue, startedBy: 'jest' });

    // A second rollout of the same target is refused, naming the running one.
    await expect(startRollout(w.client, rollout, { taskQueue: w.taskQueue })).rejects.toThrow(RolloutAlreadyRunningError);
    await expect(startRollout(w.client, rollout, { taskQueue: w.taskQueue })).rejects.toThrow(/already running \(workflow id rollout\/.*\/storefront-original.*--name abort/);

    const waiting = await eventually('AwaitingApproval', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'AwaitingApproval' ? s : undefined;
    }, 90_000, 300);
    expect(waiting.weights).toEqual({ stable: 50, canary: 50 });
    expect(waiting.step).toMatchObject({ index: 2, count: 4 });
    expect(await view.canaryWeight()).toBe(50);
    const canary = await view.deployment('storefront-original-canary');
    expect(canary?.spec?.template.spec?.containers[0]?.image).toBe('iad.ocir.io/mushop/storefront:beta');
    expect(canary?.status?.availableReplicas).toBe(1);
    if (mode === 'subset') expect((await view.dr()).spec.subsets.map((s) => s.name)).toEqual(['stable', 'canary']);
    else expect((await view.service('storefront-canary'))?.spec?.selector).toEqual({ app: 'storefront', version: 'beta' });

    const approved = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    expect(approved.status.audit.some((a) => a.event === 'approve' && a.by === 'alice')).toBe(true);
    expect(approved.effect).toMatch(/^approved; moving on to step 4 of 4/);

    const result = await awaitResult(handle);
    expect(result.outcome).toBe('Promoted');
    expect(result.status.phase).toBe('Succeeded');
    expect(result.reason).toMatch(/promoted iad.ocir.io\/mushop\/storefront:beta to storefront-original/);

    const stable = await view.deployment('storefront-original');
    expect(stable?.spec?.template.spec?.containers[0]?.image).toBe('iad.ocir.io/mushop/storefront:beta');
    expect(stable?.spec?.template.metadata?.labels?.version).toBe('original');
    expect(await view.deployment('storefront-original-canary')).toBeUndefined();
    const vs = await view.vs();
    expect(vs.spec).toEqual(shop.original.vs.spec);
    if (mode === 'subset') expect((await view.dr()).spec).toEqual(shop.original.dr!.spec);
    else expect(await view.service('storefront-canary')).toBeUndefined();
    // Only the live patch: the workflow carries no versioning bookkeeping from earlier eras (decisions/0013, 0022).
    expect(patchIds((await handle.fetchHistory()).events ?? [])).toEqual([FAIL_ON_OUTCOME_PATCH]);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    await recordHistory(handle, `promoted-${mode}-routing`);
  });
});

describe('validators', () => {
  let shop: Mushop;
  beforeAll(async () => {
    shop = await createMushop(kc, { mode: 'subset' });
  });
  afterAll(async () => {
    await shop?.cleanup();
  });

  it('rejects approve when nothing awaits approval, changing nothing and writing no history', async () => {
    const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 20 }, { pause: {} }]));
    const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
    const paused = await eventually('Paused', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'Paused' ? s : undefined;
    }, 90_000, 300);
    const eventsBefore = (await handle.fetchHistory()).events?.length;

    const err = await handle.executeUpdate(approveUpdate, { args: [{ by: 'mallory' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String(((err as Error).cause as Error | undefined)?.message)).toMatch(/^nothing awaits approval: the rollout .* is Paused at step 2 of 2 \(pause until resumed\)$/);

    const after = await handle.query(statusQuery);
    expect(after).toEqual(paused);
    expect((await handle.fetchHistory()).events?.length).toBe(eventsBefore);
    await handle.executeUpdate('abort', { args: [{ reason: 'test done', by: 'jest' }] });
    expect((await awaitResult(handle)).outcome).toBe('RolledBack');
    await recordHistory(handle, 'rejected-update-then-abort');
  });
});
