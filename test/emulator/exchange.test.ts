import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { groupDistinguishedName } from '../../src/emulator/exchange/authorization.js';
import { classifyExchangeError } from '../../src/emulator/exchange/index.js';
import { addEnterpriseApp, type EnterpriseApp } from './enterprise-app.js';

type Json = any;

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

const CONTOSO = 'contoso.onmicrosoft.com';

describe('Exchange admin API (InvokeCommand)', () => {
  let emu: TestEmulator;
  let contosoId: string;
  let token: string;

  async function invoke(
    cmdlet: string,
    parameters: Record<string, unknown> = {},
    options: { tenant?: string; version?: string; headers?: Record<string, string>; url?: string } = {},
  ): Promise<Answer> {
    const url = options.url ?? `/adminapi/${options.version ?? 'beta'}/${options.tenant ?? contosoId}/InvokeCommand`;
    const res = await emu.request(url, {
      method: 'POST',
      token,
      json: { CmdletInput: { CmdletName: cmdlet, Parameters: parameters } },
      headers: options.headers,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  async function ok(cmdlet: string, parameters: Record<string, unknown> = {}): Promise<Json> {
    const r = await invoke(cmdlet, parameters);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  }

  const enterpriseApp = (displayName: string, createdAtMs = 0): EnterpriseApp =>
    addEnterpriseApp(emu, CONTOSO, displayName, createdAtMs);

  beforeAll(async () => {
    emu = await startTestEmulator();
    contosoId = emu.store.findTenant(CONTOSO)!.id;
    token = emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange');
  });
  afterAll(async () => emu.close());

  it('answers Get-OrganizationConfig in the OData envelope and logs cmdlet, tenant, caller and read-only', async () => {
    await emu.control.clearLog();
    const r = await invoke('Get-OrganizationConfig');
    expect(r.status).toBe(200);
    expect(r.body['@odata.context']).toMatch(
      new RegExp(`/adminapi/beta/${contosoId}/\\$metadata#Collection\\(Exchange\\.GenericHashTable\\)$`),
    );
    expect(r.body['@adminapi.warnings']).toEqual([]);
    expect(r.body.value).toHaveLength(1);
    expect(r.body.value[0].OAuth2ClientProfileEnabled).toBe(true);
    const log = await emu.control.log({ service: 'exchange' });
    expect(log.at(-1)).toMatchObject({
      cmdlet: 'Get-OrganizationConfig',
      tenantId: contosoId,
      caller: emu.endpoints.operator.clientId,
      write: false,
      status: 200,
      path: `/adminapi/beta/${contosoId}/InvokeCommand`,
    });
  });

  it('accepts the v1.0 path, the tenant domain instead of its GUID, and a case-insensitive cmdlet name', async () => {
    const r = await invoke('get-transportconfig', {}, { version: 'v1.0', tenant: CONTOSO });
    expect(r.status).toBe(200);
    expect(r.body['@odata.context']).toContain(`/adminapi/v1.0/${contosoId}/$metadata`);
    expect(r.body.value[0].SmtpClientAuthenticationDisabled).toBe(true);
  });

  it('walks the vendor guide: New-ServicePrincipal (after replication) → Add-MailboxPermission → Set-CASMailbox, visible in the state', async () => {
    // A service principal consent made just now: Exchange answers AADServicePrincipalNotFound until it replicates.
    await emu.control.setKnobs({ exchangeReplicationDelayMs: 300 });
    const app = enterpriseApp('Scanner app', Date.now());
    const before = Date.now();
    const params = { AppId: app.appId, ObjectId: app.objectId, DisplayName: 'EXO SP for Scanner app' };
    let created = await invoke('New-ServicePrincipal', params);
    expect(classifyExchangeError(created.status, created.body)).toBe('service-principal-not-found');
    for (let i = 0; i < 100 && created.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 30));
      created = await invoke('New-ServicePrincipal', params);
    }
    await emu.control.setKnobs({ exchangeReplicationDelayMs: null });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const sp = created.body.value[0];
    expect(sp).toMatchObject({ AppId: app.appId, ObjectId: app.objectId, DisplayName: 'EXO SP for Scanner app' });

    const granted = await ok('Add-MailboxPermission', {
      Identity: 'scanner@contoso.onmicrosoft.com',
      User: sp.Identity,
      AccessRights: ['FullAccess'],
      AutoMapping: false,
      InheritanceType: 'All',
    });
    expect(granted.value[0]).toMatchObject({ AccessRights: ['FullAccess'], User: sp.Identity });

    const set = await ok('Set-CASMailbox', {
      Identity: 'scanner@contoso.onmicrosoft.com',
      SmtpClientAuthenticationDisabled: false,
    });
    expect(set.value).toEqual([]);

    const state = await emu.control.tenant(CONTOSO);
    const registered = state.exchange.servicePrincipals.find((s: Json) => s.AppId === app.appId);
    expect(registered).toMatchObject({ ObjectId: app.objectId });
    expect(registered.createdAtMs).toBeGreaterThanOrEqual(before);
    const scanner = state.users.find((u: Json) => u.mail === 'scanner@contoso.onmicrosoft.com');
    const perm = state.exchange.mailboxPermissions.find(
      (p: Json) => p.mailboxUserId === scanner.id && p.trustee.id === app.objectId,
    );
    expect(perm).toMatchObject({
      trustee: { kind: 'servicePrincipal', id: app.objectId },
      accessRights: ['FullAccess'],
      autoMapping: false,
      inheritanceType: 'All',
    });
    expect(perm.grantedAtMs).toBeGreaterThanOrEqual(before);
    expect(scanner.mailbox.smtpClientAuthenticationDisabled).toBe(false);

    const log = await emu.control.log({ service: 'exchange' });
    expect(log.filter((e) => e.cmdlet === 'Set-CASMailbox').at(-1)?.write).toBe(true);
  });

  it('refuses a second New-ServicePrincipal for the same AppId with Exchange\'s "already exists" error', async () => {
    const app = enterpriseApp('Dup app');
    await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId });
    const again = await invoke('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId });
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('BadRequest');
    expect(again.body.error.message).toBe('Error executing cmdlet');
    expect(again.body.error.details[0].message).toMatch(
      /^Ex[0-9A-F]{6}\|Microsoft\.Exchange\.Data\.Directory\.ADObjectAlreadyExistsException\|The object 'CN=.*' already exists\.$/,
    );
    expect(again.body.error.innererror.internalexception.type).toBe(
      'Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException',
    );
    expect(classifyExchangeError(again.status, again.body)).toBe('already-exists');
  });

  it('accepts -ServiceId as the deprecated alias of -ObjectId, with a warning', async () => {
    const app = enterpriseApp('BC app');
    const r = await ok('New-ServicePrincipal', { AppId: app.appId, ServiceId: app.objectId });
    expect(r.value[0].ObjectId).toBe(app.objectId);
    expect(r['@adminapi.warnings'].join(' ')).toMatch(/ServiceId.*deprecated/);
  });

  it("refuses the app registration's object id with AADServicePrincipalNotFound (Exchange checks Entra), and a non-GUID", async () => {
    const app = enterpriseApp('Wrong id app');
    const r = await invoke('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.appObjectId });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].message).toContain(
      `AADServicePrincipalNotFound. No ServicePrincipal with Object Id '${app.appObjectId}'`,
    );
    expect(classifyExchangeError(r.status, r.body)).toBe('service-principal-not-found');
    const state = emu.store.findTenant(CONTOSO)!.exchange.servicePrincipals;
    expect(state.some((s) => s.AppId === app.appId)).toBe(false);
    const bad = await invoke('New-ServicePrincipal', { AppId: randomUUID(), ObjectId: 'not-a-guid' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].message).toContain('Guid should contain 32 digits with 4 dashes');
  });

  it('Get-ServicePrincipal returns ALL service principals for an unknown or null Identity, one for a known one', async () => {
    const a = enterpriseApp('List app A');
    const b = enterpriseApp('List app B');
    await ok('New-ServicePrincipal', { AppId: a.appId, ObjectId: a.objectId, DisplayName: 'List A' });
    await ok('New-ServicePrincipal', { AppId: b.appId, ObjectId: b.objectId, DisplayName: 'List B' });
    const total = emu.store.findTenant(CONTOSO)!.exchange.servicePrincipals.length;
    expect(total).toBeGreaterThanOrEqual(2);

    const unknown = await ok('Get-ServicePrincipal', { Identity: randomUUID() });
    expect(unknown.value).toHaveLength(total);
    const nul = await ok('Get-ServicePrincipal', { Identity: null });
    expect(nul.value).toHaveLength(total);

    for (const identity of [a.appId, a.objectId, 'List A']) {
      const one = await ok('Get-ServicePrincipal', { Identity: identity });
      expect(one.value.map((s: Json) => s.AppId)).toEqual([a.appId]);
    }
  });

  it('Remove-ServicePrincipal -Confirm:$false removes it with its grants; an unknown one is ManagementObjectNotFound (404)', async () => {
    const app = enterpriseApp('Short-lived app');
    await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId });
    await ok('Add-MailboxPermission', { Identity: 'ap', User: app.appId, AccessRights: 'FullAccess' });
    await ok('Add-RecipientPermission', { Identity: 'ap', Trustee: app.objectId, AccessRights: 'SendAs' });
    await ok('Remove-ServicePrincipal', { Identity: app.appId, Confirm: false });

    const state = await emu.control.tenant(CONTOSO);
    expect(state.exchange.servicePrincipals.some((s: Json) => s.AppId === app.appId)).toBe(false);
    expect(state.exchange.mailboxPermissions.some((p: Json) => p.trustee.id === app.objectId)).toBe(false);
    expect(state.exchange.recipientPermissions.some((p: Json) => p.trustee.id === app.objectId)).toBe(false);

    const missing = await invoke('Remove-ServicePrincipal', { Identity: app.appId, Confirm: false });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NotFound');
    expect(missing.body.error.details[0].message).toBe(
      `Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object '${app.appId}' couldn't be found on 'AM6PR01A001DC004.EURPR01A001.PROD.OUTLOOK.COM'.`,
    );
    expect(classifyExchangeError(missing.status, missing.body)).toBe('not-found');
  });

  it("Get-MailboxPermission lists the mailbox's own NT AUTHORITY\\SELF entry and each grant with Exchange's fields", async () => {
    const fresh = await ok('Get-MailboxPermission', { Identity: 'it@contoso.onmicrosoft.com' });
    expect(fresh.value).toEqual([
      {
        AccessRights: ['FullAccess', 'ReadPermission'],
        Deny: false,
        InheritanceType: 'All',
        User: 'NT AUTHORITY\\SELF',
        UserSid: 'S-1-5-10',
        Identity: 'it',
        IsInherited: false,
        IsValid: true,
        ObjectState: 'Unchanged',
      },
    ]);
    const app = enterpriseApp('Perm fields app');
    const sp = (await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId })).value[0];
    await ok('Add-MailboxPermission', { Identity: 'it', User: sp.ObjectId, AccessRights: 'FullAccess' });
    const after = await ok('Get-MailboxPermission', { Identity: 'it', User: app.appId });
    expect(after.value).toHaveLength(1);
    expect(Object.keys(after.value[0]).sort()).toEqual(
      [
        'AccessRights',
        'Deny',
        'Identity',
        'InheritanceType',
        'IsInherited',
        'IsValid',
        'ObjectState',
        'User',
        'UserSid',
      ].sort(),
    );
    expect(after.value[0]).toMatchObject({ AccessRights: ['FullAccess'], User: sp.Identity, Deny: false });
    expect(after.value[0].UserSid).toMatch(/^S-1-5-21-\d+-\d+-\d+-\d+$/);
  });

  it('adding a permission that exists changes nothing and answers 200 with Exchange\'s "already present" warning', async () => {
    const app = enterpriseApp('Idempotent app');
    await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId, DisplayName: 'Idem' });
    await ok('Add-MailboxPermission', { Identity: 'ap', User: 'Idem', AccessRights: ['FullAccess'] });
    const countBefore = emu.store.findTenant(CONTOSO)!.exchange.mailboxPermissions.length;
    for (const user of [app.appId, app.objectId, 'Idem']) {
      const again = await ok('Add-MailboxPermission', { Identity: 'ap', User: user, AccessRights: ['FullAccess'] });
      expect(again.value).toEqual([]);
      expect(again['@adminapi.warnings'][0]).toMatch(
        /^The appropriate access control entry is already present on the object "ap" for account ".+"\.$/,
      );
    }
    expect(emu.store.findTenant(CONTOSO)!.exchange.mailboxPermissions).toHaveLength(countBefore);

    await ok('Add-RecipientPermission', { Identity: 'ap', Trustee: app.appId, AccessRights: 'SendAs' });
    const sendAsAgain = await ok('Add-RecipientPermission', {
      Identity: 'ap',
      Trustee: app.appId,
      AccessRights: 'SendAs',
    });
    expect(sendAsAgain['@adminapi.warnings'][0]).toMatch(/already present/);
  });

  it('grants FullAccess to a user trustee as {kind:user}, and Remove-MailboxPermission takes it away (twice: warning)', async () => {
    await ok('Add-MailboxPermission', {
      Identity: 'scanner',
      User: 'admin@contoso.onmicrosoft.com',
      AccessRights: 'FullAccess',
    });
    const admin = emu.store.findTenant(CONTOSO)!.users.find((u) => u.mailbox?.alias === 'admin')!;
    const scanner = emu.store.findTenant(CONTOSO)!.users.find((u) => u.mailbox?.alias === 'scanner')!;
    let state = await emu.control.tenant(CONTOSO);
    expect(
      state.exchange.mailboxPermissions.some(
        (p: Json) =>
          p.mailboxUserId === scanner.entity.id && p.trustee.kind === 'user' && p.trustee.id === admin.entity.id,
      ),
    ).toBe(true);
    const listed = await ok('Get-MailboxPermission', { Identity: 'scanner', User: 'admin' });
    expect(listed.value[0].User).toBe('admin@contoso.onmicrosoft.com');

    const removed = await ok('Remove-MailboxPermission', {
      Identity: 'scanner',
      User: 'admin@contoso.onmicrosoft.com',
      AccessRights: 'FullAccess',
      Confirm: false,
    });
    expect(removed['@adminapi.warnings']).toEqual([]);
    state = await emu.control.tenant(CONTOSO);
    expect(state.exchange.mailboxPermissions.some((p: Json) => p.trustee.id === admin.entity.id)).toBe(false);

    const again = await ok('Remove-MailboxPermission', {
      Identity: 'scanner',
      User: 'admin@contoso.onmicrosoft.com',
      AccessRights: 'FullAccess',
      Confirm: false,
    });
    expect(again['@adminapi.warnings'][0]).toMatch(/because the ACE doesn't exist on the object\.$/);
  });

  it('an unknown -User is refused with "User or group … wasn\'t found"', async () => {
    const r = await invoke('Add-MailboxPermission', { Identity: 'ap', User: 'nobody', AccessRights: 'FullAccess' });
    expect(r.status).toBe(404);
    expect(r.body.error.details[0].message).toContain('User or group "nobody" wasn\'t found.');
  });

  it('Get/Add/Remove-RecipientPermission: SendAs only, SELF listed, grant stored with grantedAtMs', async () => {
    const app = enterpriseApp('SendAs app');
    await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId });
    const before = Date.now();
    const added = await ok('Add-RecipientPermission', {
      Identity: 'it@contoso.onmicrosoft.com',
      Trustee: app.appId,
      AccessRights: ['SendAs'],
      Confirm: false,
    });
    expect(added.value[0]).toMatchObject({ AccessRights: ['SendAs'], AccessControlType: 'Allow' });
    const listed = await ok('Get-RecipientPermission', { Identity: 'it' });
    expect(listed.value.map((r: Json) => r.Trustee)).toEqual(['NT AUTHORITY\\SELF', app.objectId]);
    const record = emu.store
      .findTenant(CONTOSO)!
      .exchange.recipientPermissions.find((r) => r.trustee.id === app.objectId)!;
    expect(record.trustee).toEqual({ kind: 'servicePrincipal', id: app.objectId });
    expect(record.grantedAtMs).toBeGreaterThanOrEqual(before);

    const wrongRight = await invoke('Add-RecipientPermission', {
      Identity: 'it',
      Trustee: app.appId,
      AccessRights: 'FullAccess',
    });
    expect(wrongRight.status).toBe(400);
    expect(wrongRight.body.error.innererror.internalexception.message).toContain(
      'Specify one of the following enumerator names and try again: SendAs',
    );

    await ok('Remove-RecipientPermission', {
      Identity: 'it',
      Trustee: app.appId,
      AccessRights: 'SendAs',
      Confirm: false,
    });
    const gone = await ok('Get-RecipientPermission', { Identity: 'it', Trustee: app.appId });
    expect(gone.value).toEqual([]);
  });

  it('Set-CASMailbox keeps the tri-state (true / false / null) and Get-CASMailbox shows it; no change → warning', async () => {
    for (const value of [true, null, false, null]) {
      await ok('Set-CASMailbox', { Identity: 'admin', SmtpClientAuthenticationDisabled: value });
      const got = await ok('Get-CASMailbox', { Identity: 'admin@contoso.onmicrosoft.com' });
      expect(got.value[0].SmtpClientAuthenticationDisabled).toBe(value);
      const state = await emu.control.tenant(CONTOSO);
      expect(
        state.users.find((u: Json) => u.mail === 'admin@contoso.onmicrosoft.com').mailbox
          .smtpClientAuthenticationDisabled,
      ).toBe(value);
    }
    const same = await ok('Set-CASMailbox', { Identity: 'admin', SmtpClientAuthenticationDisabled: null });
    expect(same['@adminapi.warnings'][0]).toMatch(
      /^The command completed successfully but no settings of 'admin' have been modified\.$/,
    );
  });

  it('Set-TransportConfig changes the organization SMTP AUTH setting, Get-TransportConfig shows it', async () => {
    await ok('Set-TransportConfig', { SmtpClientAuthenticationDisabled: false });
    expect((await ok('Get-TransportConfig')).value[0].SmtpClientAuthenticationDisabled).toBe(false);
    expect((await emu.control.tenant(CONTOSO)).exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(false);
    await ok('Set-TransportConfig', { SmtpClientAuthenticationDisabled: true });
    expect((await emu.control.tenant(CONTOSO)).exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(true);
  });

  it('Get-Mailbox resolves every Identity form to the same mailbox and honours -ResultSize', async () => {
    const scanner = emu.store.findTenant(CONTOSO)!.users.find((u) => u.mailbox?.alias === 'scanner')!;
    for (const identity of [
      'scanner@contoso.onmicrosoft.com',
      'SCANNER',
      'scanner',
      scanner.entity.id,
      scanner.mailbox!.exchangeGuid,
    ]) {
      const r = await ok('Get-Mailbox', { Identity: identity });
      expect(r.value.map((m: Json) => m.PrimarySmtpAddress)).toEqual(['scanner@contoso.onmicrosoft.com']);
    }
    const all = await ok('Get-Mailbox', { ResultSize: 'Unlimited' });
    expect(all.value).toHaveLength(4);
    const two = await ok('Get-Mailbox', { ResultSize: 2 });
    expect(two.value).toHaveLength(2);
    expect(two['@adminapi.warnings'][0]).toMatch(/There are more results available than are currently displayed/);
    const filtered = await ok('Get-Mailbox', { Filter: "MemberOfGroup -eq 'smtp-senders'" });
    expect(filtered.value.map((m: Json) => m.Alias).sort()).toEqual(['ap', 'scanner']);

    const missing = await invoke('Get-Mailbox', { Identity: 'ghost@contoso.onmicrosoft.com' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.innererror.internalexception.message).toBe(
      "The operation couldn't be performed because object 'ghost@contoso.onmicrosoft.com' couldn't be found on 'AM6PR01A001DC004.EURPR01A001.PROD.OUTLOOK.COM'.",
    );
  });

  it('Get-DistributionGroup shows the group DN the scope filters use; Get-DistributionGroupMember lists its members', async () => {
    const tenant = emu.store.findTenant(CONTOSO)!;
    const group = tenant.groups.find((g) => g.alias === 'smtp-senders')!;
    const r = await ok('Get-DistributionGroup', { Identity: 'smtp-senders@contoso.onmicrosoft.com' });
    expect(r.value[0]).toMatchObject({
      DistinguishedName: groupDistinguishedName(tenant, group),
      RecipientTypeDetails: 'MailUniversalSecurityGroup',
      PrimarySmtpAddress: 'smtp-senders@contoso.onmicrosoft.com',
    });
    const members = await ok('Get-DistributionGroupMember', { Identity: 'smtp-senders' });
    expect(members.value.map((m: Json) => m.PrimarySmtpAddress).sort()).toEqual([
      'ap@contoso.onmicrosoft.com',
      'scanner@contoso.onmicrosoft.com',
    ]);
    const missing = await invoke('Get-DistributionGroupMember', { Identity: 'no-such-group' });
    expect(missing.status).toBe(404);
  });

  describe('RBAC for Applications', () => {
    let app: { appId: string; objectId: string };
    let groupDn: string;

    beforeAll(async () => {
      app = enterpriseApp('RBAC app');
      await ok('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId, DisplayName: 'RBAC app' });
      groupDn = (await ok('Get-DistributionGroup', { Identity: 'smtp-senders' })).value[0].DistinguishedName;
    });

    it('scope over smtp-senders + "Application SMTP.SendAsApp" assignment: InScope true for scanner@, false for it@', async () => {
      const scope = await ok('New-ManagementScope', {
        Name: 'SMTP senders',
        RecipientRestrictionFilter: `MemberOfGroup -eq '${groupDn}'`,
      });
      expect(scope.value[0]).toMatchObject({ Name: 'SMTP senders', RecipientFilter: `MemberOfGroup -eq '${groupDn}'` });
      const assignment = await ok('New-ManagementRoleAssignment', {
        Role: 'Application SMTP.SendAsApp',
        App: app.appId,
        CustomResourceScope: 'SMTP senders',
      });
      expect(assignment.value[0]).toMatchObject({
        Name: 'Application SMTP.SendAsApp-RBAC app',
        Role: 'Application SMTP.SendAsApp',
        CustomResourceScope: 'SMTP senders',
        RoleAssigneeType: 'ServicePrincipal',
      });

      const inScope = await ok('Test-ServicePrincipalAuthorization', {
        Identity: app.appId,
        Resource: 'scanner@contoso.onmicrosoft.com',
      });
      expect(inScope.value).toEqual([
        {
          RoleName: 'Application SMTP.SendAsApp',
          GrantedPermissions: 'SMTP.SendAsApp',
          AllowedResourceScope: 'SMTP senders',
          ScopeType: 'CustomRecipientScope',
          InScope: true,
        },
      ]);
      const outOfScope = await ok('Test-ServicePrincipalAuthorization', {
        Identity: 'RBAC app',
        Resource: 'it@contoso.onmicrosoft.com',
      });
      expect(outOfScope.value[0].InScope).toBe(false);
      const notRun = await ok('Test-ServicePrincipalAuthorization', { Identity: app.objectId });
      expect(notRun.value[0].InScope).toBe('Not Run');

      const state = await emu.control.tenant(CONTOSO);
      const stored = state.exchange.managementRoleAssignments.find((a: Json) => a.App === app.appId);
      expect(stored).toMatchObject({ Role: 'Application SMTP.SendAsApp', CustomResourceScope: 'SMTP senders' });
      expect(typeof stored.createdAtMs).toBe('number');
      expect(state.exchange.managementScopes.find((s: Json) => s.Name === 'SMTP senders').createdAtMs).toEqual(
        expect.any(Number),
      );
    });

    it('Get-ManagementRoleAssignment finds it by -RoleAssignee and -Role; a generated name stays unique', async () => {
      const byApp = await ok('Get-ManagementRoleAssignment', { RoleAssignee: app.appId });
      expect(byApp.value.map((a: Json) => a.Name)).toEqual(['Application SMTP.SendAsApp-RBAC app']);
      const second = await ok('New-ManagementRoleAssignment', { Role: 'application smtp.sendasapp', App: 'RBAC app' });
      expect(second.value[0].Name).toBe('Application SMTP.SendAsApp-RBAC app1');
      expect(second.value[0].RecipientWriteScope).toBe('Organization');
      const byRole = await ok('Get-ManagementRoleAssignment', { Role: 'Application SMTP.SendAsApp' });
      expect(byRole.value).toHaveLength(2);
      // As Exchange cautions, a non-existent Identity returns all assignments.
      const unknown = await ok('Get-ManagementRoleAssignment', { Identity: 'no such assignment' });
      expect(unknown.value).toHaveLength(2);
      await ok('Remove-ManagementRoleAssignment', { Identity: second.value[0].Name, Confirm: false });
      const dup = await invoke('New-ManagementRoleAssignment', {
        Name: 'Application SMTP.SendAsApp-RBAC app',
        Role: 'Application SMTP.SendAsApp',
        App: app.appId,
      });
      expect(dup.status).toBe(400);
      expect(classifyExchangeError(dup.status, dup.body)).toBe('already-exists');
    });

    it('refuses an unknown role, app or scope with ManagementObjectNotFound', async () => {
      for (const params of [
        { Role: 'Application Nope', App: app.appId },
        { Role: 'Application SMTP.SendAsApp', App: randomUUID() },
        { Role: 'Application SMTP.SendAsApp', App: app.appId, CustomResourceScope: 'No such scope' },
      ]) {
        const r = await invoke('New-ManagementRoleAssignment', params);
        expect(r.status, JSON.stringify(params)).toBe(404);
        expect(r.body.error.details[0].message).toContain('ManagementObjectNotFoundException');
      }
    });

    it("rejects a filter it can't parse with Exchange's filter errors, and creates nothing", async () => {
      const syntax = await invoke('New-ManagementScope', {
        Name: 'Broken',
        RecipientRestrictionFilter: "MemberOfGroup -eq 'x' -and",
      });
      expect(syntax.status).toBe(400);
      expect(syntax.body.error.innererror.internalexception.message).toMatch(
        /^Cannot bind parameter 'RecipientRestrictionFilter' to the target\. Exception setting "RecipientRestrictionFilter": "Invalid filter syntax\. For a description of the filter parameter syntax see the command help\.\n".*" at position \d+\."$/s,
      );
      const property = await invoke('New-ManagementScope', {
        Name: 'Broken',
        RecipientRestrictionFilter: "FavouriteColour -eq 'blue'",
      });
      expect(property.status).toBe(400);
      expect(property.body.error.innererror.internalexception.message).toContain(
        '"FavouriteColour" is not a recognized filterable property.',
      );
      expect((await emu.control.tenant(CONTOSO)).exchange.managementScopes.some((s: Json) => s.Name === 'Broken')).toBe(
        false,
      );
    });

    it('will not delete a scope a role assignment uses; removes it once the assignment is gone', async () => {
      const inUse = await invoke('Remove-ManagementScope', { Identity: 'SMTP senders', Confirm: false });
      expect(inUse.status).toBe(400);
      expect(inUse.body.error.details[0].message).toContain('Application SMTP.SendAsApp-RBAC app');
      await ok('Remove-ManagementRoleAssignment', { Identity: 'Application SMTP.SendAsApp-RBAC app', Confirm: false });
      await ok('Remove-ManagementScope', { Identity: 'SMTP senders', Confirm: false });
      const got = await invoke('Get-ManagementScope', { Identity: 'SMTP senders' });
      expect(got.status).toBe(404);
      const state = await emu.control.tenant(CONTOSO);
      expect(state.exchange.managementScopes.some((s: Json) => s.Name === 'SMTP senders')).toBe(false);
      expect(state.exchange.managementRoleAssignments.some((a: Json) => a.App === app.appId)).toBe(false);
    });
  });

  describe('paging', () => {
    it('pages with Prefer: odata.maxpagesize and @odata.nextLink; re-POSTing the same body walks every page', async () => {
      const all = await ok('Get-RecipientPermission', {});
      expect(all.value.length).toBeGreaterThanOrEqual(4);
      const seen: Json[] = [];
      let url: string | undefined = `/adminapi/beta/${contosoId}/InvokeCommand`;
      let pages = 0;
      while (url) {
        const r = await invoke('Get-RecipientPermission', {}, { url, headers: { Prefer: 'odata.maxpagesize=1' } });
        expect(r.status).toBe(200);
        expect(r.headers.get('preference-applied')).toBe('odata.maxpagesize=1');
        expect(r.body.value.length).toBeLessThanOrEqual(1);
        seen.push(...r.body.value);
        url = r.body['@odata.nextLink'];
        if (url) expect(url.startsWith(emu.endpoints.authorityHost)).toBe(true);
        pages += 1;
        expect(pages).toBeLessThan(100);
      }
      expect(pages).toBe(all.value.length);
      expect(seen).toEqual(all.value);
    });

    it('refuses a nextLink re-POSTed with a different body', async () => {
      const first = await invoke('Get-Mailbox', {}, { headers: { Prefer: 'odata.maxpagesize=2' } });
      const next = first.body['@odata.nextLink'];
      expect(next).toBeTruthy();
      const r = await invoke('Get-CASMailbox', {}, { url: next, headers: { Prefer: 'odata.maxpagesize=2' } });
      expect(r.status).toBe(400);
    });

    it('applies $select to the rows', async () => {
      const r = await invoke(
        'Get-Mailbox',
        { Identity: 'ap' },
        {
          url: `/adminapi/beta/${contosoId}/InvokeCommand?$select=PrimarySmtpAddress,Alias`,
        },
      );
      expect(r.body.value).toEqual([{ Alias: 'ap', PrimarySmtpAddress: 'ap@contoso.onmicrosoft.com' }]);
    });
  });
});
