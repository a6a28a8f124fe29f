/**
 * Git mode on a kustomize repository, laid out as the succession guide does it: a `base/` (the
 * Service, the stable Deployment with pods `version: v1`, a DestinationRule that already has subsets
 * v1 and v2, a VirtualService with two hosts and two HTTP routes) and one overlay per environment,
 * whose strategic-merge patch holds the VirtualService's routes and weights. Flux applies
 * `./overlays/prod`; the rollout's VirtualService file is that patch, a partial object (no hosts).
 *
 * The canary's file goes into the prod overlay: a folder with a kustomization.yaml is built from its
 * `resources:` only, so Ramp lists the file there in the same commit and unlists it at cleanup
 * (src/domain/gitops/kustomization.ts); the staging overlay never sees it.
 *
 * Real git server, real Flux, real apiserver, real Temporal.
 */
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { startRollout } from '../../../src/client/rollouts';
import { parseTrailers } from '../../../src/domain/gitops/commit-message';
import { validateRollout } from '../../../src/domain/spec/parse';
import { kubectl, ok } from '../../support/chart';
import { createFluxObject, gitCredentialsSecret, gitRepository, gitRevision, KUSTOMIZE, kustomization, readFluxObject, waitForAppliedRevision } from '../../support/flux';
import { branchHead, createRepo, gitOk, removeTempDirs, tempDir, TestRepo } from '../../support/git';
import { awaitResult } from '../../support/results';
import { adminKubeConfig, eventually, sleep, uniqueName } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';

const kc = adminKubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);

const PATCH = 'overlays/prod/virtualservice-patch.yaml';
const STAGING_PATCH = 'overlays/staging/virtualservice-patch.yaml';
const DEPLOYMENT = 'base/deployment.yaml';
const DESTINATION_RULE = 'base/destinationrule.yaml';
const CANARY_FILE = 'overlays/prod/myapp-canary.yaml';
const PROD_KUSTOMIZATION = 'overlays/prod/kustomization.yaml';
const STABLE_IMAGE = 'registry.example.com/emarsys/myapp:1.0.0';
const CANARY_IMAGE = 'registry.example.com/emarsys/myapp:2.0.0';
/** The Flux Kustomization of the prod overlay (the rollout's agent). */
const PROD = 'myapp-prod';

/** The routes as an overlay's patch holds them, each sending everything to subset v1. */
const routes = (comment: string) => `  http:
    - name: api # ${comment}
      match:
        - uri: { prefix: /api }
      route:
        - destination:
            host: myapp
            subset: v1
          weight: 100
      timeout: 5s
    - name: web
      route:
        - destination:
            host: myapp
            subset: v1
          weight: 100
`;

/** The repository as the guide lays it out; base objects carry no namespace, the overlay sets it. */
function manifests(ns: string): Record<string, string> {
  return {
    'base/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - service.yaml
  - deployment.yaml
  - destinationrule.yaml
  - virtualservice.yaml
`,
    'base/service.yaml': `apiVersion: v1
kind: Service
metadata:
  name: myapp
spec:
  selector: { app: myapp }
  ports:
    - { name: http, port: 80, targetPort: 8080 }
`,
    [DEPLOYMENT]: `# myapp, the version every environment runs
apiVersion: apps/v1
kind: Deployment
metadata:
  name: myapp
spec:
  replicas: 1
  selector:
    matchLabels: { app: myapp }
  template:
    metadata:
      labels:
        app: myapp
        version: v1
    spec:
      containers:
        - name: myapp
          image: ${STABLE_IMAGE} # stable
          ports: [{ containerPort: 8080 }]
`,
    [DESTINATION_RULE]: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: myapp
spec:
  host: myapp
  subsets:
    - name: v1
      labels: { version: v1 }
    - name: v2 # the next version, ready before any rollout
      labels: { version: v2 }
`,
    'base/virtualservice.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: myapp
spec:
  hosts:
    - myapp
    - myapp.example.com
${routes('base')}`,
    'overlays/prod/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${ns}
resources:
  - ../../base
patches:
  - path: virtualservice-patch.yaml
`,
    [PATCH]: `# prod: the routes and their weights (the rest of the VirtualService is base's)
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: myapp
spec:
${routes('prod')}`,
    'overlays/staging/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${ns}-staging
resources:
  - ../../base
patches:
  - path: virtualservice-patch.yaml
`,
    [STAGING_PATCH]: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: myapp
spec:
${routes('staging')}`,
  };
}

