/** Every activity the worker registers, built from injected clients. */
import { createDoctorActivities, DoctorDeps } from './doctor';

export type ActivityDeps = DoctorDeps;

export function createActivities(deps: ActivityDeps) {
  return {
    ...createDoctorActivities(deps),
  };
}

export type RampActivities = ReturnType<typeof createActivities>;
