/**
 * The `ramp` CLI run as a subprocess, exactly as a CI pipeline runs it, against the real stack:
 * exit codes for promoted, rolled back, refused, invalid input and Temporal unreachable; approve
 * from a second process while `start --wait` waits; JSON output of the read commands; the live
 * preflight of `validate --cluster` / `start --dry-run`; Temporal setup mistakes classified (exit 2
 * with the fix); `list` with step and weight; `undo` and `retry` starting rollouts from the history.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import YAML from 'yaml';
import { createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually, stackInfo } from '../../support/stack';
import { startTestWorker, TestWorker } from '../../support/worker';
import { ramp as rampIn, ROOT, Run } from './ramp';

const info = stackInfo();
const kc = adminKubeConfig();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-cli-'));
let w: TestWorker;
let shop: Mushop;

function ramp(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return rampIn(args, w.taskQueue, env);
}

function specFile(name: string, steps: unknown[], extra: Record<string, unknown> = {}): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify(shop.rolloutRaw(steps, extra)));
  return file;
}

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  shop = await createMushop(kc, { mode: 'subset' });
});
afterEach(async () => {
  await shop?.cleanup();
});

it('start --wait exits 0 when promoted, one plain line per event in CI logs', async () => {
  const r = await ramp(['start', '-f', specFile('ok', [{ setWeight: 20 }, { setWeight: 100 }]), '--image', 'storefront:v2', '--wait', '--timeout', '2m']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // The UI link follows the stack's ports (RAMP_PORT_* may move them).
  const ui = info.temporal.uiUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  expect(r.stdout).toMatch(new RegExp(`^started rollout/mushop-.*/storefront-original\n {2}${ui}/namespaces/${info.temporal.namespace}/workflows/rollout%2F`));
  expect(r.stdout).toMatch(/✔ set weight: canary 20%\n.*✔ set weight: canary 100%/s);
  expect(r.stdout).toMatch(/✔ Promoted: promoted storefront:v2 to storefront-original/);
  expect(r.stdout).not.toContain('\u001b['); // no terminal redraws in a log
});

it('start --wait exits 1 when rolled back, with the reason', async () => {
  const r = await ramp(['start', '-f', specFile('bad', [{ setWeight: 20 }], {
    canary: { image: 'storefront:bad', versionLabel: { key: 'version', stable: 'original', canary: 'beta' }, podTemplatePatch: { spec: { nodeSelector: { 'ramp.dev/none': 'x' } } } },
    progressDeadline: '3s',
  }), '--wait']);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/✘ RolledBack: Deployment .*storefront-original-canary: 0 of 1 updated replicas available; not ready within the progress deadline/);
});

it('invalid input exits 2 with every problem and no stack trace', async () => {
  const file = specFile('invalid', [{ setWeight: 120 }, { pause: { duration: 'soon' } }]);
  const r = await ramp(['start', '-f', file, '--wait']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('invalid Rollout spec (2 problems)');
  expect(r.stderr).toMatch(/spec\.steps\[0\]\.setWeight: must be between 0 and 100, got 120 \(line \d+, column \d+\)/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect((await ramp(['validate', '-f', file])).code).toBe(2);
  expect((await ramp(['status'])).code).toBe(2);
  expect((await ramp(['launch'])).code).toBe(2);
  const unknown = await ramp(['status', 'nope', '-n', 'nowhere']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toBe('ramp: no rollout named nowhere/nope (searched: (RampRollout = "nowhere/nope" OR RampTarget = "nowhere/nope")); see `ramp list -n nowhere`\n');
  expect((await ramp(['abort', 'x/y'])).stderr).toBe('ramp: abort needs --reason TEXT: say why, it is recorded in the rollout history\n');
});

it('Temporal unreachable exits 3 naming the setting', async () => {
  const r = await ramp(['start', '-f', specFile('unreach', [{ setWeight: 10 }]), '--wait'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/^ramp: cannot reach Temporal at 127\.0\.0\.1:1: .* set --address or TEMPORAL_ADDRESS/);
});

it('reads Temporal settings from an environment-config profile (TOML), as the temporal CLI does', async () => {
  const toml = path.join(tmp, 'temporal.toml');
  fs.writeFileSync(toml, [
    '[profile.local]', `address = "${info.temporal.address}"`, `namespace = "${info.temporal.namespace}"`, '',
    '[profile.broken]', 'address = "127.0.0.1:1"', '',
  ].join('\n'));
  const env = { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '' };
  const ok = await ramp(['list', '--profile', 'local', '--output', 'json'], env);
  expect(ok.code).toBe(0);
  expect(Array.isArray(JSON.parse(ok.stdout))).toBe(true);
  const broken = await ramp(['list', '--profile', 'broken'], env);
  expect(broken.code).toBe(3);
  expect(broken.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
  const missing = await ramp(['list', '--profile', 'nope'], env);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/Temporal configuration: .*nope/);
});

it('a pipeline waits while on-call approves from another process; read commands answer JSON', async () => {
  const file = specFile('approval', [{ setWeight: 10 }, { approval: {} }, { setWeight: 100 }]);
  const waiting = ramp(['start', '-f', file, '--wait']);
  const name = `${shop.namespace}/storefront`;
  const st = await eventually('AwaitingApproval via ramp status', async () => {
    const r = await ramp(['status', name, '--output', 'json']);
    if (r.code !== 0) return undefined;
    const s = JSON.parse(r.stdout) as { phase: string; weights: { canary: number }; workflowId: string };
    return s.phase === 'AwaitingApproval' ? s : undefined;
  }, 60_000, 500);
  expect(st.weights.canary).toBe(10);
  expect(st.workflowId).toBe(`rollout/${shop.namespace}/storefront-original`);

  const early = await ramp(['resume', name]);
  expect(early.code).toBe(2);
  expect(early.stderr).toMatch(/^ramp: resume refused: nothing to resume: the rollout .* is AwaitingApproval/);

  const approve = await ramp(['approve', name, '--by', 'oncall-alice']);
  expect(approve.code).toBe(0);
  expect(approve.stdout).toMatch(/^approve accepted for rollout\//);
  const done = await waiting;
  expect(done.code).toBe(0);
  expect(done.stdout).toMatch(/approve by oncall-alice\n/);

  const list = await ramp(['list', '-n', shop.namespace, '--output', 'json']);
  const rows = JSON.parse(list.stdout) as { rollout: string; outcome: string; phase: string }[];
  expect(rows[0]).toMatchObject({ rollout: name, outcome: 'Promoted', phase: 'Succeeded', step: { index: 3, count: 3 }, weights: { stable: 0, canary: 100 } });
  const table = (await ramp(['list', '-n', shop.namespace])).stdout.split('\n');
  expect(table[0]).toMatch(/^ROLLOUT +TARGET +PHASE +STEP +WEIGHT +OUTCOME +IMAGE +STARTED$/);
  expect(table[1]).toMatch(new RegExp(`^${name} +${shop.namespace}/storefront-original +Succeeded +3/3 +100% +Promoted `));

  const hist = await ramp(['history', name, '--output', 'json']);
  expect(JSON.parse(hist.stdout)[0]).toMatchObject({ outcome: 'Promoted', approvedBy: ['oncall-alice'], startedBy: expect.any(String) });

  const story = await ramp(['story', name]);
  expect(story.code).toBe(0);
  expect(story.stdout).toMatch(/rollout .*\/storefront started by/);
  expect(story.stdout).toMatch(/✔ set weight: canary 10%/);
  expect(story.stdout).toMatch(/approve by oncall-alice/);
  expect(story.stdout).toMatch(/Promoted: promoted/);
});

it('validate --cluster and start --dry-run: the live preflight, every problem at once or the plan, and nothing started', async () => {
  // Relative to where the user ran npm (INIT_CWD), not the package root the CLI runs in.
  const fromUser = { INIT_CWD: tmp, npm_package_json: path.join(ROOT, 'package.json') };
  specFile('dry', [{ setWeight: 10 }, { setWeight: 100 }]);
  const ok = await ramp(['validate', '-f', 'dry.yaml', '--cluster'], fromUser);
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain(`dry.yaml: Rollout ${shop.namespace}/storefront can go ahead on ${kc.getCurrentCluster()!.server}`);
  expect(ok.stdout).toMatch(new RegExp([
    `1\\. create Deployment ${shop.namespace}/storefront-original-canary: image iad\\.ocir\\.io/mushop/storefront:beta \\(container storefront\\), version=beta, 1 replica`,
    `2\\. once the canary is Available: set subsets stable \\(version=original\\) and canary \\(version=beta\\) in DestinationRule ${shop.namespace}/storefront`,
    `3\\. once the canary is Available: add the canary at 0 % to route\\(s\\) primary of VirtualService ${shop.namespace}/storefront`,
    '4\\. the steps: 1\\) set canary weight to 10%, 2\\) set canary weight to 100%',
    `5\\. at promotion: roll Deployment ${shop.namespace}/storefront-original to the canary's pod template`,
  ].join('.*\n.*')));
  const dry = await ramp(['start', '-f', 'dry.yaml', '--dry-run', '--output', 'json'], fromUser);
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.stdout)).toMatchObject({ ok: true, plan: { canary: { name: 'storefront-original-canary', replicas: 1, versionLabel: { key: 'version', value: 'beta' } }, weights: { stable: 100, canary: 0 } } });

  const bad = specFile('dry-bad', [{ setWeight: 10 }], {
    target: { deployment: 'storefront-original', service: 'nosuch' },
    traffic: { provider: 'istio', virtualService: { name: 'novs', routes: ['primary'] }, routing: { mode: 'subset', destinationRule: 'nodr' } },
  });
  const problems = await ramp(['start', '-f', bad, '--dry-run']);
  expect(problems.code).toBe(2);
  // (A DestinationRule that does not exist is created for the rollout when no other covers the host.)
  expect(problems.stdout).toMatch(/cannot start on .*: 2 problems\n/);
  for (const p of ['Service .*/nosuch not found', 'VirtualService .*/novs not found']) expect(problems.stdout).toMatch(new RegExp(`\n {2}- ${p}; create it`));
  const problemsJson = await ramp(['validate', '-f', bad, '--cluster', '--output', 'json']);
  expect(problemsJson.code).toBe(2);
  expect((JSON.parse(problemsJson.stdout) as { ok: boolean; problems: string[] }).problems).toHaveLength(2);

  const refusedServer = path.join(tmp, 'refused.kubeconfig');
  fs.writeFileSync(refusedServer, fs.readFileSync(info.kubernetes.kubeconfig, 'utf8').replace(/server: .*/, 'server: https://127.0.0.1:1'));
  const unreachable = await ramp(['validate', '-f', bad, '--cluster', '--kubeconfig', refusedServer]);
  expect(unreachable.code).toBe(3);
  expect(unreachable.stderr).toMatch(/^ramp: cannot check the rollout on https:\/\/127\.0\.0\.1:1 .*ECONNREFUSED/);

  // No workflow was started, and nothing was created.
  expect((await ramp(['status', `${shop.namespace}/storefront`])).code).toBe(2);
  await expect(kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: 'storefront-original-canary', namespace: shop.namespace })).rejects.toThrow();
});

