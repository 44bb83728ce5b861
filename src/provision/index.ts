export * from './context.js';
export * from './errors.js';
export * from './model.js';
export {
  ResourceGraph,
  Execution,
  type NodeReport,
  type NodeStatus,
  type RunEvent,
  type ChangeReport,
} from './engine.js';
export { openContext, resolveTenantId, runNames, type OpenOptions } from './open.js';
export { TenantRun, type Outcome, type RunResult, type TenantRunOptions } from './tenant-run.js';
export * from './verify.js';
export * from './rotation.js';
export { consentRedirectUri, delegatedConsentUrl, DELEGATED_SMTP_SCOPES, MAX_LIFETIME_DAYS } from './nodes/index.js';
export { adminConsentUrl } from '../entra/index.js';

/** PEM handling of app credentials, for the commands that read a certificate file themselves. */
export { splitKeyAndCertificate } from '../entra/index.js';
export {
  TeardownRun,
  buildTeardownGraph,
  type TeardownFacts,
  type TeardownOptions,
  type TeardownResult,
  type TeardownRunOptions,
  type TeardownTarget,
} from './teardown.js';
export { inventory, inventoryEntry, type InventoryApp, type InventoryCredential } from './inventory.js';
export {
  NOTES_MAX,
  PROVENANCE_MARKER,
  fitProvenance,
  notesWithProvenance,
  notesWithoutProvenance,
  parseProvenance,
  type ProvenanceRecord,
} from './nodes/index.js';
