/** Every workflow the worker registers. Deterministic code only: see eslint.config.mjs. */
export { doctorWorkflow } from './doctor';
export { rolloutWorkflow } from './rollout';
