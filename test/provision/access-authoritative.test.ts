/**
 * Mailbox access is authoritative for our own app: a mailbox dropped from the configuration loses the app's grant
 * (FullAccess, SendAs; in rbac mode the scope is narrowed and an assignment of the app over another scope goes),
 * `plan` shows it as a removal and `status --detailed-exitcode` as drift (exit 4), while every grant another
 * principal holds — on the same mailboxes — stays. Checked in the emulator's own state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { TenantRecord } from '../../src/emulator/state.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { runCli } from '../helpers/cli.js';
import { CONTOSO, tempDir } from '../helpers/e2e.js';
import { reportOf, runTenant } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;
const IT = `it@${CONTOSO}`;

function tenant(emu: TestEmulator): TenantRecord {
  return emu.store.findTenant(CONTOSO)!;
}

function userIdOf(emu: TestEmulator, address: string): string {
  return tenant(emu).users.find((u) => u.entity.mail === address)!.entity.id;
}

function exchangeSpOf(emu: TestEmulator, appId: string): string {
  return tenant(emu).exchange.servicePrincipals.find((s) => s.AppId === appId)!.ObjectId;
}

/** Who holds which right on which mailbox, as the emulator stores it: `right mailbox trustee`. */
function grants(emu: TestEmulator): string[] {
  const t = tenant(emu);
  const mail = (id: string): string => t.users.find((u) => u.entity.id === id)?.entity.mail ?? id;
  const who = (x: { kind: string; id: string }): string => (x.kind === 'user' ? mail(x.id) : `sp:${x.id}`);
  return [
    ...t.exchange.mailboxPermissions.flatMap((p) =>
      p.accessRights.map((r) => `${r} ${mail(p.mailboxUserId)} ${who(p.trustee)}`),
    ),
    ...t.exchange.recipientPermissions.map((p) => `SendAs ${mail(p.mailboxUserId)} ${who(p.trustee)}`),
  ].sort();
}

/** A person's own grants on a mailbox: FullAccess and SendAs for `it@` (a helpdesk account). */
function grantByHand(emu: TestEmulator, mailbox: string, trustee: { kind: 'user' | 'servicePrincipal'; id: string }) {
  const t = tenant(emu);
  t.exchange.mailboxPermissions.push({
    mailboxUserId: userIdOf(emu, mailbox),
    trustee,
    accessRights: ['FullAccess'],
    inheritanceType: 'All',
    autoMapping: false,
    grantedAtMs: 0,
  });
  t.exchange.recipientPermissions.push({
    mailboxUserId: userIdOf(emu, mailbox),
    trustee,
    accessRights: ['SendAs'],
    grantedAtMs: 0,
  });
  emu.store.changed();
}

describe('authoritative mailbox access (full-access)', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-access-');
  });
  afterAll(async () => emu?.close());

  it('removes the FullAccess (and a SendAs) of a dropped mailbox; another principal keeps its grants on it', async () => {
    const flags = (mailboxes: string[]) => ({
      tenant: CONTOSO,
      mailbox: mailboxes,
      appName: 'Authoritative FA',
      mailboxAccess: 'full-access',
      secretOut: path.join(dir, 'fa.json'),
    });
    const first = await runTenant(emu, flags([SCANNER, AP]));
    expect(first.result.outcome).toBe('ok');
    expect(first.result.mailboxAccess?.mode).toBe('full-access');
    const sp = exchangeSpOf(emu, first.result.application.appId!);
    const helpdesk = { kind: 'user' as const, id: userIdOf(emu, IT) };
    grantByHand(emu, AP, helpdesk);
    grantByHand(emu, SCANNER, helpdesk);
    // A SendAs of our app left over on ap (say, from a send-as setup before).
    tenant(emu).exchange.recipientPermissions.push({
      mailboxUserId: userIdOf(emu, AP),
      trustee: { kind: 'servicePrincipal', id: sp },
      accessRights: ['SendAs'],
      grantedAtMs: 0,
    });
    const before = grants(emu);
    expect(before).toContain(`FullAccess ${AP} sp:${sp}`);

    // ap leaves the configuration: the plan shows both grants of the app on it as removals, and writes nothing.
    const plan = await runTenant(emu, flags([SCANNER]), 'plan');
    expect(plan.result.outcome).toBe('changes-pending');
    const stale = reportOf(plan.result, 'exchange.staleGrants');
    expect(stale?.changes.map((c) => [c.op, c.action, c.what])).toEqual([
      ['revokeFullAccess', 'delete', `remove FullAccess on ${AP} (not in the configuration)`],
      ['revokeSendAs', 'delete', `remove SendAs on ${AP} (not in the configuration)`],
    ]);
    expect(plan.writes).toEqual([]);

    // status --detailed-exitcode: the left-over grant is drift (exit 4).
    const status = await runCli([
      'status',
      '--endpoints',
      emu.endpointsFile,
      '--tenant',
      CONTOSO,
      '--mailbox',
      SCANNER,
      '--app-name',
      'Authoritative FA',
      '--mailbox-access',
      'full-access',
      '--secret-out',
      path.join(dir, 'fa.json'),
      '--detailed-exitcode',
      '--output',
      'json',
    ]);
    expect(status.code, status.stderr).toBe(4);
    expect(status.json<{ drift: string[] }>().drift).toEqual(['exchange.staleGrants']);

    const applied = await runTenant(emu, flags([SCANNER]));
    expect(applied.result.outcome).toBe('ok');
    expect(applied.writes.map((w) => w.cmdlet).sort()).toEqual([
      'Remove-MailboxPermission',
      'Remove-RecipientPermission',
    ]);
    // Exactly the app's two grants on ap are gone; the helpdesk's on ap and scanner, and the app's on scanner, stay.
    expect(grants(emu)).toEqual(
      before.filter((g) => g !== `FullAccess ${AP} sp:${sp}` && g !== `SendAs ${AP} sp:${sp}`),
    );
    expect(grants(emu)).toEqual(
      expect.arrayContaining([
        `FullAccess ${AP} ${IT}`,
        `SendAs ${AP} ${IT}`,
        `FullAccess ${SCANNER} sp:${sp}`,
        `FullAccess ${SCANNER} ${IT}`,
      ]),
    );

    const again = await runTenant(emu, flags([SCANNER]), 'plan');
    expect(again.result.pending).toBe(0);
    expect(again.writes).toEqual([]);
  });

  it('send-as: a dropped mailbox loses its SendAs through Remove-RecipientPermission, the others stay', async () => {
    const flags = (mailboxes: string[]) => ({
      tenant: CONTOSO,
      mailbox: mailboxes,
      appName: 'Authoritative SendAs',
      mailboxAccess: 'send-as',
      secretOut: path.join(dir, 'sa.json'),
    });
    const first = await runTenant(emu, flags([SCANNER, AP]));
    expect(first.result.outcome).toBe('ok');
    const sp = exchangeSpOf(emu, first.result.application.appId!);
    expect(grants(emu)).toEqual(expect.arrayContaining([`SendAs ${AP} sp:${sp}`, `SendAs ${SCANNER} sp:${sp}`]));
    const others = grants(emu).filter((g) => !g.endsWith(`sp:${sp}`));

    const applied = await runTenant(emu, flags([SCANNER]));
    expect(applied.result.outcome).toBe('ok');
    expect(reportOf(applied.result, 'exchange.staleGrants')?.status).toBe('deleted');
    expect(grants(emu).filter((g) => g.endsWith(`sp:${sp}`))).toEqual([`SendAs ${SCANNER} sp:${sp}`]);
    expect(grants(emu).filter((g) => !g.endsWith(`sp:${sp}`))).toEqual(others);
  });
});

