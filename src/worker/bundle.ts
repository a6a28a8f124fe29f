/**
 * A prebuilt workflow bundle: built once (`npm run build:bundle`, at image build time), loaded by
 * the worker at start instead of bundling the workflow code with webpack in every process. Measured
 * (bench/results/scale.md, "Worker start-up"): process start to polling 1.5 s instead of 3.7 s, and
 * about 110 MiB less at start.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/** Bundles src/workflows into one file; returns its size in bytes. */
export async function writeWorkflowBundle(file: string): Promise<number> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  return Buffer.byteLength(code);
}

/** The code of a bundle written by writeWorkflowBundle; `setting` names where its path came from. */
export function readWorkflowBundle(file: string, setting: string): { code: string } {
  let code: string;
  try {
    code = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${setting}: cannot read the workflow bundle ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}); build it with \`npm run build:bundle -- ${file}\`, or unset ${setting} to bundle at start`, { cause: err });
  }
  if (!code.includes('__TEMPORAL__')) {
    throw new Error(`${setting}: ${file} is not a Temporal workflow bundle; build it with \`npm run build:bundle -- ${file}\``);
  }
  return { code };
}
