/**
 * The Rollout spec: what users write (YAML or JSON, Kubernetes style) and what the workflow gets
 * once defaults are resolved. The zod schema both validates and resolves, so every default is
 * applied exactly once, here (the workflow only ever sees a `ResolvedRollout`).
 */
import { z } from 'zod';
import { countersRoutingProblem } from '../analysis/counters';
import { formatDuration } from '../duration';
import { analysisStep, backgroundAnalysis, type AnalysisSpec } from './analysis';
import { closest } from './closest';
import type { RequestMatch } from '../rollout/calls';
import { duration, int, k8sName, labelKey, labelValue } from './fields';
import { setHeaderRouteStep, setMirrorStep, stickySession, type StickySession } from './routing';
import { gitopsIssues, gitopsSchema, mergeApprovalIssues, resolveGitOps, type GitOpsSpec } from './gitops';

export const API_VERSION = 'ramp.dev/v1alpha1';
export const KIND = 'Rollout';

// ---- steps -------------------------------------------------------------------------------

export const STEP_KINDS = ['setWeight', 'pause', 'approval', 'analysis', 'setHeaderRoute', 'setMirror'];

const stepSchema = z
  .looseObject({
    setWeight: int(0, 100).optional().meta({ description: 'sends this percentage of requests to the canary', examples: [10] }),
    pause: z.strictObject({
      duration: duration.optional().meta({ description: 'how long to wait; without it, until `ramp resume` or `ramp promote`', examples: ['5m'] }),
    }).optional().meta({ description: 'waits for a time, or until resumed', examples: [{ duration: '5m' }] }),
    approval: z
      .strictObject({
        timeout: duration.optional().meta({ description: 'how long to wait for `ramp approve`; without it, as long as it takes', examples: ['1h'] }),
        onTimeout: z.enum(['abort', 'promote'], { error: 'must be "abort" or "promote"' }).default('abort')
          .meta({ description: 'what the timeout does: `abort` rolls back, `promote` moves on', examples: ['promote'] }),
        via: z.enum(['command', 'merge'], { error: 'must be "command" (ramp approve) or "merge" (git mode: merging a branch approves)' }).default('command')
          .meta({ description: '`command`: a person runs `ramp approve`; `merge` (git mode, before a setWeight step): Ramp pushes that step\'s commit to a branch and whoever merges it into the target branch approves', examples: ['merge'] }),
      })
      .optional()
      .meta({ description: 'waits for a person: `ramp approve`', examples: [{ timeout: '1h', onTimeout: 'abort' }] }),
    analysis: analysisStep.optional().meta({
      description: 'measures the canary for `count` looks: threshold `metrics`, or a `judge` of the canary against its baseline',
      examples: [{ interval: '1m', judge: { sequential: {} } }],
    }),
    setHeaderRoute: setHeaderRouteStep.optional(),
    setMirror: setMirrorStep.optional(),
  }, { error: `must be an object with one of ${STEP_KINDS.join(', ')}` })
  // For the JSON Schema: a step is an object with exactly one of its kinds (the refinement below says so to zod).
  .meta({ minProperties: 1, maxProperties: 1, additionalProperties: false })
  .superRefine((s, ctx) => {
    const unknown = Object.keys(s).filter((k) => !STEP_KINDS.includes(k));
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: unknownStepMessage(unknown) });
      return;
    }
    const keys = Object.keys(s).filter((k) => s[k] !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `each step has exactly one of ${STEP_KINDS.join(', ')}; got ${keys.length === 0 ? 'none' : keys.join(' and ')}`,
      });
    }
  })
  .transform((s): Step => {
    if (s.setWeight !== undefined) return { kind: 'setWeight', weight: s.setWeight };
    if (s.pause !== undefined) return { kind: 'pause', durationMs: s.pause.duration };
    if (s.approval !== undefined) return { kind: 'approval', timeoutMs: s.approval.timeout, onTimeout: s.approval.onTimeout, via: s.approval.via };
    if (s.setHeaderRoute !== undefined) return { kind: 'setHeaderRoute', name: s.setHeaderRoute.name, ...(s.setHeaderRoute.match ? { match: s.setHeaderRoute.match } : {}) };
    if (s.setMirror !== undefined) return { kind: 'setMirror', percent: s.setMirror.percent };
    return { kind: 'analysis', analysis: { ...s.analysis! } };
  });

