import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { prng } from '../helpers/prng.js';
import { PWSH_CMDLETS } from '../../src/exchange/pwsh/cmdlets.js';
import type { TenantRecord } from '../../src/emulator/state.js';
import { checkRecipientFilter, recipientFilterMatches } from '../../src/emulator/exchange/authorization.js';

type Json = any;

/** The cmdlets sendasapp runs (its whitelist, all implemented by the emulator), and names no one may run. */
const CMDLETS = [...PWSH_CMDLETS, 'Get-Unicorn', '', 'New-ServicePrincipal; Remove-Mailbox'];

const PARAMS = [
  'Identity',
  'User',
  'Trustee',
  'AccessRights',
  'AppId',
  'ObjectId',
  'ServiceId',
  'DisplayName',
  'SmtpClientAuthenticationDisabled',
  'ResultSize',
  'Name',
  'RecipientRestrictionFilter',
  'Role',
  'App',
  'CustomResourceScope',
  'Resource',
  'Confirm',
  'InheritanceType',
  'AutoMapping',
  'Filter',
  'WhatIf',
  'Bogus',
  'identity',
  '',
];

const APP_IDS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
const OBJECT_IDS = ['33333333-3333-4333-8333-333333333333', '44444444-4444-4444-8444-444444444444'];

/** Every reference resolves, no duplicate registrations, values of the types state.ts declares. */
function checkConsistency(state: Json): void {
  const ex = state.exchange;
  const userIds = new Set(state.users.map((u: Json) => u.entity?.id ?? u.id));
  const spObjectIds = new Set(ex.servicePrincipals.map((s: Json) => s.ObjectId));
  const spAppIds = ex.servicePrincipals.map((s: Json) => s.AppId);
  expect(new Set(spAppIds).size).toBe(spAppIds.length);
  expect(spObjectIds.size).toBe(ex.servicePrincipals.length);
  for (const p of [...ex.mailboxPermissions, ...ex.recipientPermissions]) {
    expect(userIds.has(p.mailboxUserId)).toBe(true);
    expect(p.accessRights.length).toBeGreaterThan(0);
    expect(typeof p.grantedAtMs).toBe('number');
    if (p.trustee.kind === 'servicePrincipal') expect(spObjectIds.has(p.trustee.id), JSON.stringify(p)).toBe(true);
    else expect(userIds.has(p.trustee.id)).toBe(true);
  }
  const scopeNames = new Set(ex.managementScopes.map((s: Json) => s.Name.toLowerCase()));
  expect(scopeNames.size).toBe(ex.managementScopes.length);
  for (const a of ex.managementRoleAssignments) {
    expect(spAppIds).toContain(a.App);
    if (a.CustomResourceScope !== null) expect(scopeNames.has(a.CustomResourceScope.toLowerCase())).toBe(true);
  }
  for (const u of state.users) {
    if (u.mailbox) expect([true, false, null]).toContain(u.mailbox.smtpClientAuthenticationDisabled);
  }
  expect(typeof ex.transportConfig.SmtpClientAuthenticationDisabled).toBe('boolean');
}

