/**
 * The live view in a real terminal: the `ramp` CLI runs in tmux at 80 and at 200 columns,
 * following real rollouts on the local stack, and the test reads the screen tmux holds. A line
 * the terminal had to wrap shows up longer than the width (capture-pane -J joins wrapped rows);
 * a stale row shows up as a second status block or as a phase the rollout has left.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import YAML from 'yaml';
import { rolloutResult } from '../../../src/client/rollouts';
import { createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually, stackInfo, uniqueName } from '../../support/stack';
import { startTestWorker, TestWorker } from '../../support/worker';
import { ramp, ROOT } from './ramp';

const info = stackInfo();
const kc = adminKubeConfig();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-terminal-'));
const terminals: Tmux[] = [];
let connection: Connection;
let client: Client;
let shop: Mushop | undefined;
let w: TestWorker | undefined;

/** One tmux server (its own socket) with one window of a fixed size running one command. */
class Tmux {
  readonly socket = uniqueName('ramp-tmux');

  constructor(public columns: number, readonly rows = 40) {
    terminals.push(this);
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  /** Runs `ramp args…` in the window; the window stays open after it exits, showing EXIT=<code>. */
  run(args: string[], taskQueue: string): void {
    const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    // The shell gets Ctrl-C's SIGINT too: it must outlive ramp to print the exit code.
    const script = `trap : INT; ${process.execPath} --import tsx src/client/cli/main.ts ${quoted}; echo "EXIT=$?"; exec sleep 100000`;
    const env = {
      TEMPORAL_ADDRESS: info.temporal.address, TEMPORAL_NAMESPACE: info.temporal.namespace, RAMP_TASK_QUEUE: taskQueue,
      KUBECONFIG: info.kubernetes.kubeconfig, INIT_CWD: '', CI: '',
    };
    this.tmux('new-session', '-d', '-x', String(this.columns), '-y', String(this.rows), '-c', ROOT,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), 'sh', '-c', script);
  }

  /** The rows on screen, and with `history` those scrolled off too; wrapped rows joined into their line. */
  screen(history = false): string[] {
    const rows = this.tmux('capture-pane', '-p', '-J', ...(history ? ['-S', '-'] : [])).split('\n').map((l) => l.trimEnd());
    while (rows.length > 0 && rows[rows.length - 1] === '') rows.pop();
    return rows;
  }

  resize(columns: number): void {
    this.tmux('resize-window', '-x', String(columns));
    this.columns = columns;
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', ...keys);
  }

  cursorVisible(): boolean {
    return this.tmux('display-message', '-p', '#{cursor_flag}').trim() === '1';
  }

  /** Waits until the screen shows `what`; returns the screen then. */
  waitFor(what: RegExp, timeoutMs = 60_000): Promise<string[]> {
    return eventually(`${what} on the ${this.columns}-column screen`, () => {
      const rows = this.screen();
      return Promise.resolve(rows.some((r) => what.test(r)) ? rows : undefined);
    }, timeoutMs, 250).catch((err: Error) => {
      throw new Error(`${err.message}\nscreen:\n${this.screen(true).join('\n')}`);
    });
  }

  /** Ends the server and what runs in it, and removes its socket (kill-server leaves the file). */
  kill(): void {
    try {
      const socket = this.tmux('display-message', '-p', '#{socket_path}').trim();
      this.tmux('kill-server');
      fs.rmSync(socket, { force: true });
    } catch {
      // Never started, or already gone.
    }
  }
}

/** The rows of the live view: from its first line to the row before the outcome (or the end). */
function viewRows(rows: string[]): string[] {
  const from = rows.findIndex((r) => r.startsWith('Rollout    ') || r.startsWith('Waiting    for'));
  const to = rows.findIndex((r, i) => i > from && /^(✔|✘) |^stopped following|^ramp: /.test(r));
  return rows.slice(Math.max(0, from), to < 0 ? undefined : to);
}

/** What a good live view looks like on any screen: no wrapped line, one status block. */
function expectCleanView(t: Tmux, rows: string[]): void {
  const view = viewRows(rows);
  expect(view.length).toBeGreaterThan(2);
  for (const r of view) expect(r.length).toBeLessThan(t.columns);
  expect(rows.filter((r) => r.startsWith('Phase      '))).toHaveLength(1);
  expect(rows.filter((r) => r.startsWith('Rollout    '))).toHaveLength(1);
}

function specFile(name: string, raw: Record<string, unknown>): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify(raw));
  return file;
}

/** An analysis with no data: inconclusive at once, so the rollout holds with long analysis lines. */
const noData = { analysis: { interval: '1s', count: 1, metrics: [{ name: 'nothing', query: 'absent_metric_for_ramp_tests{job="terminal", reason="this query is long so that its line is long too"}', thresholdRange: { min: 1 } }] } };

beforeAll(async () => {
  connection = await Connection.connect({ address: info.temporal.address });
  client = new Client({ connection, namespace: info.temporal.namespace });
});
afterAll(async () => {
  for (const t of terminals) t.kill();
  await w?.close();
  await shop?.cleanup();
  await connection?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  await w?.close();
  w = undefined;
  await shop?.cleanup();
  shop = undefined;
});

