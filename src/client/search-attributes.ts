/**
 * Registering Ramp's search attributes in a Temporal namespace: what the local stack does at
 * start and what the chart's Job runs on a self-hosted cluster. Only adds the missing ones, so it
 * is safe to run at every install and upgrade.
 */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { RAMP_SEARCH_ATTRIBUTES } from '../shared/search-attributes';

/** What a registration found and did. */
export interface SearchAttributeRegistration {
  /** Attributes that were missing and are now added. */
  added: string[];
  /** Attributes already registered with the right type. */
  present: string[];
}

/** Thrown when one of Ramp's names is registered with another type: Ramp cannot use it, and no API call changes a type. */
export class SearchAttributeTypeError extends Error {
  override name = 'SearchAttributeTypeError';
}

/** Adds every Ramp search attribute the namespace lacks (all Keyword); leaves the others alone. */
export async function ensureSearchAttributes(connection: Pick<Connection, 'operatorService'>, namespace: string): Promise<SearchAttributeRegistration> {
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  const res = await connection.operatorService.listSearchAttributes({ namespace });
  const have = res.customAttributes ?? {};
  const wrong = RAMP_SEARCH_ATTRIBUTES.filter((k) => k.name in have && have[k.name] !== keyword);
  if (wrong.length > 0) {
    const found = wrong.map((k) => `${k.name} (${temporal.api.enums.v1.IndexedValueType[have[k.name]!] ?? have[k.name]})`).join(', ');
    throw new SearchAttributeTypeError(`Temporal namespace ${namespace}: ${found} registered with another type than Keyword; Ramp needs Keyword`);
  }
  const missing = RAMP_SEARCH_ATTRIBUTES.filter((k) => !(k.name in have)).map((k) => k.name);
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((n) => [n, keyword])) });
  }
  return { added: missing, present: RAMP_SEARCH_ATTRIBUTES.map((k) => k.name).filter((n) => !missing.includes(n)) };
}
