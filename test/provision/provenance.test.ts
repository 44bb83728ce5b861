/**
 * Provenance, in process: apply records what it made in the app's notes once; a rerun with nothing to change writes
 * nothing (request log); the record changes only when what was done changes (a mailbox added), keeping the earlier
 * SMTP AUTH exceptions with their earlier values and its first time; an app made before records gets one on its next
 * apply; a person's own notes are kept; a record too long for Graph's 1024 characters drops the mailbox list first.
 * And `list`'s inventory: our apps (made, adopted) with what their records say, nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { resolveOptions } from '../../src/config/index.js';
import {
  NOTES_MAX,
  fitProvenance,
  inventory,
  notesWithProvenance,
  openContext,
  parseProvenance,
  type ProvenanceRecord,
} from '../../src/provision/index.js';
import { listLines } from '../../src/cli/list-command.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { registerApp } from '../helpers/azure.js';
import { CONTOSO, EXO_APP_ID, SMTP_SEND_AS_APP, tempDir } from '../helpers/e2e.js';
import { reportOf, runTenant } from '../helpers/provision.js';

const SCANNER = `scanner@${CONTOSO}`;
const AP = `ap@${CONTOSO}`;

describe('provenance record', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-provenance-');
  });
  afterAll(async () => emu?.close());

  const appOf = (appId: string) => emu.store.world.applications.find((a) => a.entity.appId === appId)!;
  const recordOf = (appId: string): ProvenanceRecord => parseProvenance(appOf(appId).entity.notes as string)!;
  const notesWrites = (writes: Array<{ method: string; target?: string; path?: string }>) =>
    writes.filter((w) => w.method === 'PATCH' && JSON.stringify(w).includes('/applications/'));

  const flags = (mailboxes: string[]) => ({
    tenant: CONTOSO,
    mailbox: mailboxes,
    appName: 'Provenance Idempotence',
    secretOut: path.join(dir, 'idem.json'),
    enableSmtpAuth: 'mailbox',
  });

  it('is written once by the first apply, and a rerun writes nothing at all', async () => {
    const first = await runTenant(emu, flags([SCANNER]));
    expect(first.result.outcome).toBe('ok');
    expect(reportOf(first.result, 'entra.provenance')?.status).toBe('updated');
    const appId = first.result.application.appId!;
    const record = recordOf(appId);
    expect(record).toMatchObject({ v: 1, tool: expect.any(String), mode: 'full-access', mailboxes: [SCANNER] });
    expect(record.smtp?.mailboxes).toHaveProperty([SCANNER]);
    expect(record.sink).toEqual({ kind: 'file', at: path.join(dir, 'idem.json') });

    const again = await runTenant(emu, flags([SCANNER]));
    expect(again.result.outcome).toBe('ok');
    expect(reportOf(again.result, 'entra.provenance')?.status).toBe('unchanged');
    expect(again.writes).toEqual([]);
    expect(recordOf(appId)).toEqual(record);
  });

  it('changes when what was done changes: a mailbox added; earlier exceptions and the first time are kept', async () => {
    const appId = (await runTenant(emu, flags([SCANNER]), 'plan')).result.application.appId!;
    const earlier = recordOf(appId);
    const t = emu.store.findTenant(CONTOSO)!;
    t.users.find((u) => u.entity.mail === AP)!.mailbox!.smtpClientAuthenticationDisabled = true;
    emu.store.changed();
    const more = await runTenant(emu, flags([SCANNER, AP]));
    expect(more.result.outcome).toBe('ok');
    expect(reportOf(more.result, 'entra.provenance')?.status).toBe('updated');
    const record = recordOf(appId);
    expect(record.mailboxes).toEqual([SCANNER, AP]);
    expect(record.smtp?.mailboxes).toEqual({ ...earlier.smtp!.mailboxes, [AP]: true });
    expect(record.created).toBe(earlier.created);
    expect(notesWrites(more.writes)).toHaveLength(1);
    // And is stable again.
    expect((await runTenant(emu, flags([SCANNER, AP]))).writes).toEqual([]);
  });

  it('an app made before records gets one on its next apply (that PATCH is its only write); a person’s notes stay', async () => {
    const appId = (await runTenant(emu, flags([SCANNER, AP]), 'plan')).result.application.appId!;
    appOf(appId).entity.notes = 'Ticket 4711: relay for the scanners';
    emu.store.changed();
    const r = await runTenant(emu, flags([SCANNER, AP]));
    expect(r.result.outcome).toBe('ok');
    expect(r.writes).toHaveLength(1);
    expect(notesWrites(r.writes)).toHaveLength(1);
    const notes = appOf(appId).entity.notes as string;
    expect(notes.split('\n')[0]).toBe('Ticket 4711: relay for the scanners');
    expect(parseProvenance(notes)?.mailboxes).toEqual([SCANNER, AP]);
  });

  it('a record longer than Graph allows drops the mailbox list first and keeps the SMTP AUTH exceptions', () => {
    const mailboxes = Array.from({ length: 60 }, (_, i) => `shared-mailbox-${i}@${CONTOSO}`);
    const record: ProvenanceRecord = {
      v: 1,
      tool: '0.1.0',
      created: '2026-12-01T00:00:00.000Z',
      mode: 'full-access',
      mailboxes,
      smtp: { mailboxes: { [SCANNER]: true, [AP]: null } },
      sink: { kind: 'file', at: '/etc/sendasapp/scanner.json' },
    };
    expect(notesWithProvenance(null, record).length).toBeGreaterThan(NOTES_MAX);
    const fitted = fitProvenance(record, 'a person wrote this');
    expect(notesWithProvenance('a person wrote this', fitted).length).toBeLessThanOrEqual(NOTES_MAX);
    expect(fitted.mailboxes).toBeUndefined();
    expect(fitted.mailboxCount).toBe(60);
    expect(fitted.smtp).toEqual(record.smtp);
    expect(fitted.smtpOmitted).toBeUndefined();
    // Exceptions that cannot fit are counted, never silently dropped.
    const huge = { ...record, smtp: { mailboxes: Object.fromEntries(mailboxes.map((m) => [m, true])) } };
    const cut = fitProvenance(huge, null);
    expect(notesWithProvenance(null, cut).length).toBeLessThanOrEqual(NOTES_MAX);
    expect(Object.keys(cut.smtp!.mailboxes!).length + cut.smtpOmitted!).toBe(60);
  });
});

describe('list: the inventory of a tenant', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir('sendasapp-list-');
  });
  afterAll(async () => emu?.close());

  it('lists the apps sendasapp made or adopted, with mode, mailboxes and credential expiry; nothing else', async () => {
    const made = await runTenant(emu, {
      tenant: CONTOSO,
      mailbox: [SCANNER],
      appName: 'Listed Rbac',
      mailboxAccess: 'rbac',
      secretOut: path.join(dir, 'rbac.json'),
    });
    expect(made.result.outcome).toBe('ok');
    const adopted = registerApp(emu, {
      home: CONTOSO,
      displayName: 'Adopted relay',
      signInAudience: 'AzureADMyOrg',
      requiredResourceAccess: [{ resourceAppId: EXO_APP_ID, resourceAccess: [{ id: SMTP_SEND_AS_APP, type: 'Role' }] }],
    });
    const adoptedRun = await runTenant(emu, {
      tenant: CONTOSO,
      mailbox: [AP],
      appId: adopted.appId,
      secretOut: path.join(dir, 'adopted.json'),
    });
    expect(adoptedRun.result.outcome).toBe('ok');
    // Someone else's app, and one of ours from before records (its notes emptied).
    registerApp(emu, { home: CONTOSO, displayName: 'Payroll connector' });
    const old = await runTenant(emu, {
      tenant: CONTOSO,
      mailbox: [SCANNER],
      appName: 'Listed Old',
      secretOut: path.join(dir, 'old.json'),
    });
    const oldApp = emu.store.world.applications.find((a) => a.entity.appId === old.result.application.appId)!;
    oldApp.entity.notes = null;
    emu.store.changed();

    const options = resolveOptions({ flags: { endpoints: emu.endpointsFile, tenant: CONTOSO }, env: {} });
    const controller = new AbortController();
    const ctx = await openContext(
      { ...options, tenant: CONTOSO, exchange: 'rest' },
      { isTty: false, progress: () => undefined, signal: controller.signal },
    );
    const seq = emu.store.log.at(-1)?.seq ?? 0;
    let apps: Awaited<ReturnType<typeof inventory>>;
    try {
      apps = await inventory(ctx);
    } finally {
      await ctx.dispatcher.close();
    }
    expect(emu.store.log.filter((e) => e.seq > seq && e.write)).toEqual([]);
    const byName = Object.fromEntries(apps.map((a) => [a.displayName, a]));
    expect(Object.keys(byName).sort()).toEqual(['Adopted relay', 'Listed Old', 'Listed Rbac']);
    expect(byName['Listed Rbac']).toMatchObject({
      origin: 'made',
      provenance: 'record',
      mode: 'rbac',
      mailboxes: [SCANNER],
      rbac: { scope: expect.stringMatching(/-scope$/), assignment: expect.stringMatching(/-smtp-sendasapp$/) },
      sink: { kind: 'file', at: path.join(dir, 'rbac.json') },
      lastProof: null,
    });
    expect(byName['Listed Rbac']!.daysLeft).toBeGreaterThan(300);
    expect(byName['Listed Rbac']!.credentials.filter((c: { ours: boolean }) => c.ours)).toHaveLength(1);
    expect(byName['Adopted relay']).toMatchObject({ origin: 'adopted', provenance: 'record', mailboxes: [AP] });
    expect(byName['Listed Old']).toMatchObject({ origin: 'made', provenance: 'none', mode: null });

    const table = listLines(apps);
    expect(table[0]).toMatch(/^NAME\s+APP ID\s+MODE\s+MAILBOXES\s+CREDENTIAL\s+RECORD\s+LAST PROOF$/);
    expect(table).toHaveLength(4);
    expect(table.find((l) => l.startsWith('Listed Rbac'))).toMatch(/rbac\s+scanner@/);
    expect(listLines([])).toEqual(['No app of sendasapp in this tenant.']);
  });
});
