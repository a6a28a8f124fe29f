/**
 * `npm run bench:scale [-- <scenario>… | startup] [--repeat n] [--append] [--rollouts n] [--out dir] [--label s]`:
 * many concurrent rollouts on one worker process against the real local stack (Temporal dev server
 * on SQLite, kube-apiserver with KWOK nodes, Prometheus scraping a metrics endpoint this process
 * serves over HTTP).
 *
 * Each rollout: canary (1 replica) → setWeight 20 → pause 10 s → analysis (built-in success rate
 * over 20 s, every 5 s, 3 measurements) → setWeight 60 → pause 10 s → setWeight 100 → promote. All of a
 * scenario's rollouts start at once (50 start calls in flight at a time); the run waits for all.
 *
 * Measured per run: total time, step lateness from history (bench/scale/history.ts), activity
 * queueing, RSS and CPU of the worker process and every stack component (bench/scale/procstat.ts),
 * and the components' own metrics (SQLite persistence latency, controller-manager throttling).
 * `startup` measures worker start-up with a prebuilt workflow bundle and with bundling at start.
 *
 * Results merge into bench/results/scale.json by scenario (a run of one scenario keeps the others)
 * and bench/results/scale.md is written from it. Timings never decide a test's pass or fail.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import * as k8s from '@kubernetes/client-node';
import { rolloutResult, startRollout } from '../../src/client/rollouts';
import { statusQuery } from '../../src/shared/messages';
import { searchAttributeFlags } from '../../src/shared/search-attributes';
import { validateRollout } from '../../src/domain/spec/parse';
import type { ResolvedRollout } from '../../src/domain/spec/schema';
import { createMushop, Mushop } from '../../scripts/demo/mushop';
import { loadBinaryPaths, loadStackConfig, statePaths } from '../../scripts/stack/config';
import { readRecord } from '../../scripts/stack/proc';
import { stackUp } from '../../scripts/stack/stack';
import { listenOnLoopback } from '../../scripts/traffic/demo-service';
import { serveCanaryMetrics } from './endpoint';
import { rolloutTimings, RolloutTimings, TimerLateness } from './history';
import { machineBusyOver, ProcSampler } from './procstat';
import { writeReport } from './report';
import { delta, scrape, ScrapeTarget, Snapshot, total, windowMean, windowQuantile } from './scrape';
import { rounded, summarize } from './stats';
import type { WorkerLine } from './worker';
import type { CodeState, MachineInfo, RunResult, ScaleResults, StartupResult } from './results';

const DEFAULT_RESULTS_DIR = path.resolve(__dirname, '../results');
const START_CONCURRENCY = 50;
const HISTORY_CONCURRENCY = 20;
const FIXTURE_CONCURRENCY = 20;
const TIMEOUT_MS = Number(process.env.SCALE_TIMEOUT_MIN ?? '25') * 60_000;

/** The rollout every scenario runs; timers are told apart by duration (history.ts). */
const PAUSE_MS = 10_000;
const INTERVAL_MS = 5_000;
const MEASUREMENTS = 3;
const STEPS = [
  { setWeight: 20 },
  { pause: { duration: '10s' } },
  // A 20 s rate window (not the 5 s interval): one late scrape on a loaded machine must not empty it.
  { analysis: { interval: '5s', count: MEASUREMENTS, metrics: [{ name: 'request-success-rate', window: '20s', thresholdRange: { min: 99 } }] } },
  { setWeight: 60 },
  { pause: { duration: '10s' } },
  { setWeight: 100 },
];
/** Time the steps take by themselves: two pauses and the waits before each measurement. */
const NOMINAL_MS = 2 * PAUSE_MS + MEASUREMENTS * INTERVAL_MS;

export interface Scenario {
  name: string;
  rollouts: number;
  /** Worker settings beyond the defaults (bench/scale/worker.ts). */
  env: Record<string, string>;
  what: string;
  /**
   * The run gets a Temporal dev server of its own, started and stopped by the bench, to see how far
   * a faster store moves the bend: an in-memory SQLite store (no file, no fsync), or a file with
   * SQLite pragmas (e.g. WAL journal, synchronous=NORMAL: fewer fsyncs per commit).
   */
  temporal?: { db: 'memory' } | { db: 'file'; pragmas: string[] };
  /** Runs per invocation unless --repeat says otherwise (default 2 below 1,000 rollouts, else 1). */
  repeats?: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'base-100', rollouts: 100, env: {}, what: 'defaults: 40 workflow-task slots, 100 activity and 100 local-activity slots, SDK cache size, prebuilt bundle' },
  { name: 'base-200', rollouts: 200, env: {}, what: 'defaults' },
  { name: 'base-300', rollouts: 300, env: {}, what: 'defaults' },
  { name: 'base-500', rollouts: 500, repeats: 1, env: {}, what: 'defaults' },
  { name: 'base-1000', rollouts: 1000, env: {}, what: 'defaults' },
  // The knobs one at a time, at 300 rollouts (below the bend, so their own effect shows) …
  { name: 'cache-100@300', rollouts: 300, repeats: 1, env: { RAMP_MAX_CACHED_WORKFLOWS: '100' }, what: 'maxCachedWorkflows 100 (300 rollouts share 100 cache slots)' },
  { name: 'wft-10@300', rollouts: 300, repeats: 1, env: { SCALE_MAX_WORKFLOW_TASKS: '10' }, what: 'maxConcurrentWorkflowTaskExecutions 10' },
  { name: 'wft-200@300', rollouts: 300, repeats: 1, env: { SCALE_MAX_WORKFLOW_TASKS: '200' }, what: 'maxConcurrentWorkflowTaskExecutions 200' },
  { name: 'act-20@300', rollouts: 300, repeats: 1, env: { RAMP_MAX_CONCURRENT_ACTIVITIES: '20' }, what: 'maxConcurrentActivityTaskExecutions 20 (readiness waits queue)' },
  // … and at 1,000, where it bends.
  { name: 'wft-200', rollouts: 1000, env: { SCALE_MAX_WORKFLOW_TASKS: '200' }, what: 'maxConcurrentWorkflowTaskExecutions 200' },
  { name: 'cache-250', rollouts: 1000, env: { RAMP_MAX_CACHED_WORKFLOWS: '250' }, what: 'maxCachedWorkflows 250 (1,000 rollouts share 250 cache slots)' },
  { name: 'sticky-60', rollouts: 1000, env: { SCALE_STICKY_TIMEOUT: '60s' }, what: 'stickyQueueScheduleToStartTimeout 60 s' },
  // The store under the dev server, swapped for a faster one.
  { name: 'memdb-1000', rollouts: 1000, env: {}, temporal: { db: 'memory' }, what: 'defaults, against a dev server of its own with an in-memory SQLite store' },
  {
    name: 'wal-1000', rollouts: 1000, env: {}, temporal: { db: 'file', pragmas: ['journal_mode=wal', 'synchronous=normal'] },
    what: 'defaults, against a dev server of its own with a SQLite file in WAL mode, synchronous=NORMAL',
  },
];

