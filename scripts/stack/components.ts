/**
 * The stack's components: how each is started and how we know it is ready. Start order follows
 * dependencies (etcd before the apiserver, the apiserver before its controllers and KWOK); Temporal
 * and Prometheus are independent of Kubernetes and start alongside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../../src/client/search-attributes';
import { searchAttributeFlags } from '../../src/shared/search-attributes';
import { BinaryPaths, REPO_ROOT, StackConfig, statePaths } from './config';
import { ensureBareRepo, ensureStackCredentials, gitServerReady, READY_PROBE_REPO } from './git-server';
import { ensureSshServer, sshBaseUrl, sshdArgs, sshServerFiles, sshServerReady } from './git-ssh';
import { httpGet, httpOk } from './health';
import { STACK_GATEWAY } from './kube-bootstrap';

export interface Component {
  name: string;
  /** Names of components that must be ready before this one starts. */
  after: string[];
  exe: (bins: BinaryPaths) => string;
  args: () => string[];
  /** Environment added to this process's own, for programs that take a setting from nowhere else. */
  env?: () => NodeJS.ProcessEnv;
  /** Files or folders to create before start. */
  prepare?: () => void;
  ready: () => Promise<boolean>;
  /** How long a cold start may take before `up` gives up. */
  readyTimeoutMs: number;
  /** Starts only after `up` has installed the CRDs and bootstrap objects it needs. */
  afterBootstrap?: boolean;
}

