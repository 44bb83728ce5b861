/**
 * The preflight, in process: every bad input found by reading the tenant (mailbox of another tenant, unknown
 * mailbox, group not found or empty, a sink that cannot hold the credential, a garbage certificate file, a lifetime
 * beyond the tenant's policy) and every operator the tenant refuses (no Graph app role, no Exchange.ManageAsApp)
 * ends the run before its first write. Each case checks the emulator's request log: reads, and zero writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, FABRIKAM, appsBesidesOperator, setOperatorRoles, tempDir } from '../helpers/e2e.js';
import { reportOf, runTenant, type RunFlags } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;

describe('preflight: bad input found in the tenant stops the run with nothing written', () => {
  let emu: TestEmulator;
  let dir: string;
  const flags = (extra: RunFlags = {}): RunFlags => ({
    tenant: CONTOSO,
    mailbox: [SCANNER],
    appName: 'Preflight Sender',
    secretOut: path.join(dir, 'secret.json'),
    enableSmtpAuth: 'mailbox',
    ...extra,
  });

  beforeAll(async () => {
    emu = await startTestEmulator({
      seed: {
        tenants: [
          {
            domain: CONTOSO,
            groups: [
              { name: 'smtp-senders', members: ['scanner', 'ap'] },
              { name: 'nobody-here', members: [] },
            ],
          },
          { domain: FABRIKAM },
        ],
      },
    });
    dir = tempDir('sendasapp-preflight-');
  });
  afterAll(async () => emu?.close());

  /** Runs apply and asserts: bad input (exit 2) naming `field`, the tenant read, nothing written. */
  async function expectBadInput(f: RunFlags, field: string, message: RegExp) {
    const r = await runTenant(emu, f, 'apply');
    expect(r.result.outcome, JSON.stringify(r.result.failure)).toBe('bad-input');
    expect(r.result.failure).toMatchObject({ kind: 'input', field });
    expect(r.result.failure!.message).toMatch(message);
    expect(r.result.changed).toBe(false);
    // It read the tenant (a preflight, not a refusal of the options) and wrote nothing.
    expect(r.log.some((e) => e.service === 'graph' || e.service === 'exchange')).toBe(true);
    expect(r.writes).toEqual([]);
    expect(r.result.resources.filter((x) => ['created', 'updated', 'deleted'].includes(x.status))).toEqual([]);
    // plan says the same, as a failure.
    const plan = await runTenant(emu, f, 'plan');
    expect(plan.result.outcome).toBe('bad-input');
    expect(plan.result.failure).toMatchObject({ kind: 'input', field });
    expect(plan.writes).toEqual([]);
    return r;
  }

  it('--tenant fabrikam with a contoso mailbox: not in its accepted domains', async () => {
    await expectBadInput(
      flags({ tenant: FABRIKAM }),
      '--mailbox',
      /scanner@contoso\.onmicrosoft\.com is not in an accepted domain of fabrikam\.onmicrosoft\.com/,
    );
    expect(appsBesidesOperator(emu, await emu.control.tenant(FABRIKAM))).toEqual([]);
  });

  it('a mailbox that does not exist in the tenant', async () => {
    await expectBadInput(
      flags({ mailbox: [SCANNER, `nobody@${CONTOSO}`] }),
      '--mailbox',
      /nobody@contoso\.onmicrosoft\.com is not a mailbox in contoso/,
    );
  });

  it('a group that does not exist, and a group without members', async () => {
    await expectBadInput(flags({ mailbox: [], group: 'no-such-group' }), '--group', /no-such-group was not found/);
    await expectBadInput(flags({ mailbox: [], group: 'nobody-here' }), '--group', /nobody-here has no members/);
  });

  it('a new app without --secret-out: the new secret would have nowhere to go', async () => {
    await expectBadInput(flags({ secretOut: undefined }), '--secret-out', /nowhere to keep it/);
  });

  it('--secret-out that is a directory, /dev/null or a symlink', async () => {
    const sub = path.join(dir, 'a-directory');
    mkdirSync(sub);
    await expectBadInput(flags({ secretOut: sub }), '--secret-out', /--secret-out .*a-directory/);
    await expectBadInput(flags({ secretOut: '/dev/null' }), '--secret-out', /--secret-out \/dev\/null/);
    const target = path.join(dir, 'elsewhere.json');
    const link = path.join(dir, 'link.json');
    symlinkSync(target, link);
    await expectBadInput(flags({ secretOut: link }), '--secret-out', /--secret-out .*link\.json/);
  });

  it("--secret-out that holds another app's credential (another app's sink, made by a real run)", async () => {
    const other = path.join(dir, 'other-app.json');
    const made = await runTenant(emu, flags({ appName: 'Other Sender', secretOut: other }), 'apply');
    expect(made.result.outcome, JSON.stringify(made.result.failure)).toBe('ok');
    // The log slice of a run does see writes (the zero-write checks above are not vacuous).
    expect(made.writes.length).toBeGreaterThan(0);
    const otherAppId = made.result.application.appId!;
    await expectBadInput(flags({ secretOut: other }), '--secret-out', new RegExp(`another app \\(${otherAppId}\\)`));
  });

  it('a --certificate-file that is no PEM', async () => {
    const garbage = path.join(dir, 'garbage.pem');
    writeFileSync(garbage, 'this is not a certificate\n', { mode: 0o600 });
    await expectBadInput(
      flags({ credential: 'certificate', certificateFile: garbage, secretOut: undefined }),
      '--certificate-file',
      /--certificate-file .*garbage\.pem/,
    );
  });

  it("--secret-lifetime beyond the tenant's app-management policy (90 days)", async () => {
    await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: 90 });
    try {
      const r = await expectBadInput(
        flags({ secretLifetime: '12mo' }),
        '--secret-lifetime',
        /longer than the 90 days the tenant's app-management policy allows/,
      );
      expect(reportOf(r.result, 'check.secretLifetime')?.status).toBe('failed');
      // Within the policy it passes the preflight (and is planned, not written, by plan).
      const ok = await runTenant(emu, flags({ secretLifetime: '60d' }), 'plan');
      expect(ok.result.failure).toBeUndefined();
      expect(ok.result.outcome).toBe('changes-pending');
    } finally {
      await emu.control.setPolicy(CONTOSO, { maxSecretLifetimeDays: null });
    }
  });

  it('no app of any of these runs is in either tenant (only the other app made on purpose)', async () => {
    const names = (t: any): string[] => appsBesidesOperator(emu, t).map((a: any) => a.displayName);
    expect(names(await emu.control.tenant(CONTOSO))).toEqual(['Other Sender']);
    expect(names(await emu.control.tenant(FABRIKAM))).toEqual([]);
  });
});

