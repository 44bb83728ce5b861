/**
 * Adopting an app id that names no installable app ends at once with a sentence, instead of waiting for a
 * replication that will never come.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { runCli } from '../helpers/cli.js';

describe('--app-id of an app that does not exist', () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu.close());

  it('exits 1 naming --app-id without waiting for a replication, and creates nothing', async () => {
    const r = await runCli([
      'apply',
      '--endpoints',
      emu.endpointsFile,
      '--tenant',
      'contoso.onmicrosoft.com',
      '--mailbox',
      'scanner@contoso.onmicrosoft.com',
      '--app-id',
      '11111111-2222-3333-4444-555555555555',
      '--yes',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--app-id');
    expect(r.stderr).toContain('multitenant');
    // It did not wait for a lag that cannot end (the replication wait would say so, and outlast the test's timeout).
    expect(r.stderr).not.toMatch(/retrying|waiting/i);
    const t = await emu.control.tenant('contoso.onmicrosoft.com');
    expect(t.servicePrincipals.some((s: { appId: string }) => s.appId === '11111111-2222-3333-4444-555555555555')).toBe(
      false,
    );
    expect(t.exchange.servicePrincipals).toEqual([]);
  });
});
