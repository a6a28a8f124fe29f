/**
 * Files written for another canary controller. Their fields would each be "unknown", which tells a
 * person nothing; one message saying what the file is and where Ramp's equivalents are explained
 * does.
 */

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined);

/** The message for an Argo Rollouts Rollout or a Flagger Canary; undefined for anything else. */
export function foreignSpecMessage(raw: unknown, ourApiVersion: string): string | undefined {
  const doc = obj(raw);
  if (!doc) return undefined;
  const apiVersion = typeof doc.apiVersion === 'string' ? doc.apiVersion : '';
  const kind = typeof doc.kind === 'string' ? doc.kind : '';
  const strategy = obj(obj(doc.spec)?.strategy);
  // spec.strategy.canary is Argo's even under Ramp's apiVersion: someone changed only the header.
  const argo = apiVersion.startsWith('argoproj.io/') || obj(strategy?.canary) !== undefined;
  if (argo) {
    const what = `an Argo Rollouts ${kind || 'Rollout'}${apiVersion ? ` (apiVersion ${apiVersion})` : ''}`;
    return `this is ${what}, not a Ramp Rollout: Ramp's is apiVersion ${ourApiVersion}, kind Rollout. `
      + 'Its spec.strategy.canary.steps become spec.steps (setWeight, pause, analysis; approval for an indefinite pause), '
      + 'spec.strategy.canary.trafficRouting.istio becomes spec.traffic, and spec.template stays in your Deployment, '
      + 'named by spec.target.deployment, with the new image in spec.canary.image; '
      + 'see docs/coming-from-argo-rollouts.md';
  }
  if (apiVersion.startsWith('flagger.app/') || (kind === 'Canary' && apiVersion !== ourApiVersion)) {
    return `this is a Flagger ${kind || 'Canary'}${apiVersion ? ` (apiVersion ${apiVersion})` : ''}, not a Ramp Rollout: Ramp's is apiVersion ${ourApiVersion}, kind Rollout. `
      + 'Its targetRef becomes spec.target.deployment, service becomes spec.target.service and spec.traffic, '
      + 'analysis.stepWeight and maxWeight become setWeight steps, and analysis.metrics an analysis step '
      + '(judge: {threshold: {}} runs Flagger\'s checks); see docs/coming-from-flagger.md';
  }
  return undefined;
}
