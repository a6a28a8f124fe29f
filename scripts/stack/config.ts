/**
 * Where the local stack lives: ports, state directory, binary paths. Everything is on loopback,
 * and every port can be moved with an environment variable (RAMP_PORT_<COMPONENT>).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Ports of every listener the stack opens, each overridable by RAMP_PORT_<KEY in upper snake case>. */
export const DEFAULT_PORTS = {
  temporal: 7233,
  temporalUi: 8233,
  temporalHttp: 7243,
  temporalMetrics: 7244,
  etcd: 12379,
  etcdPeer: 12380,
  apiserver: 16443,
  controllerManager: 17257,
  scheduler: 17259,
  kwok: 17247,
  prometheus: 19090,
  contourXds: 18001,
  /** Contour's metrics and health endpoints share one listener. */
  contourHttp: 18000,
  contourDebug: 18006,
  /** The git server (smart HTTP with basic auth). */
  git: 19418,
  /** The git server over SSH (OpenSSH's sshd, git-shell only), serving the same repositories. */
  gitSsh: 19422,
  /** Flux's source-controller serves the artifacts it fetched here; kustomize-controller downloads them. */
  fluxSourceStorage: 19690,
  fluxSourceMetrics: 19691,
  fluxSourceHealth: 19692,
  fluxKustomizeMetrics: 19693,
  fluxKustomizeHealth: 19694,
} as const;

export type PortName = keyof typeof DEFAULT_PORTS;

/** Paths of the installed binaries, written by stack/install.sh. */
export interface BinaryPaths {
  temporal: string;
  /** Temporal's time-skipping test server, for workflow unit tests. */
  temporalTestServer: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
  etcd: string;
  prometheus: string;
  /** The folder of upstream Istio and Gateway API CRD files (stack/install.sh). */
  crds: string;
  /** Contour's `contour` binary: the Gateway API controller that writes route status. */
  contour: string;
  /** The folder of Contour's own CRDs and upstream RBAC roles (crds.yaml, rbac.yaml). */
  contourManifests: string;
  /** Flux's source-controller: fetches Git repositories into artifacts it serves over HTTP. */
  fluxSourceController: string;
  /** Flux's kustomize-controller: applies those artifacts to the cluster and prunes what left them. */
  fluxKustomizeController: string;
  /** The folder of Flux's CRDs and the two controllers' upstream ClusterRoles (rbac-<controller>.yaml). */
  fluxManifests: string;
  /** OpenSSH's sshd (Debian's openssh-server): the git server over SSH. */
  sshd: string;
}

export interface StackConfig {
  host: string;
  ports: Record<PortName, number>;
  stateDir: string;
  cacheDir: string;
  /** How many KWOK fake nodes to register. */
  nodes: number;
  /** Prometheus scrape interval, short so tests see fresh samples quickly. */
  scrapeInterval: string;
  temporalNamespace: string;
}

function envPortKey(name: string): string {
  return 'RAMP_PORT_' + name.replace(/([A-Z])/g, '_$1').toUpperCase();
}

function parsePort(key: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new Error(`${key}=${JSON.stringify(raw)}: must be a TCP port between 1 and 65535`);
  }
  return n;
}

export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const ports = { ...DEFAULT_PORTS } as Record<PortName, number>;
  for (const name of Object.keys(DEFAULT_PORTS) as PortName[]) {
    const key = envPortKey(name);
    const raw = env[key];
    if (raw !== undefined && raw !== '') ports[name] = parsePort(key, raw);
  }
  const nodes = Number(env.RAMP_STACK_NODES ?? '2');
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) {
    throw new Error(`RAMP_STACK_NODES=${env.RAMP_STACK_NODES}: must be a whole number from 1 to 50`);
  }
  return {
    host: '127.0.0.1',
    ports,
    stateDir: path.resolve(env.RAMP_STATE_DIR ?? path.join(REPO_ROOT, '.stack')),
    cacheDir: path.resolve(env.RAMP_CACHE ?? path.join(os.homedir(), '.cache', 'ramp')),
    nodes,
    scrapeInterval: env.RAMP_SCRAPE_INTERVAL ?? '1s',
    temporalNamespace: env.RAMP_TEMPORAL_NAMESPACE ?? 'default',
  };
}

export function loadBinaryPaths(cfg: StackConfig): BinaryPaths {
  const file = path.join(cfg.cacheDir, 'paths.json');
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run \`npm run stack:install\` (bash stack/install.sh) first`);
  }
  const paths = JSON.parse(fs.readFileSync(file, 'utf8')) as BinaryPaths;
  for (const [name, p] of Object.entries(paths) as [string, string][]) {
    if (!fs.existsSync(p)) {
      throw new Error(`${name} binary ${p} is missing: run \`npm run stack:install\` again`);
    }
  }
  return paths;
}

/** Files and folders inside the state directory. */
export function statePaths(cfg: StackConfig) {
  const d = cfg.stateDir;
  return {
    root: d,
    logs: path.join(d, 'logs'),
    pids: path.join(d, 'pids'),
    pki: path.join(d, 'pki'),
    etcdData: path.join(d, 'etcd'),
    temporalDb: path.join(d, 'temporal', 'temporal.db'),
    prometheusConfig: path.join(d, 'prometheus', 'prometheus.yml'),
    prometheusData: path.join(d, 'prometheus', 'data'),
    prometheusTargets: path.join(d, 'prometheus', 'targets'),
    kwokConfig: path.join(d, 'kwok', 'kwok.yaml'),
    adminKubeconfig: path.join(d, 'kubeconfig', 'admin.kubeconfig'),
    controllerManagerKubeconfig: path.join(d, 'kubeconfig', 'controller-manager.kubeconfig'),
    schedulerKubeconfig: path.join(d, 'kubeconfig', 'scheduler.kubeconfig'),
    contourKubeconfig: path.join(d, 'kubeconfig', 'contour.kubeconfig'),
    contourConfig: path.join(d, 'contour', 'contour.yaml'),
    fluxSourceKubeconfig: path.join(d, 'kubeconfig', 'flux-source-controller.kubeconfig'),
    fluxKustomizeKubeconfig: path.join(d, 'kubeconfig', 'flux-kustomize-controller.kubeconfig'),
    /** Where source-controller keeps the artifacts it serves. */
    fluxArtifacts: path.join(d, 'flux', 'artifacts'),
    gitRepos: path.join(d, 'git', 'repos'),
    /** `user:password` lines the git server accepts. */
    gitCredentials: path.join(d, 'git', 'credentials'),
    /** The stack user's password alone, for clients that take a password file. */
    gitPassword: path.join(d, 'git', 'password'),
    /** The SSH side of the git server: sshd's config, host key, authorized_keys, and the client's key and known_hosts. */
    gitSsh: path.join(d, 'git', 'ssh'),
    info: path.join(d, 'stack.json'),
  };
}
