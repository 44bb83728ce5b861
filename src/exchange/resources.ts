/**
 * The Exchange side of the job, as reads and writes over `invoke`: the app's Exchange service principal, mailbox
 * access (FullAccess, SendAs, or an RBAC role over a management scope) and the SMTP AUTH settings.
 */
import { ExchangeError, type ExchangeBackend } from './backend.js';
import { invokeAllOrThrow } from './batching.js';

export interface ExchangeServicePrincipal {
  Identity?: string;
  AppId: string;
  ObjectId: string;
  DisplayName?: string;
}

function lower(v: unknown): string {
  return typeof v === 'string' ? v.toLowerCase() : '';
}

/**
 * The Exchange registration of an app. `Get-ServicePrincipal` answers ALL principals for an unknown identity
 * (m365-facts fact 6), so the answer is filtered on AppId.
 */
export async function readExchangeServicePrincipal(
  exo: ExchangeBackend,
  appId: string,
): Promise<ExchangeServicePrincipal | undefined> {
  try {
    const rows = await exo.invoke<ExchangeServicePrincipal>('Get-ServicePrincipal', { Identity: appId });
    return rows.find((r) => lower(r.AppId) === appId.toLowerCase());
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return undefined;
    throw err;
  }
}

export async function registerExchangeServicePrincipal(
  exo: ExchangeBackend,
  appId: string,
  objectId: string,
  displayName: string,
  /**
   * The Entra service principal was created moments ago: Exchange may not see it yet. Scripts in the field retry
   * New-ServicePrincipal 5 x 15 s then (m365-facts §7); `waitMs` is the pause between tries (0 = no retry).
   */
  justCreated?: { tries: number; waitMs: number; sleep: (ms: number) => Promise<void> },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await exo.invoke('New-ServicePrincipal', { AppId: appId, ObjectId: objectId, DisplayName: displayName });
      return;
    } catch (err) {
      if (err instanceof ExchangeError && err.kind === 'already-exists') return;
      const lag = err instanceof ExchangeError && (err.kind === 'not-found' || err.kind === 'unknown');
      if (!lag || !justCreated || attempt >= justCreated.tries) throw err;
      await justCreated.sleep(justCreated.waitMs);
    }
  }
}

export async function removeExchangeServicePrincipal(exo: ExchangeBackend, identity: string): Promise<void> {
  try {
    await exo.invoke('Remove-ServicePrincipal', { Identity: identity, Confirm: false });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return;
    throw err;
  }
}

/** Forms under which a service principal may appear as a trustee (how `User` renders is UNCONFIRMED). */
export function trusteeForms(sp: ExchangeServicePrincipal): Set<string> {
  return new Set([sp.Identity, sp.ObjectId, sp.AppId, sp.DisplayName].filter(Boolean).map((v) => lower(v)));
}

interface MailboxPermissionRow {
  User?: string;
  AccessRights?: string[] | string;
  Deny?: boolean;
  IsInherited?: boolean;
}

function rights(v: string[] | string | undefined): string[] {
  if (Array.isArray(v)) return v;
  return typeof v === 'string' ? v.split(/[\s,]+/) : [];
}

export async function hasFullAccess(
  exo: ExchangeBackend,
  mailbox: string,
  sp: ExchangeServicePrincipal,
): Promise<boolean> {
  const rows = await exo.invoke<MailboxPermissionRow>('Get-MailboxPermission', { Identity: mailbox });
  const forms = trusteeForms(sp);
  return rows.some((r) => forms.has(lower(r.User)) && rights(r.AccessRights).includes('FullAccess') && r.Deny !== true);
}

export async function grantFullAccess(
  exo: ExchangeBackend,
  mailbox: string,
  sp: ExchangeServicePrincipal,
): Promise<void> {
  try {
    await exo.invoke('Add-MailboxPermission', {
      Identity: mailbox,
      User: sp.ObjectId,
      AccessRights: ['FullAccess'],
      AutoMapping: false,
      InheritanceType: 'All',
    });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'already-exists') return;
    throw err;
  }
}

interface RecipientPermissionRow {
  Trustee?: string;
  AccessRights?: string[] | string;
  AccessControlType?: string;
}

export async function hasSendAs(exo: ExchangeBackend, mailbox: string, sp: ExchangeServicePrincipal): Promise<boolean> {
  const rows = await exo.invoke<RecipientPermissionRow>('Get-RecipientPermission', { Identity: mailbox });
  const forms = trusteeForms(sp);
  return rows.some(
    (r) => forms.has(lower(r.Trustee)) && rights(r.AccessRights).includes('SendAs') && r.AccessControlType !== 'Deny',
  );
}

export async function grantSendAs(exo: ExchangeBackend, mailbox: string, sp: ExchangeServicePrincipal): Promise<void> {
  try {
    await exo.invoke('Add-RecipientPermission', {
      Identity: mailbox,
      Trustee: sp.ObjectId,
      AccessRights: ['SendAs'],
      Confirm: false,
    });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'already-exists') return;
    throw err;
  }
}

/** Members' primary addresses of a mail-enabled group. */
export async function groupMembers(exo: ExchangeBackend, group: string): Promise<string[]> {
  const rows = await exo.invoke<{ PrimarySmtpAddress?: string; RecipientTypeDetails?: string }>(
    'Get-DistributionGroupMember',
    {
      Identity: group,
      ResultSize: 'Unlimited',
    },
  );
  return rows.map((r) => lower(r.PrimarySmtpAddress)).filter(Boolean);
}

