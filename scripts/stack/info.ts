/** What `stack up` publishes in <state>/stack.json for tests, the demo and people. */
import * as fs from 'node:fs';
import { StackConfig, statePaths } from './config';
import { STACK_GIT_USER } from './git-server';
import { sshBaseUrl, sshServerFiles, sshUser } from './git-ssh';
import { FLUX_NAMESPACE, STACK_GATEWAY } from './kube-bootstrap';

export interface StackInfo {
  temporal: { address: string; namespace: string; uiUrl: string; dbFile: string };
  kubernetes: { server: string; kubeconfig: string; nodes: string[]; version: string };
  prometheus: { url: string; targetsDir: string; scrapeInterval: string };
  /** The Gateway Contour manages: a route with a parentRef to it gets status from a real controller. */
  gateway: { namespace: string; name: string; className: string; controllerName: string; listener: string; metricsUrl: string };
  /**
   * The git server: `<url>/<name>.git` serves `<reposDir>/<name>.git`. Credentials stay in files
   * (mode 0600): `passwordFile` holds the password, `credentialsFile` the line `username:password`.
   */
  git: {
    url: string; username: string; passwordFile: string; credentialsFile: string; reposDir: string;
    /**
     * The same repositories over SSH: `<url>/<name>.git` serves `<reposDir>/<name>.git`, for the
     * account `user` with the private key `keyFile` (mode 0600); `knownHostsFile` holds the
     * server's host key.
     */
    ssh: { url: string; user: string; port: number; keyFile: string; knownHostsFile: string };
  };
  /**
   * Flux's source-controller and kustomize-controller: GitRepositories and Kustomizations in any
   * namespace are reconciled. `artifactsUrl` is where source-controller serves what it fetched.
   */
  flux: { namespace: string; artifactsUrl: string; sourceControllerMetrics: string; kustomizeControllerMetrics: string };
  stateDir: string;
  logsDir: string;
}

export function describeStack(cfg: StackConfig, nodes: string[], k8sVersion: string): StackInfo {
  const s = statePaths(cfg);
  const ssh = sshServerFiles(s.gitSsh);
  const h = cfg.host;
  return {
    temporal: {
      address: `${h}:${cfg.ports.temporal}`,
      namespace: cfg.temporalNamespace,
      uiUrl: `http://${h}:${cfg.ports.temporalUi}`,
      dbFile: s.temporalDb,
    },
    kubernetes: { server: `https://${h}:${cfg.ports.apiserver}`, kubeconfig: s.adminKubeconfig, nodes, version: k8sVersion },
    prometheus: { url: `http://${h}:${cfg.ports.prometheus}`, targetsDir: s.prometheusTargets, scrapeInterval: cfg.scrapeInterval },
    gateway: { ...STACK_GATEWAY, metricsUrl: `http://${h}:${cfg.ports.contourHttp}/metrics` },
    git: {
      url: `http://${h}:${cfg.ports.git}`, username: STACK_GIT_USER, passwordFile: s.gitPassword, credentialsFile: s.gitCredentials, reposDir: s.gitRepos,
      ssh: { url: sshBaseUrl(h, cfg.ports.gitSsh), user: sshUser(), port: cfg.ports.gitSsh, keyFile: ssh.clientKey, knownHostsFile: ssh.knownHosts },
    },
    flux: {
      namespace: FLUX_NAMESPACE,
      artifactsUrl: `http://${h}:${cfg.ports.fluxSourceStorage}`,
      sourceControllerMetrics: `http://${h}:${cfg.ports.fluxSourceMetrics}/metrics`,
      kustomizeControllerMetrics: `http://${h}:${cfg.ports.fluxKustomizeMetrics}/metrics`,
    },
    stateDir: s.root,
    logsDir: s.logs,
  };
}

/** Reads stack.json, or explains how to bring the stack up. */
export function readStackInfo(cfg: StackConfig): StackInfo {
  const file = statePaths(cfg).info;
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: the local stack is not up (run \`npm run stack -- up\`)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as StackInfo;
}
