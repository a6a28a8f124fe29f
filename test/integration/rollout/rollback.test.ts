/**
 * Rollbacks on the real stack: abort during a pause (weight 0 at once, canary gone after the
 * delay), a canary that never becomes ready, a failing analysis, a cancelled workflow; and
 * approve/abort sent with the stock Temporal CLI. How each ends as a Temporal workflow (failed with
 * its outcome, or completed when promoted) and how clients read it back (decisions/0022).
 */
import { activityCalls } from '../../../src/client/history';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, statusQuery } from '../../../src/shared/messages';
import { RampOutcome, RampPhase } from '../../../src/shared/search-attributes';
import { endedResult, rolloutResult, startRollout } from '../../../src/client/rollouts';
import type { HistoryRow } from '../../../src/client/cli/commands/history';
import { clusterView, createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, binaries, eventually, stackInfo, uniqueName } from '../../support/stack';
import { recordHistory } from '../../support/histories';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';
import { awaitResult } from '../../support/results';
import { ramp } from '../cli/ramp';

const kc = adminKubeConfig();
const info = stackInfo();
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

async function expectRestored() {
  const view = clusterView(kc, shop.namespace);
  expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
  expect((await view.dr()).spec).toEqual(shop.original.dr!.spec);
  expect(await view.deployment('storefront-original-canary')).toBeUndefined();
  expect((await view.deployment('storefront-original'))?.spec?.template.spec?.containers[0]?.image).toBe(shop.stableImage);
}

/** The stock CLI, run asynchronously: the worker shares this process and must keep running meanwhile. */
async function temporalCli(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(binaries().temporal, [...args, '--address', info.temporal.address, '--namespace', info.temporal.namespace], { encoding: 'utf8' });
  return stdout;
}

it('abort during a pause: canary weight 0 at once, canary gone after the scale-down delay', async () => {
  const view = clusterView(kc, shop.namespace);
  const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 30 }, { pause: {} }], { rollback: { scaleDownDelay: '3s' } }));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
  await phase(handle, 'Paused');
  expect(await view.canaryWeight()).toBe(30);

  const accepted = await handle.executeUpdate(abortUpdate, { args: [{ reason: 'p99 latency up', by: 'oncall' }] });
  expect(accepted.status.audit.slice(-2)).toMatchObject([
    { event: 'abort', by: 'oncall', reason: 'p99 latency up', via: 'update' },
    { event: 'rollback', reason: 'aborted by oncall: p99 latency up', via: 'workflow' },
  ]);
  expect(accepted.effect).toMatch(/^aborted: traffic goes back to stable first/);
  await eventually('canary weight 0', async () => ((await view.canaryWeight()) === 0 ? true : undefined), 10_000, 50);
  // Traffic leaves the canary first; the canary is still there during the scale-down delay.
  // (How fast is the benchmark's business: bench/results/rollout.md.)
  expect(await view.deployment('storefront-original-canary')).toBeDefined();

  const result = await awaitResult(handle);
  expect(result.outcome).toBe('RolledBack');
  expect(result.reason).toBe('aborted by oncall: p99 latency up');
  expect(result.status.phase).toBe('RolledBack');
  expect(result.status.weights).toEqual({ stable: 100, canary: 0 });
  // …and gone after it.
  await expectRestored();
  await recordHistory(handle, 'abort-during-pause');
});

it('a canary that never becomes ready is rolled back, with the reason in the result', async () => {
  const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 50 }], {
    canary: {
      image: 'iad.ocir.io/mushop/storefront:beta',
      versionLabel: { key: 'version', stable: 'original', canary: 'beta' },
      // No node has this label: the canary's pods stay Pending, as with an unschedulable image.
      podTemplatePatch: { spec: { nodeSelector: { 'ramp.dev/no-such-pool': 'true' } } },
    },
    progressDeadline: '4s',
  }));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('RolledBack');
  expect(result.reason).toMatch(/Deployment .*\/storefront-original-canary: 0 of 1 updated replicas available; not ready within the progress deadline/);
  expect(result.status.audit.map((a) => a.event)).toEqual(['start', 'rollback']);
  await expectRestored();
  await recordHistory(handle, 'canary-never-ready');
});

