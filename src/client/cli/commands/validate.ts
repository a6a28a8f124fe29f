/** `ramp validate -f FILE [--image IMG]`: the worker's own schema, offline. */
import { parseRollout, SpecError, formatProblem } from '../../../domain/spec/parse';
import type { ResolvedRollout } from '../../../domain/spec/schema';
import type { Output } from '../context';
import { CliError, ExitCode } from '../errors';
import * as fs from 'node:fs';

/** Reads and validates a spec file; exits 2 with every problem listed when it is invalid. */
export function loadSpec(file: string, image: string | undefined): ResolvedRollout {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`-f ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, ExitCode.Invalid);
  }
  try {
    return parseRollout(text, { source: file, image });
  } catch (err) {
    if (err instanceof SpecError) {
      throw new CliError(`${file}: invalid Rollout spec (${err.problems.length} problem${err.problems.length > 1 ? 's' : ''})\n${err.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`, ExitCode.Invalid);
    }
    throw err;
  }
}

export function validate(out: Output, file: string, image: string | undefined): ExitCode {
  const r = loadSpec(file, image);
  if (out.json) out.print(JSON.stringify({ valid: true, rollout: r }));
  else out.print(`${file}: valid — Rollout ${r.metadata.namespace}/${r.metadata.name}, ${r.spec.steps.length} steps, ${r.spec.traffic.routing.mode} routing via VirtualService ${r.spec.traffic.virtualService.name}`);
  return ExitCode.Ok;
}