it('a refused start is not a rollback: exit 2 with every problem; status, list, history and story say Refused', async () => {
  const file = specFile('refused', [{ setWeight: 10 }], { target: { deployment: 'storefront-original', service: 'nosuch' } });
  const r = await ramp(['start', '-f', file, '--wait']);
  expect(r.code).toBe(2);
  // The Service, and the traffic objects' host (spec.traffic.host defaults to the Service's name).
  expect(r.stdout).toMatch(/✘ Refused: nothing was changed — the preflight found 3 problem\(s\):\n {2}- Service .*\/nosuch not found; create it, or set spec\.target\.service to an existing Service\n {2}- VirtualService .*\n {2}- DestinationRule .*\n/);
  expect(r.stdout).not.toMatch(/RolledBack|rolled back/);

  const name = `${shop.namespace}/storefront`;
  const st = await ramp(['status', name]);
  expect(st.code).toBe(0);
  expect(st.stdout).toMatch(/Phase {6}Refused for \d+s {3}outcome Refused/);
  expect(st.stdout).toMatch(/\n {2}- Service .*\/nosuch not found/);
  const list = JSON.parse((await ramp(['list', '-n', shop.namespace, '--output', 'json'])).stdout) as { outcome: string; phase: string }[];
  expect(list[0]).toMatchObject({ outcome: 'Refused', phase: 'Refused' });
  const hist = await ramp(['history', name]);
  expect(hist.stdout).toMatch(/Refused .* — refused before any change:\n {4}problem: Service .*\/nosuch not found/);
  const story = await ramp(['story', name]);
  expect(story.stdout).toMatch(/Refused: nothing was changed; the preflight found 3 problem\(s\)\n.* {2}- Service .*\/nosuch not found/);
});

