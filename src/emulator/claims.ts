/**
 * The claims of the access tokens the emulated token service issues (and that tests may mint directly).
 */
import { randomBytes } from 'node:crypto';
import type { EmulatorStore } from './store.js';
import { DIRECTORY_ROLE_TEMPLATE_IDS, type TenantRecord, type UserRecord } from './state.js';
import type { AccessTokenClaims, ResourceInfo } from './tokens.js';

const LIFETIME_S = 3599;

function baseClaims(
  tenant: TenantRecord,
  resource: ResourceInfo,
): Pick<AccessTokenClaims, 'aud' | 'iss' | 'iat' | 'nbf' | 'exp' | 'tid' | 'ver' | 'uti'> & { idp: string } {
  const now = Math.floor(Date.now() / 1000);
  const iss = `https://sts.windows.net/${tenant.id}/`;
  return {
    aud: resource.audience,
    iss,
    idp: iss,
    iat: now,
    nbf: now,
    exp: now + LIFETIME_S,
    tid: tenant.id,
    ver: '1.0',
    uti: randomBytes(16).toString('base64url'),
  };
}

/**
 * Claims of an app-only token for `clientAppId` in `tenant`. The caller has checked that the client has a service
 * principal there. `roles` comes from the tenant's app role assignments and is absent when there are none.
 */
export function appTokenClaims(
  store: EmulatorStore,
  tenant: TenantRecord,
  clientAppId: string,
  resource: ResourceInfo,
  credentialKind: 'secret' | 'certificate' = 'secret',
): AccessTokenClaims {
  const sp = store.servicePrincipalByAppId(tenant, clientAppId);
  if (!sp) throw new Error(`no service principal for ${clientAppId} in ${tenant.id}`);
  const roles = store.rolesFor(tenant, clientAppId, resource.appId);
  return {
    ...baseClaims(tenant, resource),
    app_displayname: sp.entity.displayName,
    appid: clientAppId,
    appidacr: credentialKind === 'secret' ? '1' : '2',
    idtyp: 'app',
    oid: sp.entity.id,
    sub: sp.entity.id,
    ...(roles.length > 0 ? { roles } : {}),
  };
}

/** Claims of a delegated token for a signed-in user (device-code flow). */
export function userTokenClaims(
  tenant: TenantRecord,
  user: UserRecord,
  clientAppId: string,
  resource: ResourceInfo,
  scopes: string[],
  partner?: { tenantId: string; roles: string[] },
): AccessTokenClaims {
  const roleIds = (roles: string[]): string[] =>
    roles.map((r) => DIRECTORY_ROLE_TEMPLATE_IDS[r] ?? DIRECTORY_ROLE_TEMPLATE_IDS['Exchange Administrator']!);
  return {
    ...baseClaims(tenant, resource),
    // A partner user's token in a customer tenant names the user's home issuer (GDAP, like any external user).
    ...(partner ? { idp: `https://sts.windows.net/${partner.tenantId}/` } : {}),
    appid: clientAppId,
    appidacr: '0',
    idtyp: 'user',
    name: user.entity.displayName,
    oid: user.entity.id,
    sub: user.entity.id,
    scp: scopes.join(' '),
    upn: user.entity.userPrincipalName,
    unique_name: user.entity.userPrincipalName,
    wids: roleIds(partner ? partner.roles : user.directoryRoles),
  };
}
