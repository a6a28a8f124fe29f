/**
 * The commit message of a rollout change in a GitOps repository: a subject a person reads in
 * `git log --oneline`, a body that says what changed and why, and git trailers (`Key: value` lines
 * in the last paragraph, as `git interpret-trailers` reads them) from which Ramp recognises its own
 * commits and the step they belong to.
 */

/** The trailer keys, in the order they are written. */
export const TRAILER_KEYS = {
  rollout: 'Ramp-Rollout',
  run: 'Ramp-Run',
  step: 'Ramp-Step',
  action: 'Ramp-Action',
  weights: 'Ramp-Weights',
  requestedBy: 'Ramp-Requested-By',
} as const;

/** What a commit does. */
export const COMMIT_ACTIONS = {
  /** Before the first step: the canary's subset, and its route destinations at 0 %. */
  prepare: 'prepare',
  /** The canary Deployment's manifest is added. */
  deployCanary: 'deploy-canary',
  /** A weight step: the canary's share of the traffic changes. */
  setWeight: 'setWeight',
  /** The canary's version becomes the stable's. */
  promote: 'promote',
  /** All traffic back to stable after a failed or aborted rollout. */
  rollback: 'rollback',
  /** Ramp's `ramp-*` route entries are removed. */
  cleanupRoute: 'cleanup-route',
  /** The canary's DestinationRule subset is removed. */
  cleanupSubset: 'cleanup-subset',
  /** The canary Deployment's manifest is removed. */
  cleanupCanary: 'cleanup-canary',
  /** A person forced a state (emergency rollback or promote) outside the plan. */
  emergency: 'emergency',
} as const;
export type CommitAction = (typeof COMMIT_ACTIONS)[keyof typeof COMMIT_ACTIONS];

const ACTIONS = new Set<string>(Object.values(COMMIT_ACTIONS));

/** The rollout change a commit records. */
export interface RolloutCommit {
  rollout: { namespace: string; name: string };
  /** The workflow run. */
  runId: string;
  action: CommitAction;
  /** The plan step, when the change is one (cleanups and emergencies may not be). */
  step?: { index: number; kind: string };
  /** The split the commit sets, in percent. */
  weights?: { stable: number; canary: number };
  /** Who asked (a person, CI, or `ramp` for the plan itself). */
  requestedBy?: string;
  /** Free text for the body: why, in words (an analysis verdict, an abort reason). */
  reason?: string;
}

/** Thrown when a commit message carries Ramp trailers that do not read as one; names the trailer and its value. */
export class TrailerError extends Error {
  override name = 'TrailerError';
}

/** A trailer value is one line: a newline in free text (a name, a reason) would start a forged trailer. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}

function summary(c: RolloutCommit): string {
  const w = c.weights ? `stable ${c.weights.stable}% / canary ${c.weights.canary}%` : undefined;
  switch (c.action) {
    case 'prepare': return `prepare the canary's routes${c.reason ? `: ${c.reason}` : ''}`;
    case 'deploy-canary': return 'add the canary Deployment';
    case 'setWeight': return w ? `set weights ${w}` : `${c.reason ?? 'change the routes'}`;
    case 'promote': return 'promote the canary to stable';
    case 'rollback': return `roll back${w ? `: ${w}` : ''}`;
    case 'cleanup-route': return "remove Ramp's route entries";
    case 'cleanup-subset': return 'remove the canary subset';
    case 'cleanup-canary': return 'remove the canary Deployment';
    case 'emergency': return `emergency change${w ? `: ${w}` : ''}`;
  }
}

/** Subject, body and the whole message (subject, blank line, body) for a rollout change. */
export function commitMessage(c: RolloutCommit): { subject: string; body: string; message: string } {
  const id = `${c.rollout.namespace}/${c.rollout.name}`;
  const step = c.step ? `step ${c.step.index} (${c.step.kind}): ` : '';
  const subject = oneLine(`ramp ${id}: ${step}${summary(c)}`);
  const prose = [
    `Rollout ${id}, run ${c.runId}${c.step ? `, step ${c.step.index} (${c.step.kind})` : ''}: ${summary(c)}.`,
    ...(c.requestedBy ? [`Requested by ${oneLine(c.requestedBy)}.`] : []),
    ...(c.reason ? [oneLine(c.reason)] : []),
  ].join('\n');
  const trailers = [
    `${TRAILER_KEYS.rollout}: ${id}`,
    `${TRAILER_KEYS.run}: ${oneLine(c.runId)}`,
    ...(c.step ? [`${TRAILER_KEYS.step}: ${c.step.index}`] : []),
    `${TRAILER_KEYS.action}: ${c.action}`,
    ...(c.weights ? [`${TRAILER_KEYS.weights}: stable=${c.weights.stable},canary=${c.weights.canary}`] : []),
    ...(c.requestedBy ? [`${TRAILER_KEYS.requestedBy}: ${oneLine(c.requestedBy)}`] : []),
  ].join('\n');
  const body = `${prose}\n\n${trailers}`;
  return { subject, body, message: `${subject}\n\n${body}\n` };
}

/** What the trailers of a Ramp commit say (the step's kind is in the subject, not a trailer). */
export interface RampTrailers {
  rollout: { namespace: string; name: string };
  runId: string;
  action: CommitAction;
  step?: number;
  weights?: { stable: number; canary: number };
  requestedBy?: string;
}

/**
 * Reads the Ramp trailers of a commit message: undefined for a commit without them (someone
 * else's), a TrailerError for Ramp trailers that do not make sense.
 */
export function parseTrailers(message: string): RampTrailers | undefined {
  const paragraphs = message.replace(/\r\n/g, '\n').trim().split(/\n\s*\n/);
  const last = paragraphs.at(-1) ?? '';
  const found = new Map<string, string>();
  for (const line of last.split('\n')) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m && Object.values(TRAILER_KEYS).includes(m[1] as never)) found.set(m[1]!, m[2]!.trim());
  }
  const rollout = found.get(TRAILER_KEYS.rollout);
  if (rollout === undefined) return undefined;
  const bad = (key: string, value: string, want: string): never => {
    throw new TrailerError(`commit trailer ${key}: "${value}" is not ${want}`);
  };
  const ns = /^([^/\s]+)\/([^/\s]+)$/.exec(rollout) ?? bad(TRAILER_KEYS.rollout, rollout, 'namespace/name');
  const runId = found.get(TRAILER_KEYS.run) ?? bad(TRAILER_KEYS.run, '', 'present (every Ramp commit names its run)');
  const action = found.get(TRAILER_KEYS.action) ?? '';
  if (!ACTIONS.has(action)) bad(TRAILER_KEYS.action, action, `one of ${[...ACTIONS].join(', ')}`);
  const out: RampTrailers = { rollout: { namespace: ns[1]!, name: ns[2]! }, runId, action: action as CommitAction };
  const step = found.get(TRAILER_KEYS.step);
  if (step !== undefined) out.step = /^\d+$/.test(step) ? Number(step) : bad(TRAILER_KEYS.step, step, 'a step index');
  const weights = found.get(TRAILER_KEYS.weights);
  if (weights !== undefined) {
    const w = /^stable=(\d+),canary=(\d+)$/.exec(weights) ?? bad(TRAILER_KEYS.weights, weights, 'stable=<n>,canary=<n>');
    out.weights = { stable: Number(w[1]), canary: Number(w[2]) };
  }
  const by = found.get(TRAILER_KEYS.requestedBy);
  if (by !== undefined) out.requestedBy = by;
  return out;
}
