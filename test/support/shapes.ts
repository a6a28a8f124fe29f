/**
 * Four clusters shaped exactly as four public Istio canary guides shape them (built from their
 * descriptions, no edits for Ramp's sake), each in a fresh namespace:
 *
 * 1. mushop — the Oracle MuShop storefront: a selector without the version label (pods carry
 *    `version: 2.1.2`), no DestinationRule, a VirtualService `edge` with three unnamed routes whose
 *    default route sends everything to the Service's fully qualified host, no subset.
 * 2. version-test — an Istio tutorial: the version key is `app` (v1, v2), the DestinationRule has
 *    subsets v1 and v2, the route sends 100 % to subset v1.
 * 3. argo — Argo Rollouts + Istio (OpsMx): `stable-svc` and `canary-svc` both select every pod of
 *    the app by `app` alone, a route `primary` with stable-svc 100 / canary-svc 0, pods without a
 *    version label.
 * 4. succession — SAP Emarsys' succession method: the Service selects `{canary: enabled,
 *    applicationName}`, the Deployment's selector lacks the version label, subsets v1 and v2 by
 *    `version`, a VirtualService with two hosts, the route v1: 0 / v2: 100 (the stable is v2; the
 *    new version comes up as v1).
 */
import * as k8s from '@kubernetes/client-node';
import type { RouteSelector } from '../../scripts/traffic/generator';

const ISTIO = { group: 'networking.istio.io', version: 'v1' } as const;

export type ShapeName = 'mushop' | 'version-test' | 'argo' | 'succession';

export interface ClusterState {
  virtualServices: Record<string, unknown>;
  destinationRules: Record<string, unknown>;
  /** Service name → selector. */
  selectors: Record<string, Record<string, string> | undefined>;
  deployments: string[];
}

export interface Shape {
  name: ShapeName;
  namespace: string;
  /** The stable Deployment and the canary Ramp creates. */
  stable: string;
  canary: string;
  stableImage: string;
  canaryImage: string;
  versionKey: string;
  /** The VirtualService and route the traffic follows. */
  virtualService: string;
  route: string | RouteSelector;
  /** A raw Rollout spec for this shape. */
  rolloutRaw(steps: unknown[], extra?: Record<string, unknown>): Record<string, unknown>;
  /** Everything Ramp may touch, as it is now. */
  state(): Promise<ClusterState>;
  cleanup(): Promise<void>;
}

const port = [{ name: 'http', port: 80, targetPort: 8080 }];

function deployment(name: string, selector: Record<string, string>, labels: Record<string, string>, image: string, replicas = 2): k8s.V1Deployment {
  return {
    metadata: { name, labels: selector },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] } },
    },
  };
}

