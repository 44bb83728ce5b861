export * from './replies.js';
export * from './probe.js';
