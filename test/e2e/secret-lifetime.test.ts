/**
 * End to end, a tenant app-management policy that limits client secrets to 90 days: the default lifetime (12mo)
 * is refused by Entra and apply says which option to change; a lifetime within the policy passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs } from '../helpers/cli.js';
import { CONTOSO, Runs, expectNoLeaks, expectPassed, findApp, readJson, sinkSecrets, tempDir } from '../helpers/e2e.js';

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

  it('the default 12mo is refused: exit 1, a sentence naming --secret-lifetime, no secret left in Entra', async () => {
    const r = await runs.run(args());
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/Entra refused the secret's lifetime .*Fix: rerun with a shorter --secret-lifetime/);
    const out = r.json<Record<string, any>>();
    const cred = out.resources.find((x: any) => x.key === 'entra.credential');
    expect(cred.status).toBe('failed');
    expect(cred.message).toMatch(/--secret-lifetime/);
    expect(out.verification.status).toBe('skipped');
    const app = findApp(await emu.control.tenant(CONTOSO), out.application.appId);
    expect(app.passwordCredentials).toEqual([]);
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
