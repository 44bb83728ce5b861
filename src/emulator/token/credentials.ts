/**
 * Client authentication at the token endpoint: a client secret checked against the app's password credentials,
 * or a client assertion (RFC 7523 JWT) signed with a certificate registered in the app's keyCredentials.
 */
import { constants, createHash, timingSafeEqual, verify, X509Certificate } from 'node:crypto';
import type { EmulatorStore } from '../store.js';
import { sha256Hex, type ApplicationRecord } from '../state.js';
import { errors, type AadError } from './errors.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Allowed clock skew for client assertions, as Entra tolerates a few minutes. */
const SKEW_S = 300;

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase());
  const y = Buffer.from(b.toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseTime(value: unknown): number {
  if (typeof value !== 'string' || value === '') return NaN;
  return Date.parse(value);
}

/**
 * Checks a client secret. A secret is known once its password credential has started and the secret has
 * replicated (`knobs.replicationDelayMs` after it was added); an expired one gives AADSTS7000222.
 */
export function checkSecret(store: EmulatorStore, app: ApplicationRecord, secret: string): AadError | undefined {
  const appId = app.entity.appId;
  const hash = sha256Hex(secret);
  const stored = app.secrets.find((s) => sameHex(s.hash, hash));
  const credential = stored && app.entity.passwordCredentials.find((p) => p.keyId === stored.keyId);
  if (!stored || !credential) return errors.invalidSecret(appId);
  const now = store.now();
  const start = parseTime(credential.startDateTime);
  const createdAt = stored.createdAtMs ?? (Number.isNaN(start) ? 0 : start);
  if ((!Number.isNaN(start) && now < start) || now - createdAt < store.knobs.replicationDelayMs)
    return errors.invalidSecret(appId);
  const end = parseTime(credential.endDateTime);
  if (!Number.isNaN(end) && now >= end) return errors.expiredSecret(appId);
  return undefined;
}

interface JwtParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

function parseJwt(token: string): JwtParts | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof payload !== 'object' || payload === null)
      return undefined;
    return {
      header: header as Record<string, unknown>,
      payload: payload as Record<string, unknown>,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2]!, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

const ALGORITHMS: Record<string, { hash: string; pss: boolean }> = {
  RS256: { hash: 'sha256', pss: false },
  RS384: { hash: 'sha384', pss: false },
  RS512: { hash: 'sha512', pss: false },
  PS256: { hash: 'sha256', pss: true },
  PS384: { hash: 'sha384', pss: true },
  PS512: { hash: 'sha512', pss: true },
};

/** A thumbprint from a JWT header (base64url per RFC 7515; plain base64 tolerated) as bytes. */
function thumbprintBytes(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return Buffer.from(value, 'base64');
}

export interface AssertionContext {
  clientId: string;
  /** Audiences Entra accepts for this request: the token endpoint (as addressed, and by tenant GUID) and the issuer. */
  audiences: string[];
}

/** Verifies a client assertion for `app`. */
export function checkAssertion(
  store: EmulatorStore,
  app: ApplicationRecord,
  assertion: string,
  ctx: AssertionContext,
): AadError | undefined {
  const jwt = parseJwt(assertion);
  if (!jwt) return errors.jwtMalformed();
  const alg = String(jwt.header.alg ?? '');
  const algorithm = ALGORITHMS[alg];
  if (!algorithm) return errors.unsupportedAlgorithm(alg);
  const { payload } = jwt;
  for (const field of ['aud', 'iss', 'sub'] as const) {
    if (payload[field] === undefined || payload[field] === '') return errors.credentialFieldMissing(field);
  }
  const clientId = ctx.clientId.toLowerCase();
  if (String(payload.iss).toLowerCase() !== clientId || String(payload.sub).toLowerCase() !== clientId)
    return errors.assertionIdentifierMismatch();

  const sha256 = thumbprintBytes(jwt.header['x5t#S256']);
  const sha1 = thumbprintBytes(jwt.header.x5t);
  const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid.toLowerCase() : undefined;
  if (!sha256 && !sha1 && !kid) return errors.noThumbprint();
  const presented = (sha256 ?? sha1 ?? Buffer.from(kid ?? '')).toString('hex').toUpperCase();

  let found: { cert: X509Certificate; endDateTime: string | null } | undefined;
  for (const k of app.entity.keyCredentials) {
    if (!k.key) continue;
    const der = Buffer.from(k.key, 'base64');
    const matches =
      (sha256 && createHash('sha256').update(der).digest().equals(sha256)) ||
      (sha1 && createHash('sha1').update(der).digest().equals(sha1)) ||
      (!sha256 && !sha1 && kid !== undefined && k.keyId.toLowerCase() === kid);
    if (!matches) continue;
    try {
      found = { cert: new X509Certificate(der), endDateTime: k.endDateTime };
    } catch {
      continue;
    }
    break;
  }
  if (!found) return errors.certificateNotRegistered(presented, app.entity.appId);
  const now = store.now();
  const keyEnd = parseTime(found.endDateTime);
  if (!Number.isNaN(keyEnd) && now >= keyEnd) return errors.certificateExpired(presented);

  const signatureOk = verify(
    algorithm.hash,
    Buffer.from(jwt.signingInput),
    algorithm.pss
      ? {
          key: found.cert.publicKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_AUTO,
        }
      : found.cert.publicKey,
    jwt.signature,
  );
  if (!signatureOk) return errors.assertionSignature(presented);

  const aud = String(payload.aud).replace(/\/+$/, '').toLowerCase();
  if (!ctx.audiences.some((a) => a.replace(/\/+$/, '').toLowerCase() === aud)) return errors.assertionAudience();

  return assertionTimeError(payload, now);
}

/** AADSTS700024 when an assertion's exp / nbf (with Entra's few minutes of skew) do not cover `now` (epoch ms). */
export function assertionTimeError(payload: Record<string, unknown>, now: number): AadError | undefined {
  const nowS = now / 1000;
  const exp = typeof payload.exp === 'number' ? payload.exp : NaN;
  const nbf = typeof payload.nbf === 'number' ? payload.nbf : undefined;
  if (Number.isNaN(exp) || exp + SKEW_S < nowS || (nbf !== undefined && nbf - SKEW_S > nowS))
    return errors.assertionTime(new Date(now), new Date((nbf ?? 0) * 1000), new Date(exp * 1000));
  return undefined;
}
