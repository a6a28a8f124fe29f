import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { temporalTls } from '../../../src/infra/temporal-connection';

describe('temporalTls', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-tls-'));
  const cert = path.join(dir, 'c.pem');
  const key = path.join(dir, 'k.pem');
  const ca = path.join(dir, 'ca.pem');
  fs.writeFileSync(cert, 'CERT');
  fs.writeFileSync(key, 'KEY');
  fs.writeFileSync(ca, 'CA');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, Parameters<typeof temporalTls>[0], boolean][] = [
    ['plain dev server', { TEMPORAL_ADDRESS: 'localhost:7233' }, false],
    ['explicit TLS', { TEMPORAL_ADDRESS: 'a:1', TEMPORAL_TLS: 'true' }, true],
    ['API key implies TLS (Temporal Cloud)', { TEMPORAL_ADDRESS: 'a:1', TEMPORAL_API_KEY: 'k' }, true],
    ['API key with TLS turned off', { TEMPORAL_ADDRESS: 'a:1', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }, false],
    ['mTLS files imply TLS', { TEMPORAL_ADDRESS: 'a:1', TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key }, true],
    ['server CA implies TLS', { TEMPORAL_ADDRESS: 'a:1', TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca }, true],
  ];
  it.each(cases)('%s', (_name, settings, tls) => {
    expect(temporalTls(settings) !== undefined).toBe(tls);
  });

  it('loads the client pair, CA and server name from files', () => {
    const tls = temporalTls({
      TEMPORAL_ADDRESS: 'a:1', TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    expect(tls?.clientCertPair?.crt.toString()).toBe('CERT');
    expect(tls?.clientCertPair?.key.toString()).toBe('KEY');
    expect(tls?.serverRootCACertificate?.toString()).toBe('CA');
    expect(tls?.serverNameOverride).toBe('temporal.internal');
  });

  it('names the setting whose file cannot be read', () => {
    expect(() => temporalTls({ TEMPORAL_ADDRESS: 'a:1', TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'missing.pem') }))
      .toThrow(/TEMPORAL_TLS_SERVER_CA_CERT_PATH=.*missing\.pem: cannot read the file \(ENOENT\)/);
  });
});
