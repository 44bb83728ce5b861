/**
 * Client credentials with a certificate: the real ClientCertificateCredential (MSAL signs a PS256 assertion with an
 * x5t#S256 header), and hand-made assertions for the checks Entra applies (RS256 + x5t, aud, iss/sub, lifetime,
 * signature, algorithm).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSign, createHash, randomUUID } from 'node:crypto';
import { ClientCertificateCredential } from '@azure/identity';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import {
  addCertificate,
  credentialOptions,
  decodeJwt,
  postForm,
  registerApp,
  selfSignedCertificate,
  GRAPH_SCOPE as GRAPH,
  type TestCertificate,
} from '../helpers/azure.js';
import { CONTOSO } from '../helpers/e2e.js';
import { grantAdminConsent } from '../../src/emulator/token/index.js';
import type { ApplicationRecord } from '../../src/emulator/state.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A client assertion signed RS256 with the certificate's key. */
function assertion(
  cert: TestCertificate,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const der = Buffer.from(cert.derBase64, 'base64');
  const h = { alg: 'RS256', typ: 'JWT', x5t: createHash('sha1').update(der).digest('base64url'), ...header };
  const input = `${b64url(h)}.${b64url(claims)}`;
  const sig = createSign('RSA-SHA256').update(input).sign(cert.privateKeyPem);
  return `${input}.${sig.toString('base64url')}`;
}

describe('client credentials with a certificate', () => {
  let emu: TestEmulator;
  let app: ApplicationRecord;
  let appId: string;
  let cert: TestCertificate;
  let contosoId: string;
  let tokenUrl: string;

  beforeAll(async () => {
    emu = await startTestEmulator();
    contosoId = emu.store.findTenant(CONTOSO)!.id;
    ({ app, appId } = registerApp(emu, {
      requiredResourceAccess: [
        {
          resourceAppId: '00000002-0000-0ff1-ce00-000000000000',
          resourceAccess: [{ id: '7146a1f0-8703-45b3-9eae-527a64c00995', type: 'Role' }],
        },
      ],
    }));
    cert = selfSignedCertificate();
    addCertificate(app, cert);
    grantAdminConsent(emu.store, emu.store.findTenant(CONTOSO)!, app);
    tokenUrl = `${emu.endpoints.authorityHost}/${contosoId}/oauth2/v2.0/token`;
  });
  afterAll(async () => emu.close());

  const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = Math.floor(Date.now() / 1000);
    return { aud: tokenUrl, iss: appId, sub: appId, jti: randomUUID(), nbf: now, exp: now + 600, ...over };
  };
  const redeem = (clientAssertion: string): Promise<{ status: number; body: Record<string, unknown> }> =>
    postForm(emu, `/${contosoId}/oauth2/v2.0/token`, {
      grant_type: 'client_credentials',
      client_id: appId,
      client_assertion_type: JWT_BEARER,
      client_assertion: clientAssertion,
      scope: 'https://outlook.office365.com/.default',
    });

  it('issues a token to ClientCertificateCredential (PS256, x5t#S256), marked appidacr 2', async () => {
    const cred = new ClientCertificateCredential(
      CONTOSO,
      appId,
      { certificate: cert.certificatePem + cert.privateKeyPem },
      credentialOptions(emu),
    );
    const token = decodeJwt((await cred.getToken('https://outlook.office365.com/.default')).token);
    const sp = emu.store.servicePrincipalByAppId(emu.store.findTenant(CONTOSO)!, appId)!;
    expect(token).toMatchObject({
      aud: 'https://outlook.office365.com',
      appid: appId,
      appidacr: '2',
      oid: sp.entity.id,
      tid: contosoId,
      roles: ['SMTP.SendAsApp'],
    });
  });

  it('surfaces a certificate the app does not hold as AADSTS700027 through the library', async () => {
    const other = selfSignedCertificate('not registered');
    const cred = new ClientCertificateCredential(
      CONTOSO,
      appId,
      { certificate: other.certificatePem + other.privateKeyPem },
      credentialOptions(emu),
    );
    await expect(cred.getToken(GRAPH)).rejects.toThrow(
      /AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application/,
    );
  });

  it('refuses a registered certificate whose key credential has expired (AADSTS700027 expired)', async () => {
    const { app: expiredApp, appId: expiredId } = registerApp(emu);
    const old = selfSignedCertificate('expired key');
    addCertificate(expiredApp, old, new Date(Date.now() - 60_000).toISOString());
    grantAdminConsent(emu.store, emu.store.findTenant(CONTOSO)!, expiredApp);
    const cred = new ClientCertificateCredential(
      CONTOSO,
      expiredId,
      { certificate: old.certificatePem + old.privateKeyPem },
      credentialOptions(emu),
    );
    await expect(cred.getToken(GRAPH)).rejects.toThrow(/AADSTS700027: .*is expired on application/);
  });

  it('accepts an RS256 assertion identified by the SHA-1 x5t thumbprint', async () => {
    const r = await redeem(assertion(cert, claims()));
    expect(r.status).toBe(200);
    expect(decodeJwt(String(r.body.access_token)).appidacr).toBe('2');
  });

  it('accepts the issuer form of the audience (https://host/{tenant}/v2.0)', async () => {
    const r = await redeem(assertion(cert, claims({ aud: `${emu.endpoints.authorityHost}/${contosoId}/v2.0` })));
    expect(r.status).toBe(200);
  });

  it.each([
    ['an audience of another tenant', () => ({ aud: tokenUrl.replace(/\/[^/]+\/oauth2/, '/common/oauth2') }), 700023],
    ['iss/sub not the client id', () => ({ iss: randomUUID(), sub: randomUUID() }), 700021],
    ['an expired lifetime', () => ({ nbf: 1_000_000, exp: 1_000_600 }), 700024],
    ['no aud', () => ({ aud: undefined }), 90014],
  ])('refuses an assertion with %s', async (_what, over, code) => {
    const r = await redeem(assertion(cert, claims(over())));
    expect(r.body.error_codes).toEqual([code]);
    expect(r.status).toBe(code === 90014 ? 400 : 401);
  });

  it('refuses an assertion whose signature does not verify', async () => {
    const good = assertion(cert, claims());
    const [h, p] = good.split('.');
    const tampered = `${h}.${b64url({ ...claims(), exp: Math.floor(Date.now() / 1000) + 3000 })}.${good.split('.')[2]}`;
    expect(tampered.startsWith(`${h}.`)).toBe(true);
    expect(p).not.toBe(tampered.split('.')[1]);
    const r = await redeem(tampered);
    expect(r.status).toBe(401);
    expect(r.body.error_codes).toEqual([700027]);
    expect(String(r.body.error_description)).toContain('Client assertion contains an invalid signature');
  });

  it('refuses HS256 (AADSTS5002738) and an assertion without thumbprint (AADSTS5002723)', async () => {
    const hs = await redeem(assertion(cert, claims(), { alg: 'HS256' }));
    expect(hs.body.error_codes).toEqual([5002738]);
    const none = await redeem(assertion(cert, claims(), { x5t: undefined }));
    expect(none.body.error_codes).toEqual([5002723]);
  });

  it('answers a malformed assertion with AADSTS50027', async () => {
    const r = await redeem('not.a.jwt!');
    expect(r.status).toBe(400);
    expect(r.body.error_codes).toEqual([50027]);
  });
});
