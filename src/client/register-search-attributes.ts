/**
 * `node dist/src/client/register-search-attributes.js`: registers Ramp's search attributes in
 * TEMPORAL_NAMESPACE, with the same TEMPORAL_* settings as the worker. The chart runs it as a Job
 * after each install and upgrade. One line on success or failure; exit code 0 or 1.
 */
import { Connection } from '@temporalio/client';
import { temporalConnectionOptions } from '../infra/temporal-connection';
import { loadClientSettings } from './connect';
import { ensureSearchAttributes } from './search-attributes';

async function main(): Promise<void> {
  const settings = loadClientSettings();
  const connection = await Connection.connect({ ...temporalConnectionOptions(settings), connectTimeout: '10s' });
  try {
    const r = await ensureSearchAttributes(connection, settings.TEMPORAL_NAMESPACE);
    const added = r.added.length > 0 ? `added ${r.added.join(', ')}` : 'nothing to add';
    console.log(`ramp search attributes in Temporal namespace ${settings.TEMPORAL_NAMESPACE} at ${settings.TEMPORAL_ADDRESS}: ${added}; already there: ${r.present.join(', ') || 'none'}`);
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  const msg = err instanceof Error ? err.message : String(err);
  const denied = /permission|denied|unauthori[sz]ed|unimplemented/i.test(msg);
  const hint = denied ? ' (Temporal Cloud: create them with tcld, see docs/install.md, and set searchAttributes.register=false)' : '';
  console.error(`ramp search attributes: could not register them in ${process.env.TEMPORAL_NAMESPACE ?? 'default'} at ${process.env.TEMPORAL_ADDRESS ?? 'localhost:7233'} (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE): ${msg}${hint}`);
  process.exit(1);
});
