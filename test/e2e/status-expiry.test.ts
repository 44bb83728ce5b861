/**
 * status reports each credential's end: one inside --expiry-warning (default 30d) is a finding — exit 4 with
 * --detailed-exitcode, listed in the JSON result under `expiring` — and one outside it is not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, applyOptions, runCli } from '../helpers/cli.js';
import { CONTOSO, expectPassed, mailbox, tempDir } from '../helpers/e2e.js';

describe('status: credential expiry', () => {
  let emu: TestEmulator;
  let o: Parameters<typeof applyArgs>[0];
  beforeAll(async () => {
    emu = await startTestEmulator();
    const dir = tempDir('sendasapp-expiry-');
    o = {
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [mailbox('scanner', CONTOSO)],
      appName: 'Expiry Watch',
      secretOut: path.join(dir, 'secret.json'),
    };
    // A 20-day secret: inside the default 30-day window, outside a 10-day one.
    expectPassed(await runCli(applyArgs(o, '--secret-lifetime', '20d')));
  });
  afterAll(async () => emu.close());

  const status = (json: boolean, ...extra: string[]) =>
    runCli([
      'status',
      ...applyOptions({ ...o, yes: false, json }, '--secret-lifetime', '20d', '--detailed-exitcode', ...extra),
    ]);

  it('a secret ending within the default 30 days is a finding: exit 4, listed as expiring', async () => {
    const r = await status(true);
    expect(r.code, r.stderr).toBe(4);
    const out = r.json<any>();
    expect(out.drift).toEqual([]);
    expect(out.expiring).toHaveLength(1);
    expect(out.credentials[0]).toMatchObject({ type: 'secret', warning: true });
    expect(out.credentials[0].daysLeft).toBeGreaterThanOrEqual(18);
  });

  it('outside a shorter --expiry-warning it is not: exit 0, and the text names the days left', async () => {
    const r = await status(false, '--expiry-warning', '10d');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/secret [0-9a-f-]{36} "sendasapp [^"]+": (19|20) days left/);
    expect(r.stdout).toMatch(/Everything is as configured\./);
    expect(r.stdout).not.toMatch(/within --expiry-warning/);
  });

  it('a bad --expiry-warning is bad input (exit 2, the field named)', async () => {
    const r = await status(true, '--expiry-warning', 'soon');
    expect(r.code).toBe(2);
    expect(r.json<any>().error.field).toBe('--expiry-warning');
  });
});
