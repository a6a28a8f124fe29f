/**
 * The rollout report as one self-contained HTML page: inline CSS and SVG, no script, no external
 * resource, so it opens from a file or an attachment with no network. Pure: ReportData in, a
 * string out; every string that came from the history is escaped.
 */
import type { MetricEvidence, SequentialEvidence } from '../../domain/analysis/sequential-judge';
import type { ReportAnalysis, ReportData, ReportLook } from './collect';
import { chart, esc, offset, type Series } from './svg';

/** What the page needs besides the data. */
export interface PageOptions {
  /** The Temporal UI page of the rollout's last run. */
  temporalUiUrl?: string;
  /** When the report was made (shown at the bottom; an input, so the page is reproducible). */
  generatedAt?: number;
}

const COLORS = { canary: '#d9480f', baseline: '#1c7ed6', stable: '#1c7ed6', bound: 'rgba(217,72,15,0.18)', threshold: '#c92a2a', tolerance: '#5f3dc4', step: '#868e96', action: '#2b8a3e' };
const OUTCOME_CLASS: Record<string, string> = { Promoted: 'ok', RolledBack: 'bad', RollbackFailed: 'bad', Refused: 'warn', Cancelled: 'bad', Failed: 'bad', Terminated: 'bad' };

const iso = (ms: number | undefined) => (ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
const pct = (v: number) => `${Number(v.toFixed(v < 1 ? 2 : 1))}%`;
const num = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(3))));

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#212529;margin:0;background:#f8f9fa}
main{max-width:820px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dee2e6;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.outcome{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff;background:#868e96}
.outcome.ok{background:#2b8a3e}.outcome.bad{background:#c92a2a}.outcome.warn{background:#e67700}
.reason{margin:8px 0 16px;padding:8px 12px;background:#fff;border-left:4px solid #868e96;white-space:pre-wrap;word-break:break-word}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e9ecef;vertical-align:top;word-break:break-word}
th{background:#f1f3f5;font-weight:600}table.facts th{width:150px}table.actions td:nth-child(-n+4){white-space:nowrap}
.chart{margin:8px 0;background:#fff;border:1px solid #e9ecef;padding:4px}.chart svg{width:100%;height:auto;display:block}
.chart figcaption{font-size:12px;color:#495057;padding:0 8px 4px}.key{margin-right:14px}.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.chart-title{font-size:13px;font-weight:600;fill:#212529}.tick{font-size:10px;fill:#868e96}.grid{stroke:#f1f3f5}.axis{stroke:#adb5bd}
.series{fill:none;stroke-width:2}.vline line{stroke-dasharray:3 3}.vline text,.hline text{font-size:10px}.hline line{stroke-dasharray:6 3}
.refused{color:#c92a2a}.muted{color:#868e96}.notes li{color:#e67700}
`;

/** The canary weight over the rollout, with its step boundaries and people's commands. */
function timeline(d: ReportData, range: [number, number]): string {
  const origin = range[0];
  const reached = d.steps.filter((s) => s.startedAt !== undefined);
  const weights: Series = {
    name: 'canary weight', color: COLORS.canary, step: true,
    points: d.weights.map((w) => ({ x: w.at, y: w.canary, title: `${iso(w.at)}: canary ${w.canary}%` })),
  };
  const commands = d.actions.filter((a) => a.via !== 'workflow' && a.accepted !== false);
  return chart({
    id: 'timeline', title: 'Canary weight (%) over time, by step', origin, x: range, y: [0, 100], yFormat: (v) => `${v}%`,
    series: [weights],
    vlines: [
      ...reached.map((s) => ({ x: s.startedAt!, label: `${s.index + 1}`, color: COLORS.step })),
      ...commands.map((a) => ({ x: a.at, label: `${a.event}${a.by ? ` (${a.by})` : ''}`, color: COLORS.action })),
    ],
  });
}

function stepsTable(d: ReportData): string {
  const rows = d.steps.map((s) => `<tr data-step="${s.index}"><td>${s.index + 1}</td><td>${esc(s.description)}</td>`
    + `<td>${esc(iso(s.startedAt))}</td><td>${s.startedAt !== undefined && s.endedAt !== undefined ? esc(offset(s.endedAt - s.startedAt)) : '—'}</td>`
    + `<td>${esc(s.end ?? (s.startedAt !== undefined ? 'in progress' : 'not reached'))}</td></tr>`);
  return `<table class="steps"><thead><tr><th>#</th><th>step</th><th>started</th><th>took</th><th>how it ended</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

type Metric = 'errors' | 'latency' | 'tail';
const METRIC_TITLES: Record<Metric, string> = { errors: 'Error share', latency: 'Slow share', tail: 'Tail share' };

function sequentialLooks(a: ReportAnalysis): { at: number; e: SequentialEvidence }[] {
  return a.looks.flatMap((l) => (l.judge?.evidence?.kind === 'sequential' ? [{ at: l.at, e: l.judge.evidence.e }] : []));
}

const share = (x: { events: number; requests: number }) => (x.requests > 0 ? (100 * x.events) / x.requests : NaN);

/** One metric of the sequential judge: canary against baseline, then the ratio with its bounds. */
function sequentialMetric(id: string, a: ReportAnalysis, looks: { at: number; e: SequentialEvidence }[], metric: Metric, range: [number, number], origin: number): string {
  const of = (e: SequentialEvidence): (MetricEvidence & { slowMs?: number | null }) | undefined => e[metric];
  const present = looks.filter((l) => of(l.e) !== undefined);
  if (present.length === 0) return '';
  const slow = of(present[present.length - 1]!.e)?.slowMs;
  const title = `${METRIC_TITLES[metric]}${slow ? ` (> ${slow} ms)` : ''}: canary against baseline, % of requests`;
  const arm = (name: 'canary' | 'baseline'): Series => ({
    name, color: COLORS[name],
    points: present.map((l) => {
      const m = of(l.e)!;
      return { x: l.at, y: share(m[name]), title: `${name} ${metric}: ${m[name].events} of ${m[name].requests} requests (${pct(share(m[name]))}) at ${iso(l.at)}` };
    }),
  });
  const shares = chart({ id: `${id}-${metric}-share`, title, origin, x: range, yFormat: pct, series: [arm('canary'), arm('baseline')] });
  const ratio: Series = {
    name: 'ratio canary / baseline', color: COLORS.canary,
    points: present.flatMap((l) => {
      const r = of(l.e)!.ratio;
      return r === null ? [] : [{ x: l.at, y: r, title: `ratio ${num(r)} at ${iso(l.at)}` }];
    }),
  };
  const bounds = present.flatMap((l) => {
    const b = of(l.e)!.bounds;
    return b ? [{ x: l.at, lo: b[0], hi: b[1] }] : [];
  });
  const ratios = chart({
    id: `${id}-${metric}-ratio`, title: `${METRIC_TITLES[metric]}: ratio with its anytime-valid bounds (log scale)`, origin, x: range, log: true, yFormat: num,
    series: [ratio], bands: [{ name: 'confidence bounds', color: COLORS.bound, points: bounds }],
    hlines: [
      { y: 1, label: 'as good as baseline (1)', color: COLORS.step },
      ...(a.tolerance !== undefined ? [{ y: 1 + a.tolerance, label: `no worse than 1 + δ = ${num(1 + a.tolerance)}`, color: COLORS.tolerance }] : []),
    ],
  });
  return shares + ratios;
}

function sequentialCharts(id: string, a: ReportAnalysis, range: [number, number], origin: number): string {
  const looks = sequentialLooks(a);
  if (looks.length === 0) return '<p class="muted">No look with evidence yet.</p>';
  const th = looks[looks.length - 1]!.e.thresholds;
  const eSeries = (metric: Metric, color: string): Series => ({
    name: `${metric} e-value (roll back)`, color,
    points: looks.flatMap((l) => {
      const m = l.e[metric];
      return m ? [{ x: l.at, y: m.eRollback, title: `${metric}: e-value ${num(m.eRollback)} against "canary no worse" at ${iso(l.at)}` }] : [];
    }),
  });
  const evalues = chart({
    id: `${id}-evalues`, title: 'Evidence of a regression: e-values against "canary no worse than baseline" (log scale)', origin, x: range, log: true, yFormat: num,
    series: [eSeries('errors', '#e03131'), eSeries('latency', '#f08c00'), ...(looks.some((l) => l.e.tail) ? [eSeries('tail', '#9c36b5')] : [])],
    hlines: [{ y: th.rollback, label: `roll back at e ≥ ${num(th.rollback)} (α ${th.alpha})`, color: COLORS.threshold }],
  });
  return evalues + (['errors', 'latency', 'tail'] as const).map((m) => sequentialMetric(id, a, looks, m, range, origin)).join('');
}

function thresholdCharts(id: string, a: ReportAnalysis, range: [number, number], origin: number): string {
  const checks = a.looks.flatMap((l) => (l.judge?.evidence?.kind === 'threshold' ? [{ at: l.at, e: l.judge.evidence.e }] : []));
  const series = (name: string, pick: (e: (typeof checks)[number]['e']) => number | undefined, unit: string): Series => ({
    name, color: COLORS.canary,
    points: checks.flatMap((c) => {
      const v = pick(c.e);
      return v === undefined ? [] : [{ x: c.at, y: v, title: `${name} ${num(v)}${unit} at ${iso(c.at)}` }];
    }),
  });
  return chart({
    id: `${id}-success`, title: 'Canary success rate per check (%)', origin, x: range, yFormat: pct, series: [series('success rate', (e) => e.successRate, '%')],
    hlines: a.minSuccessRate !== undefined ? [{ y: a.minSuccessRate, label: `minimum ${a.minSuccessRate}%`, color: COLORS.threshold }] : [],
  }) + chart({
    id: `${id}-p99`, title: 'Canary P99 latency per check (ms)', origin, x: range, yFormat: (v) => `${num(v)} ms`, series: [series('p99', (e) => e.p99Ms, ' ms')],
    hlines: a.maxP99Ms !== undefined ? [{ y: a.maxP99Ms, label: `maximum ${a.maxP99Ms} ms`, color: COLORS.threshold }] : [],
  }) + chart({
    id: `${id}-failed`, title: 'Failed checks', origin, x: range, yFormat: num, series: [series('failed checks', (e) => e.failedChecks, '')],
    hlines: a.threshold !== undefined ? [{ y: a.threshold, label: `roll back at ${a.threshold}`, color: COLORS.threshold }] : [],
  });
}

function metricCharts(id: string, a: ReportAnalysis, range: [number, number], origin: number): string {
  const names = [...new Set(a.looks.flatMap((l) => (l.measurements ?? []).map((m) => m.metric)))];
  return names.map((name) => {
    const ms = a.looks.flatMap((l) => (l.measurements ?? []).filter((m) => m.metric === name).map((m) => ({ at: l.at, m })));
    const limits = ms[0]?.m;
    return chart({
      id: `${id}-${name}`, title: `${name} per measurement`, origin, x: range, yFormat: num,
      series: [{ name, color: COLORS.canary, points: ms.flatMap(({ at, m }) => (m.value === undefined ? [] : [{ x: at, y: m.value, title: `${name} ${num(m.value)}: ${m.phase} at ${iso(at)}` }])) }],
      hlines: [
        ...(limits?.min !== undefined ? [{ y: limits.min, label: `min ${limits.min}`, color: COLORS.threshold }] : []),
        ...(limits?.max !== undefined ? [{ y: limits.max, label: `max ${limits.max}`, color: COLORS.threshold }] : []),
      ],
    });
  }).join('');
}

function looksTable(looks: readonly ReportLook[]): string {
  const rows = looks.map((l) => `<tr data-look="${l.look}"><td>${l.look}</td><td>${esc(iso(l.at))}</td><td>${esc(l.phase)}</td><td>${esc(l.reason)}</td></tr>`);
  return `<details><summary>Every look (${looks.length})</summary><table class="looks"><thead><tr><th>look</th><th>at</th><th>analysis</th><th>why</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>`;
}

function analysisSection(a: ReportAnalysis, i: number, d: ReportData, range: [number, number]): string {
  const id = `analysis-${i}`;
  const looks = a.looks;
  const from = looks[0]?.at ?? range[0];
  const to = Math.max(looks[looks.length - 1]?.at ?? range[1], from + 1000);
  const where = a.source === 'step' ? `step ${(a.step ?? 0) + 1}: ${d.steps[a.step ?? 0]?.description ?? ''}` : 'background analysis (the whole rollout)';
  const last = looks[looks.length - 1];
  const body = a.kind === 'sequential' ? sequentialCharts(id, a, [from, to], range[0])
    : a.kind === 'threshold' ? thresholdCharts(id, a, [from, to], range[0])
      : metricCharts(id, a, [from, to], range[0]);
  return `<section class="analysis" data-analysis="${esc(a.kind)}" id="${id}"><h3>${esc(where)}</h3>`
    + `<p>${looks.length} look(s)${last ? `; last: <b>${esc(last.phase)}</b> — ${esc(last.reason)}` : ''}</p>${body}${looksTable(looks)}</section>`;
}

function actionsTable(d: ReportData): string {
  if (d.actions.length === 0) return '<p class="muted">Nothing recorded.</p>';
  const rows = d.actions.map((a) => `<tr data-event="${esc(a.event)}" class="${a.accepted === false ? 'refused' : ''}"><td>${esc(iso(a.at))}</td><td>${esc(a.by ?? (a.via === 'workflow' ? 'Ramp' : 'unknown'))}</td>`
    + `<td>${esc(a.event)}</td><td>${esc(a.via)}${a.accepted === false ? ' — refused, nothing changed' : a.accepted === undefined ? ' — applied or refused: unknown' : ''}</td><td>${esc(a.reason ?? '')}</td></tr>`);
  return `<table class="actions"><thead><tr><th>when</th><th>who</th><th>what</th><th>how</th><th>reason</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function facts(d: ReportData, o: PageOptions): string {
  const row = (k: string, v: string) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`;
  const took = d.startedAt !== undefined && d.endedAt !== undefined ? ` (took ${esc(offset(d.endedAt - d.startedAt))})` : '';
  return `<table class="facts">${[
    row('image', esc(d.image ?? '(pod template patch)')),
    row('target', `Deployment ${esc(d.rollout.namespace)}/${esc(d.target.deployment)}, Service ${esc(d.target.service)}`),
    row('started', `${esc(iso(d.startedAt))}${d.startedBy ? ` by ${esc(d.startedBy)}` : ''}`),
    row('ended', `${d.endedAt !== undefined ? esc(iso(d.endedAt)) : `running (phase ${esc(d.phase ?? 'unknown')})`}${took}`),
    row('workflow', `${esc(d.workflowId)}${d.runIds.length > 1 ? ` — ${d.runIds.length} runs (continued as new)` : ''}`),
    ...(o.temporalUiUrl ? [row('Temporal UI', `<a href="${esc(o.temporalUiUrl)}">${esc(o.temporalUiUrl)}</a>`)] : []),
  ].join('')}</table>`;
}

function list(title: string, items: readonly string[] | undefined, cls = ''): string {
  return items?.length ? `<h2>${esc(title)}</h2><ul class="${cls}">${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : '';
}

/** The whole page. */
export function reportHtml(d: ReportData, o: PageOptions = {}): string {
  const start = d.startedAt ?? d.weights[0]?.at ?? 0;
  const lastSeen = Math.max(start + 1000, ...d.weights.map((w) => w.at), ...d.actions.map((a) => a.at), ...d.analyses.flatMap((a) => a.looks.map((l) => l.at)));
  const range: [number, number] = [start, d.endedAt ?? lastSeen];
  const outcome = d.outcome ?? 'Running';
  const name = `${d.rollout.namespace}/${d.rollout.name}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Rollout ${esc(name)}: ${esc(outcome)}</title><style>${CSS}</style></head>
<body><main>
<h1>Rollout ${esc(name)} <span class="outcome ${OUTCOME_CLASS[outcome] ?? ''}" id="outcome">${esc(outcome)}</span></h1>
${d.reason ? `<div class="reason" id="reason">${esc(d.reason)}</div>` : ''}
${facts(d, o)}
${list('Could not establish', d.notes, 'notes')}
<h2>Timeline</h2>
${timeline(d, range)}
${stepsTable(d)}
<h2>Analysis</h2>
${d.analyses.length === 0 ? '<p class="muted">No analysis ran.</p>' : d.analyses.map((a, i) => analysisSection(a, i, d, range)).join('')}
<h2>Who did what</h2>
${actionsTable(d)}
${list('Problems found before any change', d.problems)}
${list('Left to fix by hand', d.leftToFix)}
<p class="muted">Made by <code>ramp report</code> from the rollout's Temporal history${o.generatedAt !== undefined ? ` at ${esc(iso(o.generatedAt))}` : ''}.</p>
</main></body></html>
`;
}
