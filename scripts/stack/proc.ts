/**
 * Starting and stopping the stack's processes. Each runs detached in its own process group,
 * logs to <state>/logs/<name>.log, and is remembered in <state>/pids/<name>.json so that `down`
 * stops exactly the processes `up` started — by pid, after checking the pid still runs the
 * same executable (a recycled pid is never signalled).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ProcRecord {
  name: string;
  pid: number;
  exe: string;
  args: string[];
  startedAt: string;
  log: string;
}

export interface ProcDirs {
  pids: string;
  logs: string;
}

function recordFile(dirs: ProcDirs, name: string): string {
  return path.join(dirs.pids, `${name}.json`);
}

export function readRecord(dirs: ProcDirs, name: string): ProcRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(recordFile(dirs, name), 'utf8')) as ProcRecord;
  } catch {
    return undefined;
  }
}

/**
 * True when pid is alive and runs exe (guards against pid reuse): its /proc cmdline starts with
 * exe, or, for a program that rewrites its process title (sshd shows `sshd: … [listener]`), its
 * /proc exe link is exe.
 */
export function isRunning(rec: ProcRecord): boolean {
  try {
    const argv0 = fs.readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').split('\0')[0];
    const stat = fs.readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    // A zombie has exited; it only waits to be reaped by its parent.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && (argv0 === rec.exe || runsExe(rec.pid, rec.exe));
  } catch {
    return false;
  }
}

function runsExe(pid: number, exe: string): boolean {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`) === fs.realpathSync(exe);
  } catch {
    return false;
  }
}

export function start(dirs: ProcDirs, name: string, exe: string, args: string[], env?: NodeJS.ProcessEnv): ProcRecord {
  fs.mkdirSync(dirs.pids, { recursive: true });
  fs.mkdirSync(dirs.logs, { recursive: true });
  const log = path.join(dirs.logs, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} starting ${exe} ${args.join(' ')}\n`);
  const child = spawn(exe, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
  });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${exe})`);
  child.unref();
  const rec: ProcRecord = { name, pid: child.pid, exe, args, startedAt: new Date().toISOString(), log };
  fs.writeFileSync(recordFile(dirs, name), JSON.stringify(rec, null, 2) + '\n');
  return rec;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops the recorded process: SIGTERM, then SIGKILL after graceMs. Returns what it did.
 * The record is removed in every case, so a stale record never blocks the next `up`.
 */
export async function stop(dirs: ProcDirs, name: string, graceMs = 10_000): Promise<'stopped' | 'killed' | 'not-running'> {
  const rec = readRecord(dirs, name);
  if (!rec) return 'not-running';
  let outcome: 'stopped' | 'killed' | 'not-running' = 'not-running';
  if (isRunning(rec)) {
    process.kill(rec.pid, 'SIGTERM');
    outcome = 'stopped';
    const deadline = Date.now() + graceMs;
    while (isRunning(rec) && Date.now() < deadline) await sleep(100);
    if (isRunning(rec)) {
      process.kill(rec.pid, 'SIGKILL');
      outcome = 'killed';
      while (isRunning(rec)) await sleep(50);
    }
  }
  fs.rmSync(recordFile(dirs, name), { force: true });
  return outcome;
}

/** Last lines of a component's log, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
