import { planLines } from '../../../../src/client/cli/commands/validate';
import type { ClusterPlan } from '../../../../src/client/cluster';
import { describeTraffic } from '../../../../src/domain/traffic/describe';
import { validateRollout } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';

const rollout = (patch: Record<string, unknown> = {}) => validateRollout(newTestRolloutRaw(patch));

describe('describeTraffic: the router in a few words', () => {
  it('istio names its own objects, per routing mode', () => {
    expect(describeTraffic(rollout().spec.traffic)).toBe('istio (VirtualService storefront, route(s) primary; subset routing via DestinationRule storefront)');
    const service = rollout({ spec: { traffic: { virtualService: { routes: [] }, routing: { mode: 'service', destinationRule: null, stableService: 'sf-stable', canaryService: 'sf-canary' } } } });
    expect(describeTraffic(service.spec.traffic)).toBe('istio (VirtualService storefront, the default route; service routing: stable Service sf-stable, canary Service sf-canary)');
  });

  it('gateway-api names its route, its managed rules and the Services', () => {
    const gw = (rules: unknown[]) => rollout({
      spec: { traffic: { provider: 'gateway-api', virtualService: null, route: { kind: 'GRPCRoute', name: 'storefront', rules }, routing: { mode: 'service', destinationRule: null, stableService: 'sf-stable', canaryService: 'sf-canary' } } },
    }).spec.traffic;
    expect(describeTraffic(gw(['primary', { index: 2 }]))).toBe('gateway-api (GRPCRoute storefront, rule(s) primary, #2; service routing: stable Service sf-stable, canary Service sf-canary)');
    expect(describeTraffic(gw([]))).toBe('gateway-api (GRPCRoute storefront, every rule sending to the stable Service; service routing: stable Service sf-stable, canary Service sf-canary)');
  });

  it('a provider it has no words for is named by itself, without another provider\'s kinds', () => {
    const other = { ...rollout().spec.traffic, provider: 'linkerd' } as unknown as Parameters<typeof describeTraffic>[0];
    expect(describeTraffic(other)).toBe('linkerd');
  });
});

describe('planLines: what validate --cluster says the rollout will do, in order', () => {
  const r = rollout({ spec: { progressDeadline: '90s' } });
  const plan: ClusterPlan = {
    cluster: { server: 'https://k8s.example:6443', context: 'prod' },
    weights: { stable: 100, canary: 0 },
    changes: [
      { id: 'routes', when: 'afterCanary', description: 'add the canary at 0 % to route(s) primary of VirtualService mushop/storefront', carriesTraffic: true },
      { id: 'pin', when: 'beforeCanary', description: 'pin Service mushop/storefront-stable to version=original' },
    ],
    canary: { namespace: 'mushop', name: 'storefront-original-canary', container: 'storefront', image: 'storefront:beta', versionLabel: { key: 'version', value: 'beta' }, replicas: 2 },
    steps: ['set canary weight to 10%', 'wait for approval'],
    promotion: { namespace: 'mushop', deployment: 'storefront-original', container: 'storefront', image: 'storefront:beta', versionLabel: { key: 'version', value: 'original' } },
  };

  it('changes before the canary first, then the canary, the changes after it, the steps and the promotion', () => {
    expect(planLines(r, plan)).toEqual([
      'Traffic    istio (VirtualService storefront, route(s) primary; subset routing via DestinationRule storefront); now stable 100% / canary 0%',
      'What it will create or change, in order:',
      '  1. before the canary: pin Service mushop/storefront-stable to version=original',
      '  2. create Deployment mushop/storefront-original-canary: image storefront:beta (container storefront), version=beta, 2 replicas; then wait until it is Available (progress deadline 90s)',
      '  3. once the canary is Available: add the canary at 0 % to route(s) primary of VirtualService mushop/storefront',
      '  4. the steps: 1) set canary weight to 10%, 2) wait for approval',
      "  5. at promotion: roll Deployment mushop/storefront-original to the canary's pod template (container storefront image storefront:beta, pods labelled version=original); then take the changes above back, last first, and delete the canary",
    ]);
  });
});
