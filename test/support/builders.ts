/** Builders for test inputs (flagger's newTestCanary style): a valid default, overridden per test. */
import { SpecError, validateRollout } from '../../src/domain/spec/parse';
import { mergePatch } from '../../src/domain/workload/canary';

/** Every problem validation finds in a raw spec, as "path: message" lines (none for a valid spec). */
export function specProblems(raw: unknown): string[] {
  try {
    validateRollout(raw);
  } catch (err) {
    if (err instanceof SpecError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

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
