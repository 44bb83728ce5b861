/**
 * End to end, a tenant app-management policy that limits client secrets to 90 days: the preflight reads the policy,
 * so the default lifetime (12mo) is refused before any write (exit 2, naming --secret-lifetime and the limit);
 * a lifetime within the policy passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs } from '../helpers/cli.js';
import {
  CONTOSO,
  Runs,
  appsBesidesOperator,
  expectNoLeaks,
  expectPassed,
  findApp,
  readJson,
  sinkSecrets,
  tempDir,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;

describe('secret lifetime policy (maxSecretLifetimeDays 90)', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const secretFile = (): string => path.join(dir, 'secret.json');
  const args = (...extra: string[]): string[] =>
    applyArgs(
      {
        endpoints: emu.endpointsFile,
        tenant: CONTOSO,
        mailboxes: [SCANNER],
        appName: 'Policy Sender',
        secretOut: secretFile(),
      },
      ...extra,
    );

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-lifetime-');
    await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: 90 });
  });
  afterAll(async () => emu?.close());

  it('the default 12mo is refused by the preflight: exit 2 naming --secret-lifetime and the limit, nothing written', async () => {
    await emu.control.clearLog();
    const r = await runs.run(args());
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      "--secret-lifetime 12mo is longer than the 90 days the tenant's app-management policy allows. Fix: give at most 90d",
    );
    const out = r.json<Record<string, any>>();
    expect(out.outcome).toBe('bad-input');
    expect(out.error).toMatchObject({ code: 'bad-input', field: '--secret-lifetime' });
    expect(out.preflight.find((x: any) => x.key === 'check.secretLifetime').status).toBe('failed');
    expect(out.verification.status).toBe('skipped');
    const log = await emu.control.log();
    expect(log.some((e) => e.service === 'graph' && e.path.endsWith('/policies/defaultAppManagementPolicy'))).toBe(
      true,
    );
    expect(log.filter((e) => e.write)).toEqual([]);
    expect(appsBesidesOperator(emu, await emu.control.tenant(CONTOSO))).toEqual([]);
  });

  it('--secret-lifetime 60d passes, with one secret ending in about 60 days', async () => {
    const r = await runs.run(args('--secret-lifetime', '60d'));
    const out = expectPassed(r);
    const app = findApp(await emu.control.tenant(CONTOSO), out.application.appId);
    expect(app.passwordCredentials).toHaveLength(1);
    const days = (Date.parse(app.passwordCredentials[0].endDateTime) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(59);
    expect(days).toBeLessThanOrEqual(60);
    const sink = readJson(secretFile());
    expect(sink.pending).toBeNull();
    expect(sink.credential.keyId).toBe(app.passwordCredentials[0].keyId);
  });

  it('never prints the secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, sinkSecrets(secretFile()));
  });
});
