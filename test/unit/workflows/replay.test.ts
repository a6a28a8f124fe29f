/**
 * Replays every history recorded from the integration runs (test/fixtures/histories) against the
 * current workflow code. A change that would make a running rollout non-deterministic fails here.
 * Re-record after an intended, versioned change: RAMP_RECORD_HISTORIES=1 npm run test:integration.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';

const DIR = path.resolve(__dirname, '../../fixtures/histories');
// Subdirectories keep histories of earlier workflow versions (e.g. before-local-activities/), so
// the patched branches for rollouts started before a change stay tested after re-recording.
const files = (fs.readdirSync(DIR, { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).sort();

describe('workflow replay', () => {
  jest.setTimeout(120_000);

  beforeAll(() => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // installed already
    }
  });

  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  it('replays every recorded history without a determinism error', async () => {
    const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8'))) }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: require.resolve('../../../src/workflows') }, histories)) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
