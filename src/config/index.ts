export * from './primitives.js';
export * from './options.js';
export * from './errors.js';
export * from './load.js';
export * from './vault-uri.js';
export { configJsonSchema } from './json-schema.js';
