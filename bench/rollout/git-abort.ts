/**
 * Git mode: `abort` → canary weight 0 in the cluster, with the emergency path on and off
 * (`spec.gitops.emergency`, docs/gitops.md#git-mode). Each run commits the MuShop storefront to a new
 * repository on the stack's git server that the stack's real Flux applies at a 1 m interval, as a
 * team would set it (Ramp requests a reconcile after each push either way), pauses a rollout at 20 %
 * and aborts it. Measured from the abort update's acceptance to the first poll of the live
 * VirtualService (every 50 ms) showing canary weight 0.
 */
import type { Client } from '@temporalio/client';
import * as k8s from '@kubernetes/client-node';
import { rolloutResult, startRollout } from '../../src/client/rollouts';
import { abortUpdate, statusQuery } from '../../src/shared/messages';
import { createGitMushop } from '../../scripts/demo/gitops';
import type { StackInfo } from '../../scripts/stack/info';
import { untilCanaryZero } from './canary-zero';

export const GIT_POLL_MS = 50;
export const GIT_FLUX_INTERVAL = '1m';

export interface GitAbortMs {
  /** spec.gitops.emergency: true (the default): the restored routes are written to the cluster beside the commit. */
  emergency: number[];
  /** spec.gitops.emergency: false: the routes come back only when Flux applies the commit. */
  noEmergency: number[];
}

/** Polls the rollout until it is Paused; the git steps before it wait on Flux, so this takes seconds. */
async function untilPaused(h: Awaited<ReturnType<typeof startRollout>>, ns: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await h.query(statusQuery);
    if (s.phase === 'Paused') return;
    if (['Succeeded', 'RolledBack', 'RollbackFailed', 'Refused'].includes(s.phase) || Date.now() > deadline) {
      throw new Error(`git-mode rollout in ${ns} did not pause at 20 % (phase ${s.phase}: ${s.message}); see Flux's Kustomization ${ns}/storefront and the rollout's history`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `runs` aborts with the emergency path on and `runs` with it off, one at a time and alternating,
 * so Flux serves one rollout at a time and drift of the shared stack weighs on both variants alike.
 */
export async function gitAbortToSafe(kc: k8s.KubeConfig, client: Client, info: StackInfo, taskQueue: string, runs: number, log: (line: string) => void): Promise<GitAbortMs> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const out: GitAbortMs = { emergency: [], noEmergency: [] };
  const base = `bench-git-${Date.now().toString(36)}`;
  for (let i = 0; i < 2 * runs; i++) {
    const emergency = i % 2 === 0;
    const shop = await createGitMushop(kc, info, { namespace: `${base}-${i}`, interval: GIT_FLUX_INTERVAL });
    try {
      const rollout = shop.rollout({ steps: [{ setWeight: 20 }, { pause: {} }], emergency, rollback: { scaleDownDelay: '1s' } });
      const h = await startRollout(client, rollout, { taskQueue });
      await untilPaused(h, shop.namespace);
      await h.executeUpdate(abortUpdate, { args: [{ reason: 'bench', by: 'bench' }] });
      const accepted = Date.now();
      const safe = await untilCanaryZero(kc, shop.namespace, { everyMs: GIT_POLL_MS, timeoutMs: 120_000 });
      // The rollback's remaining commits finish before the next run, so Flux is idle when it starts.
      await rolloutResult(h);
      (emergency ? out.emergency : out.noEmergency).push(safe - accepted);
      log(`git abort → safe, emergency ${emergency ? 'on' : 'off'}: ${safe - accepted} ms`);
    } finally {
      // Flux's finalizer prunes what the Kustomization applied; nothing waits on it.
      await core.deleteNamespace({ name: shop.namespace }).catch(() => undefined);
    }
  }
  return out;
}
