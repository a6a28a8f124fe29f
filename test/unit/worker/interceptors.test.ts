/**
 * The activity boundary (src/worker/interceptors.ts), with Ramp's real activities run in the SDK's
 * activity test environment: a Kubernetes call that cannot connect (a closed loopback port) is
 * counted by activity and failure type, failures that are not Kubernetes calls are not, and the
 * activity's log lines carry run id, rollout and step.
 */
import * as net from 'node:net';
import * as k8s from '@kubernetes/client-node';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import axios from 'axios';
import { KUBE_CALL_FAILURES, classifyKubeError, target, type Verb } from '../../../src/activities/kube-errors';
import { createActivities } from '../../../src/activities';
import type { WorkloadRef } from '../../../src/domain/rollout/calls';
import { validateRollout } from '../../../src/domain/spec/parse';
import { activityInterceptors, kubeErrorType, rolloutOfArgs } from '../../../src/worker/interceptors';
import { RampMetrics } from '../../../src/worker/metrics';
import { RolloutRegistry } from '../../../src/worker/rollouts';
import { newTestRolloutRaw } from '../../support/builders';

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

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function kubeAt(port: number): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'closed', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'x' }],
    contexts: [{ name: 'c', cluster: 'closed', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

const spec = validateRollout(newTestRolloutRaw());
const ref: WorkloadRef = { namespace: 'mushop', rollout: 'storefront', stableDeployment: 'storefront-original', service: 'storefront', canary: spec.spec.canary };
const workflow = { workflowId: 'rollout/mushop/storefront-original', runId: 'run-42' };

async function samples(m: RampMetrics, prefix: string): Promise<string[]> {
  return (await m.exposition()).body.split('\n').filter((l) => l.startsWith(prefix));
}

describe('the activity boundary', () => {
  it('lists every failure type the Kubernetes error policy gives a failed call (and nothing else)', () => {
    const verbs: Verb[] = ['get', 'list', 'create', 'update', 'patch', 'delete'];
    const t = target('Deployment', 'ns', 'n');
    const given = new Set<string>();
    for (const status of [...Array.from({ length: 500 }, (_, i) => 100 + i), 'network' as const]) {
      for (const verb of verbs) for (const causes of [true, false]) given.add(classifyKubeError({ status, verb, causes }, t).type);
    }
    expect([...given].sort()).toEqual([...KUBE_CALL_FAILURES].sort());
  });

  it('counts a Kubernetes call that cannot connect as Unavailable, by activity, and logs it with run id, rollout and step', async () => {
    const metrics = new RampMetrics();
    const rollouts = new RolloutRegistry(metrics);
    rollouts.observe(workflow, { rollout: { namespace: 'mushop', name: 'storefront' }, phase: 'Initializing', phaseSince: '2026-01-01T00:00:00Z', step: 0, steps: 4, canaryWeight: 0, verdicts: [] });
    const logger = new Lines();
    const acts = createActivities({ kube: kubeAt(await closedPort()), http: axios.create(), prometheusUrl: 'http://127.0.0.1:1', metrics: new Map() });
    const env = new MockActivityEnvironment(
      { activityType: 'ensureCanary', workflowExecution: workflow, isLocal: true },
      { interceptors: [activityInterceptors(metrics, rollouts)], logger },
    );
    const err = await env.run(acts.ensureCanary, ref).then(() => undefined, (e: unknown) => e);
    expect(kubeErrorType(err)).toBe('Unavailable');
    expect(await samples(metrics, 'ramp_kubernetes_errors_total')).toEqual(['ramp_kubernetes_errors_total{activity="ensureCanary",type="Unavailable"} 1']);

    const failed = logger.lines.find((l) => l.message === 'Activity failed');
    expect(failed?.meta).toMatchObject({ workflowId: workflow.workflowId, runId: 'run-42', rollout: 'mushop/storefront', step: 0, activityType: 'ensureCanary' });
  });

  it('takes the rollout from the input when the worker does not run its workflow', async () => {
    const metrics = new RampMetrics();
    const logger = new Lines();
    const acts = createActivities({ kube: kubeAt(await closedPort()), http: axios.create(), prometheusUrl: 'http://127.0.0.1:1', metrics: new Map() });
    const env = new MockActivityEnvironment(
      { activityType: 'ensureCanary', workflowExecution: workflow },
      { interceptors: [activityInterceptors(metrics, new RolloutRegistry(metrics))], logger },
    );
    await expect(env.run(acts.ensureCanary, ref)).rejects.toThrow(/Deployment mushop\/storefront-original failed/);
    const failed = logger.lines.find((l) => l.message === 'Activity failed');
    expect(failed?.meta).toMatchObject({ workflowId: workflow.workflowId, runId: 'run-42', rollout: 'mushop/storefront' });
    expect(failed?.meta).not.toHaveProperty('step');
    expect(rolloutOfArgs([ref])).toBe('mushop/storefront');
    expect(rolloutOfArgs([{ namespace: 'mushop', name: 'x' }])).toBeUndefined();
  });

  it('does not count failures that are not Kubernetes calls', async () => {
    const metrics = new RampMetrics();
    const acts = createActivities({ kube: kubeAt(await closedPort()), http: axios.create(), prometheusUrl: 'http://127.0.0.1:1', metrics: new Map() });
    const env = new MockActivityEnvironment(
      { activityType: 'measureAnalysis', workflowExecution: workflow },
      { interceptors: [activityInterceptors(metrics, new RolloutRegistry(metrics))], logger: new Lines() },
    );
    // A time that is not ISO 8601 is an InvalidAnalysis: Ramp's judgement, not a Kubernetes call.
    const err = await env.run(acts.measureAnalysis, { analysis: spec.spec.steps[0] as never, vars: {}, at: 'yesterday' }).then(() => undefined, (e: unknown) => e);
    expect((err as { type?: string }).type).toBe('InvalidAnalysis');
    expect(kubeErrorType(err)).toBeUndefined();
    expect(await samples(metrics, 'ramp_kubernetes_errors_total')).toEqual([]);
  });
});
