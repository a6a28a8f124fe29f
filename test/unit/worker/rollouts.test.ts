/**
 * The worker's view of its rollouts (src/worker/rollouts.ts) and Ramp's metrics it keeps
 * (src/worker/metrics.ts): what one observation after another does to the series and the logs,
 * and that a rollout's series go when it ends.
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import type { RolloutObservation } from '../../../src/shared/observation';
import { LIVE_PHASES, RampMetrics } from '../../../src/worker/metrics';
import { RolloutRegistry } from '../../../src/worker/rollouts';

class Lines implements Logger {
  readonly lines: { level: LogLevel; message: string; meta?: LogMetadata }[] = [];
  log(level: LogLevel, message: string, meta?: LogMetadata) {
    this.lines.push({ level, message, meta });
  }
  trace(m: string, meta?: LogMetadata) { this.log('TRACE', m, meta); }
  debug(m: string, meta?: LogMetadata) { this.log('DEBUG', m, meta); }
  info(m: string, meta?: LogMetadata) { this.log('INFO', m, meta); }
  warn(m: string, meta?: LogMetadata) { this.log('WARN', m, meta); }
  error(m: string, meta?: LogMetadata) { this.log('ERROR', m, meta); }
}

/** The exposition's samples as "name{labels} value" lines, without comments. */
async function samples(m: RampMetrics, prefix: string): Promise<string[]> {
  return (await m.exposition()).body.split('\n').filter((l) => l.startsWith(prefix));
}

const obs = (patch: Partial<RolloutObservation> = {}): RolloutObservation => ({
  rollout: { namespace: 'shop', name: 'web' }, phase: 'Progressing', phaseSince: '2026-01-01T00:00:00.000Z',
  step: 0, steps: 4, canaryWeight: 0, verdicts: [], ...patch,
});
const run = { workflowId: 'rollout/shop/web-original', runId: 'run-1' };

describe('RampMetrics', () => {
  it('starts with every live phase at 0 and every outcome at 0, so rates and increases see the first event', async () => {
    const m = new RampMetrics();
    expect(await samples(m, 'ramp_rollouts{')).toEqual(LIVE_PHASES.map((p) => `ramp_rollouts{phase="${p}"} 0`));
    expect(await samples(m, 'ramp_rollout_outcomes_total')).toEqual(
      ['Promoted', 'RolledBack', 'RollbackFailed', 'Refused'].map((o) => `ramp_rollout_outcomes_total{outcome="${o}"} 0`));
    expect(LIVE_PHASES).not.toContain('Succeeded');
  });

  it('counts call errors by their labels', async () => {
    const m = new RampMetrics();
    m.kubernetesError('ensureCanary', 'Forbidden');
    m.kubernetesError('ensureCanary', 'Forbidden');
    m.prometheusError('unreachable');
    expect(await samples(m, 'ramp_kubernetes_errors_total')).toEqual(['ramp_kubernetes_errors_total{activity="ensureCanary",type="Forbidden"} 2']);
    expect(await samples(m, 'ramp_prometheus_errors_total')).toEqual(['ramp_prometheus_errors_total{type="unreachable"} 1']);
  });

  it('reports readiness as 1 or 0 at each scrape', async () => {
    let ready = false;
    const m = new RampMetrics({ ready: () => Promise.resolve(ready) });
    expect(await samples(m, 'ramp_worker_ready')).toEqual(['ramp_worker_ready 0']);
    ready = true;
    expect(await samples(m, 'ramp_worker_ready')).toEqual(['ramp_worker_ready 1']);
  });
});