/** An unknown step kind, with the kind it most likely meant. */
function unknownStepMessage(unknown: string[]): string {
  const guesses = unknown.map((k) => closest(k, STEP_KINDS)).filter((g) => g !== undefined);
  const hint = guesses.length === unknown.length ? `did you mean ${guesses.map((g) => JSON.stringify(g)).join(', ')}? ` : '';
  return `unknown step ${unknown.map((k) => JSON.stringify(k)).join(', ')}: ${hint}a step is one of ${STEP_KINDS.join(', ')}`;
}

// ---- traffic ------------------------------------------------------------------------------

const subsetRouting = z.strictObject({
  mode: z.literal('subset').meta({ description: 'one Service over both versions; a DestinationRule\'s subsets tell them apart by the version label', examples: ['subset'] }),
  destinationRule: k8sName.optional().meta({
    description: 'the DestinationRule for the host; without it, the one rule in the namespace for the host, or (with none) one Ramp creates for the rollout and deletes afterwards',
    examples: ['storefront'],
  }),
  stableSubset: k8sName.default('stable').meta({ description: 'the subset of the stable pods (Ramp adds it when the rule lacks it)', examples: ['stable'] }),
  canarySubset: k8sName.default('canary').meta({ description: 'the subset of the canary pods (Ramp adds it, and removes it afterwards)', examples: ['canary'] }),
}).meta({ description: 'subset routing', examples: [{ mode: 'subset', destinationRule: 'storefront' }] });

const serviceRouting = z.strictObject({
  mode: z.literal('service').meta({ description: 'two Services, one selecting the stable pods and one the canary pods', examples: ['service'] }),
  stableService: k8sName.meta({ description: 'the Service the managed routes send stable traffic to', examples: ['storefront-stable'] }),
  canaryService: k8sName.meta({ description: 'the Service the managed routes send canary traffic to', examples: ['storefront-canary'] }),
}).meta({ description: 'service routing', examples: [{ mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }] });

/**
 * When the managed weights were changed outside Ramp (someone ran kubectl mid-rollout): `pause`
 * holds the rollout and names the change (resume re-asserts Ramp's weights); `reassert` overwrites
 * at the next step and records it. Every router honours it.
 */
const onDrift = z.enum(['pause', 'reassert'], { error: 'must be "pause" or "reassert"' }).default('pause').meta({
  description: 'when the managed weights are changed outside Ramp: `pause` holds the rollout and names the change (resume re-asserts Ramp\'s weights), `reassert` overwrites them at the next step',
  examples: ['reassert'],
});

const routeSelectorSchema = z.union([
  z.string().min(1, 'must not be empty'),
  z.strictObject({ name: z.string().min(1, 'must not be empty') }),
  z.strictObject({ index: int(0, 1000, 'a route index') }),
  z.strictObject({ default: z.literal(true, { error: 'must be true' }) }),
  z.strictObject({ prefix: z.string().startsWith('/', 'must be a URI path prefix starting with "/"') }),
], { error: 'must be a route name, or one of {name: …}, {index: N}, {default: true}, {prefix: "/path"}' })
  .meta({ title: 'route selector' })
  .transform((s): RouteSelector => (typeof s === 'string' ? { name: s } : s));

const istioTraffic = z.strictObject({
  provider: z.literal('istio').meta({ description: 'Istio: weights on the routes of a VirtualService', examples: ['istio'] }),
  virtualService: z.strictObject({
    name: k8sName.meta({ description: 'the VirtualService, in the rollout\'s namespace', examples: ['storefront'] }),
    routes: z.array(routeSelectorSchema).prefault([]).meta({
      description: 'the HTTP routes Ramp manages: a name, `{name}`, `{index: N}` (position in spec.http, from 0), `{default: true}` (the route without match) or `{prefix: "/path"}`; empty: the default route',
      examples: [['primary', { prefix: '/api' }]],
    }),
  }).meta({ description: 'the VirtualService whose routes Ramp weights', examples: [{ name: 'storefront', routes: ['primary'] }] }),
  host: z.string().min(1).optional().meta({
    description: 'the host the managed routes send stable traffic to, in any form Istio resolves; default: spec.target.service (subset routing) or routing.stableService (service routing)',
    examples: ['storefront.mushop.svc.cluster.local'],
  }),
  port: int(1, 65535, 'a port').optional().meta({ description: 'the destination port, when the host\'s Service has several', examples: [8080] }),
  routing: z.discriminatedUnion('mode', [subsetRouting, serviceRouting], {
    error: 'must be "subset" (DestinationRule subsets) or "service" (separate stable and canary Services)',
  }).meta({ description: 'how the routes tell stable and canary apart, by `mode`', examples: [{ mode: 'subset' }] }),
  onDrift,
  stickySession: stickySession.optional(),
}).meta({
  description: 'Istio: Ramp sets the weights of a VirtualService\'s routes between the stable and the canary destination',
  examples: [{ provider: 'istio', virtualService: { name: 'storefront' }, routing: { mode: 'subset' } }],
});

