export * from './backend.js';
export * from './rest.js';
export * from './resources.js';
