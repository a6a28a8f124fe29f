/**
 * `tsx bench/analysis/explore/frontier.ts [--runs N] [--only a,b] [--set key=v1,v2 …]`: the default
 * spec at 60 s looks with judge settings varied one grid at a time, on chosen scenarios. Prints
 * one row per setting: what the frontier tables in docs/decisions/0016 are made from.
 */
import { isMainThread } from 'node:worker_threads';
import { SCENARIOS, TIMING } from '../scenarios';
import { simulateRun, type JudgeSpec } from '../simulate';
import { analysisStep } from '../../../src/domain/spec/analysis';
import { rate, quantile } from '../stats';

function parse(argv: string[]) {
  const o = { runs: 200, only: [] as string[], sets: [] as Record<string, number>[] };
  const grids: [string, number[]][] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') o.runs = Number(argv[++i]);
    else if (argv[i] === '--only') o.only = argv[++i]!.split(',');
    else if (argv[i] === '--set') {
      const [k, v] = argv[++i]!.split('=');
      grids.push([k!, v!.split(',').map(Number)]);
    } else throw new Error(`unknown option ${argv[i]}`);
  }
  // The cross product of the grids.
  o.sets = grids.reduce<Record<string, number>[]>((acc, [k, vs]) => acc.flatMap((a) => vs.map((v) => ({ ...a, [k]: v }))), [{}]);
  return o;
}

function main() {
  const o = parse(process.argv.slice(2));
  const scenarios = SCENARIOS.filter((s) => o.only.length === 0 || o.only.some((x) => s.name === x));
  const judges: JudgeSpec[] = o.sets.map((set, i) => {
    const a = analysisStep.parse({ interval: '60s', judge: { sequential: {} } });
    if (a.judge?.kind !== 'sequential') throw new Error('expected a sequential judge');
    return { id: `v${i}`, kind: 'spec', analysis: { ...a, judge: { ...a.judge, config: { ...a.judge.config, ...set } } }, lookS: 60 };
  });
  for (const sc of scenarios) {
    const runs = Array.from({ length: o.runs }, (_, r) => simulateRun({ ...sc, runs: o.runs }, TIMING, [7, r], judges));
    judges.forEach((j, k) => {
      const mine = runs.map((r) => r[k]!);
      const rb = rate(mine.filter((r) => r.rollbackS !== null).length, o.runs);
      const pr = mine.filter((r) => r.promoteS !== null).length / o.runs;
      const med = quantile(mine.map((r) => r.rollbackS), 0.5).seconds;
      const p90 = quantile(mine.map((r) => r.rollbackS), 0.9).seconds;
      process.stdout.write(`${sc.name.padEnd(36)} ${JSON.stringify(o.sets[k])}  rollback ${(100 * rb.rate).toFixed(1)}% (±${(100 * rb.se).toFixed(1)}) med ${med ?? '∞'} p90 ${p90 ?? '∞'} promoted ${(100 * pr).toFixed(0)}%\n`);
    });
  }
}

if (isMainThread) main();
