/**
 * What the caller's token lets it do, as the real API decides: app-only tokens by their `roles`, delegated tokens
 * by the signed-in user's directory roles (and scopes for reads). `owned` = Application.ReadWrite.OwnedBy: only the
 * applications and service principals the caller created.
 */
import type { Caller } from '../context.js';
import type { ApplicationRecord, ServicePrincipalRecord } from '../state.js';
import { denied } from './errors.js';

export type Reach = 'all' | 'owned' | 'none';

const APP_ADMIN_ROLES = ['Global Administrator', 'Application Administrator', 'Cloud Application Administrator'];
const GRANT_ADMIN_ROLES = ['Global Administrator', 'Privileged Role Administrator', 'Cloud Application Administrator'];

const READ_APPS = [
  'Application.Read.All',
  'Application.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];

function holds(caller: Caller, permissions: readonly string[]): boolean {
  const granted = caller.kind === 'app' ? caller.roles : caller.scopes;
  return permissions.some((p) => granted.includes(p));
}

function isAdmin(caller: Caller, roles: readonly string[]): boolean {
  return caller.kind === 'user' && caller.directoryRoles.some((r) => roles.includes(r));
}

/** Reading applications and service principals. */
export function readReach(caller: Caller): Reach {
  if (isAdmin(caller, APP_ADMIN_ROLES)) return 'all';
  if (holds(caller, READ_APPS)) return 'all';
  if (caller.kind === 'app' && holds(caller, ['Application.ReadWrite.OwnedBy'])) return 'owned';
  return 'none';
}

/** Creating and changing applications (their credentials included). */
export function applicationWriteReach(caller: Caller): Reach {
  if (isAdmin(caller, APP_ADMIN_ROLES)) return 'all';
  if (caller.kind === 'app' && holds(caller, ['Application.ReadWrite.All'])) return 'all';
  if (caller.kind === 'app' && holds(caller, ['Application.ReadWrite.OwnedBy'])) return 'owned';
  return 'none';
}

/** Creating and changing service principals. */
export function servicePrincipalWriteReach(caller: Caller): Reach {
  if (isAdmin(caller, APP_ADMIN_ROLES)) return 'all';
  if (caller.kind === 'app' && holds(caller, ['Application.ReadWrite.All', 'Directory.ReadWrite.All'])) return 'all';
  if (caller.kind === 'app' && holds(caller, ['Application.ReadWrite.OwnedBy'])) return 'owned';
  return 'none';
}

/** Granting and revoking app role assignments: AppRoleAssignment.ReadWrite.All plus a read of the principals. */
export function canWriteAssignments(caller: Caller): boolean {
  if (isAdmin(caller, GRANT_ADMIN_ROLES)) return true;
  return caller.kind === 'app' && holds(caller, ['AppRoleAssignment.ReadWrite.All']) && holds(caller, READ_APPS);
}

export function canReadAssignments(caller: Caller): boolean {
  return (
    readReach(caller) === 'all' ||
    holds(caller, ['AppRoleAssignment.ReadWrite.All']) ||
    isAdmin(caller, GRANT_ADMIN_ROLES)
  );
}

export function canReadOrganization(caller: Caller): boolean {
  if (caller.kind === 'user') return true; // User.Read suffices for id, displayName and verifiedDomains
  return holds(caller, [
    'Organization.Read.All',
    'Organization.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ]);
}

export function canReadDomains(caller: Caller): boolean {
  if (isAdmin(caller, APP_ADMIN_ROLES)) return true;
  return holds(caller, ['Domain.Read.All', 'Domain.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All']);
}

export function ownsApplication(caller: Caller, app: ApplicationRecord): boolean {
  return caller.kind === 'app' && app.entity.createdByAppId === caller.appId;
}

export function ownsServicePrincipal(
  caller: Caller,
  sp: ServicePrincipalRecord,
  app: ApplicationRecord | undefined,
): boolean {
  if (caller.kind !== 'app') return false;
  return sp.entity.createdByAppId === caller.appId || (app !== undefined && ownsApplication(caller, app));
}

/** Throws 403 unless `reach` covers an object the caller does (`owned`) or does not own. */
export function requireReach(reach: Reach, owned = false): void {
  if (reach === 'all' || (reach === 'owned' && owned)) return;
  throw denied();
}
