/**
 * End to end, adopting an existing app by --app-id: an ISV's multitenant app registered in another tenant (only
 * its service principal, consent and Exchange side are managed; the proof needs the vendor's credential), and an
 * app of the operator's own home tenant (its credential is managed too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { addSecret, registerApp } from '../helpers/azure.js';
import { applyArgs, verifyArgs, type CliResult } from '../helpers/cli.js';
import {
  CONTOSO,
  EXO_APP_ID,
  FABRIKAM,
  GRAPH_APP_ID,
  Runs,
  SMTP_SEND_AS_APP,
  appsBesidesOperator,
  expectNoLeaks,
  expectNoopRerun,
  expectPassed,
  findApp,
  footprint,
  noteCodes,
  noteOf,
  readJson,
  sinkSecrets,
  spOf,
  tempDir,
  userId,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;
const GRAPH_MAIL_SEND = 'b633e1c5-b582-4048-a93e-9f11b44c7e96';

describe("adopting an ISV's multitenant app (--app-id, registered in fabrikam) into contoso", () => {
  let emu: TestEmulator;
  let vendorAppId: string;
  let vendorSecret: string;
  let first: CliResult;
  const runs = new Runs();
  const args = (): string[] =>
    applyArgs({ endpoints: emu.endpointsFile, tenant: CONTOSO, appId: vendorAppId, mailboxes: [SCANNER] });

  beforeAll(async () => {
    emu = await startTestEmulator();
    const vendor = registerApp(emu, {
      home: FABRIKAM,
      displayName: 'Travel Agency OAuth Email Sender',
      signInAudience: 'AzureADMultipleOrgs',
      requiredResourceAccess: [{ resourceAppId: EXO_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] }],
    });
    vendorAppId = vendor.appId;
    vendorSecret = addSecret(vendor.app);
    first = await runs.run(args());
  });
  afterAll(async () => emu?.close());

  it('exits 0 with the proof skipped and a note that the vendor holds the credential', () => {
    expect(first.code, first.stderr).toBe(0);
    const out = first.json<Record<string, any>>();
    expect(out.verification.status).toBe('skipped');
    expect(out.verification.reply).toMatch(/vendor's credential is not in hand/);
    expect(first.stderr).toMatch(
      /proof skipped: the vendor's credential is not in hand: the vendor runs `sendasapp verify`/,
    );
    expect(noteCodes(out)).toContain('vendor-app');
    expect(noteOf(out, 'vendor-app')!.text).toContain(`app ${vendorAppId} is not registered in the home tenant`);
    expect(out.application.id).toBeUndefined();
  });

  it('made no app registration in contoso and left the vendor app in fabrikam untouched', async () => {
    const contoso = await emu.control.tenant(CONTOSO);
    const fabrikam = await emu.control.tenant(FABRIKAM);
    expect(appsBesidesOperator(emu, contoso)).toEqual([]);
    const vendor = findApp(fabrikam, vendorAppId);
    expect(vendor.passwordCredentials).toHaveLength(1);
    expect(vendor.passwordCredentials[0].displayName).toBe('test secret');
    expect(vendor.signInAudience).toBe('AzureADMultipleOrgs');
    // Nothing of the app was installed in the vendor's own tenant by this run.
    expect(footprint(fabrikam, vendorAppId).servicePrincipals).toEqual([]);
  });

  it('installed the app in contoso: service principal, SMTP.SendAsApp consent, Exchange SP, FullAccess', async () => {
    const out = first.json<Record<string, any>>();
    const contoso = await emu.control.tenant(CONTOSO);
    const f = footprint(contoso, vendorAppId);
    expect(f.servicePrincipals).toHaveLength(1);
    expect(f.servicePrincipals[0].id).toBe(out.servicePrincipal.id);
    expect(f.servicePrincipals[0].appOwnerOrganizationId).toBe(emu.store.findTenant(FABRIKAM)!.id);
    const exo = spOf(contoso, EXO_APP_ID);
    expect(f.assignments).toEqual([expect.objectContaining({ resourceId: exo.id, appRoleId: SMTP_SEND_AS_APP })]);
    expect(f.exchangeServicePrincipals).toEqual([expect.objectContaining({ ObjectId: f.servicePrincipals[0].id })]);
    expect(f.mailboxPermissions).toEqual([
      expect.objectContaining({ mailboxUserId: userId(contoso, SCANNER), accessRights: ['FullAccess'] }),
    ]);
  });

  it("the vendor's own proof (sendasapp verify with the vendor's secret) passes in contoso", async () => {
    const file = path.join(tempDir('sendasapp-e2e-adopt-'), 'vendor-secret.txt');
    writeFileSync(file, vendorSecret, { mode: 0o600 });
    const v = await runs.run(
      verifyArgs({
        endpoints: emu.endpointsFile,
        tenant: CONTOSO,
        clientId: vendorAppId,
        secretFile: file,
        mailbox: SCANNER,
        wait: '20s',
      }),
    );
    expect(v.code, v.stderr).toBe(0);
    // verify's result (the reply) is on stdout, its progress on stderr.
    expect(v.stdout).toContain('235 2.7.0 Authentication successful');
  });

  it('a rerun changes nothing and writes nothing', async () => {
    await expectNoopRerun(emu, runs, args());
    // Not even SMTP: the proof is the vendor's to make.
    expect((await emu.control.log()).filter((e) => e.write)).toEqual([]);
  });

  it('never prints a secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, [vendorSecret]);
  });
});

describe("adopting an app of the operator's home tenant (--app-id): its credential is managed", () => {
  let emu: TestEmulator;
  let dir: string;
  let appId: string;
  let oldSecret: string;
  let first: CliResult;
  const runs = new Runs();
  const secretFile = (): string => path.join(dir, 'secret.json');
  const args = (): string[] =>
    applyArgs({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      appId,
      mailboxes: [SCANNER],
      secretOut: secretFile(),
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-adopt-home-');
    const reg = registerApp(emu, {
      home: CONTOSO,
      displayName: 'ERP mailer (made in the portal)',
      signInAudience: 'AzureADMyOrg',
      requiredResourceAccess: [
        { resourceAppId: GRAPH_APP_ID, resourceAccess: [{ id: GRAPH_MAIL_SEND, type: 'Role' }] },
      ],
    });
    appId = reg.appId;
    oldSecret = addSecret(reg.app);
    first = await runs.run(args());
  });
  afterAll(async () => emu?.close());

  it('exits 0 and proves with the new secret it wrote to the sink', () => {
    const out = expectPassed(first);
    expect(out.credential).toMatchObject({ type: 'secret', sink: secretFile() });
    const sink = readJson(secretFile());
    expect(sink.credential.keyId).toBe(out.credential.keyId);
    expect(sink.clientId).toBe(appId);
  });

  it('kept the app (name, existing permission, existing secret) and added SMTP.SendAsApp and our secret', async () => {
    const out = first.json<Record<string, any>>();
    const contoso = await emu.control.tenant(CONTOSO);
    const apps = appsBesidesOperator(emu, contoso);
    expect(apps).toHaveLength(1);
    const app = apps[0];
    expect(app.appId).toBe(appId);
    expect(app.displayName).toBe('ERP mailer (made in the portal)');
    expect(app.requiredResourceAccess).toEqual(
      expect.arrayContaining([
        { resourceAppId: GRAPH_APP_ID, resourceAccess: [{ id: GRAPH_MAIL_SEND, type: 'Role' }] },
        { resourceAppId: EXO_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] },
      ]),
    );
    expect(app.passwordCredentials.map((p: any) => p.displayName).sort()).toEqual([
      expect.stringMatching(/^sendasapp /),
      'test secret',
    ]);
    expect(app.passwordCredentials.map((p: any) => p.keyId)).toContain(out.credential.keyId);
    const f = footprint(contoso, appId);
    expect(f.servicePrincipals).toHaveLength(1);
    expect(f.assignments.filter((a: any) => a.appRoleId === SMTP_SEND_AS_APP)).toHaveLength(1);
    expect(f.exchangeServicePrincipals).toHaveLength(1);
  });

  it('a rerun keeps the secret it holds: nothing changes', async () => {
    const out = await expectNoopRerun(emu, runs, args());
    expect(out.verification.status).toBe('passed');
  });

  it('never prints a secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, [oldSecret, ...sinkSecrets(secretFile())]);
  });
});