it('start --wait at 80 columns: a held analysis, an approval, the end — no wrapped line, no stale row', async () => {
  w = await startTestWorker();
  shop = await createMushop(kc, { mode: 'subset' });
  const file = specFile('wait', shop.rolloutRaw([{ setWeight: 10 }, noData, { setWeight: 50 }, { approval: {} }, { setWeight: 100 }]));
  const name = `${shop.namespace}/storefront`;
  const t = new Tmux(80);
  t.run(['start', '-f', file, '--image', 'storefront:v2', '--wait'], w.taskQueue);

  const held = await t.waitFor(/^Phase {6}Paused/);
  expect(held.some((r) => r.startsWith('Analysis   '))).toBe(true);
  expect(held.some((r) => r.endsWith('…'))).toBe(true); // long lines were cut, not wrapped
  expectCleanView(t, held);
  expect(t.cursorVisible()).toBe(false);

  expect((await ramp(['promote', name, '--by', 'terminal-test'], w.taskQueue)).code).toBe(0);
  const waiting = await t.waitFor(/^Phase {6}AwaitingApproval/);
  expectCleanView(t, waiting);
  expect(t.screen(true).some((r) => r.startsWith('Phase      Paused'))).toBe(false);

  expect((await ramp(['approve', name, '--by', 'terminal-test'], w.taskQueue)).code).toBe(0);
  const done = await t.waitFor(/^EXIT=/);
  const all = t.screen(true);
  expect(done).toContain('EXIT=0');
  expectCleanView(t, all);
  expect(all.some((r) => /^Phase {6}(Paused|AwaitingApproval)/.test(r))).toBe(false);
  expect(all).toContainEqual(expect.stringMatching(/^Phase {6}Succeeded/));
  expect(all).toContainEqual(expect.stringMatching(/^✔ Promoted: /));
  expect(all).toContain(`report: ramp report rollout/${shop.namespace}/storefront-original -o report.html`);
  expect(all.some((r) => r.startsWith('(Ctrl-C'))).toBe(false); // the hint goes with the view
  expect(t.cursorVisible()).toBe(true);
}, 180_000);

it('status --watch at 200 columns: warns when the worker stops, says when it is back, and Ctrl-C leaves the rollout running', async () => {
  const taskQueue = uniqueName('ramp-tq');
  w = await startTestWorker(taskQueue);
  shop = await createMushop(kc, { mode: 'subset' });
  const file = specFile('watch', shop.rolloutRaw([{ setWeight: 10 }, { approval: {} }, { setWeight: 100 }]));
  const name = `${shop.namespace}/storefront`;
  expect((await ramp(['start', '-f', file], taskQueue)).code).toBe(0);
  const t = new Tmux(200);
  t.run(['status', name, '--watch'], taskQueue);
  expectCleanView(t, await t.waitFor(/^Phase {6}AwaitingApproval/));

  await w.close();
  w = undefined;
  // Temporal lists a stopped worker for a minute more; the view must not wait for that.
  const lost = await t.waitFor(/^Worker {5}no worker on task queue \S+ has answered for \d+s/, 35_000);
  expectCleanView(t, lost);

  w = await startTestWorker(taskQueue);
  const back = await t.waitFor(/^Worker {5}a worker runs the rollout again/, 35_000);
  expectCleanView(t, back);
  expect(back.some((r) => r.includes('has answered for'))).toBe(false);

  // Narrower: terminals rewrap the rows they hold, so the view starts again on a cleared screen.
  t.resize(60);
  const narrow = await t.waitFor(/^Worker {5}a worker runs the rollout again.*…$/);
  expectCleanView(t, narrow);

  t.keys('C-c');
  const after = await t.waitFor(/^EXIT=/, 15_000);
  expect(after).toContain('EXIT=130');
  expect(after.join('\n')).toContain(`stopped following rollout/${shop.namespace}/storefront-original; the rollout goes on — stop it with: ramp abort ${name} --reason TEXT; follow it again with: ramp status ${name} --watch`);
  expect(t.cursorVisible()).toBe(true);
  const handle = client.workflow.getHandle(`rollout/${shop.namespace}/storefront-original`);
  expect((await handle.describe()).status.name).toBe('RUNNING');

  expect((await ramp(['abort', name, '--reason', 'terminal test done', '--by', 'terminal-test'], taskQueue)).code).toBe(0);
  expect((await rolloutResult(handle)).outcome).not.toBe('Promoted');
}, 180_000);

it('start --wait with no worker at 80 columns: says so in the view, and --timeout ends the wait without aborting', async () => {
  const taskQueue = uniqueName('ramp-tq-none');
  const namespace = uniqueName('ramp-none');
  const raw = {
    apiVersion: 'ramp.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'storefront', namespace },
    spec: {
      target: { deployment: 'storefront-original', service: 'storefront' },
      canary: { image: 'storefront:v2' },
      traffic: { provider: 'istio', virtualService: { name: 'storefront', routes: ['primary'] }, routing: { mode: 'subset', destinationRule: 'storefront' } },
      steps: [{ setWeight: 10 }],
    },
  };
  const t = new Tmux(80);
  t.run(['start', '-f', specFile('none', raw), '--wait', '--timeout', '15s'], taskQueue);
  const warned = await t.waitFor(/^Worker {5}no worker is polling task queue/, 30_000);
  for (const r of viewRows(warned)) expect(r.length).toBeLessThan(t.columns);
  const after = await t.waitFor(/^EXIT=/, 30_000);
  expect(after).toContain('EXIT=1');
  const text = t.screen(true).join('\n');
  expect(text).toMatch(/ramp: rollout\/ramp-none-\S+\/storefront-original is still running after --timeout 15s; it was not aborted/);
  expect(text).not.toContain('report: ');
  const handle = client.workflow.getHandle(`rollout/${namespace}/storefront-original`);
  expect((await handle.describe()).status.name).toBe('RUNNING');
  await handle.terminate('terminal test: no worker ever ran it');
}, 120_000);
