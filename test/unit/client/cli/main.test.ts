import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { loadSpec } from '../../../../src/client/cli/commands/validate';
import { CliError } from '../../../../src/client/cli/errors';
import { reportError, run, wantsJson } from '../../../../src/client/cli/main';
import { newTestRolloutRaw } from '../../../support/builders';

/** Runs the CLI in process and collects what it wrote. */
async function ramp(args: string[]): Promise<{ code: number | CliError; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  try {
    // An address nothing listens on: a command that tried to connect would fail with exit 3, not 2.
    return { code: await run(args, { TEMPORAL_ADDRESS: '127.0.0.1:1' }).catch((x: CliError) => x), out: out.join(''), err: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('the command line: help and refusals, before any connection', () => {
  it('per-command help, with the command\'s own flags and examples', async () => {
    for (const args of [['start', '--help'], ['help', 'start']]) {
      const r = await ramp(args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: ramp start \[options\]/);
      expect(r.out).toContain('-f, --file <file>');
      expect(r.out).toContain('--timeout <duration>');
      expect(r.out).toContain('$ ramp start -f rollout.yaml --image web:v2 --wait --timeout 2h');
    }
    const v = await ramp(['validate', '--help']);
    expect(v.out).not.toContain('--address'); // validate never connects to Temporal
    expect(v.out).not.toContain('--wait');
  });

  it('ramp alone shows the help on stderr and exits 2', async () => {
    const r = await ramp([]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^Usage: ramp <command> \[options\]/);
  });

  it.each([
    [['validate', '-f', 'x.yaml', '--wait', '--full', '--reason', 'x'], /^validate: unknown option '--wait' — see ramp validate --help$/],
    [['stauts', 'x'], /^unknown command 'stauts' \(Did you mean status\?\) — see ramp --help$/],
    [['status', 'x', '--wacth'], /^status: unknown option '--wacth' \(Did you mean --watch\?\)/],
    [['abort', 'shop/web'], /^abort needs --reason TEXT/],
    [['start', '-f', 'x.yaml', '--wait', '--timeout', 'soon'], /^start: option '--timeout <duration>' argument 'soon' is invalid\. must be a duration such as "30s"/],
    [['start', '-f', 'x.yaml', '--timeout', '5m'], /^--timeout is for --wait: add --wait, or drop --timeout$/],
    [['list', '-o', 'yaml'], /Allowed choices are text, json/],
    [['start'], /^start: required option '-f, --file <file>' not specified/],
    [['start', '-f', 'x.yaml', '--dry-run', '--wait'], /option '--dry-run' cannot be used with option '--wait'/],
    [['status', 'a', 'b'], /^status: too many arguments/],
    [['list', '-n', 'Not_A_Namespace'], /not a Kubernetes namespace name/],
  ])('%j → exit 2: %s', async (args, says) => {
    const r = await ramp(args);
    expect(r.code).toBeInstanceOf(CliError);
    expect((r.code as CliError).exitCode).toBe(2);
    expect((r.code as CliError).message).toMatch(says);
  });
});

describe('wantsJson: errors come as JSON when the command line asks for JSON', () => {
  it.each([
    [['list', '-o', 'json'], true], [['list', '--output=json'], true], [['list', '--output', 'json'], true], [['list', '-ojson'], true],
    [['list'], false], [['list', '-o', 'text'], false], [['report', 'x', '-o', 'json'], false],
  ])('%j → %s', (argv, json) => {
    expect(wantsJson(argv)).toBe(json);
  });
});

describe('loadSpec: -f - and -n', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-loadspec-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const raw = newTestRolloutRaw();
  const withoutNamespace = YAML.stringify({ ...raw, metadata: { name: 'storefront' } });

  it('reads stdin for -f -, and names it (stdin) in problems', () => {
    expect(loadSpec({ file: '-', readStdin: () => YAML.stringify(raw) }).metadata).toEqual({ name: 'storefront', namespace: 'mushop' });
    expect(() => loadSpec({ file: '-', readStdin: () => 'kind: Rollout\n' })).toThrow(/^\(stdin\): invalid Rollout spec/);
  });

  it('-n fills a missing namespace, agrees with the same one, refuses another naming both', () => {
    expect(loadSpec({ file: '-', namespace: 'prod', readStdin: () => withoutNamespace }).metadata.namespace).toBe('prod');
    expect(loadSpec({ file: '-', namespace: 'mushop', readStdin: () => YAML.stringify(raw) }).metadata.namespace).toBe('mushop');
    const file = path.join(tmp, 'r.yaml');
    fs.writeFileSync(file, YAML.stringify(raw));
    let err: CliError | undefined;
    try {
      loadSpec({ file, namespace: 'prod' });
    } catch (e) {
      err = e as CliError;
    }
    expect(err?.exitCode).toBe(2);
    expect(err?.problems).toEqual(['metadata.namespace: is "mushop", but the command line says -n prod: run with -n mushop (or without -n), or remove metadata.namespace from the file to take the namespace from -n (line 5, column 14)']);
  });
});

describe('reportError: the one line, the JSON document, the exit code', () => {
  function report(err: unknown, argv: string[]) {
    const out: string[] = [];
    const errs: string[] = [];
    const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (errs.push(String(s)), true));
    try {
      return { code: reportError(err, argv), out: out.join(''), err: errs.join('') };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('an error the CLI does not classify is exit 4, not 1', () => {
    const r = report(new TypeError('x is undefined'), ['list']);
    expect(r.code).toBe(4);
    expect(r.out).toBe('');
    expect(r.err).toBe('ramp: unexpected error: x is undefined (--debug shows the stack trace; please report it if it persists)\n');
  });

  it('-o json adds { error, exitCode, problems } on stdout; --debug the original stack on stderr', () => {
    const r = report(new CliError('spec.yaml: invalid Rollout spec (1 problem)\n  spec.steps: required', 2, ['spec.steps: required']), ['start', '-f', 'spec.yaml', '-o', 'json', '--debug']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toEqual({ error: 'spec.yaml: invalid Rollout spec (1 problem)', exitCode: 2, problems: ['spec.steps: required'] });
    expect(r.err).toMatch(/^ramp: spec\.yaml: invalid Rollout spec \(1 problem\)\n {2}spec\.steps: required\nCliError: /);
  });
});
