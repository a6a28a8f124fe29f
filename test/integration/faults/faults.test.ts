/**
 * Faults injected into the real stack. After every rollout the cluster invariants are checked
 * (test/support/invariants.ts). Seeded and repeatable: RAMP_FAULT_SEED picks the kill moments,
 * RAMP_FAULT_ROUNDS the number of SIGKILL rounds (each kills one worker under 10 rollouts in flight).
 */
import { activityCalls } from '../../../src/client/history';
import { Client, Connection } from '@temporalio/client';
import { restartComponent, stackDown, stackUp } from '../../../scripts/stack/stack';
import { seededRandom } from '../../../scripts/traffic/demo-service';
import { validateRollout } from '../../../src/domain/spec/parse';
import { RolloutHandle, startRollout } from '../../../src/client/rollouts';
import * as k8s from '@kubernetes/client-node';
import { clusterView, createMushop, ISTIO, Mushop } from '../../support/mushop';
import { clusterProblems } from '../../support/invariants';
import { statusQuery } from '../../../src/shared/messages';
import { adminKubeConfig, eventually, sleep, stackInfo, uniqueName } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';
import { startWorkerProcess, WorkerProcess } from '../../support/worker-process';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
const info = stackInfo();
const SEED = Number(process.env.RAMP_FAULT_SEED ?? '20261122');
const ROUNDS = Number(process.env.RAMP_FAULT_ROUNDS ?? '2');

let connection: Connection;
let client: Client;
beforeAll(async () => {
  connection = await Connection.connect({ address: info.temporal.address });
  client = new Client({ connection, namespace: info.temporal.namespace });
});
afterAll(async () => {
  await connection?.close();
});

async function expectClean(shop: Mushop) {
  expect(await clusterProblems(kc, shop)).toEqual([]);
}

