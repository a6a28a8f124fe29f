/**
 * The stack's git server: git's own smart HTTP implementation (`git http-backend`, a CGI program)
 * behind a small Node HTTP server that adds basic authentication. Real clients (the git CLI,
 * Flux's source-controller, Ramp's git client) clone and push over it exactly as they would against
 * a hosted forge, and a wrong password gets the same 401 a forge answers.
 *
 * Usable in-process (`startGitServer`) and as the stack component `git`
 * (`node --import tsx scripts/stack/git-server.ts --host … --port … --root … --credentials …`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

export interface GitServerOptions {
  host: string;
  /** 0 picks a free port; the server's `url` names the one taken. */
  port: number;
  /** The folder of bare repositories: `/<name>.git/…` serves `<root>/<name>.git`. */
  root: string;
  /** `user:password` lines; read once at start. */
  credentialsFile: string;
  /** Where http-backend's stderr and request failures go (default: this process's stderr). */
  log?: (line: string) => void;
}

export interface GitServer {
  /** `http://host:port`, no credentials. */
  url: string;
  close(): Promise<void>;
}

/** The user the stack creates in its credentials file. */
export const STACK_GIT_USER = 'ramp';
/** An empty repository the readiness probe fetches refs of (a real upload-pack advertisement, authenticated). */
export const READY_PROBE_REPO = '_ready';
const REALM = 'Ramp git';

interface Credential {
  user: string;
  digest: Buffer;
}

/** The digest compared: fixed length, so timingSafeEqual applies whatever the password's length. */
const digestOf = (user: string, password: string): Buffer => createHash('sha256').update(`${user}\0${password}`).digest();

export function readCredentials(file: string): Credential[] {
  const creds: Credential[] = [];
  for (const [i, raw] of fs.readFileSync(file, 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`${file}:${i + 1}: expected "user:password"; fix or remove the line`);
    const user = line.slice(0, colon);
    creds.push({ user, digest: digestOf(user, line.slice(colon + 1)) });
  }
  if (creds.length === 0) throw new Error(`${file} holds no "user:password" line: every request would be refused`);
  return creds;
}

/** The authenticated user, or undefined. Compares against every entry so timing does not reveal which one matched. */
function authenticate(header: string | undefined, creds: Credential[]): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  const given = digestOf(user, decoded.slice(colon + 1));
  let matched: string | undefined;
  for (const c of creds) if (timingSafeEqual(c.digest, given)) matched = c.user;
  return matched;
}

/**
 * Repository paths only: `/name.git/…` segments of safe characters, no dot-segments. http-backend
 * checks this too; refusing early keeps odd paths out of its environment and our logs.
 */
const SAFE_PATH = /^(?:\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/;

/** Splits CGI output at the blank line after the headers (CRLF or LF, as CGI allows both). */
function headerEnd(buf: Buffer): { at: number; skip: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, skip: 4 };
  if (lf >= 0) return { at: lf, skip: 2 };
  return undefined;
}

function parseCgiHeaders(text: string): { status: number; headers: [string, string][] } {
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers.push([name, value]);
  }
  return { status, headers };
}

