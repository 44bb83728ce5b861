/**
 * What every emulated service is handed: the store, the token issuer and the keys. Also the one place where a
 * resource service turns a bearer token into a caller.
 */
import type { EmulatorPki } from './pki.js';
import type { EmulatorStore } from './store.js';
import type { TenantRecord } from './state.js';
import { delegatedRoles, userInAnyTenant } from './delegated-admin.js';
import { type AccessTokenClaims, type ResourceInfo, type TokenIssuer, bearerToken } from './tokens.js';

export interface EmulatorContext {
  store: EmulatorStore;
  issuer: TokenIssuer;
  pki: EmulatorPki;
}

export interface Caller {
  tenant: TenantRecord;
  kind: 'app' | 'user';
  /** Client application id (appid claim). */
  appId: string;
  /** Object id of the caller in the tenant: the client's service principal, or the user. */
  objectId: string;
  /** App roles (app-only tokens). */
  roles: string[];
  /** Delegated scopes (user tokens). */
  scopes: string[];
  /** Entra directory roles held by the caller (e.g. 'Global Administrator', 'Exchange Administrator'). */
  directoryRoles: string[];
  claims: AccessTokenClaims;
}

export type AuthResult =
  | { ok: true; caller: Caller }
  | { ok: false; reason: 'missing' | 'malformed' | 'signature' | 'expired' | 'audience' | 'tenant'; message: string };

/** Validates a bearer token for a resource and resolves the caller in the token's tenant. */
export function authenticate(
  ctx: EmulatorContext,
  authorization: string | undefined,
  resource: ResourceInfo,
): AuthResult {
  const token = bearerToken(authorization);
  if (!token) return { ok: false, reason: 'missing', message: 'Access token is empty.' };
  const v = ctx.issuer.verify(token);
  if (!v.ok) {
    const message =
      v.reason === 'expired'
        ? 'Lifetime validation failed, the token is expired.'
        : v.reason === 'signature'
          ? 'Access token validation failure. Invalid signature.'
          : 'Access token validation failure. Invalid audience.';
    return { ok: false, reason: v.reason, message };
  }
  const claims = v.claims;
  if (claims.aud !== resource.audience && claims.aud !== resource.appId)
    return { ok: false, reason: 'audience', message: 'Access token validation failure. Invalid audience.' };
  const tenant = ctx.store.tenantById(String(claims.tid));
  if (!tenant) return { ok: false, reason: 'tenant', message: 'The tenant of the access token does not exist.' };
  if (claims.idtyp === 'user') {
    const user = ctx.store.userById(tenant, String(claims.oid));
    // A partner's admin agent (GDAP) holds the roles of the active relationships, checked at each call.
    const partner = user ? undefined : userInAnyTenant(ctx.store, String(claims.oid));
    const directoryRoles = user
      ? user.directoryRoles
      : partner
        ? (delegatedRoles(ctx.store, partner.tenant.id, tenant.id, partner.user.entity.id) ?? [])
        : [];
    return {
      ok: true,
      caller: {
        tenant,
        kind: 'user',
        appId: String(claims.appid),
        objectId: String(claims.oid),
        roles: [],
        scopes: String(claims.scp ?? '')
          .split(' ')
          .filter(Boolean),
        directoryRoles,
        claims,
      },
    };
  }
  const sp = ctx.store.servicePrincipalByAppId(tenant, String(claims.appid));
  return {
    ok: true,
    caller: {
      tenant,
      kind: 'app',
      appId: String(claims.appid),
      objectId: String(claims.oid),
      // Roles are read from the token, as the real services do (a grant after issuance needs a new token).
      roles: Array.isArray(claims.roles) ? claims.roles.map(String) : [],
      scopes: [],
      directoryRoles: sp?.directoryRoles ?? [],
      claims,
    },
  };
}
