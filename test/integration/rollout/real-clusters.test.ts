/**
 * Clusters as four public Istio canary guides shape them (test/support/shapes.ts), each used as it
 * is: the preflight lists what it will create or change before anything is touched; a rollout
 * 10 → 50 → approval → 100 is promoted; one aborted mid-pause rolls back. Traffic comes from the
 * generator, which routes as the mesh does (route → Service → ready endpoints → pods, subsets by
 * label), so the per-version counts are what the cluster really served: they match the weights
 * within sampling error, the canary serves nothing at weight 0 and nothing after an abort, and no
 * request meets a destination without a ready pod at any moment, promotion included.
 */
import * as k8s from '@kubernetes/client-node';
import { createPreflightActivities } from '../../../src/activities/preflight';
import { createTrafficActivities } from '../../../src/activities/traffic/activities';
import { createWorkloadActivities } from '../../../src/activities/workload';
import { startRollout, type RolloutHandle } from '../../../src/client/rollouts';
import { preflightArgs } from '../../../src/domain/rollout/machine';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, approveUpdate, resumeUpdate, statusQuery } from '../../../src/shared/messages';
import { startDemoService, type DemoService } from '../../../scripts/traffic/demo-service';
import { sharesBetween, startTrafficGenerator, type TrafficGenerator } from '../../../scripts/traffic/generator';
import { createShape, type ClusterState, type Shape, type ShapeName } from '../../support/shapes';
import { recordHistory } from '../../support/histories';
import { adminKubeConfig, eventually, stackInfo } from '../../support/stack';
import { startTestWorker, TestWorker } from '../../support/worker';
import { awaitResult } from '../../support/results';

const kc = adminKubeConfig();
const info = stackInfo();
const apps = kc.makeApiClient(k8s.AppsV1Api);
let w: TestWorker;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
});

interface Bed {
  shape: Shape;
  /** Requests that met no ready endpoint before the test began (the stable's pods starting). */
  noEndpointBefore: number;
  before: ClusterState;
  stable: DemoService;
  canary: DemoService;
  gen: TrafficGenerator;
}

async function bed(name: ShapeName): Promise<Bed> {
  const shape = await createShape(kc, name);
  const stable = await startDemoService({ version: 'stable', seed: 1 });
  const canary = await startDemoService({ version: 'canary', seed: 2 });
  const gen = await startTrafficGenerator({
    kubeconfig: kc, namespace: shape.namespace, virtualService: shape.virtualService, route: shape.route,
    images: { [shape.stableImage]: stable.url, [shape.canaryImage]: canary.url }, versionLabel: shape.versionKey,
    rps: 60, targetsDir: info.prometheus.targetsDir, resyncMs: 500, seed: 7,
  });
  // The generator has resolved the route to the stable's ready pods.
  await eventually('traffic reaches the stable pods', () => Promise.resolve((gen.stats().images[shape.stableImage]?.sent ?? 0) > 20 ? true : undefined), 60_000, 200);
  return { shape, before: await shape.state(), stable, canary, gen, noEndpointBefore: gen.stats().noEndpoint };
}

async function teardown(b: Bed | undefined) {
  if (!b) return;
  await b.gen.stop();
  await Promise.all([b.stable.close(), b.canary.close()]);
  await b.shape.cleanup();
}

/**
 * The canary image's share of what the cluster served over the next `n` requests, once the
 * generator routes by `weight` (it follows the VirtualService and the endpoints as the mesh does).
 */
async function canaryShare(b: Bed, weight: number, n = 400): Promise<{ share: number; sent: number; requests: number }> {
  await eventually(`generator at canary ${weight}%`, () => {
    const e = b.gen.stats().images[b.shape.canaryImage]?.expectedShare ?? 0;
    return Promise.resolve(Math.abs(e - weight / 100) < 1e-9 ? true : undefined);
  }, 30_000, 100);
  const s0 = b.gen.stats();
  const s1 = await eventually(`${n} requests`, () => {
    const s = b.gen.stats();
    return Promise.resolve(s.requests - s0.requests >= n ? s : undefined);
  }, 60_000, 100);
  const { requests, byKey } = sharesBetween(s0, s1, 'images');
  const sent = byKey[b.shape.canaryImage]?.sent ?? 0;
  return { share: sent / requests, sent, requests };
}

