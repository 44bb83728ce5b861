/**
 * End to end, teardown: `sendasapp destroy` after `apply` leaves the tenant exactly as it was before the setup — the
 * emulator's FULL state dump of the tenant (Graph objects, Exchange organization, mailboxes, policies) compared
 * before the setup and after the destroy. Normalised: only the deleted items when destroy was not told to --purge
 * (they must then hold exactly the app, with its record). Request logs are not part of the dump; no timestamp of an
 * object that existed before can change, so none is normalised.
 *
 * What a person set is kept: another principal's FullAccess on a mailbox the app used, a mailbox SMTP AUTH setting
 * that was already "enabled" by hand, an adopted app (--app-id) and its own notes. A SIGKILL part-way through destroy
 * followed by another destroy converges to the same state; a second destroy writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { addSecret, registerApp } from '../helpers/azure.js';
import { applyArgs, spawnCli, type CliResult } from '../helpers/cli.js';
import { runInTerminal } from '../wizard/terminal.js';
import {
  CONTOSO,
  EXO_APP_ID,
  FABRIKAM,
  Runs,
  SMTP_SEND_AS_APP,
  appsByName,
  expectNoLeaks,
  expectPassed,
  sinkSecrets,
  tempDir,
  userByMail,
  writesBesidesSmtp,
} from '../helpers/e2e.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

type Json = Record<string, any>;

describe('destroy: setup, then destroy, leaves nothing of ours and nothing else changed', () => {
  let emu: TestEmulator;
  let dir: string;
  const runs = new Runs();
  const sinks: string[] = [];
  /** Secret values seen in sinks (most sinks are deleted by the end), for the leak scan. */
  const seen: string[] = [];
  const keep = (file: string): void => void seen.push(...sinkSecrets(file));
  const sinkFor = (name: string): string => path.join(dir, `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.json`);
  const setup = (name: string, extra: { mailboxAccess?: string; enableSmtpAuth?: string } = {}): string[] => {
    sinks.push(sinkFor(name));
    return applyArgs({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      mailboxes: [SCANNER, AP],
      appName: name,
      secretOut: sinkFor(name),
      ...extra,
    });
  };
  const destroy = (name: string, ...extra: string[]): string[] => [
    'destroy',
    '--endpoints',
    emu.endpointsFile,
    '--tenant',
    CONTOSO,
    '--app-name',
    name,
    '--output',
    'json',
    ...extra,
  ];
  const dump = async (): Promise<Json> => structuredClone(await emu.control.tenant(CONTOSO));

  /** The dump as it must be after a destroy without --purge: the deleted items aside (returned). */
  const withoutDeleted = (t: Json): { state: Json; deleted: Json[] } => {
    const { deletedApplications, ...state } = t;
    return { state, deleted: deletedApplications };
  };

  const expectDestroyed = (r: CliResult): Json => {
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<Json>();
    expect(out.command).toBe('destroy');
    expect(out.outcome).toBe('ok');
    return out;
  };

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-e2e-destroy-');
  });
  afterAll(async () => emu?.close());

  it('full-access with SMTP AUTH exceptions, destroy --purge --delete-secret: the dump equals the one before setup', async () => {
    // A person's settings, before sendasapp comes: scanner's SMTP AUTH explicitly disabled, ap's explicitly
    // enabled, and a user holding FullAccess on scanner.
    const t = emu.store.findTenant(CONTOSO)!;
    const scanner = t.users.find((u) => u.entity.mail === SCANNER)!;
    const ap = t.users.find((u) => u.entity.mail === AP)!;
    const person = t.users.find((u) => u.mailbox && u.entity.mail !== SCANNER && u.entity.mail !== AP)!;
    scanner.mailbox!.smtpClientAuthenticationDisabled = true;
    ap.mailbox!.smtpClientAuthenticationDisabled = false;
    t.exchange.mailboxPermissions.push({
      mailboxUserId: scanner.entity.id,
      trustee: { kind: 'user', id: person.entity.id },
      accessRights: ['FullAccess'],
      inheritanceType: 'All',
      autoMapping: true,
      grantedAtMs: 0,
    });
    emu.store.changed();
    const before = await dump();

    const name = 'Teardown Full Access';
    const applied = expectPassed(await runs.run(setup(name)));
    keep(sinkFor(name));
    const during = await dump();
    const app = appsByName(during, name)[0];
    // The record: mode, mailboxes, the one SMTP AUTH exception sendasapp made (scanner, true before), the sink.
    const record = JSON.parse(app.notes.slice(app.notes.indexOf('{')));
    expect(record).toMatchObject({
      v: 1,
      mode: 'full-access',
      mailboxes: [SCANNER, AP],
      smtp: { mailboxes: { [SCANNER]: true } },
      sink: { kind: 'file', at: sinkFor(name) },
    });
    expect(Object.keys(record.smtp.mailboxes)).toEqual([SCANNER]);
    expect(userByMail(during, SCANNER).mailbox.smtpClientAuthenticationDisabled).toBe(false);
    expect(applied.changed).toBe(true);

    const out = expectDestroyed(await runs.run(destroy(name, '--yes', '--purge', '--delete-secret')));
    expect(out.provenance).toBe('record');
    const actions = Object.fromEntries(out.resources.map((r: Json) => [r.key, `${r.action}/${r.status}`]));
    expect(actions).toMatchObject({
      [`exchange.mailboxAccess:${SCANNER}`]: 'delete/deleted',
      [`exchange.mailboxAccess:${AP}`]: 'delete/deleted',
      'exchange.smtpAuth': 'delete/deleted',
      'exchange.servicePrincipal': 'delete/deleted',
      'entra.consent': 'delete/deleted',
      'entra.servicePrincipal': 'delete/deleted',
      'entra.application': 'delete/deleted',
      'sink.secret': 'delete/deleted',
      'entra.deletedApplication': 'delete/deleted',
    });
    expect(existsSync(sinkFor(name))).toBe(false);
    // The person's FullAccess and ap's own "enabled" are in `before`, so the whole dump proves them kept.
    expect(await dump()).toEqual(before);
  });

  it('a second destroy finds nothing and sends no write (request log)', async () => {
    await emu.control.clearLog();
    const out = expectDestroyed(await runs.run(destroy('Teardown Full Access', '--yes', '--purge', '--delete-secret')));
    expect(out.changed).toBe(false);
    expect(out.pending).toBe(0);
    expect(out.provenance).toBe('no-app');
    const log = await emu.control.log();
    expect(log.length).toBeGreaterThan(0);
    expect(await writesBesidesSmtp(emu)).toEqual([]);
  });

  it('rbac, destroy without --purge: only the deleted items differ, and they hold exactly the app with its record', async () => {
    const before = await dump();
    const name = 'Teardown Rbac';
    expectPassed(await runs.run(setup(name, { mailboxAccess: 'rbac' })));
    keep(sinkFor(name));
    const during = await dump();
    expect(during.exchange.managementScopes.length).toBe(before.exchange.managementScopes.length + 1);
    const list = async (): Promise<Json> => {
      const r = await runs.run(['list', '--endpoints', emu.endpointsFile, '--tenant', CONTOSO, '--output', 'json']);
      expect(r.code, r.stderr).toBe(0);
      return r.json<Json>();
    };
    const listed = await list();
    expect(listed.command).toBe('list');
    expect(listed.apps.find((a: Json) => a.displayName === name)).toMatchObject({ mode: 'rbac', provenance: 'record' });
    const out = expectDestroyed(await runs.run(destroy(name, '--yes')));
    expect((await list()).apps.map((a: Json) => a.displayName)).not.toContain(name);
    expect(out.resources.find((r: Json) => r.key === 'exchange.roleAssignment').status).toBe('deleted');
    expect(out.resources.find((r: Json) => r.key === 'exchange.managementScope').status).toBe('deleted');
    expect(out.notes.map((n: Json) => n.code)).toContain('soft-deleted');
    const after = withoutDeleted(await dump());
    expect(after.state).toEqual(withoutDeleted(before).state);
    const added = after.deleted.filter((d) => !withoutDeleted(before).deleted.some((b) => b.id === d.id));
    expect(added.map((d) => d.uniqueName)).toEqual([appsByName(during, name)[0].uniqueName]);
    expect(added[0]!.deletedDateTime).toEqual(expect.any(String));
    expect(added[0]!.notes).toContain('"mode":"rbac"');
    // The sink file stays without --delete-secret.
    expect(existsSync(sinkFor(name))).toBe(true);
    // --purge later removes it from deleted items (found by its key), and nothing else.
    const purged = expectDestroyed(await runs.run(destroy(name, '--yes', '--purge')));
    expect(purged.resources.map((r: Json) => `${r.key}=${r.status}`)).toContain('entra.deletedApplication=deleted');
    expect(await dump()).toEqual(before);
  });

  it("send-as with the organization's SMTP AUTH turned on: destroy revokes SendAs and turns the organization back off", async () => {
    const before = await dump();
    expect(before.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
    const name = 'Teardown Send As';
    expectPassed(await runs.run(setup(name, { mailboxAccess: 'send-as', enableSmtpAuth: 'org' })));
    keep(sinkFor(name));
    const during = await dump();
    expect(during.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(false);
    const record = JSON.parse(appsByName(during, name)[0].notes.replace(/^[^{]*/, ''));
    expect(record).toMatchObject({ mode: 'send-as', smtp: { org: true } });
    const out = expectDestroyed(await runs.run(destroy(name, '--yes', '--purge', '--delete-secret')));
    const changes = out.resources.flatMap((r: Json) => r.changes.map((c: Json) => c.op));
    expect(changes).toEqual(expect.arrayContaining(['revokeSendAs', 'restoreOrganization']));
    expect(await dump()).toEqual(before);
  });

  it('full-access over a group: the record names the group, and destroy finds the grants on its members', async () => {
    const before = await dump();
    const name = 'Teardown Group';
    sinks.push(sinkFor(name));
    const args = applyArgs({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      group: 'smtp-senders',
      mailboxAccess: 'full-access',
      appName: name,
      secretOut: sinkFor(name),
    });
    expectPassed(await runs.run(args));
    keep(sinkFor(name));
    const app = appsByName(await dump(), name)[0];
    const record = JSON.parse(app.notes.replace(/^[^{]*/, ''));
    expect(record).toMatchObject({ mode: 'full-access', group: 'smtp-senders' });
    expect(record.mailboxes).toBeUndefined();
    const out = expectDestroyed(await runs.run(destroy(name, '--yes', '--purge', '--delete-secret')));
    expect([...out.mailboxes].sort()).toEqual([AP, SCANNER]);
    const revoked = out.resources.filter(
      (r: Json) => r.key.startsWith('exchange.mailboxAccess:') && r.status === 'deleted',
    );
    expect(revoked).toHaveLength(2);
    expect(await dump()).toEqual(before);
  });

  it('killed (SIGKILL) part-way through destroy, then destroy again: converges to the state before setup', async () => {
    const before = await dump();
    const name = 'Teardown Crash';
    expectPassed(await runs.run(setup(name)));
    keep(sinkFor(name));
    const killed = await runs.run(destroy(name, '--yes', '--purge', '--delete-secret'), {
      killWhen: /Exchange service principal of the app in \S+: deleted/,
    });
    expect(killed.signal).toBe('SIGKILL');
    const mid = await dump();
    expect(appsByName(mid, name)).toHaveLength(1);
    const again = expectDestroyed(await runs.run(destroy(name, '--yes', '--purge', '--delete-secret')));
    expect(again.changed).toBe(true);
    expect(await dump()).toEqual(before);
  });

  it('killed right after the app was deleted: destroy again finds it in deleted items, deletes the secret, purges it', async () => {
    const before = await dump();
    const name = 'Teardown Crash Late';
    expectPassed(await runs.run(setup(name)));
    keep(sinkFor(name));
    const killed = await runs.run(destroy(name, '--yes', '--purge', '--delete-secret'), {
      killWhen: /Application Teardown Crash Late: deleted/,
    });
    expect(killed.signal).toBe('SIGKILL');
    const mid = withoutDeleted(await dump());
    expect(appsByName(mid.state, name)).toHaveLength(0);
    expect(mid.deleted.some((d) => d.displayName === name)).toBe(true);
    const again = expectDestroyed(await runs.run(destroy(name, '--yes', '--purge', '--delete-secret')));
    expect(again.provenance).toBe('record');
    const statuses = Object.fromEntries(again.resources.map((r: Json) => [r.key, r.status]));
    expect(statuses).toMatchObject({ 'entra.application': 'unchanged', 'entra.deletedApplication': 'deleted' });
    expect(existsSync(sinkFor(name))).toBe(false);
    expect(await dump()).toEqual(before);
  });

  it('without a terminal and without --yes: refused with exit 2 and a sentence, nothing removed', async () => {
    const name = 'Teardown Refused';
    expectPassed(await runs.run(setup(name)));
    keep(sinkFor(name));
    const before = await dump();
    const r = await runs.run(destroy(name));
    expect(r.code).toBe(2);
    expect(r.json<Json>().error).toMatchObject({ code: 'bad-input', field: '--yes' });
    expect(r.json<Json>().error.message).toMatch(/rerun with --yes/);
    expect(await dump()).toEqual(before);
    expectDestroyed(await runs.run(destroy(name, '--yes', '--purge', '--delete-secret')));
  });

  it('on a terminal it shows the plan and asks: "no" removes nothing, "yes" removes it', async () => {
    const before = await dump();
    const name = 'Teardown Asked';
    expectPassed(await runs.run(setup(name)));
    keep(sinkFor(name));
    const during = await dump();
    const args = destroy(name, '--purge', '--delete-secret').filter((a) => a !== '--output' && a !== 'json');
    const no = runInTerminal(args);
    await no.waitFor(/Remove \d+ resource\(s\) from contoso\.onmicrosoft\.com\?/);
    expect(no.screen()).toContain("remove the app's FullAccess on");
    no.answer('n');
    expect(await no.exited).toBe(0);
    expect(no.screen()).toContain('Nothing removed.');
    expect(await dump()).toEqual(during);
    const yes = runInTerminal(args);
    await yes.waitFor(/Remove \d+ resource\(s\)/);
    yes.answer('y');
    expect(await yes.exited).toBe(0);
    expect(yes.screen()).toContain('Removed.');
    expect(await dump()).toEqual(before);
  });

  it('SIGINT while destroy reads: exit 130, one JSON object with outcome interrupted, nothing removed', async () => {
    const name = 'Teardown Interrupted';
    expectPassed(await runs.run(setup(name)));
    keep(sinkFor(name));
    const before = await dump();
    await emu.control.setKnobs({ faults: [{ service: 'exchange', call: 1, kind: 'hang' }] });
    const from = emu.store.log.at(-1)?.seq ?? 0;
    const cli = spawnCli(destroy(name, '--yes', '--purge', '--delete-secret'));
    const hung = (): boolean => emu.store.log.some((e) => e.seq > from && e.service === 'exchange' && e.status === 0);
    for (let i = 0; !hung(); i++) {
      if (i > 600) throw new Error(`destroy never reached Exchange: ${cli.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    cli.child.kill('SIGINT');
    const r = await cli.exited;
    runs.outputs.push(r.stdout, r.stderr);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('Interrupted (SIGINT).');
    expect(r.json<Json>()).toMatchObject({ command: 'destroy', outcome: 'interrupted' });
    expect(emu.store.log.filter((e) => e.seq > from && e.write)).toEqual([]);
    expect(await dump()).toEqual(before);
    expectDestroyed(await runs.run(destroy(name, '--yes', '--purge', '--delete-secret')));
  });

  it("an ISV's app adopted by --app-id: removed from the tenant (service principal, grants), never deleted", async () => {
    const vendor = registerApp(emu, {
      home: FABRIKAM,
      displayName: 'Travel Agency OAuth Email Sender',
      signInAudience: 'AzureADMultipleOrgs',
      requiredResourceAccess: [{ resourceAppId: EXO_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] }],
    });
    addSecret(vendor.app);
    const before = await dump();
    const fabrikamBefore = await emu.control.tenant(FABRIKAM);
    const adopt = applyArgs({
      endpoints: emu.endpointsFile,
      tenant: CONTOSO,
      appId: vendor.appId,
      mailboxes: [SCANNER],
    });
    const applied = await runs.run(adopt);
    expect(applied.code, applied.stderr).toBe(0);
    // The vendor's app has no object here: its record is on its service principal, with the SMTP AUTH exception.
    const sp = (await emu.control.tenant(CONTOSO)).servicePrincipals.find((s: Json) => s.appId === vendor.appId);
    expect(sp.notes).toMatch(/^sendasapp-provenance v1 \{/);
    expect(Object.keys(JSON.parse(sp.notes.slice(sp.notes.indexOf('{'))).smtp.mailboxes)).toEqual([SCANNER]);
    const out = expectDestroyed(
      await runs.run([
        'destroy',
        '--endpoints',
        emu.endpointsFile,
        '--tenant',
        CONTOSO,
        '--app-id',
        vendor.appId,
        '--mailbox',
        SCANNER,
        '--yes',
        '--purge',
        '--output',
        'json',
      ]),
    );
    expect(out.application).toMatchObject({ appId: vendor.appId, adopted: true, external: true });
    expect(out.resources.map((r: Json) => r.key)).not.toContain('entra.deletedApplication');
    expect(out.provenance).toBe('record');
    expect(out.notes.map((n: Json) => n.code)).toContain('adopted-kept');
    expect(await dump()).toEqual(before);
    // The vendor's app in its own tenant is untouched.
    expect(await emu.control.tenant(FABRIKAM)).toEqual(fabrikamBefore);
  });

  it('an app of the home tenant adopted by --app-id keeps its registration and its own notes; ours leave it', async () => {
    const own = registerApp(emu, {
      home: CONTOSO,
      displayName: 'Scanner relay (finance)',
      signInAudience: 'AzureADMyOrg',
      requiredResourceAccess: [{ resourceAppId: EXO_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] }],
    });
    own.app.entity.notes = 'Owned by finance; ticket 4711';
    emu.store.changed();
    const before = await dump();
    const sink = path.join(dir, 'adopted.json');
    sinks.push(sink);
    const applied = await runs.run(
      applyArgs({ endpoints: emu.endpointsFile, tenant: CONTOSO, appId: own.appId, mailboxes: [AP], secretOut: sink }),
    );
    expectPassed(applied);
    keep(sink);
    const during = (await dump()).applications.find((a: Json) => a.appId === own.appId);
    expect(during.notes.split('\n')[0]).toBe('Owned by finance; ticket 4711');
    expect(during.notes).toMatch(/\nsendasapp-provenance v1 \{/);
    expect(during.passwordCredentials).toHaveLength(1);
    const out = expectDestroyed(
      await runs.run([
        'destroy',
        '--endpoints',
        emu.endpointsFile,
        '--tenant',
        CONTOSO,
        '--app-id',
        own.appId,
        '--yes',
        '--purge',
        '--delete-secret',
        '--output',
        'json',
      ]),
    );
    expect(out.application).toMatchObject({ adopted: true, external: false });
    expect(out.provenance).toBe('record');
    expect(existsSync(sink)).toBe(false);
    expect(await dump()).toEqual(before);
  });

  it('--delete-secret keeps a file that holds another app’s credential', async () => {
    const name = 'Teardown Foreign Sink';
    expectPassed(await runs.run(setup(name)));
    keep(sinkFor(name));
    const other = path.join(dir, 'other.json');
    writeFileSync(
      other,
      JSON.stringify({
        kind: 'sendasapp-credential',
        clientId: '11111111-1111-1111-1111-111111111111',
        credential: null,
        pending: null,
      }),
      { mode: 0o600 },
    );
    const out = expectDestroyed(
      await runs.run(destroy(name, '--yes', '--purge', '--delete-secret', '--secret-out', other)),
    );
    expect(out.resources.find((r: Json) => r.key === 'sink.secret').status).toBe('unchanged');
    expect(existsSync(other)).toBe(true);
  });

  it('never prints a secret, a private key or a token', async () => {
    const secrets = [...seen, ...sinks.filter((f) => existsSync(f)).flatMap((f) => sinkSecrets(f))];
    expect(secrets.length).toBeGreaterThanOrEqual(5);
    await expectNoLeaks(emu, runs.outputs, secrets);
  });
});
