/** Stops exactly the components the global setup started; a stack that was already up stays up. */
import { stackDown } from '../../scripts/stack/stack';

export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as { __rampStackStarted?: string[] }).__rampStackStarted ?? [];
  if (started.length > 0 && process.env.RAMP_KEEP_STACK !== '1') await stackDown(undefined, started);
}
