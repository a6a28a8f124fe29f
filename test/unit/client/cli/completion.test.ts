import { execFileSync } from 'node:child_process';
import { buildProgram } from '../../../../src/client/cli/main';
import { completionScript, completionTree } from '../../../../src/client/cli/completion';

const program = buildProgram({ env: {}, fullPath: (p) => p }, () => undefined);

/** What bash completes for the words typed so far (the last one being completed). */
function bashCompletes(words: string[]): string[] {
  const script = completionScript('bash', program);
  const set = `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}`;
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `${script}\n${set}; _ramp_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).sort();
}

describe('ramp completion bash: generated from the command tree', () => {
  it('completes a command', () => {
    expect(bashCompletes(['ramp', 'sta'])).toEqual(['start', 'status']);
    expect(bashCompletes(['ramp', 'un'])).toEqual(['undo']);
  });

  it('completes the flags of that command only', () => {
    expect(bashCompletes(['ramp', 'start', '--ti'])).toEqual(['--timeout']);
    expect(bashCompletes(['ramp', 'status', 'shop/web', '--w'])).toEqual(['--watch']);
    // validate takes no --wait: nothing to complete.
    expect(bashCompletes(['ramp', 'validate', '--wa'])).toEqual([]);
  });

  it('completes the values an option or argument names', () => {
    expect(bashCompletes(['ramp', 'list', '-o', ''])).toEqual(['json', 'text']);
    expect(bashCompletes(['ramp', 'list', '--phase', 'Roll'])).toEqual(['RollbackFailed', 'RolledBack', 'RollingBack']);
    expect(bashCompletes(['ramp', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
    expect(bashCompletes(['ramp', 'help', 'ret'])).toEqual(['retry']);
  });
});

describe('completionTree', () => {
  const tree = completionTree(program);
  it('has every command with its own flags, and help', () => {
    const names = tree.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['start', 'validate', 'status', 'list', 'undo', 'retry', 'report', 'completion', 'version', 'help']));
    const validate = tree.find((c) => c.name === 'validate')!;
    expect(validate.options.flatMap((o) => o.names)).toEqual(expect.arrayContaining(['-f', '--file', '--cluster', '-n', '-o', '--help']));
    expect(validate.options.flatMap((o) => o.names)).not.toContain('--address'); // no Temporal for validate
    expect(validate.options.find((o) => o.names.includes('--file'))).toMatchObject({ takesValue: true, path: true });
  });

  it('zsh and fish scripts name the same commands and flags', () => {
    const zsh = completionScript('zsh', program);
    expect(zsh).toMatch(/^#compdef ramp\n/);
    expect(zsh).toContain("'undo:start a new rollout back to the image before the last promotion (found in the rollout history)'");
    expect(zsh).toMatch(/ {4}list\) _arguments -s .*'--phase\[only rollouts in this phase\]:value:\(Initializing /);
    const fish = completionScript('fish', program);
    expect(fish).toContain("complete -c ramp -n __fish_use_subcommand -a retry -d 'start an aborted, rolled-back or refused rollout again with the same spec'");
    expect(fish).toContain("complete -c ramp -n '__fish_seen_subcommand_from start' -s f -l file -r -F -d 'the Rollout spec (YAML or JSON); - reads it from stdin'");
  });
});
