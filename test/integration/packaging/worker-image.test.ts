/**
 * The worker image, without a container engine: the Dockerfile's steps replayed in a temporary
 * folder (./dockerfile.ts) on Node 24 — `npm ci` of the lockfile and `build:packages` in the build
 * stage, `npm install --global` of the @ramp-delivery/worker tarball in the final one — then its
 * ENTRYPOINT started as its USER against the local stack until Temporal lists it among the task
 * queue's pollers, and stopped with SIGTERM. This is also the worker package's install test: the
 * image installs the tarball exactly as `npm install -g` does.
 * Not checked here: the base image itself and `docker build` (layers, BuildKit mounts).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { workflowPollers } from '../../../src/client/workers';
import { eventually, stackInfo, uniqueName } from '../../support/stack';
import { ignoredBy, parseDockerfile, readDockerignore, replayDockerfile, Replayed } from './dockerfile';
import { mib, node24Bin, ROOT, treeSize, userEnv } from './support';

const info = stackInfo();
const stages = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-image-'));
/** The users of the base image the Dockerfile may name. */
const USERS: Record<string, number> = { node: 1000 };
let image: Replayed;
let pkg: string;
let connection: Connection;
let client: Client;
let worker: ChildProcess | undefined;

/** The stack's admin kubeconfig with its certificate files inlined, as one file a container can mount. */
function selfContainedKubeconfig(file: string): string {
  const kc = YAML.parse(fs.readFileSync(file, 'utf8')) as { clusters: { cluster: Record<string, string> }[]; users: { user: Record<string, string> }[] };
  const inline = (o: Record<string, string>, key: string) => {
    if (o[key] === undefined) return;
    o[`${key}-data`] = fs.readFileSync(path.resolve(path.dirname(file), o[key])).toString('base64');
    delete o[key];
  };
  for (const c of kc.clusters) inline(c.cluster, 'certificate-authority');
  for (const u of kc.users) {
    inline(u.user, 'client-certificate');
    inline(u.user, 'client-key');
  }
  return YAML.stringify(kc);
}

/** What kind of native binary a file is, from its first bytes; undefined for anything else. */
function binaryKind(file: string): string | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(64);
    const n = fs.readSync(fd, head, 0, 64, 0);
    if (n >= 20 && head.readUInt32BE(0) === 0x7f454c46) {
      const machine = head.readUInt16LE(18);
      return `elf-${({ 62: 'x64', 183: 'arm64' } as Record<number, string>)[machine] ?? `machine-${machine}`}`;
    }
    if (n >= 4 && [0xcffaedfe, 0xcefaedfe, 0xfeedfacf, 0xfeedface].includes(head.readUInt32BE(0))) return 'mach-o';
    if (n >= 64 && head.toString('latin1', 0, 2) === 'MZ') {
      const pe = head.readUInt32LE(60);
      const sig = Buffer.alloc(4);
      fs.readSync(fd, sig, 0, 4, pe);
      if (sig.toString('latin1') === 'PE\0\0') return 'pe';
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

beforeAll(async () => {
  fs.chmodSync(work, 0o755);
  const node24 = node24Bin();
  const t0 = Date.now();
  image = replayDockerfile(stages, ROOT, work, userEnv({ PATH: `${node24}:${process.env.PATH}` }), (l) => process.stderr.write(`${l}\n`));
  pkg = path.join(image.final.root, 'usr/local/lib/node_modules/@ramp-delivery/worker');
  const size = treeSize(pkg);
  process.stderr.write(`[packaging] worker image replayed on Node 24 in ${Math.round((Date.now() - t0) / 1000)}s; @ramp-delivery/worker with its dependencies: ${mib(size.bytes)} in ${size.files} files (on top of the base image)\n`);
  connection = await Connection.connect({ address: info.temporal.address });
  client = new Client({ connection, namespace: info.temporal.namespace });
}, 600_000);

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  await connection?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

it('builds every stage on Node 24 LTS (bookworm-slim) and runs as the unprivileged node user', () => {
  expect(stages.map((s) => s.base)).toEqual(stages.map(() => 'node:24-bookworm-slim'));
  expect(image.final.user).toBe('node');
  expect(image.final.entrypoint).toEqual(['ramp-worker']);
});

it('refuses a Dockerfile step the replay cannot follow, instead of skipping it', () => {
  const odd = parseDockerfile('ARG BASE=node:24-bookworm-slim\nFROM ${BASE}\nHEALTHCHECK CMD true\n');
  expect(odd[0]!.base).toBe('node:24-bookworm-slim');
  expect(() => replayDockerfile(odd, ROOT, path.join(work, 'odd'), {}, () => undefined))
    .toThrow('Dockerfile line 3 (HEALTHCHECK CMD true): the replay does not know HEALTHCHECK; extend test/integration/packaging/dockerfile.ts or keep the step inside packages/worker/image.sh');
});

it('keeps local state, installs and build output out of the build context', () => {
  const patterns = readDockerignore(ROOT);
  for (const p of ['.stack/kubeconfig/admin.kubeconfig', 'node_modules/yaml/package.json', 'dist/packages/ramp-delivery-worker-0.1.0.tgz', 'test/unit/lint.test.ts', '.git/config', 'packages/cli/node_modules/x']) {
    expect([p, ignoredBy(patterns, p)]).toEqual([p, true]);
  }
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'src/worker/main.ts', 'packages/worker/image.sh']) {
    expect([p, ignoredBy(patterns, p)]).toEqual([p, false]);
  }
});

