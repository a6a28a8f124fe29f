/**
 * The Rollout spec as a JSON Schema (draft-07, what editors' YAML support reads best), derived from
 * the zod schema and its metadata, so it says what the parser accepts: schema/rollout.schema.json
 * and docs/spec.md are generated from it (scripts/docs/spec.ts). Refinements across fields (one
 * step kind per step, image or podTemplatePatch) are the parser's alone, apart from what the
 * metadata restates.
 */
import { z } from 'zod';
import { rolloutSchema } from './schema';

/** Where the published schema lives, from the repository's root. */
export const JSON_SCHEMA_PATH = 'schema/rollout.schema.json';

export type JsonSchema = { [key: string]: unknown };

export function rolloutJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(rolloutSchema, {
    io: 'input',
    target: 'draft-07',
    // Transforms read their input, which is what the schema describes.
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const meta = z.globalRegistry.get(zodSchema);
      // zod drops examples and defaults of a schema that transforms (they could be outputs); the
      // ones in Ramp's metadata are written as a user writes them, so they stand.
      if (Array.isArray(meta?.examples)) jsonSchema.examples = meta.examples as unknown[];
      if (meta?.default !== undefined && jsonSchema.default === undefined) jsonSchema.default = meta.default;
      // "starts_with" is zod's own format, unknown to validators; its pattern says the same.
      if (jsonSchema.format === 'starts_with') delete jsonSchema.format;
    },
  });
  return {
    $schema: schema.$schema,
    title: 'Ramp Rollout',
    description: 'A canary rollout run by Ramp (docs/spec.md)',
    ...schema,
  };
}
