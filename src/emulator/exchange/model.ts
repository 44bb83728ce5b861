/**
 * Exchange's view of a tenant: identity resolution (the *IdParameter types) and the objects the cmdlets output, with
 * Exchange's property names.
 */
import { createHash } from 'node:crypto';
import type { EmulatorStore } from '../store.js';
import type { Caller } from '../context.js';
import type {
  ExchangeServicePrincipal,
  GroupRecord,
  ManagementRoleAssignmentRecord,
  ManagementScopeRecord,
  TenantRecord,
  UserRecord,
} from '../state.js';
import { groupDistinguishedName } from './authorization.js';
import { ambiguous, notFound, principalNotFound } from './errors.js';

export type Row = Record<string, unknown>;

export interface CmdletContext {
  store: EmulatorStore;
  tenant: TenantRecord;
  caller: Caller;
}

export interface CmdletOutput {
  value: Row[];
  warnings: string[];
}

export const output = (value: Row[] = [], warnings: string[] = []): CmdletOutput => ({ value, warnings });

// ---- distinguished names, SIDs, dates ----

const FOREST = 'DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM';

export function organizationDn(tenant: TenantRecord): string {
  return `OU=${tenant.domains[0]},OU=Microsoft Exchange Hosted Organizations,${FOREST}`;
}

export function userDn(tenant: TenantRecord, user: UserRecord): string {
  return `CN=${user.mailbox?.alias ?? user.entity.id},${organizationDn(tenant)}`;
}

export function servicePrincipalDn(tenant: TenantRecord, sp: ExchangeServicePrincipal): string {
  return `CN=${sp.ObjectId},${organizationDn(tenant)}`;
}

function rbacContainer(tenant: TenantRecord, container: string): string {
  return `CN=${container},CN=RBAC,CN=${tenant.domains[0]},CN=ConfigurationUnits,${FOREST}`;
}

export function scopeDn(tenant: TenantRecord, name: string): string {
  return `CN=${name},${rbacContainer(tenant, 'Scopes')}`;
}

export function roleAssignmentDn(tenant: TenantRecord, name: string): string {
  return `CN=${name},${rbacContainer(tenant, 'Role Assignments')}`;
}

/** A stable, realistic-looking security identifier for an object id. */
export function sidFor(id: string): string {
  const h = createHash('sha1').update(`sid:${id}`).digest();
  return `S-1-5-21-${h.readUInt32BE(0)}-${h.readUInt32BE(4)}-${h.readUInt32BE(8)}-${1000 + (h.readUInt16BE(12) % 60000)}`;
}

