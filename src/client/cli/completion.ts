/**
 * `ramp completion bash|zsh|fish`: a completion script generated from the commander tree itself,
 * so a command or flag added to main.ts is completed without anyone editing a script.
 */
import type { Command } from 'commander';

/** One flag as completion sees it. */
export interface CompletionOption {
  /** Its spellings, e.g. ['-f', '--file']. */
  names: string[];
  description: string;
  /** Takes a value (`--file <file>`). */
  takesValue: boolean;
  /** The values it accepts, when it names them (`-o json|text`). */
  choices?: string[];
  /** Its value is a path. */
  path: boolean;
}

/** One command as completion sees it. */
export interface CompletionCommand {
  name: string;
  description: string;
  options: CompletionOption[];
  /** The values its first argument accepts, when they are known (`completion <shell>`, `help [command]`). */
  argChoices?: string[];
}

const PATH_VALUE = /<(file|path)>/;

/** The commands and flags of the tree, the help command and -h included. */
export function completionTree(program: Command): CompletionCommand[] {
  const help: CompletionOption = { names: ['-h', '--help'], description: 'help for the command', takesValue: false, path: false };
  const commands: CompletionCommand[] = program.commands.map((c) => ({
    name: c.name(),
    description: c.description(),
    options: [...c.options.map((o): CompletionOption => ({
      names: [o.short, o.long].filter((n): n is string => n !== undefined),
      description: o.description,
      takesValue: o.required || o.optional,
      ...(o.argChoices ? { choices: [...o.argChoices] } : {}),
      path: PATH_VALUE.test(o.flags),
    })), help],
    ...(c.registeredArguments[0]?.argChoices ? { argChoices: [...c.registeredArguments[0].argChoices] } : {}),
  }));
  commands.push({ name: 'help', description: 'help for a command', options: [], argChoices: commands.map((c) => c.name) });
  return commands;
}

/** Single-quoted for sh-like shells. */
function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function bash(name: string, commands: CompletionCommand[]): string {
  const cases = commands.map((c) => {
    const valueCases = c.options.filter((o) => o.takesValue).map((o) => {
      const action = o.choices ? `COMPREPLY=($(compgen -W ${quote(o.choices.join(' '))} -- "$cur"))` : o.path ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()';
      return `        ${o.names.join('|')}) ${action}; return ;;`;
    });
    return [
      `    ${c.name})`,
      ...(valueCases.length > 0 ? ['      case "$prev" in', ...valueCases, '      esac'] : []),
      `      opts=${quote(c.options.flatMap((o) => o.names).join(' '))}`,
      `      args=${quote((c.argChoices ?? []).join(' '))} ;;`,
    ].join('\n');
  });
  return `# ${name} completion for bash. Load it with: source <(${name} completion bash)
_${name}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" i opts="" args=""
  # The command is the first word that is not a flag: ${name} has no flags before it but -h and -V.
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W ${quote([...commands.map((c) => c.name), '-h', '--help', '-V', '--version'].join(' '))} -- "$cur"))
    return
  fi
  case "$cmd" in
${cases.join('\n')}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$args" -- "$cur"))
  fi
}
complete -o default -F _${name}_complete ${name}
`;
}

/** zsh's _arguments spec text: brackets and colons end a description there. */
function zshText(s: string): string {
  return s.replace(/[[\]:]/g, ' ').replace(/'/g, '');
}

function zsh(name: string, commands: CompletionCommand[]): string {
  const cases = commands.map((c) => {
    const specs = c.options.flatMap((o) => o.names.map((n) => {
      const value = !o.takesValue ? '' : o.choices ? `:value:(${o.choices.join(' ')})` : o.path ? ':path:_files' : ':value: ';
      return `'${n}[${zshText(o.description)}]${value}'`;
    }));
    if (c.argChoices) specs.push(`'1:argument:(${c.argChoices.join(' ')})'`);
    return `    ${c.name}) _arguments -s ${specs.join(' ')} ;;`;
  });
  return `#compdef ${name}
# ${name} completion for zsh. Put it in a directory of $fpath as _${name}, or: source <(${name} completion zsh)
_${name}() {
  local -a commands
  commands=(
${commands.map((c) => `    '${c.name}:${zshText(c.description)}'`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=\${words[2]}
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then _${name} "$@"; else compdef _${name} ${name}; fi
`;
}

function fish(name: string, commands: CompletionCommand[]): string {
  const lines = [`# ${name} completion for fish. Save it as ~/.config/fish/completions/${name}.fish`, `complete -c ${name} -f`];
  for (const c of commands) lines.push(`complete -c ${name} -n __fish_use_subcommand -a ${c.name} -d ${quote(c.description)}`);
  for (const c of commands) {
    const when = `-n ${quote(`__fish_seen_subcommand_from ${c.name}`)}`;
    for (const o of c.options) {
      const short = o.names.find((n) => /^-[^-]$/.test(n));
      const long = o.names.find((n) => n.startsWith('--'));
      const value = !o.takesValue ? '' : o.choices ? ` -x -a ${quote(o.choices.join(' '))}` : o.path ? ' -r -F' : ' -x';
      lines.push(`complete -c ${name} ${when}${short ? ` -s ${short.slice(1)}` : ''}${long ? ` -l ${long.slice(2)}` : ''}${value} -d ${quote(o.description)}`);
    }
    if (c.argChoices) lines.push(`complete -c ${name} ${when} -a ${quote(c.argChoices.join(' '))}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script for `shell`, from the program's commands and flags. */
export function completionScript(shell: 'bash' | 'zsh' | 'fish', program: Command): string {
  const commands = completionTree(program);
  const name = program.name();
  switch (shell) {
    case 'bash': return bash(name, commands);
    case 'zsh': return zsh(name, commands);
    case 'fish': return fish(name, commands);
  }
}
