/**
 * Git mode when a part of the GitOps loop fails, on real components (git server, Flux, apiserver,
 * Temporal): the git server down for 30 s in the middle of a rollout, and the agent that applies
 * the repository stopped. Neither touches a shared component: the outage is a git server of the
 * test's own, and the agent stopped is the rollout's own Kustomization, suspended (`spec.suspend`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { GitServer, startGitServer } from '../../../scripts/stack/git-server';
import { activityCalls } from '../../../src/client/history';
import { startRollout } from '../../../src/client/rollouts';
import { parseTrailers, RampTrailers } from '../../../src/domain/gitops/commit-message';
import { Failure } from '../../../src/shared/failures';
import { gitRevision, KUSTOMIZE, patchFluxObject, readFluxObject, waitForAppliedRevision } from '../../support/flux';
import { branchHead, GitServerRef, gitOk, removeTempDirs, tempDir, TestRepo } from '../../support/git';
import { fluxApp, gitRollout, Shop } from '../../support/podinfo-gitops';
import { awaitResult } from '../../support/results';
import { adminKubeConfig, eventually, sleep, uniqueName } from '../../support/stack';
import { startTestWorker, TestWorker, waitForPhase } from '../../support/worker';

const kc = adminKubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const DIR = 'apps/web';
const FILES = { deployment: `${DIR}/deployment.yaml`, virtualService: `${DIR}/virtualservice.yaml`, destinationRule: `${DIR}/destinationrule.yaml` };
const CANARY_FILE = `${DIR}/web-canary.yaml`;

/** The app as a repository holds it: a Service, the stable Deployment and Istio's two objects. */
function appFiles(ns: string): Record<string, string> {
  const meta = { name: 'web', namespace: ns };
  const objects: Record<string, object> = {
    [`${DIR}/service.yaml`]: { apiVersion: 'v1', kind: 'Service', metadata: meta, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 9898 }] } },
    [FILES.deployment]: {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta,
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web', version: 'ga' } }, spec: { containers: [{ name: 'web', image: 'ghcr.io/stefanprodan/podinfo:6.0.0' }] } },
      },
    },
    [FILES.destinationRule]: { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta, spec: { host: 'web', subsets: [{ name: 'ga', labels: { version: 'ga' } }] } },
    [FILES.virtualService]: {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta,
      spec: { hosts: ['web'], http: [{ name: 'primary', route: [{ destination: { host: 'web', subset: 'ga' }, weight: 100 }] }] },
    },
  };
  return Object.fromEntries(Object.entries(objects).map(([file, o]) => [file, YAML.stringify(o)]));
}

type App = Shop;

/** A namespace, the app's repository on `server`, and Flux applying it: returns once the stable is Available. */
const deployApp = (server?: GitServerRef): Promise<App> => fluxApp('web', DIR, appFiles, server);

const webRollout = (app: App, steps: unknown[], syncTimeout: string) => gitRollout(app, { name: 'web', dir: DIR, steps, syncTimeout });

/** The trailers of every Ramp commit on the branch, oldest first. */
async function rampTrailers(repo: TestRepo): Promise<RampTrailers[]> {
  const log = await gitOk(['--git-dir', repo.bareDir, 'log', '--reverse', '--format=%B%x1e', repo.branch]);
  return log.split('\x1e').flatMap((message) => parseTrailers(message) ?? []);
}

const fileAt = (repo: TestRepo, file: string) => gitOk(['--git-dir', repo.bareDir, 'show', `${repo.branch}:${file}`]).catch(() => undefined);

interface LiveVirtualService {
  metadata: { managedFields?: { manager?: string; operation?: string; time?: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }[] };
  spec: { http: { route: { destination: { subset: string }; weight?: number }[] }[] };
}

async function liveObject(ns: string, plural: 'virtualservices' | 'destinationrules'): Promise<LiveVirtualService> {
  return await custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural, name: 'web' }) as LiveVirtualService;
}

