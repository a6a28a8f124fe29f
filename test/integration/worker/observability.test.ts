/**
 * A worker process watched as in production: the local stack's Prometheus scrapes its two
 * endpoints, and a rollout's progress reads back through PromQL — the canary weight and the phase
 * during a pause, the analysis verdicts and the outcome after it, the series of the ended rollout
 * gone — while its stdout holds only JSON lines, every activity line naming the workflow id, run
 * id, rollout and step.
 */
import { Client, Connection } from '@temporalio/client';
import { startRollout } from '../../../src/client/rollouts';
import { validateRollout } from '../../../src/domain/spec/parse';
import { resumeUpdate, statusQuery } from '../../../src/shared/messages';
import { createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually, stackInfo, uniqueName } from '../../support/stack';
import { jsonLines, ObservedWorker, ownLines, promql, registerScrapeTargets, startObservedWorker } from './observed-worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
const info = stackInfo();
const id = uniqueName('obs');
const taskQueue = uniqueName('obs-tq');
let worker: ObservedWorker;
let unregister: (() => void) | undefined;
let shop: Mushop | undefined;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  worker = await startObservedWorker(taskQueue, { RAMP_LOG_LEVEL: 'debug' });
  unregister = registerScrapeTargets(id, [worker.http, worker.sdk]);
  connection = await Connection.connect({ address: info.temporal.address });
  client = new Client({ connection, namespace: info.temporal.namespace });
  shop = await createMushop(kc, { mode: 'subset' });
}, 120_000);

afterAll(async () => {
  unregister?.();
  await shop?.cleanup();
  await connection?.close();
  await worker?.stop();
});

/** The single value of a query once Prometheus has it (after a scrape or two). */
const valueOf = (query: string, want: (v: number) => boolean = () => true) => eventually(query, async () => {
  const r = await promql(query);
  return r.length === 1 && want(r[0]!.value) ? r[0]!.value : undefined;
}, 30_000, 500);

it("serves liveness and readiness, and Prometheus scrapes both of the worker's endpoints", async () => {
  expect((await fetch(`http://${worker.http}/healthz`)).status).toBe(200);
  const ready = await fetch(`http://${worker.http}/readyz`);
  expect([ready.status, await ready.text()]).toEqual([200, 'ready\n']);
  await valueOf(`ramp_worker_ready{ramp_worker="${id}"}`, (v) => v === 1);
  expect(await valueOf(`sum(temporal_num_pollers{ramp_worker="${id}",task_queue="${taskQueue}",poller_type="workflow_task"})`, (v) => v > 0)).toBeGreaterThan(0);
  const up = await promql(`up{ramp_worker="${id}"}`);
  expect(up.map((s) => [s.metric.instance, s.value]).sort()).toEqual([[worker.http, 1], [worker.sdk, 1]].sort());
});

