import { buildCanaryDeployment, checkStable, deploymentReadiness, DeploymentLike, gitPromotedStableTemplate, mergePatch, promotedStableTemplate } from '../../../../src/domain/workload/canary';
import { imageTag, resolveVersions, tagAsLabelValue } from '../../../../src/domain/workload/versions';
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
const VERSIONS = { key: 'version', stable: 'original', canary: 'beta', stablePinned: true };

describe('buildCanaryDeployment', () => {
  it('copies stable with the canary label, the new image, Ramp labels and its own replicas', () => {
    const c = buildCanaryDeployment(newStable(), canarySpec({ replicas: 2 }), 'storefront', VERSIONS);
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
    const c = buildCanaryDeployment(newStable(), canarySpec({ container: 'sidecar', image: 'proxy:2', podTemplatePatch: { metadata: { annotations: { a: 'b' } }, spec: { nodeSelector: { pool: 'canary' } } } }), 'storefront', VERSIONS);
    expect(c.spec!.template.spec!.containers.map((x) => x.image)).toEqual(['storefront:v1', 'proxy:2']);
    expect(c.spec!.template.metadata!.annotations).toEqual({ a: 'b' });
    expect(c.spec!.template.spec!.nodeSelector).toEqual({ pool: 'canary' });
    expect(c.spec!.template.metadata!.labels!.version).toBe('beta');
  });

  it('does not modify the stable object it was given', () => {
    const stable = newStable();
    const before = JSON.stringify(stable);
    buildCanaryDeployment(stable, canarySpec(), 'storefront', VERSIONS);
    expect(JSON.stringify(stable)).toBe(before);
  });

  it('refuses a stable Deployment without the named container', () => {
    expect(checkStable(newStable(), canarySpec({ container: 'web' }))).toEqual(['Deployment mushop/storefront-original has no container "web" (containers: app, sidecar); fix spec.canary.container']);
    expect(() => buildCanaryDeployment(newStable(), canarySpec({ container: 'web' }), 'storefront', VERSIONS)).toThrow(/has no container "web"/);
  });

  it('a stable whose selector lacks the version key is fine: the canary\'s selector adds it', () => {
    const stable = newStable({ selector: { matchLabels: { app: 'storefront' } } });
    expect(checkStable(stable, canarySpec())).toEqual([]);
    expect(buildCanaryDeployment(stable, canarySpec(), 'storefront', { ...VERSIONS, stablePinned: false }).spec!.selector.matchLabels).toEqual({ app: 'storefront', version: 'beta' });
  });
});

