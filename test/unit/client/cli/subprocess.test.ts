/**
 * The CLI as a subprocess, as CI runs it, for what needs no stack: exit codes and where things are
 * written for help, parse errors, refused flags, stdin and JSON errors. Temporal's address is one
 * nothing listens on, so a command that connected would exit 3: these must all exit before that.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import YAML from 'yaml';
import { newTestRolloutRaw } from '../../../support/builders';

const ROOT = path.resolve(__dirname, '../../../..');

function ramp(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/client/cli/main.ts'), ...args], {
      cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', INIT_CWD: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

jest.setTimeout(60_000);

it('help and version exit 0 on stdout; ramp alone exits 2', async () => {
  const help = await ramp(['status', '--help']);
  expect(help).toMatchObject({ code: 0, stderr: '' });
  expect(help.stdout).toMatch(/^Usage: ramp status \[options\] <name>\n/);
  expect(help.stdout).toContain('--timeout <duration>');
  const version = await ramp(['--version']);
  expect(version.code).toBe(0);
  expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  expect((await ramp([])).code).toBe(2);
});

it('a flag the command does not take exits 2 naming it; a misspelt command gets a suggestion', async () => {
  const r = await ramp(['validate', '-f', 'x.yaml', '--wait', '--full', '--reason', 'x']);
  expect(r).toMatchObject({ code: 2, stdout: '', stderr: "ramp: validate: unknown option '--wait' — see ramp validate --help\n" });
  const typo = await ramp(['aprove', 'shop/web']);
  expect(typo).toMatchObject({ code: 2, stderr: "ramp: unknown command 'aprove' (Did you mean approve?) — see ramp --help\n" });
});

it('abort without --reason exits 2 before connecting (Temporal here is unreachable: that would be 3)', async () => {
  const r = await ramp(['abort', 'shop/web']);
  expect(r).toMatchObject({ code: 2, stderr: 'ramp: abort needs --reason TEXT: say why, it is recorded in the rollout history\n' });
});

it('-f - reads the spec from stdin; -n fills its namespace', async () => {
  const raw = newTestRolloutRaw();
  const spec = YAML.stringify({ ...raw, metadata: { name: 'storefront' } });
  const r = await ramp(['validate', '-f', '-', '-n', 'prod'], spec);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^\(stdin\): valid — Rollout prod\/storefront, /);
});

it('-o json: a failure is { error, exitCode, problems } on stdout, the line on stderr', async () => {
  const bad = YAML.stringify(newTestRolloutRaw({ spec: { steps: [{ setWeight: 120 }] } }));
  const r = await ramp(['validate', '-f', '-', '-n', 'other', '-o', 'json'], bad);
  expect(r.code).toBe(2);
  const json = JSON.parse(r.stdout) as { error: string; exitCode: number; problems: string[] };
  expect(json.error).toBe('(stdin): invalid Rollout spec (2 problems)');
  expect(json.exitCode).toBe(2);
  expect(json.problems).toEqual([
    expect.stringMatching(/^metadata\.namespace: is "mushop", but the command line says -n other: run with -n mushop/),
    expect.stringMatching(/^spec\.steps\[0\]\.setWeight: /),
  ]);
  expect(r.stderr).toMatch(/^ramp: \(stdin\): invalid Rollout spec \(2 problems\)\n {2}metadata\.namespace: /);
});

it('a reader that closes the pipe early (ramp … | head -1) ends the CLI quietly, not with an EPIPE stack', async () => {
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/client/cli/main.ts'), 'start', '--help'], {
      cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', INIT_CWD: '' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // As `head -1` does: read the first chunk, then close our end of the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});
