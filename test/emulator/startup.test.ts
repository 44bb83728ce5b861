import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

describe('emulator start-up', () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu.close());

  it('writes endpoints.json with the documented shape and the default world', () => {
    const file = JSON.parse(readFileSync(path.join(emu.stateDir, 'endpoints.json'), 'utf8'));
    expect(file).toEqual(emu.endpoints);
    expect(file.cloud).toBe('emulator');
    expect(file.graphBaseUrl).toBe(`${file.authorityHost}/v1.0`);
    expect(file.exchangeAdminUrl).toBe(`${file.authorityHost}/adminapi/beta`);
    expect(existsSync(file.caFile)).toBe(true);
    expect(file.tenants.map((t: { domain: string }) => t.domain)).toEqual([
      'contoso.onmicrosoft.com',
      'fabrikam.onmicrosoft.com',
    ]);
    expect(file.tenants[0].mailboxes).toContain('scanner@contoso.onmicrosoft.com');
    expect(file.operator.clientSecret.length).toBeGreaterThanOrEqual(16);
  });

  it('names the SMTP host as 127.0.0.1 (no DNS lookup of localhost) and the CA file by an absolute path', async () => {
    expect(emu.endpoints.smtp.host).toBe('127.0.0.1');
    expect(path.isAbsolute(emu.endpoints.caFile)).toBe(true);
    // Even when the state directory was given relative to the working directory.
    const rel = path.relative(process.cwd(), path.join(mkdtempSync(path.join(tmpdir(), 'emu-rel-')), 'state'));
    const other = await startTestEmulator({ stateDir: rel });
    try {
      expect(path.isAbsolute(other.endpoints.caFile)).toBe(true);
      expect(other.endpoints.caFile).toBe(path.resolve(rel, 'ca.pem'));
      const written = JSON.parse(readFileSync(other.endpointsFile, 'utf8'));
      expect(written.caFile).toBe(other.endpoints.caFile);
    } finally {
      await other.close();
    }
  });

  it('guards the control endpoint with the operator secret', async () => {
    const denied = await emu.request('/_emulator/knobs');
    expect(denied.status).toBe(401);
    const knobs = await emu.control.knobs();
    expect(knobs.replicationDelayMs).toBe(0);
  });

  it('dumps tenant state without secret material', async () => {
    const t = await emu.control.tenant('contoso.onmicrosoft.com');
    expect(t.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
    expect(t.groups[0].displayName).toBe('smtp-senders');
    expect(JSON.stringify(t)).not.toContain(emu.endpoints.operator.clientSecret);
  });
});
