/**
 * `npm run demo`: brings the local stack up, starts a Ramp worker, runs the doctor workflow
 * through it (Kubernetes and Prometheus reached from an activity), and prints what runs where.
 * The stack stays up so the Temporal UI can be opened; `npm run stack -- down` stops it.
 */
import { formatInfo, stackUp } from './stack/stack';
import { connectRampClient, loadClientSettings, workflowUiUrl } from '../src/client/connect';
import { loadWorkerConfig } from '../src/worker/config';
import { createRampWorker } from '../src/worker/worker';
import type { doctorWorkflow } from '../src/workflows';

async function main(): Promise<void> {
  const { info } = await stackUp();
  console.log('\nLocal stack is up:\n' + formatInfo(info) + '\n');

  const env = {
    TEMPORAL_ADDRESS: info.temporal.address,
    TEMPORAL_NAMESPACE: info.temporal.namespace,
    RAMP_TASK_QUEUE: 'ramp-demo',
    KUBECONFIG: info.kubernetes.kubeconfig,
    RAMP_PROMETHEUS_URL: info.prometheus.url,
  };
  const rampWorker = await createRampWorker(loadWorkerConfig(env));
  const ramp = await connectRampClient(loadClientSettings(env));
  try {
    const workflowId = `ramp-demo-doctor-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const report = await rampWorker.worker.runUntil(
      ramp.client.workflow.execute<typeof doctorWorkflow>('doctorWorkflow', { taskQueue: env.RAMP_TASK_QUEUE, workflowId, args: [] }),
    );
    console.log(`A Ramp worker ran workflow ${workflowId} on task queue ${report.taskQueue}:`);
    console.log(`  Kubernetes ${report.kubernetes.version} at ${report.kubernetes.server}`);
    console.log(`  Prometheus ${report.prometheus.version} at ${report.prometheus.url}`);
    console.log(`  history: ${workflowUiUrl(info.temporal.uiUrl, info.temporal.namespace, workflowId)}`);
    console.log(`\nUse it: export KUBECONFIG=${info.kubernetes.kubeconfig} TEMPORAL_ADDRESS=${info.temporal.address}`);
    console.log('Stop it: npm run stack -- down');
  } finally {
    await ramp.close();
    await rampWorker.connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
