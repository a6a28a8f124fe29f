/**
 * A storefront behind a Gateway API route, for rollout tests of the gateway-api router: the stable
 * Deployment `storefront-original` (version: original), the Services `storefront` and
 * `storefront-stable`, and an HTTPRoute or GRPCRoute `storefront` with two parentRefs, an `api` rule
 * and a `legacy` rule Ramp must never touch, and the `storefront` rule it manages (matches and a
 * filter of its own). No Gateway API implementation watches the route, so its status stays empty.
 */
import * as k8s from '@kubernetes/client-node';
import { uniqueName } from './stack';

const GATEWAY = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;

export type RouteKind = 'HTTPRoute' | 'GRPCRoute';

export interface RouteLike {
  metadata: { resourceVersion: string; generation: number };
  spec: { parentRefs: unknown[]; rules: { name?: string; backendRefs: { name: string; weight?: number }[] }[] };
}

export interface GatewayShop {
  namespace: string;
  kind: RouteKind;
  /** The route as it was before the test. */
  original: RouteLike;
  /** A raw Rollout spec for this fixture. */
  rolloutRaw(steps: unknown[], extra?: Record<string, unknown>): Record<string, unknown>;
  /** The route now. */
  route(): Promise<RouteLike>;
  /** The managed rule's backendRefs as [name, weight]. */
  managedWeights(): Promise<[string, number | undefined][]>;
  service(name: string): Promise<k8s.V1Service | undefined>;
  deployment(name: string): Promise<k8s.V1Deployment | undefined>;
  cleanup(): Promise<void>;
}

async function optional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 404) return undefined;
    throw err;
  }
}

export async function createGatewayShop(kc: k8s.KubeConfig, kind: RouteKind): Promise<GatewayShop> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName(`gwshop-${kind.toLowerCase()}`);
  const plural = kind === 'HTTPRoute' ? 'httproutes' : 'grpcroutes';
  const http = kind === 'HTTPRoute';
  const port = http ? 80 : 9090;
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  const labels = { app: 'storefront', version: 'original' };
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'storefront-original', labels: { app: 'storefront' } },
      spec: {
        replicas: 2, progressDeadlineSeconds: 600, selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'storefront', image: 'iad.ocir.io/mushop/storefront:original', ports: [{ containerPort: 8080 }] }] } },
      },
    },
  });
  const ports = [{ name: http ? 'http' : 'grpc', port, targetPort: 8080 }];
  await core.createNamespacedService({ namespace, body: { metadata: { name: 'storefront' }, spec: { selector: { app: 'storefront' }, ports } } });
  await core.createNamespacedService({ namespace, body: { metadata: { name: 'storefront-stable' }, spec: { selector: labels, ports } } });
  await custom.createNamespacedCustomObject({
    ...GATEWAY, namespace, plural,
    body: {
      apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name: 'storefront' },
      spec: {
        parentRefs: [{ name: 'public', sectionName: 'web' }, { name: 'internal', namespace }],
        rules: [
          { name: 'api', matches: [http ? { path: { type: 'PathPrefix', value: '/api' } } : { method: { service: 'shop.Api' } }], backendRefs: [{ name: 'api', port }] },
          {
            name: 'storefront',
            matches: [http ? { path: { type: 'PathPrefix', value: '/' } } : { method: { service: 'shop.Storefront' } }],
            filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-shop', value: 'storefront' }] } }],
            backendRefs: [{ name: 'storefront-stable', port }],
          },
          { name: 'legacy', matches: [http ? { path: { type: 'Exact', value: '/old' } } : { method: { service: 'shop.Legacy' } }], backendRefs: [{ name: 'legacy', port, weight: 3 }] },
        ],
      },
    },
  });
  const route = async () => (await custom.getNamespacedCustomObject({ ...GATEWAY, namespace, plural, name: 'storefront' })) as RouteLike;
  const original = await route();

  return {
    namespace,
    kind,
    original,
    rolloutRaw(steps, extra = {}) {
      return {
        apiVersion: 'ramp.dev/v1alpha1',
        kind: 'Rollout',
        metadata: { name: 'storefront', namespace },
        spec: {
          target: { deployment: 'storefront-original', service: 'storefront' },
          canary: { image: 'iad.ocir.io/mushop/storefront:beta', versionLabel: { key: 'version', stable: 'original', canary: 'beta' } },
          traffic: {
            provider: 'gateway-api',
            route: { kind, name: 'storefront', rules: ['storefront'] },
            routing: { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' },
          },
          steps,
          rollback: { scaleDownDelay: '2s' },
          progressDeadline: '60s',
          ...extra,
        },
      };
    },
    route,
    async managedWeights() {
      const r = await route();
      return r.spec.rules.find((x) => x.name === 'storefront')!.backendRefs.map((b) => [b.name, b.weight]);
    },
    service: (name) => optional(() => core.readNamespacedService({ namespace, name })),
    deployment: (name) => optional(() => apps.readNamespacedDeployment({ namespace, name })),
    async cleanup() {
      await core.deleteNamespace({ name: namespace });
    },
  };
}
