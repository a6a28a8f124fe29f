import { classifyError, CliError, ExitCode } from '../../../../src/client/cli/errors';

/** An error shaped as @temporalio/client's ServiceError: a message and a gRPC cause with code and details. */
function serviceError(message: string, code: number, details: string): Error {
  return Object.assign(new Error(message), { name: 'ServiceError', cause: Object.assign(new Error(details), { code, details }) });
}

const where = { address: 'temporal.example:7233', namespace: 'prod' };

describe('classifyError: one place an error becomes an exit code', () => {
  const table: { what: string; err: unknown; code: ExitCode; says: RegExp }[] = [
    { what: 'a CliError keeps its code', err: new CliError('bad flag', ExitCode.Invalid), code: ExitCode.Invalid, says: /^bad flag$/ },
    {
      what: 'a namespace Temporal does not have: exit 2, naming the flag and the variable',
      err: Object.assign(new Error("Namespace not found: 'prod'"), { name: 'NamespaceNotFoundError' }),
      code: ExitCode.Invalid, says: /^Temporal namespace prod does not exist at temporal\.example:7233: set --temporal-namespace or TEMPORAL_NAMESPACE/,
    },
    {
      what: 'search attributes not registered (start): exit 2 with the commands that register them',
      err: serviceError('Failed to start Workflow', 3, 'Namespace prod has no mapping defined for search attribute RampTarget'),
      code: ExitCode.Invalid, says: /^Ramp's search attributes are not registered in Temporal namespace prod \(RampTarget is missing\): .*temporal operator search-attribute create --namespace prod --name \$sa --type Keyword/,
    },
    {
      what: 'search attributes not registered (list query)',
      err: serviceError('Failed to list workflows', 3, 'invalid query: invalid search attribute: RampPhase'),
      code: ExitCode.Invalid, says: /\(RampPhase is missing\)/,
    },
    {
      what: 'Temporal going away mid-command: exit 3',
      err: serviceError('Failed to query', 14, 'No connection established'),
      code: ExitCode.Unreachable, says: /^Temporal at temporal\.example:7233 stopped answering/,
    },
    {
      what: 'anything else: exit 4, never 1 (CI reads 1 as rolled back)',
      err: new TypeError('cannot read properties of undefined'),
      code: ExitCode.Unexpected, says: /^unexpected error: cannot read properties of undefined \(--debug shows the stack trace/,
    },
    { what: 'a thrown non-Error is unexpected too', err: 'boom', code: ExitCode.Unexpected, says: /unexpected error: boom/ },
  ];
  it.each(table)('$what', ({ err, code, says }) => {
    const e = classifyError(err, where);
    expect(e).toBeInstanceOf(CliError);
    expect(e.exitCode).toBe(code);
    expect(e.message).toMatch(says);
  });

  it('keeps the original error as the cause, for --debug', () => {
    const original = new Error('deep');
    expect(classifyError(original).cause).toBe(original);
  });

  it('the exit codes CI acts on', () => {
    expect(ExitCode).toEqual({ Ok: 0, Failed: 1, Invalid: 2, Unreachable: 3, Unexpected: 4, Interrupted: 130 });
  });
});
