/**
 * The hand-off against the emulator: the built CLI applies (home contoso, mailboxes in fabrikam), then renders
 * every target, and each document's values are checked against the tenant's state in the emulator. The hand-off
 * reads only: no write reaches the emulator. Also the delegated SMTP flow and a vendor app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { registerApp } from '../helpers/azure.js';
import { applyOptions, runCli } from '../helpers/cli.js';
import {
  CONTOSO,
  EXO_APP_ID as EXCHANGE_APP_ID,
  FABRIKAM,
  SMTP_SEND_AS_APP,
  appsByName,
  readJson,
  spOf,
  tempDir,
  userByMail,
} from '../helpers/e2e.js';

const SCANNER = 'scanner@fabrikam.onmicrosoft.com';

describe('hand-off, cross-tenant, client credentials', () => {
  let emu: TestEmulator;
  let dir: string;
  let appId: string;
  let fabrikamId: string;
  let secret: string;
  let keyId: string;
  const base = (): string[] =>
    applyOptions({
      endpoints: emu.endpointsFile,
      tenant: FABRIKAM,
      homeTenant: CONTOSO,
      mailboxes: [SCANNER],
      appName: 'Business Central SMTP',
      secretOut: path.join(dir, 'secret.json'),
      wait: '1m',
      yes: false,
      json: false,
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-handoff-');
    const apply = await runCli(['apply', ...base(), '--yes', '--output', 'json', '--target', 'json']);
    expect(apply.code, apply.stderr).toBe(0);
    const out = apply.json<Record<string, any>>();
    appId = out.application.appId;
    fabrikamId = out.tenant;
    const sink = readJson(path.join(dir, 'secret.json'));
    secret = sink.credential.secret;
    keyId = sink.credential.keyId;
    // apply --target: the hand-off is part of the one JSON result, and matches what apply made.
    const doc = JSON.parse(out.handoff.content);
    expect(doc.clientId).toBe(appId);
    expect(doc.tenantId).toBe(fabrikamId);
  });
  afterAll(async () => emu.close());

  it('the app, tenant and mailbox of every target are those of the emulated tenant', async () => {
    const contoso = await emu.control.tenant(CONTOSO);
    const fabrikam = await emu.control.tenant(FABRIKAM);
    const [app] = appsByName(contoso, 'Business Central SMTP');
    expect(app.appId).toBe(appId);
    expect(fabrikam.id).toBe(fabrikamId);
    expect(app.passwordCredentials.map((p: { keyId: string }) => p.keyId)).toEqual([keyId]);
    const sp = spOf(fabrikam, appId);
    expect(fabrikam.exchange.servicePrincipals).toEqual([expect.objectContaining({ AppId: appId, ObjectId: sp.id })]);
    const smtp = emu.endpoints.smtp;
    const authority = emu.endpoints.authorityHost;
    await emu.control.clearLog();

    const render = async (target: string): Promise<string> => {
      const r = await runCli(['handoff', ...base(), '--target', target]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toContain(secret);
      return r.stdout;
    };

    const json = JSON.parse(await render('json'));
    expect(json).toMatchObject({
      flow: 'app',
      clientId: app.appId,
      tenantId: fabrikam.id,
      homeTenantId: contoso.id,
      user: SCANNER,
      smtp: { host: smtp.host, port: smtp.port },
      credential: { type: 'secret', keyId, file: path.join(dir, 'secret.json') },
      oauth: {
        grantType: 'client_credentials',
        tokenEndpoint: `${authority}/${fabrikam.id}/oauth2/v2.0/token`,
        openIdMetadataUrl: `${authority}/${fabrikam.id}/v2.0/.well-known/openid-configuration`,
        scope: 'https://outlook.office365.com/.default',
      },
      warnings: [],
    });
    // The token endpoint the hand-off names is the emulator's, and it answers for the app's secret.
    const token = await emu.request(json.oauth.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: json.clientId,
        client_secret: secret,
        scope: json.oauth.scope,
        grant_type: 'client_credentials',
      }).toString(),
    });
    expect(token.status).toBe(200);

    const bc = await render('business-central');
    expect(bc).toMatch(new RegExp(`Client Id +${app.appId}`));
    expect(bc).toMatch(new RegExp(`Tenant ID +${fabrikam.id}`));
    expect(bc).toMatch(new RegExp(`Email Address +${SCANNER}`));
    expect(bc).toMatch(new RegExp(`Server +${smtp.host}\\n`));
    expect(bc).toMatch(new RegExp(`Server Port +${smtp.port}\\n`));
    expect(bc).toContain('Authentication               OAuth 2.0');
    expect(bc).toContain(`not the app's home tenant`.slice(0, 0)); // cross-tenant note present below
    expect(bc).toContain(`registered in ${contoso.id}`);

    const reg = await render('enaio-server');
    expect(reg).toContain(`"OfficeClientID"="${app.appId}"`);
    expect(reg).toContain(`"OfficeTenantID"="${fabrikam.id}"`);
    expect(reg).toContain(`"SMTPUserName"="${SCANNER}"`);
    expect(reg).toContain(`"MailServer"="${smtp.host}"`);
    expect(reg).toContain(`"SMTPPort"=dword:${smtp.port.toString(16).padStart(8, '0')}`);
    expect(reg).toContain(`"OfficeTokenEndpoint"="${authority}/${fabrikam.id}/oauth2/v2.0/token"`);

    const yml = parseYaml(await render('enaio-webclient')).featureSwitches.sendEmail;
    expect(yml).toMatchObject({
      officeClientId: app.appId,
      officeTenantId: fabrikam.id,
      smtpUserName: SCANNER,
      mailServer: smtp.host,
      smtpPort: smtp.port,
    });

    const xeams = await render('xeams');
    expect(xeams).toMatch(new RegExp(`Client ID +${app.appId}`));
    expect(xeams).toContain(`${authority}/${fabrikam.id}/v2.0/.well-known/openid-configuration`);

    const postfix = await render('postfix');
    expect(postfix).toContain(`"client_id": "${app.appId}"`);
    expect(postfix).toContain(`relayhost = [${smtp.host}]:${smtp.port}`);

    const env = Object.fromEntries(
      (await render('env'))
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), JSON.parse(l.slice(l.indexOf('=') + 1))]),
    );
    expect(env).toMatchObject({
      OAUTH_CLIENT_ID: app.appId,
      OAUTH_TENANT_ID: fabrikam.id,
      SMTP_USER: SCANNER,
      SMTP_HOST: smtp.host,
      SMTP_PORT: String(smtp.port),
      OAUTH_CLIENT_SECRET_FILE: path.join(dir, 'secret.json'),
    });

    const writes = (await emu.control.log()).filter((e) => e.write && e.service !== 'smtp');
    expect(writes).toEqual([]);
  });

  it('--include-secret writes the secret only to a 0600 --out file', async () => {
    const out = path.join(dir, 'bc.env');
    const r = await runCli(['handoff', ...base(), '--target', 'env', '--include-secret', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toContain(`OAUTH_CLIENT_SECRET="${secret}"`);
    const noOut = await runCli(['handoff', ...base(), '--target', 'env', '--include-secret']);
    expect(noOut.code).toBe(2);
    // Refused while the options are read (exit 2, before any tenant call), naming the flag and what it needs.
    expect(noOut.stderr).toContain('--include-secret: needs --out FILE');
    expect(noOut.stdout).toBe('');
  });

  it('bad input: no target, an unknown target, a certificate for Business Central', async () => {
    const none = await runCli(['handoff', ...base()]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--target');
    const unknown = await runCli(['handoff', ...base(), '--target', 'lotus-notes']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('must be one of business-central');
    const cert = await runCli(['apply', ...base(), '--target', 'business-central', '--credential', 'certificate']);
    expect(cert.code).toBe(2);
    expect(cert.stderr).toContain('no certificate support');
  });
});

describe('delegated SMTP (Xeams own-app mode)', () => {
  let emu: TestEmulator;
  let dir: string;
  const IT = 'it@contoso.onmicrosoft.com';
  /** apply's options; plan renders no hand-off and refuses --target (`args(null)`). */
  const args = (target: string | null = 'xeams'): string[] =>
    applyOptions({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [IT],
      appName: 'Xeams SMTP',
      flow: 'delegated',
      redirectUri: 'https://xeams.contoso.com:5273/oauth',
      secretOut: path.join(dir, 'xeams.json'),
      wait: null,
      target: target ?? undefined,
      yes: false,
      json: false,
    });
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-delegated-');
  });
  afterAll(async () => emu.close());

  it('registers SMTP.Send, offline_access, openid and the redirect URI, no mailbox permission, and hands off', async () => {
    const r = await runCli(['apply', ...args(), '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('proof skipped: delegated SMTP');
    const t = await emu.control.tenant(CONTOSO);
    const [app] = appsByName(t, 'Xeams SMTP');
    expect(app.requiredResourceAccess).toEqual([
      {
        resourceAppId: '00000003-0000-0000-c000-000000000000',
        resourceAccess: [
          { id: '258f6531-6087-4cc4-bb90-092c5fb3ed3f', type: 'Scope' },
          { id: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182', type: 'Scope' },
          { id: '37f7f235-527c-4136-accd-4a02d197296e', type: 'Scope' },
        ],
      },
    ]);
    expect(app.requiredResourceAccess.some((r: { resourceAppId: string }) => r.resourceAppId === EXCHANGE_APP_ID)).toBe(
      false,
    );
    expect(app.web.redirectUris).toEqual(['https://xeams.contoso.com:5273/oauth']);
    expect(app.passwordCredentials).toHaveLength(1);
    const sp = spOf(t, app.appId);
    expect(t.exchange.servicePrincipals).toEqual([]);
    expect(t.exchange.mailboxPermissions.filter((p: any) => p.trustee.id === sp.id)).toEqual([]);
    expect(userByMail(t, IT).mailbox.smtpClientAuthenticationDisabled).toBe(false);
    // The hand-off on stdout, in Xeams' words, with the delegated scope and the metadata document.
    expect(r.stdout).toMatch(new RegExp(`Client ID +${app.appId}`));
    expect(r.stdout).toContain('https://outlook.office.com/SMTP.Send offline_access');
    expect(r.stdout).toContain(`${emu.endpoints.authorityHost}/${t.id}/v2.0/.well-known/openid-configuration`);
    expect(r.stdout).toContain('https://xeams.contoso.com:5273/oauth');

    await emu.control.clearLog();
    const again = await runCli(['apply', ...args(), '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect((await emu.control.log()).filter((e) => e.write && e.service !== 'smtp')).toEqual([]);
  });

  it('a second redirect URI is added, keeping the first', async () => {
    const r = await runCli(['apply', ...args(), '--redirect-uri', 'https://xeams2.contoso.com/oauth', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const t = await emu.control.tenant(CONTOSO);
    const [app] = appsByName(t, 'Xeams SMTP');
    expect(app.web.redirectUris).toEqual(['https://xeams.contoso.com:5273/oauth', 'https://xeams2.contoso.com/oauth']);
  });

  it('refuses a certificate or a vendor app with --flow delegated, and a plain-http redirect URI', async () => {
    const cert = await runCli(['plan', ...args(null), '--credential', 'certificate']);
    expect(cert.code).toBe(2);
    expect(cert.stderr).toContain('--credential');
    const vendor = await runCli(['plan', ...args(null), '--app-id', '00000000-0000-0000-0000-000000000001']);
    expect(vendor.code).toBe(2);
    expect(vendor.stderr).toContain('--app-id');
    const http = await runCli(['plan', ...args(null), '--redirect-uri', 'http://xeams.contoso.com/oauth']);
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('https URL');
  });
});

describe("vendor app: the customer's admin consents, then the Exchange half", () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu.close());

  it('hands off the admin-consent URL before the consent, then apply does the Exchange half and skips the proof', async () => {
    const vendor = registerApp(emu, {
      home: CONTOSO,
      displayName: 'Travel Agency OAuth Email Sender',
      signInAudience: 'AzureADMultipleOrgs',
      requiredResourceAccess: [
        { resourceAppId: EXCHANGE_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] },
      ],
    });
    const args = applyOptions({
      endpoints: emu.endpointsFile,
      tenant: FABRIKAM,
      appId: vendor.appId,
      mailboxes: [SCANNER],
      wait: '1m',
      target: 'json',
      yes: false,
      json: false,
    });
    // Before: no service principal in the customer's tenant; the hand-off carries the consent URL.
    const before = await runCli(['handoff', ...args]);
    expect(before.code, before.stderr).toBe(0);
    const pending = JSON.parse(before.stdout);
    expect(pending.clientId).toBe(vendor.appId);
    const fabrikamId = (await emu.control.tenant(FABRIKAM)).id;
    // v2 admin consent names its reply URL: without --redirect-uri, the cloud's "nativeclient" page (a vendor's app
    // needs the vendor's registered reply URL there, given with --redirect-uri).
    const url = new URL(pending.adminConsentUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${emu.endpoints.authorityHost}/${fabrikamId}/v2.0/adminconsent`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: vendor.appId,
      scope: 'https://outlook.office365.com/.default',
      redirect_uri: `${emu.endpoints.authorityHost}/common/oauth2/nativeclient`,
    });
    expect(pending.warnings.join('\n')).toContain('not in place yet: entra.servicePrincipal');
    // The same as one JSON result: the document, and what is not in place yet; nothing written.
    await emu.control.clearLog();
    const asJson = await runCli(['handoff', ...args, '--output', 'json']);
    expect(asJson.code, asJson.stderr).toBe(0);
    const result = asJson.json<Record<string, any>>();
    expect(result.command).toBe('handoff');
    expect(result.notInPlace).toEqual(expect.arrayContaining(['entra.servicePrincipal']));
    expect(JSON.parse(result.handoff.content)).toEqual(pending);
    expect((await emu.control.log()).filter((e) => e.write)).toEqual([]);

    // --output json: one object on stdout, the hand-off document in it.
    const r = await runCli(['apply', ...args, '--yes', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("proof skipped: the vendor's credential is not in hand");
    const out = r.json<Record<string, any>>();
    expect(out.handoff.target).toBe('json');
    const doc = JSON.parse(out.handoff.content);
    expect(doc.clientId).toBe(vendor.appId);
    expect(doc.credential.keyId).toBe('');
    const t = await emu.control.tenant(FABRIKAM);
    const sp = spOf(t, vendor.appId);
    expect(t.exchange.servicePrincipals).toEqual([expect.objectContaining({ AppId: vendor.appId, ObjectId: sp.id })]);
    expect(t.exchange.mailboxPermissions.filter((p: any) => p.trustee.id === sp.id)).toHaveLength(1);
  });
});
