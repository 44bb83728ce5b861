/**
 * The token endpoints: `/{tenant}/oauth2/v2.0/token` (client credentials with a secret or a certificate assertion,
 * device code, refresh token) and the v1 `/{tenant}/oauth2/token` for client credentials with `resource`.
 */
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse } from '../http.js';
import type { TenantRecord } from '../state.js';
import type { ResourceInfo } from '../tokens.js';
import { appTokenClaims } from '../claims.js';
import { errors, jsonResponse, oauthErrorResponse, type AadError } from './errors.js';
import { parseTokenRequest } from './form.js';
import { checkAssertion, checkSecret, JWT_BEARER } from './credentials.js';
import { checkFederatedAssertion, isFederatedAssertion, type OidcIssuer } from './oidc-issuer.js';
import { clientCredentialsResource } from './scopes.js';
import { isAadError, resolveTenant, type ResolvedTenant } from './tenant.js';
import { DEVICE_CODE_GRANT, redeemDeviceCode, redeemRefreshToken } from './device-code.js';

const LIFETIME_S = 3599;

export function tokenEndpoint(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  segment: string,
  version: 'v1' | 'v2',
  oidc: OidcIssuer,
): EmulatorResponse {
  // Issuing a token changes nothing a client can read back.
  req.log.write = false;
  const { form, clientId, clientSecret } = parseTokenRequest(req);
  if (req.method !== 'POST') return oauthErrorResponse(req, errors.postOnly(req.method), form);
  const resolved = resolveTenant(ctx.store, segment);
  if (isAadError(resolved)) return oauthErrorResponse(req, resolved, form);
  if (resolved.kind === 'tenant') req.log.tenantId = resolved.tenant.id;
  const grant = form.get('grant_type');
  if (!grant) return oauthErrorResponse(req, errors.missingParameter('grant_type'), form);
  if (!clientId) return oauthErrorResponse(req, errors.missingParameter('client_id'), form);
  req.log.caller = clientId.toLowerCase();
  switch (grant) {
    case 'client_credentials':
      return clientCredentials(ctx, req, form, resolved, clientId, clientSecret, version, oidc);
    // MSAL sends the short `device_code`; RFC 8628 names the URN. Entra takes both.
    case DEVICE_CODE_GRANT:
    case 'device_code':
    case 'refresh_token':
      if (version === 'v1') break;
      if (resolved.kind === 'alias' && resolved.alias === 'consumers')
        return oauthErrorResponse(req, errors.tenantNotFound(segment), form);
      return grant === 'refresh_token'
        ? redeemRefreshToken(ctx, req, form, resolved, clientId)
        : redeemDeviceCode(ctx, req, form, resolved, clientId);
  }
  return oauthErrorResponse(req, errors.unsupportedGrantType(grant), form);
}

/** The audiences Entra accepts in a client assertion sent to this endpoint. */
function assertionAudiences(req: EmulatorRequest, segment: string, tenant: TenantRecord): string[] {
  const out: string[] = [];
  for (const t of new Set([segment, tenant.id])) {
    out.push(`${req.baseUrl}/${t}/oauth2/v2.0/token`, `${req.baseUrl}/${t}/oauth2/token`, `${req.baseUrl}/${t}/v2.0`);
  }
  return out;
}

function clientCredentials(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  form: URLSearchParams,
  resolved: ResolvedTenant,
  clientId: string,
  clientSecret: string | undefined,
  version: 'v1' | 'v2',
  oidc: OidcIssuer,
): EmulatorResponse {
  const { store } = ctx;
  const fail = (e: AadError): EmulatorResponse => oauthErrorResponse(req, e, form);
  // An app-only token is always for one tenant: the multi-tenant aliases don't name one.
  if (resolved.kind === 'alias') return fail(errors.noTenantInformation());
  const tenant = resolved.tenant;

  // The client must be known in this tenant: its application exists and it has a service principal here,
  // both replicated.
  const app = store.applicationByAppId(clientId);
  const sp = store.servicePrincipalByAppId(tenant, clientId);
  if (!app || !store.isVisible(app.meta) || !sp || !store.isVisible(sp.meta))
    return fail(errors.applicationNotFound(clientId, tenant.displayName));

  let credentialKind: 'secret' | 'certificate';
  const assertion = form.get('client_assertion');
  if (assertion) {
    if (form.get('client_assertion_type') !== JWT_BEARER) return fail(errors.missingParameter('client_assertion_type'));
    // An external issuer's token (workload identity federation), or the app's own certificate-signed assertion.
    const e = isFederatedAssertion(assertion, app.entity.appId)
      ? checkFederatedAssertion(ctx, oidc, req, app, assertion)
      : checkAssertion(store, app, assertion, {
          clientId: app.entity.appId,
          audiences: assertionAudiences(req, resolved.segment, tenant),
        });
    if (e) return fail(e);
    credentialKind = 'certificate';
  } else if (clientSecret !== undefined) {
    const e = checkSecret(store, app, clientSecret);
    if (e) return fail(e);
    credentialKind = 'secret';
  } else {
    return fail(errors.credentialRequired());
  }

  let resource: ResourceInfo | AadError;
  if (version === 'v1') {
    const r = form.get('resource');
    resource = r
      ? clientCredentialsResource(store, tenant, `${r.replace(/\/+$/, '')}/.default`)
      : errors.missingParameter('resource');
  } else {
    resource = clientCredentialsResource(store, tenant, form.get('scope'));
  }
  if (isAadError(resource)) return fail(resource);

  const claims = appTokenClaims(store, tenant, app.entity.appId, resource, credentialKind);
  const accessToken = ctx.issuer.sign(claims);
  req.log.tenantId = tenant.id;
  req.log.caller = app.entity.appId;
  if (version === 'v1') {
    // The v1 endpoint answers numbers as strings.
    return jsonResponse(200, {
      token_type: 'Bearer',
      expires_in: String(LIFETIME_S),
      ext_expires_in: String(LIFETIME_S),
      expires_on: String(claims.exp),
      not_before: String(claims.nbf),
      resource: form.get('resource'),
      access_token: accessToken,
    });
  }
  return jsonResponse(200, {
    token_type: 'Bearer',
    expires_in: LIFETIME_S,
    ext_expires_in: LIFETIME_S,
    access_token: accessToken,
  });
}
