/**
 * bench/results/scale.md from scale.json: tables only, written afresh each time, except the
 * hand-written reading of the numbers between the `analysis` markers, which is kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunResult, ScaleResults, ScenarioResult } from './results';
import { summarize, Summary } from './stats';

const BEGIN = '<!-- analysis: hand-written, kept when the tables are regenerated -->';
const END = '<!-- /analysis -->';

const msf = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : '—');
const range = (xs: number[], f: (x: number) => string) => {
  if (xs.length <= 1) return '';
  return ` (runs ${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
};

/** Lateness pooled over a scenario's runs, from the raw values. */
function pooledLateness(sc: ScenarioResult): Summary {
  return summarize(sc.runs.flatMap((r) => r.raw.latenessMs));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const maxOf = (runs: RunResult[], f: (r: RunResult) => number | undefined) => Math.max(...runs.map((r) => f(r) ?? NaN));

function headline(name: string, sc: ScenarioResult): string {
  const runs = sc.runs;
  const late = pooledLateness(sc);
  const outcomes: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const unfinished = runs.reduce((a, r) => a + r.unfinished, 0);
  const out = Object.entries(outcomes).map(([k, v]) => `${v} ${k}`).join(', ') + (unfinished ? `, **${unfinished} unfinished**` : '');
  const totals = runs.map((r) => r.totalS);
  const u = (p: string) => runs.map((r) => r.resources.usage[p]);
  const w = u('worker');
  const t = u('temporal');
  const a = u('kube-apiserver');
  return `| ${name} | ${sc.rollouts} | ${runs.length} | ${out} | ${Math.round(mean(totals))} s${range(totals, (x) => `${Math.round(x)}`)} | ${msf(late.p50)} / ${msf(late.p99)}${range(runs.map((r) => r.latenessMs.all.p99), (x) => `${Math.round(x)}`)} | ${maxOf(runs, (r) => r.resources.usage.worker?.peakRssMiB)} MiB | ${Math.round(mean(w.map((x) => x?.meanCpuPct ?? NaN)))} % / ${Math.max(...w.map((x) => x?.peakCpuPct5s ?? NaN))} % | ${Math.max(...t.map((x) => x?.peakRssMiB ?? NaN))} MiB / ${Math.round(mean(t.map((x) => x?.meanCpuPct ?? NaN)))} % | ${Math.round(mean(a.map((x) => x?.meanCpuPct ?? NaN)))} % | ${Math.round(mean(runs.map((r) => r.resources.machineBusyPct.mean)))} % | ${Math.round(mean(runs.map((r) => r.resources.otherCpuPct)))} % |`;
}

function latenessRow(name: string, sc: ScenarioResult): string {
  const p = (k: keyof RunResult['latenessMs']) =>
    `${msf(mean(sc.runs.map((r) => r.latenessMs[k].p50)))} / ${msf(Math.max(...sc.runs.map((r) => r.latenessMs[k].p99)))}`;
  const wft = sc.runs.reduce((a, r) => a + r.workflowTaskTimeouts, 0);
  const loop = Math.max(...sc.runs.map((r) => r.worker.loopDelayMs.max));
  const cache = Math.max(...sc.runs.map((r) => r.worker.peakCachedWorkflows));
  const misses = sc.runs.reduce((a, r) => a + Number(r.worker.sdk.stickyCacheMisses ?? 0), 0);
  return `| ${name} | ${p('pause')} | ${p('analysis')} | ${p('fire')} | ${p('queue')} | ${p('worker')} | ${p('committed')} | ${wft} | ${msf(loop)} | ${cache} | ${misses} |`;
}

const pair = (xs: Summary[], unit: 's' | 'ms') => {
  if (xs.length === 0 || xs.every((x) => x.n === 0)) return '—';
  const f = (x: number) => (unit === 's' ? `${x.toFixed(1)} s` : msf(x));
  return `${f(mean(xs.map((x) => x.p50)))} / ${f(Math.max(...xs.map((x) => x.p99)))}`;
};

function phaseRow(name: string, sc: ScenarioResult): string {
  const r = sc.runs;
  return `| ${name} | ${pair(r.map((x) => x.durationS), 's')} | ${pair(r.map((x) => x.phasesS.setup), 's')} | ${pair(r.map((x) => x.canaryReadyS), 's')} | ${pair(r.map((x) => x.phasesS.stepsBeyondNominal), 's')} | ${pair(r.map((x) => x.phasesS.finish), 's')} | ${pair(r.map((x) => x.stableReadyS), 's')} | ${pair(r.map((x) => x.firstTaskMs), 'ms')} | ${pair(r.map((x) => x.activityScheduleToStartMs.all), 'ms')} | ${Math.max(...r.map((x) => x.worker.peakInFlightActivities))} | ${r.reduce((a, x) => a + x.callRetries, 0)} |`;
}

/** The calls every rollout makes, by how long they ran. */
const CALLS = ['trafficSetWeight', 'measureAnalysis', 'ensureCanary', 'promoteStable', 'removeCanary'];

function callRow(name: string, sc: ScenarioResult): string {
  const cell = (type: string) => {
    const xs = sc.runs.map((r) => r.callRunMs[type] ?? r.callRunMs[`${type} (local)`]).filter((x) => x !== undefined);
    if (xs.length === 0) return '—';
    const local = sc.runs.some((r) => r.callRunMs[`${type} (local)`]);
    return `${msf(mean(xs.map((x) => x.meanMs)))} / ≤ ${msf(Math.max(...xs.map((x) => x.p99Ms)))}${local ? ' (local)' : ''}`;
  };
  return `| ${name} | ${CALLS.map(cell).join(' | ')} |`;
}

function componentRow(name: string, sc: ScenarioResult): string {
  const m = (f: (r: RunResult) => number) => mean(sc.runs.map(f));
  const r0 = (x: number) => (Number.isFinite(x) ? String(Math.round(x)) : '—');
  const r1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
  const series = sc.runs.flatMap((r) => r.temporalSeries ?? []);
  const busy = series.length ? `${mean(series.map((p) => p.persistenceBusy)).toFixed(2)} / ${Math.max(...series.map((p) => p.persistenceBusy)).toFixed(2)}` : '—';
  const wft = series.length ? `${mean(series.map((p) => p.workflowTasksCompletedPerS)).toFixed(0)} / ${Math.max(...series.map((p) => p.workflowTasksCompletedPerS)).toFixed(0)}` : '—';
  return `| ${name} | ${busy} | ${wft} | ${r1(m((r) => r.temporal.updateWorkflowExecutionMeanMs!))} / ${r0(m((r) => r.temporal.updateWorkflowExecutionP99Ms!))} ms | ${r0(m((r) => r.temporal.persistenceRequests!))} | ${r1(m((r) => r.temporal.respondWorkflowTaskCompletedMeanMs!))} ms | ${r0(m((r) => r.apiserver.writes!))} / ${r1(m((r) => r.apiserver.writeMeanMs!))} ms | ${r0(m((r) => r.controllerManager.requests!))} | ${r0(m((r) => r.controllerManager.throttledWaitTotalS!))} s / ${r0(m((r) => r.controllerManager.throttledWaitMeanMs!))} ms | ${r0(m((r) => r.controllerManager.deploymentQueueMeanWaitMs!))} / ${r0(m((r) => r.controllerManager.replicasetQueueMeanWaitMs!))} ms |`;
}

function processesTable(name: string, sc: ScenarioResult): string[] {
  const names = Object.keys(sc.runs[0]!.resources.usage);
  return [
    `| process (${name}, ${sc.rollouts} rollouts) | peak RSS | CPU mean | CPU peak (5 s) | CPU time |`,
    '|---|---|---|---|---|',
    ...names.map((p) => {
      const u = sc.runs.map((r) => r.resources.usage[p]).filter((x) => x !== undefined);
      return `| ${p} | ${Math.max(...u.map((x) => x.peakRssMiB))} MiB | ${Math.round(mean(u.map((x) => x.meanCpuPct)))} % | ${Math.max(...u.map((x) => x.peakCpuPct5s))} % | ${Math.round(mean(u.map((x) => x.cpuSeconds)))} s |`;
    }),
  ];
}

function codeLine(res: ScaleResults): string {
  const seen = new Map<string, Set<string>>();
  for (const [name, sc] of Object.entries(res.scenarios)) {
    for (const r of sc.runs) {
      const c = `commit ${r.code.commit}${r.code.uncommittedSrc.length ? ` plus uncommitted changes to ${r.code.uncommittedSrc.join(', ')}` : ''}`;
      seen.set(c, (seen.get(c) ?? new Set()).add(name));
    }
  }
  return [...seen.entries()].map(([c, names]) => (seen.size > 1 ? `${c} (${[...names].join(', ')})` : c)).join('; ') || 'unknown';
}

export function renderReport(res: ScaleResults, kept: string): string {
  const m = res.machine;
  const order = Object.keys(res.scenarios).sort((a, b) => res.scenarios[a]!.rollouts - res.scenarios[b]!.rollouts || a.localeCompare(b));
  const rows = order.map((n) => [n, res.scenarios[n]!] as const);
  const base1000 = res.scenarios['base-1000'];
  const target = base1000
    ? (() => {
      const late = pooledLateness(base1000);
      const rss = maxOf(base1000.runs, (r) => r.resources.usage.worker?.peakRssMiB);
      const unfinished = base1000.runs.reduce((a, r) => a + r.unfinished, 0);
      return [
        '## Target: 1,000 concurrent rollouts on one worker, 2 cores',
        '',
        '| measure | value | target |',
        '|---|---|---|',
        `| step lateness p99 | ${msf(late.p99)} (n = ${late.n}) | ≤ 2 s: ${late.p99 <= 2000 ? 'met' : '**missed**'} |`,
        `| worker peak RSS | ${rss} MiB | ≤ 1 GiB: ${rss <= 1024 ? 'met' : '**missed**'} |`,
        `| rollouts finished | ${base1000.runs.reduce((a, r) => a + r.rollouts, 0) - unfinished} of ${base1000.runs.reduce((a, r) => a + r.rollouts, 0)} | all |`,
        '',
      ];
    })()
    : [];
  const biggest = rows.filter(([n]) => n.startsWith('base-')).at(-1);
  const st = res.startup;
  return [
    '# Scale benchmark',
    '',
    `Generated by \`npm run bench:scale\` (last on ${m.date}): ${m.cpu}, ${m.nproc} cores, ${m.memGiB} GiB, Node ${m.node}, Kubernetes ${m.kubernetes}. Everything runs on this one machine: the local stack (Temporal dev server on SQLite, etcd, kube-apiserver, controller-manager, scheduler, KWOK, Prometheus), one Ramp worker process (\`bench/scale/worker.ts\` compiled to JavaScript, as production runs \`dist/\`: Ramp's activities and workflow, with the tuning knobs passed to \`Worker.create\`) and the bench driver that starts the rollouts and serves the metrics endpoint.`,
    '',
    `Each rollout: canary Deployment (1 replica, KWOK pod) → setWeight 20 → pause 10 s → analysis (built-in \`request-success-rate\`, rate over 20 s, over a metrics endpoint served over HTTP by the driver and scraped by Prometheus every second, one measurement every 5 s, 3 measurements) → setWeight 60 → pause 10 s → setWeight 100 → promote (stable rolled to the canary template, canary removed). The steps alone take ${res.rollout.nominalS} s. All rollouts of a run start at once (50 start calls in flight); each run has a fresh worker process and a fresh task queue.${res.fixtures ? ` Fixtures (namespace, Deployment, 2 Services, VirtualService, DestinationRule per rollout) are made before the runs: ${res.fixtures.namespaces} took ${res.fixtures.createS} s to create and ${res.fixtures.allAvailableS} s until every stable Deployment was Available.` : ''}`,
    '',
    '**Step lateness** is read from each workflow\'s history; the server and the worker share this machine\'s clock. Every timer-driven step — the two pauses, and the wait before each analysis measurement — is due at `TimerStarted` time + its duration. It *acts* when the first call the workflow makes in reaction to `TimerFired` starts: a local activity\'s schedule time (recorded in its marker; local activities run at once, inside the workflow task), or a regular activity\'s `ActivityTaskStarted`. Lateness = acts − due, split into *fire* (`TimerFired` − due: the server\'s timer queue), *queue* (`WorkflowTaskStarted` − `WorkflowTaskScheduled`: waiting for a worker poll) and *worker* (acts − `WorkflowTaskStarted`: the task waiting inside the worker, then the workflow code). *committed* (`WorkflowTaskCompleted` of the reaction − due) is when the history shows the step\'s calls done. Quantiles are nearest-rank; "pooled" pools every timer of every run of a scenario, "runs a–b" is the spread of the per-run p99.',
    '',
    `Code measured: ${codeLine(res)}.`,
    '',
    ...target,
    '## Results',
    '',
    ...rows.map(([n, sc]) => `- **${n}**: ${sc.rollouts} rollouts; ${sc.what}.`),
    '',
    '| scenario | rollouts | runs | outcomes | total time | step lateness p50 / p99 (pooled) | worker peak RSS | worker CPU mean / peak 5 s | dev server peak RSS / CPU mean | apiserver CPU mean | machine busy (2 cores) | other work on the machine |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(([n, sc]) => headline(n, sc)),
    '',
    ...rows.flatMap(([n, sc]) => {
      const stuck = sc.runs.flatMap((r) => r.stuck ?? []).map((m) => m.replace(/scale-[a-z0-9]+-\d+/g, '…'));
      const unfinished = sc.runs.reduce((a, r) => a + r.unfinished, 0);
      if (unfinished === 0) return [];
      const kinds = [...new Set(stuck)];
      return [`*${n}*: ${unfinished} rollout(s) did not finish and were cancelled${kinds.length ? `; they were paused, waiting for a person: ${kinds.map((k) => `“${k}”`).join('; ')}` : ' at the time limit'}.`, ''];
    }),
    'CPU is in % of one core (200 % is the whole machine), except *machine busy*, in % of both cores. *Other work* is CPU the bench does not attribute to the worker, the driver or a stack component (another test run on the shared machine, the system).',
    '',
    '### Where lateness comes from',
    '',
    '| scenario | pause p50 / p99 | analysis wait p50 / p99 | fire p50 / p99 | queue p50 / p99 | worker p50 / p99 | committed p50 / p99 | workflow-task timeouts | worker event-loop delay max | peak cached workflows | sticky cache misses |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(([n, sc]) => latenessRow(n, sc)),
    '',
    'p50 is the mean of the runs\' p50s, p99 the highest run\'s p99.',
    '',
    '### Where a rollout\'s time goes',
    '',
    `Nominal time of the steps: ${res.rollout.nominalS} s. *setup* = start → first timer (preflight, canary created and Available, routes prepared, first weight); *steps beyond nominal* = first timer → last step done, minus ${res.rollout.nominalS} s; *finish* = last step → closed (weight 100, stable rolled to the canary template and Available, clean-up).`,
    '',
    '| scenario | rollout duration p50 / p99 | setup | of which canary readiness | steps beyond nominal | finish | of which stable readiness | start → first workflow task | activity schedule-to-start | peak activities in flight | retried calls |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(([n, sc]) => phaseRow(n, sc)),
    '',
    '### How long the calls ran (mean / p99 bucket bound, from the worker\'s SDK metrics)',
    '',
    `| scenario | ${CALLS.join(' | ')} |`,
    `|---|${CALLS.map(() => '---').join('|')}|`,
    ...rows.map(([n, sc]) => callRow(n, sc)),
    '',
    '### The components during the run',
    '',
    '| scenario | dev-server persistence busy, mean / peak 10 s | workflow tasks completed per s, mean / peak | SQLite UpdateWorkflowExecution mean / p99 | persistence calls | RespondWorkflowTaskCompleted mean | apiserver writes / mean latency | controller-manager requests | controller-manager client-side throttling, total / mean per request | deployment / replicaset work-queue wait, mean |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(([n, sc]) => componentRow(n, sc)),
    '',
    '*Persistence busy* is seconds spent in persistence calls per second of wall time, from the dev server\'s own metrics. Its SQLite store serves one call at a time, so at 1 and above calls wait for each other: the store is saturated.',
    '',
    ...(biggest ? [...processesTable(biggest[0], biggest[1]), ''] : []),
    ...(st
      ? [
        '## Worker start-up: prebuilt workflow bundle vs bundling at start',
        '',
        `${st.repeats} starts each, round-robin, a fresh process each time, until it polls. The worker is compiled to JavaScript first (as production runs \`dist/\`), except in the tsx row.`,
        '',
        '| worker | process spawn → polling p50 / max | Worker.create p50 / max | peak RSS at start p50 |',
        '|---|---|---|---|',
        `| prebuilt (\`bundleWorkflowCode\` once, \`workflowBundle: { code }\`) | ${msf(st.prebuilt.spawnToReadyMs.p50)} / ${msf(st.prebuilt.spawnToReadyMs.max)} | ${msf(st.prebuilt.workerCreateMs.p50)} / ${msf(st.prebuilt.workerCreateMs.max)} | ${st.prebuilt.peakRssMiB.p50} MiB |`,
        `| bundled at start (\`workflowsPath\`) | ${msf(st.atStart.spawnToReadyMs.p50)} / ${msf(st.atStart.spawnToReadyMs.max)} | ${msf(st.atStart.workerCreateMs.p50)} / ${msf(st.atStart.workerCreateMs.max)} | ${st.atStart.peakRssMiB.p50} MiB |`,
        ...(st.tsxPrebuilt
          ? [`| prebuilt, worker under tsx (as \`npm run worker\` runs it) | ${msf(st.tsxPrebuilt.spawnToReadyMs.p50)} / ${msf(st.tsxPrebuilt.spawnToReadyMs.max)} | ${msf(st.tsxPrebuilt.workerCreateMs.p50)} / ${msf(st.tsxPrebuilt.workerCreateMs.max)} | ${st.tsxPrebuilt.peakRssMiB.p50} MiB |`]
          : []),
        '',
      ]
      : []),
    BEGIN,
    kept.trim(),
    END,
    '',
  ].join('\n');
}

export function writeReport(res: ScaleResults, dir: string): void {
  const file = path.join(dir, 'scale.md');
  let kept = '';
  try {
    const old = fs.readFileSync(file, 'utf8');
    const a = old.indexOf(BEGIN);
    const b = old.indexOf(END);
    if (a >= 0 && b > a) kept = old.slice(a + BEGIN.length, b);
  } catch {
    kept = '';
  }
  fs.writeFileSync(file, renderReport(res, kept || '## Where it bends, and why\n\n(to be written from the numbers above)'));
}
