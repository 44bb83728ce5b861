/**
 * The pwsh backend for real: PowerShell 7 running templates/exchange/bridge.ps1 unchanged, with the test module
 * test/pwsh/ExchangeOnlineManagement (same name as Microsoft's) first on PSModulePath, forwarding to the emulator.
 *
 * These tests need `pwsh` on PATH (or SENDASAPP_PWSH). Where it cannot be had they report themselves skipped, with
 * the reason in the suite's title; the protocol is then covered by pwsh-protocol.test.ts against a child process
 * speaking it.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExchangeError } from '../../src/exchange/backend.js';
import { PWSH_CMDLETS, PwshExchangeBackend, probePwsh } from '../../src/exchange/pwsh/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import {
  CONTOSO,
  EXPECTED_SUMMARY,
  INJECTIONS,
  TEST_MODULE_DIR,
  contosoId,
  exchangeToken,
  vendorSequence,
} from './scenario.js';

function findPwsh(): string | undefined {
  if (process.env.SENDASAPP_PWSH) return process.env.SENDASAPP_PWSH;
  const names = process.platform === 'win32' ? ['pwsh.exe'] : ['pwsh'];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean))
    for (const n of names) if (existsSync(path.join(dir, n))) return path.join(dir, n);
  return undefined;
}

const pwsh = findPwsh();
const REASON =
  'pwsh not installed: PowerShell 7 is not on PATH here (Debian has no package, and neither the PowerShell .NET ' +
  'global tool nor Microsoft.PowerShell.SDK is served by the package feed), so bridge.ps1 cannot run for real; ' +
  'the JSON-lines protocol is tested against test/fixtures/fake-bridge.mjs in pwsh-protocol.test.ts instead';
if (!pwsh) console.warn(`[pwsh-real] SKIPPED: ${REASON}`);

const TITLE = pwsh
  ? `real pwsh (${pwsh}): bridge.ps1 + test ExchangeOnlineManagement module + emulator`
  : `real pwsh: SKIPPED — ${REASON}`;

interface RealRun {
  backend: PwshExchangeBackend;
  token: string;
  /** The test module's log: connect / invoke / disconnect. */
  log(): Array<Record<string, unknown>>;
  output: string[];
}

