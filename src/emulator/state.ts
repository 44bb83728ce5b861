/**
 * The emulator's world: tenants, their directory objects and their Exchange organization, plus the realism knobs.
 * Graph-visible objects are stored with exactly the property names of Microsoft's type model (`entity`), with the
 * emulator's own bookkeeping kept beside them (never serialized to a client).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { VaultRecord } from './keyvault/index.js';

export type ServiceName = 'token' | 'graph' | 'exchange' | 'smtp' | 'keyvault';
/** The services the knobs (latency, faults, throttling) can name; Key Vault has none yet. */
export const SERVICE_NAMES: readonly ServiceName[] = ['token', 'graph', 'exchange', 'smtp'];

export type FaultKind = '503' | 'reset' | 'hang';
export interface FaultRule {
  service: ServiceName;
  /** 1-based number of the call within that service (counted since start or reset) that fails. */
  call: number;
  kind: FaultKind;
}

export interface Knobs {
  /** Added delay per service, in milliseconds. */
  latency: Partial<Record<ServiceName, number>>;
  /** A new directory object stays invisible to reads for this long. */
  replicationDelayMs: number;
  /**
   * How long Exchange Online lags behind Entra and behind its own writes: an Entra service principal created or
   * consented this recently is unknown to New-ServicePrincipal (AADServicePrincipalNotFound), and a new mailbox
   * permission, management scope or role assignment is not yet in Get- answers. null = the same as
   * `replicationDelayMs`.
   */
  exchangeReplicationDelayMs: number | null;
  /**
   * SMTP keeps answering 535 5.7.3 for this many seconds after an Exchange grant (and 554 5.2.252 SendAsDenied for a
   * From whose SendAs grant is younger).
   */
  permissionCacheSeconds: number;
  /** Every Nth call (per service, in `throttle.services`) is answered 429 with Retry-After. 0 = off. */
  throttle: { every: number; retryAfterSeconds: number; services: ServiceName[] };
  /** One-shot injected faults. */
  faults: FaultRule[];
  /** How the emulated admin answers an admin-consent request. */
  consent: 'approve' | 'deny';
  /**
   * Exchange Online's throttling of admin (PowerShell/REST) requests by operations running at once: the default
   * throttling policy's PowerShellMaxCmdletQueueDepth, 50 per user. A request past it is answered 429 with
   * Retry-After. Counted per organization (one operator per tenant in the emulator). 0 = no limit.
   */
  exchangeLimits: { concurrentRequestsPerTenant: number };
  /** Exchange Online's SMTP AUTH submission limits (smtp-submission-improvements, continuous-error throttling). */
  smtpLimits: {
    /** Authenticated connections one mailbox may hold at once; the next AUTH gets 432 4.3.2. 0 = no limit. */
    concurrentConnectionsPerMailbox: number;
    /** SendAs-denied submissions of one mailbox before 550 5.2.252 "Sender throttled …". 0 = never. */
    continuousErrorLimit: number;
    /** How long the mailbox then stays throttled, in seconds. */
    continuousErrorThrottleSeconds: number;
  };
}

export function defaultKnobs(): Knobs {
  return {
    latency: { token: 0, graph: 0, exchange: 0, smtp: 0 },
    replicationDelayMs: 0,
    exchangeReplicationDelayMs: null,
    permissionCacheSeconds: 0,
    throttle: { every: 0, retryAfterSeconds: 1, services: ['graph', 'exchange'] },
    faults: [],
    consent: 'approve',
    smtpLimits: { concurrentConnectionsPerMailbox: 0, continuousErrorLimit: 0, continuousErrorThrottleSeconds: 60 },
    exchangeLimits: { concurrentRequestsPerTenant: 50 },
  };
}

export interface TenantPolicy {
  /** Maximum lifetime of a new password credential; null = no policy. */
  maxSecretLifetimeDays: number | null;
  /** Security defaults on: SMTP AUTH is refused for everyone (535 5.7.139 security defaults). */
  securityDefaults: boolean;
}

/** Bookkeeping the emulator keeps beside every stored object. */
export interface Meta {
  createdAtMs: number;
}

export interface GraphEntity {
  id: string;
  [property: string]: unknown;
}

export interface UserRecord {
  entity: GraphEntity & {
    displayName: string;
    userPrincipalName: string;
    mail: string;
    /** Optional Graph user properties that recipient filters read (Department, Company, Office, City, Title). */
    department?: string | null;
    companyName?: string | null;
    officeLocation?: string | null;
    city?: string | null;
    jobTitle?: string | null;
  };
  meta: Meta;
  /** Entra directory roles held, by display name (e.g. 'Global Administrator'). */
  directoryRoles: string[];
  mailbox: MailboxRecord | null;
}

