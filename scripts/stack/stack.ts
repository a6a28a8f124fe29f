/**
 * The local stack: `up`, `down [--purge]`, `status`. See README "Local stack".
 * Also a library: test/global-setup.ts calls stackUp/stackDown directly.
 */
import * as fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { components, Component } from './components';
import { loadBinaryPaths, loadStackConfig, StackConfig, statePaths } from './config';
import { waitFor } from './health';
import { describeStack, StackInfo } from './info';
import { ensureCrds, ensureFakeNodes, ensureFlux, ensureGateway, FLUX_NAMESPACE, loadCrds, STACK_GATEWAY, waitNodesReady } from './kube-bootstrap';
import { CLIENTS, ensurePki, writeKubeconfig } from './pki';
import { isRunning, readRecord, start, stop, tail } from './proc';

const log = (msg: string) => process.stderr.write(`[stack] ${msg}\n`);

function prepareState(cfg: StackConfig): void {
  const s = statePaths(cfg);
  for (const d of [s.root, s.logs, s.pids]) fs.mkdirSync(d, { recursive: true });
  ensurePki(s.pki);
  const server = `https://${cfg.host}:${cfg.ports.apiserver}`;
  const files: Record<string, string> = {
    admin: s.adminKubeconfig,
    'controller-manager': s.controllerManagerKubeconfig,
    scheduler: s.schedulerKubeconfig,
    contour: s.contourKubeconfig,
    'flux-source-controller': s.fluxSourceKubeconfig,
    'flux-kustomize-controller': s.fluxKustomizeKubeconfig,
  };
  for (const c of CLIENTS) writeKubeconfig(files[c.file]!, server, s.pki, c);
}

/** Starts one component unless it already runs; waits until it is ready. Returns true if it started it. */
async function bringUp(cfg: StackConfig, c: Component, exe: string): Promise<boolean> {
  const s = statePaths(cfg);
  const dirs = { pids: s.pids, logs: s.logs };
  const rec = readRecord(dirs, c.name);
  if (rec && isRunning(rec)) {
    await waitFor(c.name, c.ready, c.readyTimeoutMs, () => `log ${rec.log}:\n${tail(rec.log)}`);
    return false;
  }
  c.prepare?.();
  const t0 = Date.now();
  const started = start(dirs, c.name, exe, c.args(), c.env?.());
  await waitFor(c.name, async () => {
    if (!isRunning(started)) throw new Error(`${c.name} exited during start; last lines of ${started.log}:\n${tail(started.log)}`);
    return c.ready();
  }, c.readyTimeoutMs, () => `last lines of ${started.log}:\n${tail(started.log)}`);
  log(`${c.name} ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (pid ${started.pid})`);
  return true;
}

export async function stackUp(cfg = loadStackConfig()): Promise<{ info: StackInfo; started: string[] }> {
  const bins = loadBinaryPaths(cfg);
  prepareState(cfg);
  const all = components(cfg);
  const started: string[] = [];
  const ready = new Map<string, Promise<void>>();
  const launch = (c: Component): Promise<void> => {
    let p = ready.get(c.name);
    if (!p) {
      p = (async () => {
        for (const dep of c.after) await launch(all.find((x) => x.name === dep)!);
        if (await bringUp(cfg, c, c.exe(bins))) started.push(c.name);
      })();
      ready.set(c.name, p);
    }
    return p;
  };
  const settle = async (cs: Component[]) => {
    const results = await Promise.allSettled(cs.map(launch));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw new Error(failed.map((f) => (f.reason as Error).message).join('\n\n'));
  };
  try {
    await settle(all.filter((c) => !c.afterBootstrap));

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(statePaths(cfg).adminKubeconfig);
    const crds = await ensureCrds(kc, loadCrds(bins.crds));
    log(`CRDs established: ${crds.join(', ')}`);
    const nodes = await ensureFakeNodes(kc, cfg.nodes);
    await waitNodesReady(kc, nodes, 60_000);
    log(`KWOK nodes Ready: ${nodes.join(', ')}`);
    const contourCrds = await ensureGateway(kc, bins.contourManifests);
    log(`Contour CRDs established (${contourCrds.length}); Gateway ${STACK_GATEWAY.namespace}/${STACK_GATEWAY.name} applied`);
    const fluxCrds = await ensureFlux(kc, bins.fluxManifests);
    log(`Flux CRDs established (${fluxCrds.length}); namespace ${FLUX_NAMESPACE} and the controllers' RBAC applied`);
    await settle(all.filter((c) => c.afterBootstrap));
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    const info = describeStack(cfg, nodes, version.gitVersion);
    fs.writeFileSync(statePaths(cfg).info, JSON.stringify(info, null, 2) + '\n');
    return { info, started };
  } catch (err) {
    // Leave nothing half-started: stop what this call started, keep the logs for diagnosis.
    log(`start failed; stopping what this run started (${started.join(', ') || 'nothing'})`);
    await stackDown(cfg, started);
    throw err;
  }
}

