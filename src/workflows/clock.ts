/**
 * The one place workflow code reads time. Inside Temporal's workflow sandbox `Date` is replaced by
 * the deterministic workflow clock (the time of the current workflow task, identical on replay), so
 * this is safe here; everywhere else in workflow and domain code the lint forbids clock reads.
 */

/** Workflow time in epoch milliseconds. */
export function nowMs(): number {
  // eslint-disable-next-line no-restricted-properties -- the sandbox's Date is the workflow clock
  return Date.now();
}

/** Workflow time as an ISO 8601 string. */
export function nowIso(): string {
  return new Date(nowMs()).toISOString();
}
