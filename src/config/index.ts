export * from './primitives.js';
export * from './options.js';
export * from './errors.js';
export * from './load.js';
export * from './vault-uri.js';
export { configJsonSchema } from './json-schema.js';

export { checkSendAs, managesSendAs, sendAsAccountOf } from './send-as.js';

export * from './fleet.js';
