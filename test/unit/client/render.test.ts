import { judgeEvidenceLines, lastKnownBlock, statusBlock } from '../../../src/client/cli/render';
import type { RolloutStatus } from '../../../src/domain/rollout/state';
import type { SequentialEvidence } from '../../../src/domain/analysis/sequential-judge';

const metric = (canaryEvents: number, baselineEvents: number, ratio: number | null, eRollback: number) => ({
  canary: { events: canaryEvents, requests: 1000 }, baseline: { events: baselineEvents, requests: 9000 },
  ratio, bounds: ratio === null ? null : [ratio / 2, ratio * 2] as [number, number], eRollback, ePromote: 0.5, noise: 0.5,
});

describe('judgeEvidenceLines: why a judge decided, in numbers', () => {
  it('sequential: errors, slow requests, split and thresholds', () => {
    const e: SequentialEvidence = {
      at: 0, elapsedMs: 95_000, batches: 1,
      errors: metric(50, 18, 25, 3.2e7), latency: { ...metric(40, 360, 1, 0.8), slowMs: 250 },
      split: { configured: 0.1, observed: 0.1, eMismatch: 0.4, mismatch: false },
      thresholds: { rollback: 20, promote: 20, alpha: 0.05 }, resets: 0,
    };
    expect(judgeEvidenceLines({ kind: 'sequential', e })).toEqual([
      'errors: canary 5% of 1000, baseline 0.2% of 9000; ratio 25× [12.5, 50]; e-values rollback 3.2e+7, no-worse 0.5; noise 0.5',
      'slow (> 250 ms): canary 4% of 1000, baseline 4% of 9000; ratio 1× [0.5, 2]; e-values rollback 0.8, no-worse 0.5; noise 0.5',
      'split: canary 10% of requests, configured 10% (e-value 0.4)',
      'after 95s, 1 batches; act at e-value ≥ 20 (α 0.05)',
    ]);
  });

  it('sequential revision 2: the tail test gets its own line, after the slow requests', () => {
    const e: SequentialEvidence = {
      at: 0, elapsedMs: 120_000, batches: 2,
      errors: metric(10, 90, 1, 0.3), latency: { ...metric(40, 360, 1, 0.8), slowMs: 250 }, tail: { ...metric(20, 18, 10, 4.1e3), slowMs: 500 },
      split: { configured: 0.1, observed: 0.1, eMismatch: 0.4, mismatch: false },
      thresholds: { rollback: 20, promote: 20, alpha: 0.05 }, resets: 0,
    };
    expect(judgeEvidenceLines({ kind: 'sequential', e }).slice(1, 3)).toEqual([
      'slow (> 250 ms): canary 4% of 1000, baseline 4% of 9000; ratio 1× [0.5, 2]; e-values rollback 0.8, no-worse 0.5; noise 0.5',
      'tail (> 500 ms): canary 2% of 1000, baseline 0.2% of 9000; ratio 10× [5, 20]; e-values rollback 4100, no-worse 0.5; noise 0.5',
    ]);
  });

  it('sequential before any traffic, with a mismatch flagged', () => {
    const e: SequentialEvidence = {
      at: 0, elapsedMs: 0, batches: 0,
      errors: metric(0, 0, null, 1), latency: { ...metric(0, 0, null, 1), slowMs: null },
      split: { configured: 0.1, observed: 0.3, eMismatch: 500, mismatch: true },
      thresholds: { rollback: 20, promote: 20, alpha: 0.05 }, resets: 2,
    };
    const lines = judgeEvidenceLines({ kind: 'sequential', e });
    expect(lines[0]).toContain('ratio n/a');
    expect(lines[1]).toMatch(/^slow \(> \? ms\)/);
    expect(lines[2]).toBe('split: canary 30% of requests, configured 10% — MISMATCH (e-value 500)');
    expect(lines[3]).toMatch(/; 2 counter resets$/);
  });

  it('threshold: checks, failures and the last values', () => {
    expect(judgeEvidenceLines({ kind: 'threshold', e: { checks: 3, failedChecks: 2, successRate: 95.12345, p99Ms: 180, lastFailure: 'request-success-rate value 95.123 below min 99' } }))
      .toEqual(['checks 3, failed 2; last success rate 95.1%, p99 180 ms (request-success-rate value 95.123 below min 99)']);
  });
});

describe('statusBlock: the last judged analysis says how its noise priors were set', () => {
  const status = (calibration?: string): RolloutStatus => ({
    rollout: { namespace: 'shop', name: 'web' }, phase: 'Progressing', message: 'analysis', step: { index: 1, count: 3 },
    weights: { stable: 90, canary: 10 }, canaryDeployment: 'web-canary', startedAt: '2026-11-23T07:00:00.000Z', phaseSince: '2026-11-23T07:00:00.000Z', audit: [],
    lastAnalysis: {
      at: '2026-11-23T07:01:00.000Z', phase: 'Running', reason: 'sequential judge (look 3 of 10): no decision yet', source: 'step', measurements: [],
      judge: { kind: 'sequential', verdict: 'continue', ...(calibration ? { calibration } : {}) },
    },
  });

  it('prints the calibration line under the analysis, and nothing when there was none', () => {
    const why = "noise calibrated on the baseline's last 30 batches: errors wander ≤ 0.08 → prior 0.35; slow requests wander ≤ 0.05 → prior 0.35";
    const withIt = statusBlock(status(why), Date.parse('2026-11-23T07:02:00.000Z'));
    expect(withIt).toContain(`             ${why}`);
    expect(withIt.indexOf(`             ${why}`)).toBe(withIt.findIndex((l) => l.startsWith('Analysis')) + 1);
    expect(statusBlock(status(), Date.parse('2026-11-23T07:02:00.000Z')).some((l) => l.includes('noise calibrated'))).toBe(false);
  });
});

