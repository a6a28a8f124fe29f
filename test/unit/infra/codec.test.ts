import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, codecFromEnv, CodecError, ENCODING } from '../../../src/infra/codec';

const key = (fill: number) => Buffer.alloc(32, fill);
const codec = (k = key(1), id = 'k1') => new AesGcmCodec(new Map([[id, k]]), id);

describe('AesGcmCodec', () => {
  const payload = defaultPayloadConverter.toPayload({ image: 'storefront:beta', token: 'not-a-secret' });

  it('round-trips, and the ciphertext hides the plaintext', async () => {
    const [sealed] = await codec().encode([payload]);
    expect(new TextDecoder().decode(sealed!.metadata!.encoding)).toBe(ENCODING);
    expect(new TextDecoder().decode(sealed!.metadata!['encryption-key-id'])).toBe('k1');
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('storefront');
    const [opened] = await codec().decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ image: 'storefront:beta', token: 'not-a-secret' });
  });

  it('uses a fresh IV each time', async () => {
    const [a] = await codec().encode([payload]);
    const [b] = await codec().encode([payload]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('refuses a wrong key, an unknown key id, and tampered data', async () => {
    const [sealed] = await codec().encode([payload]);
    await expect(codec(key(2)).decode([sealed!])).rejects.toThrow(CodecError);
    await expect(codec(key(1), 'other').decode([sealed!])).rejects.toThrow(/key id "k1", which this process does not have/);
    const data = Buffer.from(sealed!.data!);
    data.writeUInt8(data.readUInt8(data.length - 1) ^ 1, data.length - 1);
    const tampered = { ...sealed!, data };
    await expect(codec().decode([tampered])).rejects.toThrow(/wrong key or tampered data/);
  });

  it('passes through payloads that are not encrypted (histories from before encryption was on)', async () => {
    expect(await codec().decode([payload])).toEqual([payload]);
  });

  it('decrypts with an old key after rotation', async () => {
    const [old] = await codec(key(1), 'old').encode([payload]);
    const rotated = new AesGcmCodec(new Map([['new', key(2)], ['old', key(1)]]), 'new');
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual({ image: 'storefront:beta', token: 'not-a-secret' });
  });
});

describe('codecFromEnv', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-codec-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is off without a key', () => {
    expect(codecFromEnv({})).toBeUndefined();
  });

  it('reads a hex or base64 key from a file or the environment', () => {
    const file = path.join(dir, 'key');
    fs.writeFileSync(file, key(7).toString('hex') + '\n');
    expect(codecFromEnv({ RAMP_CODEC_KEY_FILE: file })).toBeInstanceOf(AesGcmCodec);
    expect(codecFromEnv({ RAMP_CODEC_KEY: key(7).toString('base64'), RAMP_CODEC_KEY_ID: '2026-11' })).toBeInstanceOf(AesGcmCodec);
  });

  it('names the setting that is wrong', () => {
    expect(() => codecFromEnv({ RAMP_CODEC_KEY: 'short' })).toThrow(/RAMP_CODEC_KEY: an AES-256 key is 32 bytes/);
    expect(() => codecFromEnv({ RAMP_CODEC_KEY_FILE: path.join(dir, 'missing') })).toThrow(/RAMP_CODEC_KEY_FILE=.*missing: cannot read the file \(ENOENT\)/);
  });
});
