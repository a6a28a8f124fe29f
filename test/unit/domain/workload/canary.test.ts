import { buildCanaryDeployment, checkStable, deploymentReadiness, DeploymentLike, mergePatch, promotedStableTemplate } from '../../../../src/domain/workload/canary';
import { validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';

function newStable(over: Partial<NonNullable<DeploymentLike['spec']>> = {}): DeploymentLike {
  return {
    metadata: { name: 'storefront-original', namespace: 'mushop', labels: { app: 'storefront' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'storefront', version: 'original' } },
      template: {
        metadata: { labels: { app: 'storefront', version: 'original' } },
        spec: { containers: [{ name: 'app', image: 'storefront:v1' }, { name: 'sidecar', image: 'proxy:1' }] },
      },
      strategy: { type: 'RollingUpdate' },
      ...over,
    },
  };
}

const canarySpec = (patch: Record<string, unknown> = {}) => validateRollout(newTestRolloutRaw({ spec: { canary: patch } })).spec.canary;

describe('buildCanaryDeployment', () => {
  it('copies stable with the canary label, the new image, Ramp labels and its own replicas', () => {
    const c = buildCanaryDeployment(newStable(), canarySpec({ replicas: 2 }), 'storefront');
    expect(c.metadata).toEqual({
      name: 'storefront-original-canary',
      namespace: 'mushop',
      labels: { app: 'storefront', version: 'beta', 'app.kubernetes.io/managed-by': 'ramp', 'ramp.dev/rollout': 'storefront' },
      annotations: { 'ramp.dev/stable-deployment': 'storefront-original' },
    });
    expect(c.spec!.replicas).toBe(2);
    expect(c.spec!.selector.matchLabels).toEqual({ app: 'storefront', version: 'beta' });
    expect(c.spec!.template.metadata!.labels).toEqual({ app: 'storefront', version: 'beta' });
    expect(c.spec!.template.spec!.containers.map((x) => x.image)).toEqual(['storefront:beta', 'proxy:1']);
    expect(c.spec!.strategy).toEqual({ type: 'RollingUpdate' });
  });

  it('sets the image on the named container and applies the pod-template patch', () => {
    const c = buildCanaryDeployment(newStable(), canarySpec({ container: 'sidecar', image: 'proxy:2', podTemplatePatch: { metadata: { annotations: { a: 'b' } }, spec: { nodeSelector: { pool: 'canary' } } } }), 'storefront');
    expect(c.spec!.template.spec!.containers.map((x) => x.image)).toEqual(['storefront:v1', 'proxy:2']);
    expect(c.spec!.template.metadata!.annotations).toEqual({ a: 'b' });
    expect(c.spec!.template.spec!.nodeSelector).toEqual({ pool: 'canary' });
    expect(c.spec!.template.metadata!.labels!.version).toBe('beta');
  });

  it('does not modify the stable object it was given', () => {
    const stable = newStable();
    const before = JSON.stringify(stable);
    buildCanaryDeployment(stable, canarySpec(), 'storefront');
    expect(JSON.stringify(stable)).toBe(before);
  });

  it.each([
    ['selector without the version key', newStable({ selector: { matchLabels: { app: 'storefront' } } }), {}, /selector has no "version" label/],
    ['selector with another stable value', newStable({ selector: { matchLabels: { app: 'storefront', version: 'v7' } } }), {}, /selector has version=v7, but spec.canary.versionLabel.stable is "original"/],
    ['unknown container', newStable(), { container: 'web' }, /has no container "web" \(containers: app, sidecar\)/],
  ])('refuses a stable Deployment with %s', (_n, stable, patch, message) => {
    expect(checkStable(stable, canarySpec(patch)).join('\n')).toMatch(message);
    expect(() => buildCanaryDeployment(stable, canarySpec(patch), 'storefront')).toThrow(message);
  });
});

describe('promotedStableTemplate', () => {
  it("is the canary's template with the stable version label", () => {
    const c = buildCanaryDeployment(newStable(), canarySpec(), 'storefront');
    const t = promotedStableTemplate(c.spec!.template, { key: 'version', stable: 'original', canary: 'beta' });
    expect(t.metadata!.labels).toEqual({ app: 'storefront', version: 'original' });
    expect(t.spec!.containers[0]!.image).toBe('storefront:beta');
    expect(c.spec!.template.metadata!.labels!.version).toBe('beta');
  });
});

describe('mergePatch (RFC 7386)', () => {
  it.each([
    [{ a: 1 }, { a: 2 }, { a: 2 }],
    [{ a: { b: 1, c: 2 } }, { a: { b: null } }, { a: { c: 2 } }],
    [{ a: [1, 2] }, { a: [3] }, { a: [3] }],
    [{ a: 1 }, { b: { c: 1 } }, { a: 1, b: { c: 1 } }],
    ['x', { a: 1 }, { a: 1 }],
  ])('%j + %j = %j', (target, patch, result) => {
    expect(mergePatch(target, patch)).toEqual(result);
  });
});

describe('deploymentReadiness', () => {
  const dep = (status: DeploymentLike['status'], generation = 2, replicas = 3): DeploymentLike => ({ ...newStable({ replicas }), metadata: { name: 'd', namespace: 'n', generation }, status });
  it.each([
    ['not observed yet', dep({ observedGeneration: 1 }), 'progressing'],
    ['replicas updating', dep({ observedGeneration: 2, updatedReplicas: 1, replicas: 3 }), 'progressing'],
    ['old replicas terminating', dep({ observedGeneration: 2, updatedReplicas: 3, replicas: 4, availableReplicas: 3 }), 'progressing'],
    ['updated but not available', dep({ observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 }), 'progressing'],
    ['complete', dep({ observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }), 'ready'],
    ['deadline exceeded', dep({ observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "x" has timed out progressing.' }] }), 'failed'],
  ])('%s → %s', (_n, d, state) => {
    expect(deploymentReadiness(d).state).toBe(state);
  });
});
