/**
 * End to end, the operator's own credential and permissions: a wrong operator secret names the AADSTS cause and
 * the fix; an operator without Application.ReadWrite.All gets a 403 that names the missing Graph permission.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs } from '../helpers/cli.js';
import { CONTOSO, FABRIKAM, Runs, expectNoLeaks, readJson, setOperatorRoles, tempDir } from '../helpers/e2e.js';

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

  it('an operator without Application.ReadWrite.All: exit 1 naming the missing Graph permission', async () => {
    setOperatorRoles(emu, FABRIKAM, [
      'Application.Read.All',
      'AppRoleAssignment.ReadWrite.All',
      'Exchange.ManageAsApp',
    ]);
    const r = await runs.run(args(emu.endpointsFile, FABRIKAM));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/403 Authorization_RequestDenied/);
    expect(r.stderr).toMatch(/Fix: grant the operator Application\.ReadWrite\.All/);
    const t = await emu.control.tenant(FABRIKAM);
    expect(
      t.applications.filter((a: { uniqueName: string | null }) => a.uniqueName?.startsWith('sendasapp-op')),
    ).toEqual([]);
  });

  it('never prints a secret or a token (not even the wrong one)', async () => {
    await expectNoLeaks(emu, runs.outputs, [WRONG_SECRET]);
  });
});
