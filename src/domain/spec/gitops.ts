/**
 * `spec.gitops`: a rollout whose objects live in a git repository that a GitOps agent applies.
 * - `mode: git`: every change Ramp makes (weights, subsets, the canary Deployment, the stable's image
 *   at promotion) is a commit to the repository; Ramp waits until the cluster shows it.
 * - `mode: cluster`: Ramp writes its runtime state to the cluster beside the agent, and commits only
 *   what must outlast the rollout: the stable Deployment's new image at promotion.
 * Credentials are files on the worker, named here and read by the worker: never in the spec's
 * values, the workflow's input or its history.
 */
import { z } from 'zod';
import { formatDuration } from '../duration';
import { duration, k8sName } from './fields';

const SYNC_TIMEOUT = formatDuration(120_000);

/** A path inside the repository: relative, forward slashes, no `..`. */
const repoPath = z.string().min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '') && !p.includes('\\'), {
    error: 'must be a path relative to the repository\'s root, with / between folders and no .. (e.g. apps/podinfo/virtualservice.yaml)',
  });

/** A file on the worker (a mounted Secret). */
const workerFile = z.string().min(1).refine((p) => p.startsWith('/'), { error: 'must be an absolute path on the worker (a mounted Secret), e.g. /etc/ramp/git/credentials' });

const credentials = z.strictObject({
  basicAuthFile: workerFile.optional().meta({ description: 'a file on the worker holding `user:password`, sent as HTTP basic auth', examples: ['/etc/ramp/git/credentials'] }),
  tokenFile: workerFile.optional().meta({ description: 'a file on the worker holding an access token (sent as basic auth with user `x-access-token`)', examples: ['/etc/ramp/git/token'] }),
  sshKeyFile: workerFile.optional().meta({ description: 'an SSH private key file on the worker, for ssh:// and git@host: URLs; needs knownHostsFile', examples: ['/etc/ramp/git/id_ed25519'] }),
  knownHostsFile: workerFile.optional().meta({
    description: 'with sshKeyFile, required: a known_hosts file on the worker holding the SSH server\'s host key (`ssh-keyscan -p PORT HOST` prints its line); a server whose key is not in it is refused',
    examples: ['/etc/ramp/git/known_hosts'],
  }),
}).superRefine((c, ctx) => {
  if ([c.basicAuthFile, c.tokenFile, c.sshKeyFile].filter((x) => x !== undefined).length > 1) ctx.addIssue({ code: 'custom', message: 'give one of basicAuthFile, tokenFile and sshKeyFile' });
  if (c.sshKeyFile !== undefined && c.knownHostsFile === undefined) {
    ctx.addIssue({
      code: 'custom', path: ['knownHostsFile'],
      message: 'required with sshKeyFile: a known_hosts file on the worker holding the SSH server\'s host key, so ssh checks whom it talks to '
        + '(`ssh-keyscan -p PORT HOST` prints the line; compare its fingerprint with the one the server\'s owner publishes), e.g. knownHostsFile: /etc/ramp/git/known_hosts',
    });
  }
  if (c.knownHostsFile !== undefined && c.sshKeyFile === undefined) {
    ctx.addIssue({ code: 'custom', path: ['knownHostsFile'], message: 'is for SSH: give sshKeyFile with it, or remove it' });
  }
})
  .meta({ description: 'how the worker authenticates to the git server: one file it reads at each call; absent for a public repository', examples: [{ basicAuthFile: '/etc/ramp/git/credentials' }] });

export const gitopsSchema = z.strictObject({
  mode: z.enum(['git', 'cluster'], { error: 'must be "git" (every change is a commit) or "cluster" (Ramp writes the cluster beside the agent; the promoted image is committed)' })
    .meta({ description: '`git`: every change is a commit the agent applies; `cluster`: runtime state goes to the cluster, the promoted image to git', examples: ['git'] }),
  repository: z.strictObject({
    url: z.string().regex(/^(https?:\/\/|ssh:\/\/|[\w.-]+@[\w.-]+:)[^\s]+$/, { error: 'must be an http(s)://, ssh:// or user@host:path URL without credentials in it' })
      .refine((u) => !/^https?:\/\/[^/]*@/.test(u), { error: 'must not carry credentials: put them in a file and name it in credentials' })
      .meta({ description: 'the repository the agent applies, without credentials', examples: ['https://git.example.com/platform/apps.git'] }),
    branch: z.string().min(1).default('main').meta({ description: 'the branch the agent applies; Ramp commits to it', examples: ['main'] }),
    credentials: credentials.optional(),
  }).meta({ description: 'the git repository that holds the rollout\'s manifests', examples: [{ url: 'https://git.example.com/platform/apps.git', branch: 'main' }] }),
  manifests: z.strictObject({
    deployment: repoPath.meta({ description: 'the file holding the stable Deployment: promotion commits its new image there', examples: ['apps/podinfo/deployment.yaml'] }),
    canaryDeployment: repoPath.optional().meta({ description: 'git mode: the file Ramp writes the canary Deployment to and removes at the end; default: `<canary name>.yaml` beside `deployment`', examples: ['apps/podinfo/podinfo-canary.yaml'] }),
    virtualService: repoPath.optional().meta({ description: 'git mode: the file holding the VirtualService (a manifest or a kustomize patch of it)', examples: ['apps/podinfo/virtualservice.yaml'] }),
    destinationRule: repoPath.optional().meta({ description: 'git mode, subset routing: the file holding the DestinationRule', examples: ['apps/podinfo/destinationrule.yaml'] }),
  }).meta({ description: 'where each object the rollout changes lives in the repository (paths from its root)', examples: [{ deployment: 'apps/podinfo/deployment.yaml', virtualService: 'apps/podinfo/virtualservice.yaml' }] }),
  agent: z.strictObject({
    kind: z.enum(['FluxKustomization', 'ArgoApplication'], { error: 'must be FluxKustomization or ArgoApplication' }).meta({ description: 'the agent object that reports the revision it applied', examples: ['FluxKustomization'] }),
    namespace: k8sName.meta({ description: 'its namespace', examples: ['flux-system'] }),
    name: k8sName.meta({ description: 'its name', examples: ['apps'] }),
  }).optional().meta({ description: 'the agent that applies the repository: Ramp asks it to reconcile after each commit and waits until it reports the commit applied', examples: [{ kind: 'FluxKustomization', namespace: 'flux-system', name: 'apps' }] }),
  syncTimeout: duration.prefault(SYNC_TIMEOUT).meta({ description: 'how long a pushed commit may take to be live in the cluster; longer fails the step (and rolls back)', examples: ['5m'] }),
  emergency: z.boolean().default(true).meta({ description: 'git mode: a rollback writes stable\'s weights to the cluster at once, then commits the same, so a bad canary does not wait for the agent\'s sync', examples: [true] }),
}).meta({ description: 'the rollout\'s manifests live in git and a GitOps agent (Flux, Argo CD) applies them (docs/gitops.md)', examples: [{ mode: 'git', repository: { url: 'https://git.example.com/platform/apps.git' }, manifests: { deployment: 'apps/podinfo/deployment.yaml' } }] });

