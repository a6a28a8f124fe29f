/**
 * The local cluster's certificates and kubeconfigs, made with the openssl CLI once per state
 * directory: a CA, the apiserver's serving certificate, client certificates for the admin
 * (system:masters), the controller-manager, the scheduler, Contour and Flux's two controllers, and
 * the ServiceAccount signing key.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface ClientIdentity {
  /** File name stem under pki/. */
  file: string;
  /** Certificate CN: the Kubernetes user name. */
  user: string;
  /** Certificate O entries: the Kubernetes groups. */
  groups: string[];
}

export const CLIENTS: ClientIdentity[] = [
  { file: 'admin', user: 'ramp-admin', groups: ['system:masters'] },
  { file: 'controller-manager', user: 'system:kube-controller-manager', groups: [] },
  { file: 'scheduler', user: 'system:kube-scheduler', groups: [] },
  // Bound to upstream's `contour` ClusterRole and Role at bootstrap: no more rights than in a cluster.
  { file: 'contour', user: 'ramp-contour', groups: [] },
  // Flux's controllers, bound at bootstrap as Flux's own install binds them (kube-bootstrap.ts, FLUX_USERS).
  { file: 'flux-source-controller', user: 'ramp-flux-source-controller', groups: [] },
  { file: 'flux-kustomize-controller', user: 'ramp-flux-kustomize-controller', groups: [] },
];

function subject(cn: string, groups: string[]): string {
  return groups.map((g) => `/O=${g}`).join('') + `/CN=${cn}`;
}

function signed(dir: string, stem: string, subj: string, extensions: string): void {
  openssl(['genrsa', '-out', `${stem}.key`, '2048'], dir);
  openssl(['req', '-new', '-key', `${stem}.key`, '-subj', subj, '-out', `${stem}.csr`], dir);
  fs.writeFileSync(path.join(dir, `${stem}.ext`), extensions);
  openssl(
    ['x509', '-req', '-in', `${stem}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '3650', '-sha256', '-extfile', `${stem}.ext`, '-out', `${stem}.crt`],
    dir,
  );
  fs.rmSync(path.join(dir, `${stem}.csr`));
  fs.rmSync(path.join(dir, `${stem}.ext`));
}

/** Creates every key and certificate that does not exist yet. */
export function ensurePki(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const have = (f: string) => fs.existsSync(path.join(dir, f));
  if (!have('ca.crt')) {
    openssl(['genrsa', '-out', 'ca.key', '2048'], dir);
    openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=ramp-local-ca', '-days', '3650', '-sha256',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-out', 'ca.crt'], dir);
  }
  if (!have('apiserver.crt')) {
    const san = [
      'IP:127.0.0.1', 'IP:10.96.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local',
    ].join(',');
    signed(dir, 'apiserver', '/CN=kube-apiserver',
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  }
  for (const c of CLIENTS) {
    if (!have(`${c.file}.crt`)) {
      signed(dir, c.file, subject(c.user, c.groups),
        'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
    }
  }
  if (!have('sa.key')) {
    openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
    openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  }
}

/** A kubeconfig that points at the local apiserver with one of the client certificates. */
export function writeKubeconfig(file: string, server: string, pkiDir: string, client: ClientIdentity): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const p = (f: string) => path.join(pkiDir, f);
  const yaml = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: ramp-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${p('ca.crt')}`,
    'users:',
    `- name: ${client.user}`,
    '  user:',
    `    client-certificate: ${p(client.file + '.crt')}`,
    `    client-key: ${p(client.file + '.key')}`,
    'contexts:',
    '- name: ramp-local',
    '  context:',
    '    cluster: ramp-local',
    `    user: ${client.user}`,
    'current-context: ramp-local',
    '',
  ].join('\n');
  fs.writeFileSync(file, yaml, { mode: 0o600 });
}
