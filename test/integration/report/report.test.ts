/**
 * `ramp report` on real rollouts of the local stack, opened in a real browser: the demo service's
 * two versions behind the MuShop storefront, real traffic and Prometheus, a sequential judge's
 * analysis step and an approval. One rollout is approved and promoted (and continues as new
 * several times on the way, so the report follows its runs); the other is aborted at its approval
 * with a reason that carries markup. Each report is opened in headless Chromium with every
 * request but the file itself refused, and its rendered page is checked: charts with a point per
 * look, a row per step of the spec, the outcome, who approved or aborted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { CliContext } from '../../../src/client/cli/context';
import { report } from '../../../src/client/cli/commands/report';
import { startRollout } from '../../../src/client/rollouts';
import { validateRollout } from '../../../src/domain/spec/parse';
import { abortUpdate, approveUpdate } from '../../../src/shared/messages';
import { startMushopTraffic, type MushopTraffic } from '../../../scripts/traffic/main';
import { createMushop, type Mushop } from '../../support/mushop';
import { adminKubeConfig, stackInfo } from '../../support/stack';
import { awaitResult } from '../../support/results';
import { startTestWorker, waitForPhase, type TestWorker } from '../../support/worker';

const kc = adminKubeConfig();
const info = stackInfo();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-report-'));
let w: TestWorker;
let browser: Browser;
const opened: { shop: Mushop; traffic: MushopTraffic }[] = [];

beforeAll(async () => {
  w = await startTestWorker();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close();
  await Promise.all(opened.map(async ({ shop, traffic }) => {
    await traffic.stop();
    await shop.cleanup();
  }));
  await w?.close();
});

/** A storefront with 50 requests/s split by the VirtualService's weights; canary and stable alike. */
async function storefront(seed: number) {
  const shop = await createMushop(kc, { mode: 'subset' });
  const traffic = await startMushopTraffic({
    namespace: shop.namespace, rps: 50, seed, kubeconfig: info.kubernetes.kubeconfig, targetsDir: info.prometheus.targetsDir,
    stable: { errorRate: 0.002, latencyMs: { median: 20, p99: 80 } }, canary: { errorRate: 0.002, latencyMs: { median: 20, p99: 80 } },
    maxDurationMs: 10 * 60_000,
  });
  opened.push({ shop, traffic });
  return shop;
}

// Six looks of 5 s after the reference one: about 300 canary requests at 20 %, over the judge's
// minimum of 100; `atEnd: pass` promotes what was not shown to regress.
const STEPS = [
  { setWeight: 20 },
  { analysis: { interval: '5s', count: 6, judge: { sequential: { atEnd: 'pass' } } } },
  { approval: { timeout: '5m', onTimeout: 'abort' } },
  { setWeight: 100 },
];

function context(printed: string[]): CliContext {
  return {
    client: w.client, temporalNamespace: info.temporal.namespace, address: info.temporal.address, taskQueue: w.taskQueue, uiUrl: info.temporal.uiUrl,
    out: { json: false, tty: false, print: (t) => printed.push(t), error: (t) => printed.push(t) },
    close: () => Promise.resolve(),
  };
}

/** Opens a report with the network refused; returns the page and every request other than the file. */
async function open(file: string) {
  const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
  const requests: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file://')) return route.continue();
    requests.push(url);
    return route.abort();
  });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  return { page, requests };
}

