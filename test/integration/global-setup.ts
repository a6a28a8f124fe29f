/** Brings the local stack up once for the integration suite; remembers what it started. */
import { stackUp } from '../../scripts/stack/stack';

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  const { started } = await stackUp();
  (globalThis as { __rampStackStarted?: string[] }).__rampStackStarted = started;
  process.stderr.write(`\n[stack] ready for tests in ${((Date.now() - t0) / 1000).toFixed(1)}s; started by this run: ${started.join(', ') || 'nothing (already up)'}\n`);
}