describe('with an in-process worker', () => {
  let w: TestWorker;
  const shops: Mushop[] = [];
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(async () => {
    await w?.close();
    for (const s of shops) await s.cleanup();
  });
  async function shop(mode: 'subset' | 'service' = 'subset') {
    const s = await createMushop(kc, { mode });
    shops.push(s);
    return s;
  }

  it('Temporal dev server restarted twice in one rollout: promoted, cluster clean', async () => {
    const s = await shop();
    const handle = await startRollout(w.client, validateRollout(s.rolloutRaw([{ setWeight: 10 }, { pause: { duration: '4s' } }, { setWeight: 40 }, { pause: { duration: '6s' } }, { setWeight: 100 }])), { taskQueue: w.taskQueue });
    const pausedAt = (index: number) => eventually(`paused at step ${index + 1}`, async () => {
      const st = await handle.query(statusQuery).catch(() => undefined);
      return st?.phase === 'Paused' && st.step.index === index ? st : undefined;
    }, 60_000, 100);
    await pausedAt(1);
    await restartComponent('temporal');
    await pausedAt(3);
    await restartComponent('temporal');
    expect((await awaitResult(handle)).outcome).toBe('Promoted');
    await expectClean(s);
  });

  it('kube-apiserver stopped for 30 s during a step: activities retry with backoff, the rollout completes', async () => {
    const s = await shop();
    // After an apiserver outage kube-controller-manager's informers reconnect with backoff; on a
    // loaded 2-core machine it took over 60 s to observe the promoted template (seen in CI). The
    // readiness deadline is generous here: the outage is what this test is about.
    const handle = await startRollout(w.client, validateRollout(s.rolloutRaw([{ setWeight: 10 }, { pause: { duration: '2s' } }, { setWeight: 50 }, { setWeight: 100 }], { progressDeadline: '5m' })), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'Paused');
    const t0 = Date.now();
    await restartComponent('kube-apiserver', undefined, 30_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(30_000);
    const result = await awaitResult(handle);
    expect(result.outcome === 'Promoted' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('Promoted');
    const history = await handle.fetchHistory();
    const retried = activityCalls(history.events ?? []).some((c) => c.attempt > 1);
    expect(retried).toBe(true);
    await expectClean(s);
  });

  it('kube-apiserver stopped for 30 s while waiting for the canary to become Available: the wait survives', async () => {
    const s = await shop();
    const pool = uniqueName('pool');
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const handle = await startRollout(w.client, validateRollout(s.rolloutRaw([{ setWeight: 50 }, { setWeight: 100 }], {
      canary: { image: 'storefront:beta', versionLabel: { key: 'version', stable: 'original', canary: 'beta' }, podTemplatePatch: { spec: { nodeSelector: { 'ramp.dev/test-pool': pool } } } },
      progressDeadline: '5m',
    })), { taskQueue: w.taskQueue });
    await eventually('waitAvailable running', async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'waitAvailable') ? true : undefined, 60_000, 200);
    await restartComponent('kube-apiserver', undefined, 30_000);
    await core.patchNode({ name: 'kwok-node-0', body: { metadata: { labels: { 'ramp.dev/test-pool': pool } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    try {
      const result = await awaitResult(handle);
      expect(result.outcome === 'Promoted' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('Promoted');
    } finally {
      await core.patchNode({ name: 'kwok-node-0', body: { metadata: { labels: { 'ramp.dev/test-pool': null } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    }
    await expectClean(s);
  });

  it('Prometheus unreachable during analysis: measurements error, the rollout rolls back, never promotes', async () => {
    const s = await shop();
    const analysis = { analysis: { interval: '1s', count: 3, consecutiveErrorLimit: 2, metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] } };
    const handle = await startRollout(w.client, validateRollout(s.rolloutRaw([{ setWeight: 10 }, { pause: {} }, analysis, { setWeight: 100 }])), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'Paused');
    await stackDown(undefined, ['prometheus']);
    try {
      await handle.executeUpdate('resume', { args: [{ by: 'jest' }] });
      const result = await awaitResult(handle);
      expect(result.outcome).toBe('RolledBack');
      expect(result.reason).toMatch(/^analysis Error: .*request-success-rate/);
      expect(result.status.lastAnalysis?.measurements[0]?.phase).toBe('Error');
    } finally {
      await stackUp();
    }
    await expectClean(s);
  });

  it('two workers on one task queue: every rollout runs once and ends correctly', async () => {
    const second = await startTestWorker(w.taskQueue, 'second-worker');
    try {
      const list = await Promise.all(Array.from({ length: 6 }, () => shop(Math.random() < 0.5 ? 'subset' : 'service')));
      const handles = await Promise.all(list.map((s) => startRollout(w.client, validateRollout(s.rolloutRaw([{ setWeight: 25 }, { pause: { duration: '1s' } }, { setWeight: 75 }, { setWeight: 100 }])), { taskQueue: w.taskQueue })));
      const results = await Promise.all(handles.map((h) => awaitResult(h)));
      expect(results.map((r) => (r.outcome === 'Promoted' ? r.outcome : `${r.outcome}: ${r.reason}`))).toEqual(Array(6).fill('Promoted'));
      const identities = new Set<string>();
      for (const h of handles) {
        const runs: string[] = [];
        for await (const wf of w.client.workflow.list({ query: `WorkflowId = "${h.workflowId}"` })) runs.push(wf.runId);
        expect(runs).toEqual([h.firstExecutionRunId]);
        const events = (await h.fetchHistory()).events ?? [];
        const sets = activityCalls(events).filter((c) => c.name === 'trafficSetWeight').length;
        expect(sets).toBe(3); // 25, 75, 100: each step once (the promotion's cleanup restores the routes: trafficUndo)
        expect(activityCalls(events).filter((c) => c.name === 'trafficUndo' && c.summary?.startsWith('cleanup: undo: add the canary'))).toHaveLength(1);
        // Short calls run as local activities inside workflow tasks: count who ran those too.
        for (const e of events) {
          const who = e.activityTaskStartedEventAttributes?.identity ?? e.workflowTaskStartedEventAttributes?.identity;
          if (who) identities.add(who);
        }
      }
      expect(identities.size).toBe(2); // both workers did work
      for (const s of list) await expectClean(s);
    } finally {
      await second.close();
    }
  });
});

describe(`worker SIGKILLed at random moments (${ROUNDS} rounds × 10 rollouts, seed ${SEED})`, () => {
  // Generous: a loaded CI machine measured over 130 s per round (a quiet one: about 35 s).
  jest.setTimeout(ROUNDS * 240_000 + 60_000);
  const rand = seededRandom(SEED);

  it('every rollout ends as its scenario dictates, the cluster clean', async () => {
    const taskQueue = uniqueName('faults-kill');
    const tally = { promoted: 0, rolledBack: 0, kills: 0, activitiesInFlight: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      let worker: WorkerProcess = await startWorkerProcess(taskQueue);
      const shops: Mushop[] = [];
      try {
        const started: { handle: RolloutHandle; shop: Mushop; expect: 'Promoted' | 'RolledBack' }[] = [];
        const killAt = 1000 + rand() * 5000;
        const t0 = Date.now();
        for (let i = 0; i < 10; i++) {
          const s = await createMushop(kc, { mode: i % 2 === 0 ? 'subset' : 'service' });
          shops.push(s);
          // Half promote; half hit an approval nobody gives, whose timeout aborts.
          const rollsBack = rand() < 0.5;
          const steps = rollsBack
            ? [{ setWeight: 20 }, { approval: { timeout: '2s', onTimeout: 'abort' } }, { setWeight: 100 }]
            : [{ setWeight: 20 }, { pause: { duration: '1s' } }, { setWeight: 60 }, { setWeight: 100 }];
          const handle = await startRollout(client, validateRollout(s.rolloutRaw(steps, { rollback: { scaleDownDelay: '1s' } })), { taskQueue });
          started.push({ handle, shop: s, expect: rollsBack ? 'RolledBack' : 'Promoted' });
          await sleep(rand() * 600);
        }
        await sleep(Math.max(0, killAt - (Date.now() - t0)));
        // What the worker is doing when it dies: activities in flight (inside an activity) or timers.
        const inFlight = await Promise.all(started.map(async (r) => (await r.handle.describe()).raw.pendingActivities?.length ?? 0));
        tally.activitiesInFlight += inFlight.reduce((a, b) => a + b, 0);
        await worker.kill('SIGKILL');
        tally.kills++;
        worker = await startWorkerProcess(taskQueue);
        for (const r of started) {
          const result = await awaitResult(r.handle);
          // On a mismatch the reason is shown too.
          expect({ id: r.handle.workflowId, outcome: result.outcome, ...(result.outcome !== r.expect ? { reason: result.reason } : {}) }).toEqual({ id: r.handle.workflowId, outcome: r.expect });
          if (result.outcome === 'Promoted') tally.promoted++;
          else tally.rolledBack++;
          await expectClean(r.shop);
        }
      } finally {
        await worker.kill('SIGTERM');
        for (const s of shops) await s.cleanup();
      }
    }
    process.stderr.write(`[faults] ${tally.kills} SIGKILLs under ${ROUNDS * 10} rollouts (${tally.activitiesInFlight} activities in flight at the kills): ${tally.promoted} promoted, ${tally.rolledBack} rolled back, all as their scenario dictates\n`);
    expect(tally.promoted + tally.rolledBack).toBe(ROUNDS * 10);
  });
});

describe('concurrent edits of the VirtualService', () => {
  let w: TestWorker;
  let s: Mushop;
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(async () => {
    await w?.close();
  });
  beforeEach(async () => {
    s = await createMushop(kc, { mode: 'subset' });
  });
  afterEach(async () => {
    await s?.cleanup();
  });

  /** Someone sets the primary route to 100/0 by hand, as an emergency rollback with kubectl would. */
  async function editByHand() {
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const vs = await clusterView(kc, s.namespace).vs();
    const i = vs.spec.http.findIndex((h) => h.name === 'primary');
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace: s.namespace, plural: 'virtualservices', name: 'storefront',
        body: [{ op: 'replace', path: `/spec/http/${i}/route/0/weight`, value: 100 }, { op: 'replace', path: `/spec/http/${i}/route/1/weight`, value: 0 }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  }

  it('onDrift pause (default): the change is not overwritten; the rollout holds and names it', async () => {
    const handle = await startRollout(w.client, validateRollout(s.rolloutRaw([{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { setWeight: 100 }])), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'Paused');
    await editByHand();
    await handle.executeUpdate('resume', { args: [{ by: 'jest' }] });
    const held = await eventually('held by drift detection', async () => {
      const st = await handle.query(statusQuery);
      return st.phase === 'Paused' && st.pause?.by === 'drift detection' ? st : undefined;
    }, 30_000, 100);
    expect(held.message).toMatch(/canary weight is 0%, Ramp set 20% — changed outside Ramp; resume to re-assert/);
    expect(await clusterView(kc, s.namespace).canaryWeight()).toBe(0);
    await handle.executeUpdate('resume', { args: [{ by: 'oncall' }] });
    expect((await awaitResult(handle)).outcome).toBe('Promoted');
    expect(await clusterProblems(kc, s)).toEqual([]);
  });

  it('onDrift reassert: recorded, and Ramp writes its weight for the step anyway', async () => {
    const raw = s.rolloutRaw([{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: {} }]) as { spec: { traffic: Record<string, unknown> } };
    raw.spec.traffic.onDrift = 'reassert';
    const handle = await startRollout(w.client, validateRollout(raw), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'Paused');
    await editByHand();
    await handle.executeUpdate('resume', { args: [{ by: 'jest' }] });
    const next = await eventually('second pause', async () => {
      const st = await handle.query(statusQuery);
      return st.phase === 'Paused' && st.step.index === 3 ? st : undefined;
    }, 30_000, 100);
    expect(next.audit.find((a) => a.event === 'drift')?.reason).toMatch(/canary weight is 0%, Ramp set 20%/);
    expect(await clusterView(kc, s.namespace).canaryWeight()).toBe(60);
    await handle.executeUpdate('abort', { args: [{ reason: 'done', by: 'jest' }] });
    expect((await awaitResult(handle)).outcome).toBe('RolledBack');
  });
});