describe('with a metrics endpoint scraped by Prometheus', () => {
  let server: http.Server;
  let successRate = 100;
  let targetFile: string;
  const id = uniqueName('rollout-metrics');

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(`ramp_test_success_rate{test_id="${id}"} ${successRate}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    targetFile = path.join(info.prometheus.targetsDir, `${id}.json`);
    fs.writeFileSync(targetFile, JSON.stringify([{ targets: [`127.0.0.1:${(server.address() as AddressInfo).port}`] }]));
  });
  afterAll(async () => {
    fs.rmSync(targetFile, { force: true });
    await new Promise((r) => server.close(r));
  });

  /** Serves the value and waits until Prometheus has scraped it. */
  async function serveSuccessRate(value: number) {
    successRate = value;
    const query = encodeURIComponent(`ramp_test_success_rate{test_id="${id}"}`);
    await eventually(`metric scraped at ${value}`, async () => {
      const r = await fetch(`${info.prometheus.url}/api/v1/query?query=${query}`);
      const body = (await r.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1] === String(value) ? true : undefined;
    }, 20_000, 250);
  }

  const analysis = (query: string) => ({
    analysis: { interval: '1s', count: 3, failureLimit: 0, metrics: [{ name: 'success-rate', query, thresholdRange: { min: 99 } }] },
  });

  it('rolls back when the analysis fails, saying which metric and why', async () => {
    await serveSuccessRate(80);
    const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 20 }, analysis(`ramp_test_success_rate{test_id="${id}"}`), { setWeight: 100 }]));
    const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
    const result = await awaitResult(handle);
    expect(result.outcome).toBe('RolledBack');
    expect(result.reason).toMatch(/^analysis Failed: metric success-rate failed 1 of 1 measurements \(limit 0\): last value 80 below min 99/);
    expect(result.status.lastAnalysis).toMatchObject({ phase: 'Failed', source: 'step', measurements: [{ metric: 'success-rate', phase: 'Failed', value: 80 }] });
    await expectRestored();
    await recordHistory(handle, 'analysis-failed');
  });

  it('background analysis failing during a pause rolls back', async () => {
    await serveSuccessRate(80);
    const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }], {
      analysis: { interval: '1s', failureLimit: 1, metrics: [{ name: 'success-rate', query: `ramp_test_success_rate{test_id="${id}"}`, thresholdRange: { min: 99 } }] },
    }));
    const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
    const result = await awaitResult(handle);
    expect(result.outcome).toBe('RolledBack');
    expect(result.reason).toMatch(/^background analysis Failed: metric success-rate failed 2 of 2 measurements \(limit 1\)/);
    expect(result.status.lastAnalysis?.source).toBe('background');
    await expectRestored();
    await recordHistory(handle, 'background-analysis-failed');
  });

  it('never promotes on missing data: no series is inconclusive and holds the rollout for a person', async () => {
    const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 20 }, analysis(`ramp_test_success_rate{test_id="no-such-${id}"}`), { setWeight: 100 }]));
    const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
    const paused = await phase(handle, 'Paused');
    expect(paused.message).toMatch(/analysis inconclusive/);
    expect(paused.lastAnalysis?.phase).toBe('Inconclusive');
    await handle.executeUpdate(abortUpdate, { args: [{ reason: 'no data' }] });
    expect((await awaitResult(handle)).outcome).toBe('RolledBack');
  });

  it('continues when the analysis passes', async () => {
    await serveSuccessRate(100);
    const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 20 }, analysis(`ramp_test_success_rate{test_id="${id}"}`), { setWeight: 100 }]));
    const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
    const result = await awaitResult(handle);
    expect(result.outcome).toBe('Promoted');
    expect(result.status.lastAnalysis).toMatchObject({ phase: 'Successful' });
    await recordHistory(handle, 'analysis-passed');
  });
});

it('approve with the stock Temporal CLI (update), then it promotes', async () => {
  const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { approval: {} }, { setWeight: 100 }]));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
  await phase(handle, 'AwaitingApproval');
  await temporalCli(['workflow', 'update', 'execute', '--workflow-id', handle.workflowId, '--name', 'approve', '--input', '{"by":"oncall-cli"}']);
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Promoted');
  expect(result.status.audit.find((a) => a.event === 'approve')).toMatchObject({ by: 'oncall-cli', via: 'update' });
  await recordHistory(handle, 'cli-approve');
});

it('abort with the stock Temporal CLI (signal) rolls back; a malformed signal is refused and recorded', async () => {
  const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 10 }, { pause: {} }]));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
  await phase(handle, 'Paused');
  await temporalCli(['workflow', 'signal', '--workflow-id', handle.workflowId, '--name', 'abort', '--input', '{"reason": 42}']);
  await eventually('refused signal recorded', async () => {
    const s = await handle.query(statusQuery);
    return s.audit.some((a) => a.event === 'abort' && !a.accepted) ? s : undefined;
  }, 10_000, 100);
  expect((await handle.query(statusQuery)).phase).toBe('Paused');
  // The same wrong type as an update is refused back to the sender, and nothing changes.
  const before = await handle.query(statusQuery);
  const refused = await temporalCli(['workflow', 'update', 'execute', '--workflow-id', handle.workflowId, '--name', 'abort', '--input', '{"reason": 42}'])
    .then(() => 'accepted', (err: Error & { stderr?: string }) => `${err.message}${err.stderr ?? ''}`);
  expect(refused).toMatch(/abort: reason must be a string, got 42/);
  expect(await handle.query(statusQuery)).toEqual(before);
  await temporalCli(['workflow', 'signal', '--workflow-id', handle.workflowId, '--name', 'abort', '--input', '{"reason":"bad canary","by":"pagerduty"}']);
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('RolledBack');
  expect(result.reason).toBe('aborted by pagerduty: bad canary');
  await expectRestored();
  await recordHistory(handle, 'cli-abort-signal');
});

it('cancelling the workflow still rolls back, then ends as cancelled', async () => {
  const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 40 }, { pause: {} }], { rollback: { scaleDownDelay: '0s' } }));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
  await phase(handle, 'Paused');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  const s = await handle.query(statusQuery);
  expect(s.phase).toBe('RolledBack');
  expect(s.reason).toBe('the workflow was cancelled');
  await expectRestored();
  await recordHistory(handle, 'cancelled');
});

it('objects the spec names that do not exist: refused before any change, every problem listed', async () => {
  const raw = shop.rolloutRaw([{ setWeight: 10 }]) as { spec: { target: { service: string }; traffic: { virtualService: { name: string; routes: string[] } } } };
  raw.spec.traffic.virtualService = { name: 'no-such-vs', routes: ['primary'] };
  raw.spec.target.service = 'no-such-svc';
  const handle = await startRollout(w.client, validateRollout(raw), { taskQueue: w.taskQueue });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Refused');
  expect(result.status.phase).toBe('Refused');
  expect(result.status.problems).toEqual([
    expect.stringMatching(/^Service .*\/no-such-svc not found; create it, or set spec.target.service/),
    expect.stringMatching(/^VirtualService .*\/no-such-vs not found; create it, or set spec.traffic.virtualService.name/),
    // The route host defaults to the target Service, so the DestinationRule no longer matches it either.
    expect.stringMatching(/^DestinationRule .*\/storefront is for host "storefront", not "no-such-svc"/),
  ]);
  expect(result.reason).toMatch(/^refused before any change: the preflight found 3 problem\(s\)/);
  // Nothing was created: the canary never existed, routes untouched; the search attribute says Refused.
  expect(result.status.audit.map((a) => a.event)).toEqual(['start', 'refused']);
  await expectRestored();
  const history = await handle.fetchHistory();
  expect(activityCalls(history.events ?? []).map((c) => [c.name, c.outcome])).toEqual([['preflight', 'completed']]);
  expect((await handle.describe()).typedSearchAttributes.get(RampOutcome)).toBe('Refused');
});

it('a rollback that cannot finish ends in RollbackFailed, saying what is left to fix', async () => {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const rollout = validateRollout(shop.rolloutRaw([{ setWeight: 25 }, { pause: {} }], { rollback: { scaleDownDelay: '0s' } }));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
  await phase(handle, 'Paused');
  // Someone relabels the canary: Ramp no longer recognises it as its own and refuses to delete it.
  await apps.patchNamespacedDeployment(
    { name: 'storefront-original-canary', namespace: shop.namespace, body: { metadata: { labels: { 'ramp.dev/rollout': 'someone-else' } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  await handle.executeUpdate(abortUpdate, { args: [{ reason: 'test', by: 'jest' }] });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('RollbackFailed');
  expect(result.status.phase).toBe('RollbackFailed');
  expect(result.reason).toMatch(/aborted by jest: test; the rollback did not finish: 1 thing\(s\) left to fix by hand/);
  expect(result.status.leftToFix).toEqual([expect.stringMatching(/^delete the canary Deployment .*storefront-original-canary: refusing to delete/)]);
  // Traffic was still put back on stable before the failure.
  const view = clusterView(kc, shop.namespace);
  expect((await view.vs()).spec).toEqual(shop.original.vs.spec);
  await recordHistory(handle, 'rollback-failed');
});

it('the Temporal UI tells the outcome: a rolled-back rollout\'s workflow fails with it, a promoted one completes; clients and `ramp history` read both', async () => {
  const rolledBack = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 20 }, { approval: { timeout: '1s', onTimeout: 'abort' } }], { rollback: { scaleDownDelay: '0s' } })), { taskQueue: w.taskQueue });
  const failure = await rolledBack.result().then(() => undefined, (err: unknown) => err);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const cause = (failure as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause).toMatchObject({ type: 'RolloutRolledBack', message: 'rolled back: approval timed out after 1s', nonRetryable: true });
  expect((cause as ApplicationFailure).details?.[0]).toMatchObject({ outcome: 'RolledBack', reason: 'approval timed out after 1s', status: { phase: 'RolledBack', weights: { stable: 100, canary: 0 } } });
  const failedRun = await rolledBack.describe();
  expect(failedRun.status.name).toBe('FAILED');
  // The search attributes were set before the run failed.
  expect([failedRun.typedSearchAttributes.get(RampOutcome), failedRun.typedSearchAttributes.get(RampPhase)]).toEqual(['RolledBack', 'RolledBack']);
  await expectRestored();
  await recordHistory(rolledBack, 'failed-outcome-rolled-back');

  const promoted = await startRollout(w.client, validateRollout(shop.rolloutRaw([{ setWeight: 10 }])), { taskQueue: w.taskQueue });
  expect((await promoted.result()).outcome).toBe('Promoted');
  expect((await promoted.describe()).status.name).toBe('COMPLETED');

  // Clients read the outcome either way, with no worker needed for an ended run.
  const pinned = w.client.workflow.getHandle(rolledBack.workflowId, failedRun.runId, { followRuns: false });
  expect((await rolloutResult(pinned)).outcome).toBe('RolledBack');
  expect((await rolloutResult(promoted)).outcome).toBe('Promoted');
  expect((await endedResult(w.client, rolledBack.workflowId, failedRun.runId))?.reason).toBe('approval timed out after 1s');

  // Two runs of the target, newest first: the failure was not retried as a third.
  const hist = await ramp(['history', `${shop.namespace}/storefront`, '--output', 'json'], w.taskQueue);
  expect(hist.code).toBe(0);
  const rows = JSON.parse(hist.stdout) as HistoryRow[];
  expect(rows.map((r) => [r.status, r.outcome, r.reason])).toEqual([
    ['COMPLETED', 'Promoted', expect.stringMatching(/^promoted /)],
    ['FAILED', 'RolledBack', 'approval timed out after 1s'],
  ]);
});
