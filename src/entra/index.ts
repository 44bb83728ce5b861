export * from './graph.js';
export * from './application.js';
export * from './credential.js';
export * from './service-principal.js';

export * from './app-tags.js';

export * from './removal.js';
export * from './inventory.js';
