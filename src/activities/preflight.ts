/**
 * The preflight: everything a rollout needs, checked before any change, every problem at once —
 * the stable Deployment and its Service (workload.ts) and the traffic objects (the router). The
 * workflow's first call, and what `ramp validate --cluster` runs, with no workflow.
 */
import type { PreflightResult, TrafficRef, WorkloadRef } from '../domain/rollout/calls';
import type { TrafficActivities } from './traffic/activities';
import type { WorkloadActivities } from './workload';

export function createPreflightActivities(deps: { workload: Pick<WorkloadActivities, 'inspectWorkload'>; traffic: Pick<TrafficActivities, 'inspectTraffic'> }) {
  return {
    /** Checks the target and the traffic objects; never writes. Problems come back as a result, not a failure. */
    async preflight(wref: WorkloadRef, tref: TrafficRef): Promise<PreflightResult> {
      const workload = await deps.workload.inspectWorkload(wref);
      // The router needs the versions to plan its subsets and selectors; without them it still lists its own problems.
      const { key } = wref.canary.versionLabel;
      const versions = workload.versions ?? { key, stable: wref.canary.versionLabel.stable ?? '', canary: wref.canary.versionLabel.canary ?? '', stablePinned: false };
      const traffic = await deps.traffic.inspectTraffic({ ...tref, versions });
      const problems = [...workload.problems, ...traffic.problems];
      if (problems.length > 0 || !workload.versions) return { ok: false, problems };
      return { ok: true, weights: traffic.weights, runtime: { snapshot: traffic.snapshot, changes: traffic.changes, writes: traffic.writes, versions } };
    },
  };
}
