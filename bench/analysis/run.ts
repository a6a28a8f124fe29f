/**
 * `npm run bench:analysis`: every scenario × every judge, spread over worker threads, summarised
 * into bench/results/analysis.json and bench/results/analysis.md. Deterministic: run i of
 * scenario s is seeded by (hash of s's name, i), whatever thread runs it.
 *
 * Options: `--runs N` (runs per scenario, default 1000), `--threads N` (default: the CPUs
 * available), `--only <substring>` (scenarios whose name contains it; results are then not
 * written unless `--out <dir>` is given).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { JUDGES, LOOK_INTERVALS_S, RUNS, SCENARIOS, TIMING } from './scenarios';
import { simulateRun, type JudgeRun, type Scenario } from './simulate';
import { quantile, rate, type Quantile, type Rate } from './stats';

/** A slice of one scenario's runs, handed to a worker. */
interface Task {
  scenario: number;
  from: number;
  to: number;
}

/** A worker's answer: per run, what each judge did. */
interface TaskResult {
  task: Task;
  runs: JudgeRun[][];
}

/** FNV-1a, 32-bit: a stable seed from a scenario's name. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function runTask(scenarios: Scenario[], task: Task): TaskResult {
  const sc = scenarios[task.scenario]!;
  const seed = hashName(sc.name);
  const runs: JudgeRun[][] = [];
  for (let i = task.from; i < task.to; i++) runs.push(simulateRun(sc, TIMING, [seed, i], JUDGES));
  return { task, runs };
}

// ---- worker side --------------------------------------------------------------------------------

if (!isMainThread) {
  const { scenarios } = workerData as { scenarios: Scenario[] };
  parentPort!.on('message', (task: Task | null) => {
    if (task === null) {
      parentPort!.close();
      return;
    }
    parentPort!.postMessage(runTask(scenarios, task));
  });
}

// ---- main side ----------------------------------------------------------------------------------

interface Options {
  runs: number;
  threads: number;
  only: string | undefined;
  out: string | undefined;
  /** Re-render analysis.md (targets included) from the committed analysis.json, without simulating. */
  render?: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { runs: RUNS, threads: availableParallelism(), only: undefined, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    switch (argv[i]) {
      case '--runs': opts.runs = Number(next()); break;
      case '--threads': opts.threads = Number(next()); break;
      case '--only': opts.only = next(); break;
      case '--out': opts.out = next(); break;
      case '--render': opts.render = true; break;
      default: throw new Error(`unknown option ${argv[i]}; use --runs N, --threads N, --only NAME, --out DIR`);
    }
  }
  if (!(opts.runs >= 1) || !(opts.threads >= 1)) throw new Error('--runs and --threads must be at least 1');
  return opts;
}

async function runAll(scenarios: Scenario[], threads: number): Promise<JudgeRun[][][]> {
  const chunk = 100;
  const tasks: Task[] = scenarios.flatMap((sc, s) =>
    Array.from({ length: Math.ceil(sc.runs / chunk) }, (_, k) => ({ scenario: s, from: k * chunk, to: Math.min(sc.runs, (k + 1) * chunk) })));
  const results: JudgeRun[][][] = scenarios.map((sc) => new Array<JudgeRun[]>(sc.runs));
  const store = (r: TaskResult) => r.runs.forEach((run, k) => { results[r.task.scenario]![r.task.from + k] = run; });

  if (threads === 1) {
    for (const t of tasks) store(runTask(scenarios, t));
    return results;
  }
  let next = 0;
  let done = 0;
  await Promise.all(Array.from({ length: Math.min(threads, tasks.length) }, () => new Promise<void>((resolve, reject) => {
    // A worker starts without tsx's loader: register tsx's CommonJS hook, then load this file.
    const boot = `require('tsx/cjs'); require(${JSON.stringify(__filename)});`;
    const worker = new Worker(boot, { eval: true, workerData: { scenarios } });
    const feed = () => worker.postMessage(next < tasks.length ? tasks[next++]! : null);
    worker.on('message', (r: TaskResult) => {
      store(r);
      done++;
      if (done % 25 === 0 || done === tasks.length) process.stderr.write(`  ${done}/${tasks.length} tasks\n`);
      feed();
    });
    worker.on('error', reject);
    worker.on('exit', () => resolve());
    feed();
  })));
  return results;
}

/** A judge's summary over one scenario's runs. */
interface JudgeSummary {
  /** First decision was a rollback, within the horizon (A/A: false rollback; regression: detection). */
  rollback: Rate;
  /** A rollback at any look, even after an early promotion (A/A only meaningful). */
  anyRollback: Rate;
  /** First decision was a promotion. */
  promote: Rate;
  /** The analysis step ended without a verdict and holds (default-spec judges). */
  hold: Rate;
  /** A traffic split mismatch was reported. */
  mismatch: Rate;
  /** Time to the first rollback decision (never = +∞). */
  timeToRollback: { median: Quantile; p90: Quantile };
  /** Time to the first promotion (never = +∞). */
  timeToPromote: { median: Quantile };
  /** Time to the first mismatch report. */
  timeToMismatch: { median: Quantile };
  /** Rollbacks by the metric that carried them. */
  triggers: Record<string, number>;
}