const log = (msg: string) => process.stderr.write(`[bench:scale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

// ---- the worker process ------------------------------------------------------------------------

interface WorkerHandle {
  child: ChildProcess;
  pid: number;
  ready: Extract<WorkerLine, { event: 'ready' }>;
  /** Spawn → `ready` line, wall clock. */
  spawnToReadyMs: number;
  samples: Extract<WorkerLine, { event: 'sample' }>[];
  stop(): Promise<void>;
}

/** Node arguments that run the bench worker: compiled JavaScript (as production runs dist/), or under tsx. */
type WorkerCommand = string[];

const TSX_WORKER: WorkerCommand = ['--import', 'tsx', path.join(__dirname, 'worker.ts')];

/**
 * Compiles the bench worker and the Ramp code it imports to plain JavaScript, as production runs
 * it (`node dist/src/worker/main.js`): tsx's on-the-fly compilation costs start-up time and memory
 * a deployed worker does not pay. The output goes under node_modules/.cache so that module
 * resolution (Node's and the workflow bundler's) finds the project's packages.
 */
function compileWorker(runId: string): { dir: string; command: WorkerCommand } {
  const root = path.resolve(__dirname, '../..');
  const dir = path.join(root, 'node_modules', '.cache', 'ramp-bench-scale', runId);
  fs.mkdirSync(dir, { recursive: true });
  const tsconfig = path.join(dir, 'tsconfig.json');
  fs.writeFileSync(tsconfig, JSON.stringify({
    extends: path.join(root, 'tsconfig.json'),
    compilerOptions: { outDir: path.join(dir, 'out'), rootDir: root, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], noEmit: false, sourceMap: false },
    // The workflows are only resolved by path (bundling at start), so they are listed too.
    files: [path.join(__dirname, 'worker.ts'), path.join(root, 'src', 'workflows', 'index.ts')],
    include: [],
  }));
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', tsconfig], { stdio: 'pipe' });
  } catch (err) {
    // tsc still emits when another change in progress has a type error; the entry check below decides.
    log(`tsc reported problems compiling the worker (emitted anyway): ${String((err as { stdout?: Buffer }).stdout ?? err).slice(0, 500)}`);
  }
  const entry = path.join(dir, 'out', 'bench', 'scale', 'worker.js');
  if (!fs.existsSync(entry)) throw new Error(`compiling the bench worker produced no ${entry}`);
  return { dir, command: [entry] };
}

async function spawnWorker(command: WorkerCommand, env: Record<string, string>, logFile: string): Promise<WorkerHandle> {
  const t0 = performance.now();
  const child = spawn(process.execPath, command, {
    env: { ...process.env, ...env },
    cwd: path.resolve(__dirname, '../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errLog = fs.createWriteStream(logFile, { flags: 'a' });
  child.stderr.pipe(errLog);
  const samples: WorkerHandle['samples'] = [];
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = await new Promise<WorkerHandle['ready']>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (l) => {
      let parsed: WorkerLine;
      try {
        parsed = JSON.parse(l) as WorkerLine;
      } catch {
        return;
      }
      if (parsed.event === 'ready') resolve(parsed);
      else samples.push(parsed);
    });
    child.once('exit', (code, sig) => reject(new Error(`bench worker exited (${code ?? sig}) before it was ready; see ${logFile}`)));
  });
  return {
    child,
    pid: child.pid!,
    ready,
    spawnToReadyMs: Math.round(performance.now() - t0),
    samples,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
      errLog.end();
    },
  };
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  const port = await listenOnLoopback(s);
  await new Promise((r) => s.close(r));
  return port;
}

// ---- component metrics -------------------------------------------------------------------------

interface Targets {
  temporal: ScrapeTarget;
  apiserver: ScrapeTarget;
  controllerManager: ScrapeTarget;
}

type Snapshots = Record<keyof Targets, Snapshot>;

async function snapshotAll(t: Targets): Promise<Snapshots> {
  const [temporal, apiserver, controllerManager] = await Promise.all([scrape(t.temporal), scrape(t.apiserver), scrape(t.controllerManager)]);
  return { temporal, apiserver, controllerManager };
}

const ms = (s: number) => Math.round(s * 1000 * 100) / 100;
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function componentMetrics(before: Snapshots, after: Snapshots) {
  const t = (name: string, f?: (l: Record<string, string>) => boolean) => windowMean(before.temporal, after.temporal, name, f);
  const update = (l: Record<string, string>) => l.operation === 'UpdateWorkflowExecution';
  const persistence = t('persistence_latency');
  const updates = t('persistence_latency', update);
  const cm = (f: (l: Record<string, string>) => boolean) => windowMean(before.controllerManager, after.controllerManager, 'rest_client_rate_limiter_duration_seconds', f);
  const queue = (name: string) => windowMean(before.controllerManager, after.controllerManager, 'workqueue_queue_duration_seconds', (l) => l.name === name);
  const api = (f: (l: Record<string, string>) => boolean) => windowMean(before.apiserver, after.apiserver, 'apiserver_request_duration_seconds', f);
  const writes = api((l) => MUTATING.has(l.verb ?? ''));
  const reads = api((l) => l.verb === 'GET' || l.verb === 'LIST');
  const throttle = cm(() => true);
  return {
    temporal: {
      persistenceRequests: persistence.count,
      persistenceMeanMs: ms(persistence.mean),
      persistenceP99Ms: ms(windowQuantile(before.temporal, after.temporal, 'persistence_latency', 0.99)),
      updateWorkflowExecutionMeanMs: ms(updates.mean),
      updateWorkflowExecutionP99Ms: ms(windowQuantile(before.temporal, after.temporal, 'persistence_latency', 0.99, update)),
      respondWorkflowTaskCompletedMeanMs: ms(t('service_latency', (l) => l.operation === 'RespondWorkflowTaskCompleted' && l.service_name === 'frontend').mean),
    },
    controllerManager: {
      requests: delta(before.controllerManager, after.controllerManager, 'rest_client_requests_total'),
      throttledWaitTotalS: Math.round(throttle.count * (Number.isNaN(throttle.mean) ? 0 : throttle.mean)),
      throttledWaitMeanMs: ms(throttle.mean),
      deploymentQueueMeanWaitMs: ms(queue('deployment').mean),
      replicasetQueueMeanWaitMs: ms(queue('replicaset').mean),
    },
    apiserver: {
      requests: delta(before.apiserver, after.apiserver, 'apiserver_request_total'),
      writes: writes.count,
      writeMeanMs: ms(writes.mean),
      readMeanMs: ms(reads.mean),
    },
  };
}

/** One 10-second window of the dev server's own metrics. */
export interface TemporalPoint {
  /** Seconds since the run began (end of the window). */
  t: number;
  /**
   * Seconds spent in persistence calls per second. The dev server's SQLite store runs one call at
   * a time, so at ≥ 1 calls queue behind each other: the store is saturated.
   */
  persistenceBusy: number;
  updatesPerS: number;
  workflowTasksCompletedPerS: number;
  respondMeanMs: number;
}

/** Scrapes the dev server every 10 s while a run lasts. */
function watchTemporal(target: ScrapeTarget, first: Snapshot, t0: number): { points: TemporalPoint[]; stop(): void } {
  const points: TemporalPoint[] = [];
  let prev = first;
  let prevAt = t0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void scrape(target).then((snap) => {
      const now = Date.now();
      const dt = (now - prevAt) / 1000;
      const respond = (l: Record<string, string>) => l.operation === 'RespondWorkflowTaskCompleted' && l.service_name === 'frontend';
      const r = windowMean(prev, snap, 'service_latency', respond);
      if (snap.length > 0) {
        points.push({
          t: Math.round((now - t0) / 1000),
          persistenceBusy: Math.round((delta(prev, snap, 'persistence_latency_sum') / dt) * 100) / 100,
          updatesPerS: Math.round(delta(prev, snap, 'persistence_latency_count', (l) => l.operation === 'UpdateWorkflowExecution') / dt),
          workflowTasksCompletedPerS: Math.round((r.count / dt) * 10) / 10,
          respondMeanMs: Math.round(r.mean * 1000),
        });
        prev = snap;
        prevAt = now;
      }
      busy = false;
    });
  }, 10_000);
  return { points, stop: () => clearInterval(timer) };
}

/** The worker's SDK metrics at the end of a run (a fresh worker per run: the totals are the run's). */
function sdkMetrics(s: Snapshot) {
  const hist = (name: string) => {
    const count = total(s, `temporal_${name}_count`);
    return { count, meanMs: count > 0 ? Math.round((total(s, `temporal_${name}_sum`) / count) * 10) / 10 : NaN };
  };
  // Run time of each call type, regular and local activities: mean and the p99 bucket bound.
  const callRunMs: Record<string, { count: number; meanMs: number; p99Ms: number }> = {};
  for (const [metric, suffix] of [['activity_execution_latency', ''], ['local_activity_execution_latency', ' (local)']] as const) {
    const types = new Set(s.filter((x) => x.name === `temporal_${metric}_count`).map((x) => x.labels.activity_type ?? '?'));
    for (const type of types) {
      const f = (l: Record<string, string>) => l.activity_type === type;
      const m = windowMean([], s, `temporal_${metric}`, f);
      callRunMs[`${type}${suffix}`] = { count: m.count, meanMs: Math.round(m.mean * 10) / 10, p99Ms: windowQuantile([], s, `temporal_${metric}`, 0.99, f) };
    }
  }
  return {
    totals: {
      stickyCacheHits: total(s, 'temporal_sticky_cache_hit'),
      stickyCacheMisses: total(s, 'temporal_sticky_cache_miss'),
      stickyCacheForcedEvictions: total(s, 'temporal_sticky_cache_total_forced_eviction'),
    },
    latencies: {
      workflowTaskScheduleToStart: hist('workflow_task_schedule_to_start_latency'),
      workflowTaskExecution: hist('workflow_task_execution_latency'),
      workflowTaskReplay: hist('workflow_task_replay_latency'),
      activityScheduleToStart: hist('activity_schedule_to_start_latency'),
    },
    callRunMs,
  };
}

/** The bench's rollout of one fixture: 1 canary replica, a deadline long enough for a busy cluster. */
function benchRollout(shop: Mushop, image: string): ResolvedRollout {
  return validateRollout(shop.rolloutRaw(STEPS, {
    canary: { image, replicas: 1, versionLabel: { key: 'version', stable: 'original', canary: 'beta' } },
    progressDeadline: '20m',
  }));
}

// ---- fixtures ----------------------------------------------------------------------------------

async function createFixtures(kc: k8s.KubeConfig, runId: string, n: number): Promise<{ shops: Mushop[]; createS: number; availableS: number }> {
  const t0 = performance.now();
  const shops = await pool(n, FIXTURE_CONCURRENCY, (i) =>
    createMushop(kc, { mode: 'subset', replicas: 1, namespace: `scale-${runId}-${String(i).padStart(4, '0')}` }));
  const createS = (performance.now() - t0) / 1000;
  log(`${n} fixtures created in ${createS.toFixed(1)} s; waiting for their stable Deployments`);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const want = new Set(shops.map((s) => s.namespace));
  for (;;) {
    const list = await apps.listDeploymentForAllNamespaces({ labelSelector: 'app=storefront' });
    const ready = list.items.filter((d) => want.has(d.metadata!.namespace!) && (d.status?.availableReplicas ?? 0) >= 1).length;
    if (ready === n) break;
    if (performance.now() - t0 > 20 * 60_000) throw new Error(`only ${ready} of ${n} fixture Deployments Available after 20 min`);
    await sleep(2000);
  }
  return { shops, createS: Math.round(createS), availableS: Math.round((performance.now() - t0) / 1000) };
}

// ---- a dev server of the run's own ------------------------------------------------------------

/**
 * Starts a Temporal dev server of the run's own on free ports (Ramp's search attributes registered
 * at start, as the stack does); `stop` ends it by its pid.
 */
async function startOwnTemporal(
  exe: string, namespace: string, store: NonNullable<Scenario['temporal']>, dir: string,
): Promise<{ address: string; metricsUrl: string; pid: number; stop(): Promise<void> }> {
  const [port, ui, http2, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const logFile = path.join(dir, 'temporal.log');
  const out = fs.openSync(logFile, 'a');
  const storeArgs = store.db === 'memory'
    ? []
    : [`--db-filename=${path.join(dir, 'temporal.db')}`, ...store.pragmas.flatMap((p) => ['--sqlite-pragma', p])];
  const child = spawn(exe, [
    'server', 'start-dev', '--headless', '--ip=127.0.0.1', `--port=${port}`, `--ui-port=${ui}`, `--http-port=${http2}`, `--metrics-port=${metrics}`,
    `--namespace=${namespace}`, '--log-level=warn', ...storeArgs, ...searchAttributeFlags().flatMap((f) => ['--search-attribute', f]),
  ], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const conn = await Connection.connect({ address, connectTimeout: 1000 }).catch(() => undefined);
    const attrs = conn ? await conn.operatorService.listSearchAttributes({ namespace }).catch(() => undefined) : undefined;
    await conn?.close();
    if (attrs && Object.keys(attrs.customAttributes ?? {}).length >= searchAttributeFlags().length) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the bench's own dev server did not become ready; see ${logFile}`);
    }
    await sleep(500);
  }
  return {
    address,
    metricsUrl: `http://127.0.0.1:${metrics}/metrics`,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Runs a scenario against the stack's dev server, or against one of its own when it asks for it. */
async function runScenarioOnItsServer(ctx: RunContext, sc: Scenario, repeat: number): Promise<RunResult> {
  if (!sc.temporal) return runScenario(ctx, sc, repeat);
  const dir = fs.mkdtempSync(path.join(ctx.tmp, `temporal-${sc.name}-${repeat}-`));
  const server = await startOwnTemporal(ctx.temporalExe, ctx.workerEnv.TEMPORAL_NAMESPACE!, sc.temporal, dir);
  log(`${sc.name} #${repeat}: own dev server (${JSON.stringify(sc.temporal)}) pid ${server.pid} on ${server.address}`);
  const connection = await Connection.connect({ address: server.address });
  try {
    return await runScenario({
      ...ctx,
      client: new Client({ connection, namespace: ctx.workerEnv.TEMPORAL_NAMESPACE! }),
      workerEnv: { ...ctx.workerEnv, TEMPORAL_ADDRESS: server.address },
      stackPids: { ...ctx.stackPids, temporal: server.pid },
      targets: { ...ctx.targets, temporal: { url: server.metricsUrl } },
    }, sc, repeat);
  } finally {
    await connection.close();
    await server.stop();
    // Keep the log; the store (and its -wal, -shm files) can be large.
    for (const f of fs.readdirSync(dir).filter((x) => x.startsWith('temporal.db'))) fs.rmSync(path.join(dir, f), { force: true });
  }
}

// ---- one scenario run --------------------------------------------------------------------------

interface RunContext {
  runId: string;
  client: Client;
  kc: k8s.KubeConfig;
  shops: Mushop[];
  workerEnv: Record<string, string>;
  stackPids: Record<string, number>;
  targets: Targets;
  tmp: string;
  code: CodeState;
  workerCommand: WorkerCommand;
  /** The stack's `temporal` binary, for scenarios that run their own dev server. */
  temporalExe: string;
}

async function runScenario(ctx: RunContext, sc: Scenario, repeat: number): Promise<RunResult> {
  const shops = ctx.shops.slice(0, sc.rollouts);
  // The machine is shared (other test runs use the same stack): start on a quiet machine if one comes.
  let idleBusyPct = await machineBusyOver(5000);
  for (let waited = 0; idleBusyPct > 30 && waited < 180_000; waited += 5000) idleBusyPct = await machineBusyOver(5000);
  if (idleBusyPct > 30) log(`${sc.name} #${repeat}: the machine is ${idleBusyPct} % busy before the run (other work); measuring anyway`);
  const image = `iad.ocir.io/mushop/storefront:scale-${ctx.runId}-${sc.name}-${repeat}`;
  const metricsPort = await freePort();
  const worker = await spawnWorker(ctx.workerCommand, { ...ctx.workerEnv, ...sc.env, SCALE_SDK_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` }, path.join(ctx.tmp, `worker-${sc.name}-${repeat}.log`));
  log(`${sc.name} #${repeat}: worker pid ${worker.pid} ready in ${worker.spawnToReadyMs} ms (${JSON.stringify(worker.ready.options)})`);
  const sampler = new ProcSampler({ worker: worker.pid, driver: process.pid, ...ctx.stackPids });
  const before = await snapshotAll(ctx.targets);
  const sampleFrom = worker.samples.length;
  sampler.start();
  const t0 = Date.now();
  const temporalSeries = watchTemporal(ctx.targets.temporal, before.temporal, t0);
  const outcomes: Record<string, number> = {};
  let unfinished = 0;
  let startsDoneAt: number;
  let lastDoneAt = 0;
  const startCallMs: number[] = [];
  let after: Snapshots;
  let sdk: ReturnType<typeof sdkMetrics>;
  const workflowIds: string[] = [];
  /** Why the rollouts that never finished were waiting (their status message). */
  const stuck: string[] = [];
  try {
    const handles = await pool(shops.length, START_CONCURRENCY, async (i) => {
      const s = shops[i]!;
      const c0 = performance.now();
      const h = await startRollout(ctx.client, benchRollout(s, image), { taskQueue: ctx.workerEnv.RAMP_TASK_QUEUE!, startedBy: 'bench:scale' });
      startCallMs.push(performance.now() - c0);
      workflowIds[i] = h.workflowId;
      return h;
    });
    startsDoneAt = Date.now();
    log(`${sc.name} #${repeat}: ${handles.length} rollouts started in ${((startsDoneAt - t0) / 1000).toFixed(1)} s`);
    let done = 0;
    let stopWaiting: () => void = () => undefined;
    const stopped = new Promise<undefined>((r) => {
      stopWaiting = () => r(undefined);
    });
    const timeLimit = setTimeout(stopWaiting, Math.max(0, t0 + TIMEOUT_MS - Date.now()));
    const finished = new Set<number>();
    // Rollouts that wait for a person (paused: drift detected, analysis inconclusive) never finish
    // by themselves: once only such rollouts are left, and stay so for a minute, stop waiting.
    let allPausedSince: number | undefined;
    let checking: Promise<void> | undefined;
    const progress = setInterval(() => {
      log(`${sc.name} #${repeat}: ${done}/${handles.length} finished, ${Math.round((Date.now() - t0) / 1000)} s`);
      const left = handles.map((h, i) => [h, i] as const).filter(([, i]) => !finished.has(i));
      if (left.length === 0 || left.length > 400 || checking) return;
      // Bounded: a query waits for the worker, and none may outlive the run (its connection closes).
      const query = (h: (typeof left)[number][0]) => ctx.client.connection.withDeadline(Date.now() + 10_000, () => h.query(statusQuery)).catch(() => undefined);
      checking = pool(left.length, 20, (j) => query(left[j]![0])).then((st) => {
        checking = undefined;
        const paused = st.filter((x) => x?.phase === 'Paused');
        if (paused.length < left.length) {
          allPausedSince = undefined;
          return;
        }
        allPausedSince ??= Date.now();
        stuck.splice(0, stuck.length, ...paused.map((x) => x!.message));
        if (Date.now() - allPausedSince >= 60_000) {
          log(`${sc.name} #${repeat}: the ${left.length} rollouts left are paused, waiting for a person: ${[...new Set(stuck.map((m) => m.replace(/scale-[a-z0-9]+-\d+/g, '…')))].join(' | ')}`);
          stopWaiting();
        }
      });
    }, 30_000);
    await Promise.all(handles.map(async (h, i) => {
      const r = await Promise.race([rolloutResult(h).catch((err: Error) => ({ outcome: `error: ${err.name}` })), stopped]);
      if (r === undefined) {
        unfinished++;
        return;
      }
      finished.add(i);
      done++;
      lastDoneAt = Date.now();
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    }));
    clearInterval(progress);
    clearTimeout(timeLimit);
    await checking;
    if (unfinished > 0) {
      log(`${sc.name} #${repeat}: ${unfinished} rollouts unfinished after ${Math.round((Date.now() - t0) / 60_000)} min; cancelling them (each rolls back)`);
      await pool(handles.length, START_CONCURRENCY, async (i) => {
        const h = handles[i]!;
        const d = await h.describe();
        if (d.status.name === 'RUNNING') await h.cancel();
      });
      // Rolling back takes seconds; whatever is still running after that is left for the report.
      await sleep(60_000);
    }
  } finally {
    sampler.stop();
    temporalSeries.stop();
    after = await snapshotAll(ctx.targets);
    sdk = sdkMetrics(await scrape({ url: `http://127.0.0.1:${metricsPort}/metrics` }));
    await worker.stop();
  }

  log(`${sc.name} #${repeat}: reading ${workflowIds.length} histories`);
  const timings: RolloutTimings[] = await pool(workflowIds.length, HISTORY_CONCURRENCY, async (i) => {
    const events = (await ctx.client.workflow.getHandle(workflowIds[i]!).fetchHistory()).events ?? [];
    return rolloutTimings(events, { pauseMs: PAUSE_MS, intervalMs: INTERVAL_MS });
  });

  const timers = timings.flatMap((t) => t.timers);
  const calls = timings.flatMap((t) => t.calls);
  const queued = calls.filter((c) => !c.local && c.attempt === 1 && c.scheduleToStartMs !== undefined);
  const group = (xs: typeof calls, f: (c: (typeof calls)[number]) => number) => {
    const by: Record<string, number[]> = {};
    for (const c of xs) (by[`${c.type}${c.local ? ' (local)' : ''}`] ??= []).push(f(c));
    return Object.fromEntries(Object.entries(by).map(([k, v]) => [k, rounded(summarize(v))]));
  };
  const waits = (i: number) => timings.map((t) => t.calls.filter((c) => c.type === 'waitAvailable')[i]?.runMs).filter((x): x is number => x !== undefined);
  const samples = worker.samples.slice(sampleFrom);
  // Resource use over the run proper: until the last rollout finished (not the wait for stuck ones).
  const activeUntil = lastDoneAt || Infinity;
  const usage = sampler.usage(activeUntil);
  const comps = componentMetrics(before, after);
  const lat = (f: (x: TimerLateness) => number, kind?: TimerLateness['kind']) => rounded(summarize(timers.filter((x) => !kind || x.kind === kind).map(f)));
  const secs = (f: (t: RolloutTimings) => number) => rounded(summarize(timings.map((t) => f(t) / 1000)), 1);
  return {
    date: new Date(t0).toISOString(),
    code: ctx.code,
    rollouts: sc.rollouts,
    env: sc.env,
    workerOptions: worker.ready.options,
    outcomes,
    unfinished,
    stuck,
    totalS: Math.round(((lastDoneAt || Date.now()) - t0) / 100) / 10,
    startAllS: Math.round((startsDoneAt - t0) / 100) / 10,
    startCallMs: rounded(summarize(startCallMs)),
    durationS: secs((t) => t.durationMs),
    phasesS: {
      setup: secs((t) => t.setupMs),
      stepsBeyondNominal: secs((t) => t.stepsMs - NOMINAL_MS),
      finish: secs((t) => t.finishMs),
    },
    firstTaskMs: rounded(summarize(timings.map((t) => t.firstTaskMs))),
    latenessMs: {
      all: lat((x) => x.lateMs),
      pause: lat((x) => x.lateMs, 'pause'),
      analysis: lat((x) => x.lateMs, 'analysis'),
      fire: lat((x) => x.fireMs),
      queue: lat((x) => x.queueMs),
      worker: lat((x) => x.workerMs),
      committed: lat((x) => x.committedMs),
    },
    activityScheduleToStartMs: { all: rounded(summarize(queued.map((c) => c.scheduleToStartMs!))), byType: group(queued, (c) => c.scheduleToStartMs!) },
    callRunMs: sdk.callRunMs,
    callRetries: calls.filter((c) => c.attempt > 1).length,
    canaryReadyS: rounded(summarize(waits(0).map((x) => x / 1000)), 1),
    stableReadyS: rounded(summarize(waits(1).map((x) => x / 1000)), 1),
    historyEvents: rounded(summarize(timings.map((t) => t.events))),
    workflowTaskTimeouts: timings.reduce((a, t) => a + t.workflowTaskTimeouts, 0),
    workflowTaskFailures: timings.reduce((a, t) => a + t.workflowTaskFailures, 0),
    resources: {
      usage,
      machineBusyPct: sampler.machineBusyPct(activeUntil),
      idleBusyPctBefore: idleBusyPct,
      // CPU of everything not sampled by name (another test run, the system), in % of one core.
      otherCpuPct: Math.round(sampler.machineBusyPct(activeUntil).mean * os.cpus().length - Object.values(usage).reduce((a, u) => a + u.meanCpuPct, 0)),
    },
    worker: {
      spawnToReadyMs: worker.spawnToReadyMs,
      loopDelayMs: {
        p99Max: Math.round(Math.max(0, ...samples.map((s) => s.loopDelayMs.p99))),
        max: Math.round(Math.max(0, ...samples.map((s) => s.loopDelayMs.max))),
        p50Mean: Math.round((samples.reduce((a, s) => a + s.loopDelayMs.p50, 0) / Math.max(1, samples.length)) * 10) / 10,
      },
      peakCachedWorkflows: Math.max(0, ...samples.map((s) => s.cachedWorkflows)),
      // At the sample of highest RSS: how much of it is the main V8 heap and buffers (the rest is native: SDK core, workflow isolate).
      memoryAtPeakMiB: samples.reduce<(typeof samples)[number]['memoryMiB'] | undefined>((best, s) => (s.memoryMiB && (!best || s.memoryMiB.rss > best.rss) ? s.memoryMiB : best), undefined),
      peakInFlightActivities: Math.max(0, ...samples.map((s) => s.inFlightActivities)),
      sdk: { ...sdk.totals, ...sdk.latencies },
    },
    ...comps,
    series: sampler.series(),
    temporalSeries: temporalSeries.points.filter((p) => p.t * 1000 <= activeUntil - t0 + 10_000),
    raw: { latenessMs: timers.map((x) => Math.round(x.lateMs)) },
  };
}

// ---- startup: prebuilt bundle vs bundling at start ---------------------------------------------

async function measureStartup(command: WorkerCommand, workerEnv: Record<string, string>, bundlePath: string, tmp: string, repeats: number): Promise<StartupResult> {
  const one = async (cmd: WorkerCommand, env: Record<string, string>, name: string) => {
    const w = await spawnWorker(cmd, { ...workerEnv, ...env }, path.join(tmp, `startup-${name}.log`));
    let rss: number;
    try {
      rss = Number(fs.readFileSync(`/proc/${w.pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+)/m)?.[1] ?? 0) / 1024;
    } catch {
      rss = NaN;
    }
    await w.stop();
    return { spawnToReadyMs: w.spawnToReadyMs, createMs: w.ready.startup.createMs, peakRssMiB: Math.round(rss) };
  };
  const variants = {
    prebuilt: [command, { SCALE_WORKFLOW_BUNDLE: bundlePath }],
    atStart: [command, { SCALE_WORKFLOW_BUNDLE: '' }],
    tsxPrebuilt: [TSX_WORKER, { SCALE_WORKFLOW_BUNDLE: bundlePath }],
  } as const satisfies Record<string, readonly [WorkerCommand, Record<string, string>]>;
  const got: Record<keyof typeof variants, Awaited<ReturnType<typeof one>>[]> = { prebuilt: [], atStart: [], tsxPrebuilt: [] };
  for (let i = 0; i < repeats; i++) {
    // Round-robin, so a warm file cache favours none.
    for (const [name, [cmd, env]] of Object.entries(variants) as [keyof typeof variants, (typeof variants)[keyof typeof variants]][]) {
      got[name].push(await one(cmd, env, `${name}-${i}`));
    }
    log(`startup ${i + 1}/${repeats}: ${Object.entries(got).map(([k, v]) => `${k} ${v.at(-1)!.spawnToReadyMs} ms`).join(', ')}`);
  }
  const sum = (xs: Awaited<ReturnType<typeof one>>[]) => ({
    spawnToReadyMs: rounded(summarize(xs.map((x) => x.spawnToReadyMs))),
    workerCreateMs: rounded(summarize(xs.map((x) => x.createMs))),
    peakRssMiB: rounded(summarize(xs.map((x) => x.peakRssMiB))),
  });
  return { date: new Date().toISOString(), repeats, prebuilt: sum(got.prebuilt), atStart: sum(got.atStart), tsxPrebuilt: sum(got.tsxPrebuilt) };
}

// ---- main --------------------------------------------------------------------------------------

function machineInfo(kubernetes: string): MachineInfo {
  const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return { date: new Date().toISOString(), cpu, nproc: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kubernetes };
}

/** The commit measured, and the files under src/ that differ from it (another change in progress). */
function codeState(): CodeState {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: path.resolve(__dirname, '../..'), encoding: 'utf8', stdio: 'pipe' }).trimEnd();
  try {
    return { commit: git('rev-parse', '--short', 'HEAD'), uncommittedSrc: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).map((l) => l.slice(3)) };
  } catch {
    // Not a git checkout (an exported tree of an older commit): SCALE_CODE_COMMIT names it.
    return { commit: process.env.SCALE_CODE_COMMIT ?? 'unknown', uncommittedSrc: [] };
  }
}

function readResults(file: string): ScaleResults | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ScaleResults;
  } catch {
    return undefined;
  }
}

interface Args {
  names: string[];
  repeat: number | undefined;
  /** Overrides the rollout count of the chosen scenarios (a smoke run). */
  rollouts: number | undefined;
  /** Where results go; default bench/results. */
  out: string;
  /** Appended to the scenario names in the results (e.g. `@611750b` for a run of an older commit). */
  label: string;
  /** Add the new runs to a scenario's earlier ones instead of replacing them. */
  append: boolean;
}

function parseArgs(argv: string[]): Args {
  const names: string[] = [];
  let repeat: number | undefined;
  let rollouts: number | undefined;
  let out = DEFAULT_RESULTS_DIR;
  let label = '';
  let append = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--repeat') repeat = Number(argv[++i]);
    else if (a === '--rollouts') rollouts = Number(argv[++i]);
    else if (a === '--out') out = path.resolve(argv[++i] ?? '.');
    else if (a === '--label') label = argv[++i] ?? '';
    else if (a === '--append') append = true;
    else names.push(a);
  }
  if (rollouts !== undefined && !(Number.isInteger(rollouts) && rollouts > 0)) throw new Error('--rollouts takes a whole number ≥ 1');
  const known = new Set([...SCENARIOS.map((s) => s.name), 'startup']);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; one of ${[...known].join(', ')}`);
  if (repeat !== undefined && !(Number.isInteger(repeat) && repeat > 0)) throw new Error('--repeat takes a whole number ≥ 1');
  return { names: names.length > 0 ? names : ['startup', 'base-100', 'base-1000'], repeat, rollouts, out, label, append };
}

async function main(): Promise<void> {
  const { names, repeat, rollouts, out, label, append } = parseArgs(process.argv.slice(2));
  const jsonFile = path.join(out, 'scale.json');
  const { info } = await stackUp();
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cfg = loadStackConfig();
  const paths = statePaths(cfg);
  const stackPids: Record<string, number> = {};
  for (const name of ['temporal', 'kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'prometheus']) {
    const rec = readRecord({ pids: paths.pids, logs: paths.logs }, name);
    if (rec) stackPids[name] = rec.pid;
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.kubernetes.kubeconfig);
  const adminTls = { cert: fs.readFileSync(path.join(paths.pki, 'admin.crt')), key: fs.readFileSync(path.join(paths.pki, 'admin.key')) };
  const targets: Targets = {
    temporal: { url: `http://${cfg.host}:${cfg.ports.temporalMetrics}/metrics` },
    apiserver: { url: `${info.kubernetes.server}/metrics`, tls: adminTls },
    controllerManager: { url: `https://${cfg.host}:${cfg.ports.controllerManager}/metrics`, tls: adminTls },
  };

  const runId = Date.now().toString(36);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `ramp-scale-${runId}-`));
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: new DefaultLogger('ERROR') });
  const bundlePath = path.join(tmp, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  const compiled = compileWorker(runId);
  const workerEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: info.temporal.address,
    TEMPORAL_NAMESPACE: info.temporal.namespace,
    RAMP_TASK_QUEUE: `scale-${runId}`,
    KUBECONFIG: info.kubernetes.kubeconfig,
    RAMP_PROMETHEUS_URL: info.prometheus.url,
    SCALE_WORKFLOW_BUNDLE: bundlePath,
  };
  log(`run ${runId}: scenarios ${names.join(', ')}; worker logs in ${tmp}`);

  const results: ScaleResults = readResults(jsonFile) ?? { machine: machineInfo(info.kubernetes.version), rollout: { steps: STEPS, nominalS: NOMINAL_MS / 1000 }, scenarios: {} };
  results.machine = machineInfo(info.kubernetes.version);
  results.rollout = { steps: STEPS, nominalS: NOMINAL_MS / 1000 };
  const save = () => {
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(jsonFile, JSON.stringify(results, null, 1) + '\n');
    writeReport(results, out);
  };

  const measure = async (): Promise<void> => {
    if (names.includes('startup')) {
      results.startup = await measureStartup(compiled.command, workerEnv, bundlePath, tmp, repeat ?? 5);
      save();
    }
    const scenarios = SCENARIOS.filter((s) => names.includes(s.name)).map((s) => (rollouts ? { ...s, rollouts } : s));
    if (scenarios.length === 0) return;

    const need = Math.max(...scenarios.map((s) => s.rollouts));
    const connection = await Connection.connect({ address: info.temporal.address });
    const client = new Client({ connection, namespace: info.temporal.namespace });
    let shops: Mushop[] = [];
    let endpoint: Awaited<ReturnType<typeof serveCanaryMetrics>> | undefined;
    try {
      const fixtures = await createFixtures(kc, runId, need);
      shops = fixtures.shops;
      results.fixtures = { namespaces: need, createS: fixtures.createS, allAvailableS: fixtures.availableS, date: new Date().toISOString() };
      log(`fixtures: ${need} namespaces created in ${fixtures.createS} s, all stable Deployments Available after ${fixtures.availableS} s`);
      endpoint = await serveCanaryMetrics({
        namespaces: shops.map((s) => s.namespace),
        // The built-in query selects the canary's workload name: <target>-canary unless the spec names it.
        workload: benchRollout(shops[0]!, 'probe').spec.canary.deploymentName,
        targetsDir: info.prometheus.targetsDir,
        prometheusUrl: info.prometheus.url,
        runId,
      });
      const ctx: RunContext = { runId, client, kc, shops, workerEnv, stackPids, targets, tmp, code: codeState(), workerCommand: compiled.command, temporalExe: loadBinaryPaths(cfg).temporal };
      for (const sc of scenarios) {
        const runs: RunResult[] = append ? [...(results.scenarios[`${sc.name}${label}`]?.runs ?? [])] : [];
        const n = repeat ?? sc.repeats ?? (sc.rollouts >= 1000 ? 1 : 2);
        for (let k = 1; k <= n; k++) {
          const r = await runScenarioOnItsServer(ctx, sc, k);
          runs.push(r);
          log(`${sc.name} #${k}: total ${r.totalS} s, lateness p50 ${r.latenessMs.all.p50} ms p99 ${r.latenessMs.all.p99} ms, worker peak RSS ${r.resources.usage.worker?.peakRssMiB} MiB, outcomes ${JSON.stringify(r.outcomes)}`);
          results.scenarios[`${sc.name}${label}`] = { rollouts: sc.rollouts, what: sc.what, runs };
          save();
          // Let the controllers settle (old ReplicaSets, promoted pods) before the next run.
          await sleep(15_000);
        }
      }
    } finally {
      await endpoint?.close();
      await connection.close();
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const t0 = performance.now();
      await pool(shops.length, FIXTURE_CONCURRENCY, (i) => core.deleteNamespace({ name: shops[i]!.namespace }).then(() => undefined, () => undefined));
      log(`deleted ${shops.length} namespaces in ${((performance.now() - t0) / 1000).toFixed(1)} s (the namespace controller empties them in the background)`);
    }
  };
  try {
    await measure();
  } finally {
    fs.rmSync(compiled.dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