it('a promoted rollout that continued as new: one report of all its runs, with its looks, steps and approver', async () => {
  const shop = await storefront(41);
  const rollout = validateRollout(shop.rolloutRaw(STEPS, { rollback: { scaleDownDelay: '1s' } }));
  // A low history limit makes the rollout hand over to a new run every few looks.
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue, historyLimit: 40, startedBy: 'report test' });
  await waitForPhase(handle, 'AwaitingApproval', 150_000);
  await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('Promoted');

  const printed: string[] = [];
  const file = path.join(tmp, 'promoted.html');
  expect(await report(context(printed), 'storefront', shop.namespace, { outFile: file })).toBe(0);
  expect(printed).toEqual([expect.stringMatching(new RegExp(`^wrote the report of rollout/${shop.namespace}/storefront-original \\(Promoted; 4 steps, 7 analysis looks\\) to ${file.replace(/[.]/g, '\\.')}$`))]);

  const { page, requests } = await open(file);
  expect(await page.locator('#outcome').textContent()).toBe('Promoted');
  expect(await page.locator('#reason').textContent()).toBe(result.reason);
  expect(await page.locator('table.facts').textContent()).toMatch(/runs \(continued as new\)/);
  // The looks were recomputed across the runs and end on the verdict the rollout recorded.
  expect(await page.locator('ul.notes li').count()).toBe(0);
  expect(await page.locator('tr[data-step]').count()).toBe(rollout.spec.steps.length);
  expect(await page.locator('tr[data-step="2"] td').last().textContent()).toBe('approved by alice');
  expect(await page.locator('figure[data-chart="timeline"] circle.pt').count()).toBeGreaterThanOrEqual(3);
  expect(await page.locator('tr[data-look]').count()).toBe(7);
  // Every look after the reference one counted canary requests: one point each, canary and baseline.
  expect(await page.locator('figure[data-chart="analysis-0-errors-share"] circle.pt[data-series="canary"]').count()).toBe(6);
  expect(await page.locator('figure[data-chart="analysis-0-errors-share"] circle.pt[data-series="baseline"]').count()).toBe(6);
  expect(await page.locator('figure[data-chart="analysis-0-evalues"] circle.pt').count()).toBeGreaterThanOrEqual(14);
  expect(await page.locator('figure[data-chart="analysis-0-evalues"] [data-hline^="roll back at e ≥ 20"]').count()).toBe(1);
  expect(await page.locator('figure[data-chart="analysis-0-latency-ratio"] [data-hline="no worse than 1 + δ = 1.5"]').count()).toBe(1);
  const approve = page.locator('table.actions tr[data-event="approve"]');
  expect(await approve.count()).toBe(1);
  expect(await approve.locator('td').nth(1).textContent()).toBe('alice');
  // The charts are drawn, not only present: the SVG has a size on the page.
  const box = await page.locator('figure[data-chart="analysis-0-errors-share"] svg').boundingBox();
  expect(box?.width).toBeGreaterThan(500);
  await page.screenshot({ path: path.join(tmp, 'promoted.png'), fullPage: true });
  expect(fs.statSync(path.join(tmp, 'promoted.png')).size).toBeGreaterThan(20_000);
  expect(requests).toEqual([]);
  await page.close();
}, 300_000);

it('an aborted rollout: the reason is shown as text, never run; who aborted and the steps not reached', async () => {
  const shop = await storefront(42);
  const rollout = validateRollout(shop.rolloutRaw(STEPS, { rollback: { scaleDownDelay: '1s' } }));
  const handle = await startRollout(w.client, rollout, { taskQueue: w.taskQueue });
  await waitForPhase(handle, 'AwaitingApproval', 150_000);
  const reason = 'p99 up <script>window.ran = true</script>';
  await handle.executeUpdate(abortUpdate, { args: [{ by: 'bob', reason }] });
  const result = await awaitResult(handle);
  expect(result.outcome).toBe('RolledBack');

  const file = path.join(tmp, 'aborted.html');
  expect(await report(context([]), `${shop.namespace}/storefront`, undefined, { outFile: file })).toBe(0);
  const { page, requests } = await open(file);
  expect(await page.locator('#outcome').textContent()).toBe('RolledBack');
  expect(await page.locator('#reason').textContent()).toBe(`aborted by bob: ${reason}`);
  // Evaluated in the page (the test's own TypeScript has no DOM types, so the code is a string).
  expect(await page.evaluate('({ scripts: document.querySelectorAll("script").length, ran: window.ran === true })')).toEqual({ scripts: 0, ran: false });
  expect(await page.locator('tr[data-step]').count()).toBe(rollout.spec.steps.length);
  expect(await page.locator('tr[data-step] td:last-child').allTextContents()).toEqual([
    'weight set: canary 20%', 'analysis Successful', 'aborted by bob', 'not reached: aborted by bob',
  ]);
  const abort = page.locator('table.actions tr[data-event="abort"] td');
  expect(await abort.allTextContents()).toEqual([expect.any(String), 'bob', 'abort', 'update', reason]);
  // The weight went back to 0 when the routes were undone.
  const weights = await page.locator('figure[data-chart="timeline"] circle.pt title').allTextContents();
  expect(weights.map((t) => t.replace(/^.*: /, ''))).toEqual(['canary 0%', 'canary 20%', 'canary 0%']);
  await page.screenshot({ path: path.join(tmp, 'aborted.png'), fullPage: true });
  expect(requests).toEqual([]);
  await page.close();
}, 300_000);
