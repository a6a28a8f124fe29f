/**
 * `npm run build:bundle [-- <file>]`: writes the prebuilt workflow bundle (default
 * dist/workflow-bundle.js) that a worker loads with RAMP_WORKFLOW_BUNDLE=<file>. See
 * src/worker/bundle.ts and docs/tuning.md.
 */
import * as path from 'node:path';
import { writeWorkflowBundle } from '../src/worker/bundle';

async function main(): Promise<void> {
  const file = path.resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  const bytes = await writeWorkflowBundle(file);
  console.log(`workflow bundle: ${file} (${Math.round(bytes / 1024)} KiB); start workers with RAMP_WORKFLOW_BUNDLE=${file}`);
}

main().catch((err: unknown) => {
  console.error(`build:bundle failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