/** A stable GUID for an Exchange object derived from a name. */
export function objectGuid(name: string): string {
  const h = createHash('sha1').update(`exchange-object:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

const eq = (a: string | null | undefined, b: string): boolean =>
  typeof a === 'string' && a !== '' && a.toLowerCase() === b.toLowerCase();

/** Exactly one match, or Exchange's not-found / ambiguous error. */
function one<T>(matches: T[], identity: string, onMissing: (identity: string) => Error = notFound): T {
  if (matches.length === 0) throw onMissing(identity);
  if (matches.length > 1) throw ambiguous(identity);
  return matches[0]!;
}

// ---- recipients ----

function userMatches(tenant: TenantRecord, u: UserRecord, key: string): boolean {
  return (
    eq(u.entity.id, key) ||
    eq(u.entity.userPrincipalName, key) ||
    eq(u.entity.mail, key) ||
    eq(u.entity.displayName, key) ||
    (u.mailbox !== null && (eq(u.mailbox.alias, key) || eq(u.mailbox.exchangeGuid, key) || eq(userDn(tenant, u), key)))
  );
}

/** A mailbox (MailboxIdParameter): name/alias, address, UPN, display name, DN, ExternalDirectoryObjectId, GUID. */
export function resolveMailbox(tenant: TenantRecord, identity: string): UserRecord {
  const key = identity.trim();
  return one(
    tenant.users.filter((u) => u.mailbox !== null && userMatches(tenant, u, key)),
    identity,
  );
}

/** Any user (UserIdParameter / a user trustee), with or without a mailbox. */
export function findUsers(tenant: TenantRecord, identity: string): UserRecord[] {
  const key = identity.trim();
  return tenant.users.filter((u) => userMatches(tenant, u, key));
}

export function findServicePrincipals(tenant: TenantRecord, identity: string): ExchangeServicePrincipal[] {
  const key = identity.trim();
  return tenant.exchange.servicePrincipals.filter(
    (s) =>
      eq(s.Identity, key) ||
      eq(s.ObjectId, key) ||
      eq(s.AppId, key) ||
      eq(s.DisplayName, key) ||
      eq(servicePrincipalDn(tenant, s), key),
  );
}

/** A service principal registered in Exchange (ServicePrincipalIdParameter). */
export function resolveServicePrincipal(tenant: TenantRecord, identity: string): ExchangeServicePrincipal {
  return one(findServicePrincipals(tenant, identity), identity);
}

export interface Principal {
  trustee: { kind: 'servicePrincipal' | 'user'; id: string };
  /** How Exchange shows it in User / Trustee. */
  display: string;
}

/** A security principal for -User / -Trustee: an Exchange service principal or a user. */
export function resolvePrincipal(tenant: TenantRecord, identity: string): Principal {
  const sps = findServicePrincipals(tenant, identity);
  const users = findUsers(tenant, identity);
  const all: Principal[] = [
    ...sps.map((s) => ({ trustee: { kind: 'servicePrincipal' as const, id: s.ObjectId }, display: s.Identity })),
    ...users.map((u) => ({ trustee: { kind: 'user' as const, id: u.entity.id }, display: u.entity.userPrincipalName })),
  ];
  return one(all, identity, principalNotFound);
}

/** How a stored trustee is shown (an SP removed since shows as its SID, as Exchange shows orphaned ACEs). */
export function trusteeDisplay(tenant: TenantRecord, trustee: { kind: string; id: string }): string {
  if (trustee.kind === 'servicePrincipal') {
    const sp = tenant.exchange.servicePrincipals.find((s) => s.ObjectId === trustee.id);
    return sp ? sp.Identity : sidFor(trustee.id);
  }
  const user = tenant.users.find((u) => u.entity.id === trustee.id);
  return user ? user.entity.userPrincipalName : sidFor(trustee.id);
}

export function mailEnabledGroups(tenant: TenantRecord): GroupRecord[] {
  return tenant.groups.filter((g) => g.entity.mailEnabled);
}

export function resolveGroup(tenant: TenantRecord, identity: string): GroupRecord {
  const key = identity.trim();
  return one(
    mailEnabledGroups(tenant).filter(
      (g) =>
        eq(g.alias, key) ||
        eq(g.entity.displayName, key) ||
        eq(g.entity.mail, key) ||
        eq(g.entity.id, key) ||
        eq(groupDistinguishedName(tenant, g), key),
    ),
    identity,
  );
}

// ---- output objects ----

function recipientBase(tenant: TenantRecord, u: UserRecord): Row {
  const mbx = u.mailbox!;
  return {
    Name: mbx.alias,
    Alias: mbx.alias,
    DisplayName: u.entity.displayName,
    Identity: mbx.alias,
    Id: mbx.alias,
    DistinguishedName: userDn(tenant, u),
    Guid: objectGuid(`${tenant.id}/recipient/${u.entity.id}`),
    ExchangeObjectId: objectGuid(`${tenant.id}/recipient/${u.entity.id}`),
    ExternalDirectoryObjectId: u.entity.id,
    PrimarySmtpAddress: u.entity.mail,
    WindowsEmailAddress: u.entity.mail,
    UserPrincipalName: u.entity.userPrincipalName,
  };
}

/** CustomAttribute1–15 as Get-Mailbox shows them (blank ones as empty strings). */
function customAttributeColumns(u: UserRecord): Row {
  const own = u.mailbox?.customAttributes ?? {};
  return Object.fromEntries(
    Array.from({ length: 15 }, (_, i) => `CustomAttribute${i + 1}`).map((k) => [k, own[k] ?? '']),
  );
}

export function mailboxRow(tenant: TenantRecord, u: UserRecord): Row {
  const mbx = u.mailbox!;
  return {
    ...recipientBase(tenant, u),
    ExchangeGuid: mbx.exchangeGuid,
    RecipientType: 'UserMailbox',
    RecipientTypeDetails: mbx.recipientTypeDetails,
    EmailAddresses: [`SMTP:${u.entity.mail}`],
    ...customAttributeColumns(u),
    IsMailboxEnabled: true,
    OrganizationalUnit: `${tenant.domains[0]}`,
    WhenCreated: isoDate(u.meta.createdAtMs || Date.parse(tenant.createdDateTime)),
    IsValid: true,
    ObjectState: 'Unchanged',
  };
}

export function casMailboxRow(tenant: TenantRecord, u: UserRecord): Row {
  const mbx = u.mailbox!;
  return {
    ...recipientBase(tenant, u),
    ExchangeGuid: mbx.exchangeGuid,
    ActiveSyncEnabled: true,
    OWAEnabled: true,
    PopEnabled: true,
    ImapEnabled: true,
    MAPIEnabled: true,
    EwsEnabled: true,
    SmtpClientAuthenticationDisabled: mbx.smtpClientAuthenticationDisabled,
    IsValid: true,
    ObjectState: 'Unchanged',
  };
}

export function groupRow(tenant: TenantRecord, g: GroupRecord): Row {
  const type = g.entity.securityEnabled ? 'MailUniversalSecurityGroup' : 'MailUniversalDistributionGroup';
  return {
    Name: g.alias,
    Alias: g.alias,
    DisplayName: g.entity.displayName,
    Identity: g.alias,
    Id: g.alias,
    DistinguishedName: groupDistinguishedName(tenant, g),
    Guid: objectGuid(`${tenant.id}/group/${g.entity.id}`),
    ExchangeObjectId: objectGuid(`${tenant.id}/group/${g.entity.id}`),
    ExternalDirectoryObjectId: g.entity.id,
    PrimarySmtpAddress: g.entity.mail,
    WindowsEmailAddress: g.entity.mail,
    EmailAddresses: g.entity.mail ? [`SMTP:${g.entity.mail}`] : [],
    GroupType: g.entity.securityEnabled ? 'Universal, SecurityEnabled' : 'Universal',
    RecipientType: type,
    RecipientTypeDetails: type,
    IsValid: true,
    ObjectState: 'Unchanged',
  };
}

export function memberRow(tenant: TenantRecord, u: UserRecord): Row {
  if (!u.mailbox)
    return {
      Name: u.entity.displayName,
      DisplayName: u.entity.displayName,
      Identity: u.entity.displayName,
      ExternalDirectoryObjectId: u.entity.id,
      PrimarySmtpAddress: '',
      RecipientType: 'User',
      RecipientTypeDetails: 'User',
    };
  return {
    ...recipientBase(tenant, u),
    RecipientType: 'UserMailbox',
    RecipientTypeDetails: u.mailbox.recipientTypeDetails,
  };
}

export function servicePrincipalRow(tenant: TenantRecord, sp: ExchangeServicePrincipal): Row {
  const when = isoDate(sp.createdAtMs);
  return {
    AppId: sp.AppId,
    ObjectId: sp.ObjectId,
    ServiceId: sp.ObjectId,
    DisplayName: sp.DisplayName,
    // The SID Exchange gives the reference; ACEs name it as their UserSid / TrusteeSidString (Get-ServicePrincipal
    // | Format-List as quoted in Microsoft365DSC issue #5836).
    Sid: sidFor(sp.ObjectId),
    SidHistory: [],
    ExchangeVersion: '1.1 (15.0.0.0)',
    Name: sp.ObjectId,
    Identity: sp.Identity,
    Id: sp.Identity,
    DistinguishedName: servicePrincipalDn(tenant, sp),
    Guid: objectGuid(`${tenant.id}/sp/${sp.ObjectId}`),
    ExchangeObjectId: objectGuid(`${tenant.id}/sp/${sp.ObjectId}`),
    OrganizationId: organizationDn(tenant),
    OrganizationalUnitRoot: tenant.domains[0],
    ObjectClass: ['top', 'person', 'organizationalPerson', 'user'],
    WhenCreated: when,
    WhenCreatedUTC: when,
    WhenChanged: when,
    WhenChangedUTC: when,
    IsValid: true,
    ObjectState: 'Unchanged',
  };
}

export function scopeRow(tenant: TenantRecord, s: ManagementScopeRecord): Row {
  return {
    Name: s.Name,
    Identity: s.Identity,
    Id: s.Identity,
    DistinguishedName: scopeDn(tenant, s.Name),
    Guid: objectGuid(`${tenant.id}/scope/${s.Name.toLowerCase()}`),
    RecipientRoot: null,
    RecipientFilter: s.RecipientRestrictionFilter,
    ServerFilter: null,
    DatabaseFilter: null,
    ScopeRestrictionType: 'RecipientScope',
    Exclusive: false,
    WhenCreated: isoDate(s.createdAtMs),
    WhenCreatedUTC: isoDate(s.createdAtMs),
    IsValid: true,
    ObjectState: 'Unchanged',
  };
}

export function roleAssignmentRow(tenant: TenantRecord, a: ManagementRoleAssignmentRecord): Row {
  const sp = tenant.exchange.servicePrincipals.find((s) => s.AppId.toLowerCase() === a.App.toLowerCase());
  return {
    Name: a.Name,
    Identity: a.Identity,
    Id: a.Identity,
    DistinguishedName: roleAssignmentDn(tenant, a.Name),
    Guid: objectGuid(`${tenant.id}/role-assignment/${a.Name.toLowerCase()}`),
    Role: a.Role,
    RoleAssignee: sp ? sp.Identity : a.App,
    RoleAssigneeName: sp ? sp.DisplayName || sp.ObjectId : a.App,
    RoleAssigneeType: 'ServicePrincipal',
    AssignmentMethod: 'Direct',
    CustomResourceScope: a.CustomResourceScope,
    RecipientWriteScope: a.CustomResourceScope ? 'CustomRecipientScope' : 'Organization',
    CustomRecipientWriteScope: null,
    ConfigWriteScope: 'None',
    RecipientOrganizationalUnitScope: null,
    Enabled: true,
    RoleAssignmentDelegationType: 'Regular',
    WhenCreated: isoDate(a.createdAtMs),
    WhenCreatedUTC: isoDate(a.createdAtMs),
    IsValid: true,
    ObjectState: 'Unchanged',
  };
}
