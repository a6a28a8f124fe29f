/**
 * Payload validation for the commands people send (approve, promote, abort, pause, resume), the
 * same for updates and signals: wrong types are refused with a message naming the field.
 */
import { z } from 'zod';

export const COMMANDS = ['approve', 'promote', 'abort', 'pause', 'resume'] as const;
export type Command = (typeof COMMANDS)[number];

const text = (field: string) => z.string({ error: (i) => `${field} must be a string, got ${JSON.stringify(i.input)}` }).max(1024, `${field} must be at most 1024 characters`);

const meta = { by: text('by').optional(), reason: text('reason').optional() };

const schemas = {
  approve: z.strictObject(meta),
  promote: z.strictObject({ ...meta, full: z.boolean({ error: (i) => `full must be true or false, got ${JSON.stringify(i.input)}` }).optional() }),
  abort: z.strictObject({ ...meta, reason: text('reason').min(1, 'reason must not be empty: say why you abort') }),
  pause: z.strictObject(meta),
  resume: z.strictObject(meta),
} as const;

export interface CommandInput {
  by?: string;
  reason?: string;
  full?: boolean;
}

/** Returns the validated input, or a message saying what is wrong with it. */
export function parseCommandInput(cmd: Command, raw: unknown): { ok: true; input: CommandInput } | { ok: false; message: string } {
  if (cmd === 'abort' && (raw === undefined || raw === null)) {
    return { ok: false, message: 'abort needs an input with a reason, e.g. {"reason": "error rate too high"}' };
  }
  const res = schemas[cmd].safeParse(raw ?? {});
  if (res.success) return { ok: true, input: res.data };
  const msgs = res.error.issues.map((i) => (i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message));
  return { ok: false, message: `${cmd}: ${msgs.join('; ')}` };
}
