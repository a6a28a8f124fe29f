import { managedDiff } from '../../../../src/domain/gitops/managed';

const vs = (weights: [number, number], extra: object[] = []) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews' },
  spec: {
    http: [
      ...extra,
      { name: 'primary', timeout: '10s', route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: weights[0] }, { destination: { host: 'reviews', subset: 'v2' }, weight: weights[1] }] },
    ],
  },
});
const header = { name: 'ramp-header-beta', route: [{ destination: { host: 'reviews', subset: 'v2' } }] };

const httpRoute = (refs: object[]) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r' }, spec: { rules: [{ name: 'main', backendRefs: refs }] } });

describe('managedDiff', () => {
  it.each([
    ['equal weights', vs([40, 60]), vs([40, 60]), []],
    ['a field Ramp does not manage (timeout) differs: no difference', vs([40, 60]), { ...vs([40, 60]), spec: { http: [{ ...vs([40, 60]).spec.http[0], timeout: '3s' }] } }, []],
    ['weights changed by a person', vs([40, 60]), vs([90, 10]), [
      { path: 'spec.http[0].route[0].weight', expected: 40, actual: 90 },
      { path: 'spec.http[0].route[1].weight', expected: 60, actual: 10 },
    ]],
    ['Ramp\'s header route missing', vs([40, 60], [header]), vs([40, 60]), [{ path: 'spec.http[0]', expected: 'ramp-header-beta', actual: undefined }]],
    ['a header route nobody asked for', vs([40, 60]), vs([40, 60], [header]), [{ path: 'spec.http[0]', expected: undefined, actual: 'ramp-header-beta' }]],
    ['the apiserver adds metadata and status: ignored', vs([40, 60]), { ...vs([40, 60]), metadata: { name: 'reviews', resourceVersion: '7', generation: 3 }, status: { observedGeneration: 3 } }, []],
    ['Gateway API: an absent weight equals the default 1', httpRoute([{ name: 'a', port: 80 }]), httpRoute([{ name: 'a', port: 80, weight: 1, kind: 'Service', group: '' }]), []],
    ['Gateway API: a changed weight', httpRoute([{ name: 'a', port: 80, weight: 70 }, { name: 'b', port: 80, weight: 30 }]), httpRoute([{ name: 'a', port: 80, weight: 100 }, { name: 'b', port: 80, weight: 0 }]), [
      { path: 'spec.rules[0].backendRefs[0].weight', expected: 70, actual: 100 },
      { path: 'spec.rules[0].backendRefs[1].weight', expected: 30, actual: 0 },
    ]],
    ['DestinationRule: a subset removed by hand',
      { kind: 'DestinationRule', spec: { subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } },
      { kind: 'DestinationRule', spec: { subsets: [{ name: 'v1', labels: { version: 'v1' } }] } },
      [{ path: 'spec.subsets[1].name', expected: 'v2', actual: undefined }, { path: 'spec.subsets[1].labels', expected: { version: 'v2' }, actual: undefined }]],
    ['Deployment: containers matched by name, not position',
      { kind: 'Deployment', spec: { template: { spec: { containers: [{ name: 'web', image: 'web:2' }, { name: 'proxy', image: 'envoy:1' }] } } } },
      { kind: 'Deployment', spec: { template: { spec: { containers: [{ name: 'proxy', image: 'envoy:1' }, { name: 'web', image: 'web:1' }] } } } },
      [{ path: 'spec.template.spec.containers[0].image', expected: 'web:2', actual: 'web:1' }]],
    ['a kind Ramp does not manage', { kind: 'ConfigMap', data: { a: '1' } }, { kind: 'ConfigMap', data: { a: '2' } }, []],
  ])('%s', (_name, expected, actual, diffs) => {
    expect(managedDiff(expected, actual)).toEqual(diffs);
  });
});
