/**
 * Workload identity federation. The emulator plays an external OIDC issuer like GitHub Actions' at `/oidc`
 * (`/oidc/.well-known/openid-configuration`, its JWKS at `/oidc/keys`, and `/oidc/token?audience=…&subject=…`, which
 * hands a signed ID token to whoever shows the operator secret as bearer, as a workflow run gets one with
 * ACTIONS_ID_TOKEN_REQUEST_TOKEN). The token endpoint then accepts such a token as `client_assertion` for an app whose
 * federatedIdentityCredentials name its issuer, subject and audience (`api://AzureADTokenExchange`), verifying the
 * signature with the issuer's keys, with Entra's errors (AADSTS70021 no matching record, AADSTS7000272 unknown key,
 * AADSTS700024 out of its time range, AADSTS50166 an issuer the emulator cannot reach).
 */
import { createSign, createVerify, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse } from '../http.js';
import type { ApplicationRecord, FederatedIdentityCredentialRecord } from '../state.js';
import { aadError, errors, jsonResponse, type AadError } from './errors.js';
import { EMULATOR_OIDC_ISSUER } from '../seed.js';
import { assertionTimeError } from './credentials.js';

export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export interface OidcIssuer {
  kid: string;
  /** The issuer URL as a client that reached the emulator under `baseUrl` sees it. */
  issuerUrl(baseUrl: string): string;
  sign(claims: Record<string, unknown>): string;
  /** Whether the token's signature is this issuer's; undefined when its kid is not one of the issuer's keys. */
  verify(token: string): boolean | undefined;
  jwks(): { keys: Array<Record<string, unknown>> };
}

/** A new issuer key (one per emulator start: its tokens live minutes). */
export function createOidcIssuer(): OidcIssuer {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(20).toString('hex').toUpperCase();
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return {
    kid,
    issuerUrl: (baseUrl) => `${baseUrl}/oidc`,
    sign(claims) {
      const input = `${b64({ typ: 'JWT', alg: 'RS256', x5t: kid, kid })}.${b64(claims)}`;
      return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
    },
    verify(token) {
      const [h, p, s] = token.split('.');
      let header: { kid?: string; alg?: string };
      try {
        header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as typeof header;
      } catch {
        return false;
      }
      if (header.kid !== kid) return undefined;
      return (
        header.alg === 'RS256' &&
        createVerify('RSA-SHA256')
          .update(`${h}.${p}`)
          .verify(publicKey, Buffer.from(s ?? '', 'base64url'))
      );
    },
    jwks() {
      const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
      return { keys: [{ kty: 'RSA', use: 'sig', alg: 'RS256', kid, n: jwk.n, e: jwk.e }] };
    },
  };
}

/** GET /oidc/.well-known/openid-configuration */
export function oidcConfiguration(issuer: OidcIssuer, req: EmulatorRequest): EmulatorResponse {
  const iss = issuer.issuerUrl(req.baseUrl);
  return jsonResponse(200, {
    issuer: iss,
    jwks_uri: `${iss}/keys`,
    subject_types_supported: ['public', 'pairwise'],
    response_types_supported: ['id_token'],
    claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'repository', 'environment'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid'],
  });
}

