/**
 * The worker's logs: one JSON object per line on stdout (pino), at RAMP_LOG_LEVEL. The Temporal
 * SDK logs through the same logger (installed as the Runtime logger in main.ts), so its worker,
 * workflow and activity lines are JSON too, with the workflow id and run id the SDK attaches; lines
 * about a rollout this worker runs also get its `rollout` and `step`.
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import pino from 'pino';
import { isOutcomeFailureMessage, isOutcomeFailureType } from '../shared/outcomes';
import type { RampLogLevel } from './config';

/** A JSON logger writing to `destination` (stdout by default), synchronously so a line is never lost at exit. */
export function createJsonLogger(level: RampLogLevel, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true })): pino.Logger {
  return pino({
    level,
    base: { pid: process.pid, component: 'ramp-worker' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // The SDK passes failures as `error`; keep their type, message, stack and causes.
    serializers: { error: pino.stdSerializers.errWithCause, err: pino.stdSerializers.errWithCause },
  }, destination);
}

/** Fields to add to a line that names a workflow, e.g. its rollout and step. */
export type LogEnricher = (workflowId: string) => object | undefined;

/** The SDK's Logger interface on top of pino. */
export class TemporalPinoLogger implements Logger {
  constructor(
    readonly pino: pino.Logger,
    private readonly enrich?: LogEnricher,
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const fields: Record<string, unknown> = {};
    // String keys only: the SDK passes its own timestamp under a symbol.
    for (const [k, v] of Object.entries(meta ?? {})) fields[k] = v;
    if (typeof fields.workflowId === 'string' && fields.rollout === undefined) Object.assign(fields, this.enrich?.(fields.workflowId));
    // A rollout that did not promote fails its workflow on purpose (decisions/0022); the SDK logs
    // every failed workflow as a warning with a stack, which would page people for a rollback that
    // worked. Its outcome is news, not trouble.
    // The SDK's workflow threads clone the failure on its way here, which drops its `type`: the
    // message tells it then.
    const error = fields.error as { type?: unknown; message?: unknown } | undefined;
    const outcome = typeof error?.type === 'string' ? isOutcomeFailureType(error.type) : isOutcomeFailureMessage(error?.message);
    if (message === 'Workflow failed' && outcome) {
      delete fields.error;
      this.pino.info({ ...fields, ...(typeof error?.type === 'string' ? { outcome: error.type } : {}) }, `Workflow ended on its outcome: ${String(error?.message)}`);
      return;
    }
    this.pino[level.toLowerCase() as RampLogLevel](fields, message);
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }

  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }

  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }

  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }

  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
