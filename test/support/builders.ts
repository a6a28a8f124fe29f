/** Builders for test inputs (flagger's newTestCanary style): a valid default, overridden per test. */
import { mergePatch } from '../../src/domain/workload/canary';

/** A raw (unresolved) Rollout spec modelled on the MuShop storefront guide, subset routing. */
export function newTestRolloutRaw(patch: Record<string, unknown> = {}): Record<string, unknown> {
  const base = {
    apiVersion: 'ramp.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'storefront', namespace: 'mushop' },
    spec: {
      target: { deployment: 'storefront-original', service: 'storefront' },
      canary: { image: 'storefront:beta', versionLabel: { key: 'version', stable: 'original', canary: 'beta' } },
      traffic: {
        provider: 'istio',
        virtualService: { name: 'storefront', routes: ['primary'] },
        routing: { mode: 'subset', destinationRule: 'storefront' },
      },
      steps: [{ setWeight: 10 }, { setWeight: 50 }, { approval: {} }, { setWeight: 100 }],
    },
  };
  return mergePatch(base, patch) as Record<string, unknown>;
}
