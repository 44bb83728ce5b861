/**
 * End to end, the operator's own credential and permissions: a wrong operator secret names the AADSTS cause and
 * the fix; an operator without Application.ReadWrite.All (read from its token's roles by the preflight) is refused
 * with exit 1 before any write, naming the missing Graph permission.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs } from '../helpers/cli.js';
import {
  CONTOSO,
  FABRIKAM,
  Runs,
  appsBesidesOperator,
  expectNoLeaks,
  readJson,
  setOperatorRoles,
  tempDir,
} from '../helpers/e2e.js';

describe('operator credential and permission errors', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const WRONG_SECRET = 'Wr0ng~operator-secret-value-0123456789';
  const args = (endpoints: string, tenant: string): string[] =>
    applyArgs({
      endpoints,
      tenant,
      mailboxes: [`scanner@${tenant}`],
      appName: 'Operator Errors',
      secretOut: path.join(dir, `${tenant}.json`),
      wait: '10s',
      json: false,
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-operator-');
  });
  afterAll(async () => emu?.close());

  it('a wrong operator secret: exit 1 with AADSTS7000215, its cause and a fix about the operator sign-in', async () => {
    const endpoints = readJson(emu.endpointsFile);
    endpoints.operator.clientSecret = WRONG_SECRET;
    const wrong = path.join(dir, 'endpoints-wrong-secret.json');
    writeFileSync(wrong, JSON.stringify(endpoints), { mode: 0o600 });
    await emu.control.clearLog();
    const r = await runs.run(args(wrong, CONTOSO));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/AADSTS7000215/);
    expect(r.stderr).toMatch(/Cause: [^.]*secret is wrong/);
    expect(r.stderr).toMatch(/Fix: [^\n]*operator/);
    expect(r.stderr).not.toContain(WRONG_SECRET);
    // Nothing but sign-in attempts reached the tenant.
    const log = await emu.control.log();
    expect(log.filter((e) => e.write)).toEqual([]);
    expect(log.filter((e) => e.service === 'graph' && e.status < 400)).toEqual([]);
  });

  it('an operator without Application.ReadWrite.All: exit 1 before any write, naming the missing Graph permission', async () => {
    setOperatorRoles(emu, FABRIKAM, [
      'Application.Read.All',
      'AppRoleAssignment.ReadWrite.All',
      'Exchange.ManageAsApp',
    ]);
    await emu.control.clearLog();
    const r = await runs.run(args(emu.endpointsFile, FABRIKAM));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /the operator app [0-9a-f-]{36} lacks Microsoft Graph Application\.ReadWrite\.All or Application\.ReadWrite\.OwnedBy in fabrikam\.onmicrosoft\.com/,
    );
    expect(r.stderr).toMatch(/Fix: grant these application permissions to the operator app/);
    expect(r.stderr).toContain('Nothing was changed.');
    // The preflight read the tenant, and nothing was written.
    const log = await emu.control.log();
    expect(log.some((e) => e.service === 'exchange' || e.service === 'graph')).toBe(true);
    expect(log.filter((e) => e.write)).toEqual([]);
    const t = await emu.control.tenant(FABRIKAM);
    expect(appsBesidesOperator(emu, t)).toEqual([]);
  });

  it('the same with --output json: one object, outcome failed, the error without a field', async () => {
    const r = await runs.run([...args(emu.endpointsFile, FABRIKAM), '--output', 'json']);
    expect(r.code, r.stderr).toBe(1);
    const out = r.json<Record<string, any>>();
    expect(out.outcome).toBe('failed');
    expect(out.changed).toBe(false);
    expect(out.error).toMatchObject({ code: 'failed', message: expect.stringMatching(/Application\.ReadWrite\.All/) });
    expect(out.error.field).toBeUndefined();
    expect(out.preflight.find((p: any) => p.key === 'check.operator').status).toBe('failed');
  });

  it('never prints a secret or a token (not even the wrong one)', async () => {
    await expectNoLeaks(emu, runs.outputs, [WRONG_SECRET]);
  });
});
