/**
 * The Rollout spec: what users write (YAML or JSON, Kubernetes style) and what the workflow gets
 * once defaults are resolved. The zod schema both validates and resolves, so every default is
 * applied exactly once, here (the workflow only ever sees a `ResolvedRollout`).
 */
import { z } from 'zod';
import { analysisStep, backgroundAnalysis, type AnalysisSpec } from './analysis';
import { duration, int, k8sName, labelKey, labelValue } from './fields';

export const API_VERSION = 'ramp.dev/v1alpha1';
export const KIND = 'Rollout';

// ---- steps -------------------------------------------------------------------------------

const STEP_KINDS = ['setWeight', 'pause', 'approval', 'analysis'];

const stepSchema = z
  .looseObject({
    setWeight: int(0, 100).optional(),
    pause: z.strictObject({ duration: duration.optional() }).optional(),
    approval: z
      .strictObject({
        timeout: duration.optional(),
        onTimeout: z.enum(['abort', 'promote'], { error: 'must be "abort" or "promote"' }).default('abort'),
      })
      .optional(),
    analysis: analysisStep.optional(),
  }, { error: 'must be an object with one of setWeight, pause, approval, analysis' })
  .superRefine((s, ctx) => {
    const unknown = Object.keys(s).filter((k) => !STEP_KINDS.includes(k));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown step ${unknown.map((k) => JSON.stringify(k)).join(', ')}: a step is one of ${STEP_KINDS.join(', ')}`,
      });
      return;
    }
    const keys = Object.keys(s).filter((k) => s[k] !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `each step has exactly one of setWeight, pause, approval, analysis; got ${keys.length === 0 ? 'none' : keys.join(' and ')}`,
      });
    }
  })
  .transform((s): Step => {
    if (s.setWeight !== undefined) return { kind: 'setWeight', weight: s.setWeight };
    if (s.pause !== undefined) return { kind: 'pause', durationMs: s.pause.duration };
    if (s.approval !== undefined) return { kind: 'approval', timeoutMs: s.approval.timeout, onTimeout: s.approval.onTimeout };
    return { kind: 'analysis', analysis: { ...s.analysis! } };
  });

// ---- traffic ------------------------------------------------------------------------------

const subsetRouting = z.strictObject({
  mode: z.literal('subset'),
  /**
   * The DestinationRule for the host. Optional: the one rule in the namespace for the host is used;
   * with none, Ramp creates one for the rollout (and deletes it afterwards).
   */
  destinationRule: k8sName.optional(),
  stableSubset: k8sName.default('stable'),
  canarySubset: k8sName.default('canary'),
});

const serviceRouting = z.strictObject({
  mode: z.literal('service'),
  stableService: k8sName,
  canaryService: k8sName,
});

/**
 * When the managed weights were changed outside Ramp (someone ran kubectl mid-rollout): `pause`
 * holds the rollout and names the change (resume re-asserts Ramp's weights); `reassert` overwrites
 * at the next step and records it. Every router honours it.
 */
const onDrift = z.enum(['pause', 'reassert'], { error: 'must be "pause" or "reassert"' }).default('pause');

const routeSelectorSchema = z.union([
  z.string().min(1, 'must not be empty'),
  z.strictObject({ name: z.string().min(1, 'must not be empty') }),
  z.strictObject({ index: int(0, 1000, 'a route index') }),
  z.strictObject({ default: z.literal(true, { error: 'must be true' }) }),
  z.strictObject({ prefix: z.string().startsWith('/', 'must be a URI path prefix starting with "/"') }),
], { error: 'must be a route name, or one of {name: …}, {index: N}, {default: true}, {prefix: "/path"}' })
  .transform((s): RouteSelector => (typeof s === 'string' ? { name: s } : s));

const istioTraffic = z.strictObject({
  provider: z.literal('istio'),
  virtualService: z.strictObject({
    name: k8sName,
    /**
     * The HTTP routes Ramp manages: a name, or `{ name }`, `{ index }` (position in spec.http, from 0),
     * `{ default: true }` (the route without match) or `{ prefix }` (the route matching that URI prefix).
     * Empty means the default route.
     */
    routes: z.array(routeSelectorSchema).default([]),
  }),
  /**
   * The host the managed routes send stable traffic to, in any form Istio resolves (`web` or
   * `web.<ns>.svc.cluster.local`); defaults to spec.target.service (subset routing) or the stable
   * Service (service routing).
   */
  host: z.string().min(1).optional(),
  port: int(1, 65535, 'a port').optional(),
  routing: z.discriminatedUnion('mode', [subsetRouting, serviceRouting], {
    error: 'must be "subset" (DestinationRule subsets) or "service" (separate stable and canary Services)',
  }),
  onDrift,
});

/** One schema per traffic router, told apart by `provider`. */
const trafficSchema = z.discriminatedUnion('provider', [istioTraffic], {
  error: 'must be "istio" (the only traffic router so far)',
});

// ---- the rollout ---------------------------------------------------------------------------

export const rolloutSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION, { error: `must be "${API_VERSION}"` }),
    kind: z.literal(KIND, { error: `must be "${KIND}"` }),
    metadata: z.object({ name: k8sName, namespace: k8sName.default('default') }),
    spec: z.strictObject({
      target: z.strictObject({ deployment: k8sName, service: k8sName }),
      canary: z
        .strictObject({
          image: z.string().min(1).optional(),
          /** The container that gets `image`; defaults to the pod's first container. */
          container: z.string().min(1).optional(),
          /** A JSON merge patch applied to the copied pod template (after `image`). */
          podTemplatePatch: z.record(z.string(), z.unknown()).optional(),
          replicas: int(1, 1000).default(1),
          /** Defaults to `<target.deployment>-canary`. */
          deploymentName: k8sName.optional(),
          /**
           * The pod label that tells the versions apart. `stable` defaults to the value on the stable's
           * pods, `canary` to the image's tag; both are resolved against the cluster at the preflight.
           */
          versionLabel: z
            .strictObject({ key: labelKey.default('version'), stable: labelValue.optional(), canary: labelValue.optional() })
            .refine((v) => v.stable === undefined || v.stable !== v.canary, { error: 'stable and canary must differ', path: ['canary'] })
            .default({ key: 'version' }),
        })
        .refine((c) => c.image !== undefined || c.podTemplatePatch !== undefined, {
          error: 'give image (or --image on the command line) or podTemplatePatch',
          path: ['image'],
        }),
      traffic: trafficSchema,
      steps: z.array(stepSchema).min(1, 'give at least one step, e.g. - setWeight: 10'),
      analysis: backgroundAnalysis.optional(),
      /** How long the canary may take to become Available before the rollout rolls back. */
      progressDeadline: duration.default(600_000),
      rollback: z.strictObject({ scaleDownDelay: duration.default(30_000) }).default({ scaleDownDelay: 30_000 }),
    }),
  })
  .superRefine((r, ctx) => {
    const t = r.spec.traffic.routing;
    if (t.mode === 'subset' && t.stableSubset === t.canarySubset) {
      ctx.addIssue({ code: 'custom', path: ['spec', 'traffic', 'routing', 'canarySubset'], message: 'must differ from stableSubset' });
    }
    if (t.mode === 'service' && t.stableService === t.canaryService) {
      ctx.addIssue({ code: 'custom', path: ['spec', 'traffic', 'routing', 'canaryService'], message: 'must differ from stableService' });
    }
    const canaryName = r.spec.canary.deploymentName ?? `${r.spec.target.deployment}-canary`;
    if (canaryName === r.spec.target.deployment) {
      ctx.addIssue({ code: 'custom', path: ['spec', 'canary', 'deploymentName'], message: 'must differ from spec.target.deployment' });
    }
    const analyses = [
      ...r.spec.steps.flatMap((s, i) => (s.kind === 'analysis' ? [{ a: s.analysis, path: ['spec', 'steps', i, 'analysis'] }] : [])),
      ...(r.spec.analysis ? [{ a: r.spec.analysis, path: ['spec', 'analysis'] }] : []),
    ];
    for (const { a, path } of analyses) {
      if (a.interval < 1000) ctx.addIssue({ code: 'custom', path: [...path, 'interval'], message: `must be at least 1s, got ${a.interval}ms` });
    }
  })
  .transform((r): ResolvedRollout => {
    const s = r.spec;
    return {
      apiVersion: r.apiVersion,
      kind: r.kind,
      metadata: { name: r.metadata.name, namespace: r.metadata.namespace },
      spec: {
        target: s.target,
        canary: {
          image: s.canary.image,
          container: s.canary.container,
          podTemplatePatch: s.canary.podTemplatePatch,
          replicas: s.canary.replicas,
          deploymentName: s.canary.deploymentName ?? `${s.target.deployment}-canary`,
          versionLabel: s.canary.versionLabel,
        },
        traffic: resolveTraffic(s.traffic, s.target.service),
        steps: s.steps,
        analysis: s.analysis,
        progressDeadlineMs: s.progressDeadline,
        rollback: { scaleDownDelayMs: s.rollback.scaleDownDelay },
      },
    };
  });

function resolveTraffic(t: z.output<typeof trafficSchema>, targetService: string): TrafficSpec {
  switch (t.provider) {
    case 'istio':
      // The host a route's stable destination names: the target Service (subset routing) or the stable Service (service routing).
      return {
        provider: 'istio', virtualService: t.virtualService, host: t.host ?? (t.routing.mode === 'service' ? t.routing.stableService : targetService),
        port: t.port, routing: t.routing, onDrift: t.onDrift,
      };
  }
}

// ---- resolved types (what the workflow sees) ----------------------------------------------
export type Step =
  | { kind: 'setWeight'; weight: number }
  /** Without a duration the rollout waits until resumed. */
  | { kind: 'pause'; durationMs?: number }
  | { kind: 'approval'; timeoutMs?: number; onTimeout: 'abort' | 'promote' }
  | { kind: 'analysis'; analysis: AnalysisSpec };

/** How a managed HTTP route is found in a VirtualService. */
export type RouteSelector = { name: string } | { index: number } | { default: true } | { prefix: string };

export type Routing =
  | { mode: 'subset'; destinationRule?: string; stableSubset: string; canarySubset: string }
  | { mode: 'service'; stableService: string; canaryService: string };

/** What every router's traffic spec has. */
interface TrafficCommon {
  onDrift: 'pause' | 'reassert';
}

export interface IstioTraffic extends TrafficCommon {
  provider: 'istio';
  virtualService: { name: string; routes: RouteSelector[] };
  host: string;
  port?: number;
  routing: Routing;
}

/** spec.traffic, resolved: one member per traffic router. */
export type TrafficSpec = IstioTraffic;

export interface CanarySpec {
  image?: string;
  container?: string;
  podTemplatePatch?: Record<string, unknown>;
  replicas: number;
  deploymentName: string;
  /** Values left out are resolved at the preflight (src/domain/workload/versions.ts). */
  versionLabel: { key: string; stable?: string; canary?: string };
}

export interface ResolvedRollout {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: { name: string; namespace: string };
  spec: {
    target: { deployment: string; service: string };
    canary: CanarySpec;
    traffic: TrafficSpec;
    steps: Step[];
    analysis?: AnalysisSpec;
    progressDeadlineMs: number;
    rollback: { scaleDownDelayMs: number };
  };
}
