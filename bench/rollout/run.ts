/**
 * `npm run bench:rollout` — latency and cost of rollouts on the real local stack:
 *   1. abort → safe: from the `abort` update being accepted to the apiserver showing canary weight 0;
 *   2. verdict → safe: from a failing analysis measurement (its activity's completion in history)
 *      to the apiserver showing canary weight 0;
 *   3. cost of a standard rollout: history events, Temporal actions (the dev server's own `action`
 *      counter, which Temporal Cloud bills by), and VirtualService writes per weight change;
 *   4. git mode, abort → canary weight 0 in the cluster, with the emergency path on and off
 *      (bench/rollout/git-abort.ts); `--git-runs N` runs each variant N times (default 5, 0 skips it).
 * Results: bench/results/rollout.json and .md, with the machine's details. Timings never decide a
 * test's pass or fail; this is a measurement.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import * as k8s from '@kubernetes/client-node';
import { activityCalls, type ActivityCall } from '../../src/client/history';
import { rolloutResult, startRollout } from '../../src/client/rollouts';
import { validateRollout } from '../../src/domain/spec/parse';
import { abortUpdate, statusQuery } from '../../src/shared/messages';
import { loadWorkerConfig } from '../../src/worker/config';
import { createRampWorker } from '../../src/worker/worker';
import { clusterView, createMushop, Mushop } from '../../scripts/demo/mushop';
import { stackUp } from '../../scripts/stack/stack';
import { loadStackConfig } from '../../scripts/stack/config';
import { delta, scrape, type Snapshot } from '../scale/scrape';
import { untilCanaryZero } from './canary-zero';
import { GIT_FLUX_INTERVAL, GIT_POLL_MS, gitAbortToSafe } from './git-abort';

const ABORTS = Number(process.env.RAMP_BENCH_ABORTS ?? '60');
const VERDICTS = Number(process.env.RAMP_BENCH_VERDICTS ?? '50');
const CONCURRENCY = 4;

function gitRunsFlag(): number {
  const { values } = parseArgs({ options: { 'git-runs': { type: 'string', default: '5' } } });
  const n = Number(values['git-runs']);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--git-runs ${values['git-runs']}: must be a whole number of runs per variant, 0 or more (e.g. npm run bench:rollout -- --git-runs 5)`);
  return n;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function summary(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p90: quantile(s, 0.9), p99: quantile(s, 0.99), max: s.at(-1) ?? NaN, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Growth of the dev server's `action` counter (what Temporal Cloud bills) between two scrapes, by action type. */
function actionDelta(before: Snapshot, after: Snapshot): Record<string, number> {
  const types = new Set(after.filter((x) => x.name === 'action').map((x) => x.labels.action_type ?? 'unknown'));
  const d: Record<string, number> = {};
  for (const type of types) {
    const n = delta(before, after, 'action', (l) => (l.action_type ?? 'unknown') === type);
    if (n > 0) d[type] = n;
  }
  return d;
}

async function pool<T>(n: number, worker: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await worker(i);
    }
  }));
  return out;
}

