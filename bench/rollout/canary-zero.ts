/** The moment a rollout's canary leaves traffic, as the apiserver shows it. */
import * as k8s from '@kubernetes/client-node';
import { clusterView } from '../../scripts/demo/mushop';

/**
 * Polls the live VirtualService `storefront` every `everyMs` until the canary has weight 0; returns
 * that moment (Date.now()). The poll's own interval bounds the measurement's resolution.
 */
export async function untilCanaryZero(kc: k8s.KubeConfig, ns: string, opts: { everyMs: number; timeoutMs: number }): Promise<number> {
  const view = clusterView(kc, ns);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if ((await view.canaryWeight()) === 0) return Date.now();
    if (Date.now() > deadline) throw new Error(`canary weight not 0 in VirtualService ${ns}/storefront after ${opts.timeoutMs} ms: see the rollout's history and, in git mode, Flux's Kustomization ${ns}/storefront`);
    await new Promise((r) => setTimeout(r, opts.everyMs));
  }
}
