/**
 * The Exchange side of the job, as reads and writes over `invoke`: the app's Exchange service principal, mailbox
 * access (FullAccess, SendAs, or an RBAC role over a management scope) and the SMTP AUTH settings.
 */
import { createHash } from 'node:crypto';
import { retry, formatDuration, type PollOptions, type RetryInfo } from '../poll/index.js';
import { ExchangeError, type ExchangeBackend } from './backend.js';
import { invokeAll } from './batching.js';

export interface ExchangeServicePrincipal {
  Identity?: string;
  AppId: string;
  ObjectId: string;
  DisplayName?: string;
  /** The security identifier Exchange gives the reference; ACEs name it as their UserSid (m365-facts §8). */
  Sid?: string;
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

/** New-ServicePrincipal answered AADServicePrincipalNotFound: Exchange knows no such Entra service principal (yet). */
export function isServicePrincipalNotFound(err: unknown): boolean {
  return err instanceof ExchangeError && /AADServicePrincipalNotFound/i.test(err.exchangeMessage);
}

/**
 * Exchange still does not know the Entra service principal: after the bounded wait for replication, or at once when
 * the principal was not fresh. Worded for the operator (cause and fix).
 */
export class ExchangeServicePrincipalNotFoundError extends Error {
  constructor(
    readonly appId: string,
    readonly objectId: string,
    /** How long Exchange was given to catch up with a fresh service principal (undefined: no wait). */
    readonly waitedMs: number | undefined,
  ) {
    super(
      waitedMs === undefined
        ? `Exchange knows no Entra service principal with object id ${objectId} for app ${appId} (AADServicePrincipalNotFound). Likely cause: the object id is the app registration's, not the enterprise application's (service principal) in this tenant. Fix: use the Object ID shown under Enterprise applications, or let sendasapp look it up (it reads it from Graph)`
        : `Exchange still knows no Entra service principal with object id ${objectId} for app ${appId} after ${formatDuration(waitedMs)} (AADServicePrincipalNotFound). Likely cause: Entra has not replicated the new service principal or its consent to Exchange yet (field reports: up to several minutes), or the object id is not the enterprise application's. Fix: run the same command again in a few minutes; it resumes where it stopped`,
    );
    this.name = 'ExchangeServicePrincipalNotFoundError';
  }
}

/** How long to wait for Exchange to learn a fresh Entra service principal (field scripts: 12 x 20 s to 30 x 10 s). */
export const EXCHANGE_REPLICATION_WAIT_MS = 5 * 60_000;

export interface ExchangeReplicationWait {
  /** Budget for retrying AADServicePrincipalNotFound, in ms (default EXCHANGE_REPLICATION_WAIT_MS). */
  deadlineMs?: number;
  /** Called before each wait, for visible progress ("waiting for Exchange to see the service principal …"). */
  onRetry?: (info: RetryInfo) => void;
  signal?: AbortSignal;
  /** Poller tuning (tests): first and longest delay, jitter, sleep. */
  baseMs?: number;
  capMs?: number;
  jitter?: number;
  sleep?: PollOptions['sleep'];
}

function pollOptions(appId: string, wait: ExchangeReplicationWait): PollOptions {
  const what = `Exchange to see the new service principal of app ${appId}`;
  return {
    what,
    deadlineMs: wait.deadlineMs ?? EXCHANGE_REPLICATION_WAIT_MS,
    baseMs: wait.baseMs ?? 5000,
    capMs: wait.capMs ?? 20_000,
    ...(wait.jitter !== undefined ? { jitter: wait.jitter } : {}),
    ...(wait.onRetry ? { onRetry: wait.onRetry } : {}),
    ...(wait.signal ? { signal: wait.signal } : {}),
    ...(wait.sleep ? { sleep: wait.sleep } : {}),
  };
}

/**
 * New-ServicePrincipal for the app's enterprise application. Exchange checks the object id against Entra
 * (2025-2026) and lags behind it: right after a service principal was created or consented it answers
 * AADServicePrincipalNotFound. With `fresh` given, that answer is retried for a bounded time (with progress);
 * without it, or when the time is up, it ends in ExchangeServicePrincipalNotFoundError, which names the likely
 * cause. "Already exists" is success. Answers the registration as Exchange shows it (with its Sid) when it can.
 */
export async function registerExchangeServicePrincipal(
  exo: ExchangeBackend,
  appId: string,
  objectId: string,
  displayName: string,
  /** The Entra service principal (or its consent) is fresh: wait for Exchange to see it. */
  fresh?: ExchangeReplicationWait,
): Promise<ExchangeServicePrincipal | undefined> {
  const started = Date.now();
  const once = async (): Promise<ExchangeServicePrincipal | undefined> => {
    try {
      const rows = await exo.invoke<ExchangeServicePrincipal>('New-ServicePrincipal', {
        AppId: appId,
        ObjectId: objectId,
        DisplayName: displayName,
      });
      return rows.find((r) => lower(r.AppId) === appId.toLowerCase());
    } catch (err) {
      if (err instanceof ExchangeError && err.kind === 'already-exists')
        return readExchangeServicePrincipal(exo, appId);
      throw err;
    }
  };
  try {
    return fresh ? await retry(once, isServicePrincipalNotFound, pollOptions(appId, fresh)) : await once();
  } catch (err) {
    if (isServicePrincipalNotFound(err))
      throw new ExchangeServicePrincipalNotFoundError(appId, objectId, fresh ? Date.now() - started : undefined);
    throw err;
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

/**
 * Forms under which a service principal may appear as a trustee in `User` / `Trustee` (how it renders is
 * UNCONFIRMED): its ids only. A display name is never enough: two principals may share one.
 */
export function trusteeForms(sp: ExchangeServicePrincipal): Set<string> {
  return new Set([sp.Identity, sp.ObjectId, sp.AppId].filter(Boolean).map((v) => lower(v)));
}

/**
 * Whether an ACE names this service principal: by its SID when both sides carry one (Get-ServicePrincipal's Sid =
 * the ACE's UserSid / TrusteeSidString), else by its object id, identity or app id. Never by display name alone.
 */
export function isTrustee(sp: ExchangeServicePrincipal, name: unknown, sid: unknown): boolean {
  if (sp.Sid && typeof sid === 'string' && sid !== '') return sid.toLowerCase() === sp.Sid.toLowerCase();
  return trusteeForms(sp).has(lower(name));
}

interface MailboxPermissionRow {
  User?: string;
  UserSid?: string;
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
  return rows.some(
    (r) => isTrustee(sp, r.User, r.UserSid) && rights(r.AccessRights).includes('FullAccess') && r.Deny !== true,
  );
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
  TrusteeSidString?: string;
  AccessRights?: string[] | string;
  AccessControlType?: string;
}

export async function hasSendAs(exo: ExchangeBackend, mailbox: string, sp: ExchangeServicePrincipal): Promise<boolean> {
  const rows = await exo.invoke<RecipientPermissionRow>('Get-RecipientPermission', { Identity: mailbox });
  return rows.some(
    (r) =>
      isTrustee(sp, r.Trustee, r.TrusteeSidString) &&
      rights(r.AccessRights).includes('SendAs') &&
      r.AccessControlType !== 'Deny',
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

export interface GroupMember {
  /** Primary SMTP address, lower case ('' for a member without one). */
  address: string;
  /** RecipientTypeDetails (or RecipientType): UserMailbox, SharedMailbox, MailContact, User, … */
  type: string;
  /** For people when there is no address. */
  name: string;
}

/** The members of a mail-enabled group, with their recipient types. */
export async function groupMemberRecipients(exo: ExchangeBackend, group: string): Promise<GroupMember[]> {
  const rows = await exo.invoke<Record<string, unknown>>('Get-DistributionGroupMember', {
    Identity: group,
    ResultSize: 'Unlimited',
  });
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return rows.map((r) => ({
    address: lower(r.PrimarySmtpAddress),
    type: text(r.RecipientTypeDetails) || text(r.RecipientType),
    name: text(r.DisplayName) || text(r.Name),
  }));
}

/** Members' primary addresses of a mail-enabled group. */
export async function groupMembers(exo: ExchangeBackend, group: string): Promise<string[]> {
  return (await groupMemberRecipients(exo, group)).map((m) => m.address).filter(Boolean);
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

/**
 * Organization and mailbox settings, read together (one `$batch` on the REST backend, one message through pwsh).
 * A mailbox Exchange does not know is listed in `notFound` (the caller explains it); any other failure is thrown.
 */
export async function readSmtpAuth(
  exo: ExchangeBackend,
  mailboxes: string[],
): Promise<SmtpAuthState & { notFound: string[] }> {
  type Row = { SmtpClientAuthenticationDisabled?: unknown; OAuth2ClientProfileEnabled?: unknown };
  const [transport, org, ...cas] = await invokeAll(exo, [
    { cmdlet: 'Get-TransportConfig' },
    { cmdlet: 'Get-OrganizationConfig' },
    ...mailboxes.map((m) => ({ cmdlet: 'Get-CASMailbox', parameters: { Identity: m } })),
  ]);
  for (const r of [transport, org]) if (r instanceof ExchangeError) throw r;
  const notFound: string[] = [];
  cas.forEach((r, i) => {
    if (!(r instanceof ExchangeError)) return;
    if (r.kind === 'not-found') notFound.push(mailboxes[i]!);
    else throw r;
  });
  const rows = (r: unknown): Row[] => (Array.isArray(r) ? (r as Row[]) : []);
  const orgFlag = tri(rows(org)[0]?.OAuth2ClientProfileEnabled);
  return {
    organizationDisabled: tri(rows(transport)[0]?.SmtpClientAuthenticationDisabled) === true,
    mailboxes: Object.fromEntries(mailboxes.map((m, i) => [m, tri(rows(cas[i])[0]?.SmtpClientAuthenticationDisabled)])),
    oauth2ClientProfileEnabled: orgFlag === null ? undefined : orgFlag,
    notFound,
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

/** Exchange refuses management scope and role assignment names longer than this (DataValidationException). */
export const RBAC_NAME_MAX = 64;

/**
 * The management scope and role assignment names for an app, within Exchange's 64 characters for any app name:
 * `<uniqueName>-scope` and `<uniqueName>-smtp-sendasapp` (the names earlier versions made, so reruns find them);
 * when that is too long, the unique name is cut and a short hash of the whole name is added, so that different long names stay different and the same name always gives
 * the same result (reruns find what they made). Pure.
 */
export function rbacNames(uniqueName: string): { scopeName: string; roleAssignmentName: string } {
  const fit = (suffix: string): string => {
    const full = `${uniqueName}${suffix}`;
    if (full.length <= RBAC_NAME_MAX) return full;
    const hash = createHash('sha256').update(uniqueName).digest('hex').slice(0, 8);
    const room = RBAC_NAME_MAX - suffix.length - hash.length - 1;
    return `${uniqueName.slice(0, room).trimEnd()}-${hash}${suffix}`;
  };
  return { scopeName: fit('-scope'), roleAssignmentName: fit('-smtp-sendasapp') };
}

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

// ---- what the app's service principal holds across the tenant (authoritative mailbox access) ----

/** A mailbox as Get-Mailbox lists it: the identity Exchange answers with, its primary address and every name. */
export interface MailboxRef {
  identity: string;
  /** Primary SMTP address, lower case ('' when Exchange gave none). */
  address: string;
  /** Every name it answers to, lower case: identity, alias, UPN, primary and proxy addresses. */
  names: string[];
}

type MailboxRow = {
  Identity?: string;
  Name?: string;
  Alias?: string;
  PrimarySmtpAddress?: string;
  UserPrincipalName?: string;
  WindowsEmailAddress?: string;
  EmailAddresses?: string[] | string;
};

function mailboxRef(r: MailboxRow): MailboxRef {
  const proxies = (Array.isArray(r.EmailAddresses) ? r.EmailAddresses : [r.EmailAddresses])
    .filter((a): a is string => typeof a === 'string' && /^smtp:/i.test(a))
    .map((a) => a.slice(5));
  const names = [
    r.Identity,
    r.Name,
    r.Alias,
    r.PrimarySmtpAddress,
    r.UserPrincipalName,
    r.WindowsEmailAddress,
    ...proxies,
  ]
    .map(lower)
    .filter(Boolean);
  return {
    identity: r.Identity ?? r.Name ?? r.PrimarySmtpAddress ?? '',
    address: lower(r.PrimarySmtpAddress),
    names: [...new Set(names)],
  };
}

/** Every mailbox of the organization (Get-Mailbox -ResultSize Unlimited): the places a grant of ours can be. */
export async function listMailboxes(exo: ExchangeBackend): Promise<MailboxRef[]> {
  const rows = await exo.invoke<MailboxRow>('Get-Mailbox', { ResultSize: 'Unlimited' });
  return rows.map(mailboxRef).filter((m) => m.identity !== '' || m.address !== '');
}

/**
 * The mailboxes among `mailboxes` on which the service principal holds FullAccess: Get-MailboxPermission
 * -Identity <mailbox> -User <principal> for each (the documented pattern: the cmdlet has no tenant-wide form), read
 * together (REST: `$batch`es of 10). A mailbox removed meanwhile is skipped.
 */
export async function fullAccessHeldOn(
  exo: ExchangeBackend,
  sp: ExchangeServicePrincipal,
  mailboxes: MailboxRef[],
): Promise<MailboxRef[]> {
  const answers = await invokeAll(
    exo,
    mailboxes.map((m) => ({
      cmdlet: 'Get-MailboxPermission',
      parameters: { Identity: m.address || m.identity, User: sp.ObjectId },
    })),
  );
  return mailboxes.filter((_, i) => {
    const a = answers[i];
    if (a instanceof ExchangeError) {
      if (a.kind === 'not-found') return false;
      throw a;
    }
    return (a as MailboxPermissionRow[]).some(
      (r) => isTrustee(sp, r.User, r.UserSid) && rights(r.AccessRights).includes('FullAccess') && r.Deny !== true,
    );
  });
}

/** The recipients on which the service principal holds SendAs, tenant-wide (Get-RecipientPermission -Trustee). */
export async function sendAsHeldOn(exo: ExchangeBackend, sp: ExchangeServicePrincipal): Promise<string[]> {
  const rows = await exo.invoke<RecipientPermissionRow & { Identity?: string }>('Get-RecipientPermission', {
    Trustee: sp.ObjectId,
    ResultSize: 'Unlimited',
  });
  return rows
    .filter(
      (r) =>
        isTrustee(sp, r.Trustee, r.TrusteeSidString) &&
        rights(r.AccessRights).includes('SendAs') &&
        r.AccessControlType !== 'Deny' &&
        typeof r.Identity === 'string',
    )
    .map((r) => r.Identity!);
}

/**
 * Remove-MailboxPermission FullAccess of the service principal (whatever its inheritance: one granted by hand may not
 * be `All`); an ACE already gone is success.
 */
export async function revokeFullAccess(
  exo: ExchangeBackend,
  mailbox: string,
  sp: ExchangeServicePrincipal,
): Promise<void> {
  try {
    await exo.invoke('Remove-MailboxPermission', {
      Identity: mailbox,
      User: sp.ObjectId,
      AccessRights: ['FullAccess'],
      Confirm: false,
    });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return;
    throw err;
  }
}

/** Remove-RecipientPermission SendAs of the service principal; an ACE already gone is success. */
export async function revokeSendAs(exo: ExchangeBackend, mailbox: string, sp: ExchangeServicePrincipal): Promise<void> {
  try {
    await exo.invoke('Remove-RecipientPermission', {
      Identity: mailbox,
      Trustee: sp.ObjectId,
      AccessRights: ['SendAs'],
      Confirm: false,
    });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return;
    throw err;
  }
}

export async function removeRoleAssignment(exo: ExchangeBackend, name: string): Promise<void> {
  try {
    await exo.invoke('Remove-ManagementRoleAssignment', { Identity: name, Confirm: false });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return;
    throw err;
  }
}

export async function removeManagementScope(exo: ExchangeBackend, name: string): Promise<void> {
  try {
    await exo.invoke('Remove-ManagementScope', { Identity: name, Confirm: false });
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found') return;
    throw err;
  }
}
