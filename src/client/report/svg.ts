/**
 * Small hand-written SVG charts for the rollout report: line and step series over time, a band
 * between two series, horizontal reference lines and vertical markers. Pure string building; every
 * text that reaches the output goes through `esc` (docs/decisions/0021-report.md says why no chart
 * library).
 */

/** Text for HTML and SVG content or a double-quoted attribute. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Series {
  name: string;
  /** A CSS colour. */
  color: string;
  points: { x: number; y: number; /** Tooltip. */ title?: string }[];
  /** Hold each value until the next point (weights), instead of joining points by straight lines. */
  step?: boolean;
  dashed?: boolean;
  /** Draw a dot on each point (each one is a data point the reader can hover). */
  dots?: boolean;
}

export interface Band {
  name: string;
  color: string;
  /** Lower and upper value at each x. */
  points: { x: number; lo: number; hi: number }[];
}

export interface ChartSpec {
  /** Identifies the chart in the page (data-chart). */
  id: string;
  title: string;
  series: Series[];
  bands?: Band[];
  /** Horizontal reference lines: a threshold, a tolerance. */
  hlines?: { y: number; label: string; color: string }[];
  /** Vertical markers: step boundaries, commands. */
  vlines?: { x: number; label: string; color: string }[];
  /** The time range shown (epoch ms). */
  x: [number, number];
  /** The value range; defaults to the data's, with zero included on a linear scale. */
  y?: [number, number];
  log?: boolean;
  /** Formats a value on the y axis. */
  yFormat: (v: number) => string;
  /** Where the time axis counts from (the rollout's start). */
  origin: number;
}

const W = 760;
const H = 220;
const M = { left: 64, right: 16, top: 28, bottom: 30 };

