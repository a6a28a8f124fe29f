/**
 * What must hold in the cluster after any rollout, whatever happened to the processes around it:
 * no orphaned canary Deployment, every managed route's weights add up to 100, routes Ramp does not
 * manage byte-for-byte unchanged, DestinationRule subsets consistent with the Deployments that exist.
 */
import * as k8s from '@kubernetes/client-node';
import { clusterView, Mushop } from '../../scripts/demo/mushop';

export async function clusterProblems(kc: k8s.KubeConfig, shop: Mushop): Promise<string[]> {
  const problems: string[] = [];
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const view = clusterView(kc, shop.namespace);
  const deps = (await apps.listNamespacedDeployment({ namespace: shop.namespace })).items;
  const orphans = deps.filter((d) => d.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'ramp');
  for (const o of orphans) problems.push(`orphaned canary Deployment ${shop.namespace}/${o.metadata?.name}`);

  const vs = await view.vs();
  for (const h of vs.spec.http) {
    if (h.route.length > 1) {
      const sum = h.route.reduce((a, r) => a + (r.weight ?? 0), 0);
      if (sum !== 100) problems.push(`route ${h.name ?? '(default)'} weights add up to ${sum}`);
    }
  }
  for (const name of ['api', 'assets']) {
    const now = JSON.stringify(vs.spec.http.find((h) => h.name === name));
    const before = JSON.stringify(shop.original.vs.spec.http.find((h) => h.name === name));
    if (now !== before) problems.push(`unmanaged route ${name} changed: ${before} → ${now}`);
  }
  if (shop.mode === 'subset') {
    const dr = await view.dr();
    for (const s of dr.spec.subsets) {
      const selected = deps.some((d) => Object.entries(s.labels ?? {}).every(([k, v]) => d.spec?.template.metadata?.labels?.[k] === v));
      if (!selected) problems.push(`DestinationRule subset ${s.name} selects no Deployment`);
    }
  }
  return problems;
}
