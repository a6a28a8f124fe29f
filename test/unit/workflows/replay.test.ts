/**
 * Replays every history recorded from the integration runs (test/fixtures/histories) against the
 * current workflow code. A change that would make a running rollout non-deterministic fails here.
 * Re-record after an intended, versioned change: RAMP_RECORD_HISTORIES=1 npm run test:integration.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { ignoreRolloutObservations } from '../../../src/worker/rollouts';

const DIR = path.resolve(__dirname, '../../fixtures/histories');
// Subdirectories may keep histories of an earlier workflow shape while a patch guards it
// (decisions/0013); today there is none.
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
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  it('replays every recorded history without a determinism error', async () => {
    const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8'))) }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: require.resolve('../../../src/workflows'), sinks: ignoreRolloutObservations }, histories)) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });

  it('update handlers never throw on replay, where validators do not run: an input the validator would refuse still replays', async () => {
    // A recorded accepted abort, its input replaced by one the validator refuses (reason not a string).
    const raw = JSON.parse(fs.readFileSync(path.join(DIR, 'abort-during-pause.json'), 'utf8')) as { events: Record<string, unknown>[] };
    const accepted = raw.events.find((e) => 'workflowExecutionUpdateAcceptedEventAttributes' in e) as
      { workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { input: { args: { payloads: { data: string }[] } } } } } | undefined;
    expect(accepted).toBeDefined();
    const payload = accepted!.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input.args.payloads[0]!;
    payload.data = Buffer.from(JSON.stringify({ reason: 42 })).toString('base64');
    const errors: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowsPath: require.resolve('../../../src/workflows'), sinks: ignoreRolloutObservations }, [{ workflowId: 'tampered', history: historyFromJSON(raw) }])) {
      if (r.error) errors.push(r.error.message);
    }
    expect(errors).toEqual([]);
  });
});
