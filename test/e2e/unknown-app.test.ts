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

  it('exits 1 quickly naming --app-id, and creates nothing', async () => {
    const started = Date.now();
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
    // Well below the 120 s replication deadline: it did not wait for a lag that cannot end.
    expect(Date.now() - started).toBeLessThan(60_000);
    const t = await emu.control.tenant('contoso.onmicrosoft.com');
    expect(t.servicePrincipals.some((s: { appId: string }) => s.appId === '11111111-2222-3333-4444-555555555555')).toBe(
      false,
    );
    expect(t.exchange.servicePrincipals).toEqual([]);
  });
});
