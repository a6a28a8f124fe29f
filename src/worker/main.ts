/**
 * The worker process: `npm run worker` (or `node dist/src/worker/main.js`). Configuration comes from
 * the environment (src/worker/config.ts); SIGINT/SIGTERM drain it gracefully.
 */
import { loadWorkerConfig, WorkerConfigError } from './config';
import { createRampWorker } from './worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const { worker, connection } = await createRampWorker(config);
  console.log(`ramp worker: polling task queue ${config.RAMP_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE})`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof WorkerConfigError) console.error(err.message);
  else console.error('ramp worker failed:', err);
  process.exit(1);
});
