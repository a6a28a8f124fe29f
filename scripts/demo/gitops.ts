/**
 * The MuShop storefront in git, for `npm run demo -- --gitops` and the rollout benchmark's git mode
 * (docs/gitops.md#git-mode): its Service, stable Deployment, DestinationRule and VirtualService are
 * committed to a new repository on the stack's git server, and a Flux GitRepository + Kustomization
 * in the storefront's namespace apply it. The rollout is examples/mushop/rollout.yaml with
 * `spec.gitops.mode: git`: every change Ramp makes is a commit that Flux applies.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { validateRollout } from '../../src/domain/spec/parse';
import type { ResolvedRollout } from '../../src/domain/spec/schema';
import { ensureBareRepo } from '../stack/git-server';
import type { StackInfo } from '../stack/info';

/** The example rollout the demo runs; the git variant adds spec.gitops to it. */
const MUSHOP_ROLLOUT = path.resolve(__dirname, '../../examples/mushop/rollout.yaml');

/** The folder of the repository Flux applies. */
const DIR = 'apps/storefront';
/** The GitRepository, the Kustomization and the credentials Secret share the storefront's name. */
const FLUX_NAME = 'storefront';
const SECRET = 'storefront-git';
const BRANCH = 'main';
const FLUX = {
  source: { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' },
  kustomize: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
} as const;
/** Who the repository's first commit is by; Ramp's commits are by the worker's RAMP_GIT_AUTHOR_*. */
const SEED_AUTHOR = { GIT_AUTHOR_NAME: 'MuShop team', GIT_AUTHOR_EMAIL: 'mushop@example.test', GIT_COMMITTER_NAME: 'MuShop team', GIT_COMMITTER_EMAIL: 'mushop@example.test' };

export interface GitMushopOptions {
  namespace: string;
  /** Flux's interval for the GitRepository and the Kustomization; Ramp requests a reconcile after each push anyway. */
  interval: string;
}

export interface GitMushop {
  namespace: string;
  /** The repository on the stack's git server: URL (no credentials), branch, and the bare repository on disk. */
  repo: { url: string; branch: string; bareDir: string };
  /**
   * examples/mushop/rollout.yaml in this namespace with `spec.gitops` naming this repository;
   * `steps` and `emergency` override the example's steps and the gitops default.
   */
  rollout(opts?: { steps?: unknown[]; emergency?: boolean; rollback?: Record<string, unknown> }): ResolvedRollout;
  /** The branch's history, newest first, as `git log --format='%h %s'` prints it. */
  log(): Promise<string[]>;
}

/** The storefront's manifests as a team writes them (comments, flow style); Ramp edits them in place. */
function manifests(ns: string): Record<string, string> {
  return {
    [`${DIR}/service.yaml`]: `apiVersion: v1
kind: Service
metadata:
  name: storefront
  namespace: ${ns}
  labels: { app: storefront }
spec:
  selector: { app: storefront }
  ports:
    - { name: http, port: 80, targetPort: 8080 }
`,
    [`${DIR}/deployment.yaml`]: `# The storefront everyone gets: Ramp commits the new image here at promotion.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: storefront-original
  namespace: ${ns}
  labels: { app: storefront }
spec:
  replicas: 2
  progressDeadlineSeconds: 600
  selector:
    matchLabels: { app: storefront, version: original }
  template:
    metadata:
      labels: { app: storefront, version: original }
    spec:
      containers:
        - name: storefront
          image: iad.ocir.io/mushop/storefront:original
          ports:
            - containerPort: 8080
`,
    [`${DIR}/destinationrule.yaml`]: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: storefront
  namespace: ${ns}
spec:
  host: storefront
  subsets:
    - name: stable
      labels: { app: storefront, version: original }
`,
    [`${DIR}/virtualservice.yaml`]: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: storefront
  namespace: ${ns}
spec:
  hosts: [storefront]
  gateways: [mushop/mushop-gateway]
  http:
    # Ramp never touches these two.
    - name: api
      match: [{ uri: { prefix: /api } }]
      route:
        - destination: { host: api, port: { number: 80 } }
    - name: assets
      match: [{ uri: { prefix: /assets } }]
      route:
        - destination: { host: assets }
    # The route the rollout shifts.
    - name: primary
      route:
        - destination:
            host: storefront
            subset: stable
          weight: 100
`,
  };
}

/** Runs the git CLI; rejects with git's own output, which says what went wrong. */
function git(args: string[], opts: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd: opts.cwd, env: { ...process.env, ...SEED_AUTHOR, GIT_TERMINAL_PROMPT: '0' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(' ')} failed (is git installed, and ${opts.cwd ?? 'the repository'} writable?):\n${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

/**
 * A new bare repository `<name>.git` in the git server's folder, its branch holding one commit of
 * `files`. Written on the server's disk, as the stack's own repositories are: the server serves
 * every repository in that folder.
 */
async function seedRepo(reposDir: string, name: string, files: Record<string, string>): Promise<{ bareDir: string; sha: string }> {
  const bareDir = ensureBareRepo(reposDir, name, BRANCH);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-demo-seed-'));
  try {
    await git(['init', '--quiet', `--initial-branch=${BRANCH}`, work]);
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
      fs.writeFileSync(path.join(work, rel), text);
    }
    await git(['add', '--all'], { cwd: work });
    await git(['commit', '--quiet', '-m', 'MuShop storefront: Service, stable Deployment, DestinationRule, VirtualService'], { cwd: work });
    await git(['push', '--quiet', bareDir, `HEAD:refs/heads/${BRANCH}`], { cwd: work });
    return { bareDir, sha: (await git(['rev-parse', 'HEAD'], { cwd: work })).trim() };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

interface Kustomization {
  metadata: { generation?: number };
  status?: { observedGeneration?: number; lastAppliedRevision?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** Polls until fn returns a value; on timeout throws `what` with what the last look saw. */
async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<{ value?: T; seen: string }>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { value, seen } = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s; last seen: ${seen}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Creates the namespace, a repository holding the storefront, and the Flux objects that apply it;
 * returns once Flux has applied the first commit and the stable Deployment is available.
 */
export async function createGitMushop(kc: k8s.KubeConfig, info: StackInfo, opts: GitMushopOptions): Promise<GitMushop> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const ns = opts.namespace;
  const name = `${ns}-${Date.now().toString(36)}`;
  const { bareDir, sha } = await seedRepo(info.git.reposDir, name, manifests(ns));
  const repo = { url: `${info.git.url}/${name}.git`, branch: BRANCH, bareDir };

  await core.createNamespace({ body: { metadata: { name: ns } } });
  const password = fs.readFileSync(info.git.passwordFile, 'utf8').trim();
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: SECRET }, type: 'Opaque', stringData: { username: info.git.username, password } } });
  await custom.createNamespacedCustomObject({
    ...FLUX.source, namespace: ns,
    body: {
      apiVersion: `${FLUX.source.group}/${FLUX.source.version}`, kind: 'GitRepository', metadata: { name: FLUX_NAME, namespace: ns },
      spec: { url: repo.url, ref: { branch: BRANCH }, secretRef: { name: SECRET }, interval: opts.interval, timeout: '20s' },
    },
  });
  await custom.createNamespacedCustomObject({
    ...FLUX.kustomize, namespace: ns,
    body: {
      apiVersion: `${FLUX.kustomize.group}/${FLUX.kustomize.version}`, kind: 'Kustomization', metadata: { name: FLUX_NAME, namespace: ns },
      spec: { sourceRef: { kind: 'GitRepository', name: FLUX_NAME }, path: `./${DIR}`, interval: opts.interval, retryInterval: opts.interval, prune: true, timeout: '30s' },
    },
  });

  const revision = `${BRANCH}@sha1:${sha}`;
  await waitFor(`Kustomization ${ns}/${FLUX_NAME} did not apply ${revision} (see kustomize-controller's and source-controller's logs in ${info.logsDir})`, 90_000, async () => {
    const k = (await custom.getNamespacedCustomObject({ ...FLUX.kustomize, namespace: ns, name: FLUX_NAME })) as Kustomization;
    const ready = k.status?.conditions?.find((c) => c.type === 'Ready');
    const done = k.status?.lastAppliedRevision === revision && ready?.status === 'True' && k.status.observedGeneration === k.metadata.generation;
    return { value: done ? true : undefined, seen: `Ready=${ready?.status ?? '(none)'} ${ready?.reason ?? ''} ${ready?.message ?? ''}, lastAppliedRevision ${k.status?.lastAppliedRevision ?? '(none)'}` };
  });
  await waitFor(`Deployment ${ns}/storefront-original was not available (are the stack's KWOK nodes Ready?)`, 90_000, async () => {
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'storefront-original' });
    return { value: d.status?.availableReplicas === 2 ? true : undefined, seen: `${d.status?.availableReplicas ?? 0}/2 available` };
  });

  return {
    namespace: ns,
    repo,
    rollout(o = {}) {
      const raw = YAML.parse(fs.readFileSync(MUSHOP_ROLLOUT, 'utf8')) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
      raw.metadata.namespace = ns;
      if (o.steps) raw.spec.steps = o.steps;
      if (o.rollback) raw.spec.rollback = o.rollback;
      raw.spec.gitops = {
        mode: 'git',
        repository: { url: repo.url, branch: BRANCH, credentials: { basicAuthFile: info.git.credentialsFile } },
        manifests: { deployment: `${DIR}/deployment.yaml`, virtualService: `${DIR}/virtualservice.yaml`, destinationRule: `${DIR}/destinationrule.yaml` },
        agent: { kind: 'FluxKustomization', namespace: ns, name: FLUX_NAME },
        syncTimeout: '90s',
        ...(o.emergency === undefined ? {} : { emergency: o.emergency }),
      };
      return validateRollout(raw, `${MUSHOP_ROLLOUT} with spec.gitops`);
    },
    async log() {
      return (await git(['--git-dir', bareDir, 'log', '--format=%h %s', BRANCH])).trimEnd().split('\n');
    },
  };
}