describe('RolloutRegistry', () => {
  it("keeps a running rollout's weight, step, phase and phase start; a phase change replaces the phase series", async () => {
    const m = new RampMetrics();
    const r = new RolloutRegistry(m);
    r.observe(run, obs({ phase: 'Progressing', step: 0, canaryWeight: 20 }));
    r.observe(run, obs({ phase: 'Paused', phaseSince: '2026-01-01T00:01:40.000Z', step: 1, canaryWeight: 20 }));
    expect(await samples(m, 'ramp_rollout_canary_weight_percent')).toEqual(['ramp_rollout_canary_weight_percent{namespace="shop",name="web"} 20']);
    expect(await samples(m, 'ramp_rollout_step')).toEqual(['ramp_rollout_step{namespace="shop",name="web"} 1']);
    expect(await samples(m, 'ramp_rollout_phase_since_timestamp_seconds')).toEqual(
      [`ramp_rollout_phase_since_timestamp_seconds{namespace="shop",name="web",phase="Paused"} ${Date.parse('2026-01-01T00:01:40Z') / 1000}`]);
    expect(await samples(m, 'ramp_rollouts{phase="Paused"}')).toEqual(['ramp_rollouts{phase="Paused"} 1']);
    expect(await samples(m, 'ramp_rollouts{phase="Progressing"}')).toEqual(['ramp_rollouts{phase="Progressing"} 0']);
    expect(r.logFields(run.workflowId)).toEqual({ rollout: 'shop/web', step: 1 });
  });

  it('counts each reported verdict once, and an outcome once, then drops the rollout and its series', async () => {
    const m = new RampMetrics();
    const r = new RolloutRegistry(m);
    r.observe(run, obs({ canaryWeight: 50, verdicts: [{ judge: 'sequential', decision: 'continue', step: 0 }, { judge: 'sequential', decision: 'continue', step: 0 }] }));
    r.observe(run, obs({ canaryWeight: 50, verdicts: [{ judge: 'sequential', decision: 'promote', step: 0 }] }));
    r.observe(run, obs({ phase: 'Succeeded', outcome: 'Promoted', canaryWeight: 0, verdicts: [] }));
    expect(await samples(m, 'ramp_analysis_verdicts_total')).toEqual([
      'ramp_analysis_verdicts_total{judge="sequential",decision="continue"} 2',
      'ramp_analysis_verdicts_total{judge="sequential",decision="promote"} 1',
    ]);
    expect(await samples(m, 'ramp_rollout_outcomes_total{outcome="Promoted"}')).toEqual(['ramp_rollout_outcomes_total{outcome="Promoted"} 1']);
    expect(await samples(m, 'ramp_rollout_canary_weight_percent')).toEqual([]);
    expect(await samples(m, 'ramp_rollout_step')).toEqual([]);
    expect(await samples(m, 'ramp_rollout_phase_since_timestamp_seconds')).toEqual([]);
    expect((await samples(m, 'ramp_rollouts{')).every((l) => l.endsWith(' 0'))).toBe(true);
    expect(r.logFields(run.workflowId)).toBeUndefined();
  });

  it('logs a phase change once, each verdict and the outcome, with workflow id, run id, rollout and step', () => {
    const log = new Lines();
    const r = new RolloutRegistry(new RampMetrics(), log);
    r.observe(run, obs({ phase: 'Progressing', step: 0 }));
    r.observe(run, obs({ phase: 'Progressing', step: 1, canaryWeight: 10 }));
    r.observe(run, obs({ phase: 'Paused', step: 2, canaryWeight: 10, verdicts: [{ judge: 'metrics', decision: 'promote', step: 1 }] }));
    r.observe(run, obs({ phase: 'RolledBack', step: 2, outcome: 'RolledBack' }));
    expect(log.lines.map((l): unknown[] => [l.message, l.meta?.phase ?? l.meta?.decision])).toEqual([
      ['rollout phase', 'Progressing'],
      ['analysis verdict', 'promote'],
      ['rollout phase', 'Paused'],
      ['rollout ended', 'RolledBack'],
    ]);
    for (const l of log.lines) expect(l.meta).toMatchObject({ workflowId: run.workflowId, runId: 'run-1', rollout: 'shop/web', step: expect.any(Number) });
    // A verdict is logged at the step of its look, though the step it ended is over by the report.
    expect(log.lines[1]!.meta).toMatchObject({ step: 1 });
    expect(log.lines[3]!.meta).toMatchObject({ outcome: 'RolledBack' });
  });

  it('registers its sink so that replays do not report again', () => {
    const sink = new RolloutRegistry(new RampMetrics()).sinks().ramp.rollout;
    expect(sink.callDuringReplay).toBe(false);
  });
});
