/**
 * The vendor guide for a multitenant ISV app, end to end against the emulator with today's rules (m365-facts §8):
 * the ISV's app has a registered Web reply URL; the customer's admin opens the v2 admin-consent URL with that
 * redirect_uri; Exchange does not know the fresh service principal for a while (AADServicePrincipalNotFound), so
 * New-ServicePrincipal is retried until it has replicated; then FullAccess and
 * mailbox SMTP AUTH; the app signs in over SMTP XOAUTH2 with nodemailer. Real clients: @azure/identity, fetch,
 * nodemailer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import nodemailer from 'nodemailer';
import { ClientSecretCredential } from '@azure/identity';
import { startWithTenantIds, type TestEmulator } from '../helpers/emulator.js';
import { EXCHANGE_SCOPE, addSecret, credentialOptions, registerApp } from '../helpers/azure.js';
import { EXCHANGE_APP_ID } from '../../src/emulator/seed.js';
import { classifyExchangeError } from '../../src/emulator/exchange/index.js';

const FABRIKAM = 'fabrikam.onmicrosoft.com';
const SMTP_SEND_AS_APP = '7146a1f0-8703-45b3-9eae-527a64c00995';
const REPLY_URL = 'https://isv.example.com/oauth/consented';
const MAILBOX = `scanner@${FABRIKAM}`;

describe('vendor guide, cross-tenant, with a reply URL and a replication wait', () => {
  let emu: TestEmulator;
  let fabrikamId: string;
  beforeAll(async () => {
    ({ emu, fabrikamId } = await startWithTenantIds());
    await emu.control.setKnobs({ exchangeReplicationDelayMs: 500 });
  });
  afterAll(async () => emu.close());

  it('consents, waits for Exchange, grants, and the app signs in over SMTP', async () => {
    const { app, appId } = registerApp(emu, {
      displayName: 'OAuth Email Sender',
      redirectUris: [REPLY_URL],
      requiredResourceAccess: [
        { resourceAppId: EXCHANGE_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] },
      ],
    });
    const secret = addSecret(app);

    // 1. The customer's admin consents (v2, redirect_uri = the registered reply URL).
    const q = new URLSearchParams({ client_id: appId, scope: EXCHANGE_SCOPE, redirect_uri: REPLY_URL, state: 'v1' });
    const consent = await emu.request(`/${fabrikamId}/v2.0/adminconsent?${q}`, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const back = new URL(consent.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(REPLY_URL);
    expect(back.searchParams.get('admin_consent')).toBe('True');
    const tenant = emu.store.findTenant(FABRIKAM)!;
    const sp = emu.store.servicePrincipalByAppId(tenant, appId)!;
    expect(sp).toBeDefined();

    // 2. New-ServicePrincipal with the enterprise app's object id: not known to Exchange yet, then registered.
    const admin = emu.mintAppToken(FABRIKAM, emu.endpoints.operator.clientId, 'exchange');
    const invoke = async (cmdlet: string, parameters: Record<string, unknown>) => {
      const res = await emu.request(`/adminapi/beta/${fabrikamId}/InvokeCommand`, {
        method: 'POST',
        token: admin,
        json: { CmdletInput: { CmdletName: cmdlet, Parameters: parameters } },
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const answers: number[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await invoke('New-ServicePrincipal', { AppId: appId, ObjectId: sp.entity.id, DisplayName: 'ISV app' });
      answers.push(r.status);
      if (r.status === 200) break;
      expect(classifyExchangeError(r.status, r.body)).toBe('service-principal-not-found');
      await sleep(50);
    }
    expect(answers[0]).toBe(400);
    expect(answers.at(-1)).toBe(200);

    // 3. FullAccess and mailbox SMTP AUTH, as the guide says.
    expect(
      (await invoke('Add-MailboxPermission', { Identity: MAILBOX, User: sp.entity.id, AccessRights: ['FullAccess'] }))
        .status,
    ).toBe(200);
    expect(
      (await invoke('Set-CASMailbox', { Identity: MAILBOX, SmtpClientAuthenticationDisabled: false })).status,
    ).toBe(200);

    // 4. The app's token from the customer's tenant, and the XOAUTH2 sign-in.
    const credential = new ClientSecretCredential(FABRIKAM, appId, secret, credentialOptions(emu));
    const token = (await credential.getToken(EXCHANGE_SCOPE)).token;
    const transport = nodemailer.createTransport({
      host: emu.endpoints.smtp.host,
      port: emu.endpoints.smtp.port,
      secure: false,
      requireTLS: true,
      tls: { ca: emu.ca },
      auth: { type: 'OAuth2', user: MAILBOX, accessToken: token },
    });
    try {
      expect(await transport.verify()).toBe(true);
    } finally {
      transport.close();
    }
  });
});