/** Within four standard deviations of a binomial proportion (exactly, at 0 and 100). */
function expectShare(got: { share: number; sent: number; requests: number }, weight: number) {
  const p = weight / 100;
  if (p === 0) return expect(got.sent).toBe(0);
  if (p === 1) return expect(got.sent).toBe(got.requests);
  const sd = Math.sqrt((p * (1 - p)) / got.requests);
  expect(Math.abs(got.share - p)).toBeLessThanOrEqual(4 * sd);
}

async function phase(h: RolloutHandle, want: string, step?: number) {
  return eventually(`phase ${want}${step !== undefined ? ` at step ${step}` : ''}`, async () => {
    const s = await h.query(statusQuery);
    return s.phase === want && (step === undefined || s.step.index === step) ? s : undefined;
  }, 120_000, 200);
}

/** What a promotion leaves different from before, by shape (docs/decisions/0015). */
const AFTER_PROMOTION: Record<ShapeName, (before: ClusterState) => ClusterState> = {
  // The DestinationRule Ramp created for the rollout is gone again; everything else as before.
  mushop: (b) => b,
  'version-test': (b) => b,
  argo: (b) => b,
  // The stable's pods now carry version v1 (its selector allows it), so the stable subset v2 selects v1.
  succession: (b) => ({
    ...b,
    destinationRules: { myapp: { host: 'myapp', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v1' } }] } },
  }),
};

/** The stable's pod labels after the promotion: the version value follows unless the selector pins it. */
const STABLE_LABELS_AFTER: Record<ShapeName, Record<string, string>> = {
  mushop: { version: '2.2.0' },
  'version-test': { app: 'v1', 'service.istio.io/canonical-revision': 'v2' },
  argo: { version: 'yellow' },
  succession: { version: 'v1' },
};

/** What the preflight plans to change, per shape. */
const PLAN: Record<ShapeName, RegExp[]> = {
  mushop: [/^create DestinationRule .*\/storefront-ramp for host mushop-storefront with subsets stable \(version=2\.1\.2\) and canary \(version=2\.2\.0\)$/, /^add the canary at 0 % to the default route of VirtualService .*\/edge$/],
  'version-test': [/^set subsets v1 \(app=v1\) and v2 \(app=v2\) in DestinationRule .*\/version-test$/, /^add the canary at 0 % to the default route of VirtualService/],
  argo: [
    /^narrow Service .*\/stable-svc to the stable's pods for the rollout \(selector \{"app":"rollouts-demo","pod-template-hash":"[a-z0-9]+"\}\)$/,
    /^narrow Service .*\/canary-svc to the canary's pods for the rollout \(selector \{"app":"rollouts-demo","version":"yellow"\}\)$/,
    /^add the canary at 0 % to route\(s\) primary of VirtualService .*\/rollouts-demo-vsvc$/,
  ],
  succession: [/^set subsets v2 \(version=v2\) and v1 \(version=v1\) in DestinationRule .*\/myapp$/, /^add the canary at 0 % to the default route/],
};

describe.each(['mushop', 'version-test', 'argo', 'succession'] as const)('the %s shape, as its guide builds it', (name) => {
  let b: Bed | undefined;
  afterEach(async () => {
    await teardown(b);
    b = undefined;
  });

  it('the preflight (ramp validate --cluster) lists what it will create or change, and touches nothing', async () => {
    b = await bed(name);
    const kube = kc;
    const workload = createWorkloadActivities({ kube });
    const traffic = createTrafficActivities({ kube });
    const result = await createPreflightActivities({ workload, traffic }).preflight(...preflightArgs(validateRollout(b.shape.rolloutRaw([{ setWeight: 10 }]))));
    if (!result.ok) throw new Error(`preflight refused:\n${result.problems.join('\n')}`);
    const plan = result.runtime.changes.map((c) => c.description);
    expect(plan).toHaveLength(PLAN[name].length);
    PLAN[name].forEach((re, i) => expect(plan[i]).toMatch(re));
    expect(await b.shape.state()).toEqual(b.before);
  });

  it('10 → 50 → approval → 100 is promoted: the split follows the weights, no request meets an empty destination', async () => {
    b = await bed(name);
    const bedNow = b;
    const h = await startRollout(w.client, validateRollout(b.shape.rolloutRaw([
      { pause: {} }, { setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { approval: {} }, { setWeight: 100 },
    ])), { taskQueue: w.taskQueue, startedBy: 'jest' });

    await phase(h, 'Paused', 0);
    expectShare(await canaryShare(bedNow, 0), 0);
    await h.executeUpdate(resumeUpdate, { args: [{ by: 'jest' }] });
    await phase(h, 'Paused', 2);
    const at10 = await canaryShare(bedNow, 10);
    expect(at10.sent).toBeGreaterThan(0);
    expectShare(at10, 10);
    await h.executeUpdate(resumeUpdate, { args: [{ by: 'jest' }] });
    await phase(h, 'AwaitingApproval');
    expectShare(await canaryShare(bedNow, 50), 50);
    await h.executeUpdate(approveUpdate, { args: [{ by: 'jest' }] });

    const result = await awaitResult(h);
    expect(result.outcome).toBe('Promoted');
    // After the promotion every request is served by the stable Deployment's pods running the new image.
    const after = await eventually('canary gone from the endpoints', () => {
      const s = bedNow.gen.stats();
      return Promise.resolve(Object.keys(s.workloads).includes(bedNow.shape.canary) && s.entries.every((e) => e.endpoints.every((p) => p.workload === bedNow.shape.stable)) ? s : undefined);
    }, 60_000, 200);
    expect(after.entries.flatMap((e) => e.endpoints.map((p) => p.image))).toEqual(expect.arrayContaining([bedNow.shape.canaryImage]));
    expect(bedNow.gen.stats().noEndpoint - bedNow.noEndpointBefore).toBe(0);

    expect(await bedNow.shape.state()).toEqual(AFTER_PROMOTION[name](bedNow.before));
    const stable = await apps.readNamespacedDeployment({ namespace: bedNow.shape.namespace, name: bedNow.shape.stable });
    expect(stable.spec?.template.spec?.containers[0]?.image).toBe(bedNow.shape.canaryImage);
    expect(stable.spec?.template.metadata?.labels).toMatchObject(STABLE_LABELS_AFTER[name]);
    await recordHistory(h, `shape-${name}-promoted`);
  }, 240_000);

  it('aborted mid-pause: the canary serves nothing after the abort, and everything is as before', async () => {
    b = await bed(name);
    const bedNow = b;
    const h = await startRollout(w.client, validateRollout(b.shape.rolloutRaw([{ setWeight: 30 }, { pause: {} }], { rollback: { scaleDownDelay: '5s' } })), { taskQueue: w.taskQueue });
    await phase(h, 'Paused');
    expectShare(await canaryShare(bedNow, 30), 30);
    await h.executeUpdate(abortUpdate, { args: [{ by: 'jest', reason: 'shape test' }] });
    // During the scale-down delay the canary still runs, and gets nothing.
    const after = await canaryShare(bedNow, 0, 300);
    expect(after.sent).toBe(0);
    const result = await awaitResult(h);
    expect(result.outcome).toBe('RolledBack');
    expect(bedNow.gen.stats().noEndpoint - bedNow.noEndpointBefore).toBe(0);
    expect(await bedNow.shape.state()).toEqual(bedNow.before);
    const stable = await apps.readNamespacedDeployment({ namespace: bedNow.shape.namespace, name: bedNow.shape.stable });
    expect(stable.spec?.template.spec?.containers[0]?.image).toBe(bedNow.shape.stableImage);
  }, 180_000);
});
