/**
 * The emulated token service against the real @azure/identity (MSAL) client credentials flow with a secret, plus the
 * raw protocol details the library hides: metadata documents, signing keys and Entra's error bodies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientSecretCredential } from '@azure/identity';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { startWithTenantIds, type TestEmulator } from '../helpers/emulator.js';
import {
  EXCHANGE_SCOPE as EXCHANGE,
  GRAPH_SCOPE as GRAPH,
  addSecret,
  credentialOptions,
  decodeJwt,
  postForm,
  readJson,
  registerApp,
} from '../helpers/azure.js';
import { CONTOSO, FABRIKAM } from '../helpers/e2e.js';
import { createTokenService, grantAdminConsent } from '../../src/emulator/token/index.js';
import type { EmulatorContext } from '../../src/emulator/context.js';

const GUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

describe('token service', () => {
  let emu: TestEmulator;
  let contosoId: string;
  let fabrikamId: string;
  beforeAll(async () => {
    ({ emu, contosoId, fabrikamId } = await startWithTenantIds());
  });
  afterAll(async () => emu.close());

  const operatorCredential = (tenant: string, secret?: string): ClientSecretCredential => {
    const op = emu.endpoints.operator;
    return new ClientSecretCredential(tenant, op.clientId, secret ?? op.clientSecret, credentialOptions(emu));
  };
  const operatorSpId = async (tenant: string): Promise<string> => {
    const dump = await emu.control.tenant(tenant);
    return dump.servicePrincipals.find((s: { appId: string }) => s.appId === emu.endpoints.operator.clientId).id;
  };

  describe('metadata', () => {
    it('serves the v2.0 OpenID configuration with URLs on the host the client used, a domain answered by GUID', async () => {
      const res = await emu.request(`/${CONTOSO}/v2.0/.well-known/openid-configuration`);
      expect(res.status).toBe(200);
      const doc = await readJson(res);
      const base = emu.endpoints.authorityHost;
      expect(doc.issuer).toBe(`${base}/${contosoId}/v2.0`);
      expect(doc.token_endpoint).toBe(`${base}/${contosoId}/oauth2/v2.0/token`);
      expect(doc.authorization_endpoint).toBe(`${base}/${contosoId}/oauth2/v2.0/authorize`);
      expect(doc.device_authorization_endpoint).toBe(`${base}/${contosoId}/oauth2/v2.0/devicecode`);
      expect(doc.jwks_uri).toBe(`${base}/${contosoId}/discovery/v2.0/keys`);
      expect(doc.token_endpoint_auth_methods_supported).toEqual([
        'client_secret_post',
        'private_key_jwt',
        'client_secret_basic',
      ]);
    });

    it('keeps the {tenantid} placeholder in the issuer for organizations and common, as Entra does', async () => {
      for (const alias of ['organizations', 'common']) {
        const doc = await readJson(await emu.request(`/${alias}/v2.0/.well-known/openid-configuration`));
        expect(doc.issuer).toBe(`${emu.endpoints.authorityHost}/{tenantid}/v2.0`);
        expect(doc.token_endpoint).toBe(`${emu.endpoints.authorityHost}/${alias}/oauth2/v2.0/token`);
      }
    });

    it('serves the v1 OpenID configuration with the sts.windows.net issuer', async () => {
      const doc = await readJson(await emu.request(`/${fabrikamId}/.well-known/openid-configuration`));
      expect(doc.issuer).toBe(`https://sts.windows.net/${fabrikamId}/`);
      expect(doc.token_endpoint).toBe(`${emu.endpoints.authorityHost}/${fabrikamId}/oauth2/token`);
    });

    it('answers an unknown tenant with 400 invalid_tenant AADSTS90002 in Entra body shape', async () => {
      const res = await emu.request('/nosuch.onmicrosoft.com/v2.0/.well-known/openid-configuration', {
        headers: { 'client-request-id': '11111111-2222-3333-4444-555555555555' },
      });
      expect(res.status).toBe(400);
      const body = await readJson(res);
      expect(Object.keys(body)).toEqual([
        'error',
        'error_description',
        'error_codes',
        'timestamp',
        'trace_id',
        'correlation_id',
        'error_uri',
      ]);
      expect(body.error).toBe('invalid_tenant');
      expect(body.error_codes).toEqual([90002]);
      expect(body.error_description).toMatch(
        new RegExp(
          `^AADSTS90002: Tenant 'nosuch\\.onmicrosoft\\.com' not found\\. Check to make sure you have the correct tenant ID .*\\r\\nTrace ID: ${GUID}\\r\\nCorrelation ID: 11111111-2222-3333-4444-555555555555\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`,
          's',
        ),
      );
      expect(body.correlation_id).toBe('11111111-2222-3333-4444-555555555555');
      expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
      expect(body.error_uri).toBe(`${emu.endpoints.authorityHost}/error?code=90002`);
      const lookup = await emu.request(body.error_uri);
      expect(lookup.status).toBe(200);
      expect(await lookup.text()).toContain('AADSTS90002');
    });

    it('answers a tenant that is no DNS name with AADSTS900023', async () => {
      const res = await emu.request('/not_a_tenant/v2.0/.well-known/openid-configuration');
      expect(res.status).toBe(400);
      expect((await readJson(res)).error_codes).toEqual([900023]);
    });

    it('publishes signing keys that verify the access tokens it issues', async () => {
      const jwks = (await readJson(await emu.request(`/${contosoId}/discovery/v2.0/keys`))) as JSONWebKeySet;
      const v1Keys = await readJson(await emu.request('/common/discovery/keys'));
      expect(v1Keys).toEqual(jwks);
      const token = (await operatorCredential(contosoId).getToken(GRAPH)).token;
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks));
      expect(protectedHeader.alg).toBe('RS256');
      expect(payload.tid).toBe(contosoId);
      const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      await expect(jwtVerify(forged, createLocalJWKSet(jwks))).rejects.toThrow();
    });

    it('claims only its own paths, never Graph, Exchange admin or control paths', () => {
      const svc = createTokenService({} as EmulatorContext);
      for (const p of [
        '/v1.0/applications',
        '/beta/servicePrincipals',
        '/adminapi/beta/x/InvokeCommand',
        '/_emulator/log',
        '/v1.0/oauth2/v2.0/token',
        '/beta/v2.0/.well-known/openid-configuration',
        '/_emulator/oauth2/v2.0/token',
      ])
        expect(svc.matches(p), p).toBe(false);
      for (const p of [
        `/${CONTOSO}/oauth2/v2.0/token`,
        '/common/discovery/instance',
        `/${contosoId}/discovery/v2.0/keys`,
        '/organizations/v2.0/adminconsent',
        `/${CONTOSO}/adminconsent`,
      ])
        expect(svc.matches(p), p).toBe(true);
    });
  });

  describe('client credentials with a secret (ClientSecretCredential)', () => {
    it("trusts the emulator only through tlsOptions.ca: without it the library refuses the emulator's certificate", async () => {
      await emu.control.clearLog();
      const op = emu.endpoints.operator;
      const { tlsOptions: _ca, ...withoutCa } = credentialOptions(emu);
      const cred = new ClientSecretCredential(contosoId, op.clientId, op.clientSecret, {
        ...withoutCa,
        retryOptions: { maxRetries: 0 },
      });
      // MSAL reports the failed metadata fetch as endpoints_resolution_error; no request got past TLS.
      await expect(cred.getToken(GRAPH)).rejects.toThrow(/endpoints_resolution_error/);
      expect(await emu.control.log({ service: 'token' })).toEqual([]);
      await expect(operatorCredential(contosoId).getToken(GRAPH)).resolves.toBeTruthy();
    });

    it('issues a Graph token with the operator service principal as oid and its granted roles', async () => {
      const token = await operatorCredential(contosoId).getToken(GRAPH);
      expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3_000_000);
      const claims = decodeJwt(token.token);
      expect(claims).toMatchObject({
        aud: 'https://graph.microsoft.com',
        iss: `https://sts.windows.net/${contosoId}/`,
        tid: contosoId,
        appid: emu.endpoints.operator.clientId,
        idtyp: 'app',
        ver: '1.0',
        oid: await operatorSpId(CONTOSO),
      });
      expect(claims.roles).toEqual(['AppRoleAssignment.ReadWrite.All', 'Application.ReadWrite.All']);
      expect(claims.scp).toBeUndefined();
    });

    it('issues an Exchange token (aud outlook.office365.com) carrying only the Exchange roles', async () => {
      const claims = decodeJwt((await operatorCredential(CONTOSO).getToken(EXCHANGE)).token);
      expect(claims.aud).toBe('https://outlook.office365.com');
      expect(claims.roles).toEqual(['Exchange.ManageAsApp']);
    });

    it("gives the operator's token for fabrikam fabrikam's tid and the service principal there as oid", async () => {
      const contoso = decodeJwt((await operatorCredential(contosoId).getToken(GRAPH)).token);
      const fabrikam = decodeJwt((await operatorCredential(FABRIKAM).getToken(GRAPH)).token);
      expect(fabrikam.tid).toBe(fabrikamId);
      expect(fabrikam.iss).toBe(`https://sts.windows.net/${fabrikamId}/`);
      expect(fabrikam.oid).toBe(await operatorSpId(FABRIKAM));
      expect(fabrikam.oid).not.toBe(contoso.oid);
    });

    it('omits the roles claim when the app holds no role in that tenant', async () => {
      const { app, appId } = registerApp(emu);
      const secret = addSecret(app);
      grantAdminConsent(emu.store, emu.store.findTenant(CONTOSO)!, app);
      const cred = new ClientSecretCredential(CONTOSO, appId, secret, credentialOptions(emu));
      const claims = decodeJwt((await cred.getToken(EXCHANGE)).token);
      expect(claims.appid).toBe(appId);
      expect(claims).not.toHaveProperty('roles');
    });

    it('logs the tenant and the calling app, and never the secret or the token', async () => {
      await emu.control.clearLog();
      const token = (await operatorCredential(FABRIKAM).getToken(EXCHANGE)).token;
      const log = await emu.control.log({ service: 'token' });
      const post = log.find((e) => e.method === 'POST' && e.path.endsWith('/oauth2/v2.0/token'));
      expect(post).toMatchObject({ status: 200, tenantId: fabrikamId, caller: emu.endpoints.operator.clientId });
      const text = JSON.stringify(log);
      expect(text).not.toContain(emu.endpoints.operator.clientSecret);
      expect(text).not.toContain(token.split('.')[2]);
    });

    it('surfaces a wrong secret as AADSTS7000215 through the library', async () => {
      await expect(operatorCredential(contosoId, 'not-the-secret').getToken(GRAPH)).rejects.toThrow(
        /AADSTS7000215: Invalid client secret provided\. Ensure the secret being sent in the request is the client secret value, not the client secret ID/,
      );
    });

    it('surfaces an expired secret as AADSTS7000222 through the library', async () => {
      const { app, appId } = registerApp(emu);
      const secret = addSecret(app, { endDateTime: new Date(Date.now() - 86_400_000).toISOString() });
      grantAdminConsent(emu.store, emu.store.findTenant(CONTOSO)!, app);
      const cred = new ClientSecretCredential(CONTOSO, appId, secret, credentialOptions(emu));
      await expect(cred.getToken(GRAPH)).rejects.toThrow(
        new RegExp(`AADSTS7000222: The provided client secret keys for app '${appId}' are expired`),
      );
    });

    it('surfaces an app without a service principal in the tenant as AADSTS700016 through the library', async () => {
      const { app, appId } = registerApp(emu);
      const secret = addSecret(app);
      grantAdminConsent(emu.store, emu.store.findTenant(CONTOSO)!, app);
      const home = new ClientSecretCredential(CONTOSO, appId, secret, credentialOptions(emu));
      await expect(home.getToken(GRAPH)).resolves.toBeTruthy();
      const other = new ClientSecretCredential(FABRIKAM, appId, secret, credentialOptions(emu));
      await expect(other.getToken(GRAPH)).rejects.toThrow(
        new RegExp(`AADSTS700016: Application with identifier '${appId}' was not found in the directory 'Fabrikam'`),
      );
    });

    it('fails an unknown tenant already at endpoint resolution, with the token endpoint answering AADSTS90002', async () => {
      // With a custom authority host MSAL fetches the OpenID configuration first, and Entra's 400 becomes MSAL's
      // endpoints_resolution_error; with login.microsoftonline.com itself the token endpoint's AADSTS90002 surfaces
      // (see token-discovery.test.ts).
      await expect(operatorCredential('nosuch.onmicrosoft.com').getToken(GRAPH)).rejects.toThrow(
        /endpoints_resolution_error/,
      );
      const op = emu.endpoints.operator;
      const raw = await postForm(emu, '/nosuch.onmicrosoft.com/oauth2/v2.0/token', {
        grant_type: 'client_credentials',
        client_id: op.clientId,
        client_secret: op.clientSecret,
        scope: GRAPH,
      });
      expect(raw.status).toBe(400);
      expect(raw.body.error).toBe('invalid_request');
      expect(raw.body.error_codes).toEqual([90002]);
    });

    it('surfaces a permission scope instead of /.default as AADSTS1002012 through the library', async () => {
      await expect(
        operatorCredential(contosoId).getToken('https://outlook.office365.com/SMTP.SendAsApp'),
      ).rejects.toThrow(
        /AADSTS1002012: The provided value for scope https:\/\/outlook\.office365\.com\/SMTP\.SendAsApp is not valid\. Client credential flows must have a scope value with \/\.default suffixed/,
      );
    });
  });

  describe('token endpoint protocol', () => {
    const op = (): { clientId: string; clientSecret: string } => emu.endpoints.operator;
    const tokenPath = (): string => `/${contosoId}/oauth2/v2.0/token`;

    it('answers a wrong secret with 401 invalid_client in Entra shape, echoing client-request-id', async () => {
      const res = await emu.request(tokenPath(), {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'client-request-id': 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: op().clientId,
          client_secret: 'wrong',
          scope: GRAPH,
        }).toString(),
      });
      expect(res.status).toBe(401);
      const body = await readJson(res);
      expect(body).toMatchObject({
        error: 'invalid_client',
        error_codes: [7000215],
        correlation_id: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
        error_uri: `${emu.endpoints.authorityHost}/error?code=7000215`,
      });
      expect(body.trace_id).toBe(res.headers.get('request-id'));
      expect(body.error_description).toMatch(/\r\nTrace ID: .*\r\nCorrelation ID: aaaaaaaa-.*\r\nTimestamp: /s);
    });

    it('accepts the client secret in HTTP Basic (client_secret_basic)', async () => {
      const basic = Buffer.from(
        `${encodeURIComponent(op().clientId)}:${encodeURIComponent(op().clientSecret)}`,
      ).toString('base64');
      const res = await emu.request(tokenPath(), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: EXCHANGE }).toString(),
      });
      expect(res.status).toBe(200);
      const body = await readJson(res);
      expect(Object.keys(body)).toEqual(['token_type', 'expires_in', 'ext_expires_in', 'access_token']);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
      expect(res.headers.get('cache-control')).toContain('no-store');
    });

    it.each([
      ['a permission instead of /.default', 'https://graph.microsoft.com/Mail.Send', 400, 'invalid_scope', 1002012],
      ['no resource URI before /.default', 'user.read/.default', 400, 'invalid_scope', 70011],
      ['two resources', `${GRAPH} ${EXCHANGE}`, 400, 'invalid_scope', 70011],
      ['an unknown resource', 'https://nosuch.example.com/.default', 400, 'invalid_resource', 500011],
    ])('rejects a scope with %s as Entra does', async (_what, scope, status, error, code) => {
      const r = await postForm(emu, tokenPath(), {
        grant_type: 'client_credentials',
        client_id: op().clientId,
        client_secret: op().clientSecret,
        scope,
      });
      expect(r.status).toBe(status);
      expect(r.body.error).toBe(error);
      expect(r.body.error_codes).toEqual([code]);
    });

    it.each([
      ['no grant_type', { client_id: 'x' }, 400, 900144, "'grant_type'"],
      ['no client_id', { grant_type: 'client_credentials' }, 400, 900144, "'client_id'"],
      [
        'no scope',
        { grant_type: 'client_credentials', client_id: 'OP', client_secret: 'SECRET' },
        400,
        900144,
        "'scope'",
      ],
      [
        'no credential',
        { grant_type: 'client_credentials', client_id: 'OP', scope: GRAPH },
        401,
        7000218,
        'client_secret',
      ],
      ['an unknown grant', { grant_type: 'password', client_id: 'OP' }, 400, 70003, "'password'"],
      [
        'an unknown client',
        {
          grant_type: 'client_credentials',
          client_id: '7c0ab6b5-0000-4000-8000-000000000000',
          client_secret: 'x',
          scope: GRAPH,
        },
        400,
        700016,
        'was not found in the directory',
      ],
    ])('answers a request with %s with the matching AADSTS code', async (_what, form, status, code, text) => {
      const filled = Object.fromEntries(
        Object.entries(form).map(([k, v]) => [k, v === 'OP' ? op().clientId : v === 'SECRET' ? op().clientSecret : v]),
      );
      const r = await postForm(emu, tokenPath(), filled);
      expect(r.status).toBe(status);
      expect(r.body.error_codes).toEqual([code]);
      expect(String(r.body.error_description)).toContain(text);
    });

    it('refuses client credentials on the organizations and common aliases (AADSTS50059)', async () => {
      for (const alias of ['organizations', 'common']) {
        const r = await postForm(emu, `/${alias}/oauth2/v2.0/token`, {
          grant_type: 'client_credentials',
          client_id: op().clientId,
          client_secret: op().clientSecret,
          scope: GRAPH,
        });
        expect(r.status).toBe(400);
        expect(r.body.error_codes).toEqual([50059]);
      }
    });

    it('answers GET on the token endpoint with AADSTS900561', async () => {
      const res = await emu.request(tokenPath());
      expect(res.status).toBe(400);
      expect((await readJson(res)).error_codes).toEqual([900561]);
    });

    it('serves the v1 token endpoint for client credentials with resource, numbers as strings', async () => {
      const r = await postForm(emu, `/${fabrikamId}/oauth2/token`, {
        grant_type: 'client_credentials',
        client_id: op().clientId,
        client_secret: op().clientSecret,
        resource: 'https://outlook.office365.com/',
      });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        token_type: 'Bearer',
        expires_in: '3599',
        resource: 'https://outlook.office365.com/',
      });
      const claims = decodeJwt(String(r.body.access_token));
      expect(claims).toMatchObject({ aud: 'https://outlook.office365.com', tid: fabrikamId });
      expect(String(claims.exp)).toBe(r.body.expires_on);
    });

    it('answers an injected fault with 503 temporarily_unavailable, which @azure/identity retries to success', async () => {
      await emu.control.setKnobs({ faults: [{ service: 'token', call: 1, kind: '503' }] });
      const raw = await postForm(emu, tokenPath(), {
        grant_type: 'client_credentials',
        client_id: op().clientId,
        client_secret: op().clientSecret,
        scope: GRAPH,
      });
      expect(raw.status).toBe(503);
      expect(raw.body).toMatchObject({ error: 'temporarily_unavailable', error_codes: [90033] });

      await emu.control.setKnobs({ faults: [{ service: 'token', call: 2, kind: '503' }] });
      const token = await operatorCredential(contosoId).getToken(GRAPH);
      expect(decodeJwt(token.token).tid).toBe(contosoId);
      const log = await emu.control.log({ service: 'token' });
      expect(log.some((e) => e.status === 503)).toBe(true);
    });

    it('answers throttling with 429, Retry-After and the plain text "Too Many Requests" (not an OAuth body)', async () => {
      await emu.control.setKnobs({ throttle: { every: 1, retryAfterSeconds: 7, services: ['token'] } });
      try {
        const res = await emu.request(tokenPath(), {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials',
        });
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after')).toBe('7');
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(await res.text()).toBe('Too Many Requests');
      } finally {
        await emu.control.setKnobs({ throttle: { every: 0, retryAfterSeconds: 1, services: ['graph', 'exchange'] } });
      }
    });
  });
});
