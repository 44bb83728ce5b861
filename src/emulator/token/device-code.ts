/**
 * The device authorization grant (RFC 8628) as Entra runs it: `/oauth2/v2.0/devicecode` hands out a user code,
 * the client polls the token endpoint, and a test (or a person, through the control endpoint) approves the code
 * as one of the tenant's users. Also the refresh-token grant MSAL uses silently afterwards.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse } from '../http.js';
import type { DeviceCodeRecord, TenantRecord } from '../state.js';
import { delegatedRoles, userInAnyTenant } from '../delegated-admin.js';
import { errors, escapeHtml, htmlResponse, jsonResponse, oauthErrorResponse, type AadError } from './errors.js';
import { parseTokenRequest } from './form.js';
import { delegatedScope } from './scopes.js';
import { isAadError, resolveTenant, type ResolvedTenant } from './tenant.js';
import { decodeRefreshToken, delegatedTokenResponse, FIRST_PARTY_PUBLIC_CLIENTS } from './user-tokens.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const EXPIRES_IN_S = 900;
/** The most device codes the emulator keeps (pending, approved or expired); the oldest go first. */
export const MAX_REMEMBERED_CODES = 500;
/** Entra says 5 seconds; 1 keeps tests quick, and clients must honour whatever the server says. */
const INTERVAL_S = 1;
const USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

interface PublicClient {
  appId: string;
  displayName: string;
  /** Registered apps: the home tenant and audience, for the single-tenant rule. */
  homeTenantId?: string;
  singleTenant?: boolean;
}

/**
 * A client allowed in delegated flows without a secret: Microsoft's first-party public clients, or a registered
 * app marked `isFallbackPublicClient`. A registered confidential app is told to authenticate (AADSTS7000218).
 */
function publicClient(ctx: EmulatorContext, clientId: string, directoryName: string): PublicClient | AadError {
  const id = clientId.toLowerCase();
  const firstParty = FIRST_PARTY_PUBLIC_CLIENTS[id];
  if (firstParty) return { appId: id, displayName: firstParty };
  const app = ctx.store.applicationByAppId(id);
  if (!app || !ctx.store.isVisible(app.meta)) return errors.applicationNotFound(clientId, directoryName);
  if (app.entity.isFallbackPublicClient !== true) return errors.credentialRequired();
  return {
    appId: id,
    displayName: app.entity.displayName ?? id,
    homeTenantId: app.homeTenantId,
    singleTenant: app.entity.signInAudience === 'AzureADMyOrg',
  };
}

function directoryName(resolved: ResolvedTenant): string {
  return resolved.kind === 'tenant' ? resolved.tenant.displayName : resolved.segment;
}

