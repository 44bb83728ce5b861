/**
 * Access tokens as Entra issues them (RS256 JWT, v1.0 claims for app-only tokens), and their verification by the
 * resource services (Graph, Exchange admin, SMTP).
 */
import { createPrivateKey, createPublicKey, createSign, createVerify, X509Certificate } from 'node:crypto';
import type { EmulatorPki } from './pki.js';
import { EXCHANGE_APP_ID, GRAPH_APP_ID } from './seed.js';
import { KEYVAULT_APP_ID } from './keyvault/index.js';

export interface ResourceInfo {
  appId: string;
  /** The `aud` claim of its access tokens. */
  audience: string;
  /** Scope prefixes that name it (`<identifier>/.default`). */
  identifiers: string[];
}

export const RESOURCES: ResourceInfo[] = [
  {
    appId: GRAPH_APP_ID,
    audience: 'https://graph.microsoft.com',
    identifiers: [
      'https://graph.microsoft.com',
      'https://graph.microsoft.us',
      'https://dod-graph.microsoft.us',
      'https://microsoftgraph.chinacloudapi.cn',
      GRAPH_APP_ID,
    ],
  },
  {
    appId: EXCHANGE_APP_ID,
    audience: 'https://outlook.office365.com',
    identifiers: [
      'https://outlook.office365.com',
      'https://outlook.office.com',
      'https://ps.outlook.com',
      'https://outlook.office365.us',
      'https://webmail.apps.mil',
      'https://partner.outlook.cn',
      EXCHANGE_APP_ID,
    ],
  },
  {
    appId: KEYVAULT_APP_ID,
    audience: 'https://vault.azure.net',
    identifiers: [
      'https://vault.azure.net',
      'https://vault.usgovcloudapi.net',
      'https://vault.azure.cn',
      KEYVAULT_APP_ID,
    ],
  },
];

/** The resource a scope string names (`https://outlook.office365.com/.default`, `…/SMTP.Send`), if any. */
export function resourceForScope(scope: string): { resource: ResourceInfo; permission: string } | undefined {
  for (const s of scope.split(/\s+/).filter(Boolean)) {
    for (const r of RESOURCES) {
      for (const id of r.identifiers) {
        if (s.toLowerCase().startsWith(id.toLowerCase() + '/'))
          return { resource: r, permission: s.slice(id.length + 1) };
      }
    }
  }
  return undefined;
}

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  tid: string;
  oid: string;
  sub: string;
  ver: '1.0';
  idtyp: 'app' | 'user';
  appid: string;
  app_displayname?: string | null;
  roles?: string[];
  scp?: string;
  upn?: string;
  unique_name?: string;
  wids?: string[];
  uti: string;
  [claim: string]: unknown;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

export class TokenIssuer {
  private readonly privateKey;
  private readonly publicKey;
  readonly kid: string;
  private readonly certDerB64: string;

  constructor(pki: EmulatorPki) {
    this.privateKey = createPrivateKey(pki.signingKeyPem);
    const cert = new X509Certificate(pki.signingCertPem);
    this.publicKey = createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' }));
    this.kid = pki.signingKid;
    this.certDerB64 = cert.raw.toString('base64');
  }

  sign(claims: Record<string, unknown>): string {
    const header = { typ: 'JWT', alg: 'RS256', x5t: this.kid, kid: this.kid };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(this.privateKey);
    return `${input}.${b64url(signature)}`;
  }

  jwks(): { keys: Array<Record<string, unknown>> } {
    const jwk = this.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return {
      keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, x5t: this.kid, n: jwk.n, e: jwk.e, x5c: [this.certDerB64] }],
    };
  }

  /** Checks signature and lifetime. Audience and tenant are the caller's to check. */
  verify(
    token: string,
  ): { ok: true; claims: AccessTokenClaims } | { ok: false; reason: 'malformed' | 'signature' | 'expired' } {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    let header: { alg?: string };
    let claims: AccessTokenClaims;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: string };
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as AccessTokenClaims;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (header.alg !== 'RS256' || typeof claims !== 'object' || claims === null)
      return { ok: false, reason: 'malformed' };
    const valid = createVerify('RSA-SHA256')
      .update(`${parts[0]}.${parts[1]}`)
      .verify(this.publicKey, Buffer.from(parts[2]!, 'base64url'));
    if (!valid) return { ok: false, reason: 'signature' };
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp < now - 300) return { ok: false, reason: 'expired' };
    if (typeof claims.nbf === 'number' && claims.nbf > now + 300) return { ok: false, reason: 'expired' };
    return { ok: true, claims };
  }
}

/** Reads `Authorization: Bearer …` from request headers. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
  return m?.[1];
}
