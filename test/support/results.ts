/**
 * A rollout's result as tests read it: through the client's own `rolloutResult`, whether the
 * workflow completed (promoted) or failed with its outcome (decisions/0022), and with a check that
 * the run's Temporal status agrees with the outcome, so every test that awaits a rollout also
 * checks what the Temporal UI shows for it.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { RolloutResult } from '../../src/domain/rollout/machine';
import { rolloutResult } from '../../src/client/rollouts';

/** Waits for the rollout's end and returns its result; throws if its Temporal status does not match the outcome. */
export async function awaitResult(handle: WorkflowHandle): Promise<RolloutResult> {
  const result = await rolloutResult(handle);
  // The handle follows continue-as-new to the run that ended, and so does describe.
  const status = (await handle.describe()).status.name;
  const expected = result.outcome === 'Promoted' ? 'COMPLETED' : 'FAILED';
  if (status !== expected) {
    throw new Error(`${handle.workflowId} ended ${result.outcome} but its workflow is ${status}, not ${expected}: a promoted rollout completes, any other outcome fails it (src/shared/outcomes.ts)`);
  }
  return result;
}
