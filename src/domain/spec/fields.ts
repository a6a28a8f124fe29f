/** Field schemas shared by the Rollout spec and its analysis section: names, labels, durations, numbers. */
import { z } from 'zod';
import { DurationError, parseDuration } from '../duration';

/**
 * A DNS-1123 label/subdomain as Kubernetes requires for names. The metadata repeats the rule for
 * the published JSON Schema, where the refinement below is not visible.
 */
export const k8sName = z.string({ error: 'must be a string' }).superRefine((v, ctx) => {
  // One message per field: the first rule it breaks.
  if (v.length === 0) ctx.addIssue({ code: 'custom', message: 'must not be empty' });
  else if (v.length > 253) ctx.addIssue({ code: 'custom', message: 'must be at most 253 characters' });
  else if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: 'must be a lowercase DNS name: letters, digits, "-" and ".", starting and ending with a letter or digit' });
  }
}).meta({ title: 'Kubernetes name', minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' });

/** A Kubernetes label value. */
export const labelValue = z
  .string({ error: 'must be a string' })
  .max(63, 'must be at most 63 characters')
  .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, 'must be a valid label value: letters, digits, "-", "_" and ".", at most 63 characters')
  .meta({ title: 'label value' });

export const labelKey = z
  .string({ error: 'must be a string' })
  .regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'must be a valid label key such as "version" or "app.kubernetes.io/version"')
  .meta({ title: 'label key' });

export const duration = z.union([z.string(), z.number()], { error: 'must be a duration such as "30s" or "5m"' }).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof DurationError ? err.message : String(err) });
    return z.NEVER;
  }
}).meta({
  title: 'duration',
  // What parseDuration accepts, for editors: a number of seconds, or units ms, s, m, h in sequence.
  pattern: '^\\s*(\\d+(\\.\\d+)?|(\\d+(\\.\\d+)?(ms|s|m|h))+)\\s*$',
  minimum: 0,
});

export const int = (min: number, max: number, what = 'a whole number') =>
  z.number({ error: (iss) => `must be ${what} between ${min} and ${max}, got ${JSON.stringify(iss.input)}` })
    .int({ error: (iss) => `must be ${what} between ${min} and ${max}, got ${JSON.stringify(iss.input)}` })
    .min(min, { error: (iss) => `must be between ${min} and ${max}, got ${JSON.stringify(iss.input)}` })
    .max(max, { error: (iss) => `must be between ${min} and ${max}, got ${JSON.stringify(iss.input)}` });
