/**
 * Metadata endpoints: cloud instance discovery (`/common/discovery/instance`), the OpenID Connect documents (v2.0
 * and v1) and the signing keys. Every URL is built from the host the client addressed, so a client that reached the
 * emulator under `localhost:PORT` — or under `login.microsoftonline.com` when it stands in for the login host —
 * is sent back to the same place.
 */
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse } from '../http.js';
import { errors, jsonResponse, oauthErrorResponse } from './errors.js';
import { isAadError, resolveTenant } from './tenant.js';

interface CloudMetadata {
  preferred_network: string;
  preferred_cache: string;
  aliases: string[];
}

/** The clouds the real instance discovery lists (api-version 1.1). */
const MICROSOFT_CLOUDS: CloudMetadata[] = [
  {
    preferred_network: 'login.microsoftonline.com',
    preferred_cache: 'login.windows.net',
    aliases: ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net'],
  },
  {
    preferred_network: 'login.partner.microsoftonline.cn',
    preferred_cache: 'login.partner.microsoftonline.cn',
    aliases: ['login.partner.microsoftonline.cn', 'login.chinacloudapi.cn'],
  },
  {
    preferred_network: 'login.microsoftonline.de',
    preferred_cache: 'login.microsoftonline.de',
    aliases: ['login.microsoftonline.de'],
  },
  {
    preferred_network: 'login.microsoftonline.us',
    preferred_cache: 'login.microsoftonline.us',
    aliases: ['login.microsoftonline.us', 'login.usgovcloudapi.net'],
  },
  {
    preferred_network: 'login-us.microsoftonline.com',
    preferred_cache: 'login-us.microsoftonline.com',
    aliases: ['login-us.microsoftonline.com'],
  },
];

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isMicrosoftHost(host: string): boolean {
  return MICROSOFT_CLOUDS.some((c) => c.aliases.includes(host));
}

/**
 * Hosts the emulator answers for: the one the client used, any loopback name (the emulator listens on loopback)
 * and the same host name on another port.
 */
function isEmulatorHost(host: string, requestHost: string): boolean {
  const name = (h: string): string => h.replace(/:\d+$/, '');
  return host === requestHost || LOOPBACK_NAMES.has(name(host)) || name(host) === name(requestHost);
}

/** GET /common/discovery/instance?api-version=1.1&authorization_endpoint=… */
export function instanceDiscovery(req: EmulatorRequest): EmulatorResponse {
  const requestHost = new URL(req.baseUrl).host.toLowerCase();
  const apiVersion = req.url.searchParams.get('api-version') ?? '1.1';
  const endpointParam = req.url.searchParams.get('authorization_endpoint');
  let authority: URL;
  try {
    authority = new URL(endpointParam ?? `${req.baseUrl}/common/oauth2/v2.0/authorize`);
  } catch {
    return oauthErrorResponse(req, errors.invalidInstance());
  }
  const host = authority.host.toLowerCase();
  const known = isMicrosoftHost(host) || isEmulatorHost(host, requestHost);
  if (authority.protocol !== 'https:' || !known) return oauthErrorResponse(req, errors.invalidInstance());
  // `https://host/{tenant}/oauth2/v2.0/authorize` → the tenant's OpenID configuration on the same host.
  const segments = authority.pathname.split('/').filter(Boolean);
  const tenant = segments[0] ?? 'common';
  const v2 = segments.includes('v2.0');
  const metadata: CloudMetadata[] = [];
  for (const h of [requestHost, host]) {
    if (!isMicrosoftHost(h) && !metadata.some((m) => m.aliases.includes(h)))
      metadata.push({ preferred_network: h, preferred_cache: h, aliases: [h] });
  }
  metadata.push(...MICROSOFT_CLOUDS);
  return jsonResponse(200, {
    tenant_discovery_endpoint: `https://${host}/${tenant}${v2 ? '/v2.0' : ''}/.well-known/openid-configuration`,
    'api-version': apiVersion,
    metadata,
  });
}

/** GET /{tenant}/v2.0/.well-known/openid-configuration and /{tenant}/.well-known/openid-configuration */
export function openIdConfiguration(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  segment: string,
  v2: boolean,
): EmulatorResponse {
  const resolved = resolveTenant(ctx.store, segment);
  if (isAadError(resolved)) {
    // The metadata endpoints say `invalid_tenant` where the token endpoint says `invalid_request`.
    return oauthErrorResponse(req, { ...resolved, error: 'invalid_tenant' });
  }
  const base = req.baseUrl;
  const host = new URL(base).host;
  // A tenant named by domain is answered with its GUID, as Entra does; the aliases keep their name.
  const t = resolved.kind === 'tenant' ? resolved.tenant.id : resolved.alias;
  const issuerTenant = resolved.kind === 'tenant' ? resolved.tenant.id : '{tenantid}';
  if (resolved.kind === 'tenant') req.log.tenantId = resolved.tenant.id;
  const common = {
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
  const cloud = {
    kerberos_endpoint: `${base}/${t}/kerberos`,
    tenant_region_scope: resolved.kind === 'tenant' ? 'EU' : null,
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    // Microsoft Graph is served by the same listener.
    msgraph_host: host,
    rbac_url: 'https://pas.windows.net',
  };
  if (v2) {
    return jsonResponse(200, {
      token_endpoint: `${base}/${t}/oauth2/v2.0/token`,
      ...common,
      jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/${issuerTenant}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `https://${host}/oidc/userinfo`,
      authorization_endpoint: `${base}/${t}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/${t}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/${t}/oauth2/v2.0/logout`,
      claims_supported: [
        'sub',
        'iss',
        'cloud_instance_name',
        'cloud_instance_host_name',
        'cloud_graph_host_name',
        'msgraph_host',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'acr',
        'nonce',
        'preferred_username',
        'name',
        'tid',
        'ver',
        'at_hash',
        'c_hash',
        'email',
      ],
      ...cloud,
    });
  }
  return jsonResponse(200, {
    token_endpoint: `${base}/${t}/oauth2/token`,
    ...common,
    jwks_uri: `${base}/common/discovery/keys`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${t}/oauth2/logout`,
    response_types_supported: ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
    scopes_supported: ['openid'],
    // v1 tokens (and all app-only tokens the emulator issues) carry the sts.windows.net issuer.
    issuer: `https://sts.windows.net/${issuerTenant}/`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'amr',
      'nonce',
      'email',
      'given_name',
      'family_name',
      'nickname',
    ],
    microsoft_multi_refresh_token: true,
    check_session_iframe: `${base}/${t}/oauth2/checksession`,
    userinfo_endpoint: `${base}/${t}/openid/userinfo`,
    ...cloud,
  });
}

/** GET /{tenant}/discovery/v2.0/keys and /{tenant}/discovery/keys */
export function signingKeys(ctx: EmulatorContext, req: EmulatorRequest, segment: string): EmulatorResponse {
  const resolved = resolveTenant(ctx.store, segment);
  if (isAadError(resolved)) return oauthErrorResponse(req, { ...resolved, error: 'invalid_tenant' });
  return jsonResponse(200, ctx.issuer.jwks(), { 'Cache-Control': 'max-age=86400, private' });
}
