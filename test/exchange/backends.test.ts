/**
 * One definition, two backends: the Exchange half of provisioning (src/exchange's resource functions, through
 * `coalesceReads` as a run uses them) against the emulator, through the REST backend and through a REAL pwsh running
 * templates/exchange/bridge.ps1 with the stand-in ExchangeOnlineManagement module. Both must reach the same state and
 * report the same error kinds. Then the cases only a pwsh session has (one spawn and one Connect per tenant run,
 * batching, crash and hang restarts, timeouts, Ctrl-C, no orphaned PowerShell, the environment it is given).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ExchangeError, type ExchangeBackend } from '../../src/exchange/backend.js';
import { coalesceReads } from '../../src/exchange/batching.js';
import {
  assignSmtpRole,
  grantFullAccess,
  grantSendAs,
  groupDistinguishedName,
  groupMembers,
  hasFullAccess,
  hasSendAs,
  readExchangeServicePrincipal,
  readManagementScope,
  readRoleAssignments,
  readSmtpAuth,
  registerExchangeServicePrincipal,
  removeExchangeServicePrincipal,
  setMailboxSmtpAuth,
  setOrganizationSmtpAuth,
  testAuthorization,
  writeManagementScope,
} from '../../src/exchange/resources.js';
import { chooseExchangeBackend, PWSH_CMDLETS, type PwshExchangeBackend } from '../../src/exchange/pwsh/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import {
  describeEachBackend,
  describeWithPwsh,
  makeBackend,
  pwshProcesses,
  realPwsh,
  type BackendName,
  type RealPwsh,
} from './backends.js';
import { AP, CONTOSO, GROUP, INJECTIONS, SCANNER, enterpriseApp, errorKind } from './scenario.js';

/** The Exchange half of an apply, through the resource functions; what a reader of the tenant would conclude. */
async function exchangeScenario(exo: ExchangeBackend, emu: TestEmulator, label: string) {
  const app = enterpriseApp(emu, `SMTP sender ${label}`);
  const absent = await readExchangeServicePrincipal(exo, app.appId);
  await registerExchangeServicePrincipal(exo, app.appId, app.objectId, `SMTP ${label}`);
  await registerExchangeServicePrincipal(exo, app.appId, app.objectId, `SMTP ${label}`); // converges
  const sp = (await readExchangeServicePrincipal(exo, app.appId))!;

  await grantFullAccess(exo, AP, sp);
  await grantFullAccess(exo, AP, sp); // converges
  await grantSendAs(exo, SCANNER, sp);
  const [fullAccess, sendAs, noSendAsOnAp] = await Promise.all([
    hasFullAccess(exo, AP, sp),
    hasSendAs(exo, SCANNER, sp),
    hasSendAs(exo, AP, sp),
  ]);

  const smtpBefore = await readSmtpAuth(exo, [AP, SCANNER]);
  await setMailboxSmtpAuth(exo, AP, false);
  await setMailboxSmtpAuth(exo, SCANNER, null);
  await setOrganizationSmtpAuth(exo, true);
  const smtpAfter = await readSmtpAuth(exo, [AP, SCANNER]);

  const [dn, members] = await Promise.all([groupDistinguishedName(exo, GROUP), groupMembers(exo, GROUP)]);
  const scopeName = `sendasapp-${label}-scope`;
  const scopeBefore = await readManagementScope(exo, scopeName);
  await writeManagementScope(exo, scopeName, `MemberOfGroup -eq '${dn}'`, false);
  await writeManagementScope(exo, scopeName, `MemberOfGroup -eq '${dn}'`, true); // Set- on an existing scope
  const scope = await readManagementScope(exo, scopeName);
  await assignSmtpRole(exo, app.appId, scopeName, `sendasapp-${label}-smtp`);
  await assignSmtpRole(exo, app.appId, scopeName, `sendasapp-${label}-smtp`); // converges
  const [assignments, authorized, notInScope] = await Promise.all([
    readRoleAssignments(exo, app.appId),
    testAuthorization(exo, app.appId, AP),
    testAuthorization(exo, app.appId, 'it@contoso.onmicrosoft.com'),
  ]);

  const errors = {
    unknownMailbox: await errorKind(exo.invoke('Get-Mailbox', { Identity: 'nobody@contoso.onmicrosoft.com' })),
    unknownParameter: await errorKind(exo.invoke('Get-Mailbox', { Identity: AP, NoSuchParameter: 'x' })),
    badFilter: await errorKind(
      exo.invoke('New-ManagementScope', { Name: `${label}-bad`, RecipientRestrictionFilter: "NoSuchProperty -eq 'x'" }),
    ),
    unknownGroup: await errorKind(groupMembers(exo, 'no-such-group')),
  };

  await removeExchangeServicePrincipal(exo, app.appId);
  await removeExchangeServicePrincipal(exo, app.appId); // already gone: no error
  const removed = (await readExchangeServicePrincipal(exo, app.appId)) === undefined;
  return {
    absent: absent === undefined,
    registered: sp.AppId.toLowerCase() === app.appId,
    fullAccess,
    sendAs,
    noSendAsOnAp,
    smtpBefore,
    smtpAfter,
    members: [...members].sort(),
    scopeBefore: scopeBefore === undefined,
    // Exchange answers the filter as RecipientFilter (the row has no RecipientRestrictionFilter).
    scopeFilter: (scope as { RecipientFilter?: string } | undefined)?.RecipientFilter,
    assignments: assignments.map((a) => a.Role),
    authorized,
    notInScope,
    errors,
    removed,
  };
}

