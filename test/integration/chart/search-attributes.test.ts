/**
 * The entry point the chart's search-attribute Job runs (src/client/register-search-attributes.ts),
 * as a process against the local Temporal, in fresh Temporal namespaces: it adds Ramp's six
 * Keyword attributes, adds nothing the second time, and fails with one line — no stack trace —
 * when Temporal is unreachable or a name is taken with another type.
 */
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { RAMP_SEARCH_ATTRIBUTES } from '../../../src/shared/search-attributes';
import { ROOT, run } from '../../support/chart';
import { eventually, stackInfo, uniqueName } from '../../support/stack';

const info = stackInfo();
const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
let connection: Connection;
const made: string[] = [];

const register = (namespace: string, address = info.temporal.address) =>
  run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/client/register-search-attributes.ts')], { env: { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace }, timeoutMs: 60_000 });

async function freshNamespace(): Promise<string> {
  const namespace = uniqueName('ramp-sa');
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  made.push(namespace);
  // The frontend's namespace cache learns of it within a few seconds.
  await eventually(`Temporal namespace ${namespace}`, async () => (await connection.operatorService.listSearchAttributes({ namespace })) ? true : undefined, 30_000, 500);
  return namespace;
}

beforeAll(async () => {
  connection = await Connection.connect({ address: info.temporal.address });
});

afterAll(async () => {
  for (const namespace of made) await connection.operatorService.deleteNamespace({ namespace }).catch(() => undefined);
  await connection.close();
});

it("adds Ramp's six Keyword attributes to a namespace that has none, then finds nothing to add", async () => {
  const namespace = await freshNamespace();
  const first = await register(namespace);
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
  expect(first.stdout).toMatch(/added RampTarget, RampRollout, RampNamespace, RampPhase, RampImage, RampOutcome/);
  const attrs = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  for (const k of RAMP_SEARCH_ATTRIBUTES) expect([k.name, attrs[k.name]]).toEqual([k.name, KEYWORD]);
  const second = await register(namespace);
  expect(second.code).toBe(0);
  expect(second.stdout).toMatch(/nothing to add; already there: RampTarget, RampRollout, RampNamespace, RampPhase, RampImage, RampOutcome/);
});

it('refuses a namespace where one of the names has another type, naming it', async () => {
  const namespace = await freshNamespace();
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { RampPhase: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT } });
  const r = await register(namespace);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/RampPhase \(INDEXED_VALUE_TYPE_TEXT\) registered with another type than Keyword/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});

it('an unreachable Temporal is one line naming the settings, and exit code 1', async () => {
  const r = await register('default', '127.0.0.1:1');
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/TEMPORAL_ADDRESS/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});