it('holds the worker package as npm installs it: the ramp-worker command, the prebuilt workflow bundle, no dev tools', () => {
  const bin = path.join(image.final.root, 'usr/local/bin/ramp-worker');
  expect(fs.realpathSync(bin)).toBe(fs.realpathSync(path.join(pkg, 'bin/ramp-worker.js')));
  expect(fs.readFileSync(path.join(pkg, 'dist/workflow-bundle.js'), 'utf8')).toContain('__TEMPORAL__');
  for (const dev of ['typescript', 'jest', 'tsx', 'eslint', '@temporalio/testing']) {
    expect([dev, fs.existsSync(path.join(pkg, 'node_modules', dev))]).toEqual([dev, false]);
  }
});

it('has no native binary of another platform', () => {
  const here = `elf-${process.arch}`;
  const kinds = new Map<string, string[]>();
  for (const e of fs.readdirSync(path.join(image.final.root, 'usr/local'), { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    const kind = binaryKind(file);
    if (kind) kinds.set(kind, [...(kinds.get(kind) ?? []), path.relative(image.final.root, file)]);
  }
  expect([...kinds.keys()]).toEqual([here]);
  // The Temporal core bridge ships five platforms' libraries; one is left.
  expect(fs.readdirSync(path.join(pkg, 'node_modules/@temporalio/core-bridge/releases'))).toEqual([`${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-unknown-linux-gnu`]);
});

it('gives its user nothing to write: every installed file belongs to root', () => {
  const owners = new Set<number>();
  for (const e of fs.readdirSync(path.join(image.final.root, 'usr/local'), { withFileTypes: true, recursive: true })) owners.add(fs.lstatSync(path.join(e.parentPath, e.name)).uid);
  expect([...owners]).toEqual([0]);
});

it('its ENTRYPOINT, started as its USER on Node 24, polls the task queue and stops on SIGTERM', async () => {
  const { root, env, entrypoint, user, workdir } = image.final;
  const uid = USERS[user!];
  if (uid === undefined) throw new Error(`the Dockerfile's USER ${user} is not a user of the base image this test knows: add it to USERS`);
  // The base image's node is /usr/local/bin/node; the Node 24 under test plays it.
  fs.copyFileSync(path.join(node24Bin(), 'node'), path.join(root, 'usr/local/bin/node'));
  fs.chmodSync(path.join(root, 'usr/local/bin/node'), 0o755);
  fs.chownSync(path.join(root, workdir), uid, uid);
  // Mounted as docker-compose.yml mounts it: one file, readable by the worker's user only.
  fs.mkdirSync(path.join(root, 'kube'));
  fs.writeFileSync(path.join(root, 'kube/config'), selfContainedKubeconfig(info.kubernetes.kubeconfig), { mode: 0o600 });
  fs.chownSync(path.join(root, 'kube/config'), uid, uid);

  const taskQueue = uniqueName('image');
  let out = '';
  const t0 = Date.now();
  worker = spawn(path.join(root, 'usr/local/bin', entrypoint![0]!), entrypoint!.slice(1), {
    cwd: path.join(root, workdir),
    uid,
    gid: uid,
    env: {
      ...env,
      PATH: `${path.join(root, 'usr/local/bin')}:/usr/bin:/bin`,
      HOME: path.join(root, workdir),
      TEMPORAL_ADDRESS: info.temporal.address,
      TEMPORAL_NAMESPACE: info.temporal.namespace,
      RAMP_TASK_QUEUE: taskQueue,
      KUBECONFIG: path.join(root, 'kube/config'),
      RAMP_PROMETHEUS_URL: info.prometheus.url,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = worker;
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const pollers = await eventually(`a poller on ${taskQueue} from pid ${child.pid}`, async () => {
    if (child.exitCode !== null) throw new Error(`the worker exited ${child.exitCode}:\n${out}`);
    const p = await workflowPollers(client, taskQueue);
    return p.identities.some((id) => id.startsWith(`${child.pid}@`)) ? p : undefined;
  }, 60_000, 500);
  expect(pollers.polling).toBe(true);
  process.stderr.write(`[packaging] the image's ramp-worker was listed as a poller ${((Date.now() - t0) / 1000).toFixed(1)}s after it was started\n`);
  // It loaded the package's prebuilt workflow bundle: a worker that bundles at start logs this.
  expect(out).not.toContain('Workflow bundle created');

  child.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 120_000);
