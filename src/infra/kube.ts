/** Loading Kubernetes credentials the ecosystem's way: an explicit kubeconfig, in-cluster, or ~/.kube/config. */
import * as fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';

export function loadKubeConfig(kubeconfigPath?: string, env: NodeJS.ProcessEnv = process.env): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (kubeconfigPath) {
    if (!fs.existsSync(kubeconfigPath)) {
      throw new Error(`KUBECONFIG=${kubeconfigPath}: file not found; point KUBECONFIG at a kubeconfig file, or unset it to use the in-cluster ServiceAccount`);
    }
    kc.loadFromFile(kubeconfigPath);
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: set KUBECONFIG to a kubeconfig file, or run inside a cluster');
  }
  return kc;
}