describe('statusBlock: git mode names the last commit', () => {
  it('prints the Git line with the short sha and the count, and none without commits', () => {
    const base: RolloutStatus = {
      rollout: { namespace: 'shop', name: 'web' }, phase: 'Paused', message: 'paused', step: { index: 1, count: 3 },
      weights: { stable: 40, canary: 60 }, canaryDeployment: 'web-canary', startedAt: '2026-11-23T07:00:00.000Z', phaseSince: '2026-11-23T07:00:00.000Z', audit: [],
    };
    const now = Date.parse('2026-11-23T07:01:00.000Z');
    expect(statusBlock({ ...base, git: { lastCommit: '0123456789abcdef0123456789abcdef01234567', commits: 5 } }, now))
      .toContain("Git        last commit 0123456789ab (5 by this rollout) — ramp story lists each step's");
    expect(statusBlock(base, now).some((l) => l.startsWith('Git'))).toBe(false);
  });

  it('an approval by merge says which branch to merge, not ramp approve (which it refuses)', () => {
    const waiting: RolloutStatus = {
      rollout: { namespace: 'shop', name: 'web' }, phase: 'AwaitingApproval', message: 'waiting', step: { index: 1, count: 3 },
      weights: { stable: 90, canary: 10 }, canaryDeployment: 'web-canary', startedAt: '2026-11-23T07:00:00.000Z', phaseSince: '2026-11-23T07:00:00.000Z', audit: [],
      pendingApproval: { since: '2026-11-23T07:00:30.000Z', onTimeout: 'abort', merge: { branch: 'ramp/shop/web', commit: 'fedcba9876543210fedcba9876543210fedcba98', into: 'main' } },
    };
    const lines = statusBlock(waiting, Date.parse('2026-11-23T07:01:00.000Z'));
    expect(lines).toContain('Waiting    merge of branch ramp/shop/web (commit fedcba987654) into main since 2026-11-23T07:00:30.000Z — merging it approves; deleting it, or ramp abort shop/web, turns it down');
    expect(lines.join('\n')).not.toContain('ramp approve');
  });
});

describe('statusBlock: a refused rollout is not a rollback', () => {
  it('lists every problem, and no step or weights (nothing ran)', () => {
    const s: RolloutStatus = {
      rollout: { namespace: 'shop', name: 'web' }, phase: 'Refused', outcome: 'Refused', message: 'refused before any change',
      step: { index: 0, count: 3, description: 'set canary weight to 10%' }, weights: { stable: 100, canary: 0 }, canaryDeployment: 'web-canary',
      startedAt: '2026-11-23T07:00:00.000Z', phaseSince: '2026-11-23T07:00:01.000Z', audit: [],
      reason: 'refused before any change: the preflight found 2 problem(s): a; b',
      problems: ['Service shop/nosuch not found; create it, or set spec.target.service to an existing Service', 'DestinationRule shop/web not found'],
    };
    const lines = statusBlock(s, Date.parse('2026-11-23T07:00:31.000Z'));
    expect(lines[1]).toBe('Phase      Refused for 30s   outcome Refused');
    expect(lines).toContain('  - Service shop/nosuch not found; create it, or set spec.target.service to an existing Service');
    expect(lines).toContain('  - DestinationRule shop/web not found');
    expect(lines.some((l) => /^(Step|Weights|Reason) /.test(l))).toBe(false);
    expect(lines.find((l) => l.startsWith('Problems'))).toMatch(/2 found before any change; nothing was changed/);
  });
});

describe('lastKnownBlock: ramp status with no worker to answer', () => {
  it('says why, then what Temporal knows as of the last phase change', () => {
    const lines = lastKnownBlock({
      workflowId: 'rollout/shop/web', runId: 'r1', taskQueue: 'ramp', temporalStatus: 'RUNNING', rollout: 'shop/web', target: 'shop/web',
      phase: 'Paused', phaseSince: '2026-11-23T07:00:00.000Z', image: 'web:v2', startTime: '2026-11-23T06:59:00.000Z',
      note: 'no worker is polling task queue ramp (the last poll began 3m ago)',
    }, Date.parse('2026-11-23T07:05:00.000Z'));
    expect(lines).toEqual([
      'no worker is polling task queue ramp (the last poll began 3m ago): this is the phase as of its last change',
      'Rollout    shop/web   image web:v2',
      'Phase      Paused since 2026-11-23T07:00:00.000Z (5m ago)',
      'Started    2026-11-23T06:59:00.000Z',
      'Temporal   RUNNING on task queue ramp',
    ]);
  });
});
