export * from './backend.js';
export * from './bridge-path.js';
export * from './cmdlets.js';
export * from './errors.js';
export * from './factory.js';
export * from './probe.js';
export * from './protocol.js';
export * from './versions.js';
