/**
 * `ramp report NAME [--run ID] [-o FILE]`: a placeholder with the signature the report command
 * has, so that the command tree can register it; the report's own module replaces this file.
 */
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';

export function report(_ctx: CliContext, _name: string, _namespace: string | undefined, _opts: { runId?: string; outFile: string }): Promise<ExitCode> {
  return Promise.reject(new CliError('ramp report is not built yet', ExitCode.Unexpected));
}
