/** The hand-off room: secret sinks and the rendering of templates/handoff/ for the sending systems. */
export * from './sink.js';
export * from './keyvault-sink.js';
export * from './template.js';
export * from './handoff.js';
export * from './sink-removal.js';
