/** Readiness probes for the stack's components, each answering true or false, never throwing. */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** GET url; resolves with status and body, or undefined on any connection error or timeout. */
export function httpGet(url: string, tls?: TlsFiles, timeoutMs = 2000): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const opts: https.RequestOptions = { method: 'GET', timeout: timeoutMs };
    if (u.protocol === 'https:') {
      if (tls?.ca) opts.ca = fs.readFileSync(tls.ca);
      else opts.rejectUnauthorized = false; // self-signed serving certs of controller-manager/scheduler
      if (tls?.cert) opts.cert = fs.readFileSync(tls.cert);
      if (tls?.key) opts.key = fs.readFileSync(tls.key);
    }
    const req = (u.protocol === 'https:' ? https : http).request(u, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export async function httpOk(url: string, tls?: TlsFiles, expectBody?: RegExp): Promise<boolean> {
  const r = await httpGet(url, tls);
  return r !== undefined && r.status === 200 && (expectBody === undefined || expectBody.test(r.body));
}

/** Polls probe every intervalMs until it answers true, or throws after timeoutMs. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, onTimeout?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} was not ready after ${Math.round(timeoutMs / 1000)}s${onTimeout ? '\n' + onTimeout() : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
