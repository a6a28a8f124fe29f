/**
 * The worker's Helm chart on the local stack: helm and kubectl as stack/install.sh builds them
 * ($RAMP_CACHE/bin), run against the admin kubeconfig, and the chart's rendered objects parsed.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { loadStackConfig } from '../../scripts/stack/config';
import { eventually, stackInfo } from './stack';

export const ROOT = path.resolve(__dirname, '../..');
export const CHART = path.join(ROOT, 'charts/ramp-worker');
/** Where stack/install.sh links helm and kubectl. */
export const BIN_DIR = path.join(loadStackConfig().cacheDir, 'bin');

export interface RunResult { code: number; stdout: string; stderr: string }

/** Runs a program to completion (never throws on a non-zero exit); KUBECONFIG is the stack's admin one. */
export function run(file: string, args: string[], opts: { input?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, KUBECONFIG: stackInfo().kubernetes.kubeconfig, PATH: `${BIN_DIR}:${process.env.PATH ?? ''}`, ...opts.env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: opts.timeoutMs ?? 180_000,
    }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown; killed?: boolean }) | null;
      // Could not start at all (ENOENT …): that is the test's problem, not the command's answer.
      if (e && typeof e.code !== 'number' && !e.killed) return reject(e);
      resolve({ code: !e ? 0 : typeof e.code === 'number' ? e.code : -1, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export const helm = (args: string[], opts: Parameters<typeof run>[2] = {}) => run(path.join(BIN_DIR, 'helm'), args, opts);
export const kubectl = (args: string[], opts: Parameters<typeof run>[2] = {}) => run(path.join(BIN_DIR, 'kubectl'), args, opts);

/** Fails with the command's output unless it exited 0. */
export function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** A values file for one test, written to a temporary folder. */
export function valuesFile(values: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-chart-'));
  const file = path.join(dir, 'values.yaml');
  fs.writeFileSync(file, YAML.stringify(values));
  return file;
}

/** Values that point the chart at the local stack. */
export function localValues(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const info = stackInfo();
  return {
    temporal: { address: info.temporal.address, namespace: info.temporal.namespace },
    prometheus: { url: info.prometheus.url },
    ...extra,
  };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** The objects `helm template` renders for these values. */
export async function renderChart(values: unknown, namespace = 'ramp-system', release = 'ramp-worker'): Promise<{ text: string; objects: K8sObject[] }> {
  const text = ok(await helm(['template', release, CHART, '-n', namespace, '-f', valuesFile(values)]), 'helm template');
  const objects = YAML.parseAllDocuments(text).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
  return { text, objects };
}

export function find<T = K8sObject>(objects: K8sObject[], kind: string, name?: string): T {
  const hit = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!hit) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return hit as T;
}

/** The Prometheus Operator release whose ServiceMonitor CRD the chart's ServiceMonitor is checked against. */
export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';

/**
 * Installs the Prometheus Operator's ServiceMonitor CRD into the local cluster (from its Go module,
 * which carries the generated CRDs) unless it is there, and waits until it is Established. It is
 * left installed: other tests may use it, and a second install is a no-op.
 */
export async function ensureServiceMonitorCrd(): Promise<void> {
  const existing = await kubectl(['get', 'crd', 'servicemonitors.monitoring.coreos.com']);
  if (existing.code !== 0) {
    const mod = ok(await run('go', ['mod', 'download', '-json', `github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}`], { cwd: os.tmpdir() }), 'go mod download');
    const dir = (JSON.parse(mod) as { Dir: string }).Dir;
    const file = path.join(dir, 'example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml');
    // Server-side apply: the CRD is larger than client-side apply's last-applied annotation allows.
    ok(await kubectl(['apply', '--server-side', '--field-manager', 'ramp-tests', '-f', file]), 'kubectl apply the ServiceMonitor CRD');
  }
  // Polled rather than `kubectl wait`, which fails at once on a CRD created a moment ago.
  await eventually('the ServiceMonitor CRD to be Established', async () => {
    const r = await kubectl(['get', 'crd', 'servicemonitors.monitoring.coreos.com', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
    return r.stdout.trim() === 'True' ? true : undefined;
  }, 60_000, 500);
}
