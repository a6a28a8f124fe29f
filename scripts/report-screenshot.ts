/**
 * Makes docs/images/report.png: the report of a rollout (`ramp report`), rendered in headless
 * Chromium (Debian's `chromium`) with the network refused, and the top of the page captured.
 *
 *   npx tsx scripts/report-screenshot.ts --workflow rollout/mushop/storefront-original   # from the local stack (after `npm run demo`)
 *   npx tsx scripts/report-screenshot.ts --history saved.json                            # from a saved history (`temporal workflow show --output json`)
 *
 * Options: `--run ID` (a past rollout of that target; default the latest), `-o FILE` (default docs/images/report.png), `--html FILE` to keep the page too,
 * `--height PX` (default 1700: the outcome, the timeline, the steps and the first analysis charts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { chromium } from 'playwright-core';
import { rolloutRuns } from '../src/client/cli/commands/report';
import { connectRampClient, loadClientSettings, workflowUiUrl } from '../src/client/connect';
import type { HistoryEvent } from '../src/client/history';
import { collectReport } from '../src/client/report/collect';
import { reportHtml } from '../src/client/report/html';
import { loadStackConfig } from './stack/config';
import { readStackInfo } from './stack/info';

const ROOT = path.resolve(__dirname, '..');

async function histories(workflow: string | undefined, runId: string | undefined, history: string | undefined): Promise<{ runs: HistoryEvent[][]; ui?: string }> {
  if (history) return { runs: [historyFromJSON(JSON.parse(fs.readFileSync(history, 'utf8'))).events ?? []] };
  if (!workflow) throw new Error('give --workflow ID (read from the local stack) or --history FILE (a saved history)');
  const info = readStackInfo(loadStackConfig());
  const ramp = await connectRampClient(loadClientSettings({ TEMPORAL_ADDRESS: info.temporal.address, TEMPORAL_NAMESPACE: info.temporal.namespace }));
  try {
    const runs = await rolloutRuns(ramp.client, workflow, runId);
    return { runs, ui: workflowUiUrl(info.temporal.uiUrl, info.temporal.namespace, workflow) };
  } finally {
    await ramp.close();
  }
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: { workflow: { type: 'string' }, run: { type: 'string' }, history: { type: 'string' }, out: { type: 'string', short: 'o' }, html: { type: 'string' }, height: { type: 'string' } },
  });
  const { runs, ui } = await histories(v.workflow, v.run, v.history);
  const data = collectReport(runs);
  const html = reportHtml(data, { ...(ui ? { temporalUiUrl: ui } : {}) });
  const page = v.html ? path.resolve(v.html) : path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-report-')), 'report.html');
  fs.writeFileSync(page, html);
  const out = path.resolve(v.out ?? path.join(ROOT, 'docs/images/report.png'));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const tab = await browser.newPage({ viewport: { width: 900, height: 900 } });
    // The page must not need the network; refuse it, so a screenshot can only show what the file holds.
    await tab.route('**/*', (route) => (route.request().url().startsWith('file://') ? route.continue() : route.abort()));
    await tab.goto(`file://${page}`);
    const height = Number(v.height ?? 1700);
    const full = await tab.evaluate<number>('document.documentElement.scrollHeight');
    await tab.screenshot({ path: out, fullPage: true, clip: { x: 0, y: 0, width: 900, height: Math.min(height, full) } });
  } finally {
    await browser.close();
  }
  console.log(`report of ${data.workflowId} (${data.outcome ?? 'running'}; ${html.length} bytes of HTML at ${page}) → ${out}`);
}

main().catch((err: unknown) => {
  console.error(`report-screenshot: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