describe.skipIf(!pwsh)(TITLE, () => {
  let emu: TestEmulator;
  const runs: RealRun[] = [];
  const modulePath = (): string => [TEST_MODULE_DIR, process.env.PSModulePath].filter(Boolean).join(path.delimiter);

  function real(env: Record<string, string> = {}, timeouts: { cmdletTimeoutMs?: number } = {}): RealRun {
    const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-pwsh-'));
    const logFile = path.join(dir, 'module.log');
    const token = exchangeToken(emu);
    const output: string[] = [];
    const backend = new PwshExchangeBackend({
      connect: {
        mode: 'access-token',
        getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
        organization: contosoId(emu),
        connectionUri: emu.endpoints.exchangeAdminUrl,
        exchangeEnvironmentName: 'O365Default',
      },
      executable: pwsh,
      env: {
        PSModulePath: modulePath(),
        SENDASAPP_TEST_EXO_LOG: logFile,
        SENDASAPP_TEST_EXO_STATE: dir,
        ...env,
      },
      timeoutMs: timeouts.cmdletTimeoutMs ?? 60_000,
      startTimeoutMs: 120_000,
      retryDeadlineMs: 0,
      onOutput: (line) => output.push(line),
    });
    const run: RealRun = {
      backend,
      token,
      output,
      log: () =>
        existsSync(logFile)
          ? readFileSync(logFile, 'utf8')
              .split(/\r?\n/)
              .filter(Boolean)
              .map((l) => JSON.parse(l) as Record<string, unknown>)
          : [],
    };
    runs.push(run);
    return run;
  }

  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => {
    await Promise.all(runs.map((r) => r.backend.close()));
    await emu?.close();
  });

  it('doctor probe: pwsh 7.4+ and the (test) module 3.9.2 are ready', async () => {
    const probe = await probePwsh({ executable: pwsh, env: { PSModulePath: modulePath() } });
    expect(probe.problems).toEqual([]);
    expect(probe.ready).toBe(true);
    expect(probe.module.selected).toBe('3.9.2');
  }, 120_000);

  it('runs the vendor sequence with one spawn, one Connect-ExchangeOnline, and Disconnect on close', async () => {
    const run = real();
    const { summary } = await vendorSequence(run.backend, emu, 'real-pwsh');
    expect(summary).toEqual(EXPECTED_SUMMARY);
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 1, restarts: 0 });
    await run.backend.close();
    const log = run.log();
    const connects = log.filter((e) => e.event === 'connect');
    expect(connects).toHaveLength(1);
    expect(connects[0]).toMatchObject({
      organization: contosoId(emu),
      connectionUri: emu.endpoints.exchangeAdminUrl,
      commandName: [...PWSH_CMDLETS],
      showBanner: false,
      skipLoadingFormatData: true,
      hasAccessToken: true,
      accessTokenOnCommandLine: false,
    });
    expect(new Set(log.map((e) => e.pid)).size).toBe(1);
    expect(log.at(-1)?.event).toBe('disconnect');
    expect(run.output.join('\n')).not.toContain(run.token);
    expect(run.backend.lastSpawn!.args.join(' ')).not.toContain(run.token);
  }, 180_000);

  it('passes injection strings verbatim as values and runs nothing else', async () => {
    const run = real();
    await emu.control.clearLog();
    for (const value of INJECTIONS) {
      const err = await run.backend.invoke('Get-Mailbox', { Identity: value }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExchangeError);
      expect((err as ExchangeError).kind).toBe('not-found');
      expect((err as ExchangeError).exchangeMessage).toContain(value);
      await run.backend.invoke('New-ManagementScope', {
        Name: value,
        RecipientRestrictionFilter: "DisplayName -eq 'Sales'",
      });
      const scopes = emu.store.findTenant(CONTOSO)!.exchange.managementScopes.map((s) => s.Name);
      expect(scopes).toContain(value);
    }
    // The session is still the first one (Stop-Process did not run), and it still answers.
    expect(await run.backend.invoke('Get-OrganizationConfig')).toHaveLength(1);
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 1, restarts: 0 });
    await run.backend.close();
    const invokes = run.log().filter((e) => e.event === 'invoke');
    expect(invokes.map((e) => e.cmdlet)).toEqual([
      'Get-Mailbox',
      'New-ManagementScope',
      'Get-Mailbox',
      'New-ManagementScope',
      'Get-OrganizationConfig',
    ]);
    expect(invokes.filter((e) => e.cmdlet === 'Get-Mailbox').map((e) => e.parameters)).toEqual(
      INJECTIONS.map((v) => ({ Identity: v })),
    );
    const cmdlets = (await emu.control.log({ service: 'exchange' })).map((e) => e.cmdlet).filter(Boolean);
    expect(new Set(cmdlets)).toEqual(new Set(['Get-Mailbox', 'New-ManagementScope', 'Get-OrganizationConfig']));
    expect(emu.store.findTenant(CONTOSO)!.users.some((u) => u.entity.mail.startsWith('admin@'))).toBe(true);
  }, 180_000);

  it('restarts and reconnects once after pwsh dies, then the call succeeds', async () => {
    const run = real({ SENDASAPP_TEST_EXO_CRASH_ON: 'Get-OrganizationConfig' });
    await run.backend.invoke('Get-TransportConfig');
    expect(await run.backend.invoke('Get-OrganizationConfig')).toHaveLength(1);
    expect(run.backend.stats).toMatchObject({ spawns: 2, connects: 2, restarts: 1 });
    await run.backend.close();
  }, 240_000);

  it('kills a hung pwsh after the cmdlet timeout, restarts it once, then the call succeeds', async () => {
    const run = real({ SENDASAPP_TEST_EXO_HANG_ON: 'Get-TransportConfig' }, { cmdletTimeoutMs: 5000 });
    expect(await run.backend.invoke('Get-TransportConfig')).toHaveLength(1);
    expect(run.backend.stats).toMatchObject({ spawns: 2, connects: 2, restarts: 1 });
    await run.backend.close();
  }, 240_000);
});