/** GET /oidc/keys */
export function oidcKeys(issuer: OidcIssuer): EmulatorResponse {
  return jsonResponse(200, issuer.jwks(), { 'Cache-Control': 'max-age=3600, private' });
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * GET /oidc/token?audience=…&subject=…[&lifetime=seconds][&notBefore=epochSeconds], bearer = the operator secret:
 * `{ "value": "<id token>" }`, as GitHub's ACTIONS_ID_TOKEN_REQUEST_URL answers.
 */
export function oidcMint(ctx: EmulatorContext, issuer: OidcIssuer, req: EmulatorRequest): EmulatorResponse {
  const bearer = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
  if (!sameText(bearer, ctx.store.world.operator.clientSecret))
    return jsonResponse(401, { message: 'Bad credentials: the emulator OIDC issuer wants the operator secret.' });
  const q = req.url.searchParams;
  const subject = q.get('subject');
  if (!subject) return jsonResponse(400, { message: 'subject is required' });
  const now = Math.floor(ctx.store.now() / 1000);
  const nbf = q.has('notBefore') ? Number(q.get('notBefore')) : now;
  const lifetime = q.has('lifetime') ? Number(q.get('lifetime')) : 300;
  if (!Number.isFinite(nbf) || !Number.isFinite(lifetime))
    return jsonResponse(400, { message: 'notBefore and lifetime are numbers' });
  const value = issuer.sign({
    jti: randomBytes(16).toString('hex'),
    sub: subject,
    aud: q.get('audience') ?? TOKEN_EXCHANGE_AUDIENCE,
    iss: issuer.issuerUrl(req.baseUrl),
    iat: now,
    nbf,
    exp: nbf + lifetime,
  });
  req.log.write = false;
  return jsonResponse(200, { count: 1, value });
}

function payloadOf(token: string): Record<string, unknown> | undefined {
  try {
    const p = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    return typeof p === 'object' && p !== null ? (p as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a client assertion is an external identity token: its issuer is an issuer URL, not the client itself (an
 * assertion of the app's own with another client id in `iss` stays AADSTS700021).
 */
export function isFederatedAssertion(assertion: string, clientId: string): boolean {
  const iss = payloadOf(assertion)?.iss;
  return typeof iss === 'string' && iss.toLowerCase() !== clientId.toLowerCase() && /^https?:\/\//i.test(iss);
}

const noMatchingRecord = (iss: string, sub: string, aud: string): AadError =>
  aadError(
    401,
    'invalid_client',
    70021,
    `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${aud}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation`,
  );

const keyNotInMetadata = (kid: string, iss: string): AadError =>
  aadError(
    401,
    'invalid_client',
    7000272,
    `The certificate with identifier ${kid} used to sign the federated credential could not be found in the metadata of identity provider ${iss}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.`,
  );

const issuerUnreachable = (iss: string): AadError =>
  aadError(400, 'invalid_request', 50166, `Request to External OIDC endpoint failed. Issuer: '${iss}'.`);

/** Verifies a federated client assertion for `app` (issuer, subject, audience, signature, lifetime). */
export function checkFederatedAssertion(
  ctx: EmulatorContext,
  issuer: OidcIssuer,
  req: EmulatorRequest,
  app: ApplicationRecord,
  assertion: string,
): AadError | undefined {
  const p = payloadOf(assertion);
  if (!p || assertion.split('.').length !== 3) return errors.jwtMalformed();
  for (const field of ['iss', 'sub', 'aud'] as const) {
    if (p[field] === undefined || p[field] === '') return errors.credentialFieldMissing(field);
  }
  const iss = String(p.iss);
  const sub = String(p.sub);
  const auds = Array.isArray(p.aud) ? p.aud.map(String) : [String(p.aud)];
  // Issuer and subject match exactly (case-sensitive since 2025); the record's audience must be in the token's.
  const own = issuer.issuerUrl(req.baseUrl);
  const record: FederatedIdentityCredentialRecord | undefined = (app.federatedIdentityCredentials ?? []).find(
    (f) =>
      (f.issuer === iss || (f.issuer === EMULATOR_OIDC_ISSUER && iss === own)) &&
      f.subject === sub &&
      f.audiences.some((a) => auds.includes(a)),
  );
  if (!record) return noMatchingRecord(iss, sub, auds.join(','));
  if (iss !== own) return issuerUnreachable(iss);
  const signed = issuer.verify(assertion);
  if (signed === undefined) {
    let kid = '';
    try {
      kid = String(
        (JSON.parse(Buffer.from(assertion.split('.')[0]!, 'base64url').toString('utf8')) as { kid?: unknown }).kid ??
          '',
      );
    } catch {
      kid = '';
    }
    return keyNotInMetadata(kid, iss);
  }
  if (!signed) return keyNotInMetadata(issuer.kid, iss);
  return assertionTimeError(p, ctx.store.now());
}
