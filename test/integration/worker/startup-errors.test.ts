/**
 * A worker process that cannot reach Temporal, Kubernetes or Prometheus at start prints one line
 * on stderr naming the setting to fix and exits 1, without a stack trace unless RAMP_DEBUG=1 asks
 * for it. Every other setting points at the running local stack, so each case breaks one thing: a
 * closed loopback port, or a kubeconfig file that does not exist.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { stackInfo, uniqueName, workerEnv } from '../../support/stack';
import { freePort, jsonLines, ownLines, runWorkerToExit } from './observed-worker';

const base = () => workerEnv(stackInfo(), uniqueName('startup-tq'));
const STACK_LINE = /^\s+at /m;

describe('a worker that cannot start', () => {
  it.each([
    ['TEMPORAL_ADDRESS', async () => ({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` }), /^ramp worker: cannot start: TEMPORAL_ADDRESS=127\.0\.0\.1:\d+: cannot reach Temporal \(Connection refused\); set TEMPORAL_ADDRESS to the host:port of your Temporal frontend$/],
    ['KUBECONFIG', () => Promise.resolve({ KUBECONFIG: path.join(os.tmpdir(), `${uniqueName('missing')}.kubeconfig`) }), /^ramp worker: cannot start: KUBECONFIG=\S+\.kubeconfig: file not found; point KUBECONFIG at a kubeconfig file, or unset it to use the in-cluster ServiceAccount$/],
    ['RAMP_PROMETHEUS_URL', async () => ({ RAMP_PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}` }), /^ramp worker: cannot start: RAMP_PROMETHEUS_URL=http:\/\/127\.0\.0\.1:\d+: cannot reach Prometheus \(ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+\); set RAMP_PROMETHEUS_URL to the base URL of your Prometheus \(or Thanos, Mimir\) query API$/],
  ])('%s: one line naming it, exit code 1, no stack trace', async (_setting, broken, line) => {
    const r = await runWorkerToExit({ ...base(), ...(await broken()) });
    expect(r.code).toBe(1);
    const lines = ownLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    expect(r.stderr).not.toMatch(STACK_LINE);
    // What it logged before giving up is JSON, as always.
    expect(jsonLines(r.stdout).map((l) => l.msg)).toEqual([expect.stringMatching(/^serving \/healthz, \/readyz and \/metrics on /)]);
  }, 60_000);

  it('names each broken setting on its own line when several are', async () => {
    const r = await runWorkerToExit({ ...base(), TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, RAMP_PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}` });
    expect(r.code).toBe(1);
    expect(ownLines(r.stderr).map((l) => /cannot start: (\w+)=/.exec(l)?.[1]).sort()).toEqual(['RAMP_PROMETHEUS_URL', 'TEMPORAL_ADDRESS']);
  }, 60_000);

  it('prints the stack trace and the cause with RAMP_DEBUG=1', async () => {
    const r = await runWorkerToExit({ ...base(), TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, RAMP_DEBUG: '1' });
    expect(r.code).toBe(1);
    expect(ownLines(r.stderr)[0]).toMatch(/^ramp worker: cannot start: TEMPORAL_ADDRESS=/);
    expect(r.stderr).toMatch(STACK_LINE);
    expect(r.stderr).toMatch(/caused by: TransportError: .*Connection refused/);
  }, 60_000);

  it('names RAMP_HTTP_ADDRESS when its port is taken', async () => {
    const taken = stackInfo().prometheus.url.replace(/^http:\/\//, '');
    const r = await runWorkerToExit({ ...base(), RAMP_HTTP_ADDRESS: taken });
    expect(r.code).toBe(1);
    expect(ownLines(r.stderr)).toEqual([`ramp worker: cannot start: RAMP_HTTP_ADDRESS=${taken}: cannot listen (the port is in use); set RAMP_HTTP_ADDRESS to a free host:port`]);
  }, 60_000);
});
