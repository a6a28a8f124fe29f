/**
 * Prometheus is real: it discovers a target the test adds through file-based service discovery
 * (no restart), scrapes the HTTP endpoint the test serves, and a query returns its series.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import axios from 'axios';
import { eventually, stackInfo, uniqueName } from '../../support/stack';

interface VectorResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('local Prometheus', () => {
  const info = stackInfo();
  const id = uniqueName('smoke');
  let server: http.Server;
  let hits = 0;
  let targetFile: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      hits++;
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE ramp_smoke_requests_total counter\nramp_smoke_requests_total{smoke_id="${id}"} ${hits * 7}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    targetFile = path.join(info.prometheus.targetsDir, `${id}.json`);
    fs.writeFileSync(targetFile, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { smoke: id } }]));
  });

  afterAll(async () => {
    fs.rmSync(targetFile, { force: true });
    await new Promise((r) => server.close(r));
  });

  it('scrapes a target added by file SD and answers a query with its series', async () => {
    const query = `ramp_smoke_requests_total{smoke_id="${id}"}`;
    const series = await eventually('the series in Prometheus', async () => {
      const res = await axios.get<VectorResult>(`${info.prometheus.url}/api/v1/query`, { params: { query } });
      return res.data.data.result[0];
    }, 30_000, 500);
    expect(hits).toBeGreaterThan(0);
    expect(series.metric.smoke).toBe(id);
    expect(series.metric.job).toBe('ramp-targets');
    const value = Number(series.value[1]);
    expect(value % 7).toBe(0);
    expect(value).toBeGreaterThanOrEqual(7);
  });

  it('reports the target as up in its targets API', async () => {
    const res = await axios.get<{ data: { activeTargets: { labels: Record<string, string>; health: string }[] } }>(
      `${info.prometheus.url}/api/v1/targets`, { params: { state: 'active' } });
    const t = res.data.data.activeTargets.find((x) => x.labels.smoke === id);
    expect(t?.health).toBe('up');
  });
});