/** The canary subset's weight in the live VirtualService; 0 when its destination is gone. */
const liveCanaryWeight = async (ns: string) =>
  (await liveObject(ns, 'virtualservices')).spec.http[0]!.route.find((r) => r.destination.subset === 'canary')?.weight ?? 0;

let w: TestWorker;
const deployed: App[] = [];
beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
  for (const a of deployed) await core.deleteNamespace({ name: a.ns }).catch(() => undefined);
  removeTempDirs();
});

it('git server down for 30 s during a pause: the next step\'s git call is retried, the rollout is promoted, one setWeight commit per step', async () => {
  // A server of this test's own (root, port, credentials), so stopping it leaves the stack's up.
  const root = tempDir('git-root');
  const secrets = tempDir('git-creds');
  const password = `pw-${uniqueName('x')}`;
  const ref: Omit<GitServerRef, 'url'> = {
    username: 'faults', reposDir: root, passwordFile: path.join(secrets, 'password'), credentialsFile: path.join(secrets, 'credentials'),
  };
  fs.writeFileSync(ref.passwordFile, `${password}\n`, { mode: 0o600 });
  fs.writeFileSync(ref.credentialsFile, `${ref.username}:${password}\n`, { mode: 0o600 });
  const serve = (port: number) => startGitServer({ host: '127.0.0.1', port, root, credentialsFile: ref.credentialsFile, log: () => undefined });
  let server: GitServer | undefined = await serve(0);
  const port = Number(new URL(server.url).port);
  try {
    const app = await deployApp({ ...ref, url: server.url });
    deployed.push(app);
    const handle = await startRollout(w.client, webRollout(app, [{ setWeight: 20 }, { pause: { duration: '10s' } }, { setWeight: 60 }, { setWeight: 100 }], '90s'), { taskQueue: w.taskQueue });
    await waitForPhase(handle, 'Paused', 240_000);
    expect(await liveCanaryWeight(app.ns)).toBe(20);

    await server.close();
    server = undefined;
    const stoppedAt = Date.now();
    // The pause ends while the server is down: the 60 % step's git call fails and is retried.
    const retrying = await eventually('a git call retried after GitUnreachable', async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.find((a) => (a.attempt ?? 1) > 1 && a.lastFailure?.applicationFailureInfo?.type === Failure.GitUnreachable);
    }, 28_000, 200);
    expect(retrying.lastFailure?.message).toContain(app.repo.url);
    await sleep(30_000 - (Date.now() - stoppedAt));
    server = await serve(port);

    const result = await awaitResult(handle);
    expect(result.outcome === 'Promoted' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('Promoted');
    const calls = activityCalls((await handle.fetchHistory()).events ?? []);
    expect(calls.filter((c) => c.attempt > 1).map((c) => c.name)).toContain('trafficSetWeight');

    // Nothing lost, nothing twice: one setWeight commit per weight step, in order.
    const commits = await rampTrailers(app.repo);
    expect(commits.filter((c) => c.action === 'setWeight').map((c) => [c.step, c.weights?.canary])).toEqual([[0, 20], [2, 60], [3, 100]]);
    expect(await fileAt(app.repo, FILES.deployment)).toBe(app.original[FILES.deployment]!.replace('podinfo:6.0.0', 'podinfo:6.1.0'));
    expect(await fileAt(app.repo, FILES.virtualService)).toBe(app.original[FILES.virtualService]);
    expect(await fileAt(app.repo, CANARY_FILE)).toBeUndefined();
  } finally {
    await server?.close();
  }
}, 600_000);

