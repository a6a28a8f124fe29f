/**
 * The podinfo guide's GitOps fixture: its manifests in a repository on the stack's git server,
 * applied by Flux into a namespace of their own, and a git-mode Rollout of it. Used by the git-mode
 * and the approval-by-merge suites.
 */
import * as k8s from '@kubernetes/client-node';
import { parseTrailers } from '../../src/domain/gitops/commit-message';
import { validateRollout } from '../../src/domain/spec/parse';
import { createFluxObject, gitCredentialsSecret, gitRepository, gitRevision, kustomization, waitForAppliedRevision } from './flux';
import { branchHead, createRepo, gitOk, GitServerRef, TestRepo } from './git';
import { adminKubeConfig, eventually, uniqueName } from './stack';

const kc = adminKubeConfig();
export const core = kc.makeApiClient(k8s.CoreV1Api);
export const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
export const DIR = 'apps/podinfo';

/** The guide's manifests, written as people write them (comments, flow style). */
export function manifests(ns: string): Record<string, string> {
  return {
    [`${DIR}/service.yaml`]: `apiVersion: v1
kind: Service
metadata:
  name: podinfo
  namespace: ${ns}
spec:
  selector: { app: podinfo }
  ports:
    - { name: http, port: 9898 }
`,
    [`${DIR}/deployment.yaml`]: `# podinfo, general availability
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: ${ns}
spec:
  replicas: 1
  selector:
    matchLabels: { app: podinfo }
  template:
    metadata:
      labels:
        app: podinfo
        version: ga
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:6.0.0 # ga
`,
    [`${DIR}/destinationrule.yaml`]: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: podinfo
  namespace: ${ns}
spec:
  host: podinfo
  subsets:
    - name: ga
      labels: { version: ga }
`,
    [`${DIR}/virtualservice.yaml`]: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: podinfo
  namespace: ${ns}
spec:
  hosts: [podinfo]
  http:
    - name: primary
      route:
        - destination:
            host: podinfo
            subset: ga
          weight: 100
`,
  };
}

/** An app in its own namespace whose manifests live in a repository Flux applies. */
export interface Shop {
  ns: string;
  repo: TestRepo;
  /** The repository's files as created: what a rollback restores. */
  original: Record<string, string>;
}

/**
 * A namespace, a repository of `files(ns)` on `server` (default: the stack's) and Flux applying
 * `dir` of it (GitRepository and Kustomization named `name`): returns once Deployment `name` is Available.
 */
export async function fluxApp(name: string, dir: string, files: (ns: string) => Record<string, string>, server?: GitServerRef): Promise<Shop> {
  const ns = uniqueName(name);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const original = files(ns);
  const repo = await createRepo(name, original, 'main', server);
  await core.createNamespacedSecret({ namespace: ns, body: gitCredentialsSecret('git-auth', repo) });
  await createFluxObject(kc, gitRepository(ns, name, repo, { secretName: 'git-auth', interval: '1m' }));
  await createFluxObject(kc, kustomization(ns, name, { source: name, path: `./${dir}`, interval: '1m', prune: true }));
  await waitForAppliedRevision(kc, ns, name, gitRevision(repo.branch, await branchHead(repo)), 90_000);
  await eventually(`${ns}/${name} Available`, async () => ((await apps.readNamespacedDeployment({ namespace: ns, name })).status?.availableReplicas === 1 ? true : undefined), 90_000);
  return { ns, repo, original };
}

export function podinfoRepo(): Promise<Shop> {
  return fluxApp('podinfo', DIR, manifests);
}

/**
 * A git-mode Rollout of app `name` (Deployment, Service, VirtualService and DestinationRule all
 * `name`, subsets ga and canary) whose files are `dir`/deployment.yaml, virtualservice.yaml and
 * destinationrule.yaml, applied by the Flux Kustomization `name`.
 */
export function gitRollout(s: Shop, opts: { name: string; dir: string; steps: unknown[]; syncTimeout?: string }) {
  const { name, dir } = opts;
  return validateRollout({
    apiVersion: 'ramp.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace: s.ns },
    spec: {
      target: { deployment: name, service: name },
      canary: { image: 'ghcr.io/stefanprodan/podinfo:6.1.0', deploymentName: `${name}-canary`, versionLabel: { key: 'version', stable: 'ga', canary: 'canary' } },
      traffic: {
        provider: 'istio', virtualService: { name, routes: ['primary'] }, host: name,
        routing: { mode: 'subset', destinationRule: name, stableSubset: 'ga', canarySubset: 'canary' },
      },
      gitops: {
        mode: 'git',
        repository: { url: s.repo.url, branch: s.repo.branch, credentials: { basicAuthFile: s.repo.credentialsFile } },
        manifests: { deployment: `${dir}/deployment.yaml`, virtualService: `${dir}/virtualservice.yaml`, destinationRule: `${dir}/destinationrule.yaml` },
        agent: { kind: 'FluxKustomization', namespace: s.ns, name },
        syncTimeout: opts.syncTimeout ?? '90s',
      },
      progressDeadline: '3m',
      rollback: { scaleDownDelay: '1s' },
      steps: opts.steps,
    },
  });
}

export function rollout(s: Shop, steps: unknown[]) {
  return gitRollout(s, { name: 'podinfo', dir: DIR, steps });
}

/** Ramp's commits on the branch, oldest first: action and weights from their trailers. */
export async function rampCommits(repo: TestRepo): Promise<{ sha: string; action: string; canary?: number; step?: number }[]> {
  const out = await gitOk(['--git-dir', repo.bareDir, 'log', '--reverse', '--format=%H%x1f%B%x1e', repo.branch]);
  return out.split('\x1e').map((r) => r.trim()).filter(Boolean).flatMap((r) => {
    const [sha, message] = r.split('\x1f') as [string, string];
    const t = parseTrailers(message);
    return t ? [{ sha, action: t.action, ...(t.weights ? { canary: t.weights.canary } : {}), ...(t.step !== undefined ? { step: t.step } : {}) }] : [];
  });
}

export const fileAt = (repo: TestRepo, path: string) => gitOk(['--git-dir', repo.bareDir, 'show', `${repo.branch}:${path}`]).catch(() => undefined);

export async function liveVs(ns: string): Promise<{ spec: { http: { route: { destination: { subset: string }; weight?: number }[] }[] } }> {
  return await custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices', name: 'podinfo' }) as never;
}
