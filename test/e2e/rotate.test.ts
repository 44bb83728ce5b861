/**
 * End to end, `sendasapp rotate` and `apply --rotate-within` with the built CLI, the tenant checked afterwards in
 * the emulator's state: during the overlap the old and the new secret both get a token and pass an XOAUTH2 login
 * (`sendasapp verify`), the proof uses the new one, the sink and the hand-off file are updated, and the old one is
 * gone from the app's passwordCredentials at once (a target that reads the sink) or after the grace (the time the
 * sink recorded, moved into the past). A failed proof keeps the old one (exit 3); a 180-day tenant limit is read
 * and honoured; status counts a replaced credential as no finding (exit 0) and a new one inside the window as one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyOptions, verifyArgs, type ApplyArgs } from '../helpers/cli.js';
import { runInTerminal } from '../wizard/terminal.js';
import { CONTOSO, Runs, expectNoLeaks, expectPassed, findApp, readJson, tempDir } from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;
const DAY = 86_400_000;

describe('rotate, end to end', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const secrets: string[] = [];
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-rotate-');
  });
  afterAll(async () => {
    await expectNoLeaks(emu, runs.outputs, secrets);
    await emu?.close();
  });

  const optionsFor = (appName: string, extra: Partial<ApplyArgs> = {}): ApplyArgs => ({
    endpoints: emu.endpointsFile,
    tenant: CONTOSO,
    mailboxes: [SCANNER],
    appName,
    secretOut: path.join(dir, `${appName.replace(/\W+/g, '-')}.json`),
    wait: '1m',
    ...extra,
  });
  const secretIds = async (appId: string): Promise<string[]> =>
    findApp(await emu.control.tenant(CONTOSO), appId).passwordCredentials.map((c: any) => c.keyId);
  /** The secret of a sink entry in a file of its own, for `sendasapp verify --secret-file`. */
  const secretFile = (name: string, secret: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, secret, { mode: 0o600 });
    secrets.push(secret);
    return file;
  };
  const verify = (appId: string, file: string) =>
    runs.run(
      verifyArgs({
        endpoints: emu.endpointsFile,
        tenant: CONTOSO,
        clientId: appId,
        secretFile: file,
        mailbox: SCANNER,
        wait: '0',
      }),
    );

  it('--target env: the proof uses the new secret, the sink and the hand-off hold it, the old one is gone at once', async () => {
    const handoff = path.join(dir, 'app.env');
    const o = optionsFor('Rotate Env E2E', { target: 'env' });
    const first = expectPassed(await runs.run(['apply', ...applyOptions(o, '--out', handoff)]));
    const appId = first.application.appId;
    const old = readJson(o.secretOut!).credential;
    secrets.push(old.secret);

    const r = await runs.run(['rotate', ...applyOptions(o, '--out', handoff)]);
    const out = expectPassed(r);
    expect(out.command).toBe('rotate');
    const sink = readJson(o.secretOut!);
    secrets.push(sink.credential.secret);
    expect(sink.credential.keyId).not.toBe(old.keyId);
    expect(out.credential.keyId).toBe(sink.credential.keyId);
    expect(out.rotation).toMatchObject({
      status: 'retired',
      proof: 'passed',
      readsSink: true,
      old: [{ keyId: old.keyId }],
      new: { keyId: sink.credential.keyId },
    });
    const change = out.resources.find((x: any) => x.key === 'entra.credential').changes[0];
    expect(change.op).toBe('addSecret');
    expect(change.what).toContain(`replacing secret ${old.keyId}`);
    expect(r.stderr).toMatch(/Rotation: the old secret .* was removed from Entra/);
    expect(await secretIds(appId)).toEqual([sink.credential.keyId]);
    expect(sink.previous).toBeUndefined();
    const env = readFileSync(handoff, 'utf8');
    expect(out.handoff.file).toBe(handoff);
    expect(env).toContain(`OAUTH_CLIENT_SECRET_FILE="${o.secretOut}"`);
    expect(env).toContain(`OAUTH_CREDENTIAL_EXPIRES="${sink.credential.expires}"`);
    expect(env).not.toContain(old.expires);
    // The old secret no longer gets a token.
    const gone = await verify(appId, secretFile('old-env.txt', old.secret));
    expect(gone.code).not.toBe(0);
    expect(gone.stdout + gone.stderr).toMatch(/AADSTS7000215/);
  });

  it('--target business-central: both secrets work during the grace; after it, apply removes the old one', async () => {
    const handoff = path.join(dir, 'bc.txt');
    const o = optionsFor('Rotate BC E2E', { target: 'business-central' });
    const first = expectPassed(await runs.run(['apply', ...applyOptions(o, '--out', handoff)]));
    const appId = first.application.appId;
    const old = readJson(o.secretOut!).credential;
    const oldFile = secretFile('old-bc.txt', old.secret);
    expect(readFileSync(handoff, 'utf8')).toContain(`key id ${old.keyId}`);

    const out = expectPassed(await runs.run(['rotate', ...applyOptions(o, '--out', handoff)]));
    expect(out.rotation).toMatchObject({ status: 'scheduled', proof: 'passed', readsSink: false });
    expect(Date.parse(out.rotation.retireAfter) - Date.now()).toBeGreaterThan(6.9 * DAY);
    const sink = readJson(o.secretOut!);
    secrets.push(sink.credential.secret);
    expect(sink.previous).toEqual([
      expect.objectContaining({ keyId: old.keyId, secret: old.secret, retireAfter: out.rotation.retireAfter }),
    ]);
    // The hand-off names the new secret: the person updates Business Central during the grace.
    const bc = readFileSync(handoff, 'utf8');
    expect(bc).toContain(`key id ${sink.credential.keyId}`);
    expect(bc).not.toContain(old.keyId);

    // The overlap: Entra has both, and each gets a token and passes the XOAUTH2 login.
    expect((await secretIds(appId)).sort()).toEqual([old.keyId, sink.credential.keyId].sort());
    for (const file of [oldFile, o.secretOut!]) {
      const v = await verify(appId, file);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout + v.stderr).toContain('235 2.7.0 Authentication successful');
    }

    // The grace has passed (the recorded time moved into the past): the nightly apply removes the old one.
    sink.previous[0].retireAfter = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(o.secretOut!, JSON.stringify(sink, null, 2), { mode: 0o600 });
    const after = expectPassed(await runs.run(['apply', ...applyOptions(o, '--out', handoff)]));
    const changes = after.resources.find((x: any) => x.key === 'entra.credential').changes;
    expect(changes.map((c: any) => [c.op, c.action])).toEqual([['retireReplaced', 'delete']]);
    expect(await secretIds(appId)).toEqual([sink.credential.keyId]);
    expect(readJson(o.secretOut!).previous).toBeUndefined();
    const gone = await verify(appId, oldFile);
    expect(gone.code).not.toBe(0);
    expect(gone.stdout + gone.stderr).toMatch(/AADSTS7000215/);
  });

  it('a proof that does not pass retires nothing: exit 3, the old secret still in Entra and in the sink', async () => {
    const o = optionsFor('Rotate Fails E2E', { target: 'env' });
    const first = expectPassed(await runs.run(['apply', ...applyOptions(o)]));
    const appId = first.application.appId;
    const old = readJson(o.secretOut!).credential;
    secrets.push(old.secret);
    // SMTP AUTH switched off for the mailbox after the setup (and left so: --enable-smtp-auth none reports only).
    emu.store
      .findTenant(CONTOSO)!
      .users.find((u) => u.entity.mail === SCANNER)!.mailbox!.smtpClientAuthenticationDisabled = true;
    try {
      const r = await runs.run(['rotate', ...applyOptions({ ...o, enableSmtpAuth: 'none' })]);
      expect(r.code, r.stderr).toBe(3);
      const out = r.json<any>();
      expect(out.outcome).toBe('proof-not-passed');
      expect(out.verification.status).toBe('failed');
      expect(out.verification.reply).toMatch(/535 5\.7\.139/);
      expect(out.rotation).toMatchObject({ status: 'kept', proof: 'failed', old: [{ keyId: old.keyId }] });
      // The old one is valid in Entra and the sink's credential again (what reads the sink keeps working).
      const failed = out.rotation.new.keyId;
      const sink = readJson(o.secretOut!);
      secrets.push(sink.previous[0].secret);
      expect((await secretIds(appId)).sort()).toEqual([old.keyId, failed].sort());
      expect(sink.credential).toEqual(old);
      expect(out.credential.keyId).toBe(old.keyId);
      expect(sink.previous).toEqual([expect.objectContaining({ keyId: failed })]);
      expect(sink.previous[0].retireAfter).toBeUndefined();
    } finally {
      emu.store
        .findTenant(CONTOSO)!
        .users.find((u) => u.entity.mail === SCANNER)!.mailbox!.smtpClientAuthenticationDisabled = false;
    }
  });

  it('a 180-day tenant limit: the policy is read, 12mo refused before any write (exit 2), 180d honoured', async () => {
    const o = optionsFor('Rotate Policy E2E', { target: 'env' });
    const first = expectPassed(await runs.run(['apply', ...applyOptions(o)]));
    const appId = first.application.appId;
    const old = readJson(o.secretOut!).credential;
    secrets.push(old.secret);
    await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: 180 });
    try {
      await emu.control.clearLog();
      const refused = await runs.run(['rotate', ...applyOptions(o)]);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.json<any>().error).toMatchObject({ code: 'bad-input', field: '--secret-lifetime' });
      expect(refused.stderr).toContain("longer than the 180 days the tenant's app-management policy allows");
      const log = await emu.control.log();
      expect(log.some((e) => e.path.endsWith('/policies/defaultAppManagementPolicy'))).toBe(true);
      expect(log.filter((e) => e.write)).toEqual([]);
      expect(await secretIds(appId)).toEqual([old.keyId]);

      const out = expectPassed(await runs.run(['rotate', ...applyOptions(o, '--secret-lifetime', '180d')]));
      expect(out.rotation.status).toBe('retired');
      const app = findApp(await emu.control.tenant(CONTOSO), appId);
      expect(app.passwordCredentials).toHaveLength(1);
      const left = Date.parse(app.passwordCredentials[0].endDateTime) - Date.now();
      expect(left).toBeLessThanOrEqual(180 * DAY);
      expect(left).toBeGreaterThan(179 * DAY);
      secrets.push(readJson(o.secretOut!).credential.secret);
    } finally {
      await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: null });
    }
  });

  it('apply --rotate-within 30d rotates a 20-day secret; status: exit 4 before, 0 after (the replaced one is no finding)', async () => {
    const o = optionsFor('Rotate Within E2E');
    const status = (...extra: string[]) =>
      runs.run(['status', ...applyOptions({ ...o, yes: false }, '--detailed-exitcode', ...extra)]);
    const first = expectPassed(await runs.run(['apply', ...applyOptions(o, '--secret-lifetime', '20d')]));
    const appId = first.application.appId;
    const old = readJson(o.secretOut!).credential;
    secrets.push(old.secret);

    const before = await status();
    expect(before.code, before.stderr).toBe(4);
    expect(before.json<any>().expiring).toEqual([old.keyId]);
    // The default window (14 days) leaves a 20-day secret alone.
    expect(expectPassed(await runs.run(['apply', ...applyOptions(o, '--secret-lifetime', '90d')])).changed).toBe(false);

    const out = expectPassed(
      await runs.run(['apply', ...applyOptions(o, '--rotate-within', '30d', '--secret-lifetime', '90d')]),
    );
    const change = out.resources.find((x: any) => x.key === 'entra.credential').changes[0];
    expect(change.what).toContain(`replacing secret ${old.keyId} (it ends`);
    expect(change.what).toContain('within --rotate-within 30d');
    expect(out.rotation).toMatchObject({ status: 'scheduled', proof: 'passed', old: [{ keyId: old.keyId }] });
    const sink = readJson(o.secretOut!);
    secrets.push(sink.credential.secret);
    expect((await secretIds(appId)).sort()).toEqual([old.keyId, sink.credential.keyId].sort());

    const after = await status('--secret-lifetime', '90d');
    expect(after.code, after.stderr).toBe(0);
    const listed = after.json<any>().credentials;
    expect(listed.find((c: any) => c.keyId === old.keyId)).toMatchObject({
      warning: false,
      retireAfter: out.rotation.retireAfter,
    });
    expect(listed.find((c: any) => c.keyId === sink.credential.keyId).warning).toBe(false);
    // The new one is inside a wider window: a finding again.
    expect((await status('--secret-lifetime', '90d', '--expiry-warning', '100d')).code).toBe(4);
    // The next nightly run with the same window does nothing.
    const again = expectPassed(
      await runs.run(['apply', ...applyOptions(o, '--rotate-within', '30d', '--secret-lifetime', '90d')]),
    );
    expect(again.changed).toBe(false);
  });

  it('on a terminal: the plan names the rotation and asks; "no" changes nothing, "yes" rotates', async () => {
    const o = optionsFor('Rotate TTY E2E');
    const first = expectPassed(await runs.run(['apply', ...applyOptions(o)]));
    const appId = first.application.appId;
    const old = readJson(o.secretOut!).credential;
    secrets.push(old.secret);
    const args = ['rotate', ...applyOptions({ ...o, yes: false, json: false })];

    const no = runInTerminal(args);
    await no.waitFor(new RegExp(`add a client secret, lifetime 12mo, written to .*replacing secret ${old.keyId}`));
    await no.waitFor(/Apply 1 change\(s\) to contoso\.onmicrosoft\.com\?/);
    no.answer('n');
    expect(await no.exited).toBe(0);
    runs.outputs.push(no.screen());
    expect(no.screen()).toContain('Nothing changed.');
    expect(await secretIds(appId)).toEqual([old.keyId]);
    expect(readJson(o.secretOut!).credential.keyId).toBe(old.keyId);

    const yes = runInTerminal(args);
    await yes.waitFor(/Apply 1 change\(s\) to contoso\.onmicrosoft\.com\?/);
    yes.answer('y');
    expect(await yes.exited).toBe(0);
    runs.outputs.push(yes.screen());
    expect(yes.screen()).toMatch(/Rotation: the old secret .* stays valid until/);
    const sink = readJson(o.secretOut!);
    secrets.push(sink.credential.secret);
    expect((await secretIds(appId)).sort()).toEqual([old.keyId, sink.credential.keyId].sort());
  }, 60_000);

  it('bad input: --rotate-within not shorter than the lifetime, and --new-secret on rotate', async () => {
    const o = optionsFor('Rotate Bad Input');
    const long = await runs.run(['apply', ...applyOptions(o, '--rotate-within', '12mo')]);
    expect(long.code).toBe(2);
    expect(long.json<any>().error.field).toBe('--rotate-within');
    const both = await runs.run(['rotate', ...applyOptions(o, '--new-secret')]);
    expect(both.code).toBe(2);
    expect(both.json<any>().error.field).toBe('--new-secret');
  });
});
