/**
 * Everything one tenant run needs, in one object (no module state: many tenants can run side by side).
 */
import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'undici';
import type { CloudProfile } from '../auth/index.js';
import type { ProvisionOptions } from '../config/index.js';
import type { GraphApi } from '../entra/index.js';
import type { ExchangeBackend } from '../exchange/index.js';
import type { CredentialSink } from '../handoff/index.js';

export interface RunNames {
  uniqueName: string;
  displayName: string;
  /** Exchange management scope and role assignment names (rbac mode). */
  scopeName: string;
  roleAssignmentName: string;
}

export interface TenantContext {
  options: ProvisionOptions & { tenant: string };
  profile: CloudProfile;
  credential: TokenCredential;
  dispatcher: Agent;
  homeTenantId: string;
  mailboxTenantId: string;
  /** Graph for the app's home tenant and for the mailbox tenant (the same object when they are one tenant). */
  homeGraph: GraphApi;
  mailboxGraph: GraphApi;
  exchange: ExchangeBackend;
  sink?: CredentialSink;
  names: RunNames;
  /** The mailboxes the app sends as (a group already expanded). */
  mailboxes: string[];
  /** Progress lines for people (stderr). */
  progress: (line: string) => void;
  signal: AbortSignal;
  /** A new secret, kept for `--show-secret` output and the verification; never logged. */
  newSecret?: { keyId: string; value: string; expires: string };
  /** A new certificate (private key + certificate PEM), for the verification; never logged. */
  newCertificate?: { pem: string };
  /** The app's own token, fetched ahead for the proof. */
  proofToken?: Promise<string | undefined>;
}