describe('resolveVersions', () => {
  const stable = (selector: Record<string, string>, labels: Record<string, string>) => newStable({
    selector: { matchLabels: selector },
    template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'storefront:2.1.2' }] } },
  });
  it.each([
    ['both from the spec; the selector pins the key', { versionLabel: { key: 'version', stable: 'original', canary: 'beta' } }, stable({ app: 's', version: 'original' }, { app: 's', version: 'original' }),
      { key: 'version', stable: 'original', canary: 'beta', stablePinned: true }],
    ['stable from the pods, canary from the image tag; the selector does not pin the key', { image: 'iad.ocir.io/mushop/storefront:2.2.0', versionLabel: { key: 'version', stable: null, canary: null } },
      stable({ app: 's' }, { app: 's', version: '2.1.2' }), { key: 'version', stable: '2.1.2', canary: '2.2.0', stablePinned: false }],
    ['the key is app (the Istio tutorial)', { versionLabel: { key: 'app', stable: 'v1', canary: 'v2' } }, stable({ run: 'vt', app: 'v1' }, { run: 'vt', app: 'v1' }),
      { key: 'app', stable: 'v1', canary: 'v2', stablePinned: true }],
    ['pods without the label (service routing pins by ReplicaSet instead)', { image: 'demo:yellow', versionLabel: { key: 'version', stable: null, canary: null } }, stable({ app: 'demo' }, { app: 'demo' }),
      { key: 'version', stable: '', canary: 'yellow', stablePinned: false }],
  ])('%s', (_n, canary, d, want) => {
    expect(resolveVersions(d, canarySpec(canary))).toEqual({ versions: want, problems: [] });
  });

  it.each([
    ['the spec disagrees with the pods', { versionLabel: { key: 'version', stable: 'v7', canary: 'beta' } }, /its pods carry version=original, but spec.canary.versionLabel.stable is "v7"; drop versionLabel.stable/],
    ['no tag to derive the canary\'s value from', { image: 'storefront@sha256:abcd', versionLabel: { key: 'version', stable: null, canary: null } }, /cannot be derived from the image "storefront@sha256:abcd" \(it has no usable tag\); set spec.canary.versionLabel.canary/],
    ['the same value on both', { image: 'storefront:original', versionLabel: { key: 'version', stable: null, canary: null } }, /the canary's version=original is the stable's too/],
  ])('problem: %s', (_n, canary, want) => {
    expect(resolveVersions(newStable(), canarySpec(canary)).problems.join('\n')).toMatch(want);
  });

  it.each([
    ['storefront:2.3.0', '2.3.0'], ['iad.ocir.io/mushop/storefront:2.3.0', '2.3.0'], ['registry:5000/team/app', undefined],
    ['registry:5000/team/app:v2@sha256:aa', 'v2'], ['app@sha256:aa', undefined],
  ])('image %s has tag %s', (image, tag) => expect(imageTag(image)).toBe(tag));

  it.each([['2.3.0', '2.3.0'], ['-x-', 'x'], ['a'.repeat(70), 'a'.repeat(63)], ['+', undefined]])('tag %s as a label value: %s', (tag, want) => expect(tagAsLabelValue(tag)).toBe(want));
});

describe('promotedStableTemplate', () => {
  it("a stable whose selector pins the key: the canary's template, the stable's value kept, the running version in Istio's canonical-revision label", () => {
    const c = buildCanaryDeployment(newStable(), canarySpec(), 'storefront', VERSIONS);
    const t = promotedStableTemplate(c.spec!.template, VERSIONS);
    expect(t.metadata!.labels).toEqual({ app: 'storefront', version: 'original', 'service.istio.io/canonical-revision': 'beta' });
    expect(t.spec!.containers[0]!.image).toBe('storefront:beta');
    expect(c.spec!.template.metadata!.labels!.version).toBe('beta');
  });

  it("any other stable: the canary's template and its version value", () => {
    const free = { ...VERSIONS, stablePinned: false };
    const c = buildCanaryDeployment(newStable({ selector: { matchLabels: { app: 'storefront' } } }), canarySpec(), 'storefront', free);
    expect(promotedStableTemplate(c.spec!.template, free).metadata!.labels).toEqual({ app: 'storefront', version: 'beta' });
  });
});

describe('gitPromotedStableTemplate', () => {
  it("the canary's pod spec under the stable's own pod metadata: a manifest in git changes only where the pod specs differ", () => {
    const stable = newStable({ selector: { matchLabels: { app: 'storefront' } } });
    const c = buildCanaryDeployment(stable, canarySpec(), 'storefront', { ...VERSIONS, stablePinned: false });
    const t = gitPromotedStableTemplate(stable.spec!.template, c.spec!.template);
    expect(t.metadata).toEqual(stable.spec!.template.metadata);
    expect(t.spec!.containers[0]!.image).toBe('storefront:beta');
    expect(t.spec!.containers.slice(1)).toEqual(stable.spec!.template.spec!.containers.slice(1));
    expect({ ...t, spec: { ...t.spec!, containers: [{ ...t.spec!.containers[0]!, image: 'storefront:v1' }, ...t.spec!.containers.slice(1)] } }).toEqual(stable.spec!.template);
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
