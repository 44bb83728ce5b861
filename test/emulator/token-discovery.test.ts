/**
 * Cloud instance discovery, and the emulator standing in for login.microsoftonline.com: an unmodified MSAL (via
 * @azure/identity) without `disableInstanceDiscovery` asks the real login host for `/common/discovery/instance`;
 * a stand-in agent (hosts-file + port-forward equivalent) takes that call to the emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:https';
import { ClientSecretCredential } from '@azure/identity';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import {
  EXCHANGE_SCOPE as EXCHANGE,
  GRAPH_SCOPE as GRAPH,
  decodeJwt,
  readJson,
  standInAgent,
} from '../helpers/azure.js';
import { CONTOSO } from '../helpers/e2e.js';

describe('instance discovery and the emulator as login host', () => {
  let emu: TestEmulator;
  let host: string;
  let contosoId: string;
  beforeAll(async () => {
    emu = await startTestEmulator({ certHostnames: ['login.microsoftonline.com'] });
    host = new URL(emu.endpoints.authorityHost).host;
    contosoId = emu.store.findTenant(CONTOSO)!.id;
  });
  afterAll(async () => emu.close());

  const discover = (authorizationEndpoint: string): Promise<Response> =>
    emu.request(
      `/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(authorizationEndpoint)}`,
    );

  it('answers instance discovery for its own host with the tenant discovery endpoint and its alias metadata', async () => {
    const res = await discover(`${emu.endpoints.authorityHost}/${CONTOSO}/oauth2/v2.0/authorize`);
    expect(res.status).toBe(200);
    const body = await readJson(res);
    expect(body.tenant_discovery_endpoint).toBe(
      `${emu.endpoints.authorityHost}/${CONTOSO}/v2.0/.well-known/openid-configuration`,
    );
    expect(body['api-version']).toBe('1.1');
    expect(body.metadata[0]).toEqual({ preferred_network: host, preferred_cache: host, aliases: [host] });
    expect(body.metadata).toContainEqual({
      preferred_network: 'login.microsoftonline.com',
      preferred_cache: 'login.windows.net',
      aliases: ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net'],
    });
  });

  it('refuses an authority host it does not serve with invalid_instance (AADSTS50049)', async () => {
    const res = await discover('https://login.contoso.example/common/oauth2/v2.0/authorize');
    expect(res.status).toBe(400);
    const body = await readJson(res);
    expect(body.error).toBe('invalid_instance');
    expect(body.error_codes).toEqual([50049]);
    expect(body.error_description).toMatch(/^AADSTS50049: Unknown or invalid instance\.\r\nTrace ID: /);
  });

  it('works for ClientSecretCredential with the emulator as authority host and instance discovery on', async () => {
    await emu.control.clearLog();
    const op = emu.endpoints.operator;
    const cred = new ClientSecretCredential(op.tenantId, op.clientId, op.clientSecret, {
      authorityHost: emu.endpoints.authorityHost,
      agent: standInAgent(emu),
    });
    const claims = decodeJwt((await cred.getToken(EXCHANGE)).token);
    expect(claims).toMatchObject({ aud: 'https://outlook.office365.com', tid: op.tenantId });
    const log = await emu.control.log({ service: 'token' });
    expect(log.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
      'GET /common/discovery/instance 200',
      `GET /${op.tenantId}/v2.0/.well-known/openid-configuration 200`,
      `POST /${op.tenantId}/oauth2/v2.0/token 200`,
    ]);
  });

  it('stands in for login.microsoftonline.com for an unconfigured ClientSecretCredential', async () => {
    await emu.control.clearLog();
    const op = emu.endpoints.operator;
    const cred = new ClientSecretCredential(CONTOSO, op.clientId, op.clientSecret, { agent: standInAgent(emu) });
    const claims = decodeJwt((await cred.getToken(GRAPH)).token);
    expect(claims).toMatchObject({ aud: 'https://graph.microsoft.com', tid: contosoId });
    const log = await emu.control.log({ service: 'token' });
    expect(log.at(-1)).toMatchObject({ method: 'POST', path: `/${CONTOSO}/oauth2/v2.0/token`, status: 200 });
  });

  it('surfaces an unknown tenant as AADSTS90002 through the library when standing in for the login host', async () => {
    const op = emu.endpoints.operator;
    const cred = new ClientSecretCredential('nosuch.onmicrosoft.com', op.clientId, op.clientSecret, {
      agent: standInAgent(emu),
    });
    await expect(cred.getToken(GRAPH)).rejects.toThrow(/AADSTS90002: Tenant 'nosuch\.onmicrosoft\.com' not found\./);
  });

  it('answers the OpenID configuration with login.microsoftonline.com URLs when addressed under that name', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: 'login.microsoftonline.com',
          path: `/${CONTOSO}/v2.0/.well-known/openid-configuration`,
          agent: standInAgent(emu),
        },
        (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(200);
    const doc = JSON.parse(res.body);
    expect(doc.issuer).toBe(`https://login.microsoftonline.com/${contosoId}/v2.0`);
    expect(doc.token_endpoint).toBe(`https://login.microsoftonline.com/${contosoId}/oauth2/v2.0/token`);
  });
});
