/**
 * docker-compose.yml cannot run on the project's machines (no Docker engine), so this checks it
 * statically: the worker's environment passes the worker's own configuration schema, and every
 * address in it names a service of the file on a port that service listens on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { loadWorkerConfig, workerEnvShape } from '../../src/worker/config';
import { RAMP_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[];
  command?: string[];
}

const compose = YAML.parse(fs.readFileSync(path.join(__dirname, '../../docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const services = compose.services;
const worker = services['ramp-worker']!;

/** The container port a service listens on, from its `ports` mapping (host:container). */
function containerPorts(name: string): number[] {
  return (services[name]?.ports ?? []).map((p) => Number(p.split(':').pop()));
}

describe('docker-compose.yml', () => {
  it('has Temporal, its database, the UI, Prometheus and the Ramp worker', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgresql', 'temporal', 'temporal-ui', 'prometheus', 'ramp-worker']));
    expect(worker.build).toBe('.');
    expect(fs.existsSync(path.join(__dirname, '../../Dockerfile'))).toBe(true);
  });

  it("gives the worker only settings its configuration schema knows, and they validate", () => {
    const env = worker.environment ?? {};
    const known = Object.keys(workerEnvShape);
    for (const key of Object.keys(env)) expect(known).toContain(key);
    expect(() => loadWorkerConfig(env)).not.toThrow();
  });

  it("points the worker's Temporal address at the temporal service's gRPC port", () => {
    const cfg = loadWorkerConfig(worker.environment ?? {});
    const [host, port] = cfg.TEMPORAL_ADDRESS.split(':');
    expect(services[host!]).toBeDefined();
    expect(containerPorts(host!)).toContain(Number(port));
    expect(worker.depends_on).toContain(host);
  });

  it("points the worker's Prometheus URL at the prometheus service", () => {
    const cfg = loadWorkerConfig(worker.environment ?? {});
    const url = new URL(cfg.RAMP_PROMETHEUS_URL);
    expect(services[url.hostname]).toBeDefined();
    expect(containerPorts(url.hostname)).toContain(Number(url.port));
  });

  it('mounts the kubeconfig where KUBECONFIG points', () => {
    const cfg = loadWorkerConfig(worker.environment ?? {});
    // host:container[:mode]; the host side may itself hold ':' (${KUBECONFIG:-…}).
    const targets = (worker.volumes ?? []).map((v) => /:(\/[^:]+)(?::(?:ro|rw))?$/.exec(v)?.[1]);
    expect(targets).toContain(cfg.KUBECONFIG);
  });

  it("registers exactly Ramp's search attributes", () => {
    const script = (services['temporal-setup']?.command ?? []).join(' ');
    const listed = /for sa in ([\w ]+);/.exec(script)?.[1]?.trim().split(/\s+/);
    expect(listed?.sort()).toEqual(RAMP_SEARCH_ATTRIBUTES.map((k) => k.name).sort());
  });
});