const ruleSelectorSchema = z.union([
  z.string().min(1, 'must not be empty'),
  z.strictObject({ name: z.string().min(1, 'must not be empty') }),
  z.strictObject({ index: int(0, 63, 'a rule index') }),
], { error: 'must be a rule name, or one of {name: …}, {index: N}' })
  .meta({ title: 'rule selector' })
  .transform((s): RuleSelector => (typeof s === 'string' ? { name: s } : s));

const gatewayTraffic = z.strictObject({
  provider: z.literal('gateway-api').meta({ description: 'Gateway API: weights on the backendRefs of an HTTPRoute\'s or GRPCRoute\'s rules', examples: ['gateway-api'] }),
  route: z.strictObject({
    kind: z.enum(['HTTPRoute', 'GRPCRoute'], { error: 'must be "HTTPRoute" or "GRPCRoute"' }).default('HTTPRoute').meta({
      description: 'the kind of route (gateway.networking.k8s.io/v1)', examples: ['GRPCRoute'],
    }),
    name: k8sName.meta({ description: 'the route, in the rollout\'s namespace', examples: ['storefront'] }),
    rules: z.array(ruleSelectorSchema).prefault([]).meta({
      description: 'the rules Ramp manages: a rule name (`spec.rules[].name`), `{name}` or `{index: N}` (position in spec.rules, from 0); empty: every rule with a backendRef to the stable Service',
      examples: [['primary', { index: 1 }]],
    }),
  }).meta({ description: 'the route whose rules Ramp weights', examples: [{ kind: 'HTTPRoute', name: 'storefront', rules: ['primary'] }] }),
  port: int(1, 65535, 'a port').optional().meta({ description: 'the backendRefs\' port, when the Services have several; default: the port the stable backendRef names', examples: [8080] }),
  routing: z.discriminatedUnion('mode', [serviceRouting], {
    error: 'must be "service": Gateway API routes send traffic to Services, so the stable and canary pods need a Service each (stableService, canaryService)',
  }).meta({ description: 'the stable and canary Services, the backendRefs of the managed rules', examples: [{ mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' }] }),
  onDrift,
  stickySession: stickySession.optional(),
}).meta({
  description: 'Gateway API: Ramp sets the weights of the stable and canary backendRefs in the managed rules of an HTTPRoute or GRPCRoute',
  examples: [{ provider: 'gateway-api', route: { name: 'storefront' }, routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' } }],
});

/** One schema per traffic router, told apart by `provider`. */
const trafficSchema = z.discriminatedUnion('provider', [istioTraffic, gatewayTraffic], {
  error: 'must be "istio" (an Istio VirtualService) or "gateway-api" (a Gateway API HTTPRoute or GRPCRoute)',
}).meta({
  description: 'the traffic router, by `provider`, and how it splits requests',
  examples: [{ provider: 'istio', virtualService: { name: 'storefront' }, routing: { mode: 'subset' } }],
});

// ---- the rollout ---------------------------------------------------------------------------

// Defaults of durations are given as a user writes them (`prefault`), so the JSON Schema and
// docs/spec.md show "10m", and zod parses them like any value in a file.
const PROGRESS_DEADLINE = formatDuration(600_000);
const SCALE_DOWN_DELAY = formatDuration(30_000);

export const rolloutSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION, { error: `must be "${API_VERSION}"` }).meta({ description: 'the version of Ramp\'s API the file is written for', examples: [API_VERSION] }),
    kind: z.literal(KIND, { error: `must be "${KIND}"` }).meta({ description: 'the kind of object: a Ramp rollout', examples: [KIND] }),
    metadata: z.object({
      name: k8sName.meta({ description: 'the rollout\'s name, as `ramp status NAME` takes it', examples: ['storefront'] }),
      namespace: k8sName.default('default').meta({
        description: 'the namespace of the target and of everything the rollout creates; `ramp start -n` fills it when absent',
        examples: ['mushop'],
      }),
    }).meta({ description: 'the rollout\'s name and namespace, as in any Kubernetes object', examples: [{ name: 'storefront', namespace: 'mushop' }] }),
    spec: z.strictObject({
      target: z.strictObject({
        deployment: k8sName.meta({ description: 'the stable Deployment: the canary copies its pod template, and promotion rolls it to the canary\'s', examples: ['storefront'] }),
        service: k8sName.meta({ description: 'the Service in front of both versions', examples: ['storefront'] }),
      }).meta({ description: 'the stable workload: the baseline the canary is compared with, and what promotion updates', examples: [{ deployment: 'storefront', service: 'storefront' }] }),
      canary: z
        .strictObject({
          image: z.string().min(1).optional().meta({ description: 'the canary\'s image (`--image` overrides it); give it or podTemplatePatch', examples: ['iad.ocir.io/mushop/storefront:beta'] }),
          container: z.string().min(1).optional().meta({ description: 'the container that gets `image`; default: the pod\'s first container', examples: ['storefront'] }),
          podTemplatePatch: z.record(z.string(), z.unknown()).optional().meta({
            description: 'a JSON merge patch applied to the copied pod template, after `image`',
            examples: [{ metadata: { annotations: { 'example.com/canary': 'true' } } }],
          }),
          replicas: int(1, 1000).default(1).meta({ description: 'the canary\'s pod count', examples: [2] }),
          deploymentName: k8sName.optional().meta({ description: 'the canary Deployment\'s name; default: `<target.deployment>-canary`', examples: ['storefront-canary'] }),
          versionLabel: z
            .strictObject({
              key: labelKey.default('version').meta({ description: 'the label\'s key', examples: ['app.kubernetes.io/version'] }),
              stable: labelValue.optional().meta({ description: 'its value on the stable pods; default: the value the stable\'s pods carry, read at the preflight', examples: ['original'] }),
              canary: labelValue.optional().meta({ description: 'its value on the canary pods; default: the tag of the canary\'s image', examples: ['beta'] }),
            })
            .refine((v) => v.stable === undefined || v.stable !== v.canary, { error: 'stable and canary must differ', path: ['canary'] })
            .default({ key: 'version' })
            .meta({ description: 'the pod label that tells the versions apart', examples: [{ key: 'version', stable: 'original', canary: 'beta' }] }),
        })
        .refine((c) => c.image !== undefined || c.podTemplatePatch !== undefined, {
          error: 'give image (or --image on the command line) or podTemplatePatch',
          path: ['image'],
        })
        .meta({ description: 'the canary Deployment Ramp creates next to the stable one, from its pod template', examples: [{ image: 'iad.ocir.io/mushop/storefront:beta', replicas: 1 }] }),
      traffic: trafficSchema,
      steps: z.array(stepSchema).min(1, 'give at least one step, e.g. - setWeight: 10').meta({
        description: `the rollout's steps, in order; each has exactly one of ${STEP_KINDS.join(', ')}`,
        examples: [[{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }]],
      }),
      analysis: backgroundAnalysis.optional().meta({
        description: 'an analysis that runs in the background from the first step until promotion',
        examples: [{ interval: '1m', metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] }],
      }),
      progressDeadline: duration.prefault(PROGRESS_DEADLINE).meta({ description: 'how long the canary may take to become Available before the rollout rolls back', examples: ['5m'] }),
      gitops: gitopsSchema.optional(),
      rollback: z.strictObject({
        scaleDownDelay: duration.prefault(SCALE_DOWN_DELAY).meta({ description: 'how long the canary keeps running after traffic is back on stable, for requests in flight', examples: ['1m'] }),
      }).prefault({}).meta({ description: 'how a rollback ends', examples: [{ scaleDownDelay: '1m' }] }),
    }).meta({ description: 'what is rolled out, how traffic moves, and the steps', examples: [{ target: { deployment: 'storefront', service: 'storefront' } }] }),
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
    routeFeatureIssues(r.spec.traffic, r.spec.steps).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue }));
    if (r.spec.gitops) gitopsIssues(r.spec.gitops, r.spec.traffic).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue }));
    mergeApprovalIssues(r.spec.steps, r.spec.gitops?.mode).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue }));
    for (const { a, path } of analyses) {
      if (a.interval < 1000) ctx.addIssue({ code: 'custom', path: [...path, 'interval'], message: `must be at least 1s, got ${a.interval}ms` });
      const counters = a.judge ? countersRoutingProblem(a.counters, r.spec.traffic.provider, t.mode) : undefined;
      if (counters !== undefined) ctx.addIssue({ code: 'custom', path: [...path, 'counters'], message: counters });
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
        ...(s.gitops ? { gitops: resolveGitOps(s.gitops, s.canary.deploymentName ?? `${s.target.deployment}-canary`) } : {}),
      },
    };
  });

