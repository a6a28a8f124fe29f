/**
 * Ramp's custom search attributes: what `ramp list` filters on and what the Temporal UI shows in
 * its workflow list. The local stack registers them at start; on a real cluster register them once
 * with `temporal operator search-attribute create --name <name> --type Keyword` for each entry.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The rollout's target as `<namespace>/<name>`. */
export const RampTarget = defineSearchAttributeKey('RampTarget', SearchAttributeType.KEYWORD);
/** The Rollout as `<namespace>/<metadata.name>`: what `ramp status NAME` looks up. */
export const RampRollout = defineSearchAttributeKey('RampRollout', SearchAttributeType.KEYWORD);
/** The Kubernetes namespace of the target. */
export const RampNamespace = defineSearchAttributeKey('RampNamespace', SearchAttributeType.KEYWORD);
/** The rollout's current phase (see the phase list in the domain). */
export const RampPhase = defineSearchAttributeKey('RampPhase', SearchAttributeType.KEYWORD);
/** The canary image being rolled out. */
export const RampImage = defineSearchAttributeKey('RampImage', SearchAttributeType.KEYWORD);
/** How the rollout ended: Promoted, RolledBack, RollbackFailed or Refused; empty while it runs. */
export const RampOutcome = defineSearchAttributeKey('RampOutcome', SearchAttributeType.KEYWORD);

export const RAMP_SEARCH_ATTRIBUTES = [RampTarget, RampRollout, RampNamespace, RampPhase, RampImage, RampOutcome] as const;

/** The `Name=Type` pairs the Temporal CLI takes in `--search-attribute`. */
export function searchAttributeFlags(): string[] {
  return RAMP_SEARCH_ATTRIBUTES.map((k) => `${k.name}=Keyword`);
}
