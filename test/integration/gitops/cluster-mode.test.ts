/**
 * Cluster mode beside a real Flux that re-applies the repository every 3 s: Ramp writes weights and
 * subsets to the cluster under its field manager and commits the promoted image to git.
 * - With the documented setting (`kustomize.toolkit.fluxcd.io/ssa: IfNotPresent` on the route
 *   objects in git), the rollout completes and the canary's weight never moves backwards.
 * - Without it, Flux reverts Ramp's weights; Ramp holds the rollout with a message naming the
 *   agent, instead of writing again every interval.
 */
import * as k8s from '@kubernetes/client-node';
import { startRollout } from '../../../src/client/rollouts';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, statusQuery } from '../../../src/shared/messages';
import { createFluxObject, gitCredentialsSecret, gitRepository, gitRevision, kustomization, waitForAppliedRevision } from '../../support/flux';
import { branchHead, createRepo, gitOk, removeTempDirs, TestRepo } from '../../support/git';
import { awaitResult } from '../../support/results';
import { adminKubeConfig, eventually, sleep, uniqueName } from '../../support/stack';
import { startTestWorker, TestWorker } from '../../support/worker';

const kc = adminKubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const DIR = 'apps/podinfo';
const IF_NOT_PRESENT = '  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent\n';

function manifests(ns: string, annotate: boolean): Record<string, string> {
  const note = annotate ? IF_NOT_PRESENT : '';
  return {
    [`${DIR}/service.yaml`]: `apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\n  namespace: ${ns}\nspec:\n  selector: { app: podinfo }\n  ports:\n    - { name: http, port: 9898 }\n`,
    [`${DIR}/deployment.yaml`]: `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n  namespace: ${ns}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: { app: podinfo }\n  template:\n    metadata:\n      labels: { app: podinfo, version: ga }\n    spec:\n      containers:\n        - name: podinfo\n          image: ghcr.io/stefanprodan/podinfo:6.0.0\n`,
    [`${DIR}/destinationrule.yaml`]: `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: podinfo\n  namespace: ${ns}\n${note}spec:\n  host: podinfo\n  subsets:\n    - name: ga\n      labels: { version: ga }\n`,
    [`${DIR}/virtualservice.yaml`]: `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: podinfo\n  namespace: ${ns}\n${note}spec:\n  hosts: [podinfo]\n  http:\n    - name: primary\n      route:\n        - destination: { host: podinfo, subset: ga }\n          weight: 100\n`,
  };
}

async function applied(annotate: boolean): Promise<{ ns: string; repo: TestRepo }> {
  const ns = uniqueName('podinfo-cm');
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const repo = await createRepo('podinfo-cm', manifests(ns, annotate));
  await core.createNamespacedSecret({ namespace: ns, body: gitCredentialsSecret('git-auth', repo) });
  await createFluxObject(kc, gitRepository(ns, 'podinfo', repo, { secretName: 'git-auth', interval: '3s' }));
  await createFluxObject(kc, kustomization(ns, 'podinfo', { source: 'podinfo', path: `./${DIR}`, interval: '3s', prune: true }));
  await waitForAppliedRevision(kc, ns, 'podinfo', gitRevision(repo.branch, await branchHead(repo)), 90_000);
  await eventually('podinfo Available', async () => ((await apps.readNamespacedDeployment({ namespace: ns, name: 'podinfo' })).status?.availableReplicas === 1 ? true : undefined), 90_000);
  return { ns, repo };
}

function rollout(ns: string, repo: TestRepo, steps: unknown[]) {
  return validateRollout({
    apiVersion: 'ramp.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'podinfo', namespace: ns },
    spec: {
      target: { deployment: 'podinfo', service: 'podinfo' },
      canary: { image: 'ghcr.io/stefanprodan/podinfo:6.1.0', deploymentName: 'podinfo-canary', versionLabel: { key: 'version', stable: 'ga', canary: 'canary' } },
      traffic: { provider: 'istio', virtualService: { name: 'podinfo', routes: ['primary'] }, host: 'podinfo', routing: { mode: 'subset', destinationRule: 'podinfo', stableSubset: 'ga', canarySubset: 'canary' } },
      gitops: {
        mode: 'cluster',
        repository: { url: repo.url, branch: repo.branch, credentials: { basicAuthFile: repo.credentialsFile } },
        manifests: { deployment: `${DIR}/deployment.yaml` },
        agent: { kind: 'FluxKustomization', namespace: ns, name: 'podinfo' },
        syncTimeout: '90s',
      },
      progressDeadline: '3m', rollback: { scaleDownDelay: '1s' }, steps,
    },
  });
}

