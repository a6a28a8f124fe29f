/**
 * `npm run demo` — the README's main job: brings the local stack up, creates the MuShop
 * storefront objects (stable Deployment, Service, VirtualService with /api and /assets routes,
 * DestinationRule), starts the demo service (v1 stable, v2 canary) with traffic split by the
 * VirtualService's weights and Istio-named metrics scraped by Prometheus, starts a Ramp worker,
 * and runs examples/mushop/rollout.yaml: original → beta, 10 → pause → analysis → 50 → approval
 * → 100. The demo plays the person on call and approves after a few seconds, and at the end writes
 * the rollout's report (`ramp report`) next to the stack's state.
 * `npm run demo -- --bad` makes the canary answer 20 % of requests with 5xx: the analysis fails
 * and the rollout rolls back.
 * `npm run demo -- --gitops` keeps the storefront in a repository on the stack's git server that
 * Flux applies, and runs the rollout in git mode: every step is a commit (scripts/demo/gitops.ts).
 * The stack stays up afterwards so the history can be read in the Temporal UI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { rolloutRuns, writeAtomically } from '../src/client/cli/commands/report';
import { judgeEvidenceLines } from '../src/client/cli/render';
import { connectRampClient, loadClientSettings, workflowUiUrl } from '../src/client/connect';
import { rolloutResult, startRollout } from '../src/client/rollouts';
import { collectReport } from '../src/client/report/collect';
import { reportHtml } from '../src/client/report/html';
import { parseRollout } from '../src/domain/spec/parse';
import type { RolloutStatus } from '../src/domain/rollout/state';
import { approveUpdate, statusQuery } from '../src/shared/messages';
import { loadWorkerConfig } from '../src/worker/config';
import { createRampWorker } from '../src/worker/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { gitopsDemo } from './demo/gitops';
import { createMushop } from './demo/mushop';
import { formatStats, startMushopTraffic } from './traffic/main';
import { loadStackConfig } from './stack/config';
import { formatInfo, stackUp } from './stack/stack';

const NAMESPACE = 'mushop';
const bad = process.argv.includes('--bad');
const gitops = process.argv.includes('--gitops');

function bar(canary: number): string {
  const n = Math.round(canary / 5);
  return `[${'#'.repeat(n)}${'.'.repeat(20 - n)}] canary ${String(canary).padStart(3)}%`;
}

function line(s: RolloutStatus): string {
  return `${s.phase.padEnd(16)} step ${Math.min(s.step.index + 1, s.step.count)}/${s.step.count}  ${bar(s.weights.canary)}  ${s.message}`;
}

async function resetNamespace(kc: k8s.KubeConfig): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  try {
    await core.deleteNamespace({ name: NAMESPACE });
  } catch (err) {
    if (!(err instanceof k8s.ApiException && err.code === 404)) throw err;
    return;
  }
  for (;;) {
    try {
      await core.readNamespace({ name: NAMESPACE });
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const { info } = await stackUp();
  console.log('\nLocal stack is up:\n' + formatInfo(info) + '\n');

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.kubernetes.kubeconfig);
  await resetNamespace(kc);
  const inGit = gitops ? await gitopsDemo(kc, info, NAMESPACE) : undefined;
  if (!inGit) {
    await createMushop(kc, { mode: 'subset', namespace: NAMESPACE });
    console.log(`Created the MuShop storefront in namespace ${NAMESPACE}: Deployment storefront-original (version: original), Service storefront,`);
    console.log('VirtualService storefront (routes api, assets, primary) and DestinationRule storefront (subset stable).\n');
  }

  const specFile = path.resolve(__dirname, '../examples/mushop/rollout.yaml');
  const rollout = inGit ? inGit.rollout() : parseRollout(fs.readFileSync(specFile, 'utf8'), { source: specFile });
  const traffic = await startMushopTraffic({
    namespace: NAMESPACE,
    rps: 40,
    kubeconfig: info.kubernetes.kubeconfig,
    targetsDir: info.prometheus.targetsDir,
    canary: bad ? { errorRate: 0.2 } : {},
  });
  console.log(`Traffic: 40 requests/s split by VirtualService storefront; v1 ${traffic.stable.url}, v2 ${traffic.canary.url}${bad ? ' (20 % 5xx)' : ''}; metrics ${traffic.generator.metricsUrl}\n`);

  const env = {
    TEMPORAL_ADDRESS: info.temporal.address,
    TEMPORAL_NAMESPACE: info.temporal.namespace,
    RAMP_TASK_QUEUE: 'ramp-demo',
    KUBECONFIG: info.kubernetes.kubeconfig,
    RAMP_PROMETHEUS_URL: info.prometheus.url,
  };
  // Activity failures are part of the story (the --bad run); the demo prints them itself.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const rampWorker = await createRampWorker(loadWorkerConfig(env));
  const ramp = await connectRampClient(loadClientSettings(env));
  const running = rampWorker.worker.run();
  try {
    const handle = await startRollout(ramp.client, rollout, { taskQueue: env.RAMP_TASK_QUEUE, startedBy: 'npm run demo' });
    console.log(`Started rollout ${handle.workflowId} (${rollout.spec.canary.image}${bad ? ', a canary answering 20 % of requests with 5xx' : ''})`);
    console.log(`  history: ${workflowUiUrl(info.temporal.uiUrl, info.temporal.namespace, handle.workflowId)}\n`);

    let last = '';
    let lastAnalysisAt: string | undefined;
    let approvalAskedAt: number | undefined;
    const result = rolloutResult(handle);
    let done = false;
    void result.finally(() => (done = true));
    while (!done) {
      const s = await handle.query(statusQuery);
      const l = line(s);
      if (l !== last) console.log(l);
      last = l;
      if (s.lastAnalysis && s.lastAnalysis.at !== lastAnalysisAt) {
        lastAnalysisAt = s.lastAnalysis.at;
        if (s.lastAnalysis.judge) {
          console.log(`  analysis ${s.lastAnalysis.phase}: ${s.lastAnalysis.reason}`);
          if (s.lastAnalysis.judge.evidence) for (const l of judgeEvidenceLines(s.lastAnalysis.judge.evidence).slice(0, 2)) console.log(`    ${l}`);
        } else {
          const evidence = s.lastAnalysis.measurements.map((m) => `${m.metric} ${m.value === undefined ? 'no data' : Number(m.value.toFixed(2))} ${m.phase}`).join(', ');
          console.log(`  analysis ${s.lastAnalysis.phase}: ${evidence}`);
        }
      }
      if (s.phase === 'AwaitingApproval') {
        approvalAskedAt ??= Date.now();
        if (Date.now() - approvalAskedAt > 3000) {
          console.log(`  (demo) approving, as someone on call would with:\n    temporal workflow update execute --workflow-id ${handle.workflowId} --name approve --input '{"by":"oncall"}'`);
          await handle.executeUpdate(approveUpdate, { args: [{ by: 'demo (on call)' }] });
          approvalAskedAt = Number.POSITIVE_INFINITY;
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const r = await result;
    console.log(line(r.status));
    console.log(`\n${r.outcome === 'Promoted' ? '✔' : '✘'} ${r.outcome}: ${r.reason}`);
    console.log(`\nRead why it did what it did: ${workflowUiUrl(info.temporal.uiUrl, info.temporal.namespace, handle.workflowId)}`);
    console.log(`or: temporal workflow show --workflow-id ${handle.workflowId} --address ${info.temporal.address}`);
    // The report is read from the history alone; written under the stack's state directory, out of the working tree.
    const reportFile = path.join(loadStackConfig().stateDir, 'report.html');
    const uiUrl = workflowUiUrl(info.temporal.uiUrl, info.temporal.namespace, handle.workflowId);
    writeAtomically(reportFile, reportHtml(collectReport(await rolloutRuns(ramp.client, handle.workflowId)), { temporalUiUrl: uiUrl, generatedAt: Date.now() }));
    console.log(`The rollout as one page (steps, weights, every analysis look, who approved): ${reportFile}`);
    console.log(`  made again with: npm run ramp -- report ${handle.workflowId} -o report.html`);
    if (inGit) for (const l of await inGit.summary()) console.log(l);
    console.log(`Cluster: KUBECONFIG=${info.kubernetes.kubeconfig}; stop the stack with: npm run stack -- down`);
    process.exitCode = r.outcome === 'Promoted' || bad ? 0 : 1;
    console.log(`Traffic seen: ${formatStats(traffic.generator.stats())}`);
  } finally {
    await traffic.stop();
    await ramp.close();
    rampWorker.worker.shutdown();
    await running;
    await rampWorker.connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