/** Stops the named components (default: all), in reverse start order. */
export async function stackDown(cfg = loadStackConfig(), only?: string[]): Promise<void> {
  const s = statePaths(cfg);
  const names = components(cfg).map((c) => c.name).reverse().filter((n) => !only || only.includes(n));
  // Dependants first: KWOK and the controllers before the apiserver, the apiserver before etcd.
  for (const name of names) {
    const outcome = await stop({ pids: s.pids, logs: s.logs }, name);
    if (outcome !== 'not-running') log(`${name} ${outcome}`);
  }
  if (!only) fs.rmSync(s.info, { force: true });
}

/**
 * Stops one component and starts it again with the same state (the Temporal database file,
 * etcd's data): what fault tests use to restart the dev server or the apiserver mid-rollout.
 */
export async function restartComponent(name: string, cfg = loadStackConfig(), downtimeMs = 0): Promise<void> {
  const c = components(cfg).find((x) => x.name === name);
  if (!c) throw new Error(`unknown component ${JSON.stringify(name)}; one of ${components(cfg).map((x) => x.name).join(', ')}`);
  const s = statePaths(cfg);
  await stop({ pids: s.pids, logs: s.logs }, name);
  if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
  await bringUp(cfg, c, c.exe(loadBinaryPaths(cfg)));
}

export interface ComponentStatus {
  name: string;
  pid?: number;
  running: boolean;
  ready: boolean;
  log?: string;
}

export async function stackStatus(cfg = loadStackConfig()): Promise<ComponentStatus[]> {
  const s = statePaths(cfg);
  return Promise.all(
    components(cfg).map(async (c) => {
      const rec = readRecord({ pids: s.pids, logs: s.logs }, c.name);
      const running = rec !== undefined && isRunning(rec);
      return { name: c.name, pid: rec?.pid, running, ready: running && (await c.ready()), log: rec?.log };
    }),
  );
}

export function formatInfo(info: StackInfo): string {
  return [
    `Temporal      ${info.temporal.address} (namespace ${info.temporal.namespace})`,
    `Temporal UI   ${info.temporal.uiUrl}`,
    `Kubernetes    ${info.kubernetes.server} ${info.kubernetes.version}, nodes ${info.kubernetes.nodes.join(', ')}`,
    `  kubeconfig  ${info.kubernetes.kubeconfig}`,
    `Prometheus    ${info.prometheus.url} (file SD: ${info.prometheus.targetsDir}/*.json, scrape every ${info.prometheus.scrapeInterval})`,
    `Gateway       ${info.gateway.namespace}/${info.gateway.name} (class ${info.gateway.className}, Contour ${info.gateway.metricsUrl})`,
    `Git           ${info.git.url} (user ${info.git.username}, password file ${info.git.passwordFile})`,
    `  over SSH    ${info.git.ssh.url} (key ${info.git.ssh.keyFile}, known_hosts ${info.git.ssh.knownHostsFile})`,
    `Flux          source-controller artifacts ${info.flux.artifactsUrl}, kustomize-controller (all namespaces)`,
    `State, logs   ${info.stateDir}, ${info.logsDir}`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] ?? 'status';
  const cfg = loadStackConfig();
  switch (cmd) {
    case 'up': {
      const t0 = Date.now();
      const { info } = await stackUp(cfg);
      log(`up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      console.log(formatInfo(info));
      return 0;
    }
    case 'down':
      await stackDown(cfg);
      if (argv.includes('--purge')) {
        fs.rmSync(cfg.stateDir, { recursive: true, force: true });
        log(`removed ${cfg.stateDir}`);
      }
      return 0;
    case 'status': {
      const st = await stackStatus(cfg);
      for (const c of st) {
        console.log(`${c.name.padEnd(26)} ${c.running ? `pid ${String(c.pid).padEnd(8)}` : 'stopped     '} ${c.ready ? 'ready' : 'not ready'}`);
      }
      return st.every((c) => c.ready) ? 0 : 1;
    }
    default:
      console.error(`unknown command ${JSON.stringify(cmd)}: use up, down [--purge] or status`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`stack: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
