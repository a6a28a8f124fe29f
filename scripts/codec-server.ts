/**
 * A codec server for the Temporal UI: the UI posts encrypted payloads to /decode and shows the
 * plaintext, so people can read rollouts in the browser while the server stores only ciphertext.
 *   RAMP_CODEC_KEY_FILE=key tsx scripts/codec-server.ts --port 8888 --ui-origin http://127.0.0.1:8233
 *   temporal server start-dev ... --ui-codec-endpoint http://127.0.0.1:8888
 * Run it where only people allowed to read rollouts can reach it; it holds the key.
 */
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import type { Payload } from '@temporalio/common';
import { AesGcmCodec, codecFromEnv } from '../src/infra/codec';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const toPayload = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: p.data === undefined ? undefined : Buffer.from(p.data, 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: p.data ? Buffer.from(p.data).toString('base64') : undefined,
});

export function startCodecServer(codec: AesGcmCodec, port: number, uiOrigin: string): http.Server {
  return http.createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', uiOrigin);
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (req.method !== 'POST' || (req.url !== '/decode' && req.url !== '/encode')) return void res.writeHead(404).end();
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
      if (body.length > 8 * 1024 * 1024) req.destroy();
    });
    req.on('end', () => {
      void (async () => {
        try {
          const { payloads } = JSON.parse(body) as { payloads: JsonPayload[] };
          const input = payloads.map(toPayload);
          const out = req.url === '/decode' ? await codec.decode(input) : await codec.encode(input);
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
        } catch (err) {
          res.writeHead(400, { 'Content-Type': 'text/plain' }).end((err as Error).message);
        }
      })();
    });
  }).listen(port, '127.0.0.1');
}

if (require.main === module) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8888' }, 'ui-origin': { type: 'string', default: 'http://127.0.0.1:8233' } } });
  const codec = codecFromEnv();
  if (!codec) {
    console.error('codec-server: set RAMP_CODEC_KEY_FILE (or RAMP_CODEC_KEY) to the key the workers use');
    process.exit(2);
  }
  startCodecServer(codec, Number(values.port), values['ui-origin']);
  console.log(`codec server on http://127.0.0.1:${values.port} for ${values['ui-origin']}`);
}