interface Shop {
  ns: string;
  repo: TestRepo;
  original: Record<string, string>;
}

async function successionRepo(): Promise<Shop> {
  const ns = uniqueName('succession');
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const original = manifests(ns);
  const repo = await createRepo('succession', original);
  await core.createNamespacedSecret({ namespace: ns, body: gitCredentialsSecret('git-auth', repo) });
  await createFluxObject(kc, gitRepository(ns, 'myapp', repo, { secretName: 'git-auth', interval: '1m' }));
  await createFluxObject(kc, kustomization(ns, PROD, { source: 'myapp', path: './overlays/prod', interval: '1m', prune: true }));
  const head = gitRevision(repo.branch, await branchHead(repo));
  await waitForAppliedRevision(kc, ns, PROD, head, 90_000);
  await eventually('myapp Available', async () => {
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'myapp' });
    return d.status?.availableReplicas === 1 ? true : undefined;
  }, 90_000);
  return { ns, repo, original };
}

function rollout(s: Shop, steps: unknown[]) {
  return validateRollout({
    apiVersion: 'ramp.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'myapp', namespace: s.ns },
    spec: {
      target: { deployment: 'myapp', service: 'myapp' },
      canary: { image: CANARY_IMAGE, deploymentName: 'myapp-canary', versionLabel: { key: 'version', stable: 'v1', canary: 'v2' } },
      traffic: {
        provider: 'istio', virtualService: { name: 'myapp', routes: ['api', 'web'] }, host: 'myapp',
        routing: { mode: 'subset', destinationRule: 'myapp', stableSubset: 'v1', canarySubset: 'v2' },
      },
      gitops: {
        mode: 'git',
        repository: { url: s.repo.url, branch: s.repo.branch, credentials: { basicAuthFile: s.repo.credentialsFile } },
        manifests: { deployment: DEPLOYMENT, canaryDeployment: CANARY_FILE, virtualService: PATCH, destinationRule: DESTINATION_RULE },
        agent: { kind: 'FluxKustomization', namespace: s.ns, name: PROD },
        syncTimeout: '90s',
      },
      progressDeadline: '3m',
      rollback: { scaleDownDelay: '1s' },
      steps,
    },
  });
}

interface RampCommit {
  sha: string;
  action: string;
  step?: number;
  weights?: { stable: number; canary: number };
  files: string[];
}

/** Ramp's commits on the branch, oldest first: their trailers and the files each touched. */
async function rampCommits(repo: TestRepo): Promise<RampCommit[]> {
  const out = await gitOk(['--git-dir', repo.bareDir, 'log', '--reverse', '--format=%H%x1f%B%x1e', repo.branch]);
  const commits: RampCommit[] = [];
  for (const r of out.split('\x1e').map((x) => x.trim()).filter(Boolean)) {
    const [sha, message] = r.split('\x1f') as [string, string];
    const t = parseTrailers(message);
    if (!t) continue;
    const files = (await gitOk(['--git-dir', repo.bareDir, 'diff-tree', '--no-commit-id', '--name-only', '-r', sha])).split('\n').filter(Boolean);
    commits.push({ sha, action: t.action, ...(t.step !== undefined ? { step: t.step } : {}), ...(t.weights ? { weights: t.weights } : {}), files });
  }
  return commits;
}

/** The lines a commit removed and added (no context), without the diff's headers. */
async function changedLines(repo: TestRepo, sha: string): Promise<string[]> {
  const diff = await gitOk(['--git-dir', repo.bareDir, 'show', '--format=', '-U0', sha]);
  return diff.split('\n').filter((l) => /^[+-]/.test(l) && !/^(\+\+\+|---) /.test(l));
}

const fileAt = (repo: TestRepo, rev: string, path: string) => gitOk(['--git-dir', repo.bareDir, 'show', `${rev}:${path}`]).catch(() => undefined);

