/**
 * The determinism lint really bites: code that reads a clock, draws a random number or imports
 * a Node built-in in src/workflows is an error, and so is a floating promise anywhere.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = path.resolve(__dirname, '../..');

function lint(relPath: string, code: string): string[] {
  const file = path.join(ROOT, relPath);
  fs.writeFileSync(file, code);
  try {
    // ESLint loads its config with a dynamic import, which Jest's module runtime does not allow:
    // run it as the CLI, as `npm run lint` does.
    const run = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', file], { cwd: ROOT, encoding: 'utf8' });
    const [res] = JSON.parse(run.stdout) as { messages: { ruleId: string | null; message: string }[] }[];
    return res!.messages.map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe('ESLint rules', () => {
  jest.setTimeout(60_000);

  it('rejects clocks, randomness and Node built-ins in workflow code', () => {
    const msgs = lint('src/workflows/__lint_probe__.ts', [
      "import * as fs from 'node:fs';",
      'export function bad(): number {',
      '  fs.existsSync("/x");',
      '  return Date.now() + Math.random() + new Date().getTime();',
      '}',
      '',
    ].join('\n'));
    expect(msgs.some((m) => m.startsWith('no-restricted-imports'))).toBe(true);
    expect(msgs.filter((m) => m.startsWith('no-restricted-properties'))).toHaveLength(2);
    expect(msgs.some((m) => m.startsWith('no-restricted-syntax'))).toBe(true);
  });

  it('allows the same code in activities', () => {
    const msgs = lint('src/activities/__lint_probe__.ts', [
      "import * as fs from 'node:fs';",
      'export function fine(): number {',
      '  fs.existsSync("/x");',
      '  return Date.now() + Math.random();',
      '}',
      '',
    ].join('\n'));
    expect(msgs).toEqual([]);
  });

  it('keeps the domain below the layers with I/O: not even a type from activities, worker, client or infra', () => {
    const msgs = lint('src/domain/analysis/__lint_probe__.ts', [
      "import type { MetricsProvider } from '../../activities/metrics/provider';",
      "import type { WorkerConfig } from '../../worker/config';",
      "import type { RampClient } from '../../client/connect';",
      "import type { loadKubeConfig } from '../../infra/kube';",
      "import { formatValue } from '../analysis/evaluate';",
      'export type Probe = [MetricsProvider, WorkerConfig, RampClient, typeof loadKubeConfig, typeof formatValue];',
      '',
    ].join('\n'));
    const restricted = msgs.filter((m) => m.startsWith('no-restricted-imports'));
    expect(restricted).toHaveLength(4);
    for (const layer of ['activities/metrics/provider', 'worker/config', 'client/connect', 'infra/kube']) {
      expect(restricted.some((m) => m.includes(`'../../${layer}'`) && m.includes('src/domain is pure'))).toBe(true);
    }
  });

  it('still lets workflow code import activity types, and only types', () => {
    const msgs = lint('src/workflows/__lint_probe__.ts', [
      "import type { MetricsActivities } from '../activities/metrics/activities';",
      "import { createMetricsActivities } from '../activities/metrics/activities';",
      'export type Probe = [MetricsActivities, typeof createMetricsActivities];',
      '',
    ].join('\n'));
    expect(msgs.filter((m) => m.startsWith('no-restricted-imports'))).toEqual([
      expect.stringContaining('Import activity types only'),
    ]);
  });

  it('makes floating promises an error', () => {
    const msgs = lint('src/activities/__lint_probe2__.ts', [
      'async function work(): Promise<void> {}',
      'export function caller(): void {',
      '  work();',
      '}',
      '',
    ].join('\n'));
    expect(msgs.some((m) => m.startsWith('@typescript-eslint/no-floating-promises'))).toBe(true);
  });
});
