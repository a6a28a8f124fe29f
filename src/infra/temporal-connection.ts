/**
 * Connection options for Temporal from the standard TEMPORAL_* settings, shared by the worker
 * and the CLI: plain TCP for a dev server, mTLS for self-hosted clusters, an API key for Cloud.
 */
import * as fs from 'node:fs';

export interface TemporalSettings {
  TEMPORAL_ADDRESS: string;
  TEMPORAL_API_KEY?: string;
  TEMPORAL_TLS?: 'true' | 'false';
  TEMPORAL_TLS_CLIENT_CERT_PATH?: string;
  TEMPORAL_TLS_CLIENT_KEY_PATH?: string;
  TEMPORAL_TLS_SERVER_CA_CERT_PATH?: string;
  TEMPORAL_TLS_SERVER_NAME?: string;
}

export interface TlsOptions {
  serverNameOverride?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

function readFile(setting: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${setting}=${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)}); fix the path or unset ${setting}`, { cause: err });
  }
}

/** TLS is on when asked for, when any TLS file is given, or with an API key (Temporal Cloud). */
export function temporalTls(s: TemporalSettings): TlsOptions | undefined {
  const wantTls = s.TEMPORAL_TLS === 'true' || (s.TEMPORAL_TLS !== 'false' &&
    Boolean(s.TEMPORAL_TLS_CLIENT_CERT_PATH || s.TEMPORAL_TLS_SERVER_CA_CERT_PATH || s.TEMPORAL_API_KEY));
  if (!wantTls) return undefined;
  const tls: TlsOptions = {};
  if (s.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = s.TEMPORAL_TLS_SERVER_NAME;
  if (s.TEMPORAL_TLS_SERVER_CA_CERT_PATH) {
    tls.serverRootCACertificate = readFile('TEMPORAL_TLS_SERVER_CA_CERT_PATH', s.TEMPORAL_TLS_SERVER_CA_CERT_PATH);
  }
  if (s.TEMPORAL_TLS_CLIENT_CERT_PATH && s.TEMPORAL_TLS_CLIENT_KEY_PATH) {
    tls.clientCertPair = {
      crt: readFile('TEMPORAL_TLS_CLIENT_CERT_PATH', s.TEMPORAL_TLS_CLIENT_CERT_PATH),
      key: readFile('TEMPORAL_TLS_CLIENT_KEY_PATH', s.TEMPORAL_TLS_CLIENT_KEY_PATH),
    };
  }
  return tls;
}

export function temporalConnectionOptions(s: TemporalSettings) {
  return {
    address: s.TEMPORAL_ADDRESS,
    tls: temporalTls(s),
    apiKey: s.TEMPORAL_API_KEY,
  };
}
