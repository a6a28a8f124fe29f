/**
 * Recording workflow histories from integration runs as replay fixtures. With
 * RAMP_RECORD_HISTORIES=1 each call writes test/fixtures/histories/<name>.json (the format of
 * `temporal workflow show --output json`); test/unit/workflows/replay.test.ts replays them all, so
 * a change that breaks determinism for running rollouts fails the unit suite.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle } from '@temporalio/client';
import { decodePayload, type HistoryEvent } from '../../src/client/history';

export const HISTORY_FIXTURES = path.resolve(__dirname, '../fixtures/histories');

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RAMP_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  fs.mkdirSync(HISTORY_FIXTURES, { recursive: true });
  fs.writeFileSync(path.join(HISTORY_FIXTURES, `${name}.json`), historyToJSON(history) + '\n');
}

/** The ids of the patches a run's history took (its `core_patch` markers), in history order. */
export function patchIds(events: readonly HistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') return [];
    const data = decodePayload(m.details?.['patch-data']?.payloads?.[0]) as { id?: string } | undefined;
    return [data?.id ?? '(unreadable patch marker)'];
  });
}
