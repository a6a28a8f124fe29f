/**
 * The alert rules (deploy/alerts/): promtool accepts them and their unit tests pass, every series
 * they name is one the worker exports, and the PrometheusRule manifest holds exactly the rules
 * file's groups. RAMP_UPDATE_ALERTS=1 rewrites the manifest from the rules file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { RampMetrics } from '../../../src/worker/metrics';

const DIR = path.resolve(__dirname, '../../../deploy/alerts');
const RULES = path.join(DIR, 'ramp-rules.yaml');
const MANIFEST = path.join(DIR, 'prometheusrule.yaml');

/** promtool from Debian's prometheus package, which stack/install.sh installs. */
function promtool(): string {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('promtool not found: run `npm run stack:install` (it installs Debian\'s prometheus package, which ships promtool)');
  return found;
}

function run(args: string[]): { code: number; out: string } {
  const r = spawnSync(promtool(), args, { cwd: DIR, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The PrometheusRule manifest for the rules file: the same groups, under the Operator's kind. */
function renderManifest(rulesYaml: string): string {
  const { groups } = YAML.parse(rulesYaml) as { groups: unknown[] };
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'ramp-worker', labels: { 'app.kubernetes.io/name': 'ramp', 'app.kubernetes.io/component': 'worker' } },
    spec: { groups },
  };
  return '# Generated from ramp-rules.yaml by test/unit/worker/alert-rules.test.ts (RAMP_UPDATE_ALERTS=1): edit the rules there.\n'
    + YAML.stringify(manifest, { lineWidth: 0 });
}

describe('alert rules', () => {
  const rulesYaml = fs.readFileSync(RULES, 'utf8');

  if (process.env.RAMP_UPDATE_ALERTS === '1') fs.writeFileSync(MANIFEST, renderManifest(rulesYaml));

  it('pass promtool check rules', () => {
    const r = run(['check', 'rules', RULES]);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code).toBe(0);
  });

  it('pass their promtool unit tests (each alert fires when it should, and only then)', () => {
    const r = run(['test', 'rules', 'ramp-rules.test.yaml']);
    if (r.code !== 0) throw new Error(r.out);
    expect(r.out).toMatch(/SUCCESS/);
  });

  it('test every alert they define', () => {
    const alerts = (YAML.parse(rulesYaml) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    const tests = YAML.parse(fs.readFileSync(path.join(DIR, 'ramp-rules.test.yaml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const quiet = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)));
    expect(alerts.filter((a) => !firing.has(a))).toEqual([]);
    // And a case where it stays quiet.
    expect(alerts.filter((a) => !quiet.has(a))).toEqual([]);
  });

  it("name only Ramp series the worker exports (and the SDK's temporal_num_pollers)", async () => {
    const exported = new Set((await new RampMetrics({ ready: () => Promise.resolve(true) }).registry.getMetricsAsJSON()).map((m) => m.name));
    const named = new Set([...rulesYaml.matchAll(/\b((?:ramp|temporal)_[a-z_]+)/g)].map((m) => m[1]!));
    const unknown = [...named].filter((n) => !exported.has(n) && n !== 'temporal_num_pollers');
    expect(unknown).toEqual([]);
  });

  it('are the PrometheusRule manifest, group for group', () => {
    expect(fs.readFileSync(MANIFEST, 'utf8')).toBe(renderManifest(rulesYaml));
    const manifest = YAML.parse(fs.readFileSync(MANIFEST, 'utf8')) as { kind: string; spec: { groups: unknown } };
    expect(manifest.kind).toBe('PrometheusRule');
    expect(manifest.spec.groups).toEqual((YAML.parse(rulesYaml) as { groups: unknown }).groups);
  });

  it("are loaded by docker-compose's Prometheus (deploy/prometheus.yml), which also scrapes both worker endpoints", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-prom-'));
    try {
      const config = fs.readFileSync(path.resolve(DIR, '../prometheus.yml'), 'utf8');
      // The file names the rules where docker-compose.yml mounts deploy/alerts.
      const compose = fs.readFileSync(path.resolve(DIR, '../../docker-compose.yml'), 'utf8');
      expect(compose).toContain('./deploy/alerts:/etc/prometheus/alerts:ro');
      fs.writeFileSync(path.join(tmp, 'prometheus.yml'), config.replaceAll('/etc/prometheus/alerts/', `${DIR}/`));
      const r = spawnSync(promtool(), ['check', 'config', path.join(tmp, 'prometheus.yml')], { encoding: 'utf8' });
      const count = (YAML.parse(rulesYaml) as { groups: { rules: unknown[] }[] }).groups.flatMap((g) => g.rules).length;
      expect(`${r.stdout}${r.stderr}`).toContain(`SUCCESS: ${count} rules found`);
      expect(r.status).toBe(0);
      const jobs = (YAML.parse(config) as { scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[] }).scrape_configs;
      expect(jobs.find((j) => j.job_name === 'ramp-worker')?.static_configs?.flatMap((c) => c.targets)).toEqual(['ramp-worker:9464', 'ramp-worker:9465']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a broken rule fails promtool check rules (the check can fail)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-rules-'));
    const broken = path.join(tmp, 'broken.yaml');
    fs.writeFileSync(broken, rulesYaml.replace('> 1800)', '> )'));
    try {
      expect(() => execFileSync(promtool(), ['check', 'rules', broken], { stdio: 'pipe' })).toThrow();
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