/** What `npm run demo -- --gitops` does differently from the plain demo. */
export interface GitOpsDemo {
  /** The example rollout in git mode, on the demo's repository. */
  rollout(): ResolvedRollout;
  /** The lines printed at the end: Ramp's commits and where the repository is. */
  summary(): Promise<string[]>;
}

/** Puts the storefront in git and has Flux apply it in `namespace`, saying so as the demo does. */
export async function gitopsDemo(kc: k8s.KubeConfig, info: StackInfo, namespace: string): Promise<GitOpsDemo> {
  const shop = await createGitMushop(kc, info, { namespace, interval: '1m' });
  console.log(`Committed the MuShop storefront to ${shop.repo.url} (branch ${shop.repo.branch}, folder ${DIR}): Deployment storefront-original,`);
  console.log(`Service storefront, VirtualService storefront (routes api, assets, primary), DestinationRule storefront (subset stable).`);
  console.log(`Flux applies it: GitRepository and Kustomization ${namespace}/${FLUX_NAME}, interval 1m; Ramp asks for a reconcile after each commit.\n`);
  return {
    rollout: () => shop.rollout(),
    async summary() {
      return [
        `\nRamp's commits, one per step (git log --format='%h %s', newest first):`,
        ...(await shop.log()).map((l) => `  ${l}`),
        `The repository: ${shop.repo.url} (user ${info.git.username}, password in ${info.git.passwordFile}),`,
        `  on disk: git --git-dir ${shop.repo.bareDir} log -p ${shop.repo.branch}`,
      ];
    },
  };
}
