/**
 * Pure builders for the canary Deployment and for promotion, over narrow local types (no client
 * library here): compute the object, let an activity apply it.
 */
import type { Versions } from '../rollout/model';
import type { CanarySpec } from '../spec/schema';

/** The parts of a Deployment Ramp reads and writes. */
export interface DeploymentLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; generation?: number; uid?: string };
  spec?: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    template: PodTemplateLike;
    progressDeadlineSeconds?: number;
    [k: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface PodTemplateLike {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { containers: { name: string; image?: string; [k: string]: unknown }[]; [k: string]: unknown };
}

/** Labels that mark what Ramp created, so it finds (and only ever deletes) its own objects. */
export const MANAGED_BY = { key: 'app.kubernetes.io/managed-by', value: 'ramp' } as const;
export const ROLLOUT_LABEL = 'ramp.dev/rollout';

/** Thrown when the stable Deployment cannot be the base of a canary; the message says how to fix it. */
export class WorkloadSpecError extends Error {
  override name = 'WorkloadSpecError';
}

/** RFC 7386 JSON merge patch: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Problems that make the stable Deployment unusable as a canary base, in words. */
export function checkStable(stable: DeploymentLike, canary: CanarySpec): string[] {
  const name = `Deployment ${stable.metadata?.namespace}/${stable.metadata?.name}`;
  const problems: string[] = [];
  const containers = stable.spec?.template.spec?.containers ?? [];
  if (canary.container !== undefined && !containers.some((c) => c.name === canary.container)) {
    problems.push(`${name} has no container "${canary.container}" (containers: ${containers.map((c) => c.name).join(', ')}); fix spec.canary.container`);
  }
  if (containers.length === 0) problems.push(`${name} has no containers`);
  return problems;
}

/**
 * The canary: a copy of stable with the canary's version label, the new image and the pod-template
 * patch. Its selector is the stable's plus the version label, so it selects only its own pods. The
 * stable's selector may lack the label (the MuShop guide's shape) and then also matches the canary's
 * pods: the controllers keep them apart by owner references and pod-template-hash
 * (docs/decisions/0015).
 */
export function buildCanaryDeployment(stable: DeploymentLike, canary: CanarySpec, rolloutName: string, versions: Versions): DeploymentLike {
  const problems = checkStable(stable, canary);
  if (problems.length > 0) throw new WorkloadSpecError(problems.join('\n'));
  const { key, canary: canaryValue } = versions;
  const base = stable.spec!;
  let template = JSON.parse(JSON.stringify(base.template)) as PodTemplateLike;
  template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [key]: canaryValue } };
  if (canary.image !== undefined) {
    const containers = template.spec!.containers;
    const idx = canary.container === undefined ? 0 : containers.findIndex((c) => c.name === canary.container);
    containers[idx] = { ...containers[idx]!, image: canary.image };
  }
  if (canary.podTemplatePatch !== undefined) {
    template = mergePatch(template, canary.podTemplatePatch) as PodTemplateLike;
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [key]: canaryValue } };
  }
  const labels = { ...(stable.metadata?.labels ?? {}), [key]: canaryValue, [MANAGED_BY.key]: MANAGED_BY.value, [ROLLOUT_LABEL]: rolloutName };
  const specRest: Record<string, unknown> = { ...base };
  delete specRest.template;
  delete specRest.selector;
  delete specRest.replicas;
  delete specRest.paused;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: canary.deploymentName,
      namespace: stable.metadata?.namespace,
      labels,
      annotations: { 'ramp.dev/stable-deployment': stable.metadata?.name ?? '' },
    },
    spec: {
      ...specRest,
      replicas: canary.replicas,
      selector: { ...base.selector, matchLabels: { ...(base.selector.matchLabels ?? {}), [key]: canaryValue } },
      template,
    },
  };
}

/** Istio's pod label for the version its telemetry reports (destination_canonical_revision). */
export const CANONICAL_REVISION = 'service.istio.io/canonical-revision';

/**
 * Stable's new pod template at promotion: the canary's. The pods carry the canary's version value —
 * unless the stable's selector pins the key (immutable): then they keep the stable's value, and the
 * version they run is recorded in Istio's canonical-revision label.
 */
export function promotedStableTemplate(canaryTemplate: PodTemplateLike, versions: Versions): PodTemplateLike {
  const t = JSON.parse(JSON.stringify(canaryTemplate)) as PodTemplateLike;
  const labels = { ...(t.metadata?.labels ?? {}) };
  if (versions.stablePinned) {
    labels[versions.key] = versions.stable;
    labels[CANONICAL_REVISION] = versions.canary;
  } else labels[versions.key] = versions.canary;
  t.metadata = { ...(t.metadata ?? {}), labels };
  return t;
}

/**
 * Stable's new pod template at promotion when its manifest lives in git: the canary's pod spec under
 * the stable's own pod metadata. The stable keeps its version label (its pods stay "ga", say), so
 * its manifest changes only where the canary's pod spec differs (the image) and the routes' stable
 * destination needs no change during the roll.
 */
export function gitPromotedStableTemplate(stableTemplate: PodTemplateLike, canaryTemplate: PodTemplateLike): PodTemplateLike {
  const t = JSON.parse(JSON.stringify(canaryTemplate)) as PodTemplateLike;
  return { ...t, metadata: JSON.parse(JSON.stringify(stableTemplate.metadata ?? {})) as PodTemplateLike['metadata'] };
}

export type Readiness =
  | { state: 'ready'; message: string }
  | { state: 'progressing'; message: string }
  /** The Deployment controller gave up (ProgressDeadlineExceeded): waiting longer will not help. */
  | { state: 'failed'; message: string };

/** Whether a Deployment has rolled out completely, as `kubectl rollout status` judges it. */
export function deploymentReadiness(d: DeploymentLike): Readiness {
  const name = `Deployment ${d.metadata?.namespace}/${d.metadata?.name}`;
  const want = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  const progressing = st.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return { state: 'failed', message: `${name} exceeded its progress deadline: ${progressing.message ?? ''}`.trim() };
  }
  if ((st.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) return { state: 'progressing', message: `${name}: waiting for the controller to observe the new spec` };
  const updated = st.updatedReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const total = st.replicas ?? 0;
  if (updated < want) return { state: 'progressing', message: `${name}: ${updated} of ${want} replicas updated` };
  if (total > updated) return { state: 'progressing', message: `${name}: ${total - updated} old replicas pending termination` };
  if (available < updated) return { state: 'progressing', message: `${name}: ${available} of ${updated} updated replicas available` };
  return { state: 'ready', message: `${name}: ${available} of ${want} replicas available` };
}
