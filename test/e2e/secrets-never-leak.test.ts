/**
 * End to end, the rule "no secret, token or private key in any output": every command and the failure paths that
 * print the most (a failed proof, a wrong app secret, status, plan, JSON output), in text and JSON, scanned with
 * the emulator's request log for client secret values, private keys and JWTs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyArgs, applyOptions, verifyArgs } from '../helpers/cli.js';
import { CONTOSO, FABRIKAM, JWT_PATTERN, Runs, expectNoLeaks, readJson, sinkSecrets, tempDir } from '../helpers/e2e.js';

describe('secrets never leak into stdout, stderr or the request log', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const secretSink = (): string => path.join(dir, 'secret.json');
  const certSink = (): string => path.join(dir, 'cert.json');
  const who = (tenant: string) => ({
    endpoints: emu.endpointsFile,
    tenant,
    mailboxes: [`scanner@${tenant}`],
    appName: 'Leak Check',
  });
  const common = (tenant: string): string[] =>
    applyOptions({ ...who(tenant), enableSmtpAuth: null, wait: null, yes: false, json: false });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-leak-');
  });
  afterAll(async () => emu?.close());

  it('runs the commands that print the most, in text and JSON', async () => {
    const s = ['--secret-out', secretSink(), '--wait', '10s', '--yes'];
    // A failed proof (SMTP AUTH off, exit 1): the reply, cause and fix are printed, in text and JSON.
    expect((await runs.run(['apply', ...common(CONTOSO), ...s, '--enable-smtp-auth', 'none'])).code).toBe(1);
    expect(
      (await runs.run(['apply', ...common(CONTOSO), ...s, '--enable-smtp-auth', 'none', '--output', 'json'])).code,
    ).toBe(1);
    // A passing one.
    expect(
      (await runs.run(['apply', ...common(CONTOSO), ...s, '--enable-smtp-auth', 'mailbox', '--output', 'json'])).code,
    ).toBe(0);
    expect((await runs.run(['plan', ...common(CONTOSO), '--secret-out', secretSink()])).code).toBe(0);
    expect(
      (await runs.run(['status', ...common(CONTOSO), '--secret-out', secretSink(), '--output', 'json'])).code,
    ).toBe(0);
    expect((await runs.run(['status', ...common(CONTOSO), '--secret-out', secretSink()])).code).toBe(0);
    // verify with the sink, and with a wrong secret (AADSTS7000215 from the app's own sign-in).
    const appId = readJson(secretSink()).clientId as string;
    const verify = (file: string, ...extra: string[]) =>
      runs.run(
        verifyArgs(
          {
            endpoints: emu.endpointsFile,
            tenant: CONTOSO,
            clientId: appId,
            secretFile: file,
            mailbox: `scanner@${CONTOSO}`,
            wait: '0',
          },
          ...extra,
        ),
      );
    expect((await verify(secretSink(), '--output', 'json')).code).toBe(0);
    const wrong = path.join(dir, 'wrong.txt');
    writeFileSync(wrong, 'Wr0ng~app-secret-0123456789abcdef', { mode: 0o600 });
    const bad = await verify(wrong);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/AADSTS7000215/);
    // A certificate run in the other tenant.
    const cert = applyArgs({ ...who(FABRIKAM), credential: 'certificate', secretOut: certSink(), wait: '10s' });
    expect((await runs.run(cert)).code).toBe(0);
  });

  it('the JSON results carry the keyId and the sink, never the value', () => {
    for (const out of runs.outputs.filter((o) => o.startsWith('{'))) {
      const r = JSON.parse(out) as Record<string, any>;
      if (r.credential) expect(r.credential.secret).toBeUndefined();
    }
  });

  it('no output and no request-log entry holds a secret value, a private key or a JWT', async () => {
    const secrets = [...sinkSecrets(secretSink()), ...sinkSecrets(certSink()), 'Wr0ng~app-secret-0123456789abcdef'];
    expect(secrets).toHaveLength(3);
    await expectNoLeaks(emu, runs.outputs, secrets);
  });

  it('the scan itself finds a planted secret, key and token (it can fail)', async () => {
    const secret = sinkSecrets(secretSink())[0]!;
    await expect(expectNoLeaks(emu, [`oops ${secret}`], [secret])).rejects.toThrow();
    await expect(expectNoLeaks(emu, ['-----BEGIN PRIVATE KEY-----'], [secret])).rejects.toThrow();
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sifQ.c2ln';
    expect(jwt).toMatch(JWT_PATTERN);
    await expect(expectNoLeaks(emu, [`token ${jwt}`], [secret])).rejects.toThrow();
  });
});
