/**
 * The device-code flow with the real DeviceCodeCredential (MSAL polls, the test approves through the control
 * endpoint), MSAL's silent refresh-token use, and the raw polling answers Entra gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceCodeCredential, type DeviceCodeInfo } from '@azure/identity';
import { startWithTenantIds, type TestEmulator } from '../helpers/emulator.js';
import {
  EXCHANGE_SCOPE as EXCHANGE,
  GRAPH_SCOPE as GRAPH,
  credentialOptions,
  decodeJwt,
  postForm,
  registerApp,
} from '../helpers/azure.js';
import { CONTOSO, FABRIKAM } from '../helpers/e2e.js';
const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('device-code flow', () => {
  let emu: TestEmulator;
  let contosoId: string;
  let fabrikamId: string;
  beforeAll(async () => {
    ({ emu, contosoId, fabrikamId } = await startWithTenantIds());
  });
  afterAll(async () => emu.close());

  const userId = (tenant: string, upn: string): string =>
    emu.store.findTenant(tenant)!.users.find((u) => u.entity.userPrincipalName === upn)!.entity.id;

  /** A DeviceCodeCredential whose "user" approves (or declines) every code it is shown. */
  const credential = (
    tenantId: string,
    user: string,
    options: { clientId?: string; deny?: boolean } = {},
  ): { cred: DeviceCodeCredential; prompts: DeviceCodeInfo[] } => {
    const prompts: DeviceCodeInfo[] = [];
    const cred = new DeviceCodeCredential({
      ...credentialOptions(emu),
      tenantId,
      ...(options.clientId ? { clientId: options.clientId } : {}),
      userPromptCallback: (info) => {
        prompts.push(info);
        void (options.deny
          ? emu.request('/_emulator/device-codes/approve', {
              method: 'POST',
              headers: { 'X-Emulator-Key': emu.endpoints.operator.clientSecret },
              json: { userCode: info.userCode, deny: true },
            })
          : emu.control.approveDeviceCode(info.userCode, user));
      },
    });
    return { cred, prompts };
  };

  it('signs the approved admin in with the Azure CLI client and issues a delegated Graph token', async () => {
    const { cred, prompts } = credential(CONTOSO, 'admin@contoso.onmicrosoft.com');
    const token = decodeJwt((await cred.getToken(GRAPH)).token);
    expect(prompts).toHaveLength(1);
    expect(prompts[0]!.verificationUri).toBe(`${emu.endpoints.authorityHost}/devicelogin`);
    expect(prompts[0]!.message).toContain(prompts[0]!.userCode);
    expect(token).toMatchObject({
      aud: 'https://graph.microsoft.com',
      iss: `https://sts.windows.net/${contosoId}/`,
      tid: contosoId,
      idtyp: 'user',
      appid: AZURE_CLI,
      oid: userId(CONTOSO, 'admin@contoso.onmicrosoft.com'),
      upn: 'admin@contoso.onmicrosoft.com',
    });
    expect(String(token.scp).split(' ')).toContain('Application.ReadWrite.All');
  });

  it('gets a token for a second resource silently with the refresh token, without a new prompt', async () => {
    const { cred, prompts } = credential(CONTOSO, 'admin@contoso.onmicrosoft.com');
    await cred.getToken(GRAPH);
    await emu.control.clearLog();
    const exchange = decodeJwt((await cred.getToken(EXCHANGE)).token);
    expect(prompts).toHaveLength(1);
    expect(exchange).toMatchObject({ aud: 'https://outlook.office365.com', tid: contosoId, idtyp: 'user' });
    const log = await emu.control.log({ service: 'token' });
    expect(log.some((e) => e.path.endsWith('/devicecode'))).toBe(false);
    expect(log.filter((e) => e.path.endsWith('/oauth2/v2.0/token') && e.status === 200)).toHaveLength(1);
  });

  it("puts the user's own tenant in the token when the flow runs on organizations", async () => {
    const { cred } = credential('organizations', 'admin@fabrikam.onmicrosoft.com', {
      clientId: '14d82eec-204b-4c2f-b7e8-296a70dab67e',
    });
    const token = decodeJwt((await cred.getToken(GRAPH)).token);
    expect(token.tid).toBe(fabrikamId);
    expect(token.oid).toBe(userId(FABRIKAM, 'admin@fabrikam.onmicrosoft.com'));
    expect(token.appid).toBe('14d82eec-204b-4c2f-b7e8-296a70dab67e');
  });

  it('accepts a registered app marked isFallbackPublicClient', async () => {
    const { appId } = registerApp(emu, { isFallbackPublicClient: true });
    const { cred } = credential(CONTOSO, 'it@contoso.onmicrosoft.com', { clientId: appId });
    const token = decodeJwt((await cred.getToken(GRAPH)).token);
    expect(token.appid).toBe(appId);
    expect(token.upn).toBe('it@contoso.onmicrosoft.com');
  });

  it('tells a confidential app to authenticate (invalid_client, AADSTS7000218) when it polls', async () => {
    const { appId } = registerApp(emu);
    const { cred } = credential(CONTOSO, 'admin@contoso.onmicrosoft.com', { clientId: appId });
    // MSAL's device-code poller reports only the OAuth error code of a failed poll.
    await expect(cred.getToken(GRAPH)).rejects.toThrow(/post_request_failed: invalid_client/);
    const code = await postForm(emu, `/${CONTOSO}/oauth2/v2.0/devicecode`, { client_id: appId, scope: GRAPH });
    const r = await postForm(emu, `/${CONTOSO}/oauth2/v2.0/token`, {
      grant_type: DEVICE_CODE_GRANT,
      client_id: appId,
      device_code: String(code.body.device_code),
    });
    expect(r.status).toBe(401);
    expect(r.body.error_codes).toEqual([7000218]);
  });

  it('ends the flow with authorization_declined when the user declines', async () => {
    const { cred, prompts } = credential(CONTOSO, 'admin@contoso.onmicrosoft.com', { deny: true });
    await expect(cred.getToken(GRAPH)).rejects.toThrow(/authorization_declined/);
    expect(prompts).toHaveLength(1);
  });

  describe('protocol', () => {
    const start = async (
      tenant: string,
      scope = `${GRAPH} openid profile offline_access`,
    ): Promise<Record<string, unknown>> => {
      const r = await postForm(emu, `/${tenant}/oauth2/v2.0/devicecode`, { client_id: AZURE_CLI, scope });
      expect(r.status).toBe(200);
      return r.body;
    };
    const poll = (tenant: string, deviceCode: string): ReturnType<typeof postForm> =>
      postForm(emu, `/${tenant}/oauth2/v2.0/token`, {
        grant_type: DEVICE_CODE_GRANT,
        client_id: AZURE_CLI,
        device_code: deviceCode,
        scope: `${GRAPH} openid profile offline_access`,
        client_info: '1',
      });

    it('answers devicecode as Entra does, with interval 1 and expires_in 900', async () => {
      const body = await start(CONTOSO);
      expect(Object.keys(body).sort()).toEqual(
        ['device_code', 'expires_in', 'interval', 'message', 'user_code', 'verification_uri'].sort(),
      );
      expect(body).toMatchObject({ expires_in: 900, interval: 1 });
      expect(body.user_code).toMatch(/^[A-Z0-9]{9}$/);
      const pending = await emu.control.pendingDeviceCodes();
      expect(pending.map((p) => p.userCode)).toContain(body.user_code);
    });

    it('polls authorization_pending (AADSTS70016) until approval, then returns tokens MSAL builds an account from', async () => {
      const code = await start(CONTOSO);
      const pending = await poll(CONTOSO, String(code.device_code));
      expect(pending.status).toBe(400);
      expect(pending.body).toMatchObject({ error: 'authorization_pending', error_codes: [70016] });

      await emu.control.approveDeviceCode(String(code.user_code), 'admin@contoso.onmicrosoft.com');
      const done = await poll(CONTOSO, String(code.device_code));
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
      expect(String(done.body.scope)).toContain(GRAPH);
      expect(done.body.refresh_token).toEqual(expect.any(String));
      const adminId = userId(CONTOSO, 'admin@contoso.onmicrosoft.com');
      expect(decodeJwt(String(done.body.id_token))).toMatchObject({
        aud: AZURE_CLI,
        iss: `${emu.endpoints.authorityHost}/${contosoId}/v2.0`,
        oid: adminId,
        tid: contosoId,
        preferred_username: 'admin@contoso.onmicrosoft.com',
        name: 'admin',
        ver: '2.0',
      });
      expect(JSON.parse(Buffer.from(String(done.body.client_info), 'base64url').toString())).toEqual({
        uid: adminId,
        utid: contosoId,
      });

      // A device code is redeemed once.
      const again = await poll(CONTOSO, String(code.device_code));
      expect(again.body.error).toBe('bad_verification_code');
    });

    it('answers an expired code with expired_token', async () => {
      const code = await start(CONTOSO);
      const record = emu.store.world.deviceCodes.find((d) => d.deviceCode === code.device_code)!;
      record.expiresAtMs = Date.now() - 1;
      const r = await poll(CONTOSO, String(code.device_code));
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('expired_token');
    });

    it('refuses a user of another tenant for a code started on a specific tenant (AADSTS50020)', async () => {
      const code = await start(CONTOSO);
      await emu.control.approveDeviceCode(String(code.user_code), 'admin@fabrikam.onmicrosoft.com');
      const r = await poll(CONTOSO, String(code.device_code));
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'invalid_grant', error_codes: [50020] });
    });

    it('refuses a tampered refresh token and one issued to another client', async () => {
      const code = await start(CONTOSO);
      await emu.control.approveDeviceCode(String(code.user_code), 'admin@contoso.onmicrosoft.com');
      const done = await poll(CONTOSO, String(code.device_code));
      const rt = String(done.body.refresh_token);
      const refresh = (token: string, clientId = AZURE_CLI): ReturnType<typeof postForm> =>
        postForm(emu, `/${CONTOSO}/oauth2/v2.0/token`, {
          grant_type: 'refresh_token',
          client_id: clientId,
          refresh_token: token,
          scope: EXCHANGE,
        });
      const ok = await refresh(rt);
      expect(ok.status).toBe(200);
      expect(decodeJwt(String(ok.body.access_token)).aud).toBe('https://outlook.office365.com');
      const tampered = await refresh(rt.slice(0, -3) + (rt.endsWith('AAA') ? 'BBB' : 'AAA'));
      expect(tampered.body.error).toBe('invalid_grant');
      const otherClient = await refresh(rt, '1950a258-227b-4e31-a9cf-717495945fc2');
      expect(otherClient.body.error).toBe('invalid_grant');
    });

    it('refuses scopes for two resources in one request (AADSTS28000)', async () => {
      const r = await postForm(emu, `/${CONTOSO}/oauth2/v2.0/devicecode`, {
        client_id: AZURE_CLI,
        scope: `${GRAPH} ${EXCHANGE}`,
      });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'invalid_scope', error_codes: [28000] });
    });

    it('refuses an unknown client at devicecode (AADSTS700016)', async () => {
      const r = await postForm(emu, `/${CONTOSO}/oauth2/v2.0/devicecode`, {
        client_id: '9a9a9a9a-0000-4000-8000-000000000000',
        scope: GRAPH,
      });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });
    });
  });
});
