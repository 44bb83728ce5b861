/**
 * People who send through a shared account (--send-as-users, --send-as-group), in process against the emulator:
 * their mailboxes grant SendAs to the account (it@contoso, the app's mailbox); a rerun writes nothing; a member
 * added to the group is granted, a member removed is revoked; a SendAs to another trustee, and a grant to the account
 * that a person made outside the config, are kept; a user who is not a mailbox, or a missing group, is bad input with
 * no write at all (the emulator's request log); the proof sends From a person through the account's session and is
 * refused with 554 5.2.252 SendAsDenied while the grant is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { RecipientPermissionRecord, TenantRecord } from '../../src/emulator/state.js';
import { SEND_AS_KEYS, SEND_AS_TAG_PREFIX } from '../../src/provision/nodes/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, tempDir } from '../helpers/e2e.js';
import { FAST_HOOKS, openRun, reportOf, runTenant, type RunFlags } from '../helpers/provision.js';
import { cliEnvFor, describeEachBackend, type BackendName } from '../exchange/backends.js';

const IT = `it@${CONTOSO}`;
const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;
const ADMIN = `admin@${CONTOSO}`;

describe('send-as users: SendAs on people’s mailboxes for the shared account', () => {
  let emu: TestEmulator;
  let dir: string;
  let tenant: TenantRecord;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-send-as-');
    tenant = emu.store.findTenant(CONTOSO)!;
  });
  afterAll(async () => emu?.close());

  const userId = (address: string): string => tenant.users.find((u) => u.entity.mail === address)!.entity.id;
  /** The trustees (addresses) whose SendAs a mailbox grants, as the emulator holds them. */
  const sendAsTrustees = (mailbox: string): string[] =>
    tenant.exchange.recipientPermissions
      .filter((p) => p.mailboxUserId === userId(mailbox) && p.trustee.kind === 'user')
      .map((p) => tenant.users.find((u) => u.entity.id === p.trustee.id)!.entity.mail!)
      .sort();
  const grantByHand = (mailbox: string, trustee: string): void => {
    const record: RecipientPermissionRecord = {
      mailboxUserId: userId(mailbox),
      trustee: { kind: 'user', id: userId(trustee) },
      accessRights: ['SendAs'],
      grantedAtMs: Date.now() - 3_600_000,
    };
    tenant.exchange.recipientPermissions.push(record);
  };
  const tagsOf = (appId: string): string[] =>
    (emu.store.world.applications.find((a) => a.entity.appId === appId)!.entity.tags as string[]) ?? [];
  const group = () => tenant.groups.find((g) => g.alias === 'smtp-senders')!;

  it('grants SendAs for the account on each listed mailbox, records it in the app, and a rerun writes nothing', async () => {
    const flags: RunFlags = {
      tenant: CONTOSO,
      mailbox: [IT],
      sendAsUsers: [SCANNER, AP],
      appName: 'Send As Listed',
      secretOut: path.join(dir, 'listed.json'),
      enableSmtpAuth: 'mailbox',
    };
    const plan = await runTenant(emu, flags, 'plan');
    const planned = reportOf(plan.result, SEND_AS_KEYS.grants)!;
    expect(planned.status).toBe('pending');
    expect(planned.changes.map((c) => c.what)).toEqual([
      `Add-RecipientPermission -Identity ${SCANNER} -Trustee ${IT} -AccessRights SendAs`,
      `Add-RecipientPermission -Identity ${AP} -Trustee ${IT} -AccessRights SendAs`,
    ]);
    expect(plan.result.sendAs).toMatchObject({
      account: IT,
      users: [SCANNER, AP],
      granted: [],
      missing: [SCANNER, AP],
    });
    expect(plan.writes).toEqual([]);

    const first = await runTenant(emu, flags);
    expect(first.result.outcome).toBe('ok');
    expect(reportOf(first.result, SEND_AS_KEYS.grants)?.status).toBe('created');
    expect(sendAsTrustees(SCANNER)).toEqual([IT]);
    expect(sendAsTrustees(AP)).toEqual([IT]);
    expect(first.result.sendAs).toMatchObject({ granted: [SCANNER, AP], missing: [], revoked: [] });
    const appId = first.result.application.appId!;
    expect(
      tagsOf(appId)
        .filter((t) => t.startsWith(SEND_AS_TAG_PREFIX))
        .sort(),
    ).toEqual([`${SEND_AS_TAG_PREFIX}${IT}:${AP}`, `${SEND_AS_TAG_PREFIX}${IT}:${SCANNER}`]);
    const cmdlets = first.writes.filter((w) => w.service === 'exchange').map((w) => w.cmdlet);
    expect(cmdlets.filter((c) => c === 'Add-RecipientPermission')).toHaveLength(2);

    const again = await runTenant(emu, flags);
    expect(again.result.outcome).toBe('ok');
    expect(reportOf(again.result, SEND_AS_KEYS.grants)?.status).toBe('unchanged');
    expect(again.writes).toEqual([]);
  });

  it('keeps a group in step: a member added is granted, a member removed is revoked, other grants are kept', async () => {
    const flags: RunFlags = {
      tenant: CONTOSO,
      mailbox: [IT],
      sendAsGroup: 'smtp-senders',
      appName: 'Send As Group',
      secretOut: path.join(dir, 'group.json'),
      enableSmtpAuth: 'mailbox',
    };
    const members = [...group().members];
    try {
      const first = await runTenant(emu, flags);
      expect(first.result.outcome).toBe('ok');
      expect(first.result.sendAs).toMatchObject({ group: 'smtp-senders', granted: [SCANNER, AP] });

      // A person's own grants: ap lets scanner send as it (another trustee), and admin lets the account send as it
      // by hand (outside the config, never recorded by sendasapp).
      grantByHand(AP, SCANNER);
      grantByHand(ADMIN, IT);
      // admin joins the group, ap leaves it.
      group().members = [userId(SCANNER), userId(ADMIN)];

      const plan = await runTenant(emu, flags, 'plan');
      const planned = reportOf(plan.result, SEND_AS_KEYS.grants)!;
      expect(planned.changes.map((c) => [c.op, c.action])).toEqual([
        ['record', 'update'],
        ['revoke', 'delete'],
      ]);
      expect(planned.changes[1]!.what).toBe(
        `Remove-RecipientPermission -Identity ${AP} -Trustee ${IT} -AccessRights SendAs (granted by sendasapp, no longer configured)`,
      );
      expect(plan.result.sendAs).toMatchObject({ users: [SCANNER, ADMIN], stale: [AP] });
      expect(plan.writes).toEqual([]);

      const applied = await runTenant(emu, flags);
      expect(applied.result.outcome).toBe('ok');
      expect(applied.result.sendAs).toMatchObject({ granted: [SCANNER, ADMIN], revoked: [AP], stale: [] });
      expect(sendAsTrustees(AP)).toEqual([SCANNER]);
      expect(sendAsTrustees(SCANNER)).toEqual([IT]);
      expect(sendAsTrustees(ADMIN)).toEqual([IT]);
      const exchangeWrites = applied.writes.filter((w) => w.service === 'exchange').map((w) => w.cmdlet);
      expect(exchangeWrites).toEqual(['Remove-RecipientPermission']);

      // A member added whose mailbox grants nothing yet is granted.
      group().members = [userId(SCANNER), userId(ADMIN), userId(AP)];
      const added = await runTenant(emu, flags);
      expect(added.result.sendAs).toMatchObject({ granted: [SCANNER, ADMIN, AP], revoked: [] });
      expect(sendAsTrustees(AP)).toEqual([IT, SCANNER]);
      expect(added.writes.filter((w) => w.service === 'exchange').map((w) => w.cmdlet)).toEqual([
        'Add-RecipientPermission',
      ]);

      // admin's grant was adopted (it matched the config): it leaves, and it is revoked like ours.
      group().members = [userId(SCANNER), userId(AP)];
      const left = await runTenant(emu, flags);
      expect(left.result.sendAs).toMatchObject({ revoked: [ADMIN] });
      expect(sendAsTrustees(ADMIN)).toEqual([]);
      const rerun = await runTenant(emu, flags);
      expect(rerun.writes).toEqual([]);
    } finally {
      group().members = members;
    }
  });

  it('never touches a grant to the account that a person made for someone outside the config', async () => {
    const flags: RunFlags = {
      tenant: CONTOSO,
      mailbox: [IT],
      sendAsUsers: [SCANNER],
      appName: 'Send As Hands Off',
      secretOut: path.join(dir, 'hands-off.json'),
      enableSmtpAuth: 'mailbox',
    };
    // Start from no grant to the account at all, then a person grants it SendAs on admin's mailbox.
    tenant.exchange.recipientPermissions = tenant.exchange.recipientPermissions.filter(
      (p) => p.trustee.id !== userId(IT),
    );
    grantByHand(ADMIN, IT);
    const before = sendAsTrustees(ADMIN);
    const first = await runTenant(emu, flags);
    expect(first.result.outcome).toBe('ok');
    const plan = await runTenant(emu, { ...flags, sendAsUsers: [AP] }, 'plan');
    // scanner was granted by sendasapp: revoked when dropped; admin's grant is not ours: not even planned.
    expect(reportOf(plan.result, SEND_AS_KEYS.grants)!.changes.map((c) => `${c.op} ${c.what.split(' ')[2]}`)).toEqual([
      `grant ${AP}`,
      `revoke ${SCANNER}`,
    ]);
    await runTenant(emu, { ...flags, sendAsUsers: [AP] });
    expect(sendAsTrustees(ADMIN)).toEqual(before);
  });

  it('refuses a user who is not a mailbox of the tenant before any write (exit 2 kind, field named)', async () => {
    const bad = await runTenant(emu, {
      tenant: CONTOSO,
      mailbox: [IT],
      sendAsUsers: [SCANNER, `nobody@${CONTOSO}`],
      appName: 'Send As Bad User',
      secretOut: path.join(dir, 'bad-user.json'),
      enableSmtpAuth: 'mailbox',
    });
    expect(bad.result.outcome).toBe('bad-input');
    expect(bad.result.failure).toMatchObject({ kind: 'input', field: '--send-as-users', key: SEND_AS_KEYS.users });
    expect(bad.result.failure!.message).toContain(`nobody@${CONTOSO} is not a mailbox in ${CONTOSO}`);
    expect(bad.log.length).toBeGreaterThan(0);
    expect(bad.log.filter((e) => e.write)).toEqual([]);
  });

  it('refuses a send-as group that does not exist before any write', async () => {
    const bad = await runTenant(emu, {
      tenant: CONTOSO,
      mailbox: [IT],
      sendAsGroup: 'no-such-group',
      appName: 'Send As Bad Group',
      secretOut: path.join(dir, 'bad-group.json'),
    });
    expect(bad.result.outcome).toBe('bad-input');
    expect(bad.result.failure).toMatchObject({ kind: 'input', field: '--send-as-group' });
    expect(bad.log.filter((e) => e.write)).toEqual([]);
  });

  it('refuses a send-as group without members before any write', async () => {
    const members = [...group().members];
    group().members = [];
    try {
      const bad = await runTenant(emu, {
        tenant: CONTOSO,
        mailbox: [IT],
        sendAsGroup: 'smtp-senders',
        appName: 'Send As Empty Group',
        secretOut: path.join(dir, 'empty-group.json'),
      });
      expect(bad.result.outcome).toBe('bad-input');
      expect(bad.result.failure).toMatchObject({ kind: 'input', field: '--send-as-group' });
      expect(bad.result.failure!.message).toContain('the send-as group smtp-senders has no members');
      expect(bad.log.filter((e) => e.write)).toEqual([]);
    } finally {
      group().members = members;
    }
  });

  it('proves with a message From a person through the account, refused with SendAsDenied while the grant is missing', async () => {
    const flags: RunFlags = {
      tenant: CONTOSO,
      mailbox: [IT],
      sendAsUsers: [AP],
      appName: 'Send As Proof',
      secretOut: path.join(dir, 'proof.json'),
      enableSmtpAuth: 'mailbox',
      verify: 'send',
      sendTo: 'someone@example.com',
    };
    const applied = await runTenant(emu, flags, 'prove', { hooks: FAST_HOOKS });
    expect(applied.result.outcome).toBe('ok');
    expect(applied.result.verification).toMatchObject({
      status: 'passed',
      sendAs: { account: IT, from: AP, status: 'passed' },
    });
    const stored = await emu.control.messages(AP);
    expect(stored.some((m) => m.authenticatedAs === IT && /^From: .*ap@contoso/im.test(m.raw))).toBe(true);

    // The grant taken away by hand: a proof without apply is refused at once (configuration, not propagation).
    tenant.exchange.recipientPermissions = tenant.exchange.recipientPermissions.filter(
      (p) => !(p.mailboxUserId === userId(AP) && p.trustee.id === userId(IT)),
    );
    const count = stored.length;
    const { run } = await openRun(emu, flags, { hooks: FAST_HOOKS });
    try {
      const planned = await run.plan();
      expect(planned.sendAs).toMatchObject({ granted: [], missing: [AP] });
      const proof = await run.prove();
      expect(proof).toMatchObject({ status: 'failed', timedOut: false, attempts: 1 });
      expect(proof.sendAs?.status).toBe('failed');
      expect(proof.sendAs?.reply).toMatch(
        /^554 5\.2\.252 SendAsDenied; it@contoso\.onmicrosoft\.com not allowed to send as ap@contoso\.onmicrosoft\.com; /,
      );
      expect(proof.cause).toBe(`${AP}'s mailbox does not grant SendAs to ${IT}`);
      expect(proof.fix).toContain('--send-as-users');
      // The account's own message went out; the one From ap did not.
      expect(proof.mailboxes).toEqual([expect.objectContaining({ mailbox: IT, status: 'passed' })]);
    } finally {
      await run.close();
    }
    expect((await emu.control.messages(AP)).length).toBe(count);

    // apply grants it again; Exchange's permission cache (here 2 s) refuses the fresh grant at first: the proof
    // sees the grant in place, so it waits for the cache, then passes.
    // Everything else the login needs is an hour old: only the SendAs grant is younger than the cache.
    const anHourAgo = Date.now() - 3_600_000;
    for (const p of tenant.exchange.mailboxPermissions) p.grantedAtMs = anHourAgo;
    for (const sp of tenant.exchange.servicePrincipals) sp.createdAtMs = anHourAgo;
    for (const a of tenant.appRoleAssignments) a.meta.createdAtMs = anHourAgo;
    emu.store.world.knobs.permissionCacheSeconds = 2;
    try {
      const fixed = await runTenant(emu, flags, 'prove', { hooks: FAST_HOOKS });
      // The record was there: the grant made again is an update of the resource.
      expect(reportOf(fixed.result, SEND_AS_KEYS.grants)?.status).toBe('updated');
      expect(fixed.result.verification).toMatchObject({ status: 'passed', sendAs: { status: 'passed' } });
      expect(fixed.result.verification!.attempts).toBeGreaterThan(1);
      expect(fixed.progress.join('\n')).toMatch(
        /not yet: it@contoso\.onmicrosoft\.com as ap@contoso\.onmicrosoft\.com: 554 5\.2\.252 SendAsDenied/,
      );
    } finally {
      emu.store.world.knobs.permissionCacheSeconds = 0;
    }
    expect((await emu.control.messages(AP)).length).toBe(count + 1);
  });
});

