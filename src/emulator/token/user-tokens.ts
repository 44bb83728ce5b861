/**
 * What a delegated sign-in returns: the access token plus what MSAL needs to build an account — an id_token,
 * client_info and a refresh token (opaque to clients; here an HMAC-protected blob, so no state is kept for it).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse } from '../http.js';
import type { TenantRecord, UserRecord } from '../state.js';
import { userTokenClaims } from '../claims.js';
import { jsonResponse } from './errors.js';
import type { DelegatedScope } from './scopes.js';

const LIFETIME_S = 3599;
/** Refresh tokens expire after 90 days of inactivity. */
export const REFRESH_LIFETIME_S = 90 * 86_400;

/** Public clients the emulator accepts for delegated flows without a registration: Microsoft's first-party tools. */
export const FIRST_PARTY_PUBLIC_CLIENTS: Record<string, string> = {
  '04b07795-8ddb-461a-bbee-02f9e1bf7b46': 'Microsoft Azure CLI',
  '1950a258-227b-4e31-a9cf-717495945fc2': 'Microsoft Azure PowerShell',
  'fb78d390-0c51-40cd-8e17-fdbfab77341b': 'Microsoft Exchange REST API Based Powershell',
  '14d82eec-204b-4c2f-b7e8-296a70dab67e': 'Microsoft Graph Command Line Tools',
};

export interface RefreshTokenPayload {
  /** Tenant and user the sign-in was for. */
  tid: string;
  oid: string;
  /** Client the token was issued to. */
  cid: string;
  iat: number;
  exp: number;
}

function refreshKey(ctx: EmulatorContext): Buffer {
  return createHash('sha256').update('sendasapp-emulator:refresh-token\n').update(ctx.pki.signingKeyPem).digest();
}

export function encodeRefreshToken(ctx: EmulatorContext, payload: Omit<RefreshTokenPayload, 'iat' | 'exp'>): string {
  const now = Math.floor(Date.now() / 1000);
  const body = Buffer.from(
    JSON.stringify({ ...payload, iat: now, exp: now + REFRESH_LIFETIME_S, n: randomBytes(8).toString('hex') }),
  ).toString('base64url');
  const mac = createHmac('sha256', refreshKey(ctx)).update(body).digest('base64url');
  return `1.${body}.${mac}`;
}

export function decodeRefreshToken(ctx: EmulatorContext, token: string): RefreshTokenPayload | undefined {
  const m = /^1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token);
  if (!m) return undefined;
  const expected = createHmac('sha256', refreshKey(ctx)).update(m[1]!).digest();
  const given = Buffer.from(m[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const p = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as RefreshTokenPayload;
    return typeof p.tid === 'string' && typeof p.oid === 'string' && typeof p.cid === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
}

/** The pairwise `sub` of an id_token: stable per user and client. */
function pairwiseSub(oid: string, clientId: string): string {
  return createHash('sha256').update(`${oid}|${clientId}`).digest('base64url').slice(0, 43);
}

/** The token response of a delegated sign-in (device code, refresh token). */
export function delegatedTokenResponse(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  tenant: TenantRecord,
  user: UserRecord,
  clientId: string,
  scope: DelegatedScope,
  /** A partner's admin agent in a customer tenant (GDAP): the user's home tenant and the relationship's roles. */
  partner?: { tenantId: string; roles: string[] },
): EmulatorResponse {
  const claims = userTokenClaims(tenant, user, clientId, scope.resource, scope.permissions, partner);
  const accessToken = ctx.issuer.sign(claims);
  const now = Math.floor(Date.now() / 1000);
  const idToken = ctx.issuer.sign({
    aud: clientId,
    iss: `${req.baseUrl}/${tenant.id}/v2.0`,
    iat: now,
    nbf: now,
    exp: now + LIFETIME_S,
    name: user.entity.displayName,
    oid: user.entity.id,
    preferred_username: user.entity.userPrincipalName,
    rh: randomBytes(16).toString('base64url'),
    sub: pairwiseSub(user.entity.id, clientId),
    tid: tenant.id,
    uti: randomBytes(16).toString('base64url'),
    ver: '2.0',
  });
  // client_info names the user's HOME tenant (for a partner's agent the partner, not the customer): MSAL keys the
  // account, and its one refresh token for every tenant, by it.
  const clientInfo = Buffer.from(
    JSON.stringify({ uid: user.entity.id, utid: partner?.tenantId ?? tenant.id }),
  ).toString('base64url');
  req.log.tenantId = tenant.id;
  req.log.caller = clientId;
  return jsonResponse(200, {
    token_type: 'Bearer',
    scope: scope.responseScope,
    expires_in: LIFETIME_S,
    ext_expires_in: LIFETIME_S,
    access_token: accessToken,
    refresh_token: encodeRefreshToken(ctx, { tid: tenant.id, oid: user.entity.id, cid: clientId }),
    id_token: idToken,
    client_info: clientInfo,
  });
}
