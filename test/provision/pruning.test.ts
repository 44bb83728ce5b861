/**
 * Pruning: a credential sendasapp made (recognised by its display name) that has ended is removed by apply; a
 * person's own credential is never touched, ended or not, and neither is the one the sink holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, tempDir } from '../helpers/e2e.js';
import { reportOf, runTenant } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;

describe('pruning ended credentials of ours', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-prune-');
  });
  afterAll(async () => emu?.close());

  it('removes an ended sendasapp secret, keeps an ended hand-made one and the live one in the sink', async () => {
    const flags = {
      tenant: CONTOSO,
      mailbox: [SCANNER],
      appName: 'Prune Me',
      secretOut: path.join(dir, 'secret.json'),
      enableSmtpAuth: 'mailbox',
    };
    const first = await runTenant(emu, flags);
    expect(first.result.outcome).toBe('ok');
    const app = emu.store.world.applications.find((a) => a.entity.appId === first.result.application.appId)!;
    const ended = (displayName: string, keyId: string) => ({
      customKeyIdentifier: null,
      displayName,
      endDateTime: '2025-01-01T00:00:00Z',
      hint: 'abc',
      keyId,
      secretText: null,
      startDateTime: '2024-01-01T00:00:00Z',
    });
    const ours = '11111111-aaaa-4aaa-8aaa-111111111111';
    const theirs = '22222222-bbbb-4bbb-8bbb-222222222222';
    (app.entity.passwordCredentials as unknown[]).push(
      ended('sendasapp 2024-01-01 0badc0de', ours),
      ended('made by hand in the portal', theirs),
    );
    const held = first.result.credential!.keyId!;

    const plan = await runTenant(emu, flags, 'plan');
    const cred = reportOf(plan.result, 'entra.credential');
    expect(cred?.status).toBe('pending');
    expect(cred?.changes.map((c) => [c.op, c.action])).toEqual([['removeExpired', 'delete']]);
    expect(cred?.changes[0]?.what).toMatch(/ended 2025-01-01/);
    expect(plan.writes).toEqual([]);

    const applied = await runTenant(emu, flags);
    expect(applied.result.outcome).toBe('ok');
    const keys = (app.entity.passwordCredentials as Array<{ keyId: string }>).map((c) => c.keyId);
    expect(keys).toContain(theirs);
    expect(keys).toContain(held);
    expect(keys).not.toContain(ours);
    // One removal, nothing else written.
    expect(applied.writes.map((w) => w.path)).toEqual([expect.stringMatching(/removePassword$/)]);

    const again = await runTenant(emu, flags, 'plan');
    expect(again.result.pending).toBe(0);
  });
});
