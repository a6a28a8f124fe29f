import { readFileSync } from 'node:fs';
import { resolveSequentialConfig, sequentialJudge } from './src/domain/analysis/sequential-judge';
const looks = JSON.parse(readFileSync('/tmp/looks.json', 'utf8')) as { at: number; res: any }[];
const c = resolveSequentialConfig();
let s: any;
for (const [i, l] of looks.entries()) {
  if (!l.res.ok) continue;
  const r = sequentialJudge(c, s, { at: l.at, canaryWeight: 20, canary: l.res.canary, baseline: l.res.baseline });
  s = r.state;
  if (i % 6 === 0 || r.verdict.decision !== 'continue') {
    const e = r.verdict.evidence;
    console.log(i, r.verdict.decision, 'batch', e.batches, 'err', e.errors.eRollback.toFixed(2), 'lat', e.latency.eRollback.toFixed(2), e.latency.slowMs, `${e.latency.canary.events}/${e.latency.canary.requests} vs ${e.latency.baseline.events}/${e.latency.baseline.requests}`, 'tail', e.tail?.eRollback.toFixed(2), e.tail?.slowMs, `${e.tail?.canary.events}/${e.tail?.canary.requests} vs ${e.tail?.baseline.events}/${e.tail?.baseline.requests}`, 'noise', e.tail?.noise.toFixed(2));
  }
}
