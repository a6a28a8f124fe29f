/**
 * The metrics endpoint the bench's analyses read, served over real HTTP and scraped by the local
 * Prometheus (file service discovery, 1 s interval): Istio-named request counters for the canary
 * workload of every bench namespace, so Ramp's built-in `request-success-rate` query answers for
 * each rollout. Counters grow with time — 199 answers 200 and 1 answers 500 per 100 ms tick — so
 * every window's success rate is 99.5 %.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import axios from 'axios';
import { listenOnLoopback } from '../../scripts/traffic/demo-service';

export interface MetricsEndpoint {
  port: number;
  /** Scrapes Prometheus has made of this endpoint so far. */
  scrapes(): number;
  close(): Promise<void>;
}

export async function serveCanaryMetrics(opts: {
  namespaces: readonly string[];
  workload: string;
  targetsDir: string;
  prometheusUrl: string;
  /** A label on the scrape target, unique to this bench run. */
  runId: string;
}): Promise<MetricsEndpoint> {
  const t0 = Date.now();
  let scrapes = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    const ticks = Math.floor((Date.now() - t0) / 100);
    const lines = ['# TYPE istio_requests_total counter'];
    for (const ns of opts.namespaces) {
      const labels = `reporter="destination",destination_workload="${opts.workload}",destination_workload_namespace="${ns}"`;
      lines.push(`istio_requests_total{${labels},response_code="200"} ${ticks * 199}`);
      lines.push(`istio_requests_total{${labels},response_code="500"} ${ticks}`);
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  const port = await listenOnLoopback(server);
  const targetFile = path.join(opts.targetsDir, `scale-${opts.runId}.json`);
  fs.writeFileSync(targetFile, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { ramp_bench: opts.runId } }]));

  // Ready once Prometheus holds every series with several samples in a 20 s window (the bench's rate window).
  const want = opts.namespaces.length * 2;
  const query = `count(count_over_time(istio_requests_total{ramp_bench="${opts.runId}"}[20s]) > 10)`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await axios.get<{ data: { result: { value: [number, string] }[] } }>(`${opts.prometheusUrl}/api/v1/query`, { params: { query } }).catch(() => undefined);
    const have = Number(r?.data.data.result[0]?.value[1] ?? 0);
    if (have >= want) break;
    if (Date.now() > deadline) {
      fs.rmSync(targetFile, { force: true });
      server.close();
      throw new Error(`Prometheus did not scrape the bench metrics endpoint (127.0.0.1:${port}) within 120 s: ${have} of ${want} series`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return {
    port,
    scrapes: () => scrapes,
    async close() {
      fs.rmSync(targetFile, { force: true });
      await new Promise((r) => server.close(r));
    },
  };
}