export interface MailboxRecord {
  alias: string;
  exchangeGuid: string;
  recipientTypeDetails: 'UserMailbox' | 'SharedMailbox';
  /** CASMailbox SmtpClientAuthenticationDisabled: true = disabled, false = enabled, null = organization decides. */
  smtpClientAuthenticationDisabled: boolean | null;
  /** Exchange's CustomAttribute1–15, keyed by that name (absent = blank). */
  customAttributes?: Record<string, string>;
}

export interface GroupRecord {
  entity: GraphEntity & { displayName: string; mail: string | null; mailEnabled: boolean; securityEnabled: boolean };
  meta: Meta;
  /** Member user ids. */
  members: string[];
  /** Exchange alias of the group. */
  alias: string;
}

export interface PasswordSecret {
  keyId: string;
  /** sha256 of the secret text, hex. */
  hash: string;
  /**
   * When the secret was added (epoch ms), for replication: the token service does not know it for
   * `knobs.replicationDelayMs` afterwards. Absent: the password credential's startDateTime stands in.
   */
  createdAtMs?: number;
}

export interface ApplicationRecord {
  entity: GraphEntity & {
    appId: string;
    displayName: string | null;
    uniqueName: string | null;
    signInAudience: string;
    requiredResourceAccess: Array<{
      resourceAppId: string;
      resourceAccess: Array<{ id: string; type: 'Role' | 'Scope' }>;
    }>;
    passwordCredentials: Array<Record<string, unknown> & { keyId: string; endDateTime: string | null }>;
    keyCredentials: Array<Record<string, unknown> & { keyId: string; key?: string | null; endDateTime: string | null }>;
  };
  meta: Meta;
  homeTenantId: string;
  secrets: PasswordSecret[];
  /** Workload identity federation: external tokens this app accepts as its credential (absent = none). */
  federatedIdentityCredentials?: FederatedIdentityCredentialRecord[];
}

/** Graph's federatedIdentityCredential: an external issuer's subject trusted as the app, for these audiences. */
export interface FederatedIdentityCredentialRecord {
  id: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface ServicePrincipalRecord {
  entity: GraphEntity & {
    appId: string;
    displayName: string | null;
    appRoles: Array<{
      id: string;
      value: string | null;
      displayName: string | null;
      description: string | null;
      allowedMemberTypes: string[];
      isEnabled: boolean;
      origin?: string | null;
    }>;
    appOwnerOrganizationId: string | null;
    servicePrincipalType: string | null;
  };
  meta: Meta;
  /** Entra directory roles held by this principal (e.g. 'Exchange Administrator'). */
  directoryRoles: string[];
  /** First-party (Microsoft) principals have no application object in any emulated tenant. */
  firstParty: boolean;
}

export interface AppRoleAssignmentRecord {
  entity: GraphEntity & {
    appRoleId: string;
    principalId: string;
    resourceId: string;
    principalType: string;
    principalDisplayName: string | null;
    resourceDisplayName: string | null;
    createdDateTime: string;
    deletedDateTime: string | null;
  };
  meta: Meta;
}

export interface ExchangeServicePrincipal {
  Identity: string;
  AppId: string;
  ObjectId: string;
  DisplayName: string;
  createdAtMs: number;
}

export interface MailboxPermissionRecord {
  /** The mailbox's user id. */
  mailboxUserId: string;
  /** The trustee as resolved: a service principal (Exchange) identity or a user id. */
  trustee: { kind: 'servicePrincipal' | 'user'; id: string };
  accessRights: string[];
  inheritanceType: string;
  autoMapping: boolean;
  grantedAtMs: number;
}

export interface RecipientPermissionRecord {
  mailboxUserId: string;
  trustee: { kind: 'servicePrincipal' | 'user'; id: string };
  accessRights: string[];
  grantedAtMs: number;
}

export interface ManagementScopeRecord {
  Name: string;
  RecipientRestrictionFilter: string;
  Identity: string;
  createdAtMs: number;
}

export interface ManagementRoleAssignmentRecord {
  Name: string;
  Role: string;
  /** App id of the service principal the role is assigned to. */
  App: string;
  CustomResourceScope: string | null;
  Identity: string;
  createdAtMs: number;
}

export interface ExchangeOrganization {
  servicePrincipals: ExchangeServicePrincipal[];
  mailboxPermissions: MailboxPermissionRecord[];
  recipientPermissions: RecipientPermissionRecord[];
  managementScopes: ManagementScopeRecord[];
  managementRoleAssignments: ManagementRoleAssignmentRecord[];
  transportConfig: { SmtpClientAuthenticationDisabled: boolean };
  organizationConfig: { OAuth2ClientProfileEnabled: boolean };
}

export interface StoredMessage {
  id: string;
  receivedAt: string;
  /** Authenticated mailbox (the XOAUTH2 `user=`). */
  authenticatedAs: string;
  clientAppId: string;
  mailFrom: string;
  rcptTo: string[];
  size: number;
  raw: string;
}

export interface TenantRecord {
  id: string;
  displayName: string;
  /** Verified domains; the first is the initial *.onmicrosoft.com domain. */
  domains: string[];
  createdDateTime: string;
  policy: TenantPolicy;
  users: UserRecord[];
  groups: GroupRecord[];
  servicePrincipals: ServicePrincipalRecord[];
  appRoleAssignments: AppRoleAssignmentRecord[];
  exchange: ExchangeOrganization;
  /** Messages accepted by SMTP, keyed by the lower-cased mailbox address they were sent as. */
  messages: Record<string, StoredMessage[]>;
}

export interface OperatorIdentity {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface World {
  version: 1;
  tenants: TenantRecord[];
  /** App registrations of all tenants; each lives in its home tenant. */
  applications: ApplicationRecord[];
  knobs: Knobs;
  operator: OperatorIdentity;
  /** Device-code flows waiting for (or given) approval. */
  deviceCodes: DeviceCodeRecord[];

