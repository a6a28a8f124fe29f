import type { JudgeObservation } from '../../../../src/domain/analysis/judge';
import { FLAGGER_DEFAULTS, thresholdJudge, type ThresholdState } from '../../../../src/domain/analysis/threshold-judge';
import { arm, hist, newObservation } from './observations';

describe('thresholdJudge (Flagger parity)', () => {
  /** One canary look per minute with `errors` of 1000 requests, latency all under 100 ms. */
  function minutes(errorsPerMinute: number[]): JudgeObservation[] {
    let r = 0;
    let e = 0;
    const out = [newObservation(0, arm(0, 0, hist(0, [0.5, 0.5, 0, 0, 0, 0, 0])), arm(0, 0))];
    errorsPerMinute.forEach((n, i) => {
      r += 1000;
      e += n;
      out.push(newObservation((i + 1) * 60, arm(r, e, hist(r, [0.5, 0.5, 0, 0, 0, 0, 0])), arm(0, 0)));
    });
    return out;
  }

  function run(looks: JudgeObservation[]) {
    let state: ThresholdState | undefined;
    return looks.map((o) => {
      const r = thresholdJudge(FLAGGER_DEFAULTS, state, o);
      state = r.state;
      return r.verdict;
    });
  }

  it.each<[string, number[], string[]]>([
    ['healthy minutes', [0, 5, 10, 3], ['continue', 'continue', 'continue', 'continue', 'continue']],
    ['five failed checks roll back', [20, 0, 20, 20, 20, 20], ['continue', 'continue', 'continue', 'continue', 'continue', 'continue', 'rollback']],
    ['exactly 99 % passes', [10, 10, 10, 10, 10], ['continue', 'continue', 'continue', 'continue', 'continue', 'continue']],
  ])('%s', (_name, errors, decisions) => {
    expect(run(minutes(errors)).map((v) => v.decision)).toEqual(decisions);
  });

  it('counts an interval without requests as failed (Flagger: no values found)', () => {
    const looks = [newObservation(0, arm(0, 0, hist(0)), arm(0, 0))];
    for (let i = 1; i <= 5; i++) looks.push(newObservation(i * 60, arm(0, 0, hist(0)), arm(0, 0)));
    const verdicts = run(looks);
    expect(verdicts[5]!.decision).toBe('rollback');
    expect(verdicts[5]!.reason).toMatch(/no data \(noData: fail\)/);
  });

  it('fails a check on a P99 above 500 ms', () => {
    const slow = [0, 0, 0, 0, 0.5, 0.3, 0.2];
    const looks = [newObservation(0, arm(0, 0, hist(0, slow)), arm(0, 0))];
    for (let i = 1; i <= 5; i++) looks.push(newObservation(i * 60, arm(i * 1000, 0, hist(i * 1000, slow)), arm(0, 0)));
    const verdicts = run(looks);
    expect(verdicts[1]!.evidence.p99Ms).toBe(1000);
    expect(verdicts[1]!.reason).toMatch(/request-duration value 1000 above max 500/);
    expect(verdicts[5]!.decision).toBe('rollback');
  });

  it('checks once per interval, whatever the number of looks', () => {
    const looks = [newObservation(0, arm(0, 0, hist(0)), arm(0, 0))];
    for (let i = 1; i <= 8; i++) looks.push(newObservation(i * 15, arm(i * 250, i * 25, hist(i * 250)), arm(0, 0)));
    const verdicts = run(looks);
    expect(verdicts.map((v) => v.evidence.checks)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2]);
  });
});
