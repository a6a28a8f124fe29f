/**
 * @ramp-delivery/cli as a user gets it: packed into the tarball `npm publish` would upload,
 * installed with `npm install <tarball>` (dependencies from the registry) into an empty folder
 * outside the checkout, and run as `ramp` against the local stack — --version, validate, validate
 * --cluster, and a real rollout started, watched and approved. It runs on the Node that runs jest:
 * the machine's in `npm test`, Node 24 in `npm run test:node24`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { buildPackages, PackResult } from '../../../packages/pack';
import { createMushop, Mushop } from '../../support/mushop';
import { adminKubeConfig, eventually, stackInfo } from '../../support/stack';
import { startTestWorker, TestWorker } from '../../support/worker';
import { kib, linksInto, mib, ROOT, run, Run, treeSize, userEnv } from './support';

const info = stackInfo();
const kc = adminKubeConfig();
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string; engines: { node: string } };
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-cli-package-'));
const app = path.join(work, 'app');
let packed: PackResult;
let install: Run;
let w: TestWorker | undefined;
let shop: Mushop | undefined;

/** Whether this Node satisfies the package's engines (written as ">=MAJOR.MINOR"). */
function inEngines(): boolean {
  const [wantMajor, wantMinor] = /^>=(\d+)\.(\d+)$/.exec(manifest.engines.node)!.slice(1).map(Number) as [number, number];
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

function ramp(args: string[], taskQueue = 'ramp'): Promise<Run> {
  return run(path.join(app, 'node_modules/.bin/ramp'), args, {
    cwd: app,
    env: userEnv({ TEMPORAL_ADDRESS: info.temporal.address, TEMPORAL_NAMESPACE: info.temporal.namespace, RAMP_TASK_QUEUE: taskQueue, CI: 'true' }),
  });
}

beforeAll(async () => {
  const results = await buildPackages(['cli'], path.join(work, 'out'));
  packed = results[0]!;
  fs.mkdirSync(app);
  install = await run('npm', ['install', '--no-audit', '--no-fund', path.join(work, 'out', packed.filename)], { cwd: app, env: userEnv() });
  const installed = treeSize(path.join(app, 'node_modules'));
  process.stderr.write(`[packaging] ${packed.name}@${packed.version} on Node ${process.version}: tarball ${kib(packed.size)} (${packed.entryCount} files, ${kib(packed.unpackedSize)} unpacked); installed with its dependencies: ${mib(installed.bytes)} in ${installed.files} files\n`);
}, 300_000);

afterAll(async () => {
  await shop?.cleanup();
  await w?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

it('installs from its tarball alone, with the client\'s dependencies and not the worker\'s, and no link back to the checkout', () => {
  expect(install.stderr + install.stdout).not.toMatch(/npm (error|ERR!)/);
  expect(install.code).toBe(0);
  const modules = path.join(app, 'node_modules');
  expect(fs.existsSync(path.join(modules, '@ramp-delivery/cli/dist/client/cli/main.js'))).toBe(true);
  expect(fs.existsSync(path.join(modules, '@temporalio/client'))).toBe(true);
  for (const workerOnly of ['@temporalio/worker', '@temporalio/core-bridge', 'webpack', '@swc/core', 'axios']) {
    expect([workerOnly, fs.existsSync(path.join(modules, workerOnly))]).toEqual([workerOnly, false]);
  }
  expect(linksInto(app, ROOT)).toEqual([]);
  // Tests, benches and sources stay home: the package is compiled code only.
  expect(packed.files.map((f) => f.path).filter((p) => !/^(dist\/.*\.js|package\.json|README\.md)$/.test(p))).toEqual([]);
});

it('declares its engines: npm warns on a Node below them, and not on one they admit', () => {
  const warned = /EBADENGINE[\s\S]*@ramp-delivery\/cli/.test(install.stderr);
  expect([process.version, warned]).toEqual([process.version, !inEngines()]);
});

it('runs on the Node under test', async () => {
  const r = await run('node', ['-p', 'process.version'], { cwd: app, env: userEnv() });
  expect(r.stdout.trim()).toBe(process.version);
});

it('ramp --version prints the package version', async () => {
  const r = await ramp(['--version']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`${manifest.version}\n`);
});

it('npx runs it from the tarball too, as docs/cli.md\'s CI examples run it from the registry', async () => {
  const spec = `file:${path.join(work, 'out', packed.filename)}`;
  const r = await run('npx', ['--yes', spec, '--version'], { cwd: app, env: userEnv() });
  // npx keeps what it installed in npm's cache (_npx/<hash>), named by the spec: this run's tarball is gone after it.
  const npxCache = path.join((await run('npm', ['config', 'get', 'cache'], { cwd: app, env: userEnv() })).stdout.trim(), '_npx');
  for (const d of fs.existsSync(npxCache) ? fs.readdirSync(npxCache) : []) {
    const manifestFile = path.join(npxCache, d, 'package.json');
    if (fs.existsSync(manifestFile) && fs.readFileSync(manifestFile, 'utf8').includes(work)) fs.rmSync(path.join(npxCache, d), { recursive: true, force: true });
  }
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`${manifest.version}\n`);
}, 120_000);

it('ramp validate -f checks a spec offline: exit 0 for the example, 2 with every problem for a bad one', async () => {
  fs.copyFileSync(path.join(ROOT, 'examples/mushop/rollout.yaml'), path.join(app, 'rollout.yaml'));
  const ok = await ramp(['validate', '-f', 'rollout.yaml']);
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/^rollout\.yaml: valid — Rollout mushop\/storefront, \d+ steps/);

  const spec = YAML.parse(fs.readFileSync(path.join(app, 'rollout.yaml'), 'utf8')) as { spec: { steps: unknown[] } };
  spec.spec.steps[0] = { setWeight: 120 };
  fs.writeFileSync(path.join(app, 'bad.yaml'), YAML.stringify(spec));
  const bad = await ramp(['validate', '-f', 'bad.yaml']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/spec\.steps\[0\]\.setWeight: must be between 0 and 100, got 120/);
  expect(bad.stderr).not.toMatch(/\n\s+at /);
});

describe('against the local stack', () => {
  beforeAll(async () => {
    w = await startTestWorker();
    shop = await createMushop(kc, { mode: 'subset' });
    fs.writeFileSync(path.join(app, 'canary.yaml'), YAML.stringify(shop.rolloutRaw([{ setWeight: 10 }, { approval: {} }, { setWeight: 100 }])));
  }, 120_000);

  it('ramp validate --cluster loads the Kubernetes client from the installed package and checks the live cluster', async () => {
    const r = await ramp(['validate', '-f', 'canary.yaml', '--cluster', '--kubeconfig', info.kubernetes.kubeconfig]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`canary.yaml: Rollout ${shop!.namespace}/storefront can go ahead on ${kc.getCurrentCluster()!.server}`);
  });

  it('ramp start, status and approve drive a real rollout to Promoted', async () => {
    const name = `${shop!.namespace}/storefront`;
    const started = await ramp(['start', '-f', 'canary.yaml', '--image', 'storefront:v2'], w!.taskQueue);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(new RegExp(`^started rollout/${shop!.namespace}/storefront-original`));

    const waiting = await eventually('AwaitingApproval through the installed ramp status', async () => {
      const r = await ramp(['status', name, '--output', 'json'], w!.taskQueue);
      const s = r.code === 0 ? (JSON.parse(r.stdout) as { phase: string; weights: { canary: number } }) : undefined;
      return s?.phase === 'AwaitingApproval' ? s : undefined;
    }, 60_000, 500);
    expect(waiting.weights.canary).toBe(10);
    const text = await ramp(['status', name], w!.taskQueue);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('AwaitingApproval');

    const approved = await ramp(['approve', name, '--by', 'packaged-cli'], w!.taskQueue);
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    const done = await eventually('Promoted through the installed ramp status', async () => {
      const r = await ramp(['status', name, '--output', 'json'], w!.taskQueue);
      const s = r.code === 0 ? (JSON.parse(r.stdout) as { phase: string; outcome?: string }) : undefined;
      return s?.outcome !== undefined ? s : undefined;
    }, 60_000, 500);
    expect(done.outcome).toBe('Promoted');
  }, 150_000);

  it('ramp status of a rollout that does not exist exits 2, naming what it searched', async () => {
    const r = await ramp(['status', 'nope', '-n', 'nowhere']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ramp: no rollout named nowhere\/nope/);
  });
});
