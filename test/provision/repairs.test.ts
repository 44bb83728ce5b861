/**
 * Runs that must repair what a person (or an earlier run) changed, in one run: an enterprise app deleted in Entra
 * (its stale Exchange registration is made again), a mailbox added to an rbac scope (Exchange's authorization test
 * runs after the scope is widened, not before), --new-secret with a certificate (the old key leaves Entra), and a
 * credential file someone made readable by others (made 0600 even when nothing else changes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, readJson, tempDir } from '../helpers/e2e.js';
import { FAST_HOOKS, reportOf, runTenant } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

describe('repairs in one run', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-repairs-');
  });
  afterAll(async () => emu?.close());

  it('an enterprise app deleted in Entra: the rerun makes it again, re-registers Exchange with it, and proves', async () => {
    const flags = {
      tenant: CONTOSO,
      mailbox: [SCANNER],
      appName: 'Deleted SP',
      secretOut: path.join(dir, 'deleted-sp.json'),
      enableSmtpAuth: 'mailbox',
      wait: '1m',
    };
    const first = await runTenant(emu, flags, 'prove', { hooks: FAST_HOOKS });
    expect(first.result.outcome).toBe('ok');
    const t = emu.store.findTenant(CONTOSO)!;
    t.servicePrincipals = t.servicePrincipals.filter((s) => s.entity.appId !== first.result.application.appId);
    const again = await runTenant(emu, flags, 'prove', { hooks: FAST_HOOKS });
    expect(again.result.outcome, JSON.stringify(again.result.failure)).toBe('ok');
    expect(reportOf(again.result, 'exchange.servicePrincipal')?.status).toBe('updated');
    const newSp = again.result.servicePrincipal.id!;
    expect(newSp).not.toBe(first.result.servicePrincipal.id);
    const rows = t.exchange.servicePrincipals.filter((s) => s.AppId === first.result.application.appId);
    expect(rows.map((s) => s.ObjectId)).toEqual([newSp]);
    expect(again.result.verification?.status).toBe('passed');
  });

  it('rbac with listed mailboxes: adding a mailbox widens the scope, then Exchange confirms both are in it', async () => {
    const flags = (mailbox: string[]) => ({
      tenant: CONTOSO,
      mailbox,
      appName: 'RBAC Grows',
      mailboxAccess: 'rbac',
      secretOut: path.join(dir, 'rbac-grows.json'),
      enableSmtpAuth: 'mailbox',
    });
    expect((await runTenant(emu, flags([SCANNER]), 'prove', { hooks: FAST_HOOKS })).result.outcome).toBe('ok');
    const plan = await runTenant(emu, flags([SCANNER, AP]), 'plan');
    expect(plan.result.failure).toBeUndefined();
    expect(reportOf(plan.result, 'exchange.managementScope')?.changes[0]?.op).toBe('setFilter');
    expect(reportOf(plan.result, 'check.exchangeAuthorization')?.status).toBe('pending');
    const grown = await runTenant(emu, flags([SCANNER, AP]), 'prove', { hooks: FAST_HOOKS });
    expect(grown.result.outcome, JSON.stringify(grown.result.failure)).toBe('ok');
    expect(reportOf(grown.result, 'check.exchangeAuthorization')?.status).toBe('passed');
    expect(grown.result.verification?.mailboxes.map((m) => m.status)).toEqual(['passed', 'passed']);
  });

  it('--new-secret with a self-signed certificate: the new key is in the sink and the old one leaves Entra', async () => {
    const flags = {
      tenant: CONTOSO,
      mailbox: [SCANNER],
      appName: 'Cert Rotate',
      credential: 'certificate',
      secretOut: path.join(dir, 'cert.json'),
      enableSmtpAuth: 'mailbox',
    };
    const first = await runTenant(emu, flags);
    const old = first.result.credential!.keyId!;
    const replaced = await runTenant(emu, { ...flags, newSecret: true });
    expect(replaced.result.outcome, JSON.stringify(replaced.result.failure)).toBe('ok');
    const app = emu.store.world.applications.find((a) => a.entity.appId === first.result.application.appId)!;
    const keys = (app.entity.keyCredentials as Array<{ keyId: string }>).map((k) => k.keyId);
    const held = readJson(flags.secretOut).credential.keyId;
    expect(held).not.toBe(old);
    expect(keys).toEqual([held]);
    expect(readJson(flags.secretOut).previous).toBeUndefined();
  });

  it('a credential file readable by others is made 0600 by apply even when nothing else changes', async () => {
    const flags = {
      tenant: CONTOSO,
      mailbox: [SCANNER],
      appName: 'Loose Sink',
      secretOut: path.join(dir, 'loose.json'),
      enableSmtpAuth: 'mailbox',
    };
    expect((await runTenant(emu, flags)).result.outcome).toBe('ok');
    chmodSync(flags.secretOut, 0o644);
    const plan = await runTenant(emu, flags, 'plan');
    expect(reportOf(plan.result, 'sink.mode')?.changes[0]?.what).toMatch(/0644 → 0600/);
    expect(statSync(flags.secretOut).mode & 0o777).toBe(0o644);
    const applied = await runTenant(emu, flags);
    expect(applied.result.outcome).toBe('ok');
    expect(statSync(flags.secretOut).mode & 0o777).toBe(0o600);
    expect(applied.writes).toEqual([]);
  });
});
