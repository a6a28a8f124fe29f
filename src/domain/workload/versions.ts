/**
 * The version label, resolved against the cluster: which value the stable's pods carry, which value
 * the canary's pods get, and whether the stable may change its value at promotion.
 *
 * The rule (docs/decisions/0015):
 * - `stable` is the value on the stable Deployment's pod template (the spec may name it; then the two must agree).
 * - `canary` is the spec's value, or else the canary image's tag (`storefront:2.3.0` → `2.3.0`), so
 *   `ramp start --image storefront:2.3.0` labels the canary 2.3.0 without editing the spec.
 * - A stable whose selector includes the key keeps its value after promotion (a selector is
 *   immutable); any other stable's pods take the canary's value, and the stable's subset or Service
 *   is pointed at it.
 */
import type { Versions } from '../rollout/model';
import type { CanarySpec } from '../spec/schema';
import type { DeploymentLike } from './canary';

const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** The tag of an image reference (`registry:5000/team/app:1.2.3@sha256:…` → `1.2.3`), or undefined when it has none. */
export function imageTag(image: string): string | undefined {
  const noDigest = image.split('@')[0]!;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.indexOf(':', lastSlash + 1);
  return colon === -1 ? undefined : noDigest.slice(colon + 1) || undefined;
}

/** A tag as a label value: at most 63 characters, letters, digits, `-`, `_`, `.`, alphanumeric at both ends. */
export function tagAsLabelValue(tag: string): string | undefined {
  const v = tag.slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return v !== '' && LABEL_VALUE.test(v) ? v : undefined;
}

/** Does the Deployment's selector pin the key (matchLabels or a matchExpression on it)? */
export function selectorHasKey(d: DeploymentLike, key: string): boolean {
  const sel = d.spec?.selector;
  if (sel?.matchLabels?.[key] !== undefined) return true;
  return (sel?.matchExpressions ?? []).some((e) => (e as { key?: string }).key === key);
}

/** The versions for a rollout, or every problem that keeps them from being resolved, each with its fix. */
export function resolveVersions(stable: DeploymentLike, canary: CanarySpec): { versions?: Versions; problems: string[] } {
  const name = `Deployment ${stable.metadata?.namespace}/${stable.metadata?.name}`;
  const { key } = canary.versionLabel;
  const onPods = stable.spec?.template.metadata?.labels?.[key];
  const problems: string[] = [];
  const stableValue = canary.versionLabel.stable ?? onPods ?? '';
  if (canary.versionLabel.stable !== undefined && onPods !== undefined && onPods !== canary.versionLabel.stable) {
    problems.push(`${name}: its pods carry ${key}=${onPods}, but spec.canary.versionLabel.stable is "${canary.versionLabel.stable}"; drop versionLabel.stable (it defaults to the pods' value) or make them agree`);
  }
  let canaryValue = canary.versionLabel.canary;
  if (canaryValue === undefined) {
    const tag = canary.image !== undefined ? imageTag(canary.image) : undefined;
    canaryValue = tag !== undefined ? tagAsLabelValue(tag) : undefined;
    if (canaryValue === undefined) {
      problems.push(`the canary's "${key}" label cannot be derived from ${canary.image !== undefined ? `the image "${canary.image}" (it has no usable tag)` : 'a pod-template patch'}; set spec.canary.versionLabel.canary`);
    }
  }
  if (canaryValue !== undefined && canaryValue === stableValue) {
    problems.push(`the canary's ${key}=${canaryValue} is the stable's too, so the two could not be told apart; give the canary another image tag or set spec.canary.versionLabel.canary`);
  }
  if (problems.length > 0 || canaryValue === undefined) return { problems };
  return { versions: { key, stable: stableValue, canary: canaryValue, stablePinned: selectorHasKey(stable, key) }, problems };
}