it('a Temporal namespace that does not exist, or lacks Ramp\'s search attributes, is exit 2 with the fix', async () => {
  const missing = await ramp(['list', '--temporal-namespace', 'ramp-no-such-namespace']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toBe(`ramp: Temporal namespace ramp-no-such-namespace does not exist at ${info.temporal.address}: set --temporal-namespace or TEMPORAL_NAMESPACE `
    + 'to the namespace Ramp\'s worker uses (temporal operator namespace list shows them)\n');

  // A namespace without Ramp's search attributes (registered once; namespaces outlive tests).
  const bare = 'ramp-cli-no-search-attributes';
  const connection = await Connection.connect({ address: info.temporal.address });
  try {
    await connection.workflowService.registerNamespace({ namespace: bare, workflowExecutionRetentionPeriod: msToTs('1 day') }).catch((err: Error) => {
      if (!/already exists/i.test(err.message)) throw err;
    });
  } finally {
    await connection.close();
  }
  const noSa = await eventually('the new namespace to be served', async () => {
    // --phase puts a Ramp search attribute in the query.
    const r = await ramp(['list', '--phase', 'Paused', '--temporal-namespace', bare]);
    return /does not exist/.test(r.stderr) ? undefined : r;
  }, 60_000, 1000);
  expect(noSa.code).toBe(2);
  expect(noSa.stderr).toMatch(new RegExp(`^ramp: Ramp's search attributes are not registered in Temporal namespace ${bare} \\(RampPhase is missing\\): register them once with .*temporal operator search-attribute create --namespace ${bare}`));
  const start = await ramp(['start', '-f', specFile('no-sa', [{ setWeight: 100 }]), '--temporal-namespace', bare]);
  expect(start.code).toBe(2);
  expect(start.stderr).toMatch(/search attributes are not registered .*\(Ramp\w+ is missing\)/);
});

it('undo goes back to the version before the last promotion; retry starts a failed rollout again, never a promoted one', async () => {
  const name = `${shop.namespace}/storefront`;
  const file = specFile('versions', [{ setWeight: 50 }, { setWeight: 100 }]);
  const stableImage = async () => (await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: 'storefront-original', namespace: shop.namespace })).spec?.template.spec?.containers[0]?.image;

  expect((await ramp(['start', '-f', file, '--image', 'storefront:v2', '--wait'])).code).toBe(0);
  const only = await ramp(['undo', name]);
  expect(only.code).toBe(2);
  expect(only.stderr).toMatch(/^ramp: the version before storefront:v2 \(promoted by run \S+ \(Promoted, started .*\)\) is not recorded: /);
  const promotedRetry = await ramp(['retry', name]);
  expect(promotedRetry.code).toBe(2);
  expect(promotedRetry.stderr).toMatch(/promoted in its last run .*: nothing to retry; ramp undo /);

  expect((await ramp(['start', '-f', file, '--image', 'storefront:v3', '--wait'])).code).toBe(0);
  expect(await stableImage()).toBe('storefront:v3');
  const undone = await ramp(['undo', name, '--wait', '--timeout', '2m', '--by', 'oncall-bob']);
  expect(undone.stderr).toBe('');
  expect(undone.code).toBe(0);
  expect(undone.stdout).toMatch(/^undo: from storefront:v3 \(run \S+ \(Promoted, .*\)\) back to storefront:v2, with the spec of run /);
  expect(undone.stdout).toMatch(/✔ Promoted: promoted storefront:v2 to storefront-original/);
  expect(await stableImage()).toBe('storefront:v2');

  // A refused rollout (its Service is missing), retried: the same spec, refused again (exit 2), a new run.
  const refused = specFile('refused-retry', [{ setWeight: 10 }], { target: { deployment: 'storefront-original', service: 'nosuch' } });
  expect((await ramp(['start', '-f', refused, '--wait'])).code).toBe(2);
  const retried = await ramp(['retry', name, '--wait', '--by', 'oncall-carol']);
  expect(retried.code).toBe(2);
  expect(retried.stdout).toMatch(/^retry: rollout\/.*\/storefront-original again with the spec of run \S+ \(Refused, /);
  expect(retried.stdout).toMatch(/✘ Refused: nothing was changed/);
  const runs = JSON.parse((await ramp(['history', name, '--output', 'json'])).stdout) as { outcome: string; startedBy?: string; image?: string }[];
  expect(runs.map((r) => r.outcome)).toEqual(['Refused', 'Refused', 'Promoted', 'Promoted', 'Promoted']);
  expect(runs[0]!.startedBy).toBe('oncall-carol');
  expect(runs[2]).toMatchObject({ startedBy: 'oncall-bob', image: 'storefront:v2' });
});