it("a rollout's weight, phase, verdicts and outcome read back through PromQL, and its series end with it", async () => {
  const ns = shop!.namespace;
  const rollout = validateRollout(shop!.rolloutRaw([
    { setWeight: 20 },
    { pause: {} },
    { analysis: { interval: '1s', count: 2, metrics: [{ name: 'always-fine', query: 'vector(100)', thresholdRange: { min: 99 } }] } },
    { setWeight: 100 },
  ], { rollback: { scaleDownDelay: '1s' } }));
  const handle = await startRollout(client, rollout, { taskQueue, startedBy: 'jest' });
  const sel = `ramp_worker="${id}",namespace="${ns}",name="storefront"`;

  await eventually('Paused', async () => ((await handle.query(statusQuery)).phase === 'Paused' ? true : undefined), 90_000, 300);
  expect(await valueOf(`ramp_rollout_canary_weight_percent{${sel}}`, (v) => v === 20)).toBe(20);
  expect(await valueOf(`ramp_rollout_step{${sel}}`, (v) => v === 1)).toBe(1);
  expect(await valueOf(`ramp_rollouts{ramp_worker="${id}",phase="Paused"}`, (v) => v === 1)).toBe(1);
  const since = await valueOf(`ramp_rollout_phase_since_timestamp_seconds{${sel},phase="Paused"}`);
  const status = await handle.query(statusQuery);
  expect(since).toBe(Date.parse(status.phaseSince) / 1000);

  await handle.executeUpdate(resumeUpdate, { args: [{ by: 'jest' }] });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Promoted');

  expect(await valueOf(`ramp_rollout_outcomes_total{ramp_worker="${id}",outcome="Promoted"}`, (v) => v === 1)).toBe(1);
  expect(await valueOf(`ramp_rollout_outcomes_total{ramp_worker="${id}",outcome="RolledBack"}`)).toBe(0);
  // Two looks: the first keeps the analysis running, the second passes it.
  expect(await valueOf(`ramp_analysis_verdicts_total{ramp_worker="${id}",judge="metrics",decision="continue"}`, (v) => v === 1)).toBe(1);
  expect(await valueOf(`ramp_analysis_verdicts_total{ramp_worker="${id}",judge="metrics",decision="promote"}`, (v) => v === 1)).toBe(1);
  // The ended rollout's series left the worker, so Prometheus marks them stale.
  await eventually('weight series gone', async () => ((await promql(`ramp_rollout_canary_weight_percent{${sel}}`)).length === 0 ? true : undefined), 30_000, 500);
  expect(await promql(`ramp_rollout_phase_since_timestamp_seconds{${sel}}`)).toEqual([]);
  expect(await valueOf(`sum(ramp_rollouts{ramp_worker="${id}"})`, (v) => v === 0)).toBe(0);
  expect(await promql(`ramp_kubernetes_errors_total{ramp_worker="${id}"}`)).toEqual([]);

  // ---- the worker's logs ------------------------------------------------------------------------
  // The result reaches the client through Temporal while the worker's stdout reaches this process
  // through a pipe: the last activity's lines can trail the result, so wait for them.
  const types = () => new Set(jsonLines(worker.stdout()).filter((l) => l.workflowId === handle.workflowId).map((l) => l.activityType));
  await eventually('removeCanary logged', () => Promise.resolve(types().has('removeCanary') ? true : undefined), 20_000, 200).catch(() => undefined);
  const lines = jsonLines(worker.stdout());
  const rolloutKey = `${ns}/storefront`;
  const activity = lines.filter((l) => typeof l.activityType === 'string' && l.workflowId === handle.workflowId);
  expect([...new Set(activity.map((l) => l.activityType))]).toEqual(expect.arrayContaining(['preflight', 'ensureCanary', 'trafficSetWeight', 'measureAnalysis', 'promoteStable', 'removeCanary']));
  for (const l of activity) {
    expect(l).toMatchObject({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId, rollout: rolloutKey, step: expect.any(Number) });
  }
  // The measureAnalysis lines were logged at the analysis step.
  expect(new Set(activity.filter((l) => l.activityType === 'measureAnalysis').map((l) => l.step))).toEqual(new Set([2]));

  const about = lines.filter((l) => l.workflowId === handle.workflowId && typeof l.rollout === 'string');
  const phases = about.filter((l) => l.msg === 'rollout phase').map((l) => [l.phase, l.step]);
  expect(phases).toEqual(expect.arrayContaining([['Initializing', 0], ['Paused', 1]]));
  expect(about.filter((l) => l.msg === 'analysis verdict').map((l) => [l.decision, l.step])).toEqual([['continue', 2], ['promote', 2]]);
  expect(about.filter((l) => l.msg === 'rollout ended')).toEqual([expect.objectContaining({ outcome: 'Promoted', runId: handle.firstExecutionRunId, level: 'info' })]);
}, 240_000);

it('stops on SIGTERM with exit code 0, its last lines JSON too', async () => {
  expect(await worker.stop()).toBe(0);
  expect(() => jsonLines(worker.stdout())).not.toThrow();
  expect(ownLines(worker.stderr())).toEqual([]);
});