const EXPECTED = {
  absent: true,
  registered: true,
  fullAccess: true,
  sendAs: true,
  noSendAsOnAp: false,
  smtpBefore: {
    organizationDisabled: true,
    mailboxes: { [AP]: null, [SCANNER]: null },
    oauth2ClientProfileEnabled: true,
  },
  smtpAfter: {
    organizationDisabled: true,
    mailboxes: { [AP]: false, [SCANNER]: null },
    oauth2ClientProfileEnabled: true,
  },
  members: [AP, SCANNER].sort(),
  scopeBefore: true,
  assignments: ['Application SMTP.SendAsApp'],
  authorized: true,
  notInScope: false,
  errors: {
    unknownMailbox: 'not-found',
    unknownParameter: 'invalid-input',
    badFilter: 'invalid-input',
    unknownGroup: 'not-found',
  },
  removed: true,
};

describeEachBackend('the Exchange half of a run', (name: BackendName) => {
  let emu: TestEmulator;
  const open: ExchangeBackend[] = [];
  const runs: RealPwsh[] = [];
  const backend = (o: Parameters<typeof makeBackend>[2] = {}): ExchangeBackend => {
    const b = name === 'pwsh' ? track(realPwsh(emu, o)) : makeBackend(name, emu, o);
    open.push(b);
    return b;
  };
  const track = (r: RealPwsh): ExchangeBackend => {
    runs.push(r);
    return r.backend;
  };

  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => {
    await Promise.all(open.map((b) => b.close()));
    await emu?.close();
  });

  it('service principal, FullAccess, SendAs, SMTP AUTH (org and mailbox), RBAC scope and role: same state, same error kinds', async () => {
    const inner = backend();
    const exo = coalesceReads(inner);
    const result = await exchangeScenario(exo, emu, name);
    expect(result).toMatchObject(EXPECTED);
    expect(result.scopeFilter).toMatch(/^MemberOfGroup -eq 'CN=/);
    // What the emulator holds, independent of what the backend reported.
    const tenant = emu.store.findTenant(CONTOSO)!;
    expect(tenant.exchange.managementScopes.map((s) => s.Name)).toContain(`sendasapp-${name}-scope`);
    if (name === 'pwsh') {
      const stats = (inner as PwshExchangeBackend).stats;
      // One PowerShell and one Connect-ExchangeOnline for the whole tenant run.
      expect(stats).toMatchObject({ spawns: 1, connects: 1, restarts: 0 });
      // Reads issued together went as one message each (readSmtpAuth: 4 cmdlets, 1 message).
      expect(stats.cmdlets).toBeGreaterThan(stats.requests);
    }
    await exo.close();
  });

  it('passes injection strings verbatim as values: nothing else runs', async () => {
    const exo = backend();
    await emu.control.clearLog();
    for (const value of INJECTIONS) {
      const err = await exo.invoke('Get-Mailbox', { Identity: value }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExchangeError);
      expect((err as ExchangeError).kind).toBe('not-found');
      expect((err as ExchangeError).exchangeMessage).toContain(value);
      // An injected scope name beside a real recipient filter (Department is one of Exchange's filterable properties).
      await exo.invoke('New-ManagementScope', { Name: value, RecipientRestrictionFilter: "Department -eq 'Sales'" });
    }
    const tenant = emu.store.findTenant(CONTOSO)!;
    expect(tenant.exchange.managementScopes.map((s) => s.Name)).toEqual(expect.arrayContaining(INJECTIONS));
    // The same session still answers (Stop-Process did not run), and only the cmdlets asked for reached Exchange.
    expect(await exo.invoke('Get-OrganizationConfig')).toHaveLength(1);
    const cmdlets = (await emu.control.log({ service: 'exchange' })).map((e) => e.cmdlet).filter(Boolean);
    expect(new Set(cmdlets)).toEqual(new Set(['Get-Mailbox', 'New-ManagementScope', 'Get-OrganizationConfig']));
    expect(tenant.users.some((u) => u.entity.mail.startsWith('admin@'))).toBe(true);
    if (name === 'pwsh') expect((exo as PwshExchangeBackend).stats).toMatchObject({ spawns: 1, restarts: 0 });
  });

  it('an app without an Exchange role is refused: access-denied', async () => {
    const stranger = enterpriseApp(emu, `no role ${name}`);
    const token = emu.mintAppToken(CONTOSO, stranger.appId, 'exchange');
    const exo = backend({ token });
    expect(await errorKind(exo.invoke('Get-TransportConfig'))).toBe('access-denied');
  });

  it('a throttled call is waited out and succeeds', async () => {
    const exo = backend({ retryDeadlineMs: 30_000 });
    await exo.invoke('Get-OrganizationConfig'); // connected before the throttling starts
    await emu.control.setKnobs({ throttle: { every: 2, services: ['exchange'], retryAfterSeconds: 1 } });
    try {
      for (let i = 0; i < 3; i++) expect(await exo.invoke('Get-OrganizationConfig')).toHaveLength(1);
      if (name === 'pwsh') {
        // The module waited Retry-After and retried by itself (as ExchangeOnlineManagement does): the backend never
        // saw the 429.
        const run = runs.at(-1)!;
        expect(run.log().filter((e) => e.event === 'retry').length).toBeGreaterThanOrEqual(1);
        expect(run.retries).toEqual([]);
      }
    } finally {
      await emu.control.setKnobs({ throttle: { every: 0, services: ['graph', 'exchange'], retryAfterSeconds: 1 } });
    }
  });
});

