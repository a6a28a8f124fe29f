/**
 * The worker image, without a container engine: the Dockerfile's steps replayed in a temporary
 * folder (./dockerfile.ts) on Node 24 — `npm ci` of the lockfile and `build:packages` in the build
 * stage, `npm install --global` of the @ramp-delivery/worker tarball in the final one — then its
 * ENTRYPOINT started as its USER against the local stack until Temporal lists it among the task
 * queue's pollers, and stopped with SIGTERM. This is also the worker package's install test: the
 * image installs the tarball exactly as `npm install -g` does. The image's Debian packages (git and
 * ssh for GitOps mode) cannot be installed into a folder: the replay simulates that step and
 * requires this machine to have them (./dockerfile.ts), and the packaged GitRepo, run as the image's
 * user with the image's PATH, clones from the stack's git server.
 * Not checked here: the base image itself and `docker build` (layers, BuildKit mounts).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { workflowPollers } from '../../../src/client/workers';
import { branchHead, createRepo } from '../../support/git';
import { eventually, stackInfo, uniqueName } from '../../support/stack';
import { ignoredBy, parseDockerfile, readDockerignore, replayDockerfile, Replayed } from './dockerfile';
import { mib, node24Bin, ROOT, run, treeSize, userEnv } from './support';

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
/**
 * The oldest git and OpenSSH src/infra/git.ts works with: it commits with `git commit --trailer`
 * (git 2.32) and runs ssh with `StrictHostKeyChecking=accept-new` (OpenSSH 7.6).
 */
const MIN_GIT = [2, 32];
const MIN_OPENSSH = [7, 6];

/** The image's USER, as a uid of the base image. */
function imageUid(): number {
  const uid = USERS[image.final.user!];
  if (uid === undefined) throw new Error(`the Dockerfile's USER ${image.final.user} is not a user of the base image this test knows: add it to USERS`);
  return uid;
}

/** What a process started in the image gets: the base image's PATH (its /usr/local/bin and the system's), HOME at the WORKDIR. */
function imageEnv(): Record<string, string> {
  const { root, env, workdir } = image.final;
  return { ...env, PATH: `${path.join(root, 'usr/local/bin')}:/usr/bin:/bin`, HOME: path.join(root, workdir) };
}

/** A file mounted into the container as a Secret is: readable by the worker's user only. */
function mountSecret(rel: string, content: string | Buffer): string {
  const file = path.join(image.final.root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode: 0o600 });
  fs.chownSync(file, imageUid(), imageUid());
  return file;
}

