/**
 * Token service like login.microsoftonline.com: instance discovery, OpenID Connect metadata and keys, the token
 * endpoints (client credentials with a secret or a certificate, device code, refresh token) and admin consent.
 */
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse, HttpService } from '../http.js';
import { instanceDiscovery, openIdConfiguration, signingKeys } from './discovery.js';
import { tokenEndpoint } from './token-endpoint.js';
import { deviceLoginPage, startDeviceCode } from './device-code.js';
import { adminConsent } from './consent.js';
import { errorLookupPage, serviceErrorResponse } from './errors.js';
import { createOidcIssuer, oidcConfiguration, oidcKeys, oidcMint, type OidcIssuer } from './oidc-issuer.js';

export { grantAdminConsent, type AdminConsentResult } from './consent.js';
export { FIRST_PARTY_PUBLIC_CLIENTS } from './user-tokens.js';

/** First path segments that belong to other services (Graph, Exchange admin, control), never to a tenant. */
const RESERVED = new Set(['v1.0', 'beta', 'adminapi', '_emulator']);

type Handler = (ctx: EmulatorContext, req: EmulatorRequest, tenant: string, oidc: OidcIssuer) => EmulatorResponse;

interface Route {
  /** The whole path; the first capture group, when there is one, is the tenant segment. */
  pattern: RegExp;
  /** Methods answered; empty = the handler checks (the token endpoints answer GET with AADSTS900561). */
  methods: string[];
  handler: Handler;
}

const T = '([^/]+)';
const ROUTES: Route[] = [
  // The external OIDC issuer the emulator also plays (workload identity federation), before the tenant routes.
  {
    pattern: /^\/oidc\/\.well-known\/openid-configuration$/,
    methods: ['GET'],
    handler: (_c, req, _t, oidc) => oidcConfiguration(oidc, req),
  },
  { pattern: /^\/oidc\/keys$/, methods: ['GET'], handler: (_c, _req, _t, oidc) => oidcKeys(oidc) },
  { pattern: /^\/oidc\/token$/, methods: ['GET'], handler: (ctx, req, _t, oidc) => oidcMint(ctx, oidc, req) },
  { pattern: /^\/common\/discovery\/instance$/i, methods: ['GET'], handler: (_c, req) => instanceDiscovery(req) },
  { pattern: /^\/devicelogin$/i, methods: ['GET'], handler: (_c, req) => deviceLoginPage(req) },
  { pattern: /^\/error$/i, methods: ['GET'], handler: (_c, req) => errorLookupPage(req) },
  {
    pattern: new RegExp(`^/${T}/v2\\.0/\\.well-known/openid-configuration$`, 'i'),
    methods: ['GET'],
    handler: (ctx, req, t) => openIdConfiguration(ctx, req, t, true),
  },
  {
    pattern: new RegExp(`^/${T}/\\.well-known/openid-configuration$`, 'i'),
    methods: ['GET'],
    handler: (ctx, req, t) => openIdConfiguration(ctx, req, t, false),
  },
  {
    pattern: new RegExp(`^/${T}/discovery(?:/v2\\.0)?/keys$`, 'i'),
    methods: ['GET'],
    handler: (ctx, req, t) => signingKeys(ctx, req, t),
  },
  {
    pattern: new RegExp(`^/${T}/oauth2/v2\\.0/token$`, 'i'),
    methods: [],
    handler: (ctx, req, t, oidc) => tokenEndpoint(ctx, req, t, 'v2', oidc),
  },
  {
    pattern: new RegExp(`^/${T}/oauth2/token$`, 'i'),
    methods: [],
    handler: (ctx, req, t, oidc) => tokenEndpoint(ctx, req, t, 'v1', oidc),
  },
  {
    pattern: new RegExp(`^/${T}/oauth2/v2\\.0/devicecode$`, 'i'),
    methods: [],
    handler: (ctx, req, t) => startDeviceCode(ctx, req, t),
  },
  {
    pattern: new RegExp(`^/${T}/adminconsent$`, 'i'),
    methods: ['GET'],
    handler: (ctx, req, t) => adminConsent(ctx, req, t, 'v1'),
  },
  {
    pattern: new RegExp(`^/${T}/v2\\.0/adminconsent$`, 'i'),
    methods: ['GET'],
    handler: (ctx, req, t) => adminConsent(ctx, req, t, 'v2'),
  },
];

function route(path: string): { route: Route; tenant: string } | undefined {
  const first = path.split('/')[1]?.toLowerCase() ?? '';
  if (RESERVED.has(first)) return undefined;
  for (const r of ROUTES) {
    const m = r.pattern.exec(path);
    if (m) return { route: r, tenant: m[1] ?? 'common' };
  }
  return undefined;
}

export function createTokenService(ctx: EmulatorContext): HttpService {
  const oidc = createOidcIssuer();
  return {
    name: 'token',
    matches: (path) => route(path) !== undefined,
    handle: (req) => {
      const match = route(req.path);
      if (!match) return { status: 404 };
      const { route: r, tenant } = match;
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (r.methods.length > 0 && !r.methods.includes(method))
        return { status: 405, headers: { Allow: r.methods.join(', ') } };
      return r.handler(ctx, req, tenant, oidc);
    },
    errorResponse: (req, status, retryAfterSeconds) => serviceErrorResponse(req, status, retryAfterSeconds),
  };
}