function userCode(): string {
  let code = '';
  for (let i = 0; i < 9; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** POST /{tenant}/oauth2/v2.0/devicecode */
export function startDeviceCode(ctx: EmulatorContext, req: EmulatorRequest, segment: string): EmulatorResponse {
  const { store } = ctx;
  const { form, clientId } = parseTokenRequest(req);
  if (req.method !== 'POST') return oauthErrorResponse(req, errors.postOnly(req.method), form);
  const resolved = resolveTenant(store, segment);
  if (isAadError(resolved)) return oauthErrorResponse(req, resolved, form);
  if (resolved.kind === 'tenant') req.log.tenantId = resolved.tenant.id;
  if (resolved.kind === 'alias' && resolved.alias === 'consumers')
    return oauthErrorResponse(req, errors.tenantNotFound(segment), form);
  if (!clientId) return oauthErrorResponse(req, errors.missingParameter('client_id'), form);
  req.log.caller = clientId;
  const client = publicClient(ctx, clientId, directoryName(resolved));
  // A confidential app may start the flow; it has to authenticate when it redeems the code.
  if (isAadError(client) && client.code !== 7000218) return oauthErrorResponse(req, client, form);
  if (
    !isAadError(client) &&
    client.singleTenant &&
    resolved.kind === 'tenant' &&
    resolved.tenant.id !== client.homeTenantId
  )
    return oauthErrorResponse(req, errors.applicationNotFound(clientId, resolved.tenant.displayName), form);
  const scope = delegatedScope(store, resolved.kind === 'tenant' ? resolved.tenant : undefined, form.get('scope'));
  if (isAadError(scope)) return oauthErrorResponse(req, scope, form);

  const now = store.now();
  // Codes expire after 15 minutes, as on Entra; an expired one is remembered for an hour more (so that redeeming it
  // is answered AADSTS70019, not "bad code"), and never more than MAX_REMEMBERED_CODES are kept: anyone may start
  // a flow without credentials, so the persisted state must not grow with them.
  const remembered = store.world.deviceCodes.filter((d) => d.expiresAtMs > now - 3_600_000);
  store.world.deviceCodes = remembered.slice(Math.max(0, remembered.length - (MAX_REMEMBERED_CODES - 1)));
  const record: DeviceCodeRecord = {
    deviceCode: `DAQABIQEAAAB${randomBytes(96).toString('base64url')}`,
    userCode: userCode(),
    clientId: clientId.toLowerCase(),
    tenantSegment: resolved.kind === 'tenant' ? resolved.tenant.id : resolved.alias,
    scope: form.get('scope') ?? '',
    expiresAtMs: now + EXPIRES_IN_S * 1000,
    approvedUserId: null,
    declined: false,
  };
  store.world.deviceCodes.push(record);
  store.changed();
  req.log.write = false;
  const verificationUri = `${req.baseUrl}/devicelogin`;
  return jsonResponse(200, {
    user_code: record.userCode,
    device_code: record.deviceCode,
    verification_uri: verificationUri,
    expires_in: EXPIRES_IN_S,
    interval: INTERVAL_S,
    message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${record.userCode} to authenticate.`,
  });
}

/**
 * Checks that the signed-in user may get tokens in the requested tenant for this client, and issues them.
 * `segment` is the tenant of the request (a tenant, or `organizations` / `common`).
 */
function issueForUser(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  form: URLSearchParams,
  requested: ResolvedTenant,
  client: PublicClient,
  userId: string,
  rawScope: string | null,
): EmulatorResponse {
  const found = userInAnyTenant(ctx.store, userId);
  if (!found) return oauthErrorResponse(req, errors.grantInvalid(), form);
  const { user } = found;
  let tenant: TenantRecord = found.tenant;
  let roles: string[] | undefined;
  if (requested.kind === 'tenant' && requested.tenant.id !== tenant.id) {
    // A partner's admin agent reaches a customer's authority through an active GDAP relationship, else Entra does
    // not know the user there.
    roles = delegatedRoles(ctx.store, tenant.id, requested.tenant.id, user.entity.id);
    if (!roles)
      return oauthErrorResponse(
        req,
        errors.userNotInTenant(
          user.entity.userPrincipalName,
          `https://sts.windows.net/${tenant.id}/`,
          requested.tenant.displayName,
          `'${client.appId}'(${client.displayName})`,
        ),
        form,
      );
    tenant = requested.tenant;
  }
  if (client.singleTenant && client.homeTenantId !== tenant.id)
    return oauthErrorResponse(req, errors.applicationNotFound(client.appId, tenant.displayName), form);
  const scope = delegatedScope(ctx.store, tenant, rawScope);
  if (isAadError(scope)) return oauthErrorResponse(req, scope, form);
  const partner = roles ? { tenantId: found.tenant.id, roles } : undefined;
  return delegatedTokenResponse(ctx, req, tenant, user, client.appId, scope, partner);
}

/** grant_type=urn:ietf:params:oauth:grant-type:device_code */
export function redeemDeviceCode(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  form: URLSearchParams,
  requested: ResolvedTenant,
  clientId: string,
): EmulatorResponse {
  const { store } = ctx;
  const deviceCode = form.get('device_code');
  if (!deviceCode) return oauthErrorResponse(req, errors.missingParameter('device_code'), form);
  const client = publicClient(ctx, clientId, directoryName(requested));
  if (isAadError(client)) return oauthErrorResponse(req, client, form);
  const record = store.world.deviceCodes.find(
    (d) => d.deviceCode === deviceCode && d.clientId === clientId.toLowerCase(),
  );
  if (!record) return oauthErrorResponse(req, errors.badVerificationCode(), form);
  const forget = (): void => {
    store.world.deviceCodes = store.world.deviceCodes.filter((d) => d !== record);
    store.changed();
  };
  if (store.now() >= record.expiresAtMs) {
    forget();
    return oauthErrorResponse(req, errors.deviceCodeExpired(), form);
  }
  if (record.declined) {
    forget();
    return oauthErrorResponse(req, errors.authorizationDeclined(), form);
  }
  if (!record.approvedUserId) return oauthErrorResponse(req, errors.authorizationPending(), form);
  // A device code is redeemed once.
  forget();
  return issueForUser(ctx, req, form, requested, client, record.approvedUserId, form.get('scope') ?? record.scope);
}

/** grant_type=refresh_token (public clients: what MSAL does silently when it has no access token for a scope). */
export function redeemRefreshToken(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  form: URLSearchParams,
  requested: ResolvedTenant,
  clientId: string,
): EmulatorResponse {
  const token = form.get('refresh_token');
  if (!token) return oauthErrorResponse(req, errors.missingParameter('refresh_token'), form);
  const client = publicClient(ctx, clientId, directoryName(requested));
  if (isAadError(client)) return oauthErrorResponse(req, client, form);
  const payload = decodeRefreshToken(ctx, token);
  if (!payload) return oauthErrorResponse(req, errors.grantMalformed(), form);
  if (payload.cid !== clientId.toLowerCase()) return oauthErrorResponse(req, errors.grantInvalid(), form);
  if (payload.exp * 1000 <= ctx.store.now())
    return oauthErrorResponse(req, errors.refreshTokenExpired(new Date(payload.iat * 1000)), form);
  return issueForUser(ctx, req, form, requested, client, payload.oid, form.get('scope'));
}

/** GET /devicelogin: where the device-code message sends people. In the emulator, approval is a control call. */
export function deviceLoginPage(req: EmulatorRequest): EmulatorResponse {
  const control = `${req.baseUrl}/_emulator/device-codes/approve`;
  return htmlResponse(
    200,
    'Enter code',
    `<h1>Enter code</h1><p>This is the sendasapp Microsoft 365 emulator. A device code is approved through its ` +
      `control endpoint (operator secret in <code>X-Emulator-Key</code>):</p>` +
      `<pre>POST ${escapeHtml(control)}\n{"userCode": "…", "user": "admin@contoso.onmicrosoft.com"}</pre>` +
      `<p>Pending codes: <code>GET ${escapeHtml(`${req.baseUrl}/_emulator/device-codes`)}</code></p>`,
  );
}
