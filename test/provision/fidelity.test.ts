/**
 * The product against the emulator's stricter Microsoft behaviour (issue 9), in process: Exchange that has not yet
 * seen a new service principal (AADServicePrincipalNotFound for a while), a legacy Exchange registration made with
 * the app registration's object id (repaired), an app name too long for Exchange's 64-character names in rbac
 * mode, and the Web reply URL that an admin consent returns to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, tempDir } from '../helpers/e2e.js';
import { FAST_HOOKS, reportOf, runTenant } from '../helpers/provision.js';
import { uniqueNameFor } from '../../src/entra/application.js';

const SCANNER = `scanner@${CONTOSO}`;

describe('fidelity: what real tenants do, and the product answering it', () => {
  let emu: TestEmulator;
  let dir: string;

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-fidelity-');
  });
  afterAll(async () => {
    await emu?.close();
  });

  it('waits while Exchange has not seen the new service principal, then registers it and proves', async () => {
    await emu.control.setKnobs({ exchangeReplicationDelayMs: 1500 });
    try {
      const r = await runTenant(
        emu,
        {
          tenant: CONTOSO,
          mailbox: [SCANNER],
          appName: 'Replication Wait',
          secretOut: path.join(dir, 'replication.json'),
          enableSmtpAuth: 'mailbox',
          wait: '2m',
        },
        'prove',
        { hooks: FAST_HOOKS },
      );
      expect(r.result.outcome, JSON.stringify(r.result.failure)).toBe('ok');
      expect(r.result.verification?.status).toBe('passed');
      expect(r.progress.some((l) => /AADServicePrincipalNotFound/.test(l))).toBe(true);
      // New-ServicePrincipal was refused at least once, then accepted once.
      const registrations = r.log.filter((e) => e.cmdlet === 'New-ServicePrincipal');
      expect(registrations.length).toBeGreaterThan(1);
      expect(registrations.filter((e) => e.status < 400)).toHaveLength(1);
    } finally {
      await emu.control.setKnobs({ exchangeReplicationDelayMs: null });
    }
  });

  it('repairs an Exchange registration made with the app registration object id', async () => {
    const flags = {
      tenant: CONTOSO,
      mailbox: [SCANNER],
      appName: 'Legacy Registration',
      secretOut: path.join(dir, 'legacy.json'),
      enableSmtpAuth: 'mailbox',
    };
    const first = await runTenant(emu, flags, 'apply', { hooks: FAST_HOOKS });
    expect(first.result.outcome).toBe('ok');
    const app = first.result.application;
    const spId = first.result.servicePrincipal.id!;
    // As an old script would have left it: removed, then registered with the application's object id.
    const tenant = emu.store.findTenant(CONTOSO)!;
    tenant.exchange.servicePrincipals = tenant.exchange.servicePrincipals.filter((s) => s.AppId !== app.appId);
    tenant.exchange.mailboxPermissions = tenant.exchange.mailboxPermissions.filter(
      (p) => (p as { trustee?: { id?: string } }).trustee?.id !== spId,
    );
    await emu.control.seedLegacyExchangeServicePrincipal(CONTOSO, { appId: app.appId!, objectId: app.id! });
    const plan = await runTenant(emu, flags, 'plan', { hooks: FAST_HOOKS });
    const exo = reportOf(plan.result, 'exchange.servicePrincipal');
    expect(exo?.status).toBe('pending');
    expect(exo?.changes[0]?.op).toBe('reregister');
    expect(exo?.changes[0]?.what).toMatch(/app registration's object id/);
    const repaired = await runTenant(emu, flags, 'prove', { hooks: FAST_HOOKS });
    expect(repaired.result.outcome, JSON.stringify(repaired.result.failure)).toBe('ok');
    const rows = emu.store.findTenant(CONTOSO)!.exchange.servicePrincipals.filter((s) => s.AppId === app.appId);
    expect(rows.map((s) => s.ObjectId)).toEqual([spId]);
    // The new registration holds no permission yet: FullAccess is granted to it again.
    expect(repaired.log.filter((e) => e.cmdlet === 'Add-MailboxPermission' && e.status < 400)).toHaveLength(1);
    expect(repaired.result.verification?.status).toBe('passed');
  });

  it('rbac mode with a 120-character app name: Exchange names stay within 64 characters and the proof passes', async () => {
    const name = `Finance department of a long customer name ${'x'.repeat(77)}`;
    expect(name.length).toBe(120);
    const r = await runTenant(
      emu,
      {
        tenant: CONTOSO,
        mailbox: [SCANNER],
        appName: name,
        mailboxAccess: 'rbac',
        secretOut: path.join(dir, 'rbac-long.json'),
        enableSmtpAuth: 'mailbox',
      },
      'prove',
      { hooks: FAST_HOOKS },
    );
    expect(r.result.outcome, JSON.stringify(r.result.failure)).toBe('ok');
    const t = emu.store.findTenant(CONTOSO)!;
    const scope = t.exchange.managementScopes.find((s) => s.Name.startsWith(uniqueNameFor(name).slice(0, 20)));
    expect(scope).toBeDefined();
    expect(scope!.Name.length).toBeLessThanOrEqual(64);
    expect(t.exchange.managementRoleAssignments.every((a) => a.Name.length <= 64)).toBe(true);
    expect(r.result.verification?.status).toBe('passed');
  });

  it('registers a Web reply URL on the app it makes: the one the consent URL returns to', async () => {
    const r = await runTenant(emu, {
      tenant: CONTOSO,
      mailbox: [SCANNER],
      appName: 'Reply URL',
      secretOut: path.join(dir, 'reply.json'),
    });
    expect(r.result.outcome).toBe('ok');
    const app = emu.store.world.applications.find((a) => a.entity.appId === r.result.application.appId)!;
    const uris = (app.entity as { web?: { redirectUris?: string[] } | null }).web?.redirectUris ?? [];
    expect(uris).toEqual([`${emu.endpoints.authorityHost}/common/oauth2/nativeclient`]);
    // It came with the create: the redirect URIs node had nothing to do, and the one PATCH of the app is the
    // provenance record's (its notes), not a separate one of the web URIs.
    expect(reportOf(r.result, 'entra.redirectUris')?.status).toBe('unchanged');
    expect(reportOf(r.result, 'entra.provenance')?.status).toBe('updated');
    expect(r.writes.filter((e) => e.method === 'PATCH' && /\/applications\/[0-9a-f-]{36}$/.test(e.path))).toHaveLength(
      1,
    );
  });
});
