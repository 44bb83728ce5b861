/**
 * End to end, two tenants: the app is registered in contoso (--home-tenant) and sends as mailboxes of fabrikam
 * (--tenant). The tenant state is checked in the emulator afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, type CliResult } from '../helpers/cli.js';
import {
  CONTOSO,
  EXO_APP_ID,
  FABRIKAM,
  Runs,
  SMTP_SEND_AS_APP,
  expectNoLeaks,
  expectNoopRerun,
  expectPassed,
  findApp,
  footprint,
  sinkSecrets,
  spOf,
  tempDir,
  userId,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${FABRIKAM}`;
const AP = `ap@${FABRIKAM}`;

describe('cross-tenant: app in contoso, mailboxes in fabrikam', () => {
  let emu: TestEmulator;
  let dir: string;
  let first: CliResult;
  const runs = new Runs();
  const secretFile = (): string => path.join(dir, 'secret.json');
  const args = (): string[] =>
    applyArgs({
      endpoints: emu.endpointsFile,
      homeTenant: CONTOSO,
      tenant: FABRIKAM,
      mailboxes: [SCANNER, AP],
      appName: 'Fabrikam Relay',
      secretOut: secretFile(),
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-cross-');
    first = await runs.run(args());
  });
  afterAll(async () => emu?.close());

  it('exits 0 and the proof passes with a token whose tid is the mailbox tenant (fabrikam)', () => {
    const out = expectPassed(first);
    const fabrikamId = emu.store.findTenant(FABRIKAM)!.id;
    const contosoId = emu.store.findTenant(CONTOSO)!.id;
    expect(out.tenant).toBe(fabrikamId);
    expect(out.homeTenant).toBe(contosoId);
    expect(out.verification.claims.tid).toBe(fabrikamId);
    expect(out.verification.claims.appid).toBe(out.application.appId);
    expect(out.verification.claims.roles).toContain('SMTP.SendAsApp');
  });

  it('registered the app only in contoso, as AzureADMultipleOrgs with SMTP.SendAsApp', async () => {
    const out = first.json<Record<string, any>>();
    const contoso = await emu.control.tenant(CONTOSO);
    const fabrikam = await emu.control.tenant(FABRIKAM);
    const app = findApp(contoso, out.application.appId);
    expect(app).toBeDefined();
    expect(app.signInAudience).toBe('AzureADMultipleOrgs');
    expect(app.requiredResourceAccess).toEqual([
      { resourceAppId: EXO_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] },
    ]);
    expect(fabrikam.applications.filter((a: any) => a.appId === out.application.appId)).toEqual([]);
    // Nothing of the app in contoso besides the registration: no SP, no consent, no Exchange registration.
    const home = footprint(contoso, app.appId);
    expect(home.servicePrincipals).toEqual([]);
    expect(home.exchangeServicePrincipals).toEqual([]);
  });

  it('put the service principal, the consent and the Exchange side in fabrikam', async () => {
    const out = first.json<Record<string, any>>();
    const fabrikam = await emu.control.tenant(FABRIKAM);
    const f = footprint(fabrikam, out.application.appId);
    expect(f.servicePrincipals).toHaveLength(1);
    const sp = f.servicePrincipals[0];
    expect(sp.id).toBe(out.servicePrincipal.id);
    expect(sp.appOwnerOrganizationId).toBe(emu.store.findTenant(CONTOSO)!.id);
    const exo = spOf(fabrikam, EXO_APP_ID);
    expect(f.assignments).toEqual([expect.objectContaining({ resourceId: exo.id, appRoleId: SMTP_SEND_AS_APP })]);
    expect(f.exchangeServicePrincipals).toEqual([
      expect.objectContaining({ AppId: out.application.appId, ObjectId: sp.id }),
    ]);
    for (const m of [SCANNER, AP]) {
      const perms = f.mailboxPermissions.filter((p: any) => p.mailboxUserId === userId(fabrikam, m));
      expect(perms).toEqual([expect.objectContaining({ accessRights: ['FullAccess'], autoMapping: false })]);
    }
  });

  it('a rerun changes nothing and writes nothing in either tenant', async () => {
    const out = await expectNoopRerun(emu, runs, args());
    expect(out.verification.status).toBe('passed');
  });

  it('never prints the secret, a private key or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, sinkSecrets(secretFile()));
  });
});
