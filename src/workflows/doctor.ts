import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { DoctorActivities, KubernetesCheck, PrometheusCheck } from '../activities/doctor';

const { checkKubernetes, checkPrometheus } = proxyActivities<DoctorActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export interface DoctorReport {
  taskQueue: string;
  kubernetes: KubernetesCheck;
  prometheus: PrometheusCheck;
}

/** Checks, from a worker, that the Kubernetes API and Prometheus answer. */
export async function doctorWorkflow(): Promise<DoctorReport> {
  const [kubernetes, prometheus] = await Promise.all([checkKubernetes(), checkPrometheus()]);
  return { taskQueue: workflowInfo().taskQueue, kubernetes, prometheus };
}