it('the agent stopped (Kustomization suspended): the next step fails with SyncTimeout, the emergency write takes the canary out of the cluster at once, and the rollback finishes once the agent runs again', async () => {
  const app = await deployApp();
  deployed.push(app);
  const handle = await startRollout(w.client, webRollout(app, [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { setWeight: 100 }], '20s'), { taskQueue: w.taskQueue });
  await waitForPhase(handle, 'Paused', 240_000);
  expect(await liveCanaryWeight(app.ns)).toBe(20);
  const appliedBefore = (await readFluxObject(kc, KUSTOMIZE, app.ns, 'web')).status?.lastAppliedRevision;

  // Flux's documented way to stop a Kustomization applying: the controller skips it while suspended.
  await patchFluxObject(kc, KUSTOMIZE, app.ns, 'web', { spec: { suspend: true } });
  await handle.executeUpdate('resume', { args: [{ by: 'jest' }] });

  // The emergency write: the canary leaves the live VirtualService although the agent applies nothing.
  await eventually('canary out of the live VirtualService', async () => ((await liveCanaryWeight(app.ns)) === 0 ? true : undefined), 60_000);
  const vs = await liveObject(app.ns, 'virtualservices');
  expect((await readFluxObject(kc, KUSTOMIZE, app.ns, 'web')).status?.lastAppliedRevision).toBe(appliedBefore);
  const httpOwner = (vs.metadata.managedFields ?? []).find((f) => f.fieldsV1?.['f:spec']?.['f:http'] !== undefined);
  expect([httpOwner?.manager, httpOwner?.operation]).toEqual(['ramp', 'Update']);

  // In history: the 60 % step failed with SyncTimeout, then the rollback's route restore ran; the
  // emergency write (managedFields time, whole seconds) is not older than that failure.
  const calls = activityCalls((await handle.fetchHistory()).events ?? []);
  const failed = calls.find((c) => c.name === 'trafficSetWeight' && c.outcome === 'failed');
  expect(failed?.failure).toMatch(/is not live after 20 s: .*Kustomization .*web applied/);
  const restore = calls.find((c) => c.name === 'trafficUndo' && c.eventId > failed!.eventId);
  expect(restore?.summary).toMatch(/^rollback: /);
  expect(Date.parse(httpOwner!.time!)).toBeGreaterThanOrEqual(Math.floor(failed!.endedAt! / 1000) * 1000);

  // The repository's VirtualService is restored by a commit, while the agent is still suspended.
  await eventually('VirtualService file restored', async () => ((await fileAt(app.repo, FILES.virtualService)) === app.original[FILES.virtualService] ? true : undefined), 60_000);
  expect((await rampTrailers(app.repo)).map((c) => c.action)).toContain('cleanup-route');
  expect((await waitForPhase(handle, 'RollingBack', 5_000)).phase).toBe('RollingBack');

  await patchFluxObject(kc, KUSTOMIZE, app.ns, 'web', { spec: { suspend: false } });
  const result = await awaitResult(handle);
  expect(result.outcome === 'RolledBack' ? result.outcome : `${result.outcome}: ${result.reason}`).toBe('RolledBack');

  // Finished: every file as before, the canary's file gone, the cluster equal to the repository.
  const actions = (await rampTrailers(app.repo)).map((c) => c.action);
  expect(actions.slice(actions.lastIndexOf('setWeight') + 1)).toEqual(['cleanup-route', 'cleanup-subset', 'cleanup-canary']);
  for (const [file, text] of Object.entries(app.original)) expect(await fileAt(app.repo, file)).toBe(text);
  expect(await fileAt(app.repo, CANARY_FILE)).toBeUndefined();
  await waitForAppliedRevision(kc, app.ns, 'web', gitRevision(app.repo.branch, await branchHead(app.repo)), 60_000);
  for (const [file, plural] of [[FILES.virtualService, 'virtualservices'], [FILES.destinationRule, 'destinationrules']] as const) {
    expect((await liveObject(app.ns, plural)).spec).toEqual((YAML.parse(app.original[file]!) as { spec: unknown }).spec);
  }
  await eventually('canary Deployment pruned', async () => (await apps.listNamespacedDeployment({ namespace: app.ns })).items.map((d) => d.metadata?.name).join() === 'web' ? true : undefined, 60_000);
}, 600_000);
