/**
 * Optional payload encryption (off by default): every payload the worker and the CLI send to
 * Temporal — rollout specs, statuses, results — is sealed with AES-256-GCM, so the Temporal server
 * (and anyone reading its database) sees only ciphertext. The key id travels in the payload's
 * metadata, so keys can be rotated: new payloads use the current key, old ones name theirs.
 * The Temporal UI shows decrypted payloads through a codec server (scripts/codec-server.ts).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

/** Thrown when a payload cannot be decrypted: unknown key id, wrong key, or tampered data. */
export class CodecError extends Error {
  override name = 'CodecError';
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class AesGcmCodec implements PayloadCodec {
  /** @param keys key id → 32-byte key; `currentKeyId` encrypts, any listed key decrypts. */
  constructor(private readonly keys: Map<string, Buffer>, private readonly currentKeyId: string) {
    for (const [id, key] of keys) {
      if (key.length !== 32) throw new CodecError(`encryption key ${id} is ${key.length} bytes; AES-256 needs 32 (give 64 hex or 44 base64 characters)`);
    }
    if (!keys.has(currentKeyId)) throw new CodecError(`no key with id ${currentKeyId}`);
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    // The executor turns a throw into a rejection: callers always get a promise.
    return new Promise((resolve) => resolve(payloads.map((p) => {
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: enc.encode(ENCODING), [KEY_ID_METADATA]: enc.encode(this.currentKeyId) },
        data: Buffer.concat([iv, cipher.getAuthTag(), body]),
      };
    })));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((p) => {
      if (dec.decode(p.metadata?.[METADATA_ENCODING_KEY] ?? new Uint8Array()) !== ENCODING) return p;
      const keyId = dec.decode(p.metadata?.[KEY_ID_METADATA] ?? new Uint8Array());
      const key = this.keys.get(keyId);
      if (!key) throw new CodecError(`payload encrypted with key id ${JSON.stringify(keyId)}, which this process does not have (RAMP_CODEC_KEY_FILE)`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
        decipher.setAuthTag(data.subarray(12, 28));
        const plain = Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]);
        return temporal.api.common.v1.Payload.decode(plain);
      } catch (err) {
        throw new CodecError(`cannot decrypt a payload with key ${keyId}: wrong key or tampered data (${(err as Error).message})`);
      }
    })));
  }
}

function parseKey(text: string, where: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new CodecError(`${where}: an AES-256 key is 32 bytes, given as 64 hex or 44 base64 characters`);
  return key;
}

/**
 * The codec from the environment, or undefined when encryption is off.
 * RAMP_CODEC_KEY_FILE (preferred) or RAMP_CODEC_KEY holds the key; RAMP_CODEC_KEY_ID names it
 * (default "default"). RAMP_CODEC_OLD_KEY_FILES lists `id=path` pairs still accepted for decryption.
 */
export type CodecSettings = Partial<Record<'RAMP_CODEC_KEY_FILE' | 'RAMP_CODEC_KEY' | 'RAMP_CODEC_KEY_ID' | 'RAMP_CODEC_OLD_KEY_FILES', string>>;

export function codecFromEnv(env: CodecSettings = process.env): AesGcmCodec | undefined {
  let key: Buffer | undefined;
  if (env.RAMP_CODEC_KEY_FILE) {
    let text: string;
    try {
      text = fs.readFileSync(env.RAMP_CODEC_KEY_FILE, 'utf8');
    } catch (err) {
      throw new CodecError(`RAMP_CODEC_KEY_FILE=${env.RAMP_CODEC_KEY_FILE}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    key = parseKey(text, 'RAMP_CODEC_KEY_FILE');
  } else if (env.RAMP_CODEC_KEY) {
    key = parseKey(env.RAMP_CODEC_KEY, 'RAMP_CODEC_KEY');
  }
  if (!key) return undefined;
  const id = env.RAMP_CODEC_KEY_ID || 'default';
  const keys = new Map([[id, key]]);
  for (const pair of (env.RAMP_CODEC_OLD_KEY_FILES ?? '').split(',').filter(Boolean)) {
    const [oldId, file] = pair.split('=');
    if (!oldId || !file) throw new CodecError(`RAMP_CODEC_OLD_KEY_FILES: "${pair}" is not id=path`);
    keys.set(oldId, parseKey(fs.readFileSync(file, 'utf8'), `RAMP_CODEC_OLD_KEY_FILES ${oldId}`));
  }
  return new AesGcmCodec(keys, id);
}