describe('authoritative mailbox access (rbac)', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-access-rbac-');
  });
  afterAll(async () => emu?.close());

  it("narrows the scope, removes the app's assignment over another scope and its FullAccess elsewhere; others keep theirs", async () => {
    const flags = (mailboxes: string[]) => ({
      tenant: CONTOSO,
      mailbox: mailboxes,
      appName: 'Authoritative RBAC',
      mailboxAccess: 'rbac',
      secretOut: path.join(dir, 'rbac.json'),
    });
    const first = await runTenant(emu, flags([SCANNER, AP]));
    expect(first.result.outcome).toBe('ok');
    const appId = first.result.application.appId!;
    const sp = exchangeSpOf(emu, appId);
    const t = tenant(emu);
    // By hand: a second assignment of the app over the whole organization, FullAccess of the app on it@, and
    // another app's assignment over our scope.
    t.exchange.managementRoleAssignments.push(
      {
        Name: 'by-hand-org-wide',
        Role: 'Application SMTP.SendAsApp',
        App: appId,
        CustomResourceScope: null,
        Identity: 'by-hand-org-wide',
        createdAtMs: 0,
      },
      {
        Name: 'other-app-assignment',
        Role: 'Application SMTP.SendAsApp',
        App: '99999999-9999-4999-8999-999999999999',
        CustomResourceScope: null,
        Identity: 'other-app-assignment',
        createdAtMs: 0,
      },
    );
    grantByHand(emu, IT, { kind: 'servicePrincipal', id: sp });
    grantByHand(emu, IT, { kind: 'user', id: userIdOf(emu, AP) });
    emu.store.changed();

    const plan = await runTenant(emu, flags([SCANNER]), 'plan');
    const scope = reportOf(plan.result, 'exchange.managementScope');
    expect(scope?.changes.map((c) => c.op)).toEqual(['setFilter']);
    expect(reportOf(plan.result, 'exchange.staleGrants')?.changes.map((c) => [c.op, c.what])).toEqual([
      ['revokeFullAccess', `remove FullAccess on ${IT} (not in the configuration)`],
      ['revokeSendAs', `remove SendAs on ${IT} (not in the configuration)`],
      [
        'removeRoleAssignment',
        "remove the role assignment by-hand-org-wide (scope the whole organization, not the app's own)",
      ],
    ]);

    const applied = await runTenant(emu, flags([SCANNER]));
    expect(applied.result.outcome).toBe('ok');
    const ours = t.exchange.managementScopes.find((s) => s.Name.toLowerCase().includes('authoritative-rbac'))!;
    expect(ours.RecipientRestrictionFilter).toBe(`PrimarySmtpAddress -eq '${SCANNER}'`);
    const names = t.exchange.managementRoleAssignments.map((a) => a.Name);
    expect(names).toHaveLength(2);
    expect(names).toEqual(expect.arrayContaining(['other-app-assignment', expect.stringMatching(/smtp-sendasapp$/)]));
    expect(grants(emu).filter((g) => g.includes(`sp:${sp}`))).toEqual([]);
    expect(grants(emu)).toEqual(expect.arrayContaining([`FullAccess ${IT} ${AP}`, `SendAs ${IT} ${AP}`]));

    const again = await runTenant(emu, flags([SCANNER]), 'plan');
    expect(again.result.pending).toBe(0);
  });
});
