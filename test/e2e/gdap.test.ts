/**
 * GDAP through the CLI, as a consultant runs it: `apply --partner-tenant … --tenant <customer> --auth device-code
 * --token-cache FILE` signs the partner's admin agent in once and provisions the customer (proof included); `status`
 * afterwards reads the customer with the cached sign-in (no second device code) and finds everything in place. Nothing
 * is written in the partner tenant, and no output carries a token or the secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { expectNoLeaks, readJson, Runs, sinkSecrets, tempDir } from '../helpers/e2e.js';
import { AGENT, CUSTOMER, GDAP_SEED, PARTNER } from '../helpers/gdap.js';

describe('GDAP from the command line', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  beforeAll(async () => {
    emu = await startTestEmulator({ seed: GDAP_SEED });
    dir = tempDir('sendasapp-e2e-gdap-');
  });
  afterAll(async () => emu?.close());

  const args = (command: string): string[] => [
    command,
    '--endpoints',
    emu.endpointsFile,
    '--partner-tenant',
    PARTNER,
    '--tenant',
    CUSTOMER,
    '--auth',
    'device-code',
    '--token-cache',
    path.join(dir, 'cache.json'),
    '--app-name',
    'GDAP CLI sender',
    '--mailbox',
    `ap@${CUSTOMER}`,
    '--secret-out',
    path.join(dir, 'secret.json'),
    '--enable-smtp-auth',
    'mailbox',
    '--exchange',
    'rest',
    '--wait',
    '2m',
    '--output',
    'json',
  ];

  it('apply provisions the customer as the agent; status reuses the sign-in', async () => {
    const approve = (async () => {
      for (let i = 0; i < 150; i++) {
        const pending = await emu.control.pendingDeviceCodes();
        if (pending[0]) return emu.control.approveDeviceCode(pending[0].userCode, AGENT);
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('no device code was asked for');
    })();
    await emu.control.clearLog();
    const applied = await runs.run(args('apply'), { timeoutMs: 120_000 });
    await approve;
    expect(applied.code, applied.stderr).toBe(0);
    const out = applied.json<{ tenant: string; verification: { status: string } }>();
    expect(out.verification.status).toBe('passed');
    const partnerId = emu.store.findTenant(PARTNER)!.id;
    const customerId = emu.store.findTenant(CUSTOMER)!.id;
    const writes = (await emu.control.log()).filter((e) => e.write && e.service !== 'smtp');
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((e) => e.tenantId === customerId && e.caller === AGENT)).toBe(true);
    expect(writes.some((e) => e.tenantId === partnerId)).toBe(false);
    expect(readJson(path.join(dir, 'secret.json')).tenantId).toBe(customerId);

    await emu.control.clearLog();
    const status = await runs.run(args('status'), { timeoutMs: 60_000 });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).not.toMatch(/enter the code/);
    const tokenLog = await emu.control.log({ service: 'token' });
    expect(tokenLog.filter((e) => /\/devicecode$/.test(e.path))).toEqual([]);
    expect((await emu.control.log()).filter((e) => e.write)).toEqual([]);

    await expectNoLeaks(emu, runs.outputs, sinkSecrets(path.join(dir, 'secret.json')));
  });
});