export async function groupDistinguishedName(exo: ExchangeBackend, group: string): Promise<string> {
  const rows = await exo.invoke<{ DistinguishedName?: string }>('Get-DistributionGroup', { Identity: group });
  const dn = rows[0]?.DistinguishedName;
  if (!dn) throw new ExchangeError('Get-DistributionGroup', 'not-found', `group ${group} has no distinguished name`);
  return dn;
}

// ---- SMTP AUTH ----

export interface SmtpAuthState {
  /** Organization: TransportConfig SmtpClientAuthenticationDisabled. */
  organizationDisabled: boolean;
  /** Per mailbox: CASMailbox SmtpClientAuthenticationDisabled (null = the organization decides). */
  mailboxes: Record<string, boolean | null>;
  /** OrganizationConfig OAuth2ClientProfileEnabled (modern auth). */
  oauth2ClientProfileEnabled: boolean | undefined;
}

export function effectiveDisabled(state: SmtpAuthState, mailbox: string): boolean {
  const own = state.mailboxes[mailbox];
  return own === null || own === undefined ? state.organizationDisabled : own;
}

function tri(v: unknown): boolean | null {
  if (v === true || v === 'True' || v === 'true') return true;
  if (v === false || v === 'False' || v === 'false') return false;
  return null;
}

/** Organization and mailbox settings, read together (one `$batch` on the REST backend for up to 8 mailboxes). */
export async function readSmtpAuth(exo: ExchangeBackend, mailboxes: string[]): Promise<SmtpAuthState> {
  type Row = { SmtpClientAuthenticationDisabled?: unknown; OAuth2ClientProfileEnabled?: unknown };
  const [transport, org, ...cas] = (await invokeAllOrThrow(exo, [
    { cmdlet: 'Get-TransportConfig' },
    { cmdlet: 'Get-OrganizationConfig' },
    ...mailboxes.map((m) => ({ cmdlet: 'Get-CASMailbox', parameters: { Identity: m } })),
  ])) as Row[][];
  const orgFlag = tri(org?.[0]?.OAuth2ClientProfileEnabled);
  return {
    organizationDisabled: tri(transport?.[0]?.SmtpClientAuthenticationDisabled) === true,
    mailboxes: Object.fromEntries(mailboxes.map((m, i) => [m, tri(cas[i]?.[0]?.SmtpClientAuthenticationDisabled)])),
    oauth2ClientProfileEnabled: orgFlag === null ? undefined : orgFlag,
  };
}

export async function setMailboxSmtpAuth(
  exo: ExchangeBackend,
  mailbox: string,
  disabled: boolean | null,
): Promise<void> {
  await exo.invoke('Set-CASMailbox', { Identity: mailbox, SmtpClientAuthenticationDisabled: disabled });
}

export async function setOrganizationSmtpAuth(exo: ExchangeBackend, disabled: boolean): Promise<void> {
  await exo.invoke('Set-TransportConfig', { SmtpClientAuthenticationDisabled: disabled });
}

// ---- RBAC for applications ----

export const RBAC_SMTP_ROLE = 'Application SMTP.SendAsApp';

export interface ManagementScope {
  Name: string;
  RecipientRestrictionFilter: string;
}

export async function readManagementScope(exo: ExchangeBackend, name: string): Promise<ManagementScope | undefined> {
  try {
    const rows = await exo.invoke<ManagementScope>('Get-ManagementScope', { Identity: name });
    return rows.find((r) => lower(r.Name) === name.toLowerCase());
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return undefined;
    throw err;
  }
}

export async function writeManagementScope(
  exo: ExchangeBackend,
  name: string,
  filter: string,
  exists: boolean,
): Promise<void> {
  if (exists) await exo.invoke('Set-ManagementScope', { Identity: name, RecipientRestrictionFilter: filter });
  else await exo.invoke('New-ManagementScope', { Name: name, RecipientRestrictionFilter: filter });
}

export interface RoleAssignment {
  Name: string;
  Role: string;
  App?: string;
  CustomResourceScope?: string | null;
}

export async function readRoleAssignments(exo: ExchangeBackend, appId: string): Promise<RoleAssignment[]> {
  try {
    const rows = await exo.invoke<RoleAssignment>('Get-ManagementRoleAssignment', { RoleAssignee: appId });
    return rows.filter((r) => lower(r.Role) === RBAC_SMTP_ROLE.toLowerCase());
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return [];
    throw err;
  }
}

export async function assignSmtpRole(exo: ExchangeBackend, appId: string, scope: string, name: string): Promise<void> {
  try {
    await exo.invoke('New-ManagementRoleAssignment', {
      Name: name,
      App: appId,
      Role: RBAC_SMTP_ROLE,
      CustomResourceScope: scope,
    });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'already-exists') return;
    throw err;
  }
}

export async function testAuthorization(exo: ExchangeBackend, appId: string, mailbox: string): Promise<boolean> {
  const rows = await exo.invoke<{ RoleName?: string; InScope?: unknown }>('Test-ServicePrincipalAuthorization', {
    Identity: appId,
    Resource: mailbox,
  });
  return rows.some((r) => lower(r.RoleName) === RBAC_SMTP_ROLE.toLowerCase() && tri(r.InScope) === true);
}
