/**
 * The Exchange scenario every backend must pass (REST, pwsh against the fake bridge, pwsh for real): the vendor
 * guides' sequence (New-ServicePrincipal, FullAccess, SendAs, SMTP AUTH, RBAC scope and role assignment,
 * Test-ServicePrincipalAuthorization) and the error kinds, summarised so that backends can be compared.
 */
import { addEnterpriseApp } from '../emulator/enterprise-app.js';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExchangeError, type ExchangeBackend } from '../../src/exchange/backend.js';
import { RestExchangeBackend } from '../../src/exchange/rest.js';
import { PwshExchangeBackend, type PwshBackendOptions } from '../../src/exchange/pwsh/index.js';
import type { TestEmulator } from '../helpers/emulator.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FAKE_BRIDGE = path.join(ROOT, 'test/fixtures/fake-bridge.mjs');
export const TEST_MODULE_DIR = path.join(ROOT, 'test/pwsh');
export const CONTOSO = 'contoso.onmicrosoft.com';
export const AP = 'ap@contoso.onmicrosoft.com';
export const SCANNER = 'scanner@contoso.onmicrosoft.com';
export const GROUP = 'smtp-senders';
export const INJECTIONS = ["x'; Remove-Mailbox -Identity admin -Confirm:$false #", '$(Stop-Process -Id $PID)'];

export function contosoId(emu: TestEmulator): string {
  return emu.store.findTenant(CONTOSO)!.id;
}

export function exchangeToken(emu: TestEmulator): string {
  return emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange');
}

/** An Entra enterprise app (service principal) in contoso, as admin consent would have created it long ago. */
export function enterpriseApp(emu: TestEmulator, displayName: string): { appId: string; objectId: string } {
  const { appId, objectId } = addEnterpriseApp(emu, CONTOSO, displayName);
  return { appId, objectId };
}

export function makeRest(emu: TestEmulator, o: { token?: string; retryDeadlineMs?: number } = {}): ExchangeBackend {
  const token = o.token ?? exchangeToken(emu);
  return new RestExchangeBackend({
    credential: { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) },
    adminUrl: emu.endpoints.exchangeAdminUrl,
    scope: 'https://outlook.office365.com/.default',
    tenantId: contosoId(emu),
    dispatcher: emu.dispatcher,
    retryDeadlineMs: o.retryDeadlineMs ?? 0,
  });
}

export interface FakeBridgeRun {
  backend: PwshExchangeBackend;
  token: string;
  dir: string;
  /** Lines the backend passed on (stderr, host output), already redacted. */
  output: string[];
  retries: string[];
  /** The fake bridge's own log: spawn / connect / invoke / disconnect. */
  log(): Array<Record<string, unknown>>;
}

export interface FakeBridgeOptions {
  faults?: Record<string, unknown>;
  backend?: Partial<PwshBackendOptions>;
  token?: () => { token: string; expiresOnTimestamp?: number };
}

/** The real PwshExchangeBackend, driving test/fixtures/fake-bridge.mjs instead of pwsh. */
export function makePwshFake(emu: TestEmulator, o: FakeBridgeOptions = {}): FakeBridgeRun {
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-fake-bridge-'));
  const token = exchangeToken(emu);
  const output: string[] = [];
  const retries: string[] = [];
  const logFile = path.join(dir, 'bridge.log');
  const backend = new PwshExchangeBackend({
    connect: {
      mode: 'access-token',
      getToken: async () => (o.token ? o.token() : { token, expiresOnTimestamp: Date.now() + 3_600_000 }),
      organization: contosoId(emu),
      connectionUri: emu.endpoints.exchangeAdminUrl,
      exchangeEnvironmentName: 'O365Default',
    },
    executable: process.execPath,
    args: [FAKE_BRIDGE],
    env: {
      NODE_EXTRA_CA_CERTS: emu.endpoints.caFile,
      FAKE_BRIDGE_LOG: logFile,
      FAKE_BRIDGE_STATE: path.join(dir, 'state.json'),
      FAKE_BRIDGE_FAULTS: JSON.stringify(o.faults ?? {}),
    },
    retryDeadlineMs: 0,
    closeGraceMs: 3000,
    onOutput: (line) => output.push(line),
    onRetry: (what) => retries.push(what),
    ...o.backend,
  });
  return {
    backend,
    token,
    dir,
    output,
    retries,
    log: () =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [],
  };
}

export async function errorKind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof ExchangeError ? err.kind : `not an ExchangeError: ${String(err)}`;
  }
}

type Row = Record<string, unknown>;
const lower = (v: unknown): string => (typeof v === 'string' ? v.toLowerCase() : '');
const rights = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/[\s,]+/) : [];

/**
 * The vendor sequence, through `invoke` only. Returns what a reader of the results would conclude, in a shape that
 * does not depend on the backend, plus the number of cmdlets run.
 */