describe('Exchange admin API under random InvokeCommand bodies', () => {
  let emu: TestEmulator;
  let token: string;
  let tenant: TenantRecord;

  beforeAll(async () => {
    emu = await startTestEmulator();
    tenant = emu.store.findTenant('contoso.onmicrosoft.com')!;
    token = emu.mintAppToken('contoso.onmicrosoft.com', emu.endpoints.operator.clientId, 'exchange');
  });
  afterAll(async () => emu.close());

  it('400 random bodies (seed 20240611): never a 5xx, the service still answers, the state stays consistent', async () => {
    const rand = prng(20240611);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const randomString = (): string =>
      pick([
        'scanner',
        'ap@contoso.onmicrosoft.com',
        'it',
        'smtp-senders',
        "MemberOfGroup -eq 'smtp-senders'",
        "Alias -like 's*' -or DisplayName -eq 'it'",
        'Application SMTP.SendAsApp',
        'FullAccess',
        'SendAs',
        'Unlimited',
        'scope-1',
        '',
        ' ',
        '%00',
        "'; DROP TABLE",
        '\u0000\uffff',
        'x'.repeat(300),
        ...APP_IDS,
        ...OBJECT_IDS,
      ]);
    const randomValue = (depth = 0): unknown => {
      switch (Math.floor(rand() * 9)) {
        case 0:
          return null;
        case 1:
          return rand() < 0.5;
        case 2:
          return Math.floor(rand() * 5) - 1;
        case 3:
          return rand() * 1e6;
        case 4:
          return depth < 2 ? [randomValue(depth + 1), randomValue(depth + 1)] : [];
        case 5:
          return depth < 2 ? { [pick(PARAMS)]: randomValue(depth + 1) } : {};
        default:
          return randomString();
      }
    };
    const mailboxes = ['scanner', 'ap@contoso.onmicrosoft.com', 'it', 'admin'];
    const principals = [...APP_IDS, ...OBJECT_IDS, 'it@contoso.onmicrosoft.com', 'nobody'];
    /** Well-formed calls that change state, so the consistency check has something to check. */
    const validCall = (): { name: string; params: Record<string, unknown> } =>
      pick([
        () => ({ name: 'New-ServicePrincipal', params: { AppId: pick(APP_IDS), ObjectId: pick(OBJECT_IDS) } }),
        () => ({ name: 'Remove-ServicePrincipal', params: { Identity: pick(APP_IDS), Confirm: false } }),
        () => ({
          name: 'Add-MailboxPermission',
          params: {
            Identity: pick(mailboxes),
            User: pick(principals),
            AccessRights: pick(['FullAccess', 'ReadPermission']),
          },
        }),
        () => ({
          name: 'Remove-MailboxPermission',
          params: { Identity: pick(mailboxes), User: pick(principals), AccessRights: 'FullAccess', Confirm: false },
        }),
        () => ({
          name: 'Add-RecipientPermission',
          params: { Identity: pick(mailboxes), Trustee: pick(principals), AccessRights: 'SendAs' },
        }),
        () => ({
          name: 'Set-CASMailbox',
          params: { Identity: pick(mailboxes), SmtpClientAuthenticationDisabled: pick([true, false, null]) },
        }),
        () => ({
          name: 'New-ManagementScope',
          params: {
            Name: pick(['scope-1', 'scope-2']),
            RecipientRestrictionFilter: pick(["MemberOfGroup -eq 'smtp-senders'", "Alias -eq 'it'", 'Alias -eq']),
          },
        }),
        () => ({ name: 'Remove-ManagementScope', params: { Identity: pick(['scope-1', 'scope-2']), Confirm: false } }),
        () => ({
          name: 'New-ManagementRoleAssignment',
          params: {
            Name: pick(['ra-1', 'ra-2', undefined]),
            Role: 'Application SMTP.SendAsApp',
            App: pick(APP_IDS),
            CustomResourceScope: pick(['scope-1', 'scope-2', undefined]),
          },
        }),
        () => ({ name: 'Remove-ManagementRoleAssignment', params: { Identity: pick(['ra-1', 'ra-2']) } }),
      ])();
    const randomBody = (): unknown => {
      const shape = rand();
      if (shape > 0.6) {
        const call = validCall();
        const params = Object.fromEntries(Object.entries(call.params).filter(([, v]) => v !== undefined));
        return { CmdletInput: { CmdletName: call.name, Parameters: params } };
      }
      if (shape < 0.05) return 'just a string';
      if (shape < 0.1) return [1, 2, 3];
      if (shape < 0.15) return { CmdletInput: randomValue() };
      const params: Record<string, unknown> = {};
      const n = Math.floor(rand() * 5);
      for (let i = 0; i < n; i++) params[pick(PARAMS)] = randomValue();
      return {
        CmdletInput: {
          CmdletName: rand() < 0.05 ? randomValue() : pick(CMDLETS),
          Parameters: rand() < 0.05 ? randomValue() : params,
        },
      };
    };

    const statuses = new Map<number, number>();
    let writes = 0;
    for (let i = 0; i < 400; i++) {
      const body = randomBody();
      const prefer = rand() < 0.2 ? { Prefer: `odata.maxpagesize=${Math.floor(rand() * 3)}` } : undefined;
      const res = await emu.request(`/adminapi/beta/${tenant.id}/InvokeCommand`, {
        method: 'POST',
        token,
        ...(rand() < 0.03
          ? { body: '{"CmdletInput":', headers: { 'Content-Type': 'application/json' } }
          : { json: body }),
        ...(prefer ? { headers: prefer } : {}),
      });
      const text = await res.text();
      expect(res.status, `request ${i}: ${JSON.stringify(body)} → ${text}`).toBeLessThan(500);
      if (res.status !== 200) {
        const parsed = JSON.parse(text) as Json;
        expect(typeof parsed.error?.code, `request ${i}`).toBe('string');
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      // After every call, not only at the end: a later call could mend a dangling reference.
      checkConsistency(tenant);
      if (res.status === 200 && /"CmdletName":"(New|Add|Remove|Set)-/.test(JSON.stringify(body))) writes += 1;
    }
    // The fuzz reached both the happy path and the refusals.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(20);
    expect(writes).toBeGreaterThan(20);

    // Still answering.
    const alive = await emu.request(`/adminapi/beta/${tenant.id}/InvokeCommand`, {
      method: 'POST',
      token,
      json: { CmdletInput: { CmdletName: 'Get-OrganizationConfig', Parameters: {} } },
    });
    expect(alive.status).toBe(200);

    // Consistent at the end too, as the control endpoint shows it.
    checkConsistency(await emu.control.tenant('contoso.onmicrosoft.com'));
  });

  it('the scope-filter check accepts exactly the filters the SMTP decision can evaluate (2000 random filters)', () => {
    const rand = prng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const parts = [
      'MemberOfGroup',
      'Alias',
      'alias',
      'DisplayName',
      'Colour',
      '-eq',
      '-ne',
      '-like',
      '-gt',
      "'smtp-senders'",
      "'s*'",
      '"it"',
      "'unclosed",
      '-and',
      '-or',
      '(',
      ')',
      ' ',
      '',
    ];
    const users = tenant.users;
    for (let i = 0; i < 2000; i++) {
      const filter = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pick(parts)).join(' ');
      const checked = checkRecipientFilter(filter).ok;
      for (const u of users) expect(recipientFilterMatches(tenant, filter, u) !== undefined, filter).toBe(checked);
    }
  });
});