/** "1m05s" from milliseconds: time since the rollout started, as the axis shows it. */
export function offset(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** About `n` round tick values between lo and hi. */
function ticks(lo: number, hi: number, n: number): number[] {
  const span = hi - lo || 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].map((s) => s * 1000);

function timeTicks(from: number, to: number, origin: number): number[] {
  const span = to - from || 1;
  const step = TIME_STEPS.find((s) => span / s <= 8) ?? span / 8;
  const out: number[] = [];
  for (let t = origin + Math.ceil((from - origin) / step) * step; t <= to; t += step) out.push(t);
  return out;
}

const fixed = (v: number) => Number(v.toFixed(1));

/** One chart as an inline SVG element. */
export function chart(c: ChartSpec): string {
  const values = [
    ...c.series.flatMap((s) => s.points.map((p) => p.y)),
    ...(c.bands ?? []).flatMap((b) => b.points.flatMap((p) => [p.lo, p.hi])),
    ...(c.hlines ?? []).map((h) => h.y),
  ].filter((v) => Number.isFinite(v) && (!c.log || v > 0));
  let [ylo, yhi] = c.y ?? [Math.min(...values, c.log ? Infinity : 0), Math.max(...values)];
  if (!Number.isFinite(ylo) || !Number.isFinite(yhi)) [ylo, yhi] = c.log ? [0.1, 10] : [0, 1];
  if (c.log) [ylo, yhi] = [10 ** Math.floor(Math.log10(ylo)), 10 ** Math.ceil(Math.log10(yhi))];
  if (yhi <= ylo) yhi = c.log ? ylo * 10 : ylo + 1;
  const [x0, x1] = c.x[1] > c.x[0] ? c.x : [c.x[0], c.x[0] + 1000];
  const px = (x: number) => fixed(M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right));
  const fy = (y: number) => (c.log ? Math.log10(Math.max(y, ylo)) : y);
  const py = (y: number) => fixed(H - M.bottom - ((fy(Math.min(Math.max(y, ylo), yhi)) - fy(ylo)) / (fy(yhi) - fy(ylo))) * (H - M.top - M.bottom));

  const parts: string[] = [];
  parts.push(`<text class="chart-title" x="${M.left}" y="16">${esc(c.title)}</text>`);
  // Axes and grid.
  // A log axis labels at most about six powers of ten (e-values can reach 1e18).
  const decades = Math.round(Math.log10(yhi / ylo));
  const every = Math.max(1, Math.ceil(decades / 6));
  const yTicks = c.log
    ? Array.from({ length: Math.floor(decades / every) + 1 }, (_, i) => ylo * 10 ** (i * every))
    : ticks(ylo, yhi, 4);
  for (const t of yTicks) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}"/>`);
    parts.push(`<text class="tick" x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${esc(c.yFormat(t))}</text>`);
  }
  for (const t of timeTicks(x0, x1, c.origin)) {
    parts.push(`<text class="tick" x="${px(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(offset(t - c.origin))}</text>`);
  }
  parts.push(`<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>`);
  parts.push(`<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}"/>`);

  for (const [i, v] of (c.vlines ?? []).entries()) {
    // Labels near the right edge go to the left of their line; successive ones step down a row.
    const right = px(v.x) > W * 0.7;
    const label = `x="${right ? px(v.x) - 3 : px(v.x) + 3}"${right ? ' text-anchor="end"' : ''} y="${M.top + 10 + (i % 3) * 11}"`;
    parts.push(`<g class="vline"><line x1="${px(v.x)}" x2="${px(v.x)}" y1="${M.top}" y2="${H - M.bottom}" stroke="${esc(v.color)}"/>`
      + `<text ${label} fill="${esc(v.color)}">${esc(v.label)}</text></g>`);
  }
  for (const b of c.bands ?? []) {
    if (b.points.length === 0) continue;
    const upper = b.points.map((p) => `${px(p.x)},${py(p.hi)}`);
    const lower = [...b.points].reverse().map((p) => `${px(p.x)},${py(p.lo)}`);
    parts.push(`<polygon class="band" data-band="${esc(b.name)}" points="${[...upper, ...lower].join(' ')}" fill="${esc(b.color)}"><title>${esc(b.name)}</title></polygon>`);
  }
  for (const [i, h] of (c.hlines ?? []).entries()) {
    // Alternate sides, so the labels of two close lines do not overlap.
    const label = i % 2 === 0 ? `x="${W - M.right - 4}" text-anchor="end"` : `x="${M.left + 4}"`;
    parts.push(`<g class="hline" data-hline="${esc(h.label)}"><line x1="${M.left}" x2="${W - M.right}" y1="${py(h.y)}" y2="${py(h.y)}" stroke="${esc(h.color)}"/>`
      + `<text ${label} y="${py(h.y) - 4}" fill="${esc(h.color)}">${esc(h.label)}</text></g>`);
  }
  for (const s of c.series) {
    const pts = s.points.filter((p) => Number.isFinite(p.y));
    if (pts.length === 0) continue;
    const coords: string[] = [];
    for (const [i, p] of pts.entries()) {
      if (s.step && i > 0) coords.push(`${px(p.x)},${py(pts[i - 1]!.y)}`);
      coords.push(`${px(p.x)},${py(p.y)}`);
    }
    if (s.step) coords.push(`${px(x1)},${py(pts[pts.length - 1]!.y)}`);
    parts.push(`<polyline class="series" data-series="${esc(s.name)}" points="${coords.join(' ')}" stroke="${esc(s.color)}"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    if (s.dots !== false) {
      for (const p of pts) {
        parts.push(`<circle class="pt" data-series="${esc(s.name)}" cx="${px(p.x)}" cy="${py(p.y)}" r="3" fill="${esc(s.color)}"><title>${esc(p.title ?? `${s.name}: ${c.yFormat(p.y)}`)}</title></circle>`);
      }
    }
  }
  const legend = [...c.series.map((s) => [s.name, s.color] as const), ...(c.bands ?? []).map((b) => [b.name, b.color] as const)]
    .map(([name, color]) => `<span class="key"><i style="background:${esc(color)}"></i>${esc(name)}</span>`).join('');
  return `<figure class="chart" data-chart="${esc(c.id)}"><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(c.title)}">${parts.join('')}</svg>`
    + `<figcaption>${legend}</figcaption></figure>`;
}
