/**
 * The worker's JSON logs (src/worker/logger.ts): one JSON object per line, the level by name,
 * the SDK's metadata kept (workflow ids, failures with their cause), filtered at RAMP_LOG_LEVEL,
 * and a workflow's rollout and step added where the worker knows them.
 */
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { createJsonLogger, TemporalPinoLogger } from '../../../src/worker/logger';
import { loadWorkerConfig } from '../../../src/worker/config';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { lines, stream, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('worker logs', () => {
  it('are one JSON object per line with time, level name and message, below the level dropped', () => {
    const out = capture();
    const log = new TemporalPinoLogger(createJsonLogger('info', out.stream));
    log.debug('not shown');
    log.info('Worker state changed', { sdkComponent: 'worker', taskQueue: 'ramp', state: 'RUNNING' });
    log.warn('two\nlines');
    expect(out.lines).toHaveLength(2);
    const [a, b] = out.json();
    expect(a).toMatchObject({ level: 'info', msg: 'Worker state changed', sdkComponent: 'worker', taskQueue: 'ramp', state: 'RUNNING', component: 'ramp-worker' });
    expect(Date.parse(a!.time as string)).not.toBeNaN();
    expect(b).toMatchObject({ level: 'warn', msg: 'two\nlines' });
  });

  it("keep a failure's type, message, stack and cause", () => {
    const out = capture();
    const log = new TemporalPinoLogger(createJsonLogger('debug', out.stream));
    const error = ApplicationFailure.create({ type: 'Unavailable', message: 'get Deployment shop/web failed', cause: new Error('connect ECONNREFUSED') });
    log.warn('Activity failed', { error, activityType: 'ensureCanary' });
    const [line] = out.json();
    expect(line!.error).toMatchObject({ type: 'ApplicationFailure', message: expect.stringContaining('get Deployment shop/web failed') });
    expect(JSON.stringify(line!.error)).toContain('connect ECONNREFUSED');
  });

  it('log a rollout that ended on its outcome (a failed workflow by design) at info, without a stack; other workflow failures stay warnings', () => {
    const out = capture();
    const log = new TemporalPinoLogger(createJsonLogger('info', out.stream));
    const outcome = ApplicationFailure.create({ type: 'RolloutRolledBack', message: 'rolled back: analysis Failed', nonRetryable: true });
    log.warn('Workflow failed', { error: outcome, workflowId: 'rollout/shop/web', sdkComponent: 'worker' });
    // As it arrives from a workflow thread: structured-cloned, its type gone.
    log.warn('Workflow failed', { error: structuredClone(outcome), workflowId: 'rollout/shop/web', sdkComponent: 'worker' });
    log.warn('Workflow failed', { error: new Error('a bug'), workflowId: 'rollout/shop/cart', sdkComponent: 'worker' });
    const [ended, cloned, bug] = out.json();
    expect(ended).toMatchObject({ level: 'info', msg: 'Workflow ended on its outcome: rolled back: analysis Failed', outcome: 'RolloutRolledBack', workflowId: 'rollout/shop/web' });
    expect(ended!.error).toBeUndefined();
    expect(cloned).toMatchObject({ level: 'info', msg: 'Workflow ended on its outcome: rolled back: analysis Failed', workflowId: 'rollout/shop/web' });
    expect(cloned!.error).toBeUndefined();
    expect(bug).toMatchObject({ level: 'warn', msg: 'Workflow failed', workflowId: 'rollout/shop/cart' });
    expect(JSON.stringify(bug!.error)).toContain('a bug');
  });

  it("add a known workflow's rollout and step, and leave lines that carry them alone", () => {
    const out = capture();
    const known: Record<string, { rollout: string; step: number }> = { 'rollout/shop/web': { rollout: 'shop/web', step: 2 } };
    const log = new TemporalPinoLogger(createJsonLogger('info', out.stream), (id) => known[id]);
    log.info('Workflow completed', { workflowId: 'rollout/shop/web', runId: 'r1', [Symbol.for('log_timestamp')]: 1n });
    log.info('signal refused', { workflowId: 'rollout/shop/web', runId: 'r1', rollout: 'shop/web', step: 1 });
    log.info('other', { workflowId: 'rollout/shop/cart', runId: 'r2' });
    expect(out.json().map((l) => [l.rollout, l.step])).toEqual([['shop/web', 2], ['shop/web', 1], [undefined, undefined]]);
  });

  it('take their level from RAMP_LOG_LEVEL (info unless set), in either case, and refuse other values naming it', () => {
    const base = { TEMPORAL_ADDRESS: '127.0.0.1:7233' };
    expect(loadWorkerConfig(base).RAMP_LOG_LEVEL).toBe('info');
    expect(loadWorkerConfig({ ...base, RAMP_LOG_LEVEL: 'DEBUG' }).RAMP_LOG_LEVEL).toBe('debug');
    expect(() => loadWorkerConfig({ ...base, RAMP_LOG_LEVEL: 'verbose' })).toThrow(/RAMP_LOG_LEVEL: must be one of trace, debug, info, warn, error \(got "verbose"\)/);
  });

  it('and the endpoints default to 0.0.0.0:9464 (Ramp) and 0.0.0.0:9465 (the SDK)', () => {
    const c = loadWorkerConfig({});
    expect([c.RAMP_HTTP_ADDRESS, c.RAMP_SDK_METRICS_ADDRESS]).toEqual(['0.0.0.0:9464', '0.0.0.0:9465']);
    expect(() => loadWorkerConfig({ RAMP_HTTP_ADDRESS: '9464' })).toThrow(/RAMP_HTTP_ADDRESS: must be host:port/);
  });
});