export async function vendorSequence(exo: ExchangeBackend, emu: TestEmulator, label: string) {
  const app = enterpriseApp(emu, `SMTP sender ${label}`);
  const before = (await exo.invoke<Row>('Get-ServicePrincipal', { Identity: app.appId })).some(
    (r) => lower(r.AppId) === app.appId,
  );
  await exo.invoke('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId, DisplayName: `SMTP ${label}` });
  const sp = (await exo.invoke<Row>('Get-ServicePrincipal', { Identity: app.appId })).find(
    (r) => lower(r.AppId) === app.appId,
  );
  const duplicate = await errorKind(
    exo.invoke('New-ServicePrincipal', { AppId: app.appId, ObjectId: app.objectId, DisplayName: `SMTP ${label}` }),
  );
  await exo.invoke('Add-MailboxPermission', {
    Identity: AP,
    User: app.objectId,
    AccessRights: ['FullAccess'],
    AutoMapping: false,
    InheritanceType: 'All',
  });
  const forms = new Set([sp?.Identity, sp?.ObjectId, sp?.AppId, sp?.DisplayName].map(lower).filter(Boolean));
  const fullAccess = (await exo.invoke<Row>('Get-MailboxPermission', { Identity: AP })).some(
    (r) => forms.has(lower(r.User)) && rights(r.AccessRights).includes('FullAccess'),
  );
  await exo.invoke('Add-RecipientPermission', { Identity: SCANNER, Trustee: app.objectId, AccessRights: ['SendAs'] });
  const sendAs = (await exo.invoke<Row>('Get-RecipientPermission', { Identity: SCANNER })).some(
    (r) => forms.has(lower(r.Trustee)) && rights(r.AccessRights).includes('SendAs'),
  );
  // Several reads at once, as readSmtpAuth does: the pwsh backend queues them, answers still match by id.
  const [transport, org, casAp, casScanner] = await Promise.all([
    exo.invoke<Row>('Get-TransportConfig'),
    exo.invoke<Row>('Get-OrganizationConfig'),
    exo.invoke<Row>('Get-CASMailbox', { Identity: AP }),
    exo.invoke<Row>('Get-CASMailbox', { Identity: SCANNER }),
  ]);
  await exo.invoke('Set-CASMailbox', { Identity: AP, SmtpClientAuthenticationDisabled: false });
  const apEnabled = (await exo.invoke<Row>('Get-CASMailbox', { Identity: AP }))[0]?.SmtpClientAuthenticationDisabled;
  await exo.invoke('Set-CASMailbox', { Identity: AP, SmtpClientAuthenticationDisabled: null });
  const apInherit = (await exo.invoke<Row>('Get-CASMailbox', { Identity: AP }))[0]?.SmtpClientAuthenticationDisabled;
  const dn = (await exo.invoke<Row>('Get-DistributionGroup', { Identity: GROUP }))[0]?.DistinguishedName;
  const members = (
    await exo.invoke<Row>('Get-DistributionGroupMember', { Identity: GROUP, ResultSize: 'Unlimited' })
  ).map((r) => lower(r.PrimarySmtpAddress));
  const scopeName = `sendasapp-${label}-scope`;
  await exo.invoke('New-ManagementScope', {
    Name: scopeName,
    RecipientRestrictionFilter: `MemberOfGroup -eq '${String(dn)}'`,
  });
  const scope = (await exo.invoke<Row>('Get-ManagementScope', { Identity: scopeName })).find(
    (r) => lower(r.Name) === scopeName.toLowerCase(),
  );
  await exo.invoke('New-ManagementRoleAssignment', {
    Name: `sendasapp-${label}-smtp`,
    App: app.appId,
    Role: 'Application SMTP.SendAsApp',
    CustomResourceScope: scopeName,
  });
  const assignments = (await exo.invoke<Row>('Get-ManagementRoleAssignment', { RoleAssignee: app.appId })).filter(
    (r) => lower(r.Role) === 'application smtp.sendasapp',
  ).length;
  const authorized = (
    await exo.invoke<Row>('Test-ServicePrincipalAuthorization', { Identity: app.appId, Resource: AP })
  ).some((r) => lower(r.RoleName) === 'application smtp.sendasapp' && String(r.InScope).toLowerCase() === 'true');
  const errors = {
    unknownMailbox: await errorKind(exo.invoke('Get-Mailbox', { Identity: 'nobody@contoso.onmicrosoft.com' })),
    unknownParameter: await errorKind(exo.invoke('Get-Mailbox', { Identity: AP, NoSuchParameter: 'x' })),
    duplicate,
  };
  await exo.invoke('Remove-ServicePrincipal', { Identity: app.appId, Confirm: false });
  const after = (await exo.invoke<Row>('Get-ServicePrincipal', { Identity: app.appId })).some(
    (r) => lower(r.AppId) === app.appId,
  );
  return {
    app,
    summary: {
      before,
      registered: Boolean(sp),
      fullAccess,
      sendAs,
      organizationDisabled: transport[0]?.SmtpClientAuthenticationDisabled,
      oauth2: org[0]?.OAuth2ClientProfileEnabled,
      casRows: [casAp.length, casScanner.length],
      apEnabled,
      apInherit: apInherit ?? null,
      members: members.sort(),
      scope: Boolean(scope),
      assignments,
      authorized,
      errors,
      after,
    },
  };
}

/** What every backend must conclude from the vendor sequence. */
export const EXPECTED_SUMMARY = {
  before: false,
  registered: true,
  fullAccess: true,
  sendAs: true,
  organizationDisabled: true,
  oauth2: true,
  casRows: [1, 1],
  apEnabled: false,
  apInherit: null,
  members: [AP, SCANNER].sort(),
  scope: true,
  assignments: 1,
  authorized: true,
  errors: { unknownMailbox: 'not-found', unknownParameter: 'invalid-input', duplicate: 'already-exists' },
  after: false,
};