interface Vs { spec: { hosts?: string[]; http: { name: string; route: { destination: { host: string; subset: string }; weight?: number }[] }[] } }

async function liveVs(ns: string): Promise<Vs> {
  return await custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices', name: 'myapp' }) as Vs;
}

/** The split of each route: [subset, weight] per destination. */
const splits = (vs: Vs) => vs.spec.http.map((h) => [h.name, h.route.map((r) => [r.destination.subset, r.weight])]);

/** `kustomize build overlays/prod` of the branch's head (kubectl's built-in kustomize): the VirtualService it renders. */
async function builtVs(repo: TestRepo): Promise<Vs> {
  const dir = tempDir('succession-build');
  await gitOk(['clone', '--quiet', '--branch', repo.branch, repo.bareDir, dir]);
  const docs = YAML.parseAllDocuments(ok(await kubectl(['kustomize', `${dir}/overlays/prod`]), 'kubectl kustomize overlays/prod')).map((d) => d.toJS() as { kind?: string });
  const vs = docs.filter((d) => d.kind === 'VirtualService');
  expect(vs).toHaveLength(1);
  return vs[0] as Vs;
}

/** The cluster's VirtualService is what kustomize builds from the overlay, and its routes are the patch file's. */
async function expectClusterEqualsOverlay(s: Shop): Promise<void> {
  const live = await liveVs(s.ns);
  const patch = YAML.parse((await fileAt(s.repo, s.repo.branch, PATCH))!) as Vs;
  expect(live.spec.http).toEqual(patch.spec.http);
  expect(live.spec).toEqual((await builtVs(s.repo)).spec);
  expect(live.spec.hosts).toEqual(['myapp', 'myapp.example.com']);
}

/**
 * Watches, in the background, when each commit appeared on the git server (the branch head) and when
 * Flux's Kustomization reported it applied (status.lastAppliedRevision). Each sighting gets the next
 * number of one counter, so the two series compare by order. Per round the applied revision is read
 * before the head: a commit pushed and the previous one applied in the same round count as applied first.
 */
function watchTimeline(s: Shop) {
  const pushed = new Map<string, number>();
  const applied = new Map<string, number>();
  let seq = 0;
  let stopped = false;
  const errors: unknown[] = [];
  const loop = (async () => {
    while (!stopped) {
      try {
        const k = await readFluxObject(kc, KUSTOMIZE, s.ns, PROD);
        const sha = /@sha1:([0-9a-f]{40})$/.exec(k.status?.lastAppliedRevision ?? '')?.[1];
        if (sha && !applied.has(sha)) applied.set(sha, ++seq);
        const head = await branchHead(s.repo);
        if (!pushed.has(head)) pushed.set(head, ++seq);
      } catch (err) {
        errors.push(err);
      }
      await sleep(50);
    }
  })();
  return {
    pushed,
    applied,
    errors,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

let w: TestWorker;
const shops: Shop[] = [];
beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
  for (const s of shops) await core.deleteNamespace({ name: s.ns }).catch(() => undefined);
  removeTempDirs();
});