export function components(cfg: StackConfig): Component[] {
  const s = statePaths(cfg);
  const h = cfg.host;
  const p = cfg.ports;
  const pki = (f: string) => path.join(s.pki, f);
  const apiserverUrl = `https://${h}:${p.apiserver}`;
  const adminTls = { ca: pki('ca.crt'), cert: pki('admin.crt'), key: pki('admin.key') };

  return [
    {
      name: 'etcd',
      after: [],
      exe: (b) => b.etcd,
      args: () => [
        '--name=ramp-local',
        `--data-dir=${s.etcdData}`,
        `--listen-client-urls=http://${h}:${p.etcd}`,
        `--advertise-client-urls=http://${h}:${p.etcd}`,
        `--listen-peer-urls=http://${h}:${p.etcdPeer}`,
        `--initial-advertise-peer-urls=http://${h}:${p.etcdPeer}`,
        `--initial-cluster=ramp-local=http://${h}:${p.etcdPeer}`,
        '--quota-backend-bytes=4294967296',
        '--log-level=warn',
      ],
      prepare: () => fs.mkdirSync(s.etcdData, { recursive: true, mode: 0o700 }),
      ready: () => httpOk(`http://${h}:${p.etcd}/health`, undefined, /"health":\s*"true"/),
      readyTimeoutMs: 30_000,
    },
    {
      name: 'kube-apiserver',
      after: ['etcd'],
      exe: (b) => b.kubeApiserver,
      args: () => [
        `--etcd-servers=http://${h}:${p.etcd}`,
        `--bind-address=${h}`,
        `--advertise-address=${h}`,
        `--secure-port=${p.apiserver}`,
        `--tls-cert-file=${pki('apiserver.crt')}`,
        `--tls-private-key-file=${pki('apiserver.key')}`,
        `--client-ca-file=${pki('ca.crt')}`,
        '--authorization-mode=Node,RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki('sa.pub')}`,
        `--service-account-signing-key-file=${pki('sa.key')}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        // No kubelets or kube-proxy here: nothing would answer on the endpoints it reconciles.
        '--endpoint-reconciler-type=none',
        `--cert-dir=${pki('apiserver-generated')}`,
        '--v=1',
      ],
      ready: () => httpOk(`${apiserverUrl}/readyz`, adminTls, /^ok$/),
      readyTimeoutMs: 90_000,
    },
    {
      name: 'kube-controller-manager',
      after: ['kube-apiserver'],
      exe: (b) => b.kubeControllerManager,
      args: () => [
        `--kubeconfig=${s.controllerManagerKubeconfig}`,
        `--authentication-kubeconfig=${s.controllerManagerKubeconfig}`,
        `--authorization-kubeconfig=${s.controllerManagerKubeconfig}`,
        '--leader-elect=false',
        `--bind-address=${h}`,
        `--secure-port=${p.controllerManager}`,
        `--service-account-private-key-file=${pki('sa.key')}`,
        `--root-ca-file=${pki('ca.crt')}`,
        '--use-service-account-credentials=true',
        `--cert-dir=${pki('controller-manager-generated')}`,
        '--v=1',
      ],
      ready: () => httpOk(`https://${h}:${p.controllerManager}/healthz`, undefined, /^ok$/),
      readyTimeoutMs: 60_000,
    },
    {
      name: 'kube-scheduler',
      after: ['kube-apiserver'],
      exe: (b) => b.kubeScheduler,
      args: () => [
        `--kubeconfig=${s.schedulerKubeconfig}`,
        `--authentication-kubeconfig=${s.schedulerKubeconfig}`,
        `--authorization-kubeconfig=${s.schedulerKubeconfig}`,
        '--leader-elect=false',
        `--bind-address=${h}`,
        `--secure-port=${p.scheduler}`,
        `--cert-dir=${pki('scheduler-generated')}`,
        '--v=1',
      ],
      ready: () => httpOk(`https://${h}:${p.scheduler}/healthz`, undefined, /^ok$/),
      readyTimeoutMs: 60_000,
    },
    {
      name: 'kwok',
      after: ['kube-apiserver'],
      exe: (b) => b.kwok,
      args: () => [
        `--kubeconfig=${s.adminKubeconfig}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        '--cidr=10.244.0.0/16',
        `--node-ip=${h}`,
        `--server-address=${h}:${p.kwok}`,
        // With leases KWOK keeps the fake nodes' heartbeats fresh, so the node lifecycle
        // controller never marks them unreachable and evicts pods.
        '--node-lease-duration-seconds=40',
      ],
      ready: () => httpOk(`http://${h}:${p.kwok}/healthz`),
      readyTimeoutMs: 30_000,
    },
    {
      name: 'temporal',
      after: [],
      exe: (b) => b.temporal,
      args: () => [
        'server', 'start-dev',
        `--db-filename=${s.temporalDb}`,
        `--ip=${h}`,
        `--port=${p.temporal}`,
        `--ui-port=${p.temporalUi}`,
        `--http-port=${p.temporalHttp}`,
        `--metrics-port=${p.temporalMetrics}`,
        `--namespace=${cfg.temporalNamespace}`,
        '--ui-disable-news-fetch',
        '--log-level=warn',
        ...searchAttributeFlags().flatMap((f) => ['--search-attribute', f]),
      ],
      prepare: () => fs.mkdirSync(path.dirname(s.temporalDb), { recursive: true }),
      ready: () => temporalReady(`${h}:${p.temporal}`, cfg.temporalNamespace),
      readyTimeoutMs: 60_000,
    },
    {
      name: 'prometheus',
      after: [],
      exe: (b) => b.prometheus,
      args: () => [
        `--config.file=${s.prometheusConfig}`,
        `--storage.tsdb.path=${s.prometheusData}`,
        `--web.listen-address=${h}:${p.prometheus}`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=2d',
        '--log.level=warn',
      ],
      prepare: () => writePrometheusConfig(cfg),
      ready: () => httpOk(`http://${h}:${p.prometheus}/-/ready`),
      readyTimeoutMs: 30_000,
    },
    {
      // Only the control plane (`contour serve`), no Envoy: it is here to write Gateway API route
      // status, which the Gateway API router waits on (docs/decisions/0026).
      name: 'contour',
      after: ['kube-apiserver'],
      afterBootstrap: true,
      exe: (b) => b.contour,
      args: () => [
        'serve',
        `--kubeconfig=${s.contourKubeconfig}`,
        `--config-path=${s.contourConfig}`,
        // One instance per stack, like the controller-manager and the scheduler: no Lease to wait
        // out when it restarts.
        '--disable-leader-election',
        // No Envoy connects; plain gRPC on loopback saves a certificate.
        '--insecure',
        `--xds-address=${h}`,
        `--xds-port=${p.contourXds}`,
        `--http-address=${h}`,
        `--http-port=${p.contourHttp}`,
        `--health-address=${h}`,
        `--health-port=${p.contourHttp}`,
        `--debug-http-address=${h}`,
        `--debug-http-port=${p.contourDebug}`,
        // Kinds whose CRDs the stack does not install (not in the Gateway API's standard channel at
        // the pinned version, or at an API version this Contour does not read); Contour exits when
        // it cannot watch a kind.
        '--disable-feature=tlsroutes',
        '--disable-feature=tcproutes',
        '--disable-feature=backendtlspolicies',
      ],
      prepare: () => writeContourConfig(cfg),
      // Its first DAG rebuild comes after its informers synced: from then on it writes route status.
      // (GatewayClass status is no sign: a previous run's Accepted stays in etcd.)
      ready: () => httpOk(`http://${h}:${p.contourHttp}/metrics`, undefined, /^contour_dagrebuild_total [1-9]/m),
      readyTimeoutMs: 60_000,
    },
    {
      // Git over smart HTTP with basic auth (git's own http-backend behind a Node server), the
      // repository GitOps rollouts commit to. Node runs it with tsx as a loader, so the recorded
      // pid is the server's own.
      name: 'git',
      after: [],
      exe: () => process.execPath,
      args: () => [
        '--import', pathToFileURL(require.resolve('tsx')).href,
        path.join(REPO_ROOT, 'scripts', 'stack', 'git-server.ts'),
        `--host=${h}`,
        `--port=${p.git}`,
        `--root=${s.gitRepos}`,
        `--credentials=${s.gitCredentials}`,
      ],
      prepare: () => {
        ensureStackCredentials(s.gitCredentials, s.gitPassword);
        ensureBareRepo(s.gitRepos, READY_PROBE_REPO);
      },
      ready: () => gitServerReady(`http://${h}:${p.git}`, s.gitCredentials),
      readyTimeoutMs: 30_000,
    },
    {
      // The same repositories over SSH: OpenSSH's sshd with the stack's own config, host key and
      // authorized_keys, every session held to git fetch and push (scripts/stack/git-ssh.ts).
      name: 'git-ssh',
      after: [],
      exe: (b) => b.sshd,
      args: () => sshdArgs(sshServerFiles(s.gitSsh)),
      prepare: () => void ensureSshServer({ dir: s.gitSsh, host: h, port: p.gitSsh, reposDir: s.gitRepos }),
      ready: () => sshServerReady(sshBaseUrl(h, p.gitSsh), sshServerFiles(s.gitSsh)),
      readyTimeoutMs: 30_000,
    },
    ...fluxComponents(cfg),
  ];
}

/**
 * Flux's source-controller and kustomize-controller, the GitOps agent Ramp's GitOps mode works
 * beside (docs/decisions/0029). They start after bootstrap installed their CRDs and RBAC, and each
 * talks to the apiserver as its own user. One instance of each per stack, like the
 * controller-manager: leader election off, so a restart never waits out a Lease.
 */
function fluxComponents(cfg: StackConfig): Component[] {
  const s = statePaths(cfg);
  const h = cfg.host;
  const p = cfg.ports;
  // Neither binary has a --kubeconfig flag: controller-runtime reads KUBECONFIG.
  const kubeconfig = (file: string) => () => ({ KUBECONFIG: file });
  const common = (metricsPort: number, healthPort: number) => [
    '--watch-all-namespaces=true',
    '--enable-leader-election=false',
    `--metrics-addr=${h}:${metricsPort}`,
    `--health-addr=${h}:${healthPort}`,
    // No notification-controller runs: with no events address the controllers record Kubernetes
    // Events only.
    '--events-addr=',
    '--log-encoding=console',
  ];
  const storage = `${h}:${p.fluxSourceStorage}`;
  return [
    {
      name: 'flux-source-controller',
      after: ['kube-apiserver'],
      afterBootstrap: true,
      exe: (b) => b.fluxSourceController,
      env: kubeconfig(s.fluxSourceKubeconfig),
      args: () => [
        ...common(p.fluxSourceMetrics, p.fluxSourceHealth),
        `--storage-path=${s.fluxArtifacts}`,
        `--storage-addr=${storage}`,
        // The host in every artifact URL it writes to a source's status: kustomize-controller
        // downloads from there, so it must be this loopback listener, not a Service name.
        `--storage-adv-addr=${storage}`,
      ],
      prepare: () => fs.mkdirSync(s.fluxArtifacts, { recursive: true }),
      // Readyz only pings; the artifact server answering too means kustomize-controller can fetch.
      ready: async () =>
        (await httpOk(`http://${h}:${p.fluxSourceHealth}/readyz`)) && (await httpGet(`http://${storage}/`)) !== undefined,
      readyTimeoutMs: 60_000,
    },
    {
      name: 'flux-kustomize-controller',
      after: ['kube-apiserver', 'flux-source-controller'],
      afterBootstrap: true,
      exe: (b) => b.fluxKustomizeController,
      env: kubeconfig(s.fluxKustomizeKubeconfig),
      args: () => common(p.fluxKustomizeMetrics, p.fluxKustomizeHealth),
      ready: () => httpOk(`http://${h}:${p.fluxKustomizeHealth}/readyz`),
      readyTimeoutMs: 60_000,
    },
  ];
}

/** Contour's configuration: the one Gateway it manages, whose GatewayClass names Contour's controller. */
export function writeContourConfig(cfg: StackConfig): void {
  const file = statePaths(cfg).contourConfig;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const yaml = [
    'gateway:',
    '  gatewayRef:',
    `    namespace: ${STACK_GATEWAY.namespace}`,
    `    name: ${STACK_GATEWAY.name}`,
    '',
  ].join('\n');
  fs.writeFileSync(file, yaml);
}

/**
 * Ready when the frontend answers and Ramp's search attributes are registered. The dev server
 * registers them at start (--search-attribute); a database made before an attribute was added
 * gets it here, so upgrading Ramp never needs a fresh database.
 */
async function temporalReady(address: string, namespace: string): Promise<boolean> {
  let conn: Connection | undefined;
  try {
    conn = await Connection.connect({ address, connectTimeout: 1000 });
    // Ready once nothing was missing; what was missing is added now and checked at the next poll.
    const { added } = await ensureSearchAttributes(conn, namespace);
    return added.length === 0;
  } catch {
    return false;
  } finally {
    await conn?.close();
  }
}

/**
 * Prometheus scrapes itself and every target listed in <state>/prometheus/targets/*.json
 * (file-based discovery: a test drops a file there and the target appears without a restart).
 */
export function writePrometheusConfig(cfg: StackConfig): void {
  const s = statePaths(cfg);
  fs.mkdirSync(s.prometheusTargets, { recursive: true });
  fs.mkdirSync(s.prometheusData, { recursive: true });
  const yaml = [
    'global:',
    `  scrape_interval: ${cfg.scrapeInterval}`,
    `  evaluation_interval: ${cfg.scrapeInterval}`,
    `  scrape_timeout: ${cfg.scrapeInterval}`,
    'scrape_configs:',
    '  - job_name: prometheus',
    '    static_configs:',
    `      - targets: ['${cfg.host}:${cfg.ports.prometheus}']`,
    '  - job_name: ramp-targets',
    '    file_sd_configs:',
    '      - files:',
    `          - ${path.join(s.prometheusTargets, '*.json')}`,
    '        refresh_interval: 1s',
    '',
  ].join('\n');
  fs.writeFileSync(s.prometheusConfig, yaml);
}
