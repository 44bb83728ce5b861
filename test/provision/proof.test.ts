/**
 * The XOAUTH2 proof's outcomes, in process: a tenant policy that refuses SMTP AUTH (535 5.7.139) fails at once
 * ('failed', exit 1: waiting cannot fix it); a permission cache that outlasts --wait ends as 'proof-not-passed'
 * (exit 3) with verification.timedOut — after using the whole of --wait, not giving up while time is left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, noteCodes, tempDir } from '../helpers/e2e.js';
import { runTenant, type RunFlags } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;

describe('proof outcomes', () => {
  let emu: TestEmulator;
  let dir: string;
  const flags = (appName: string, extra: RunFlags = {}): RunFlags => ({
    tenant: CONTOSO,
    mailbox: [SCANNER],
    appName,
    secretOut: path.join(dir, `${appName.replace(/\W+/g, '-')}.json`),
    enableSmtpAuth: 'mailbox',
    ...extra,
  });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-proof-');
  });
  afterAll(async () => emu?.close());

  it('SMTP AUTH left disabled (535 5.7.139): failed, not timed out, tried once, with the note', async () => {
    const r = await runTenant(emu, flags('Policy Refused', { enableSmtpAuth: 'none', wait: '30s' }), 'prove');
    expect(r.result.outcome).toBe('failed');
    expect(r.result.verification).toMatchObject({ status: 'failed', timedOut: false, attempts: 1 });
    expect(r.result.verification!.reply).toMatch(/535 5\.7\.139/);
    expect(noteCodes(r.result)).toContain('smtp-auth-disabled');
    expect(r.progress.join('\n')).not.toMatch(/retrying/);
  });

  describe('a permission cache that outlasts --wait', () => {
    beforeAll(async () => {
      await emu.control.setKnobs({ permissionCacheSeconds: 600 });
    });
    afterAll(async () => {
      await emu.control.setKnobs({ permissionCacheSeconds: 0 });
    });

    it("proof-not-passed with timedOut: 535 5.7.3 retried while --wait lasted (the endpoints file's pacing)", async () => {
      const r = await runTenant(emu, flags('Cache Outlasts', { wait: '4s' }), 'prove');
      expect(r.result.outcome).toBe('proof-not-passed');
      expect(r.result.verification).toMatchObject({ status: 'failed', timedOut: true });
      expect(r.result.verification!.reply).toMatch(/535 5\.7\.3/);
      expect(r.result.verification!.attempts).toBeGreaterThanOrEqual(2);
      expect(r.progress.join('\n')).toMatch(/not yet: .*535 5\.7\.3.*retrying in/);
    });

    // Issue 8: "a 12 s wait gives up at 6.5 s" — the last pause is cut to what is left of --wait.
    it('with a first retry (5 s) longer than --wait (3 s): it still tries again at the deadline', async () => {
      const r = await runTenant(emu, flags('Short Wait', { wait: '3s' }), 'prove', {
        hooks: { proofRetryBaseMs: 5000 },
      });
      expect(r.result.outcome).toBe('proof-not-passed');
      expect(r.result.verification!.attempts).toBeGreaterThanOrEqual(2);
    });
  });
});