function resolveTraffic(t: z.output<typeof trafficSchema>, targetService: string): TrafficSpec {
  switch (t.provider) {
    case 'istio':
      // The host a route's stable destination names: the target Service (subset routing) or the stable Service (service routing).
      return {
        provider: 'istio', virtualService: t.virtualService, host: t.host ?? (t.routing.mode === 'service' ? t.routing.stableService : targetService),
        port: t.port, routing: t.routing, onDrift: t.onDrift, ...(t.stickySession ? { stickySession: t.stickySession } : {}),
      };
    case 'gateway-api':
      return { provider: 'gateway-api', route: t.route, port: t.port, routing: t.routing, onDrift: t.onDrift, ...(t.stickySession ? { stickySession: t.stickySession } : {}) };
  }
}

/** What a GRPCRoute cannot express: query parameters (gRPC has none) and response cookies. */
function routeFeatureIssues(traffic: z.output<typeof trafficSchema>, steps: Step[]): { path: (string | number)[]; message: string }[] {
  if (traffic.provider !== 'gateway-api' || traffic.route.kind !== 'GRPCRoute') return [];
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (traffic.stickySession) {
    issues.push({ path: ['spec', 'traffic', 'stickySession'], message: 'a GRPCRoute cannot set cookies on responses, so sticky sessions need an HTTPRoute (or Istio); remove stickySession' });
  }
  steps.forEach((s, i) => {
    if (s.kind !== 'setHeaderRoute') return;
    (s.match ?? []).forEach((m, j) => {
      if ('query' in m) issues.push({ path: ['spec', 'steps', i, 'setHeaderRoute', 'match', j, 'query'], message: 'a GRPCRoute matches headers only (gRPC requests have no query parameters); match a header instead' });
    });
  });
  return issues;
}

