/**
 * End to end, Exchange RBAC for Applications (--mailbox-access rbac --group): no Entra SMTP.SendAsApp permission
 * and no consent (Microsoft's onboarding guidance), but the Exchange service principal, a management scope over
 * the group and the "Application SMTP.SendAsApp" role assignment; the proof passes for the group's members.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, verifyArgs, type CliResult } from '../helpers/cli.js';
import { groupDistinguishedName } from '../../src/emulator/exchange/authorization.js';
import {
  CONTOSO,
  Runs,
  SMTP_SEND_AS_APP,
  expectNoLeaks,
  expectNoopRerun,
  expectPassed,
  findApp,
  footprint,
  sinkSecrets,
  tempDir,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

describe('rbac mode over a group (smtp-senders = scanner, ap)', () => {
  let emu: TestEmulator;
  let dir: string;
  let first: CliResult;
  const runs = new Runs();
  const secretFile = (): string => path.join(dir, 'secret.json');
  const args = (): string[] =>
    applyArgs({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      group: 'smtp-senders',
      mailboxAccess: 'rbac',
      appName: 'RBAC Sender',
      secretOut: secretFile(),
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-rbac-');
    first = await runs.run(args());
  });
  afterAll(async () => emu?.close());

  it('exits 0 and the proof passes for both members of the group, with a token without roles', () => {
    const out = expectPassed(first);
    expect(out.mailboxes.sort()).toEqual([AP, SCANNER]);
    expect(out.verification.mailboxes.map((m: any) => [m.mailbox, m.status]).sort()).toEqual([
      [AP, 'passed'],
      [SCANNER, 'passed'],
    ]);
    expect(out.verification.claims.roles ?? []).not.toContain('SMTP.SendAsApp');
  });

  it('added no Entra SMTP.SendAsApp permission and no app role assignment', async () => {
    const out = first.json<Record<string, any>>();
    const t = await emu.control.tenant(CONTOSO);
    const app = findApp(t, out.application.appId);
    expect(JSON.stringify(app.requiredResourceAccess)).not.toContain(SMTP_SEND_AS_APP);
    const f = footprint(t, app.appId);
    expect(f.servicePrincipals).toHaveLength(1);
    expect(f.assignments).toEqual([]);
    // FullAccess is not how rbac mode authorizes.
    expect(f.mailboxPermissions).toEqual([]);
    expect(out.resources.map((r: any) => r.key)).not.toContain('entra.consent');
  });

  it("made the Exchange service principal, a scope MemberOfGroup -eq '<group DN>' and the role assignment", async () => {
    const out = first.json<Record<string, any>>();
    const t = await emu.control.tenant(CONTOSO);
    const f = footprint(t, out.application.appId);
    expect(f.exchangeServicePrincipals).toEqual([expect.objectContaining({ ObjectId: out.servicePrincipal.id })]);
    const dn = exchangeGroupDn(emu, 'smtp-senders');
    expect(dn).toMatch(/smtp-senders/i);
    expect(t.exchange.managementScopes).toEqual([
      expect.objectContaining({ RecipientRestrictionFilter: `MemberOfGroup -eq '${dn}'` }),
    ]);
    const scope = t.exchange.managementScopes[0];
    expect(t.exchange.managementRoleAssignments).toEqual([
      expect.objectContaining({
        Role: 'Application SMTP.SendAsApp',
        App: out.application.appId,
        CustomResourceScope: scope.Name,
      }),
    ]);
  });

  it('a rerun changes nothing and writes nothing', async () => {
    const out = await expectNoopRerun(emu, runs, args());
    expect(out.verification.status).toBe('passed');
  });

  it('a mailbox outside the group is refused by Exchange (the scope is what authorizes)', async () => {
    const out = first.json<Record<string, any>>();
    // SMTP AUTH on for it@ so that only the authorization decides.
    const it = emu.store.findTenant(CONTOSO)!.users.find((u) => u.entity.mail === `it@${CONTOSO}`)!;
    it.mailbox!.smtpClientAuthenticationDisabled = false;
    const v = await runs.run(
      verifyArgs(
        {
          endpoints: emu.endpointsFile,
          tenant: CONTOSO,
          clientId: out.application.appId,
          secretFile: secretFile(),
          mailbox: `it@${CONTOSO}`,
          wait: '0',
        },
        '--rbac',
      ),
    );
    expect(v.code).not.toBe(0);
    expect(v.stdout).toMatch(/535 5\.7\.3 /);
  });

  it('never prints the secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, sinkSecrets(secretFile()));
  });
});

/** The group's DistinguishedName as the emulated Exchange computes it. */
function exchangeGroupDn(emu: TestEmulator, group: string): string {
  const tenant = emu.store.findTenant(CONTOSO)!;
  const g = tenant.groups.find((x) => x.alias === group);
  if (!g) throw new Error(`no group ${group}`);
  return groupDistinguishedName(tenant, g);
}