/** `[major, minor]` from the first `<major>.<minor>` after `prefix` in `text`. */
function version(text: string, prefix: string): number[] {
  const m = new RegExp(`${prefix}(\\d+)\\.(\\d+)`).exec(text);
  if (!m) throw new Error(`no version after ${JSON.stringify(prefix)} in ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

const atLeast = (v: number[], min: number[]) => v[0]! > min[0]! || (v[0] === min[0] && v[1]! >= min[1]!);

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
  process.stderr.write(`[packaging] worker image replayed on Node 24 in ${Math.round((Date.now() - t0) / 1000)}s; @ramp-delivery/worker with its dependencies: ${mib(size.bytes)} in ${size.files} files (on top of the base image); Debian packages, as this machine has them: ${Object.entries(image.final.packages).map(([p, v]) => `${p} ${v}`).join(', ')}\n`);
  // The base image's node is /usr/local/bin/node; the Node 24 under test plays it.
  fs.copyFileSync(path.join(node24, 'node'), path.join(image.final.root, 'usr/local/bin/node'));
  fs.chmodSync(path.join(image.final.root, 'usr/local/bin/node'), 0o755);
  // The base image makes the WORKDIR (/home/node) its user's, and /tmp writable by all.
  fs.chownSync(path.join(image.final.root, image.final.workdir), imageUid(), imageUid());
  fs.mkdirSync(path.join(image.final.root, 'tmp'), { recursive: true });
  fs.chmodSync(path.join(image.final.root, 'tmp'), 0o1777);
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
  // A command of its own would run on this machine, as root on CI: apt-get would install here.
  const apt = parseDockerfile('FROM node:24-bookworm-slim\nRUN apt-get install -y curl\n');
  expect(() => replayDockerfile(apt, ROOT, path.join(work, 'apt'), {}, () => undefined))
    .toThrow('Dockerfile line 2 (RUN apt-get install -y curl): the replay runs only the steps of packages/worker/image.sh (deps, pack, install; system simulated)');
  const step = parseDockerfile('FROM node:24-bookworm-slim\nRUN sh packages/worker/image.sh locales\n');
  expect(() => replayDockerfile(step, ROOT, path.join(work, 'step'), {}, () => undefined)).toThrow('the replay runs only the steps of packages/worker/image.sh');
  // The simulation stands for the image only on the base image's Debian release (buster: long out of support, on no machine of the project's).
  const release = parseDockerfile('FROM node:24-buster-slim\nRUN sh /tmp/image.sh system\n');
  expect(() => replayDockerfile(release, ROOT, path.join(work, 'release'), {}, () => undefined))
    .toThrow("Dockerfile line 2 (RUN sh /tmp/image.sh system): installs Debian packages into node:24-buster-slim (Debian buster); the replay runs this machine's packages instead, so this machine must run the same release, and it runs ");
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

/**
 * Run by the image's node as its user with its environment: GitRepo from the installed package
 * clones the same repository over HTTP (basic auth) and over SSH (a key and a known_hosts file).
 * Prints the heads and the file it read as JSON.
 */
const GIT_PROBE = `
const { GitRepo } = require(process.argv[1]);
const [http, ssh, file] = JSON.parse(process.argv[2]);
(async () => {
  const repo = new GitRepo(http);
  const head = await repo.sync();
  const content = await repo.readFile(file);
  const sshHead = await new GitRepo(ssh).sync();
  process.stdout.write(JSON.stringify({ head, content, sshHead }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

it('carries git and ssh for GitOps mode: its user finds them on its PATH, new enough, and the packaged GitRepo clones over HTTP and SSH', async () => {
  // What the image's step installs (resolved by apt, installed on this machine: ./dockerfile.ts).
  expect(Object.keys(image.final.packages)).toEqual(expect.arrayContaining(['git', 'openssh-client', 'ca-certificates']));
  const uid = imageUid();
  const { root, workdir } = image.final;
  const asUser = { cwd: path.join(root, workdir), uid, gid: uid, env: imageEnv() };
  const gitVersion = await run('git', ['--version'], asUser);
  expect(gitVersion.code).toBe(0);
  expect([gitVersion.stdout.trim(), atLeast(version(gitVersion.stdout, 'git version '), MIN_GIT)]).toEqual([gitVersion.stdout.trim(), true]);
  const sshVersion = await run('ssh', ['-V'], asUser);
  expect(sshVersion.code).toBe(0);
  expect([sshVersion.stderr.trim(), atLeast(version(sshVersion.stderr, 'OpenSSH_'), MIN_OPENSSH)]).toEqual([sshVersion.stderr.trim(), true]);

  const repo = await createRepo('image', { 'apps/web/deployment.yaml': 'kind: Deployment\n' });
  const sshServer = info.git.ssh;
  const author = { name: 'Ramp', email: 'ramp@localhost' };
  // Where the worker's clones go by default (RAMP_GIT_WORKDIR unset): the image's /tmp.
  const http = { url: repo.url, branch: repo.branch, workDir: path.join(root, 'tmp/ramp-git', repo.name), credentials: { basicAuthFile: mountSecret('etc/ramp/git/credentials', fs.readFileSync(repo.credentialsFile)) }, author };
  const ssh = {
    url: `${sshServer.url}/${repo.name}.git`, branch: repo.branch, workDir: path.join(root, 'tmp/ramp-git', `${repo.name}-ssh`), author,
    credentials: { sshKeyFile: mountSecret('etc/ramp/git/id_ed25519', fs.readFileSync(sshServer.keyFile)), knownHostsFile: mountSecret('etc/ramp/git/known_hosts', fs.readFileSync(sshServer.knownHostsFile)) },
  };
  const probe = await run(path.join(root, 'usr/local/bin/node'), ['-e', GIT_PROBE, path.join(pkg, 'dist/infra/git.js'), JSON.stringify([http, ssh, 'apps/web/deployment.yaml'])], asUser);
  if (probe.code !== 0) throw new Error(`the packaged GitRepo failed in the image's environment:\n${probe.stderr}${probe.stdout}`);
  const out = JSON.parse(probe.stdout) as { head: string; content: string; sshHead: string };
  expect(out.head).toBe(await branchHead(repo));
  expect(out.content).toBe('kind: Deployment\n');
  // ssh ran as the image's user, with the image's ssh, against the stack's sshd.
  expect(out.sshHead).toBe(out.head);
}, 60_000);

it('its ENTRYPOINT, started as its USER on Node 24, polls the task queue and stops on SIGTERM', async () => {
  const { root, entrypoint, workdir } = image.final;
  const uid = imageUid();
  // Mounted as docker-compose.yml mounts it: one file, readable by the worker's user only.
  const kubeconfig = mountSecret('kube/config', selfContainedKubeconfig(info.kubernetes.kubeconfig));

  const taskQueue = uniqueName('image');
  let out = '';
  const t0 = Date.now();
  worker = spawn(path.join(root, 'usr/local/bin', entrypoint![0]!), entrypoint!.slice(1), {
    cwd: path.join(root, workdir),
    uid,
    gid: uid,
    env: {
      ...imageEnv(),
      TEMPORAL_ADDRESS: info.temporal.address,
      TEMPORAL_NAMESPACE: info.temporal.namespace,
      RAMP_TASK_QUEUE: taskQueue,
      KUBECONFIG: kubeconfig,
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