describeWithPwsh('pwsh only: one session per tenant run, restarts, timeouts, no orphans', () => {
  let emu: TestEmulator;
  const runs: RealPwsh[] = [];
  const real = (o: Parameters<typeof realPwsh>[1] = {}): RealPwsh => {
    const r = realPwsh(emu, o);
    runs.push(r);
    return r;
  };

  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => {
    await Promise.all(runs.map((r) => r.backend.close()));
    await emu?.close();
  });

  it('start() spawns and connects at once; probe() answers from the same process; one Connect with the whitelist', async () => {
    const run = real();
    void run.backend.start();
    const probe = await run.backend.probe();
    expect(probe).toMatchObject({ ready: true, problems: [] });
    expect(probe.module.selected).toBe('3.9.2');
    expect(chooseExchangeBackend('auto', probe)).toMatchObject({ ok: true, backend: 'pwsh' });
    await run.backend.start();
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 1, requests: 0 });
    expect(run.backend.stats.helloMs).toBeGreaterThan(0);
    expect(run.backend.stats.importMs).toBeGreaterThanOrEqual(0);
    await run.backend.invoke('Get-OrganizationConfig');
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 1, requests: 1 });
    await run.backend.close();
    const log = run.log();
    const connects = log.filter((e) => e.event === 'connect');
    expect(connects).toHaveLength(1);
    expect(connects[0]).toMatchObject({
      commandName: [...PWSH_CMDLETS],
      showBanner: false,
      skipLoadingFormatData: true,
      hasAccessToken: true,
      accessTokenOnCommandLine: false,
    });
    expect(log.at(-1)?.event).toBe('disconnect');
    expect(run.output.join('\n')).not.toContain(run.token);
  });

  it('invokeMany: several reads in ONE message, answered in order, an error in its own slot', async () => {
    const run = real();
    const answers = await run.backend.invokeMany([
      { cmdlet: 'Get-TransportConfig' },
      { cmdlet: 'Get-Mailbox', parameters: { Identity: 'nobody@contoso.onmicrosoft.com' } },
      { cmdlet: 'Get-CASMailbox', parameters: { Identity: AP } },
      { cmdlet: 'Remove-Mailbox', parameters: { Identity: AP } },
    ]);
    expect(answers[0]).toHaveLength(1);
    expect(answers[1]).toBeInstanceOf(ExchangeError);
    expect((answers[1] as ExchangeError).kind).toBe('not-found');
    expect((answers[2] as Array<{ PrimarySmtpAddress?: string }>)[0]?.PrimarySmtpAddress?.toLowerCase()).toBe(AP);
    expect((answers[3] as ExchangeError).kind).toBe('invalid-input');
    expect(run.backend.stats).toMatchObject({ requests: 1, cmdlets: 3 });
    expect(
      run
        .log()
        .filter((e) => e.event === 'invoke')
        .map((e) => e.cmdlet),
    ).toEqual(['Get-TransportConfig', 'Get-Mailbox', 'Get-CASMailbox']);
  });

  it('restarts and reconnects once after pwsh dies, and the call succeeds', async () => {
    const run = real({ env: { SENDASAPP_TEST_EXO_CRASH_ON: 'Get-OrganizationConfig' } });
    await run.backend.invoke('Get-TransportConfig');
    expect(await run.backend.invoke('Get-OrganizationConfig')).toHaveLength(1);
    expect(run.backend.stats).toMatchObject({ spawns: 2, connects: 2, restarts: 1 });
    expect(run.retries.some((r) => /restarting it and reconnecting/.test(r))).toBe(true);
    await run.backend.close();
    expect(pwshProcesses(run.dir)).toEqual([]);
  });

  it('kills a hung pwsh (the whole process group) after the cmdlet timeout, restarts once, and the call succeeds', async () => {
    const run = real({
      env: { SENDASAPP_TEST_EXO_HANG_ON: 'Get-TransportConfig' },
      backend: { cmdletTimeoutMs: { 'Get-TransportConfig': 4000 } },
    });
    await run.backend.start();
    const first = pwshProcesses(run.dir);
    expect(first.length).toBeGreaterThanOrEqual(1); // the shim and the engine behind it, where pwsh is the tool's
    expect(await run.backend.invoke('Get-TransportConfig')).toHaveLength(1);
    expect(run.backend.stats).toMatchObject({ spawns: 2, connects: 2, restarts: 1 });
    // Nothing of the hung session is left: only the new session's processes run.
    const now = pwshProcesses(run.dir);
    expect(now.filter((pid) => first.includes(pid))).toEqual([]);
    await run.backend.close();
    expect(pwshProcesses(run.dir)).toEqual([]);
  });

  it('gives the session up with a clear sentence when pwsh hangs again after its restart (timeouts)', async () => {
    const run = real({
      env: { SENDASAPP_TEST_EXO_HANG_ON: 'Get-TransportConfig', SENDASAPP_TEST_EXO_FAULT_TIMES: '2' },
      backend: { cmdletTimeoutMs: { 'Get-TransportConfig': 3000 } },
    });
    const err = await run.backend.invoke('Get-TransportConfig').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExchangeError);
    expect((err as ExchangeError).kind).toBe('transient');
    expect((err as ExchangeError).exchangeMessage).toMatch(/hung .*already been restarted once.*given up/);
    // Later calls fail at once with the same error, without a third pwsh.
    expect(await run.backend.invoke('Get-OrganizationConfig').catch((e: unknown) => e)).toBe(err);
    expect(run.backend.stats.spawns).toBe(2);
    await run.backend.close();
    expect(pwshProcesses(run.dir)).toEqual([]);
  });

  it('Ctrl-C: the pending call ends at once and no PowerShell outlives the run', async () => {
    const abort = new AbortController();
    const run = real({
      env: { SENDASAPP_TEST_EXO_HANG_ON: 'Get-TransportConfig' },
      backend: { signal: abort.signal, closeGraceMs: 1000 },
    });
    await run.backend.start();
    expect(pwshProcesses(run.dir).length).toBeGreaterThanOrEqual(1);
    const pending = run.backend.invoke('Get-TransportConfig').catch((e: unknown) => e);
    // Let the bridge get into the hung cmdlet (its log says so) before the user presses Ctrl-C.
    for (let i = 0; i < 200 && !run.log().some((e) => e.event === 'invoke'); i++)
      await new Promise((r) => setTimeout(r, 50));
    abort.abort(new Error('interrupted'));
    expect(((await pending) as Error).message).toBe('interrupted');
    await run.backend.close();
    expect(pwshProcesses(run.dir)).toEqual([]);
  });

  it('after a normal close no PowerShell process of the run is left', async () => {
    const run = real();
    await run.backend.invoke('Get-OrganizationConfig');
    expect(pwshProcesses(run.dir).length).toBeGreaterThanOrEqual(1);
    await run.backend.close();
    expect(pwshProcesses(run.dir)).toEqual([]);
  });

  it('pwsh is given only what it needs: no AZURE_CLIENT_SECRET or other credential of the run', async () => {
    const envLog = `${process.env.TMPDIR ?? '/tmp'}/sendasapp-env-${process.pid}-${Date.now()}.json`;
    const run = real({
      env: { SENDASAPP_TEST_EXO_ENV_LOG: envLog },
      backend: {
        parentEnv: {
          ...process.env,
          AZURE_CLIENT_SECRET: 'operator-secret-value',
          AZURE_CLIENT_CERTIFICATE_PASSWORD: 'pfx-password',
          AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
          SENDASAPP_EXO_CERTIFICATE_PASSWORD: 'another',
          GITHUB_TOKEN: 'ghp_x',
        },
      },
    });
    await run.backend.invoke('Get-OrganizationConfig');
    const { readFileSync } = await import('node:fs');
    const names = JSON.parse(readFileSync(envLog, 'utf8')) as string[];
    expect(names).toContain('PATH');
    expect(names).toContain('PSModulePath');
    for (const secret of [
      'AZURE_CLIENT_SECRET',
      'AZURE_CLIENT_CERTIFICATE_PASSWORD',
      'AZURE_CLIENT_ID',
      'SENDASAPP_EXO_CERTIFICATE_PASSWORD',
      'GITHUB_TOKEN',
    ])
      expect(names).not.toContain(secret);
    expect(names.filter((n) => /secret|password|token/i.test(n))).toEqual([]);
  });
});