function handle(req: http.IncomingMessage, res: http.ServerResponse, opts: GitServerOptions, creds: Credential[], backend: string, log: (l: string) => void): void {
  const user = authenticate(req.headers.authorization, creds);
  if (!user) {
    // Drain the body so the client reads the 401 instead of a reset connection mid-upload.
    req.resume();
    res.writeHead(401, { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"`, 'Content-Type': 'text/plain' });
    res.end('authentication required\n');
    return;
  }
  // The path as sent, not WHATWG-normalized: a dot-segment is refused, not silently resolved.
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const query = q < 0 ? '' : target.slice(q + 1);
  let pathInfo = '';
  try {
    pathInfo = decodeURIComponent(q < 0 ? target : target.slice(0, q));
  } catch {
    // A malformed %-escape: refused below like any other path that is not a repository's.
  }
  if (!SAFE_PATH.test(pathInfo)) {
    req.resume();
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end('not a repository path\n');
    return;
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: opts.root,
    GIT_HTTP_EXPORT_ALL: '1',
    // http-backend enables receive-pack (push) only for an authenticated REMOTE_USER.
    REMOTE_USER: user,
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    // Without a length (a chunked upload, as git sends packs over http.postBuffer) http-backend reads to EOF.
    ...(req.headers['content-length'] !== undefined ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
    // The body passes through unchanged; http-backend inflates a gzip request itself.
    ...(req.headers['content-encoding'] !== undefined ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
    // Protocol v2 is negotiated through this header.
    ...(typeof req.headers['git-protocol'] === 'string' ? { HTTP_GIT_PROTOCOL: req.headers['git-protocol'] } : {}),
  };
  const child = spawn(backend, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  // A client that hangs up mid-transfer must not leave http-backend (and its pack-objects) running.
  res.on('close', () => {
    if (!res.writableFinished && child.exitCode === null) child.kill('SIGTERM');
  });
  child.stdin.on('error', () => undefined); // http-backend may answer (and exit) before reading the whole body
  req.pipe(child.stdin);

  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = headerEnd(head);
    if (!end) return;
    child.stdout.off('data', onData);
    child.stdout.pause();
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.at).toString('latin1'));
    res.statusCode = status;
    for (const [k, v] of headers) res.appendHeader(k, v);
    res.write(head.subarray(end.at + end.skip));
    child.stdout.pipe(res);
  };
  child.stdout.on('data', onData);
  child.on('error', (err) => {
    log(`git http-backend could not start (${backend}): ${err.message}`);
    if (!res.headersSent) res.writeHead(500).end();
  });
  child.on('close', (code, signal) => {
    if (stderr.trim() !== '') log(`${req.method} ${pathInfo} (${user}): ${stderr.trim()}`);
    if (!res.headersSent) {
      log(`${req.method} ${pathInfo}: http-backend exited (${code ?? signal}) without a response`);
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('git http-backend failed\n');
    }
  });
}

/** Starts the server; resolves once it listens. */
export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[git] ${l}\n`));
  const creds = readCredentials(opts.credentialsFile);
  const backend = path.join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');
  if (!fs.existsSync(backend)) throw new Error(`${backend} is missing: install git with its http-backend (Debian: package git)`);
  fs.mkdirSync(opts.root, { recursive: true });
  const server = http.createServer((req, res) => handle(req, res, opts, creds, backend, log));
  // Large pushes and clones may take longer than Node's default 5-minute request timeout.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * The stack's credentials: one `user:password` line (and the password alone, for clients that take
 * a password file), both mode 0600, made once and kept across restarts.
 */
export function ensureStackCredentials(credentialsFile: string, passwordFile: string): void {
  fs.mkdirSync(path.dirname(credentialsFile), { recursive: true, mode: 0o700 });
  if (fs.existsSync(credentialsFile) && fs.existsSync(passwordFile)) return;
  const password = randomBytes(24).toString('base64url');
  fs.writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
  fs.writeFileSync(credentialsFile, `${STACK_GIT_USER}:${password}\n`, { mode: 0o600 });
}

/** Creates `<root>/<name>.git` as an empty bare repository unless it exists. */
export function ensureBareRepo(root: string, name: string, branch = 'main'): string {
  const dir = path.join(root, `${name}.git`);
  if (!fs.existsSync(path.join(dir, 'HEAD'))) {
    fs.mkdirSync(root, { recursive: true });
    execFileSync('git', ['init', '--quiet', '--bare', `--initial-branch=${branch}`, dir]);
  }
  return dir;
}

/** The stack's readiness probe: an authenticated upload-pack advertisement of the probe repository. */
export function gitServerReady(url: string, credentialsFile: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    let auth: string;
    try {
      const line = fs.readFileSync(credentialsFile, 'utf8').split('\n')[0]!.trim();
      auth = 'Basic ' + Buffer.from(line).toString('base64');
    } catch {
      resolve(false);
      return;
    }
    const req = http.get(`${url}/${READY_PROBE_REPO}.git/info/refs?service=git-upload-pack`, { headers: { Authorization: auth }, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 && res.headers['content-type'] === 'application/x-git-upload-pack-advertisement');
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, root: { type: 'string' }, credentials: { type: 'string' } },
  });
  if (!values.port || !values.root || !values.credentials) {
    throw new Error('usage: git-server.ts --port <port> --root <repos dir> --credentials <user:password file> [--host 127.0.0.1]');
  }
  const server = await startGitServer({ host: values.host, port: Number(values.port), root: values.root, credentialsFile: values.credentials });
  process.stderr.write(`[git] serving ${values.root} on ${server.url}\n`);
  const shutdown = () => void server.close().finally(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`git-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
