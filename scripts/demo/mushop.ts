/**
 * The MuShop storefront guide's objects in a namespace of the local cluster (the demo and the
 * integration tests share them): the stable
 * Deployment `storefront-original` (version: original), the Service `storefront`, a VirtualService
 * with `api` and `assets` routes Ramp must never touch plus the `primary` route it manages, and a
 * DestinationRule with the `stable` subset (subset mode) or a `storefront-stable` Service (service mode).
 */
import * as k8s from '@kubernetes/client-node';

export const ISTIO = { group: 'networking.istio.io', version: 'v1' };

export interface MushopOptions {
  mode: 'subset' | 'service';
  /** Defaults to a fresh unique namespace. */
  namespace?: string;
  replicas?: number;
  image?: string;
}

export interface Mushop {
  namespace: string;
  mode: 'subset' | 'service';
  stableImage: string;
  /** Everything Ramp may read, as it was before the test. */
  original: { vs: VirtualServiceLike; dr?: { spec: unknown } };
  /** A raw Rollout spec for this fixture, to override per test. */
  rolloutRaw(steps: unknown[], extra?: Record<string, unknown>): Record<string, unknown>;
  cleanup(): Promise<void>;
}

export interface VirtualServiceLike {
  metadata: { resourceVersion: string; generation: number };
  spec: { hosts: string[]; http: { name?: string; match?: unknown[]; route: { destination: { host: string; subset?: string }; weight?: number }[] }[] };
}

export async function createMushop(kc: k8s.KubeConfig, opts: MushopOptions): Promise<Mushop> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = opts.namespace ?? `mushop-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  const stableImage = opts.image ?? 'iad.ocir.io/mushop/storefront:original';
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  const labels = { app: 'storefront', version: 'original' };
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'storefront-original', labels: { app: 'storefront' } },
      spec: {
        replicas: opts.replicas ?? 2,
        progressDeadlineSeconds: 600,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'storefront', image: stableImage, ports: [{ containerPort: 8080 }] }] } },
      },
    },
  });
  await core.createNamespacedService({
    namespace,
    body: { metadata: { name: 'storefront', labels: { app: 'storefront' } }, spec: { selector: { app: 'storefront' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
  });
  if (opts.mode === 'service') {
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'storefront-stable' }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    });
  }
  const stableDest = opts.mode === 'subset' ? { host: 'storefront', subset: 'stable' } : { host: 'storefront-stable' };
  await custom.createNamespacedCustomObject({
    ...ISTIO, namespace, plural: 'virtualservices',
    body: {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'storefront' },
      spec: {
        hosts: ['storefront'],
        gateways: ['mushop/mushop-gateway'],
        http: [
          { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api', port: { number: 80 } } }] },
          { name: 'assets', match: [{ uri: { prefix: '/assets' } }], route: [{ destination: { host: 'assets' } }] },
          { name: 'primary', route: [{ destination: stableDest }] },
        ],
      },
    },
  });
  if (opts.mode === 'subset') {
    await custom.createNamespacedCustomObject({
      ...ISTIO, namespace, plural: 'destinationrules',
      body: { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'storefront' }, spec: { host: 'storefront', subsets: [{ name: 'stable', labels }] } },
    });
  }
  const vs = (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront' })) as VirtualServiceLike;
  const dr = opts.mode === 'subset'
    ? ((await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', name: 'storefront' })) as { spec: unknown })
    : undefined;

  return {
    namespace,
    mode: opts.mode,
    stableImage,
    original: { vs, dr },
    rolloutRaw(steps, extra = {}) {
      return {
        apiVersion: 'ramp.dev/v1alpha1',
        kind: 'Rollout',
        metadata: { name: 'storefront', namespace },
        spec: {
          target: { deployment: 'storefront-original', service: 'storefront' },
          canary: { image: 'iad.ocir.io/mushop/storefront:beta', versionLabel: { key: 'version', stable: 'original', canary: 'beta' } },
          traffic: {
            provider: 'istio',
            virtualService: { name: 'storefront', routes: ['primary'] },
            routing: opts.mode === 'subset'
              ? { mode: 'subset', destinationRule: 'storefront' }
              : { mode: 'service', stableService: 'storefront-stable', canaryService: 'storefront-canary' },
          },
          steps,
          rollback: { scaleDownDelay: '2s' },
          progressDeadline: '60s',
          ...extra,
        },
      };
    },
    async cleanup() {
      await core.deleteNamespace({ name: namespace });
    },
  };
}

/** Reads the objects a rollout changes, for assertions. */
export function clusterView(kc: k8s.KubeConfig, namespace: string) {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async vs(): Promise<VirtualServiceLike> {
      return (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'storefront' })) as VirtualServiceLike;
    },
    async dr(): Promise<{ spec: { subsets: { name: string; labels?: Record<string, string> }[] } }> {
      return (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', name: 'storefront' })) as { spec: { subsets: { name: string; labels?: Record<string, string> }[] } };
    },
    /** The managed route's destinations with weights, e.g. [['stable', 90], ['canary', 10]]. */
    async primaryWeights(): Promise<[string, number | undefined][]> {
      const v = await this.vs();
      const route = v.spec.http.find((h) => h.name === 'primary')!.route;
      return route.map((d) => [d.destination.subset ?? d.destination.host, d.weight]);
    },
    async canaryWeight(): Promise<number> {
      const v = await this.vs();
      const route = v.spec.http.find((h) => h.name === 'primary')!.route;
      if (route.length === 1) return 0;
      return route.find((d) => /canary/.test(d.destination.subset ?? d.destination.host))?.weight ?? 0;
    },
    async deployment(name: string): Promise<k8s.V1Deployment | undefined> {
      try {
        return await apps.readNamespacedDeployment({ name, namespace });
      } catch (err) {
        if (err instanceof k8s.ApiException && err.code === 404) return undefined;
        throw err;
      }
    },
    async service(name: string): Promise<k8s.V1Service | undefined> {
      try {
        return await core.readNamespacedService({ name, namespace });
      } catch (err) {
        if (err instanceof k8s.ApiException && err.code === 404) return undefined;
        throw err;
      }
    },
  };
}
