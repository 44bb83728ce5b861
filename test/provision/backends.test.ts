/**
 * The provisioning scenarios through both Exchange backends, from one definition: a whole TenantRun (preflight,
 * writes, proof, rerun) with `--exchange rest` and with `--exchange pwsh` (a real PowerShell 7 running the bridge and
 * the stand-in ExchangeOnlineManagement module against the emulator). Each checks the tenant in the emulator and
 * that a rerun writes nothing. With pwsh, it also checks one bridge per run and no PowerShell left behind.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, FABRIKAM, tempDir } from '../helpers/e2e.js';
import { FAST_HOOKS, reportOf, runTenant, type RunFlags } from '../helpers/provision.js';
import { cliEnvFor, describeEachBackend, pwshProcesses, type BackendName } from '../exchange/backends.js';

interface Scenario {
  name: string;
  flags: (dir: string) => RunFlags;
  /** What the tenant must hold afterwards (Exchange side). */
  expect: (emu: TestEmulator, appId: string, tenant: string) => void;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'one tenant, FullAccess, secret, SMTP AUTH per mailbox',
    flags: (dir) => ({
      tenant: CONTOSO,
      mailbox: [`scanner@${CONTOSO}`, `ap@${CONTOSO}`],
      appName: 'Both Backends FullAccess',
      secretOut: path.join(dir, 'full.json'),
      enableSmtpAuth: 'mailbox',
    }),
    expect(emu, appId, tenant) {
      const t = emu.store.findTenant(tenant)!;
      const sp = t.exchange.servicePrincipals.find((s) => s.AppId === appId)!;
      expect(sp).toBeDefined();
      expect(t.exchange.mailboxPermissions.filter((p) => p.trustee.id === sp.Identity)).toHaveLength(2);
    },
  },
  {
    name: 'cross-tenant (app in contoso, mailboxes in fabrikam), SendAs, SMTP AUTH for the organization',
    flags: (dir) => ({
      tenant: FABRIKAM,
      homeTenant: CONTOSO,
      mailbox: [`scanner@${FABRIKAM}`],
      mailboxAccess: 'send-as',
      appName: 'Both Backends Cross',
      secretOut: path.join(dir, 'cross.json'),
      enableSmtpAuth: 'org',
    }),
    expect(emu, appId, tenant) {
      const t = emu.store.findTenant(tenant)!;
      const sp = t.exchange.servicePrincipals.filter((s) => s.AppId === appId);
      expect(sp).toHaveLength(1);
      expect(t.exchange.recipientPermissions.filter((p) => p.trustee.id === sp[0]!.Identity)).toHaveLength(1);
      expect(t.exchange.transportConfig.SmtpClientAuthenticationDisabled).toBe(false);
    },
  },
  {
    name: 'rbac over a group, certificate',
    flags: (dir) => ({
      tenant: CONTOSO,
      group: 'smtp-senders',
      mailboxAccess: 'rbac',
      credential: 'certificate',
      appName: 'Both Backends RBAC',
      secretOut: path.join(dir, 'rbac.json'),
      enableSmtpAuth: 'mailbox',
    }),
    expect(emu, appId, tenant) {
      const t = emu.store.findTenant(tenant)!;
      expect(t.exchange.managementRoleAssignments.filter((a) => a.App === appId)).toHaveLength(1);
    },
  },
];

describeEachBackend('tenant runs through the Exchange backend', (backend: BackendName) => {
  let emu: TestEmulator;
  let dir: string;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = tempDir(`sendasapp-backends-${backend}-`);
    // The run finds pwsh and the stand-in module the way the CLI does: from the environment.
    const env = {
      ...cliEnvFor(backend),
      SENDASAPP_TEST_MARKER: dir,
      ...(backend === 'pwsh' ? { SENDASAPP_PWSH_PASS_ENV: 'SENDASAPP_TEST_MARKER' } : {}),
    };
    for (const [k, v] of Object.entries(env)) {
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

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const flags = { ...s.flags(dir), exchange: backend, wait: '2m' };
      const first = await runTenant(emu, flags, 'prove', { hooks: FAST_HOOKS });
      expect(first.result.outcome, JSON.stringify(first.result.failure ?? first.result.verification)).toBe('ok');
      expect(first.result.exchange?.backend).toBe(backend);
      expect(first.result.verification?.status).toBe('passed');
      s.expect(emu, first.result.application.appId!, String((flags as RunFlags).tenant));
      const rerun = await runTenant(emu, flags, 'apply', { hooks: FAST_HOOKS });
      expect(rerun.result.outcome).toBe('ok');
      expect(rerun.writes).toEqual([]);
      expect(reportOf(rerun.result, 'exchange.servicePrincipal')?.status).toBe('unchanged');
      if (backend === 'pwsh') expect(pwshProcesses(dir)).toEqual([]);
    });
  }
});
