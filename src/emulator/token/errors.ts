/**
 * Error answers of the token service in Entra's shapes: the OAuth JSON body of the token endpoints (with the
 * AADSTS code, trace and correlation ids in the description) and the HTML page the sign-in UI shows.
 */
import { GUID_RE } from '../state.js';
import type { EmulatorRequest, EmulatorResponse } from '../http.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Entra's timestamp format in error bodies: `2023-05-06 06:03:00Z`. */
export function entraTimestamp(date = new Date()): string {
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * The correlation id Entra echoes: the client's `client-request-id` (MSAL sends it as a header and in the form),
 * else a new one.
 */
export function correlationId(req: EmulatorRequest, form?: URLSearchParams): string {
  const candidates = [req.headers['client-request-id'], form?.get('client-request-id') ?? undefined];
  for (const c of candidates) {
    const v = Array.isArray(c) ? c[0] : c;
    if (v && GUID_RE.test(v)) return v.toLowerCase();
  }
  return req.requestId;
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): EmulatorResponse {
  return {
    status,
    body,
    headers: { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache', ...headers },
  };
}

export interface AadError {
  status: number;
  /** OAuth error code: invalid_client, unauthorized_client, invalid_request, invalid_scope, … */
  error: string;
  code: number;
  /** The message after `AADSTSnnnn: `. */
  message: string;
}

export function aadError(status: number, error: string, code: number, message: string): AadError {
  return { status, error, code, message };
}

/** The description line Entra writes: `AADSTSnnnn: message\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …`. */
export function describe(e: AadError, traceId: string, correlation: string, timestamp: string): string {
  return `AADSTS${e.code}: ${e.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlation}\r\nTimestamp: ${timestamp}`;
}

/** The OAuth JSON error body of the token, devicecode, discovery and metadata endpoints. */
export function oauthErrorResponse(
  req: EmulatorRequest,
  e: AadError,
  form?: URLSearchParams,
  headers: Record<string, string> = {},
): EmulatorResponse {
  const timestamp = entraTimestamp();
  const correlation = correlationId(req, form);
  return jsonResponse(
    e.status,
    {
      error: e.error,
      error_description: describe(e, req.requestId, correlation, timestamp),
      error_codes: [e.code],
      timestamp,
      trace_id: req.requestId,
      correlation_id: correlation,
      error_uri: `${req.baseUrl}/error?code=${e.code}`,
    },
    headers,
  );
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

export function htmlResponse(status: number, title: string, bodyHtml: string): EmulatorResponse {
  const page =
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body>${bodyHtml}</body></html>`;
  return {
    status,
    body: page,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store, no-cache' },
  };
}

/** GET /error?code=nnnn: where `error_uri` points (Entra's error lookup page). */
export function errorLookupPage(req: EmulatorRequest): EmulatorResponse {
  const code = (req.url.searchParams.get('code') ?? '').replace(/\D/g, '');
  return htmlResponse(
    200,
    'Error code lookup',
    `<h1>Error code lookup</h1><p>AADSTS${code}</p>` +
      `<p>This is the sendasapp Microsoft 365 emulator; the error description of the response says what failed.</p>`,
  );
}

/** The sign-in UI's error page ("Sorry, but we're having trouble signing you in.") with the AADSTS message. */
export function htmlErrorPage(req: EmulatorRequest, e: AadError): EmulatorResponse {
  const timestamp = entraTimestamp();
  const correlation = correlationId(req);
  return htmlResponse(
    e.status,
    'Sign in to your account',
    `<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p>` +
      `<p id="error">AADSTS${e.code}: ${escapeHtml(e.message)}</p>` +
      `<dl><dt>Request Id</dt><dd>${req.requestId}</dd><dt>Correlation Id</dt><dd>${correlation}</dd>` +
      `<dt>Timestamp</dt><dd>${timestamp}</dd></dl>`,
  );
}

/**
 * The token service's answer for a throttled call, an injected fault or an unexpected failure. Throttling is a
 * plain-text 429 "Too Many Requests" with Retry-After, not an OAuth error body (m365-facts §8; AADSTS50196 is a
 * client request *loop*, not throttling).
 */
export function serviceErrorResponse(
  req: EmulatorRequest,
  status: 429 | 500 | 503,
  retryAfterSeconds?: number,
): EmulatorResponse {
  const headers: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) headers['Retry-After'] = String(retryAfterSeconds);
  if (status === 429)
    return {
      status: 429,
      headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' },
      body: 'Too Many Requests',
    };
  const e =
    status === 503
      ? aadError(503, 'temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.')
      : aadError(
          500,
          'server_error',
          50000,
          'There was an error issuing a token or an issue with our sign-in service.',
        );
  return oauthErrorResponse(req, e, undefined, headers);
}

// ---- the AADSTS errors the token service answers with (wording as Entra writes it) ----

export const errors = {
  tenantNotFound: (segment: string) =>
    aadError(
      400,
      'invalid_request',
      90002,
      `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
  tenantInvalid: (segment: string) =>
    aadError(
      400,
      'invalid_request',
      900023,
      `Specified tenant identifier '${segment}' is neither a valid DNS name, nor a valid external domain.`,
    ),
  noTenantInformation: () =>
    aadError(
      400,
      'invalid_request',
      50059,
      'No tenant-identifying information found in either the request or implied by any provided credentials.',
    ),
  missingParameter: (name: string) =>
    aadError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`),
  postOnly: (method: string) =>
    aadError(400, 'invalid_request', 900561, `The endpoint only accepts POST requests. Received a ${method} request.`),
  unsupportedGrantType: (grant: string) =>
    aadError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant}'.`),
  applicationNotFound: (appId: string, directory: string) =>
    aadError(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${appId}' was not found in the directory '${directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  invalidSecret: (appId: string) =>
    aadError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${appId}'.`,
    ),
  expiredSecret: (appId: string) =>
    aadError(
      401,
      'invalid_client',
      7000222,
      `The provided client secret keys for app '${appId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
    ),
  credentialRequired: () =>
    aadError(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
  scopeNotDefault: (scope: string) =>
    aadError(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  scopeInvalid: (scope: string) =>
    aadError(
      400,
      'invalid_scope',
      70011,
      `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
    ),
  scopeMultipleResources: (scope: string) =>
    aadError(
      400,
      'invalid_scope',
      28000,
      `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`,
    ),
  resourceNotFound: (resource: string, tenantName: string) =>
    aadError(
      400,
      'invalid_resource',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenantName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  jwtMalformed: () => aadError(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.'),
  credentialFieldMissing: (field: string) =>
    aadError(
      400,
      'invalid_request',
      90014,
      `The required field '${field}' is missing from the credential. Ensure that you have all the necessary parameters for the login request.`,
    ),
  unsupportedAlgorithm: (alg: string) =>
    aadError(
      401,
      'invalid_client',
      5002738,
      `Invalid JWT token. '${alg}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256,RS384,RS512'`,
    ),
  noThumbprint: () =>
    aadError(
      401,
      'invalid_client',
      5002723,
      'Invalid JWT token. No certificate SHA-1 thumbprint, certificate SHA-256 thumbprint, nor keyId specified in token header.',
    ),
  assertionIdentifierMismatch: () =>
    aadError(
      401,
      'invalid_client',
      700021,
      "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
    ),
  assertionAudience: () =>
    aadError(
      401,
      'invalid_client',
      700023,
      'Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials.',
    ),
  assertionTime: (now: Date, nbf: Date, exp: Date) =>
    aadError(
      401,
      'invalid_client',
      700024,
      `Client assertion is not within its valid time range. Current time: ${preciseIso(now)}, assertion valid from ${preciseIso(nbf)}, expiry time of assertion ${preciseIso(exp)}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`,
    ),
  certificateNotRegistered: (thumbprintHex: string, appId: string) =>
    aadError(
      401,
      'invalid_client',
      700027,
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprintHex}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${appId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${appId}'.]`,
    ),
  certificateExpired: (thumbprintHex: string) =>
    aadError(
      401,
      'invalid_client',
      700027,
      `The certificate with identifier used to sign the client assertion is expired on application. [Reason - The key used is expired., Thumbprint of key used by client: '${thumbprintHex}']`,
    ),
  assertionSignature: (thumbprintHex: string) =>
    aadError(
      401,
      'invalid_client',
      700027,
      `Client assertion contains an invalid signature. [Reason - The key was found but the signature could not be verified., Thumbprint of key used by client: '${thumbprintHex}']`,
    ),
  authorizationPending: () =>
    aadError(
      400,
      'authorization_pending',
      70016,
      'OAuth 2.0 device flow error. Authorization is pending. Continue polling.',
    ),
  authorizationDeclined: () =>
    aadError(400, 'authorization_declined', 65004, 'User declined to consent to access the app.'),
  deviceCodeExpired: () =>
    aadError(400, 'expired_token', 70019, 'Verification code expired. Have the user retry the sign-in.'),
  badVerificationCode: () =>
    aadError(
      400,
      'bad_verification_code',
      70018,
      'Invalid verification code due to User typing in wrong user code for device code flow.',
    ),
  /** `identityProvider`: the user's home issuer (`https://sts.windows.net/{tid}/`, or `live.com`); `app`: `'{id}'(name)`. */
  userNotInTenant: (upn: string, identityProvider: string, tenantName: string, app: string) =>
    aadError(
      400,
      'invalid_grant',
      50020,
      `User account '${upn}' from identity provider '${identityProvider}' does not exist in tenant '${tenantName}' and cannot access the application ${app} in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.`,
    ),
  grantMalformed: () => aadError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.'),
  grantInvalid: () => aadError(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed.'),
  refreshTokenExpired: (issued: Date) =>
    aadError(
      400,
      'invalid_grant',
      700082,
      `The refresh token has expired due to inactivity. The token was issued on ${preciseIso(issued)} and was inactive for 90.00:00:00.`,
    ),
  invalidInstance: () => aadError(400, 'invalid_instance', 50049, 'Unknown or invalid instance.'),
  redirectUriMismatch: (redirectUri: string, appId: string) =>
    aadError(
      400,
      'invalid_request',
      50011,
      `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${appId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.`,
    ),
  consentDeclined: () => aadError(400, 'access_denied', 65004, 'User declined to consent to access the app.'),
  noReplyAddress: () => aadError(400, 'invalid_request', 500113, 'No reply address is registered for the application.'),
};

/** Entra's precise time format in some messages: `2023-12-11T23:52:19.6223401Z`. */
function preciseIso(d: Date): string {
  if (Number.isNaN(d.getTime())) return '1970-01-01T00:00:00.0000000Z';
  return d.toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}0000Z`);
}
