/**
 * End to end, the default world: SMTP AUTH is disabled for the organization (TransportConfig
 * SmtpClientAuthenticationDisabled = True, as for every tenant created after January 2020) and the mailboxes
 * inherit it. --enable-smtp-auth decides what apply may change: nothing, the sending mailboxes, or the organization.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs } from '../helpers/cli.js';
import { CONTOSO, FABRIKAM, Runs, expectNoLeaks, noteCodes, noteOf, sinkSecrets, tempDir } from '../helpers/e2e.js';

function casSettings(t: any): Record<string, boolean | null> {
  return Object.fromEntries(
    t.users.filter((u: any) => u.mailbox).map((u: any) => [u.mail, u.mailbox.smtpClientAuthenticationDisabled]),
  );
}

describe('SMTP AUTH disabled for the organization (the default world)', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const secretFile = (tenant: string): string => path.join(dir, `${tenant}.json`);
  const args = (tenant: string, mode: string): string[] =>
    applyArgs({
      endpoints: emu.endpointsFile,
      tenant,
      mailboxes: [`scanner@${tenant}`, `ap@${tenant}`],
      appName: 'Scanner SMTP',
      enableSmtpAuth: mode,
      secretOut: secretFile(tenant),
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-smtpauth-');
  });
  afterAll(async () => emu?.close());

  it('the world starts with the organization disabled and every mailbox inheriting it', async () => {
    for (const tenant of [CONTOSO, FABRIKAM]) {
      const t = await emu.control.tenant(tenant);
      expect(t.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
      expect(Object.values(casSettings(t)).every((v) => v === null)).toBe(true);
    }
  });

  it('--enable-smtp-auth none: exit 1 (a policy, not propagation) with the 535 5.7.139 reply and a Fix naming --enable-smtp-auth', async () => {
    const r = await runs.run(args(CONTOSO, 'none'));
    // Exit 3 is only for a proof that ran out of --wait while propagating; a refusal by policy is a failure.
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(
      '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.',
    );
    expect(r.stderr).toMatch(/Fix: .*--enable-smtp-auth mailbox/);
    // Policy, not propagation: answered at once, not retried until --wait ran out.
    expect(r.stderr).not.toMatch(/retrying/);
    const out = r.json<Record<string, any>>();
    expect(out.outcome).toBe('failed');
    expect(out.verification.status).toBe('failed');
    expect(out.verification.timedOut).toBeFalsy();
    expect(out.verification.reply).toMatch(/5\.7\.139/);
    expect(noteCodes(out)).toContain('smtp-auth-disabled');
    expect(noteOf(out, 'smtp-auth-disabled')).toMatchObject({
      severity: 'warning',
      text: expect.stringMatching(/SMTP AUTH is disabled for .*--enable-smtp-auth mailbox/),
    });
    // Report only: nothing about SMTP AUTH changed.
    const t = await emu.control.tenant(CONTOSO);
    expect(t.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
    expect(Object.values(casSettings(t)).every((v) => v === null)).toBe(true);
    const writes = (await emu.control.log()).filter((e) => e.write && e.service === 'exchange');
    expect(writes.map((w) => w.cmdlet)).not.toContain('Set-CASMailbox');
    expect(writes.map((w) => w.cmdlet)).not.toContain('Set-TransportConfig');
  });

  it('--enable-smtp-auth mailbox: passes, and only the two sending mailboxes were enabled', async () => {
    await emu.control.clearLog();
    const r = await runs.run(args(CONTOSO, 'mailbox'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Record<string, any>>().verification.status).toBe('passed');
    const t = await emu.control.tenant(CONTOSO);
    expect(t.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
    expect(casSettings(t)).toEqual({
      [`scanner@${CONTOSO}`]: false,
      [`ap@${CONTOSO}`]: false,
      [`it@${CONTOSO}`]: null,
      [`admin@${CONTOSO}`]: null,
    });
    const writes = (await emu.control.log()).filter((e) => e.write && e.service === 'exchange');
    expect(writes.map((w) => w.cmdlet).sort()).toEqual(['Set-CASMailbox', 'Set-CASMailbox']);
  });

  it('--enable-smtp-auth org: passes, and the organization (TransportConfig) was enabled, no mailbox touched', async () => {
    await emu.control.clearLog();
    const r = await runs.run(args(FABRIKAM, 'org'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Record<string, any>>().verification.status).toBe('passed');
    const t = await emu.control.tenant(FABRIKAM);
    expect(t.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(false);
    expect(Object.values(casSettings(t)).every((v) => v === null)).toBe(true);
    const cmdlets = (await emu.control.log()).filter((e) => e.write && e.service === 'exchange').map((w) => w.cmdlet);
    expect(cmdlets).toContain('Set-TransportConfig');
    expect(cmdlets).not.toContain('Set-CASMailbox');
    // The other tenant's organization setting stays as it was.
    expect((await emu.control.tenant(CONTOSO)).exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
  });

  it('never prints a secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, [...sinkSecrets(secretFile(CONTOSO)), ...sinkSecrets(secretFile(FABRIKAM))]);
  });
});