async function main(): Promise<void> {
  const gitRuns = gitRunsFlag();
  const { info } = await stackUp();
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.kubernetes.kubeconfig);
  const taskQueue = `bench-${Date.now().toString(36)}`;
  const env = { TEMPORAL_ADDRESS: info.temporal.address, TEMPORAL_NAMESPACE: info.temporal.namespace, RAMP_TASK_QUEUE: taskQueue, KUBECONFIG: info.kubernetes.kubeconfig, RAMP_PROMETHEUS_URL: info.prometheus.url };
  const bundle = await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../src/workflows/index.ts'), logger: new DefaultLogger('ERROR') });
  const ramp = await createRampWorker(loadWorkerConfig(env), { workflowBundle: bundle });
  const running = ramp.worker.run();
  const connection = await Connection.connect({ address: info.temporal.address });
  const client = new Client({ connection, namespace: info.temporal.namespace });
  const shops: Mushop[] = [];
  const shop = async () => {
    const s = await createMushop(kc, { mode: 'subset' });
    shops.push(s);
    return s;
  };

  try {
    // 1. abort → safe
    const abortMs = await pool(ABORTS, async () => {
      const s = await shop();
      const h = await startRollout(client, validateRollout(s.rolloutRaw([{ setWeight: 20 }, { pause: {} }], { rollback: { scaleDownDelay: '1s' } })), { taskQueue });
      for (;;) {
        if ((await h.query(statusQuery)).phase === 'Paused') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await h.executeUpdate(abortUpdate, { args: [{ reason: 'bench', by: 'bench' }] });
      const accepted = Date.now();
      const safe = await untilCanaryZero(kc, s.namespace, { everyMs: 2, timeoutMs: 30_000 });
      await rolloutResult(h);
      await s.cleanup();
      return safe - accepted;
    });
    process.stderr.write(`abort → safe: ${JSON.stringify(summary(abortMs))}\n`);

    // 2. verdict → safe
    const failing = { analysis: { interval: '1s', count: 1, metrics: [{ name: 'always-fails', query: 'vector(0)', thresholdRange: { min: 99 } }] } };
    const verdictMs = await pool(VERDICTS, async () => {
      const s = await shop();
      const h = await startRollout(client, validateRollout(s.rolloutRaw([{ setWeight: 20 }, failing], { rollback: { scaleDownDelay: '1s' } })), { taskQueue });
      const r = await rolloutResult(h);
      await s.cleanup();
      if (r.outcome !== 'RolledBack' || !r.reason.startsWith('analysis Failed')) throw new Error(`verdict rollout ended ${r.outcome}: ${r.reason}`);
      // Both moments from history: the failing measurement's completion, and the completion of
      // the rollback's first undo — the routes put back, 100 % on stable (after the apiserver
      // answered it). For local activities these are the worker's clock, recorded in their markers.
      const calls = activityCalls((await h.fetchHistory()).events ?? []);
      const verdict = calls.find((c) => c.name === 'measureAnalysis');
      const weightZero = calls.find((c) => c.name === 'trafficUndo');
      const at = (c: ActivityCall | undefined) => c!.endedAt!;
      return at(weightZero) - at(verdict);
    });
    process.stderr.write(`verdict → safe: ${JSON.stringify(summary(verdictMs))}\n`);

    // 3. cost of a standard rollout: 6 steps, 10 analysis intervals
    const s = await shop();
    const before = (await clusterView(kc, s.namespace).vs()).metadata.generation;
    const passing = { analysis: { interval: '1s', count: 10, metrics: [{ name: 'always-passes', query: 'vector(100)', thresholdRange: { min: 99 } }] } };
    const steps = [{ setWeight: 10 }, { pause: { duration: '1s' } }, passing, { setWeight: 50 }, { pause: { duration: '1s' } }, { setWeight: 100 }];
    // Alone on the dev server, so its action counter counts this rollout only.
    const metricsUrl = `http://${info.temporal.address.split(':')[0]}:${loadStackConfig().ports.temporalMetrics}/metrics`;
    const actionsBefore = await scrape({ url: metricsUrl });
    if (!actionsBefore.some((x) => x.name === 'action')) throw new Error(`no \`action\` counter at ${metricsUrl}: is the Temporal dev server's metrics port right?`);
    const h = await startRollout(client, validateRollout(s.rolloutRaw(steps)), { taskQueue });
    const r = await rolloutResult(h);
    // The counter is updated as the server answers; give the last response a moment to land.
    await new Promise((res) => setTimeout(res, 1000));
    const actions = actionDelta(actionsBefore, await scrape({ url: metricsUrl }));
    const events = (await h.fetchHistory()).events ?? [];
    const after = (await clusterView(kc, s.namespace).vs()).metadata.generation;
    const calls = activityCalls(events);
    const weightChanges = calls.filter((c) => c.name === 'trafficSetWeight').length;
    // VirtualService writes: adding the canary at 0 + each weight change + restoring the routes.
    const vsWrites = after - before;
    const cost = {
      outcome: r.outcome,
      historyEvents: events.length,
      activities: calls.filter((c) => !c.local).length,
      localActivities: calls.filter((c) => c.local).length,
      timers: events.filter((e) => e.timerStartedEventAttributes).length,
      actions: Object.values(actions).reduce((a, b) => a + b, 0),
      actionsByType: actions,
      weightChanges,
      virtualServiceWrites: vsWrites,
      writesPerWeightChange: (vsWrites - 2) / weightChanges,
    };
    process.stderr.write(`cost: ${JSON.stringify(cost)}\n`);

    // 4. git mode: abort → safe, emergency path on and off
    const gitMs = await gitAbortToSafe(kc, client, info, taskQueue, gitRuns, (l) => process.stderr.write(`${l}\n`));
    const gitAbort = { emergency: summary(gitMs.emergency), noEmergency: summary(gitMs.noEmergency) };
    process.stderr.write(`git abort → safe: ${JSON.stringify(gitAbort)}\n`);

    const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? os.cpus()[0]?.model;
    const machine = { date: new Date().toISOString(), cpu, nproc: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kubernetes: info.kubernetes.version };
    const out = {
      machine, abortToSafeMs: summary(abortMs), verdictToSafeMs: summary(verdictMs), standardRollout: cost, gitAbortToSafeMs: gitAbort,
      raw: { abortToSafeMs: abortMs, verdictToSafeMs: verdictMs, gitAbortToSafeMs: gitMs },
    };
    const dir = path.resolve(__dirname, '../results');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'rollout.json'), JSON.stringify(out, null, 2) + '\n');
    const f = (x: number) => `${Math.round(x)} ms`;
    const a = out.abortToSafeMs;
    const v = out.verdictToSafeMs;
    fs.writeFileSync(path.join(dir, 'rollout.md'), [
      '# Rollout benchmark',
      '',
      `Generated by \`npm run bench:rollout\` on ${machine.date}: ${machine.cpu}, ${machine.nproc} cores, ${machine.memGiB} GiB, Node ${machine.node}, Kubernetes ${machine.kubernetes} (local stack: kube-apiserver + etcd 3.6, Temporal dev server on SQLite), ${CONCURRENCY} rollouts at a time, one worker process.`,
      '',
      '## Time to safe (canary weight 0 on the apiserver)',
      '',
      '| from | n | p50 | p90 | p99 | max | target |',
      '|---|---|---|---|---|---|---|',
      `| \`abort\` update accepted | ${a.n} | ${f(a.p50)} | ${f(a.p90)} | ${f(a.p99)} | ${f(a.max)} | p99 ≤ 1 s: ${a.p99 <= 1000 ? 'met' : '**missed**'} |`,
      `| failing analysis measurement recorded (both moments from history; the routes' restore completed) | ${v.n} | ${f(v.p50)} | ${f(v.p90)} | ${f(v.p99)} | ${f(v.max)} | — |`,
      '',
      'For comparison: Flagger rolls back when a canary fails `threshold` consecutive checks, one per `interval`; at the values its docs use (interval 1 m, threshold 5) its fastest rollback after a regression starts is about 5 minutes. Argo Rollouts on `abort` sets the canary weight to 0 at its next reconcile of the Rollout (event-driven, typically sub-second, no published figure); its analysis fails a step after `failureLimit`+1 failed measurements, one per `interval`.',
      '',
      '## Cost of a standard rollout (6 steps, 10 analysis measurements)',
      '',
      '| measure | value | target |',
      '|---|---|---|',
      `| history events | ${cost.historyEvents} | ≤ 150: ${cost.historyEvents <= 150 ? 'met' : '**missed**'} |`,
      `| activity tasks / local activities / timers | ${cost.activities} / ${cost.localActivities} / ${cost.timers} | — |`,
      `| Temporal actions (the dev server's \`action\` counter, the unit Temporal Cloud bills) | ${cost.actions}: ${Object.entries(cost.actionsByType).map(([k, v]) => `${k} ${v}`).join(', ')} | — |`,
      `| VirtualService writes per weight change | ${cost.writesPerWeightChange} (${cost.virtualServiceWrites} writes in all: the canary added at 0, ${cost.weightChanges} weight changes, the routes restored) | exactly 1: ${cost.writesPerWeightChange === 1 ? 'met' : '**missed**'} |`,
      '',
      '## Git mode: abort → canary weight 0 in the cluster',
      '',
      `From the \`abort\` update accepted to the first poll of the live VirtualService (one every ${GIT_POLL_MS} ms) showing canary weight 0; measured ${machine.date} on ${machine.cpu}, ${machine.nproc} cores, Kubernetes ${machine.kubernetes}. Each run commits the MuShop storefront to a new repository on the stack's git server, applied by the stack's Flux (source-controller and kustomize-controller; GitRepository and Kustomization \`interval: ${GIT_FLUX_INTERVAL}\`, Ramp requests a reconcile after each push either way), pauses a rollout at 20 % and aborts it; one rollout at a time, the two variants alternating.`,
      '',
      '| `spec.gitops.emergency` | n | median | max |',
      '|---|---|---|---|',
      `| \`true\` (default): the \`cleanup-route\` commit pushed, then the same routes written to the cluster | ${gitAbort.emergency.n} | ${f(gitAbort.emergency.p50)} | ${f(gitAbort.emergency.max)} |`,
      `| \`false\`: the routes come back when Flux applies the commit | ${gitAbort.noEmergency.n} | ${f(gitAbort.noEmergency.p50)} | ${f(gitAbort.noEmergency.max)} |`,
      '',
      'With the emergency path the routes reach the cluster right after the push (pushed first, so an agent reconciling in between applies the same routes, never the old ones): that time is Ramp\'s fetch, commit and push over HTTP, then one write. Without it they wait for Flux to fetch and apply the commit, which Ramp\'s reconcile request starts at once; an agent that ignores or queues that request would leave the canary serving until its next interval.',
      '',
    ].join('\n'));
  } finally {
    await connection.close();
    ramp.worker.shutdown();
    await running;
    await ramp.connection.close();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await Promise.all(shops.map((s) => core.deleteNamespace({ name: s.namespace }).catch(() => undefined)));
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