// ---- resolved types (what the workflow sees) ----------------------------------------------
export type Step =
  | { kind: 'setWeight'; weight: number }
  /** Without a duration the rollout waits until resumed. */
  | { kind: 'pause'; durationMs?: number }
  /** `via: merge`: the next step's commit waits on a branch until it is merged (git mode). */
  | { kind: 'approval'; timeoutMs?: number; onTimeout: 'abort' | 'promote'; via: 'command' | 'merge' }
  | { kind: 'analysis'; analysis: AnalysisSpec }
  /** Adds (or replaces) the header route `name`; without `match` removes it. */
  | { kind: 'setHeaderRoute'; name: string; match?: RequestMatch[] }
  /** Mirrors `percent` % of the managed routes' requests to the canary; 0 stops mirroring. */
  | { kind: 'setMirror'; percent: number };

/** How a managed HTTP route is found in a VirtualService. */
export type RouteSelector = { name: string } | { index: number } | { default: true } | { prefix: string };

export type Routing =
  | { mode: 'subset'; destinationRule?: string; stableSubset: string; canarySubset: string }
  | { mode: 'service'; stableService: string; canaryService: string };

/** What every router's traffic spec has. */
interface TrafficCommon {
  onDrift: 'pause' | 'reassert';
  /** Sticky canary sessions, set right after the routes are set up. */
  stickySession?: StickySession;
}

export interface IstioTraffic extends TrafficCommon {
  provider: 'istio';
  virtualService: { name: string; routes: RouteSelector[] };
  host: string;
  port?: number;
  routing: Routing;
}

/** How a managed rule is found in a Gateway API route. */
export type RuleSelector = { name: string } | { index: number };

export interface GatewayTraffic extends TrafficCommon {
  provider: 'gateway-api';
  route: { kind: 'HTTPRoute' | 'GRPCRoute'; name: string; rules: RuleSelector[] };
  /** The backendRefs' port; default: the one the stable backendRef names. */
  port?: number;
  routing: Extract<Routing, { mode: 'service' }>;
}

/** spec.traffic, resolved: one member per traffic router. */
export type TrafficSpec = IstioTraffic | GatewayTraffic;

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
    /** The manifests live in git (docs/gitops.md); absent: Ramp writes the cluster only. */
    gitops?: GitOpsSpec;
  };
}
