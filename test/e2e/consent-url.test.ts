/**
 * End to end, the admin-consent path: the operator may read applications in the mailbox tenant (fabrikam) and
 * administer its Exchange, but may not create service principals there. apply prints the v2.0 admin-consent URL
 * and waits; an administrator "clicks" it (the emulator approves), and apply carries on to a passing proof.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, type CliResult } from '../helpers/cli.js';
import {
  CONTOSO,
  FABRIKAM,
  Runs,
  SMTP_SEND_AS_APP,
  expectNoLeaks,
  expectPassed,
  footprint,
  setOperatorRoles,
  sinkSecrets,
  tempDir,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${FABRIKAM}`;
const CONSENT_URL = /https:\/\/\S+\/v2\.0\/adminconsent\?\S+/;

describe('consent URL: the operator may not create service principals in the mailbox tenant', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const secretFile = (): string => path.join(dir, 'secret.json');
  const base = (wait: string): string[] =>
    applyArgs({
      endpoints: emu.endpointsFile,
      homeTenant: CONTOSO,
      tenant: FABRIKAM,
      mailboxes: [SCANNER],
      appName: 'Consent Path',
      secretOut: secretFile(),
      wait,
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-consent-');
    // Fabrikam's admin consented the operator for reading apps and managing Exchange, nothing more.
    setOperatorRoles(emu, FABRIKAM, ['Application.Read.All', 'Exchange.ManageAsApp']);
  });
  afterAll(async () => emu?.close());

  let waited: CliResult;
  it('with nobody consenting, apply waits --wait 5s and ends with exit 3 and a sentence naming the URL', async () => {
    waited = await runs.run(base('5s'));
    expect(waited.code, waited.stderr).toBe(3);
    const url = CONSENT_URL.exec(waited.stderr)?.[0];
    expect(url).toBeDefined();
    expect(waited.stderr).toMatch(/must consent/);
    // The closing sentence names the URL and what to do.
    expect(waited.stderr).toContain(`waiting for admin consent in ${FABRIKAM}: open ${url} as its administrator`);
    const out = waited.json<Record<string, any>>();
    expect(out.outcome).toBe('waiting');
    const spRow = out.resources.find((r: any) => r.key === 'entra.servicePrincipal');
    expect(spRow.status).toBe('waiting');
    expect(out.verification.status).toBe('skipped');
    // Nothing was created in fabrikam in the meantime.
    const fabrikam = await emu.control.tenant(FABRIKAM);
    expect(footprint(fabrikam, out.application.appId).servicePrincipals).toEqual([]);
  });

  it('prints the v2.0 admin-consent URL for the mailbox tenant with scope https://outlook.office365.com/.default', () => {
    const url = new URL(CONSENT_URL.exec(waited.stderr)![0]);
    const out = waited.json<Record<string, any>>();
    expect(url.pathname).toBe(`/${emu.store.findTenant(FABRIKAM)!.id}/v2.0/adminconsent`);
    expect(url.searchParams.get('client_id')).toBe(out.application.appId);
    expect(url.searchParams.get('scope')).toBe('https://outlook.office365.com/.default');
  });

  let passed: CliResult;
  // The service principal the consent made is read with its grant (a consent is not a new object): no second grant.
  it('when the administrator opens the URL while apply waits, apply continues and the proof passes', async () => {
    let clicked: Promise<Response> | undefined;
    await emu.control.clearLog();
    passed = await runs.run(base('1m'), {
      onStderr: (s) => {
        const url = CONSENT_URL.exec(s)?.[0];
        if (url && !clicked) clicked = emu.request(url, { redirect: 'manual' });
      },
    });
    expect(clicked).toBeDefined();
    const res = await clicked!;
    // Approved: a redirect to the app's reply URL, or the "permissions granted" page when it has none.
    expect([200, 302]).toContain(res.status);
    const out = expectPassed(passed);
    expect(out.verification.claims.tid).toBe(emu.store.findTenant(FABRIKAM)!.id);
    // The consent made the grant: the run read it and did not try to grant it again (it may not).
    const grants = (await emu.control.log()).filter((e) => e.write && e.path.endsWith('/appRoleAssignedTo'));
    expect(grants).toEqual([]);
  });

  it('left one service principal (made by consent), one SMTP.SendAsApp grant and the Exchange side in fabrikam', async () => {
    const out = passed.json<Record<string, any>>();
    const fabrikam = await emu.control.tenant(FABRIKAM);
    const f = footprint(fabrikam, out.application.appId);
    expect(f.servicePrincipals).toHaveLength(1);
    expect(f.servicePrincipals[0].id).toBe(out.servicePrincipal.id);
    expect(f.assignments.filter((a: any) => a.appRoleId === SMTP_SEND_AS_APP)).toHaveLength(1);
    expect(f.exchangeServicePrincipals).toEqual([expect.objectContaining({ ObjectId: out.servicePrincipal.id })]);
    expect(f.mailboxPermissions).toHaveLength(1);
    // The consent, not the operator, created the service principal: Graph saw no service principal write.
    const contoso = await emu.control.tenant(CONTOSO);
    expect(contoso.applications.filter((a: any) => a.appId === out.application.appId)).toHaveLength(1);
  });

  it('never prints the secret, a private key or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, sinkSecrets(secretFile()));
  });
});