describe('preflight: an operator the tenant refuses stops the run before any write (exit 1)', () => {
  let emu: TestEmulator;
  let dir: string;
  const flags = (tenant: string): RunFlags => ({
    tenant,
    mailbox: [`scanner@${tenant}`],
    appName: 'Refused Operator',
    secretOut: path.join(dir, `${tenant}.json`),
  });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-preflight-operator-');
  });
  afterAll(async () => emu?.close());

  it.each([
    [
      'Application.ReadWrite.All',
      FABRIKAM,
      ['Application.Read.All', 'AppRoleAssignment.ReadWrite.All', 'Exchange.ManageAsApp'],
      /lacks Microsoft Graph Application\.ReadWrite\.All or Application\.ReadWrite\.OwnedBy in fabrikam/,
    ],
    [
      'Exchange.ManageAsApp',
      CONTOSO,
      ['Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All', 'Application.Read.All'],
      /lacks Office 365 Exchange Online Exchange\.ManageAsApp in contoso/,
    ],
  ])('without %s (in %s): failed, naming the permission, nothing written', async (_missing, tenant, roles, message) => {
    setOperatorRoles(emu, tenant, roles);
    const r = await runTenant(emu, flags(tenant), 'apply');
    expect(r.result.outcome).toBe('failed');
    expect(r.result.failure).toMatchObject({ kind: 'tenant', key: 'check.operator' });
    expect(r.result.failure!.message).toMatch(message);
    expect(r.writes).toEqual([]);
    expect(appsBesidesOperator(emu, await emu.control.tenant(tenant))).toEqual([]);
  });
});
