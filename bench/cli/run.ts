/**
 * `npm run bench:cli` — what the compiled `ramp` costs to start: whole-process CPU time (user +
 * system, of the child and anything it runs) of `node dist/src/client/cli/main.js` for `--help`,
 * `start --help` and `--version`, over repeated runs, against a bare `node -e 0` as the floor.
 * The target (issue 17, decision 0019): `ramp --help` at most 0.1 s of CPU. CPU time, not wall
 * time, so a busy machine slows the runs without moving the numbers much. Not a test: it writes
 * bench/results/cli.json and .md.
 *
 *   RAMP_BENCH_RUNS=30 npm run bench:cli       (RAMP_BENCH_NO_BUILD=1 measures the dist/ there is)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const RUNS = Number(process.env.RAMP_BENCH_RUNS ?? '30');
const MAIN = path.join(ROOT, 'dist/src/client/cli/main.js');
const TARGET_S = 0.1;

/**
 * Runs argv `runs` times and prints each run's CPU seconds, one a line: Python's
 * getrusage(RUSAGE_CHILDREN) after each wait is the one portable way to read a child's total.
 */
const MEASURE = `
import json, resource, subprocess, sys
argv, runs = json.loads(sys.argv[1]), int(sys.argv[2])
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
`;

interface Case {
  name: string;
  argv: string[];
  /** Held to the 0.1 s target. */
  target: boolean;
}

interface Result {
  name: string;
  command: string;
  runs: number;
  medianS: number;
  meanS: number;
  p90S: number;
  minS: number;
  maxS: number;
  target?: { maxS: number; met: boolean };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (s: number) => Math.round(s * 10_000) / 10_000;

function measure(c: Case): Result {
  const out = execFileSync('python3', ['-c', MEASURE, JSON.stringify(c.argv), String(RUNS)], { encoding: 'utf8', cwd: ROOT });
  const times = out.trim().split('\n').map(Number).sort((a, b) => a - b);
  const median = quantile(times, 0.5);
  return {
    name: c.name,
    command: c.argv.map((a) => (a === MAIN ? 'dist/src/client/cli/main.js' : a)).join(' '),
    runs: times.length,
    medianS: round(median),
    meanS: round(times.reduce((a, b) => a + b, 0) / times.length),
    p90S: round(quantile(times, 0.9)),
    minS: round(times[0]!),
    maxS: round(times[times.length - 1]!),
    ...(c.target ? { target: { maxS: TARGET_S, met: median <= TARGET_S } } : {}),
  };
}

function main(): void {
  if (!process.env.RAMP_BENCH_NO_BUILD) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (or drop RAMP_BENCH_NO_BUILD)`);
  const node = process.execPath;
  const cases: Case[] = [
    { name: 'node alone (the floor)', argv: [node, '-e', '0'], target: false },
    { name: 'ramp --help', argv: [node, MAIN, '--help'], target: true },
    { name: 'ramp start --help', argv: [node, MAIN, 'start', '--help'], target: true },
    { name: 'ramp --version', argv: [node, MAIN, '--version'], target: true },
    { name: 'ramp validate -f, offline (loads the spec schema)', argv: [node, MAIN, 'validate', '-f', 'examples/mushop/rollout.yaml'], target: false },
  ];
  const results = cases.map((c) => {
    const r = measure(c);
    console.log(`${r.name.padEnd(58)} median ${r.medianS.toFixed(3)} s  p90 ${r.p90S.toFixed(3)} s${r.target ? (r.target.met ? '  (target met)' : '  (TARGET MISSED)') : ''}`);
    return r;
  });
  const machine = { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', loadavg1: round(os.loadavg()[0]!), measuredAt: new Date().toISOString() };
  const dir = path.join(ROOT, 'bench/results');
  fs.writeFileSync(path.join(dir, 'cli.json'), `${JSON.stringify({ runs: RUNS, targetS: TARGET_S, machine, results }, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'cli.md'), [
    '# CLI start-up cost (`npm run bench:cli`)',
    '',
    `Whole-process CPU time (user + system) of the compiled CLI, ${RUNS} runs each, read with getrusage(RUSAGE_CHILDREN); ` +
    `target: \`ramp --help\` at most ${TARGET_S} s (issue 17, [decision 0019](../../docs/decisions/0019-cli-parser.md)). ` +
    `Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpu}), load average ${machine.loadavg1} when measured (${machine.measuredAt}).`,
    '',
    '| command | median | mean | p90 | min | max | target |',
    '|---|---|---|---|---|---|---|',
    ...results.map((r) => `| \`${r.command.replace(node, 'node')}\` (${r.name}) | ${r.medianS.toFixed(3)} s | ${r.meanS.toFixed(3)} s | ${r.p90S.toFixed(3)} s | ${r.minS.toFixed(3)} s | ${r.maxS.toFixed(3)} s | ${r.target ? (r.target.met ? 'met' : '**missed**') : '—'} |`),
    '',
  ].join('\n'));
  console.log(`results: ${path.relative(ROOT, path.join(dir, 'cli.md'))}, cli.json`);
}

main();