function summarise(runs: JudgeRun[]): JudgeSummary {
  const n = runs.length;
  const count = (f: (r: JudgeRun) => boolean) => runs.filter(f).length;
  const triggers: Record<string, number> = {};
  for (const r of runs) if (r.rollbackS !== null && r.trigger !== null) triggers[r.trigger] = (triggers[r.trigger] ?? 0) + 1;
  return {
    rollback: rate(count((r) => r.rollbackS !== null), n),
    anyRollback: rate(count((r) => r.anyRollbackS !== null), n),
    promote: rate(count((r) => r.promoteS !== null), n),
    hold: rate(count((r) => r.holdS !== null), n),
    mismatch: rate(count((r) => r.mismatchS !== null), n),
    timeToRollback: { median: quantile(runs.map((r) => r.rollbackS), 0.5), p90: quantile(runs.map((r) => r.rollbackS), 0.9) },
    timeToPromote: { median: quantile(runs.map((r) => r.promoteS), 0.5) },
    timeToMismatch: { median: quantile(runs.map((r) => r.mismatchS), 0.5) },
    triggers,
  };
}

interface TargetCheck {
  target: string;
  scenario: string;
  value: string;
  met: boolean;
}

/** The targets at 10 req/s to the canary, for the default spec at every look interval (docs/decisions/0016-real-world-signals.md). */
function checkTargets(summaries: Map<string, Record<string, JudgeSummary>>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const lookS of LOOK_INTERVALS_S) {
    const id = `spec@${lookS}s`;
    const at = (name: string) => summaries.get(name)?.[id];
    for (const [name, s] of summaries) {
      const sc = SCENARIOS.find((x) => x.name === name)!;
      if (sc.kind !== 'aa' || sc.canaryRps !== 10) continue;
      const noisy = sc.noise.load + sc.noise.canaryErrors + sc.noise.baselineErrors + sc.noise.canaryLatency + sc.noise.baselineLatency > 0;
      const limit = noisy ? 0.05 : 0.02;
      const r = s[id]!.rollback;
      checks.push({ target: `${id}: false rollbacks ≤ ${limit * 100} %${noisy ? ' (noise)' : ''}`, scenario: name, value: fmtRate(r), met: r.rate <= limit });
    }
    for (const name of ['err-x10-e1%-r10', 'lat-p50-e1%-r10']) {
      const s = at(name);
      if (!s) continue;
      const med = s.timeToRollback.median.seconds;
      const p90 = s.timeToRollback.p90.seconds;
      checks.push({ target: `${id}: median time to detect ≤ 60 s`, scenario: name, value: fmtTime(s.timeToRollback.median), met: med !== null && med <= 60 });
      checks.push({ target: `${id}: p90 time to detect ≤ 2 min`, scenario: name, value: fmtTime(s.timeToRollback.p90), met: p90 !== null && p90 <= 120 });
    }
    const tail = at('tail-p99x2.5-e1%-r10');
    if (tail) {
      const med = tail.timeToRollback.median.seconds;
      checks.push({ target: `${id}: tail-only p99 ×2.5 detected in ≥ 99 %`, scenario: 'tail-p99x2.5-e1%-r10', value: fmtRate(tail.rollback), met: tail.rollback.rate >= 0.99 });
      checks.push({ target: `${id}: tail-only p99 ×2.5 median ≤ 5 min`, scenario: 'tail-p99x2.5-e1%-r10', value: fmtTime(tail.timeToRollback.median), met: med !== null && med <= 300 });
    }
    const x2 = at('err-x2-e1%-r10');
    if (x2) {
      // Caught before promotion: rolled back, or held for a person ("not enough evidence yet");
      // the rolled-back share alone is the other side of the frontier in decision 0016.
      const notPromoted = 1 - x2.promote.rate;
      checks.push({ target: `${id}: ×2 errors caught before promotion (not promoted) in ≥ 99 %`, scenario: 'err-x2-e1%-r10', value: `${pct(notPromoted)}: rolled back ${fmtRate(x2.rollback)} within 30 min, held ${pct(x2.hold.rate)}`, met: notPromoted >= 0.99 });
    }
  }
  return checks;
}

const pct = (x: number) => `${Number((100 * x).toFixed(2))} %`;
const fmtRate = (r: Rate) => `${pct(r.rate)} ± ${pct(r.se)}`;
function fmtTime(q: Quantile): string {
  if (q.seconds === null) return '> 30 min';
  return `${q.seconds} s${q.se === null ? ' (± n/a)' : ` ± ${Number(q.se.toFixed(1))}`}`;
}