/** The canary's weight in the live VirtualService, sampled until stopped; consecutive repeats dropped. */
function sampleCanaryWeight(ns: string): { stop: () => Promise<(number | 'none')[]> } {
  const seen: (number | 'none')[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const vs = await custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices', name: 'podinfo' }) as { spec: { http: { route: { destination: { subset: string }; weight?: number }[] }[] } };
      const canary = vs.spec.http[0]!.route.find((r) => r.destination.subset === 'canary');
      const w = canary ? (canary.weight ?? 0) : 'none';
      if (seen.at(-1) !== w) seen.push(w);
      await sleep(100);
    }
  })();
  return { stop: async () => { running = false; await loop; return seen; } };
}

let w: TestWorker;
const namespaces: string[] = [];
beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
  for (const ns of namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  removeTempDirs();
});

it('with ssa: IfNotPresent on the route objects in git: promoted with no weight flap across several Flux intervals; the promoted image is a commit', async () => {
  const { ns, repo } = await applied(true);
  namespaces.push(ns);
  const sampler = sampleCanaryWeight(ns);
  const handle = await startRollout(w.client, rollout(ns, repo, [{ setWeight: 20 }, { pause: { duration: '7s' } }, { setWeight: 60 }, { pause: { duration: '7s' } }, { setWeight: 100 }]), { taskQueue: w.taskQueue });
  const result = await awaitResult(handle);
  const weights = await sampler.stop();
  expect(result.outcome === 'Promoted' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('Promoted');
  // Ramp's weights only ever go up until the routes are restored at the end: Flux never put 0 back.
  // (The 0 of the canary's new route may pass between two samples: the next write follows at once.)
  const seen = weights.filter((x) => x !== 'none');
  expect(seen.filter((x) => x !== 0)).toEqual([20, 60, 100]);
  expect(seen).toEqual([...seen].sort((a, b) => a - b));
  expect(weights.at(-1)).toBe('none');
  // The stable's new image is in git (Flux would revert a cluster patch), and live.
  expect(await gitOk(['--git-dir', repo.bareDir, 'show', `${repo.branch}:${DIR}/deployment.yaml`])).toContain('image: ghcr.io/stefanprodan/podinfo:6.1.0');
  const subjects = await gitOk(['--git-dir', repo.bareDir, 'log', '--format=%s', repo.branch]);
  expect(subjects.split('\n').filter((l) => /podinfo/.test(l) && /promote/.test(l))).toHaveLength(1);
  expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'podinfo' })).spec?.template.spec?.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.1.0');
}, 600_000);

it('without the setting: Flux reverts the weights, and Ramp holds the rollout naming the agent instead of fighting it', async () => {
  const { ns, repo } = await applied(false);
  namespaces.push(ns);
  const handle = await startRollout(w.client, rollout(ns, repo, [{ setWeight: 20 }, { pause: { duration: '10s' } }, { setWeight: 60 }, { setWeight: 100 }]), { taskQueue: w.taskQueue });
  const held = await eventually('held by the agent fight', async () => {
    const st = await handle.query(statusQuery);
    return st.message && /kustomize-controller/.test(st.message) ? st : undefined;
  }, 120_000, 250);
  expect(held.message).toMatch(/the GitOps agent kustomize-controller \(Flux\) re-applied it/);
  expect(held.message).toMatch(/docs\/gitops\.md#flux/);
  // Held, not flapping: no weight above 0 is written again while held.
  await sleep(7_000);
  const st = await handle.query(statusQuery);
  expect(st.weights.canary).toBe(0);
  await handle.executeUpdate(abortUpdate, { args: [{ reason: 'agent fight', by: 'jest' }] });
  expect((await awaitResult(handle)).outcome).toBe('RolledBack');
}, 600_000);
