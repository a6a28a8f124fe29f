/**
 * `npx tsx scripts/ui-screenshot.ts [out.png]`: the picture of the Temporal UI's workflow list in
 * docs/cli.md. Against the running local stack (`npm run stack -- up`), it runs four rollouts in
 * fresh namespaces — promoted, rolled back by an approval that timed out, aborted, refused by the
 * preflight — with a worker in this process, then opens the list in headless Chromium (Debian's
 * `chromium`) with the columns docs/cli.md tells on-call to add, and saves a screenshot
 * (docs/images/temporal-ui-list.png by default). Exits 1 if a row's status is not the one its
 * outcome should give it.
 */
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { chromium } from 'playwright-core';
import { connectRampClient, loadClientSettings } from '../src/client/connect';
import { rolloutResult, startRollout } from '../src/client/rollouts';
import { validateRollout } from '../src/domain/spec/parse';
import { abortUpdate, statusQuery } from '../src/shared/messages';
import { loadWorkerConfig } from '../src/worker/config';
import { createRampWorker } from '../src/worker/worker';
import { createMushop, type Mushop } from './demo/mushop';
import { REPO_ROOT, loadStackConfig } from './stack/config';
import { readStackInfo } from './stack/info';

const OUT = path.resolve(process.argv[2] ?? path.join(REPO_ROOT, 'docs/images/temporal-ui-list.png'));
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** The list's columns as docs/cli.md suggests them: Ramp's search attributes next to Temporal's own. */
const COLUMNS = ['Status', 'RampTarget', 'RampOutcome', 'RampPhase', 'RampImage', 'End'];

/** What each scenario's workflow should show in the list: the outcome fails it unless promoted. */
const EXPECTED: Record<string, string> = { promoted: 'Completed', 'rolled-back': 'Failed', aborted: 'Failed', refused: 'Failed' };

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const info = readStackInfo(loadStackConfig());
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.kubernetes.kubeconfig);
  const stamp = Date.now().toString(36);
  const taskQueue = `ui-screenshot-${stamp}`;
  const env = {
    TEMPORAL_ADDRESS: info.temporal.address, TEMPORAL_NAMESPACE: info.temporal.namespace, RAMP_TASK_QUEUE: taskQueue,
    KUBECONFIG: info.kubernetes.kubeconfig, RAMP_PROMETHEUS_URL: info.prometheus.url,
    RAMP_HTTP_ADDRESS: '127.0.0.1:0', RAMP_SDK_METRICS_ADDRESS: '127.0.0.1:0',
  };
  // The rollouts that fail are meant to: the worker's warning for each failed workflow is noise here.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const worker = await createRampWorker(loadWorkerConfig(env));
  const running = worker.worker.run();
  const ramp = await connectRampClient(loadClientSettings(env));
  const shops: Mushop[] = [];
  try {
    const shop = async (name: string) => {
      const s = await createMushop(kc, { mode: 'subset', namespace: `shop-${stamp}-${name}` });
      shops.push(s);
      return s;
    };
    const start = (s: Mushop, steps: unknown[], extra: Record<string, unknown> = {}) =>
      startRollout(ramp.client, validateRollout(s.rolloutRaw(steps, { rollback: { scaleDownDelay: '0s' }, ...extra })), { taskQueue, startedBy: 'scripts/ui-screenshot.ts' });

    const promoted = await start(await shop('promoted'), [{ setWeight: 20 }, { setWeight: 100 }]);
    const rolledBack = await start(await shop('rolled-back'), [{ setWeight: 20 }, { approval: { timeout: '2s', onTimeout: 'abort' } }]);
    const aborted = await start(await shop('aborted'), [{ setWeight: 20 }, { pause: {} }]);
    const refused = await start(await shop('refused'), [{ setWeight: 20 }], {
      target: { deployment: 'storefront-original', service: 'no-such-service' },
    });
    await until('the aborted rollout to pause', async () => ((await aborted.query(statusQuery)).phase === 'Paused' ? true : undefined));
    await aborted.executeUpdate(abortUpdate, { args: [{ by: 'oncall', reason: 'p99 latency up' }] });
    const handles = { promoted, 'rolled-back': rolledBack, aborted, refused };
    for (const [name, h] of Object.entries(handles)) {
      const r = await rolloutResult(h);
      const d = await h.describe();
      console.log(`${name.padEnd(12)} ${d.status.name.padEnd(10)} ${r.outcome}: ${r.reason.slice(0, 100)}`);
    }

    // Only this script's rollouts: the stack's Temporal keeps every test's too.
    const query = `WorkflowType = "rolloutWorkflow" AND RampNamespace STARTS_WITH "shop-${stamp}-"`;
    const url = `${info.temporal.uiUrl}/namespaces/${info.temporal.namespace}/workflows?query=${encodeURIComponent(query)}`;
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      const context = await browser.newContext({ viewport: { width: 1680, height: 520 }, deviceScaleFactor: 1 });
      // The UI keeps its column choice per namespace in local storage: set it as a person would in "Configure columns".
      const columns = { [info.temporal.namespace]: COLUMNS.map((label) => ({ label })) };
      await context.addInitScript({ content: `localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(JSON.stringify(columns))});` });
      const page = await context.newPage();
      await page.goto(url);
      const rows = page.locator('tbody tr');
      await until('the four rollouts in the list', async () => ((await rows.count()) === 4 ? true : undefined), 30_000);
      await page.getByText('RampOutcome', { exact: true }).first().waitFor();
      await page.waitForLoadState('networkidle');
      const seen = await rows.allInnerTexts();
      const wrong = Object.entries(EXPECTED).filter(([name, status]) => !seen.some((t) => t.includes(`shop-${stamp}-${name}/`) && t.toLowerCase().includes(status.toLowerCase())));
      await page.screenshot({ path: OUT });
      console.log(`saved ${path.relative(process.cwd(), OUT)} (${url})`);
      if (wrong.length > 0) {
        console.error(`rows without the expected status: ${wrong.map(([n, s]) => `${n} should be ${s}`).join('; ')}`);
        process.exitCode = 1;
      }
    } finally {
      await browser.close();
    }
  } finally {
    for (const s of shops) await s.cleanup();
    await ramp.close();
    worker.worker.shutdown();
    await running;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exitCode = 1;
});
