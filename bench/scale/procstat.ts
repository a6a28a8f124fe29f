/**
 * Resource use of named processes, sampled from /proc once a second: resident memory (VmRSS) and
 * CPU time (utime + stime), plus the whole machine's busy share from /proc/stat. Linux only.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Reading {
  at: number;
  rssBytes: number;
  /** utime + stime in seconds. */
  cpuS: number;
}

function readProcess(pid: number): Reading | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rssKb = Number(status.match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0);
    return { at: Date.now(), rssBytes: rssKb * 1024, cpuS: (Number(rest[11]) + Number(rest[12])) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of all CPUs together. */
export function readMachine(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** What one process used over the sampled window. */
export interface ProcessUsage {
  pid: number;
  peakRssMiB: number;
  /** RSS at the last sample. */
  endRssMiB: number;
  /** CPU time over the window, in seconds. */
  cpuSeconds: number;
  /** Mean CPU over the window, in % of one core (200 % = both cores of a 2-core machine). */
  meanCpuPct: number;
  /** Highest CPU over any 5-second stretch, in % of one core. */
  peakCpuPct5s: number;
}

/** One row of the time series kept for the results (every 5 s). */
export interface SeriesPoint {
  /** Seconds since the window began. */
  t: number;
  /** Per process: resident memory in MiB. */
  rssMiB: Record<string, number>;
  /** Per process: CPU over the preceding 5 s, in % of one core. */
  cpuPct: Record<string, number>;
  /** The whole machine's busy share over the preceding 5 s, in % of all cores. */
  machineBusyPct?: number;
}

/** The machine's busy share (all cores, %) over the next `ms`. */
export async function machineBusyOver(ms: number): Promise<number> {
  const a = readMachine();
  await new Promise((r) => setTimeout(r, ms));
  const b = readMachine();
  return Math.round(((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100);
}

export class ProcSampler {
  private readonly readings = new Map<string, Reading[]>();
  private readonly machine: { at: number; busy: number; total: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;

  constructor(private readonly pids: Record<string, number>) {}

  start(everyMs = 1000): void {
    this.t0 = Date.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      const r = readProcess(pid);
      if (!r) continue;
      const list = this.readings.get(name) ?? [];
      list.push(r);
      this.readings.set(name, list);
    }
    this.machine.push({ at: Date.now(), ...readMachine() });
  }

  /** Use over the window from the start to `until` (default: the last sample). */
  usage(until = Infinity): Record<string, ProcessUsage> {
    const out: Record<string, ProcessUsage> = {};
    for (const [name, all] of this.readings) {
      const rs = all.filter((r) => r.at <= until + 1000);
      if (rs.length < 2) continue;
      const first = rs[0]!;
      const last = rs.at(-1)!;
      let peak5 = 0;
      for (let i = 0, j = 0; i < rs.length; i++) {
        while (rs[i]!.at - rs[j]!.at > 5000) j++;
        const dt = (rs[i]!.at - rs[j]!.at) / 1000;
        if (dt >= 4) peak5 = Math.max(peak5, ((rs[i]!.cpuS - rs[j]!.cpuS) / dt) * 100);
      }
      const seconds = (last.at - first.at) / 1000;
      out[name] = {
        pid: this.pids[name]!,
        peakRssMiB: Math.round(Math.max(...rs.map((r) => r.rssBytes)) / 2 ** 20),
        endRssMiB: Math.round(last.rssBytes / 2 ** 20),
        cpuSeconds: Math.round((last.cpuS - first.cpuS) * 10) / 10,
        meanCpuPct: Math.round(((last.cpuS - first.cpuS) / seconds) * 100),
        peakCpuPct5s: Math.round(peak5),
      };
    }
    return out;
  }

  /** The machine's busy share (all cores) over the window up to `until`, in %. */
  machineBusyPct(until = Infinity): { mean: number; peak5s: number } {
    const m = this.machine.filter((r) => r.at <= until + 1000);
    if (m.length < 2) return { mean: NaN, peak5s: NaN };
    const pct = (a: (typeof m)[number], b: (typeof m)[number]) => ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100;
    let peak = 0;
    for (let i = 0, j = 0; i < m.length; i++) {
      while (m[i]!.at - m[j]!.at > 5000) j++;
      if (m[i]!.at - m[j]!.at >= 4000) peak = Math.max(peak, pct(m[j]!, m[i]!));
    }
    return { mean: Math.round(pct(m[0]!, m.at(-1)!)), peak5s: Math.round(peak) };
  }

  /** Every 5 s: each process's RSS (MiB) and CPU (% of one core) over the preceding 5 s. */
  series(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    const end = Date.now();
    // The last reading at or before t, and the last one at least 4.5 s before that.
    const pair = <R extends { at: number }>(rs: R[], t: number): [R, R] | undefined => {
      let cur = -1;
      for (let i = 0; i < rs.length && rs[i]!.at <= t; i++) cur = i;
      if (cur < 0) return undefined;
      let prev = cur;
      while (prev > 0 && rs[cur]!.at - rs[prev]!.at < 4500) prev--;
      return rs[cur]!.at - rs[prev]!.at >= 4500 ? [rs[prev]!, rs[cur]!] : undefined;
    };
    for (let t = this.t0 + 5000; t <= end + 999; t += 5000) {
      const point: SeriesPoint = { t: Math.round((t - this.t0) / 1000), rssMiB: {}, cpuPct: {} };
      for (const [name, rs] of this.readings) {
        const p = pair(rs, t);
        if (!p) continue;
        point.rssMiB[name] = Math.round(p[1].rssBytes / 2 ** 20);
        point.cpuPct[name] = Math.round(((p[1].cpuS - p[0].cpuS) / ((p[1].at - p[0].at) / 1000)) * 100);
      }
      const m = pair(this.machine, t);
      if (m) point.machineBusyPct = Math.round(((m[1].busy - m[0].busy) / Math.max(1, m[1].total - m[0].total)) * 100);
      if (Object.keys(point.rssMiB).length > 0) out.push(point);
    }
    return out;
  }
}
