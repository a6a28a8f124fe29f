/** The task queue Ramp's workers poll unless RAMP_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'ramp';