it('the succession guide in git mode on kustomize: weights in the overlay patch, one commit per step, each live before the next; promoted, the files as before but the image, subsets v1 and v2 kept, the cluster equal to the overlay build', async () => {
  const s = await successionRepo();
  shops.push(s);
  const timeline = watchTimeline(s);
  const initial = await branchHead(s.repo);
  try {
    const handle = await startRollout(w.client, rollout(s, [{ setWeight: 10 }, { setWeight: 60 }, { pause: {} }, { setWeight: 100 }]), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'Paused', 240_000);
    // Paused at 60 %: the cluster shows what the overlay builds, both routes split alike.
    await expectClusterEqualsOverlay(s);
    expect(splits(await liveVs(s.ns))).toEqual([['api', [['v1', 40], ['v2', 60]]], ['web', [['v1', 40], ['v2', 60]]]]);
    expect((await apps.readNamespacedDeployment({ namespace: s.ns, name: 'myapp-canary' })).spec?.template.metadata?.labels?.version).toBe('v2');
    await handle.executeUpdate('resume', { args: [{ by: 'alice' }] });
    const result = await awaitResult(handle);
    expect(result.outcome === 'Promoted' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('Promoted');
  } finally {
    await timeline.stop();
  }
  const commits = await rampCommits(s.repo);

  // One commit per weight step, each editing only the weight lines of the overlay's patch.
  const weightCommits = commits.filter((c) => c.action === 'setWeight');
  expect(weightCommits.map((c) => [c.step, c.weights?.canary])).toEqual([[0, 10], [1, 60], [3, 100]]);
  for (const c of weightCommits) {
    expect(c.files).toEqual([PATCH]);
    const lines = await changedLines(s.repo, c.sha);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => !/^[+-]\s*weight: \d+$/.test(l))).toEqual([]);
    const atCommit = YAML.parse((await fileAt(s.repo, c.sha, PATCH))!) as Vs;
    expect(splits(atCommit)).toEqual(['api', 'web'].map((n) => [n, [['v1', 100 - c.weights!.canary], ['v2', c.weights!.canary]]]));
  }

  // The whole sequence, and the files each commit touched. The DestinationRule already had both
  // subsets: no commit adds the canary's, and none removes it at cleanup (no cleanup-subset).
  expect(commits.map((c) => c.action)).toEqual(['deploy-canary', 'prepare', 'setWeight', 'setWeight', 'setWeight', 'promote', 'cleanup-route', 'cleanup-canary']);
  // The canary's file is listed in the overlay's kustomization.yaml in the commit that adds it, and
  // unlisted in the one that removes it.
  const both = [CANARY_FILE, PROD_KUSTOMIZATION].sort();
  expect(commits.map((c) => c.files)).toEqual([both, [PATCH], [PATCH], [PATCH], [PATCH], [DEPLOYMENT], [PATCH], both]);
  expect(await fileAt(s.repo, commits[0]!.sha, PROD_KUSTOMIZATION)).toContain('  - myapp-canary.yaml\n');

  // Each commit live before the next appeared on the server: Flux reported commit n applied no later
  // than the sighting of commit n+1 on the branch (the first, after the repository's own commit).
  expect(timeline.errors).toEqual([]);
  const chain = [initial, ...commits.map((c) => c.sha)];
  const order = chain.slice(0, -1).map((sha, i) => ({ sha: sha.slice(0, 12), applied: timeline.applied.get(sha), nextPushed: timeline.pushed.get(chain[i + 1]!) }));
  expect(order.filter((o) => o.applied === undefined || o.nextPushed === undefined || o.applied > o.nextPushed)).toEqual([]);
  expect(timeline.applied.get(chain.at(-1)!)).toBeDefined();

  // The files are as they were, except the stable's image; the staging overlay was never touched.
  for (const [file, text] of Object.entries(s.original)) {
    const now = await fileAt(s.repo, s.repo.branch, file);
    if (file === DEPLOYMENT) expect(now).toBe(text.replace(`${STABLE_IMAGE} # stable`, `${CANARY_IMAGE} # stable`));
    else expect(now).toBe(text);
  }
  expect(await fileAt(s.repo, s.repo.branch, CANARY_FILE)).toBeUndefined();
  const dr = await custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: s.ns, plural: 'destinationrules', name: 'myapp' }) as { spec: { subsets: unknown[] } };
  expect(dr.spec.subsets).toEqual([{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }]);

  // The cluster equals the overlay's build; the stable runs the new image with its pods still v1.
  await expectClusterEqualsOverlay(s);
  expect(splits(await liveVs(s.ns))).toEqual([['api', [['v1', 100]]], ['web', [['v1', 100]]]]);
  const stable = await apps.readNamespacedDeployment({ namespace: s.ns, name: 'myapp' });
  expect(stable.spec?.template.spec?.containers[0]?.image).toBe(CANARY_IMAGE);
  expect(stable.spec?.template.metadata?.labels?.version).toBe('v1');
  await eventually('canary Deployment pruned', async () => (await apps.listNamespacedDeployment({ namespace: s.ns })).items.map((d) => d.metadata?.name).join() === 'myapp' ? true : undefined, 60_000);
}, 600_000);
