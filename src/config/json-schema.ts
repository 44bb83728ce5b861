/** The config file's JSON Schema, generated from the zod schema, for editors (`sendasapp schema`). */
import { z } from 'zod';
import { configFileSchema } from './options.js';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { $id: 'https://sendasapp.dev/schema/sendasapp.config.json', title: 'sendasapp config file', ...schema };
}