/**
 * The same resource through both Exchange backends (REST, and a real pwsh running the bridge and the stand-in
 * ExchangeOnlineManagement module): Get-Mailbox and Get-/Add-/Remove-RecipientPermission as the cmdlets carry them.
 */
describeEachBackend('send-as users through the Exchange backend', (backend: BackendName) => {
  let emu: TestEmulator;
  let dir: string;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir(`sendasapp-send-as-${backend}-`);
    for (const [k, v] of Object.entries(cliEnvFor(backend))) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await emu?.close();
  });

  it('grants, reruns with no write, revokes a user dropped from the config, and refuses a non-mailbox', async () => {
    const t = emu.store.findTenant(CONTOSO)!;
    const id = (address: string): string => t.users.find((u) => u.entity.mail === address)!.entity.id;
    const grantedBy = (account: string): string[] =>
      t.exchange.recipientPermissions
        .filter((p) => p.trustee.id === id(account))
        .map((p) => t.users.find((u) => u.entity.id === p.mailboxUserId)!.entity.mail!)
        .sort();
    const flags: RunFlags = {
      tenant: CONTOSO,
      mailbox: [IT],
      sendAsUsers: [SCANNER, AP],
      appName: `Send As ${backend}`,
      secretOut: path.join(dir, 'app.json'),
      enableSmtpAuth: 'mailbox',
      exchange: backend,
      wait: '2m',
    };
    const first = await runTenant(emu, flags, 'apply', { hooks: FAST_HOOKS });
    expect(first.result.outcome, JSON.stringify(first.result.failure)).toBe('ok');
    expect(first.result.exchange?.backend).toBe(backend);
    expect(grantedBy(IT)).toEqual([AP, SCANNER]);
    const rerun = await runTenant(emu, flags, 'apply', { hooks: FAST_HOOKS });
    expect(rerun.writes).toEqual([]);
    const dropped = await runTenant(emu, { ...flags, sendAsUsers: [SCANNER] }, 'apply', { hooks: FAST_HOOKS });
    expect(dropped.result.sendAs?.revoked).toEqual([AP]);
    expect(grantedBy(IT)).toEqual([SCANNER]);
    const bad = await runTenant(emu, { ...flags, sendAsUsers: [`nobody@${CONTOSO}`] }, 'apply', {
      hooks: FAST_HOOKS,
    });
    expect(bad.result.outcome).toBe('bad-input');
    expect(bad.result.failure?.field).toBe('--send-as-users');
    expect(bad.writes).toEqual([]);
  }, 120_000);
});
