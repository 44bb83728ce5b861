/**
 * How Exchange Online decides whether an app may use a mailbox over SMTP AUTH with client credentials, and the
 * effective SMTP AUTH setting. Shared by the SMTP service (the XOAUTH2 decision) and the admin API
 * (Test-ServicePrincipalAuthorization, Get-CASMailbox).
 */
import type { EmulatorStore } from '../store.js';
import type { ExchangeServicePrincipal, GroupRecord, TenantRecord, UserRecord } from '../state.js';
import { filterableProperty } from './filterable.js';

export const SMTP_SEND_AS_APP_ROLE = 'SMTP.SendAsApp';
export const RBAC_SMTP_ROLE = 'Application SMTP.SendAsApp';

/** Exchange's distinguished name of a group (used by MemberOfGroup filters). */
export function groupDistinguishedName(tenant: TenantRecord, group: GroupRecord): string {
  return `CN=${group.alias},OU=${tenant.domains[0]},OU=Microsoft Exchange Hosted Organizations,DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM`;
}

/** The Exchange registration of an app, by its app id. */
export function exchangeServicePrincipal(tenant: TenantRecord, appId: string): ExchangeServicePrincipal | undefined {
  const key = appId.toLowerCase();
  return tenant.exchange.servicePrincipals.find((s) => s.AppId.toLowerCase() === key);
}

export { FILTERABLE_RECIPIENT_PROPERTIES } from './filterable.js';

