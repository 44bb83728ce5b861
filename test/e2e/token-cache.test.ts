/**
 * Sign-in once across commands: with `--token-cache FILE`, a device-code sign-in is asked by the first CLI process
 * only; the next processes (the same tenant, then another tenant reached through GDAP) sign in silently from the
 * file's refresh token — the emulator's device-code endpoint is not called again (its request log). The file is
 * mode 0600, says what it holds, and no output shows a token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { JWT_PATTERN, Runs, tempDir } from '../helpers/e2e.js';
import { AGENT, CUSTOMER, GDAP_SEED, PARTNER, THIN } from '../helpers/gdap.js';

describe('--token-cache: a person signs in once for several commands and tenants', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  beforeAll(async () => {
    emu = await startTestEmulator({ seed: GDAP_SEED });
    dir = tempDir('sendasapp-token-cache-');
  });
  afterAll(async () => emu?.close());

  const planArgs = (tenant: string, cache: string): string[] => [
    'plan',
    '--endpoints',
    emu.endpointsFile,
    '--tenant',
    tenant,
    '--partner-tenant',
    PARTNER,
    '--auth',
    'device-code',
    '--token-cache',
    cache,
    '--mailbox',
    `scanner@${tenant}`,
    '--secret-out',
    path.join(dir, `${tenant}.json`),
    '--exchange',
    'rest',
    '--output',
    'json',
  ];

  const deviceCodeRequests = async (): Promise<number> =>
    (await emu.control.log({ service: 'token' })).filter((e) => /\/devicecode$/i.test(e.path)).length;

  it('asks for the device code in the first process only', async () => {
    const cache = path.join(dir, 'operator-cache.json');
    await emu.control.clearLog();
    // The first process: someone approves its code.
    const approve = (async () => {
      for (let i = 0; i < 150; i++) {
        const pending = await emu.control.pendingDeviceCodes();
        if (pending[0]) return emu.control.approveDeviceCode(pending[0].userCode, AGENT);
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('no device code was asked for');
    })();
    const first = await runs.run(planArgs(CUSTOMER, cache), { timeoutMs: 60_000 });
    await approve;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/enter the code/);
    expect(await deviceCodeRequests()).toBe(1);

    const mode = statSync(cache).mode & 0o777;
    expect(mode).toBe(0o600);
    const content = JSON.parse(readFileSync(cache, 'utf8')) as { note: string; account: { username: string } };
    expect(content.note).toMatch(/refresh tokens, unencrypted/);
    expect(content.account.username).toBe(AGENT);

    // The second process, same tenant: nobody approves anything, and it does not ask.
    const second = await runs.run(planArgs(CUSTOMER, cache), { timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toMatch(/enter the code/);
    expect(await deviceCodeRequests()).toBe(1);

    // A third process for another customer: its authority's tokens come from the cached refresh token.
    await emu.control.clearLog();
    const third = await runs.run(planArgs(THIN, cache), { timeoutMs: 60_000 });
    expect(third.stderr).not.toMatch(/enter the code/);
    expect(await deviceCodeRequests()).toBe(0);
    const thinId = emu.store.findTenant(THIN)!.id;
    const refreshAtThin = (await emu.control.log({ service: 'token' })).filter(
      (e) => e.path === `/${thinId}/oauth2/v2.0/token` && e.status === 200,
    );
    expect(refreshAtThin.length).toBeGreaterThan(0);
    // (tailspin's relationship lacks roles: the plan stops in its preflight, which is not this test's point.)
    expect(third.json<{ error?: { message: string } }>().error?.message).toMatch(/GDAP relationship/);

    for (const text of runs.outputs) expect(text).not.toMatch(JWT_PATTERN);
  });

  it('--token-cache with an app sign-in is bad input', async () => {
    const r = await runs.run([
      'plan',
      '--endpoints',
      emu.endpointsFile,
      '--tenant',
      CUSTOMER,
      '--auth',
      'client-secret',
      '--token-cache',
      path.join(dir, 'x.json'),
      '--mailbox',
      `scanner@${CUSTOMER}`,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--token-cache');
  });
});
