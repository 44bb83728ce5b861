/**
 * Exchange behaviours of m365-facts §8 that the product depends on, proven against the emulated admin API over
 * HTTPS: filterable properties and 64-character names of management scopes and role assignments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { classifyExchangeError } from '../../src/emulator/exchange/index.js';
import { FILTERABLE_RECIPIENT_PROPERTIES } from '../../src/emulator/exchange/authorization.js';
import { addEnterpriseApp, type EnterpriseApp } from './enterprise-app.js';

type Json = any;
const DOMAIN = 'fidelity.onmicrosoft.com';

describe('Exchange admin API: what real tenants do (m365-facts §8)', () => {
  let emu: TestEmulator;
  let tenantId: string;
  let token: string;

  async function invoke(
    cmdlet: string,
    parameters: Record<string, unknown> = {},
  ): Promise<{ status: number; body: Json }> {
    const res = await emu.request(`/adminapi/beta/${tenantId}/InvokeCommand`, {
      method: 'POST',
      token,
      json: { CmdletInput: { CmdletName: cmdlet, Parameters: parameters } },
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async function ok(cmdlet: string, parameters: Record<string, unknown> = {}): Promise<Json> {
    const r = await invoke(cmdlet, parameters);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  }

  const enterpriseApp = (displayName: string, createdAtMs = 0): EnterpriseApp =>
    addEnterpriseApp(emu, DOMAIN, displayName, createdAtMs);

  beforeAll(async () => {
    emu = await startTestEmulator({
      seed: {
        tenants: [
          {
            domain: DOMAIN,
            mailboxes: [
              { name: 'sales1', department: 'Sales', customAttributes: { CustomAttribute7: 'smtp-app' } },
              { name: 'sales2', department: 'Sales', companyName: 'Contoso Ltd', officeLocation: 'Berlin' },
              { name: 'ops', department: 'Operations' },
              'admin',
            ],
            groups: [{ name: 'senders', members: ['sales1', 'ops'] }],
          },
        ],
      },
    });
    tenantId = emu.store.findTenant(DOMAIN)!.id;
    token = emu.mintAppToken(DOMAIN, emu.endpoints.operator.clientId, 'exchange');
  });
  afterAll(async () => emu.close());

  describe('filterable properties of management scopes', () => {
    let app: { appId: string; objectId: string };
    beforeAll(async () => {
      app = enterpriseApp('Filter app');
      await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId, DisplayName: 'Filter app' });
    });

    async function inScope(filter: string, mailbox: string): Promise<boolean> {
      const name = `scope ${randomUUID().slice(0, 8)}`;
      await ok('New-ManagementScope', { Name: name, RecipientRestrictionFilter: filter });
      const assignment = `ra ${randomUUID().slice(0, 8)}`;
      await ok('New-ManagementRoleAssignment', {
        Name: assignment,
        Role: 'Application SMTP.SendAsApp',
        App: app.appId,
        CustomResourceScope: name,
      });
      const rows = (await ok('Test-ServicePrincipalAuthorization', { Identity: app.appId, Resource: mailbox })).value;
      await ok('Remove-ManagementRoleAssignment', { Identity: assignment, Confirm: false });
      await ok('Remove-ManagementScope', { Identity: name, Confirm: false });
      return rows.some((r: Json) => r.InScope === true);
    }

    it('lists the documented properties, Department, Company, Office, CustomAttribute1–15 and MemberOfGroup among them', () => {
      for (const p of [
        'Department',
        'Company',
        'Office',
        'MemberOfGroup',
        'PrimarySmtpAddress',
        'RecipientTypeDetails',
      ])
        expect(FILTERABLE_RECIPIENT_PROPERTIES).toContain(p);
      for (let i = 1; i <= 15; i++) expect(FILTERABLE_RECIPIENT_PROPERTIES).toContain(`CustomAttribute${i}`);
      expect(FILTERABLE_RECIPIENT_PROPERTIES).not.toContain('CustomAttribute16');
    });

    it("evaluates Department, CustomAttribute7, Company -and Office, MemberOfGroup -or, and $null on the mailboxes' values", async () => {
      expect(await inScope("Department -eq 'Sales'", 'sales1@' + DOMAIN)).toBe(true);
      expect(await inScope("Department -eq 'Sales'", 'ops@' + DOMAIN)).toBe(false);
      expect(await inScope("department -like 'sal*'", 'sales2@' + DOMAIN)).toBe(true);
      expect(await inScope("CustomAttribute7 -eq 'smtp-app'", 'sales1@' + DOMAIN)).toBe(true);
      expect(await inScope("CustomAttribute7 -eq 'smtp-app'", 'sales2@' + DOMAIN)).toBe(false);
      expect(await inScope("Company -eq 'Contoso Ltd' -and Office -eq 'Berlin'", 'sales2@' + DOMAIN)).toBe(true);
      expect(await inScope("(MemberOfGroup -eq 'senders') -or (Department -eq 'Sales')", 'sales2@' + DOMAIN)).toBe(
        true,
      );
      expect(await inScope("MemberOfGroup -eq 'senders' -and Department -ne 'Sales'", 'ops@' + DOMAIN)).toBe(true);
      expect(await inScope('CustomAttribute7 -eq $null', 'ops@' + DOMAIN)).toBe(true);
      expect(await inScope('CustomAttribute7 -ne $null', 'ops@' + DOMAIN)).toBe(false);
      // A documented property the mailbox never had set is blank.
      expect(await inScope("StreetAddress -eq 'Main St 1'", 'sales1@' + DOMAIN)).toBe(false);
    });

    it('shows CustomAttribute1–15 on Get-Mailbox', async () => {
      const row = (await ok('Get-Mailbox', { Identity: 'sales1@' + DOMAIN })).value[0];
      expect(row.CustomAttribute7).toBe('smtp-app');
      expect(row.CustomAttribute1).toBe('');
      expect(row).not.toHaveProperty('CustomAttribute16');
    });

    it('still refuses an undocumented property (CustomAttribute16) with the binding error, and creates nothing', async () => {
      const r = await invoke('New-ManagementScope', {
        Name: 'bad',
        RecipientRestrictionFilter: "CustomAttribute16 -eq 'x'",
      });
      expect(r.status).toBe(400);
      expect(r.body.error.innererror.internalexception.message).toContain(
        '"CustomAttribute16" is not a recognized filterable property.',
      );
      expect(classifyExchangeError(r.status, r.body)).toBe('invalid-parameter');
      expect(emu.store.findTenant(DOMAIN)!.exchange.managementScopes.some((s) => s.Name === 'bad')).toBe(false);
    });

    it('limits scope and role-assignment names to 64 characters with the DataValidationException text', async () => {
      const long = 'S'.repeat(65);
      const scope = await invoke('New-ManagementScope', {
        Name: long,
        RecipientRestrictionFilter: "Department -eq 'Sales'",
      });
      expect(scope.status).toBe(400);
      expect(scope.body.error.details[0].message).toMatch(
        /\|Microsoft\.Exchange\.Data\.DataValidationException\|The length of the property is too long\. The maximum length is 64 and the length of the value provided is 65\.$/,
      );
      expect(classifyExchangeError(scope.status, scope.body)).toBe('invalid-parameter');
      const exact = 'S'.repeat(64);
      await ok('New-ManagementScope', { Name: exact, RecipientRestrictionFilter: "Department -eq 'Sales'" });
      const ra = await invoke('New-ManagementRoleAssignment', {
        Name: 'R'.repeat(70),
        Role: 'Application SMTP.SendAsApp',
        App: app.appId,
        CustomResourceScope: exact,
      });
      expect(ra.status).toBe(400);
      expect(ra.body.error.innererror.internalexception.message).toContain('the length of the value provided is 70');
      const t = emu.store.findTenant(DOMAIN)!.exchange;
      expect(t.managementScopes.some((s) => s.Name === long)).toBe(false);
      expect(t.managementRoleAssignments.some((a) => a.Name.startsWith('RRRR'))).toBe(false);
      await ok('Remove-ManagementScope', { Identity: exact, Confirm: false });
    });
  });
  describe('New-ServicePrincipal against Entra, and Exchange lagging behind (replication)', () => {
    afterAll(async () => {
      await emu.control.setKnobs({ exchangeReplicationDelayMs: null });
    });

    /** Calls until the answer is not AADServicePrincipalNotFound; returns the answers seen. */
    async function untilKnown(params: Record<string, unknown>): Promise<Array<{ status: number; body: Json }>> {
      const seen = [];
      for (let i = 0; i < 100; i++) {
        const r = await invoke('New-ServicePrincipal', params);
        seen.push(r);
        if (classifyExchangeError(r.status, r.body) !== 'service-principal-not-found' || r.status === 200) return seen;
        await sleep(50);
      }
      return seen;
    }

    it('does not know a fresh Entra service principal yet (AADServicePrincipalNotFound), then registers it', async () => {
      await emu.control.setKnobs({ exchangeReplicationDelayMs: 400 });
      const app = enterpriseApp('Fresh app', Date.now());
      const seen = await untilKnown({ AppId: app.appId, ObjectId: app.objectId, DisplayName: 'Fresh app' });
      expect(seen.length).toBeGreaterThan(1);
      expect(seen[0]!.body.error.details[0].message).toContain('AADServicePrincipalNotFound');
      expect(seen.at(-1)!.status).toBe(200);
      expect(seen.at(-1)!.body.value[0]).toMatchObject({ AppId: app.appId, ObjectId: app.objectId });
    });

    it('treats a fresh consent (app role assignment) of an old service principal the same way', async () => {
      await emu.control.setKnobs({ exchangeReplicationDelayMs: 400 });
      const app = enterpriseApp('Consented app');
      const tenant = emu.store.findTenant(DOMAIN)!;
      const exo = tenant.servicePrincipals.find((s) => s.entity.appId === '00000002-0000-0ff1-ce00-000000000000')!;
      tenant.appRoleAssignments.push({
        entity: {
          id: randomUUID(),
          appRoleId: '7146a1f0-8703-45b3-9eae-527a64c00995',
          principalId: app.objectId,
          resourceId: exo.entity.id,
          principalType: 'ServicePrincipal',
          principalDisplayName: 'Consented app',
          resourceDisplayName: exo.entity.displayName,
          createdDateTime: new Date().toISOString(),
          deletedDateTime: null,
        },
        meta: { createdAtMs: Date.now() },
      });
      const seen = await untilKnown({ AppId: app.appId, ObjectId: app.objectId });
      expect(seen[0]!.status).toBe(400);
      expect(seen.at(-1)!.status).toBe(200);
    });

    it("refuses an object id of another app's service principal", async () => {
      const a = enterpriseApp('App A');
      const b = enterpriseApp('App B');
      const r = await invoke('New-ServicePrincipal', { AppId: a.appId, ObjectId: b.objectId });
      expect(classifyExchangeError(r.status, r.body)).toBe('service-principal-not-found');
    });

    it('hides a fresh FullAccess / SendAs grant and a fresh scope and role assignment from Get- answers until replicated', async () => {
      await emu.control.setKnobs({ exchangeReplicationDelayMs: 0 });
      const app = enterpriseApp('Lagging reads');
      await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId, DisplayName: 'Lagging reads' });
      await emu.control.setKnobs({ exchangeReplicationDelayMs: 60_000 });
      const mailbox = 'sales2@' + DOMAIN;
      await ok('Add-MailboxPermission', { Identity: mailbox, User: app.objectId, AccessRights: ['FullAccess'] });
      await ok('Add-RecipientPermission', { Identity: mailbox, Trustee: app.objectId, AccessRights: ['SendAs'] });
      await ok('New-ManagementScope', { Name: 'lagging', RecipientRestrictionFilter: "Department -eq 'Sales'" });
      await ok('New-ManagementRoleAssignment', {
        Name: 'lagging-ra',
        Role: 'Application SMTP.SendAsApp',
        App: app.appId,
        CustomResourceScope: 'lagging',
      });
      const sid = (await ok('Get-ServicePrincipal', { Identity: app.appId })).value[0].Sid;
      const aces = async (): Promise<Json[]> => (await ok('Get-MailboxPermission', { Identity: mailbox })).value;
      const sendAs = async (): Promise<Json[]> => (await ok('Get-RecipientPermission', { Identity: mailbox })).value;
      expect((await aces()).some((r) => r.UserSid === sid)).toBe(false);
      expect((await sendAs()).some((r) => r.TrusteeSidString === sid)).toBe(false);
      expect((await invoke('Get-ManagementScope', { Identity: 'lagging' })).status).toBe(404);
      const ras = (await ok('Get-ManagementRoleAssignment', { RoleAssignee: app.appId })).value;
      expect(ras.some((a: Json) => a.Name === 'lagging-ra')).toBe(false);

      await emu.control.setKnobs({ exchangeReplicationDelayMs: 0 });
      expect((await aces()).some((r) => r.UserSid === sid)).toBe(true);
      expect((await sendAs()).some((r) => r.TrusteeSidString === sid)).toBe(true);
      expect((await ok('Get-ManagementScope', { Identity: 'lagging' })).value).toHaveLength(1);
      expect((await ok('Get-ManagementRoleAssignment', { RoleAssignee: app.appId })).value[0].Name).toBe('lagging-ra');
    });

    it('keeps a legacy registration made with the wrong object id seedable (Exchange accepted it before it validated)', async () => {
      const app = enterpriseApp('Legacy app');
      const appObjectId = randomUUID();
      await emu.control.seedLegacyExchangeServicePrincipal(DOMAIN, {
        appId: app.appId,
        objectId: appObjectId,
        displayName: 'Legacy',
      });
      const rows = (await ok('Get-ServicePrincipal', { Identity: app.appId })).value;
      expect(rows).toEqual([expect.objectContaining({ AppId: app.appId, ObjectId: appObjectId })]);
      // Repair: remove it and register the enterprise app's object id.
      await ok('Remove-ServicePrincipal', { Identity: app.appId, Confirm: false });
      await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId });
      await expect(
        emu.control.seedLegacyExchangeServicePrincipal(DOMAIN, { appId: app.appId, objectId: 'nope' }),
      ).rejects.toThrow(/400/);
    });
  });

  describe('Sid and UserSid: a service principal as trustee', () => {
    it('Get-ServicePrincipal rows carry Sid; Get-MailboxPermission UserSid and Get-RecipientPermission TrusteeSidString name it', async () => {
      const app = enterpriseApp('Sid app');
      await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId, DisplayName: 'Sid app' });
      const sp = (await ok('Get-ServicePrincipal', { Identity: app.objectId })).value[0];
      expect(sp.Sid).toMatch(/^S-1-5-21-\d+-\d+-\d+-\d+$/);
      const mailbox = 'ops@' + DOMAIN;
      await ok('Add-MailboxPermission', { Identity: mailbox, User: sp.Identity, AccessRights: ['FullAccess'] });
      await ok('Add-RecipientPermission', { Identity: mailbox, Trustee: sp.Identity, AccessRights: ['SendAs'] });
      const aces = (await ok('Get-MailboxPermission', { Identity: mailbox })).value;
      expect(aces.find((r: Json) => r.UserSid === sp.Sid)).toMatchObject({ AccessRights: ['FullAccess'] });
      expect(aces.filter((r: Json) => r.UserSid === sp.Sid)).toHaveLength(1);
      const sendAs = (await ok('Get-RecipientPermission', { Identity: mailbox })).value;
      expect(sendAs.find((r: Json) => r.TrusteeSidString === sp.Sid)).toMatchObject({ AccessRights: ['SendAs'] });
      // Another principal with the same display name has another Sid: a display name alone identifies nothing.
      const twin = enterpriseApp('Sid app');
      await ok('New-ServicePrincipal', { AppId: twin.appId, ObjectId: twin.objectId, DisplayName: 'Sid app' });
      const twinSid = (await ok('Get-ServicePrincipal', { Identity: twin.appId })).value[0].Sid;
      expect(twinSid).not.toBe(sp.Sid);
    });

    it("answers ALL service principals for an unknown Identity (the cmdlet reference's caution), so callers re-check AppId", async () => {
      const all = (await ok('Get-ServicePrincipal')).value;
      const unknown = (await ok('Get-ServicePrincipal', { Identity: randomUUID() })).value;
      expect(unknown.length).toBe(all.length);
      expect(all.length).toBeGreaterThan(1);
    });
  });
});