/** `Property -eq|-ne|-like 'value'` (or "value"), or a system value `$null` / `$true` / `$false`. */
const CLAUSE_RE = /^\(?\s*(\w+)\s+-(eq|ne|like)\s+(?:(['"])(.*)\3|\$(null|true|false))\s*\)?$/i;

interface FilterClause {
  text: string;
  /** 0-based offset of the clause in the filter as given. */
  offset: number;
}

/** Splits a filter into -or groups of -and clauses (the grammar both the evaluator and the checker use). */
function splitFilter(filter: string): FilterClause[][] {
  const lead = filter.length - filter.trimStart().length;
  const trimmed = filter.trim();
  const unwrapped = /^\((.*)\)$/s.exec(trimmed);
  const text = unwrapped ? unwrapped[1]! : trimmed;
  const base = lead + (unwrapped ? 1 : 0);
  const groups: FilterClause[][] = [];
  let cursor = 0;
  for (const orPart of text.split(/\s+-or\s+/i)) {
    const orOffset = text.indexOf(orPart, cursor);
    cursor = orOffset + orPart.length;
    const clauses: FilterClause[] = [];
    let inner = 0;
    for (const clause of orPart.split(/\s+-and\s+/i)) {
      const at = orPart.indexOf(clause, inner);
      inner = at + clause.length;
      const pad = clause.length - clause.trimStart().length;
      clauses.push({ text: clause.trim(), offset: base + orOffset + at + pad });
    }
    groups.push(clauses);
  }
  return groups;
}

export type RecipientFilterCheck =
  | { ok: true }
  | { ok: false; problem: 'syntax'; /** 1-based position of the clause that can't be parsed. */ position: number }
  | { ok: false; problem: 'property'; property: string };

/**
 * Checks a recipient filter against the grammar `recipientFilterMatches` evaluates, so that the admin API refuses
 * exactly the filters the SMTP decision could not evaluate.
 */
export function checkRecipientFilter(filter: string): RecipientFilterCheck {
  if (filter.trim() === '') return { ok: false, problem: 'syntax', position: 1 };
  for (const group of splitFilter(filter)) {
    for (const clause of group) {
      const m = CLAUSE_RE.exec(clause.text);
      if (!m) return { ok: false, problem: 'syntax', position: clause.offset + 1 };
      const prop = m[1]!;
      if (!filterableProperty(prop)) return { ok: false, problem: 'property', property: prop };
    }
  }
  return { ok: true };
}

/**
 * Evaluates a recipient filter (the OPATH subset Exchange management scopes use) against a mailbox user:
 * clauses `Property -eq|-ne|-like 'value'` (or `$null`), joined by -and / -or, optionally in parentheses, over the
 * documented filterable properties (MemberOfGroup takes a group's DN, name or address). Returns undefined when the
 * filter cannot be parsed.
 */
export function recipientFilterMatches(tenant: TenantRecord, filter: string, user: UserRecord): boolean | undefined {
  let any = false;
  for (const group of splitFilter(filter)) {
    let all = true;
    for (const clause of group) {
      const m = CLAUSE_RE.exec(clause.text);
      if (!m) return undefined;
      const [, prop, rawOp, , quoted, system] = m as unknown as [string, string, string, string?, string?, string?];
      const name = filterableProperty(prop);
      if (!name) return undefined;
      const op = rawOp.toLowerCase();
      const values = propertyValues(tenant, name, user).filter((v) => v !== '');
      let hit: boolean;
      if (system?.toLowerCase() === 'null') hit = values.length === 0;
      else {
        const value = (quoted ?? system ?? '').toLowerCase();
        const test = (v: string): boolean =>
          op === 'like'
            ? new RegExp('^' + value.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$').test(v)
            : v === value;
        hit = values.some(test);
      }
      if (op === 'ne' ? hit : !hit) all = false;
    }
    if (all) any = true;
  }
  return any;
}

/**
 * The values of a filterable property on a mailbox user, lower-cased. A documented property the emulator keeps no
 * data for is blank (it matches `-eq $null` and `-ne 'x'`), as it is on a recipient that never had it set.
 */
function propertyValues(tenant: TenantRecord, name: string, user: UserRecord): string[] {
  const e = user.entity as UserRecord['entity'] & Record<string, unknown>;
  const text = (v: unknown): string[] => (typeof v === 'string' ? [v.toLowerCase()] : []);
  const custom = /^CustomAttribute(\d+)$/.exec(name);
  if (custom) return text(user.mailbox?.customAttributes?.[name]);
  switch (name) {
    case 'MemberOfGroup':
      return tenant.groups
        .filter((g) => g.members.includes(user.entity.id))
        .flatMap((g) => [groupDistinguishedName(tenant, g), g.alias, g.entity.displayName, g.entity.mail ?? ''])
        .map((v) => v.toLowerCase());
    case 'PrimarySmtpAddress':
    case 'EmailAddresses':
      // "Any filter that uses the PrimarySmtpAddress property will also search values in the EmailAddresses property."
      return name === 'EmailAddresses' ? [`smtp:${user.entity.mail}`.toLowerCase(), ...text(e.mail)] : text(e.mail);
    case 'WindowsEmailAddress':
      return text(e.mail);
    case 'Alias':
    case 'Name':
      return text(user.mailbox?.alias);
    case 'UserPrincipalName':
      return text(e.userPrincipalName);
    case 'DisplayName':
      return text(e.displayName);
    case 'ExternalDirectoryObjectId':
      return text(e.id);
    case 'ExchangeGuid':
      return text(user.mailbox?.exchangeGuid);
    case 'RecipientTypeDetails':
      return text(user.mailbox?.recipientTypeDetails);
    case 'RecipientType':
      return user.mailbox ? ['usermailbox'] : ['user'];
    case 'Department':
      return text(e.department);
    case 'Company':
      return text(e.companyName);
    case 'Office':
      return text(e.officeLocation);
    case 'City':
      return text(e.city);
    case 'Title':
      return text(e.jobTitle);
    case 'StateOrProvince':
      return text(e.state);
    case 'CountryOrRegion':
      return text(e.country);
    case 'FirstName':
      return text(e.givenName);
    case 'LastName':
      return text(e.surname);
    default:
      return [];
  }
}

/** The effective SmtpClientAuthenticationDisabled: the mailbox setting wins over the organization's when not null. */
export function effectiveSmtpAuthDisabled(
  tenant: TenantRecord,
  user: UserRecord,
): { disabled: boolean; source: 'mailbox' | 'organization' } {
  const own = user.mailbox?.smtpClientAuthenticationDisabled ?? null;
  if (own !== null) return { disabled: own, source: 'mailbox' };
  return { disabled: tenant.exchange.transportConfig.SmtpClientAuthenticationDisabled, source: 'organization' };
}

export interface RbacEvaluation {
  inScope: boolean;
  /** Role assignments for the app with the SMTP role (in scope or not). */
  assignments: Array<{ name: string; scope: string | null; inScope: boolean; createdAtMs: number }>;
}

export function evaluateRbac(tenant: TenantRecord, appId: string, user: UserRecord): RbacEvaluation {
  const key = appId.toLowerCase();
  const assignments = tenant.exchange.managementRoleAssignments
    .filter((a) => a.App.toLowerCase() === key && a.Role.toLowerCase() === RBAC_SMTP_ROLE.toLowerCase())
    .map((a) => {
      let inScope = true;
      if (a.CustomResourceScope) {
        const scope = tenant.exchange.managementScopes.find(
          (s) => s.Name.toLowerCase() === a.CustomResourceScope!.toLowerCase(),
        );
        inScope = scope ? recipientFilterMatches(tenant, scope.RecipientRestrictionFilter, user) === true : false;
      }
      return { name: a.Name, scope: a.CustomResourceScope, inScope, createdAtMs: a.createdAtMs };
    });
  return { inScope: assignments.some((a) => a.inScope), assignments };
}

export type MailboxAccessDecision =
  | { ok: true; via: 'FullAccess' | 'SendAs' | 'RBAC'; grantedAtMs: number }
  | {
      ok: false;
      reason:
        | 'no-exchange-service-principal'
        | 'wrong-object-id'
        | 'no-role-claim'
        | 'no-mailbox-permission'
        | 'permission-cache';
    };

/**
 * Whether the app behind an app-only token may sign in to `user`'s mailbox over SMTP, as Exchange decides:
 * the app must be registered with New-ServicePrincipal using the *enterprise app's* object id (the token's oid);
 * then either the token carries SMTP.SendAsApp and the app has FullAccess (or SendAs) on the mailbox, or an
 * "Application SMTP.SendAsApp" RBAC assignment whose scope covers the mailbox. A grant younger than the
 * permission cache is not seen yet.
 */
export function decideMailboxAccess(
  store: EmulatorStore,
  tenant: TenantRecord,
  claims: { appid: string; oid: string; roles?: string[] },
  user: UserRecord,
): MailboxAccessDecision {
  const registration = exchangeServicePrincipal(tenant, claims.appid);
  if (!registration) return { ok: false, reason: 'no-exchange-service-principal' };
  if (registration.ObjectId.toLowerCase() !== String(claims.oid).toLowerCase())
    return { ok: false, reason: 'wrong-object-id' };

  let decision: MailboxAccessDecision | undefined;
  const rbac = evaluateRbac(tenant, claims.appid, user);
  const inScope = rbac.assignments.filter((a) => a.inScope);
  if (inScope.length > 0) {
    decision = { ok: true, via: 'RBAC', grantedAtMs: Math.min(...inScope.map((a) => a.createdAtMs)) };
  } else {
    const hasRole = (claims.roles ?? []).includes(SMTP_SEND_AS_APP_ROLE);
    if (!hasRole) return { ok: false, reason: 'no-role-claim' };
    const isTrustee = (t: { kind: string; id: string }): boolean =>
      t.kind === 'servicePrincipal' && t.id.toLowerCase() === registration.ObjectId.toLowerCase();
    const full = tenant.exchange.mailboxPermissions.find(
      (p) => p.mailboxUserId === user.entity.id && isTrustee(p.trustee) && p.accessRights.includes('FullAccess'),
    );
    const sendAs = tenant.exchange.recipientPermissions.find(
      (p) => p.mailboxUserId === user.entity.id && isTrustee(p.trustee) && p.accessRights.includes('SendAs'),
    );
    const grant = full ?? sendAs;
    if (!grant) return { ok: false, reason: 'no-mailbox-permission' };
    decision = { ok: true, via: full ? 'FullAccess' : 'SendAs', grantedAtMs: grant.grantedAtMs };
  }
  const cacheMs = store.knobs.permissionCacheSeconds * 1000;
  // The SMTP.SendAsApp consent is cached like the mailbox grants (classic mode only).
  let consentAtMs = 0;
  if (decision.via !== 'RBAC') {
    const exo = tenant.servicePrincipals.find((sp) => sp.entity.appId === '00000002-0000-0ff1-ce00-000000000000');
    const role = exo?.entity.appRoles.find((r) => r.value === SMTP_SEND_AS_APP_ROLE);
    const consent = tenant.appRoleAssignments.find(
      (a) =>
        a.entity.principalId === String(claims.oid).toLowerCase() &&
        a.entity.resourceId === exo?.entity.id &&
        a.entity.appRoleId === role?.id,
    );
    consentAtMs = consent?.meta.createdAtMs ?? 0;
  }
  const newest = Math.max(decision.grantedAtMs, registration.createdAtMs, consentAtMs);
  if (cacheMs > 0 && store.now() - newest < cacheMs) return { ok: false, reason: 'permission-cache' };
  return decision;
}

/**
 * Whether the app may send as `fromUser` while signed in as `authUser` (From ≠ user= needs SendAs on From, granted
 * to the signed-in account or to the app). With `cache`, a grant younger than the permission cache is not seen yet:
 * the store driver refuses it as if it were not there (SendAs changes take up to an hour in Exchange Online).
 */
export function maySendAs(
  tenant: TenantRecord,
  appId: string,
  authUser: UserRecord,
  fromUser: UserRecord | undefined,
  cache?: { nowMs: number; cacheMs: number },
): boolean {
  if (fromUser && fromUser.entity.id === authUser.entity.id) return true;
  if (!fromUser) return false;
  const registration = exchangeServicePrincipal(tenant, appId);
  const trusteeIds = new Set([authUser.entity.id, ...(registration ? [registration.ObjectId.toLowerCase()] : [])]);
  return tenant.exchange.recipientPermissions.some(
    (p) =>
      p.mailboxUserId === fromUser.entity.id &&
      trusteeIds.has(p.trustee.id.toLowerCase()) &&
      p.accessRights.includes('SendAs') &&
      (!cache || cache.cacheMs <= 0 || cache.nowMs - p.grantedAtMs >= cache.cacheMs),
  );
}