  /** Azure Key Vaults (absent in a state saved before the emulator served Key Vault). */
  vaults?: VaultRecord[];

  /** Deleted applications (Entra's deleted items: restorable for 30 days, or removed for good with a DELETE). */
  deletedApplications?: ApplicationRecord[];

  /** GDAP: delegated-admin relationships between partner tenants and their customers (absent in older states). */
  delegatedAdminRelationships?: DelegatedAdminRelationshipRecord[];
}

/** Statuses of a delegatedAdminRelationship (Graph's delegatedAdminRelationshipStatus, the ones a run meets). */
export type DelegatedAdminRelationshipStatus =
  'active' | 'approvalPending' | 'activating' | 'terminationRequested' | 'terminating' | 'terminated' | 'expired';

/**
 * A GDAP relationship: users of the partner tenant (its admin agents) act in the customer tenant with the relationship's
 * Entra roles, as long as it is active and not past its end.
 */
export interface DelegatedAdminRelationshipRecord {
  id: string;
  displayName: string;
  partnerTenantId: string;
  customerTenantId: string;
  status: DelegatedAdminRelationshipStatus;
  /** Entra roles granted, by display name ('Exchange Administrator', 'Cloud Application Administrator', …). */
  roles: string[];
  /** Partner users the access assignments reach (user ids); null = every user of the partner tenant. */
  agentUserIds: string[] | null;
  createdDateTime: string;
  activatedDateTime: string | null;
  endDateTime: string;
  /** ISO 8601 duration, e.g. P730D. */
  duration: string;
}

/** Template ids of the Entra built-in roles GDAP relationships grant (unifiedRoles roleDefinitionId). */
export const DIRECTORY_ROLE_TEMPLATE_IDS: Record<string, string> = {
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
  'Application Administrator': '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
  'Cloud Application Administrator': '158c047a-c907-4556-b7ef-446551a6b5f7',
  'Privileged Role Administrator': 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  'Exchange Administrator': '29232cdf-9323-42fd-ade2-1d097af3e4de',
  'Exchange Recipient Administrator': '31392ffb-586c-42d1-9346-e59415a2cc4e',
  'Global Reader': 'f2ef992c-3afb-46b9-b7cf-a126ee74c451',
  'Security Reader': '5d6b6bb7-de71-4623-b4af-96380a352509',
  'Security Administrator': '194ae4cb-b126-40b2-bd5b-6091b380977d',
  'Helpdesk Administrator': '729827e3-9c14-49f7-bb1b-9608f156bbb8',
};

export interface DeviceCodeRecord {
  deviceCode: string;
  userCode: string;
  clientId: string;
  /** Tenant segment the flow was started on (GUID, domain, 'organizations' or 'common'). */
  tenantSegment: string;
  scope: string;
  expiresAtMs: number;
  /** User id once approved; 'denied' when declined. */
  approvedUserId: string | null;
  declined: boolean;
}

/** A GUID derived from a name, so that the default world has stable ids across starts. */
export function stableGuid(name: string): string {
  const h = createHash('sha1').update(`sendasapp-emulator:${name}`).digest('hex');
  const variant = ((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

export function newGuid(): string {
  return randomUUID();
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
