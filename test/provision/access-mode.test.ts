/**
 * rbac is the default for new setups: with `mailboxAccess` unset, a new app gets the RBAC scope and role assignment
 * (no API permission, no consent, no mailbox grant); an existing app keeps the mode it was made with, read from the
 * tenant (its FullAccess or SendAs grants, or its role assignment). The run's result says the mode and why. A mode
 * given by the configuration wins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { chooseAccessMode } from '../../src/provision/access-mode.js';
import { EMPTY_INVENTORY, type AppState } from '../../src/provision/nodes/index.js';
import type { TenantRecord } from '../../src/emulator/state.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, SMTP_SEND_AS_APP, tempDir } from '../helpers/e2e.js';
import { reportOf, runTenant } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;
const EXO = '00000002-0000-0ff1-ce00-000000000000';

function tenant(emu: TestEmulator): TenantRecord {
  return emu.store.findTenant(CONTOSO)!;
}

describe('mailbox access when the configuration does not say', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-access-mode-');
  });
  afterAll(async () => emu?.close());

  const flags = (appName: string, mailboxAccess = 'unset') => ({
    tenant: CONTOSO,
    mailbox: [SCANNER],
    appName,
    mailboxAccess,
    secretOut: path.join(dir, `${appName.replace(/\W+/g, '-')}.json`),
    enableSmtpAuth: 'mailbox',
  });

  it('a new app gets rbac: a scope and role assignment, no API permission, no consent, no mailbox grant', async () => {
    const r = await runTenant(emu, flags('New Default'), 'prove');
    expect(r.result.outcome).toBe('ok');
    expect(r.result.mailboxAccess).toEqual({ mode: 'rbac', reason: expect.stringMatching(/^a new app: rbac/) });
    expect(r.result.verification?.status).toBe('passed');
    const appId = r.result.application.appId!;
    const t = tenant(emu);
    expect(t.exchange.managementRoleAssignments.filter((a) => a.App === appId).map((a) => a.Role)).toEqual([
      'Application SMTP.SendAsApp',
    ]);
    const exoSp = t.exchange.servicePrincipals.find((s) => s.AppId === appId)!;
    expect(t.exchange.mailboxPermissions.filter((p) => p.trustee.id === exoSp.ObjectId)).toEqual([]);
    const sp = t.servicePrincipals.find((s) => s.entity.appId === appId)!;
    expect(t.appRoleAssignments.filter((a) => a.entity.principalId === sp.entity.id)).toEqual([]);
    expect(JSON.stringify(emu.store.applicationByAppId(appId)!.entity.requiredResourceAccess)).not.toContain(
      SMTP_SEND_AS_APP,
    );
    expect(reportOf(r.result, 'entra.consent')).toBeUndefined();

    const again = await runTenant(emu, flags('New Default'), 'plan');
    expect(again.result.mailboxAccess?.mode).toBe('rbac');
    expect(again.result.pending).toBe(0);
  });

  it('an app made with full-access keeps it (its FullAccess grants), and so does one made with send-as', async () => {
    const fa = await runTenant(emu, flags('Made FullAccess', 'full-access'));
    expect(fa.result.mailboxAccess).toEqual({ mode: 'full-access', reason: expect.stringMatching(/^given/) });
    const faAgain = await runTenant(emu, flags('Made FullAccess'), 'plan');
    expect(faAgain.result.mailboxAccess).toEqual({
      mode: 'full-access',
      reason: "the app's service principal holds FullAccess on 1 mailbox: it was made with full-access",
    });
    expect(faAgain.result.pending).toBe(0);
    expect(faAgain.writes).toEqual([]);

    await runTenant(emu, flags('Made SendAs', 'send-as'));
    const saAgain = await runTenant(emu, flags('Made SendAs'), 'plan');
    expect(saAgain.result.mailboxAccess).toEqual({
      mode: 'send-as',
      reason: "the app's service principal holds SendAs on 1 mailbox: it was made with send-as",
    });
    expect(saAgain.result.pending).toBe(0);
  });

  it('a mode given by the configuration wins over the one the app was made with (and plans the migration)', async () => {
    const plan = await runTenant(emu, flags('Made FullAccess', 'rbac'), 'plan');
    expect(plan.result.mailboxAccess?.mode).toBe('rbac');
    expect(reportOf(plan.result, 'exchange.roleAssignment')?.action).toBe('create');
    expect(
      reportOf(plan.result, 'exchange.previousAccess')
        ?.changes.map((c) => c.op)
        .sort(),
    ).toEqual(['removePermission', 'revokeConsent', 'revokeFullAccess']);
  });
});

describe('chooseAccessMode (pure)', () => {
  const app = (access: AppState['app'] extends infer A ? A : never = undefined): AppState => ({
    appId: '11111111-1111-4111-8111-111111111111',
    external: false,
    ...(access ? { app: access } : {}),
  });
  const registration = (requiredResourceAccess: unknown[]) =>
    ({
      id: 'x',
      appId: '11111111-1111-4111-8111-111111111111',
      displayName: 'x',
      uniqueName: 'x',
      signInAudience: 'AzureADMyOrg',
      requiredResourceAccess,
      passwordCredentials: [],
      keyCredentials: [],
    }) as NonNullable<AppState['app']>;
  const mbx = { identity: 'ap', address: 'ap@contoso.com', names: ['ap', 'ap@contoso.com'] };

  it('rbac for no app; rbac when the role assignment is there, even beside FullAccess (an unfinished migration)', () => {
    expect(chooseAccessMode(undefined, EMPTY_INVENTORY).mode).toBe('rbac');
    const both = chooseAccessMode(app(), {
      ...EMPTY_INVENTORY,
      fullAccess: [mbx],
      roleAssignments: [{ Name: 'x-smtp-sendasapp', Role: 'Application SMTP.SendAsApp', CustomResourceScope: 's' }],
    });
    expect(both).toEqual({ mode: 'rbac', reason: expect.stringMatching(/did not finish/) });
  });

  it('full-access for an app that asks for SMTP.SendAsApp but holds nothing yet; rbac for one that asks nothing', () => {
    const asks = registration([{ resourceAppId: EXO, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] }]);
    expect(chooseAccessMode(app(asks), EMPTY_INVENTORY).mode).toBe('full-access');
    expect(chooseAccessMode(app(registration([])), EMPTY_INVENTORY).mode).toBe('rbac');
  });
});
