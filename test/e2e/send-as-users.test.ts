/**
 * End to end, the built CLI: an enaio-webclient-style shared account (it@contoso, the app's mailbox) that the members
 * of a group send through. apply grants SendAs on their mailboxes to the account and proves it with a test message
 * From a member through the account's XOAUTH2 session (the emulator's mailbox holds it, From the member); status
 * finds a member added to the group as drift (exit 4); apply grants the new member and revokes one who left; a proof
 * whose fresh grant Exchange's permission cache does not see yet is refused with SendAsDenied and passes after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { applyOptions } from '../helpers/cli.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, Runs, expectNoLeaks, expectPassed, sinkSecrets, tempDir } from '../helpers/e2e.js';

const IT = `it@${CONTOSO}`;
const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;
const ADMIN = `admin@${CONTOSO}`;
const TO = 'someone@example.com';

describe('send-as users through the shared account (CLI)', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const secretFile = (): string => path.join(dir, 'dms.json');
  const options = (...extra: string[]): string[] =>
    applyOptions(
      {
        endpoints: emu.endpointsFile,
        tenant: CONTOSO,
        mailboxes: [IT],
        appName: 'enaio webclient SMTP',
        secretOut: secretFile(),
        yes: false,
      },
      '--send-as-group',
      'smtp-senders',
      ...extra,
    );
  const apply = (...extra: string[]): string[] => [
    'apply',
    ...options('--yes', '--verify', 'send', '--send-to', TO, ...extra),
  ];
  const tenant = () => emu.store.findTenant(CONTOSO)!;
  const userId = (address: string): string => tenant().users.find((u) => u.entity.mail === address)!.entity.id;
  const grantsTo = (account: string): string[] =>
    tenant()
      .exchange.recipientPermissions.filter((p) => p.trustee.kind === 'user' && p.trustee.id === userId(account))
      .map((p) => tenant().users.find((u) => u.entity.id === p.mailboxUserId)!.entity.mail!)
      .sort();
  const group = () => tenant().groups.find((g) => g.alias === 'smtp-senders')!;

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-send-as-');
  });
  afterAll(async () => emu?.close());

  it('apply grants SendAs to the account on each member and sends a test message From a member through it', async () => {
    const r = await runs.run(apply());
    const out = expectPassed(r);
    expect(out.sendAs).toEqual({
      account: IT,
      group: 'smtp-senders',
      users: [SCANNER, AP],
      granted: [SCANNER, AP],
      missing: [],
      stale: [],
      revoked: [],
    });
    expect(out.verification.sendAs).toMatchObject({ account: IT, from: SCANNER, status: 'passed' });
    expect(out.verification.sendAs.reply).toMatch(/^250 2\.0\.0 OK /);
    expect(r.stderr).toContain(`From ${SCANNER} through ${IT} (SendAs)`);
    expect(grantsTo(IT)).toEqual([AP, SCANNER].sort());
    // The emulator's mailbox of the member holds the message: From the member, signed in as the account.
    const stored = await emu.control.messages(SCANNER);
    const message = stored.find((m) => m.authenticatedAs === IT);
    expect(message).toBeDefined();
    expect(message!.raw).toMatch(new RegExp(`^From: ${SCANNER.replace(/\./g, '\\.')}\\r?$`, 'im'));
    expect(message!.rcptTo).toEqual([TO]);
  });

  it('status: 0 when in step; a member added to the group is drift (exit 4), shown as the grant apply makes', async () => {
    const clean = await runs.run(['status', ...options(), '--detailed-exitcode']);
    expect(clean.code, clean.stderr).toBe(0);
    group().members.push(userId(ADMIN));
    const drift = await runs.run(['status', ...options(), '--detailed-exitcode']);
    expect(drift.code, drift.stderr).toBe(4);
    const out = drift.json<Record<string, any>>();
    expect(out.drift).toContain('exchange.sendAsUsers');
    expect(out.sendAs).toMatchObject({ users: [SCANNER, AP, ADMIN], missing: [ADMIN] });
    const node = out.resources.find((x: any) => x.key === 'exchange.sendAsUsers');
    expect(node.changes.map((c: any) => c.what)).toEqual([
      `Add-RecipientPermission -Identity ${ADMIN} -Trustee ${IT} -AccessRights SendAs`,
    ]);
    const granted = await runs.run(apply());
    expectPassed(granted);
    expect(grantsTo(IT)).toEqual([ADMIN, AP, SCANNER].sort());
  });

  it('a member who leaves the group is revoked; another trustee’s SendAs on that mailbox stays', async () => {
    tenant().exchange.recipientPermissions.push({
      mailboxUserId: userId(AP),
      trustee: { kind: 'user', id: userId(SCANNER) },
      accessRights: ['SendAs'],
      grantedAtMs: Date.now() - 3_600_000,
    });
    group().members = group().members.filter((id) => id !== userId(AP));
    const r = await runs.run(apply());
    const out = expectPassed(r);
    expect(out.sendAs).toMatchObject({ users: [SCANNER, ADMIN], revoked: [AP], stale: [] });
    expect(grantsTo(IT)).toEqual([ADMIN, SCANNER].sort());
    expect(grantsTo(SCANNER)).toEqual([AP]);
    const again = await runs.run(['status', ...options(), '--detailed-exitcode']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('the enaio webclient hand-off names the granted users and no command for a person to run', async () => {
    const r = await runs.run([
      'handoff',
      ...options('--target', 'enaio-webclient').filter((a) => a !== '--output' && a !== 'json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `# SendAs to ${IT} on the mailboxes of these users (the members of smtp-senders):\n#   ${SCANNER}\n#   ${ADMIN}\n`,
    );
    expect(r.stdout).not.toContain('Add-RecipientPermission -Identity');
    expect(r.stdout).toContain(`smtpUserName: "${IT}"`);
  });

  it('a fresh grant the permission cache has not seen: SendAsDenied first, then the proof passes', async () => {
    // scanner's grant is gone; everything else the login needs is an hour old; Exchange's cache is 3 s here.
    const anHourAgo = Date.now() - 3_600_000;
    const t = tenant();
    t.exchange.recipientPermissions = t.exchange.recipientPermissions.filter(
      (p) => !(p.mailboxUserId === userId(SCANNER) && p.trustee.id === userId(IT)),
    );
    for (const p of t.exchange.mailboxPermissions) p.grantedAtMs = anHourAgo;
    for (const sp of t.exchange.servicePrincipals) sp.createdAtMs = anHourAgo;
    for (const a of t.appRoleAssignments) a.meta.createdAtMs = anHourAgo;
    await emu.control.setKnobs({ permissionCacheSeconds: 3 });
    try {
      const before = (await emu.control.messages(SCANNER)).length;
      const r = await runs.run(apply(), { timeoutMs: 90_000 });
      const out = expectPassed(r);
      expect(r.stderr).toMatch(
        /not yet: it@contoso\.onmicrosoft\.com as scanner@contoso\.onmicrosoft\.com: 554 5\.2\.252 SendAsDenied; .*retrying in/,
      );
      expect(out.verification.attempts).toBeGreaterThan(1);
      expect(out.verification.sendAs.status).toBe('passed');
      expect((await emu.control.messages(SCANNER)).length).toBe(before + 1);
    } finally {
      await emu.control.setKnobs({ permissionCacheSeconds: 0 });
    }
  }, 100_000);

  it('several mailboxes without --send-as-account: exit 2 naming the field, before any request', async () => {
    await emu.control.clearLog();
    const r = await runs.run([
      'plan',
      ...applyOptions(
        { endpoints: emu.endpointsFile, tenant: CONTOSO, mailboxes: [IT, SCANNER], appName: 'x', yes: false },
        '--send-as-users',
        AP,
      ),
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--send-as-account: is required with several --mailbox');
    expect(await emu.control.log()).toEqual([]);
  });

  it('never prints the secret or a token', async () => {
    await expectNoLeaks(emu, runs.outputs, sinkSecrets(secretFile()));
  });
});