export type GitOpsInput = z.output<typeof gitopsSchema>;

/** The resolved `spec.gitops`: durations in ms, the canary's file named. */
export interface GitOpsSpec {
  mode: 'git' | 'cluster';
  repository: { url: string; branch: string; credentials?: { basicAuthFile?: string; tokenFile?: string; sshKeyFile?: string; knownHostsFile?: string } };
  manifests: { deployment: string; canaryDeployment: string; virtualService?: string; destinationRule?: string };
  agent?: { kind: 'FluxKustomization' | 'ArgoApplication'; namespace: string; name: string };
  syncTimeoutMs: number;
  emergency: boolean;
}

export function resolveGitOps(g: GitOpsInput, canaryName: string): GitOpsSpec {
  const dir = g.manifests.deployment.includes('/') ? g.manifests.deployment.slice(0, g.manifests.deployment.lastIndexOf('/') + 1) : '';
  return {
    mode: g.mode,
    repository: { url: g.repository.url, branch: g.repository.branch, ...(g.repository.credentials ? { credentials: g.repository.credentials } : {}) },
    manifests: { ...g.manifests, canaryDeployment: g.manifests.canaryDeployment ?? `${dir}${canaryName}.yaml` },
    ...(g.agent ? { agent: g.agent } : {}),
    syncTimeoutMs: g.syncTimeout,
    emergency: g.emergency,
  };
}

/**
 * An approval by merge stands before the weight step whose commit it proposes: merging that commit
 * is the approval, and it is a commit only in git mode.
 */
export function mergeApprovalIssues(steps: readonly { kind: string; via?: string }[], mode: 'git' | 'cluster' | undefined): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  steps.forEach((s, i) => {
    if (s.kind !== 'approval' || s.via !== 'merge') return;
    const path = ['spec', 'steps', i, 'approval', 'via'];
    if (mode !== 'git') out.push({ path, message: 'approval by merge needs spec.gitops.mode: git (the approved change is a commit); use via: command, or git mode' });
    else if (steps[i + 1]?.kind !== 'setWeight') out.push({ path, message: `approval by merge proposes the next step's weight as a commit, so step ${i + 2} must be a setWeight step; put the approval right before one (e.g. - setWeight: 100)` });
  });
  return out;
}

/**
 * What git mode cannot do yet, each with its path and fix: it writes an Istio VirtualService and
 * DestinationRule (subset routing) and Deployments; other routers and service routing write the
 * cluster only.
 */
export function gitopsIssues(g: GitOpsInput, traffic: { provider: string; routing: { mode: string; destinationRule?: string } }): { path: (string | number)[]; message: string }[] {
  if (g.mode !== 'git') return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  if (traffic.provider !== 'istio') out.push({ path: ['spec', 'gitops', 'mode'], message: `git mode writes Istio objects only; with provider ${traffic.provider} use mode: cluster` });
  else if (traffic.routing.mode !== 'subset') out.push({ path: ['spec', 'gitops', 'mode'], message: 'git mode needs subset routing (spec.traffic.routing.mode: subset); with service routing use mode: cluster' });
  if (!g.manifests.virtualService) out.push({ path: ['spec', 'gitops', 'manifests', 'virtualService'], message: 'required in git mode: the file that holds the VirtualService' });
  if (traffic.routing.mode === 'subset' && !g.manifests.destinationRule) out.push({ path: ['spec', 'gitops', 'manifests', 'destinationRule'], message: 'required in git mode with subset routing: the file that holds the DestinationRule' });
  if (traffic.routing.mode === 'subset' && !traffic.routing.destinationRule) out.push({ path: ['spec', 'traffic', 'routing', 'destinationRule'], message: 'required in git mode: the name of the DestinationRule in spec.gitops.manifests.destinationRule' });
  return out;
}
