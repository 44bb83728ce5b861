/**
 * The `scope` parameter: for client credentials exactly one `<resource>/.default`; for delegated flows the
 * permissions of one resource plus the OpenID Connect scopes.
 */
import type { EmulatorStore } from '../store.js';
import { GUID_RE, type TenantRecord } from '../state.js';
import { RESOURCES, resourceForScope, type ResourceInfo } from '../tokens.js';
import { GRAPH_APP_ID } from '../seed.js';
import { errors, type AadError } from './errors.js';

export const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
const DEFAULT_SUFFIX = '/.default';

function splitScopes(raw: string): string[] {
  return raw.trim().split(/\s+/).filter(Boolean);
}

function looksLikeResourceId(id: string): boolean {
  return GUID_RE.test(id) || /^[a-z][a-z0-9+.-]*:\/\/?[^\s]+$/i.test(id);
}

/** The resource's service principal must exist (and have replicated) in the tenant. */
function resourceInTenant(store: EmulatorStore, tenant: TenantRecord, resource: ResourceInfo): boolean {
  const sp = store.servicePrincipalByAppId(tenant, resource.appId);
  return sp !== undefined && store.isVisible(sp.meta);
}

/** Resolves the scope of a client-credentials request to its resource. */
export function clientCredentialsResource(
  store: EmulatorStore,
  tenant: TenantRecord,
  raw: string | null,
): ResourceInfo | AadError {
  if (!raw || raw.trim() === '') return errors.missingParameter('scope');
  const scopes = splitScopes(raw).filter((s) => !OIDC_SCOPES.has(s.toLowerCase()));
  const value = raw.trim();
  if (scopes.length === 0 || scopes.some((s) => !s.toLowerCase().endsWith(DEFAULT_SUFFIX)))
    return errors.scopeNotDefault(value);
  if (scopes.length > 1) return errors.scopeInvalid(value);
  const scope = scopes[0]!;
  const identifier = scope.slice(0, -DEFAULT_SUFFIX.length);
  if (!looksLikeResourceId(identifier)) return errors.scopeInvalid(scope);
  const match = resourceForScope(scope);
  if (!match || !resourceInTenant(store, tenant, match.resource))
    return errors.resourceNotFound(identifier, tenant.displayName);
  return match.resource;
}

/** Delegated permissions a `.default` request gets for the first-party clients (what admins usually pre-consented). */
const DEFAULT_DELEGATED: Record<string, string[]> = {
  '00000003-0000-0000-c000-000000000000': [
    'Application.ReadWrite.All',
    'AppRoleAssignment.ReadWrite.All',
    'DelegatedAdminRelationship.ReadWrite.All',
    'Directory.AccessAsUser.All',
    'Directory.ReadWrite.All',
    'Domain.Read.All',
    'Organization.Read.All',
    'User.Read',
    'User.Read.All',
    'email',
    'openid',
    'profile',
  ],
  '00000002-0000-0ff1-ce00-000000000000': [
    'AdminApi.AccessAsUser.All',
    'Exchange.Manage',
    'FfoPowerShell.RW.All',
    'RemotePowerShell.AccessAsUser.All',
  ],
};

export interface DelegatedScope {
  resource: ResourceInfo;
  /** The `scp` claim's permissions. */
  permissions: string[];
  /** The `scope` of the token response: what was asked for, as asked. */
  responseScope: string;
}

/** Resolves the scope of a delegated request (device code, refresh token). */
export function delegatedScope(
  store: EmulatorStore,
  tenant: TenantRecord | undefined,
  raw: string | null,
): DelegatedScope | AadError {
  if (!raw || raw.trim() === '') return errors.missingParameter('scope');
  const all = splitScopes(raw);
  const resourceScopes = all.filter((s) => !OIDC_SCOPES.has(s.toLowerCase()));
  const graph = RESOURCES.find((r) => r.appId === GRAPH_APP_ID)!;
  let resource: ResourceInfo | undefined;
  const permissions = new Set<string>();
  for (const s of resourceScopes) {
    let r: ResourceInfo;
    let permission: string;
    if (!s.includes('/')) {
      // A bare permission name (`User.Read`) is a Microsoft Graph permission.
      r = graph;
      permission = s;
    } else {
      const match = resourceForScope(s);
      if (!match) {
        const identifier = s.slice(0, s.lastIndexOf('/'));
        return errors.resourceNotFound(identifier, tenant?.displayName ?? 'organizations');
      }
      r = match.resource;
      permission = match.permission.replace(/^\/+/, '');
    }
    if (resource && resource.appId !== r.appId) return errors.scopeMultipleResources(raw.trim());
    resource = r;
    if (permission.toLowerCase() === '.default') (DEFAULT_DELEGATED[r.appId] ?? []).forEach((p) => permissions.add(p));
    else permissions.add(permission);
  }
  // Only OpenID Connect scopes: the access token is for Microsoft Graph (User.Read), as Entra does.
  if (!resource) {
    resource = graph;
    permissions.add('User.Read');
  }
  // Graph tokens carry the OpenID Connect scopes the user granted in `scp` (offline_access is no permission).
  for (const s of all) {
    const name = s.toLowerCase();
    if (OIDC_SCOPES.has(name) && name !== 'offline_access' && resource.appId === GRAPH_APP_ID) permissions.add(name);
  }
  if (tenant && !resourceInTenant(store, tenant, resource))
    return errors.resourceNotFound(resource.audience, tenant.displayName);
  return { resource, permissions: [...permissions], responseScope: all.join(' ') };
}