/** Where the benchmark ran. */
interface Machine {
  nproc: number;
  cpu: string;
  node: string;
  date: string;
}

/** Everything about a benchmark run but its results. */
interface Meta {
  machine: Machine;
  threads: number;
  runs: number;
  wallSeconds: number;
  timing: typeof TIMING;
  judges: typeof JUDGES;
}

function machine(): Machine {
  const sh = (cmd: string) => {
    try {
      return execSync(cmd, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    // Not Linux: leave it unknown.
  }
  return { nproc: Number(sh('nproc')), cpu, node: process.version, date: new Date().toISOString() };
}

function markdown(meta: Meta, scenarios: Scenario[], summaries: Map<string, Record<string, JudgeSummary>>, targets: TargetCheck[]): string {
  const m = meta.machine;
  const ids = JUDGES.map((j) => j.id);
  const lines: string[] = [];
  lines.push('# Canary analysis benchmark', '');
  lines.push(`Generated by \`npm run bench:analysis\` on ${m.date}: ${m.cpu}, nproc ${m.nproc}, Node ${m.node}; `
    + `${meta.threads} worker threads, ${meta.wallSeconds} s wall time. ${meta.runs} runs per scenario.`, '');
  lines.push('Each run simulates 30 minutes of Poisson traffic to a canary (10 % weight) and its baseline, in 5 s steps, '
    + 'shown to the judges as Prometheus would show it: cumulative request and 5xx counters and Istio duration histogram '
    + 'buckets, scraped every 5 s. The canary has no series at all until its first request has been scraped, 15 or 30 s '
    + 'after it (drawn per run), so every judge\'s first look finds none. Before the canary starts, the baseline has served '
    + '40 minutes, the last 30 with its share of the noise; the judges that calibrate read those 30 minutes minute by minute, '
    + 'as a range query would. Judges: `spec@5s`, `spec@15s`, `spec@60s` — the analysis step exactly as a spec with '
    + '`judge: {sequential: {}}` and an `interval` of 5, 15 or 60 s resolves it, run through the workflow\'s own rules '
    + '(src/domain/analysis/judged.ts) until the step ends: rolled back, promoted (shown no worse than +50 %), or held for a '
    + 'person at 30 minutes ("not enough evidence yet"); `judge@15s` — the judge alone at its defaults, watching all 30 minutes; '
    + '`revision1@15s` — the judge before decision 0016, as rollouts started before it keep running it; `threshold@60s` — '
    + 'Flagger\'s documented defaults (success rate ≥ 99 %, P99 ≤ 500 ms per 1-minute check, rollback at 5 failed checks). '
    + 'Times are from the canary\'s start to the look that decided; runs without a decision count as +∞. ± is one Monte Carlo '
    + 'standard error (order statistics for quantiles).', '');
  lines.push('Traffic: the canary\'s rate is given per scenario, the baseline gets 9× as much. Latency is log-normal, median '
    + '100 ms, log-sd 0.55 (baseline p99 ≈ 360 ms). Noise: "per-minute noise" draws, each minute, a load factor shared by both '
    + 'arms (log-sd 0.2), an error-rate multiplier per arm of mean 1 (log-sd 0.5 on the canary, 0.25 on the baseline) and a '
    + 'latency shift per arm (log-sd 0.1 each); "episodes of N min" hold the same draws for N minutes at a random phase; '
    + '"stronger" noise has an error-rate coefficient of variation of 0.5 on each arm; "only the canary wanders" puts the '
    + 'noise on the canary alone, which calibration on the baseline cannot see. Tail-only regressions: 1.5 % of the canary\'s '
    + 'requests take about 9× (p99 ×2) or 11× (p99 ×2.5) longer; the median stays. At 1 % base errors Flagger\'s 99 % bound '
    + 'is already crossed by a healthy canary, so its "detections" there carry no information. '
    + 'Method and trade-offs: docs/decisions/0007, 0011 and 0016.', '');

  lines.push('## Targets (the default spec at every look interval, 10 req/s to the canary)', '');
  lines.push('| target | scenario | measured | met |', '|---|---|---|---|');
  for (const t of targets) lines.push(`| ${t.target} | ${t.scenario} | ${t.value} | ${t.met ? 'yes' : '**no**'} |`);
  lines.push('');

  lines.push('## Canary as good as baseline: false rollbacks', '');
  lines.push('Each cell: rollback rate ± SE (Wilson 95 % upper bound). Default-spec columns also: promoted, and held for a person at 30 minutes '
    + '("not enough evidence yet"). Judges alone watch the whole 30 minutes, so their rate counts a rollback at any look before a promotion.', '');
  lines.push(`| scenario | ${ids.join(' | ')} |`);
  lines.push(`|---|${ids.map(() => '---').join('|')}|`);
  for (const sc of scenarios.filter((s) => s.kind === 'aa')) {
    const s = summaries.get(sc.name)!;
    const cell = (id: string) => {
      const j = s[id]!;
      const more = id.startsWith('spec@') ? `; promoted ${pct(j.promote.rate)} (median ${fmtTime(j.timeToPromote.median)}), held ${pct(j.hold.rate)}` : '';
      return `${fmtRate(j.rollback)} (${pct(j.rollback.upper95)})${more}`;
    };
    lines.push(`| ${sc.description} | ${ids.map(cell).join(' | ')} |`);
  }
  lines.push('');

  lines.push('## Regressions: rolled back, time to roll back', '');
  lines.push('Each cell: rolled back ± SE; median time ± SE; p90 ± SE (from the canary\'s start, +∞ when never). Default-spec columns also: promoted and held.', '');
  lines.push(`| scenario | ${ids.join(' | ')} |`);
  lines.push(`|---|${ids.map(() => '---').join('|')}|`);
  for (const sc of scenarios.filter((s) => s.kind === 'regression')) {
    const s = summaries.get(sc.name)!;
    const cell = (id: string) => {
      const j = s[id]!;
      const more = id.startsWith('spec@') ? `; promoted ${pct(j.promote.rate)}, held ${pct(j.hold.rate)}` : '';
      return `${fmtRate(j.rollback)}; ${fmtTime(j.timeToRollback.median)}; ${fmtTime(j.timeToRollback.p90)}${more}`;
    };
    lines.push(`| ${sc.description} | ${ids.map(cell).join(' | ')} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** `--render`: the markdown again from the results already in bench/results/analysis.json. */
function render(): void {
  const dir = join(__dirname, '..', 'results');
  const json = JSON.parse(readFileSync(join(dir, 'analysis.json'), 'utf8')) as Meta & { scenarios: (Scenario & { results: Record<string, JudgeSummary> })[] };
  const summaries = new Map(json.scenarios.map((sc) => [sc.name, sc.results] as const));
  const targets = checkTargets(summaries);
  const { scenarios, targets: _old, ...meta } = json as typeof json & { targets: unknown };
  writeFileSync(join(dir, 'analysis.json'), `${JSON.stringify({ ...meta, scenarios, targets }, null, 2)}\n`);
  writeFileSync(join(dir, 'analysis.md'), markdown(meta, scenarios, summaries, targets));
  for (const t of targets) process.stdout.write(`${t.met ? 'met ' : 'MISS'}  ${t.target} — ${t.scenario}: ${t.value}\n`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.render) return render();
  const scenarios = SCENARIOS.filter((s) => opts.only === undefined || s.name.includes(opts.only)).map((s) => ({ ...s, runs: opts.runs }));
  if (scenarios.length === 0) throw new Error(`no scenario matches ${opts.only}`);
  const started = performance.now();
  process.stderr.write(`bench:analysis: ${scenarios.length} scenarios × ${opts.runs} runs × ${JUDGES.length} judges on ${opts.threads} threads\n`);
  const results = await runAll(scenarios, opts.threads);
  const wallSeconds = Math.round((performance.now() - started) / 100) / 10;

  const summaries = new Map<string, Record<string, JudgeSummary>>();
  scenarios.forEach((sc, s) => {
    summaries.set(sc.name, Object.fromEntries(JUDGES.map((j, k) => [j.id, summarise(results[s]!.map((run) => run[k]!))])));
  });
  const targets = checkTargets(summaries);
  const meta: Meta = { machine: machine(), threads: opts.threads, runs: opts.runs, wallSeconds, timing: TIMING, judges: JUDGES };
  const json = {
    ...meta,
    scenarios: scenarios.map((sc) => ({ ...sc, results: summaries.get(sc.name) })),
    targets,
  };

  for (const t of targets) process.stdout.write(`${t.met ? 'met ' : 'MISS'}  ${t.target} — ${t.scenario}: ${t.value}\n`);
  const out = opts.out ?? (opts.only === undefined && opts.runs === RUNS ? join(__dirname, '..', 'results') : undefined);
  if (out === undefined) {
    process.stdout.write(markdown(meta, scenarios, summaries, targets));
    return;
  }
  mkdirSync(out, { recursive: true });
  // JSON has no Infinity: the +Inf histogram bound never appears here, and null stands for "never".
  writeFileSync(join(out, 'analysis.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(out, 'analysis.md'), markdown(meta, scenarios, summaries, targets));
  process.stdout.write(`wrote ${join(out, 'analysis.json')} and ${join(out, 'analysis.md')} in ${wallSeconds} s\n`);
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:analysis failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
