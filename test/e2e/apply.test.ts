/**
 * End to end, one tenant: the built CLI against the emulator, and the tenant checked afterwards through the
 * emulator's own state, not only through what the CLI says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { applyOptions, runCli, type CliResult } from '../helpers/cli.js';
import {
  CONTOSO as TENANT,
  EXO_APP_ID,
  JWT_PATTERN,
  SMTP_SEND_AS_APP,
  appKey,
  findApp,
  readJson,
  spOf,
  tempDir,
  userByMail,
} from '../helpers/e2e.js';

const SCANNER = 'scanner@contoso.onmicrosoft.com';
const AP = 'ap@contoso.onmicrosoft.com';

describe('apply, one tenant, FullAccess, secret', () => {
  let emu: TestEmulator;
  let dir: string;
  let first: CliResult;
  const outputs: string[] = [];
  const base = (): string[] =>
    applyOptions({
      endpoints: emu.endpointsFile,
      tenant: TENANT,
      mailboxes: [SCANNER, AP],
      appName: 'Scanner SMTP',
      secretOut: path.join(dir, 'secret.json'),
      wait: '1m',
      yes: false,
      json: false,
    });

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-');
    first = await runCli(['apply', ...base(), '--yes', '--output', 'json']);
    outputs.push(first.stdout, first.stderr);
  });
  afterAll(async () => emu.close());

  it('exits 0 and reports the proof and every resource as JSON on stdout', () => {
    expect(first.stderr).toContain('235 2.7.0 Authentication successful');
    expect(first.code).toBe(0);
    const out = first.json<Record<string, any>>();
    expect(out.command).toBe('apply');
    expect(out.outcome).toBe('ok');
    expect(out.changed).toBe(true);
    expect(out.tenant).toBe(emu.endpoints.tenants[0]!.id);
    expect(out.verification.status).toBe('passed');
    expect(out.verification.mailboxes.map((m: { mailbox: string }) => m.mailbox).sort()).toEqual([AP, SCANNER]);
    expect(out.credential).toMatchObject({ type: 'secret', sink: path.join(dir, 'secret.json') });
    expect(out.credential.secret).toBeUndefined();
    const keys = out.resources.map((r: { key: string }) => r.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        'entra.application',
        'entra.credential',
        'entra.servicePrincipal',
        'entra.consent',
        'exchange.servicePrincipal',
        `exchange.mailboxAccess:${SCANNER}`,
        'exchange.smtpAuth',
      ]),
    );
    expect(out.resources.every((r: { status: string }) => ['created', 'updated', 'unchanged'].includes(r.status))).toBe(
      true,
    );
    // The preflight's facts and checks passed before the writes.
    expect(out.preflight.map((p: { key: string }) => p.key)).toEqual(
      expect.arrayContaining(['tenant.mailboxes', 'check.sink', 'check.operator']),
    );
    expect(out.preflight.every((p: { status: string }) => p.status === 'passed')).toBe(true);
  });

  it('prints progress on stderr (each resource as it is made) and only the JSON result on stdout', () => {
    const sink = path.join(dir, 'secret.json');
    expect(first.stderr).toContain(`  + Client secret (kept in ${sink}): created`);
    expect(first.stderr).toContain(`  + Application "Scanner SMTP" (${appKey('Scanner SMTP')}): created`);
    expect(first.stdout.trim().split('\n')).toHaveLength(1);
    expect(first.stdout).not.toContain(': created');
  });

  it('left the tenant configured as the vendor guides describe (checked in the emulator)', async () => {
    const out = first.json<Record<string, any>>();
    const t = await emu.control.tenant(TENANT);
    const app = findApp(t, out.application.appId);
    expect(app.uniqueName).toBe(appKey('Scanner SMTP'));
    expect(app.uniqueName).toMatch(/^sendasapp-scanner-smtp-[0-9a-f]{10}$/);
    expect(app.displayName).toBe('Scanner SMTP');
    expect(app.signInAudience).toBe('AzureADMyOrg');
    expect(app.requiredResourceAccess).toEqual([
      {
        resourceAppId: EXO_APP_ID,
        resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }],
      },
    ]);
    const sp = spOf(t, app.appId);
    expect(sp.id).toBe(out.servicePrincipal.id);
    const exo = spOf(t, EXO_APP_ID);
    expect(
      t.appRoleAssignments.filter(
        (a: any) => a.principalId === sp.id && a.resourceId === exo.id && a.appRoleId === SMTP_SEND_AS_APP,
      ),
    ).toHaveLength(1);
    // New-ServicePrincipal with the enterprise app's object id, never the registration's.
    expect(t.exchange.servicePrincipals).toEqual([expect.objectContaining({ AppId: app.appId, ObjectId: sp.id })]);
    for (const m of [SCANNER, AP]) {
      const user = userByMail(t, m);
      const perms = t.exchange.mailboxPermissions.filter(
        (p: any) => p.mailboxUserId === user.id && p.trustee.id === sp.id,
      );
      expect(perms).toHaveLength(1);
      expect(perms[0]).toMatchObject({ accessRights: ['FullAccess'], autoMapping: false });
      expect(user.mailbox.smtpClientAuthenticationDisabled).toBe(false);
    }
    // The organization default stays as it was (only the mailboxes were enabled).
    expect(t.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
  });

  it('wrote the secret once, with its keyId, to a 0600 file', async () => {
    const file = path.join(dir, 'secret.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const sink = readJson(file);
    const out = first.json<Record<string, any>>();
    expect(sink.credential.keyId).toBe(out.credential.keyId);
    expect(sink.pending).toBeNull();
    const app = findApp(await emu.control.tenant(TENANT), out.application.appId);
    expect(app.passwordCredentials.map((p: { keyId: string }) => p.keyId)).toEqual([sink.credential.keyId]);
    expect(app.passwordCredentials[0].hint).toBe(sink.credential.secret.slice(0, 3));
  });

  it('a rerun changes nothing and sends no write request (counted in the emulator log)', async () => {
    await emu.control.clearLog();
    const again = await runCli(['apply', ...base(), '--yes', '--output', 'json']);
    outputs.push(again.stdout, again.stderr);
    expect(again.code).toBe(0);
    const out = again.json<Record<string, any>>();
    expect(out.changed).toBe(false);
    expect(out.resources.every((r: { status: string }) => r.status === 'unchanged')).toBe(true);
    expect(out.verification.status).toBe('passed');
    const log = await emu.control.log();
    const graph = log.filter((e) => e.service === 'graph');
    const exchange = log.filter((e) => e.service === 'exchange');
    expect(graph.filter((e) => e.write)).toEqual([]);
    expect(exchange.filter((e) => e.write)).toEqual([]);
    expect(graph.length).toBeLessThanOrEqual(4);
  });

  it('plan --detailed-exitcode says 0 when nothing is pending, and writes nothing', async () => {
    await emu.control.clearLog();
    const plan = await runCli(['plan', ...base(), '--detailed-exitcode']);
    outputs.push(plan.stdout, plan.stderr);
    expect(plan.code).toBe(0);
    // The plan is the result: on stdout; stderr has no plan line.
    expect(plan.stdout).toContain('Nothing to change.');
    expect(plan.stdout).toContain(`Application "Scanner SMTP" (${appKey('Scanner SMTP')}): in place`);
    expect(plan.stderr).not.toContain('Nothing to change.');
    expect((await emu.control.log()).filter((e) => e.write)).toEqual([]);
  });

  it('plan --detailed-exitcode says 4 for a new mailbox, and apply then grants only that one', async () => {
    const it = 'it@contoso.onmicrosoft.com';
    const plan = await runCli(['plan', ...base(), '--mailbox', it, '--detailed-exitcode', '--output', 'json']);
    outputs.push(plan.stdout, plan.stderr);
    expect(plan.code).toBe(4);
    const pending = plan
      .json<Record<string, any>>()
      .resources.filter((r: { status: string }) => r.status === 'pending');
    // The provenance record changes with what was done: the new mailbox and its SMTP AUTH exception.
    expect(pending.map((r: { key: string }) => r.key).sort()).toEqual([
      'entra.provenance',
      `exchange.mailboxAccess:${it}`,
      'exchange.smtpAuth',
    ]);
    await emu.control.clearLog();
    const apply = await runCli(['apply', ...base(), '--mailbox', it, '--yes']);
    outputs.push(apply.stdout, apply.stderr);
    expect(apply.code).toBe(0);
    // Text mode: the live lines on stderr, the summary (the result) on stdout.
    expect(apply.stderr).toContain(`  + FullAccess on ${it}: created`);
    expect(apply.stdout).not.toContain(`FullAccess on ${it}`);
    expect(apply.stdout).toContain(`Application (client) id: ${first.json<Record<string, any>>().application.appId}`);
    expect(apply.stderr).not.toContain('Application (client) id:');
    const writes = (await emu.control.log()).filter((e) => e.write && e.service !== 'smtp');
    expect(writes.map((w) => w.cmdlet ?? `${w.method} ${w.path.replace(/[0-9a-f-]{36}/, '{id}')}`).sort()).toEqual([
      'Add-MailboxPermission',
      'PATCH /v1.0/applications/{id}',
      'Set-CASMailbox',
    ]);
  });

  it('status reports no drift and the secret expiry', async () => {
    // it@ was added above: it is part of the configuration now (without it, its grant would be drift).
    const withIt = ['--mailbox', 'it@contoso.onmicrosoft.com'];
    const status = await runCli(['status', ...base(), ...withIt, '--output', 'json']);
    outputs.push(status.stdout, status.stderr);
    expect(status.code).toBe(0);
    const out = status.json<Record<string, any>>();
    expect(out.command).toBe('status');
    expect(out.drift).toEqual([]);
    expect(out.credentials[0].daysLeft).toBeGreaterThan(300);
    // Text mode: the status table is the result, on stdout.
    const text = await runCli(['status', ...base(), ...withIt]);
    outputs.push(text.stdout, text.stderr);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Status of ${TENANT}`);
    expect(text.stdout).toContain('Everything is as configured.');
    expect(text.stdout).toMatch(/secret [0-9a-f-]{36} "sendasapp [^"]*": \d+ days left/);
    expect(text.stderr).not.toContain('Everything is as configured.');
  });

  it('never prints the secret or a token', () => {
    const sink = readJson(path.join(dir, 'secret.json'));
    const all = outputs.join('\n');
    expect(all).not.toContain(sink.credential.secret);
    expect(all).not.toContain(emu.endpoints.operator.clientSecret);
    expect(all).not.toMatch(JWT_PATTERN);
  });
});

describe('bad input', () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu.close());

  it.each([
    [['--tenant', 'not_a_tenant', '--mailbox', SCANNER], '--tenant', 'verified domain'],
    [['--tenant', TENANT, '--mailbox', 'scanner'], '--mailbox', 'mailbox address'],
    [['--tenant', TENANT, '--mailbox', SCANNER, '--app-id', 'xyz'], '--app-id', 'GUID'],
    [['--tenant', TENANT, '--mailbox', SCANNER, '--wait', 'forever'], '--wait', 'duration'],
    [['--tenant', TENANT, '--mailbox', SCANNER, '--secret-lifetime', '12 months'], '--secret-lifetime', '12mo'],
    [['--tenant', TENANT], '--mailbox', 'required'],
    [['--tenant', TENANT, '--mailbox', SCANNER, '--bogus'], 'unknown option', "'--bogus'"],
    [['--tenant', TENANT, '--mailbox', SCANNER, '-f', '/nonexistent.yaml'], '--file', 'cannot read'],
  ])('apply %j exits 2 naming the field, and calls no tenant', async (args, field, form) => {
    await emu.control.clearLog();
    const r = await runCli(['apply', '--endpoints', emu.endpointsFile, '--yes', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(field);
    expect(r.stderr).toContain(form);
    expect(r.stdout).toBe('');
    expect(await emu.control.log()).toEqual([]);
  });
});
