/**
 * The Istio and Gateway API CRDs are upstream's own (istio.io/api and sigs.k8s.io/gateway-api at the
 * versions stack/versions.env pins): objects are created, merge-patched and read back, and malformed
 * ones are rejected by the apiserver as on a real cluster — by the schema and by its CEL rules.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, uniqueName } from '../../support/stack';

const ISTIO = { group: 'networking.istio.io', version: 'v1' };

interface Route {
  destination: { host: string; subset?: string };
  weight?: unknown;
}

function virtualService(name: string, canaryWeight: unknown) {
  const routes: { name: string; match?: unknown[]; route: Route[] }[] = [
    { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api' } }] },
    {
      name: 'primary',
      route: [
        { destination: { host: 'storefront', subset: 'stable' }, weight: 100 },
        { destination: { host: 'storefront', subset: 'canary' }, weight: canaryWeight },
      ],
    },
  ];
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name },
    spec: {
      hosts: ['storefront'],
      http: routes,
    },
  };
}

describe('Istio and Gateway API CRDs', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName('smoke-crd');

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('creates, merge-patches and reads back a VirtualService', async () => {
    await custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', body: virtualService('vs', 0) });
    const read0 = (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'vs' })) as ReturnType<typeof virtualService>;
    const patched = virtualService('vs', 10);
    patched.spec.http[1]!.route[0]!.weight = 90;
    await custom.patchNamespacedCustomObject(
      { ...ISTIO, namespace, plural: 'virtualservices', name: 'vs', body: { spec: { http: patched.spec.http } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const read = (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', name: 'vs' })) as ReturnType<typeof virtualService> & { metadata: { resourceVersion: string } };
    expect(read.spec.http[1]!.route.map((r) => r.weight)).toEqual([90, 10]);
    expect(read.spec.http[0]).toEqual(read0.spec.http[0]);
    expect(read.metadata.resourceVersion).not.toBe((read0 as unknown as { metadata: { resourceVersion: string } }).metadata.resourceVersion);

    // The same object is served under the older Istio API versions too.
    const old = (await custom.getNamespacedCustomObject({ group: ISTIO.group, version: 'v1beta1', namespace, plural: 'virtualservices', name: 'vs' })) as ReturnType<typeof virtualService>;
    expect(old.spec.http[1]!.route[1]!.weight).toBe(10);
  });

  it('rejects a VirtualService whose weight is a string', async () => {
    await expect(
      custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', body: virtualService('bad', '50') }),
    ).rejects.toMatchObject({ code: 422 });
    const err = await custom
      .createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', body: virtualService('bad', '50') })
      .catch((e: k8s.ApiException<string>) => e);
    expect(String((err as k8s.ApiException<string>).body)).toContain('spec.http[1].route[1].weight');
  });

  it('rejects a merge patch that would make a weight a string', async () => {
    await custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'virtualservices', body: virtualService('vs2', 0) });
    const bad = virtualService('vs2', 'ten');
    await expect(
      custom.patchNamespacedCustomObject(
        { ...ISTIO, namespace, plural: 'virtualservices', name: 'vs2', body: { spec: { http: bad.spec.http } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
    ).rejects.toMatchObject({ code: 422 });
  });

  it('accepts a DestinationRule with subsets and rejects one without a host', async () => {
    const dr = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'storefront' },
      spec: { host: 'storefront', subsets: [{ name: 'stable', labels: { version: 'original' } }, { name: 'canary', labels: { version: 'beta' } }] },
    };
    await custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', body: dr });
    const read = (await custom.getNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', name: 'storefront' })) as typeof dr;
    expect(read.spec.subsets.map((s) => s.name)).toEqual(['stable', 'canary']);
    const noHost = { ...dr, metadata: { name: 'nohost' }, spec: { subsets: dr.spec.subsets } };
    await expect(custom.createNamespacedCustomObject({ ...ISTIO, namespace, plural: 'destinationrules', body: noHost })).rejects.toMatchObject({ code: 422 });
  });

  it('accepts a Gateway API HTTPRoute with weighted backends and rejects a string weight', async () => {
    const route = (weight: unknown) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: `route-${typeof weight}` },
      spec: {
        parentRefs: [{ name: 'gw' }],
        rules: [{ backendRefs: [{ name: 'stable', port: 80, weight: 90 }, { name: 'canary', port: 80, weight }] }],
      },
    });
    const gw = { group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'httproutes' };
    await custom.createNamespacedCustomObject({ ...gw, body: route(10) });
    await expect(custom.createNamespacedCustomObject({ ...gw, body: route('10') })).rejects.toMatchObject({ code: 422 });
  });

  it('are the upstream definitions at the pinned versions, CEL rules and int-or-string fields included', async () => {
    const pinned = Object.fromEntries(fs.readFileSync(path.join(__dirname, '../../../stack/versions.env'), 'utf8')
      .split('\n').filter((l) => /^[A-Z_0-9]+=/.test(l)).map((l) => l.split('=') as [string, string]));
    const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const httproutes = await api.readCustomResourceDefinition({ name: 'httproutes.gateway.networking.k8s.io' });
    expect(httproutes.metadata?.annotations?.['gateway.networking.k8s.io/bundle-version']).toBe(pinned.GATEWAY_API_VERSION);
    expect(httproutes.metadata?.annotations?.['gateway.networking.k8s.io/channel']).toBe('standard');
    const vs = await api.readCustomResourceDefinition({ name: 'virtualservices.networking.istio.io' });
    expect(vs.spec.versions.map((v) => v.name).sort()).toEqual(['v1', 'v1alpha3', 'v1beta1']);
    // Kept by the raw server-side apply (the typed client's serializer drops it, and the apiserver
    // then refuses the CRD).
    const status = vs.spec.versions.find((v) => v.name === 'v1')!.schema!.openAPIV3Schema!.properties!.status!;
    expect(JSON.stringify(status)).toContain('"x-kubernetes-int-or-string":true');

    // A CEL rule of the HTTPRoute CRD: a path match's value must start with "/".
    const badPath = {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'bad-path' },
      spec: { parentRefs: [{ name: 'gw' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: 'api' } }], backendRefs: [{ name: 'stable', port: 80 }] }] },
    };
    await expect(custom.createNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'httproutes', body: badPath }))
      .rejects.toMatchObject({ code: 422 });
  });
});