export async function createShape(kc: k8s.KubeConfig, name: ShapeName): Promise<Shape> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = `shape-${name}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e5).toString(36)}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const service = (n: string, selector: Record<string, string>) => core.createNamespacedService({ namespace, body: { metadata: { name: n }, spec: { selector, ports: port } } });
  const vs = (n: string, spec: unknown) => custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', body: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: n }, spec } });
  const dr = (n: string, spec: unknown) => custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', body: { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: n }, spec } });

  let shape: Omit<Shape, 'namespace' | 'state' | 'cleanup' | 'name'>;
  switch (name) {
    case 'mushop': {
      const selector = { app: 'storefront', 'app.kubernetes.io/instance': 'mushop', 'app.kubernetes.io/name': 'storefront' };
      const stableImage = 'iad.ocir.io/oracle/ateam/mushop-storefront:2.1.2';
      await apps.createNamespacedDeployment({ namespace, body: deployment('mushop-storefront', selector, { ...selector, version: '2.1.2' }, stableImage) });
      await service('mushop-storefront', selector);
      await vs('edge', {
        hosts: ['*'],
        gateways: ['mushop/mushop-gateway'],
        http: [
          { match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'mushop-api', port: { number: 80 } } }] },
          { match: [{ uri: { prefix: '/assets' } }], route: [{ destination: { host: 'mushop-assets', port: { number: 80 } } }] },
          { route: [{ destination: { host: `mushop-storefront.${namespace}.svc.cluster.local`, port: { number: 80 } } }] },
        ],
      });
      shape = {
        stable: 'mushop-storefront', canary: 'mushop-storefront-canary', stableImage, canaryImage: 'iad.ocir.io/oracle/ateam/mushop-storefront:2.2.0',
        versionKey: 'version', virtualService: 'edge', route: { default: true },
        rolloutRaw: (steps, extra = {}) => rollout(namespace, 'storefront', {
          target: { deployment: 'mushop-storefront', service: 'mushop-storefront' },
          canary: { image: 'iad.ocir.io/oracle/ateam/mushop-storefront:2.2.0' },
          traffic: { provider: 'istio', virtualService: { name: 'edge', routes: [{ default: true }] }, routing: { mode: 'subset' } },
          steps, ...extra,
        }),
      };
      break;
    }
    case 'version-test': {
      const stableImage = 'docker.io/istio/examples-helloworld-v1:1.0';
      await apps.createNamespacedDeployment({ namespace, body: deployment('version-test-v1', { run: 'version-test', app: 'v1' }, { run: 'version-test', app: 'v1' }, stableImage) });
      await service('version-test', { run: 'version-test' });
      await dr('version-test', { host: 'version-test', subsets: [{ name: 'v1', labels: { app: 'v1' } }, { name: 'v2', labels: { app: 'v2' } }] });
      await vs('version-test', { hosts: ['version-test'], http: [{ route: [{ destination: { host: 'version-test', subset: 'v1' }, weight: 100 }] }] });
      shape = {
        stable: 'version-test-v1', canary: 'version-test-v2', stableImage, canaryImage: 'docker.io/istio/examples-helloworld-v2:1.0',
        versionKey: 'app', virtualService: 'version-test', route: { default: true },
        rolloutRaw: (steps, extra = {}) => rollout(namespace, 'version-test', {
          target: { deployment: 'version-test-v1', service: 'version-test' },
          canary: { image: 'docker.io/istio/examples-helloworld-v2:1.0', deploymentName: 'version-test-v2', versionLabel: { key: 'app', stable: 'v1', canary: 'v2' } },
          traffic: { provider: 'istio', virtualService: { name: 'version-test' }, routing: { mode: 'subset', destinationRule: 'version-test', stableSubset: 'v1', canarySubset: 'v2' } },
          steps, ...extra,
        }),
      };
      break;
    }
    case 'argo': {
      const stableImage = 'argoproj/rollouts-demo:blue';
      await apps.createNamespacedDeployment({ namespace, body: deployment('rollouts-demo', { app: 'rollouts-demo' }, { app: 'rollouts-demo' }, stableImage) });
      await service('stable-svc', { app: 'rollouts-demo' });
      await service('canary-svc', { app: 'rollouts-demo' });
      await vs('rollouts-demo-vsvc', {
        hosts: ['rollouts-demo.local'],
        gateways: ['rollouts-demo-gateway'],
        http: [{ name: 'primary', route: [{ destination: { host: 'stable-svc' }, weight: 100 }, { destination: { host: 'canary-svc' }, weight: 0 }] }],
      });
      shape = {
        stable: 'rollouts-demo', canary: 'rollouts-demo-canary', stableImage, canaryImage: 'argoproj/rollouts-demo:yellow',
        versionKey: 'version', virtualService: 'rollouts-demo-vsvc', route: 'primary',
        rolloutRaw: (steps, extra = {}) => rollout(namespace, 'rollouts-demo', {
          target: { deployment: 'rollouts-demo', service: 'stable-svc' },
          canary: { image: 'argoproj/rollouts-demo:yellow' },
          traffic: { provider: 'istio', virtualService: { name: 'rollouts-demo-vsvc', routes: ['primary'] }, routing: { mode: 'service', stableService: 'stable-svc', canaryService: 'canary-svc' } },
          steps, ...extra,
        }),
      };
      break;
    }
    case 'succession': {
      const stableImage = 'registry.example.com/emarsys/myapp:2.0.0';
      await apps.createNamespacedDeployment({
        namespace, body: deployment('myapp', { applicationName: 'myapp' }, { applicationName: 'myapp', canary: 'enabled', version: 'v2' }, stableImage),
      });
      await service('myapp', { canary: 'enabled', applicationName: 'myapp' });
      await dr('myapp', { host: 'myapp', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });
      await vs('myapp', {
        hosts: ['myapp', 'myapp.example.com'],
        http: [{ route: [{ destination: { host: 'myapp', subset: 'v1' }, weight: 0 }, { destination: { host: 'myapp', subset: 'v2' }, weight: 100 }] }],
      });
      shape = {
        stable: 'myapp', canary: 'myapp-canary', stableImage, canaryImage: 'registry.example.com/emarsys/myapp:3.0.0',
        versionKey: 'version', virtualService: 'myapp', route: { default: true },
        rolloutRaw: (steps, extra = {}) => rollout(namespace, 'myapp', {
          target: { deployment: 'myapp', service: 'myapp' },
          canary: { image: 'registry.example.com/emarsys/myapp:3.0.0', versionLabel: { key: 'version', canary: 'v1' } },
          traffic: { provider: 'istio', virtualService: { name: 'myapp' }, routing: { mode: 'subset', destinationRule: 'myapp', stableSubset: 'v2', canarySubset: 'v1' } },
          steps, ...extra,
        }),
      };
      break;
    }
  }

  return {
    ...shape,
    name,
    namespace,
    async state() {
      const vsList = (await custom.listNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices' })) as { items: { metadata: { name: string }; spec: unknown }[] };
      const drList = (await custom.listNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules' })) as { items: { metadata: { name: string }; spec: unknown }[] };
      const services = (await core.listNamespacedService({ namespace })).items;
      const deployments = (await apps.listNamespacedDeployment({ namespace })).items;
      return {
        virtualServices: Object.fromEntries(vsList.items.map((v) => [v.metadata.name, v.spec])),
        destinationRules: Object.fromEntries(drList.items.map((d) => [d.metadata.name, d.spec])),
        selectors: Object.fromEntries(services.map((s) => [s.metadata!.name!, s.spec?.selector])),
        deployments: deployments.map((d) => d.metadata!.name!).sort(),
      };
    },
    async cleanup() {
      await core.deleteNamespace({ name: namespace });
    },
  };
}

function rollout(namespace: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'ramp.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace },
    spec: { rollback: { scaleDownDelay: '2s' }, progressDeadline: '60s', ...spec },
  };
}
