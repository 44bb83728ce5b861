/**
 * The pwsh backend's JSON-lines protocol, tested NOW against a child process that speaks it
 * (test/fixtures/fake-bridge.mjs forwards each cmdlet to the emulator's InvokeCommand). The real PwshExchangeBackend
 * runs unchanged; only the executable and its arguments are swapped. The same scenario runs through the REST backend
 * so that both backends are held to one set of expectations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExchangeError, type ExchangeBackend } from '../../src/exchange/backend.js';
import {
  PWSH_CMDLETS,
  bridgeErrorMessage,
  chooseExchangeBackend,
  classifyBridgeError,
} from '../../src/exchange/pwsh/index.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import {
  AP,
  EXPECTED_SUMMARY,
  INJECTIONS,
  contosoId,
  errorKind,
  makePwshFake,
  makeRest,
  vendorSequence,
  type FakeBridgeRun,
} from './scenario.js';

let emu: TestEmulator;
const runs: FakeBridgeRun[] = [];

function fake(o: Parameters<typeof makePwshFake>[1] = {}): FakeBridgeRun {
  const run = makePwshFake(emu, o);
  runs.push(run);
  return run;
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  await Promise.all(runs.map((r) => r.backend.close()));
  await emu.close();
});

describe.each([
  ['rest', (): ExchangeBackend => makeRest(emu)],
  ['pwsh (fake bridge)', (): ExchangeBackend => fake().backend],
])('shared Exchange scenario through the %s backend', (label, make) => {
  it('runs the vendor sequence and maps errors to the same kinds', async () => {
    const exo = make();
    try {
      const { summary } = await vendorSequence(exo, emu, label.replace(/\W+/g, '-'));
      expect(summary).toEqual(EXPECTED_SUMMARY);
    } finally {
      await exo.close();
    }
  });
});

describe('pwsh backend against a child process speaking the bridge protocol', () => {
  it('makes one spawn and one Connect for a whole run, and disconnects on close', async () => {
    const run = fake();
    const { summary } = await vendorSequence(run.backend, emu, 'one-spawn');
    expect(summary).toEqual(EXPECTED_SUMMARY);
    const stats = { ...run.backend.stats };
    expect(stats).toMatchObject({ spawns: 1, connects: 1, restarts: 0 });
    expect(stats.requests).toBe(run.backend.requestCount);
    expect(stats.requests).toBeGreaterThanOrEqual(20);
    expect(stats.psVersion).toBe('7.4.99-fake');
    expect(stats.moduleVersion).toBe('3.9.2-fake');
    await run.backend.close();
    const log = run.log();
    expect(log.filter((e) => e.event === 'spawn')).toHaveLength(1);
    const connects = log.filter((e) => e.event === 'connect');
    expect(connects).toHaveLength(1);
    expect(connects[0]).toMatchObject({
      mode: 'AccessToken',
      organization: contosoId(emu),
      connectionUri: emu.endpoints.exchangeAdminUrl,
      environment: 'O365Default',
      commandName: [...PWSH_CMDLETS],
      hasAccessToken: true,
    });
    expect(log.filter((e) => e.event === 'invoke')).toHaveLength(stats.requests);
    expect(log.at(-1)?.event).toBe('disconnect');
    // The emulator saw the same cmdlets, all under one token.
    const exchangeLog = (await emu.control.log({ service: 'exchange' })).filter((e) => e.cmdlet);
    expect(exchangeLog.length).toBeGreaterThanOrEqual(stats.requests);
  });

  it('spawns nothing until the first cmdlet, and refuses cmdlets outside the whitelist before starting', async () => {
    const run = fake();
    expect(run.backend.stats.spawns).toBe(0);
    const err = await run.backend.invoke('Remove-Mailbox', { Identity: 'admin' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExchangeError);
    expect((err as ExchangeError).kind).toBe('invalid-input');
    expect(run.backend.stats.spawns).toBe(0);
    await run.backend.close();
    expect(run.log()).toEqual([]);
  });

  it('matches answers to requests by id when calls overlap, and ignores host output on stdout', async () => {
    const run = fake({ faults: { noise: true } });
    const mailboxes = emu.endpoints.tenants.find((t) => t.domain === 'contoso.onmicrosoft.com')!.mailboxes;
    const answers = await Promise.all(
      mailboxes.map((m) => run.backend.invoke<{ PrimarySmtpAddress?: string }>('Get-Mailbox', { Identity: m })),
    );
    expect(answers.map((a) => a[0]?.PrimarySmtpAddress?.toLowerCase())).toEqual(mailboxes.map((m) => m.toLowerCase()));
    expect(run.output.some((l) => l.includes('host output, not a protocol answer'))).toBe(true);
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 1, requests: mailboxes.length });
    await run.backend.close();
  });

  it('maps PowerShell error categories and reasons to the REST error kinds', async () => {
    const errorOn = {
      'Get-Mailbox': {
        category: 'NotSpecified',
        reason: 'ManagementObjectNotFoundException',
        errorId: '[Server=X] [FailureCategory=Cmdlet-ManagementObjectNotFoundException] 6D1E1E5F,Get-Mailbox',
        message:
          "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'x' couldn't be found.",
      },
      'New-ServicePrincipal': { category: 'ResourceExists', message: "The object 'x' already exists." },
      'Add-MailboxPermission': { category: 'PermissionDenied', message: 'Access denied' },
      'Get-TransportConfig': { category: 'LimitsExceeded', message: 'the request was throttled' },
      'Get-OrganizationConfig': { category: 'OperationTimeout', message: 'The operation has timed out.' },
      'Get-CASMailbox': { category: 'ConnectionError', message: 'No such host is known.' },
      'Set-CASMailbox': { category: 'InvalidArgument', errorId: 'ParameterArgumentValidationError', message: 'bad' },
      'Get-RecipientPermission': { category: 'ObjectNotFound', reason: 'CommandNotFoundException', message: 'x' },
      'Get-ServicePrincipal': { category: 'NotSpecified', message: 'something else' },
    };
    const run = fake({ faults: { errorOn } });
    const kinds = Object.fromEntries(
      await Promise.all(
        Object.keys(errorOn).map(async (c) => [c, await errorKind(run.backend.invoke(c, { Identity: 'x' }))]),
      ),
    );
    expect(kinds).toEqual({
      'Get-Mailbox': 'not-found',
      'New-ServicePrincipal': 'already-exists',
      'Add-MailboxPermission': 'access-denied',
      'Get-TransportConfig': 'throttled',
      'Get-OrganizationConfig': 'transient',
      'Get-CASMailbox': 'transient',
      'Set-CASMailbox': 'invalid-input',
      'Get-RecipientPermission': 'access-denied',
      'Get-ServicePrincipal': 'unknown',
    });
    const err = await run.backend.invoke('Get-Mailbox', { Identity: 'x' }).catch((e: ExchangeError) => e);
    expect((err as ExchangeError).exchangeMessage).toBe(
      "The operation couldn't be performed because object 'x' couldn't be found.",
    );
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 1, restarts: 0 });
    await run.backend.close();
  });

  it('retries a throttled cmdlet until its deadline, then reports it throttled', async () => {
    const slept: number[] = [];
    const run = fake({
      faults: { errorOn: { 'Get-TransportConfig': { category: 'LimitsExceeded', message: 'throttled' } } },
      backend: {
        retryDeadlineMs: 2500,
        sleep: async (ms) => {
          slept.push(ms);
        },
      },
    });
    expect(await errorKind(run.backend.invoke('Get-TransportConfig'))).toBe('throttled');
    expect(slept).toEqual([1000, 2000]);
    expect(run.backend.stats.requests).toBe(3);
    await run.backend.close();
  });

  it('carries injection strings verbatim as parameter values', async () => {
    const run = fake();
    for (const value of INJECTIONS) {
      const err = await run.backend.invoke('Get-Mailbox', { Identity: value }).catch((e: ExchangeError) => e);
      expect((err as ExchangeError).kind).toBe('not-found');
      expect((err as ExchangeError).exchangeMessage).toContain(value);
    }
    await run.backend.close();
    const invokes = run.log().filter((e) => e.event === 'invoke');
    expect(invokes.map((e) => e.parameters)).toEqual(INJECTIONS.map((v) => ({ Identity: v })));
    expect(invokes.every((e) => e.cmdlet === 'Get-Mailbox')).toBe(true);
  });

  it('restarts and reconnects once after a crash, and the call succeeds', async () => {
    const run = fake({ faults: { crashOn: 'Get-OrganizationConfig', crashTimes: 1 } });
    await run.backend.invoke('Get-TransportConfig');
    const rows = await run.backend.invoke('Get-OrganizationConfig');
    expect(rows).toHaveLength(1);
    await run.backend.invoke('Get-TransportConfig');
    expect(run.backend.stats).toMatchObject({ spawns: 2, connects: 2, restarts: 1 });
    expect(run.retries.join('\n')).toMatch(/exited with code 70.*crashes on purpose.*restarting it and reconnecting/);
    await run.backend.close();
    expect(run.log().filter((e) => e.event === 'spawn')).toHaveLength(2);
  });

  it('fails clearly when pwsh crashes again after its one restart, and stays failed', async () => {
    const run = fake({ faults: { crashOn: 'Get-OrganizationConfig', crashTimes: 2 } });
    const err = await run.backend.invoke('Get-OrganizationConfig').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExchangeError);
    expect((err as ExchangeError).kind).toBe('transient');
    expect((err as ExchangeError).message).toMatch(
      /PowerShell \(.+\) exited with code 70 .*while running Get-OrganizationConfig, after it had already been restarted once; the Exchange session is given up\. Fix: rerun/,
    );
    expect(run.backend.stats).toMatchObject({ spawns: 2, restarts: 1 });
    const again = await run.backend.invoke('Get-TransportConfig').catch((e: unknown) => e);
    expect(again).toBe(err);
    expect(run.backend.stats.spawns).toBe(2);
    await run.backend.close();
  });

  it('kills a hung bridge after the cmdlet timeout, restarts it once, and the call succeeds', async () => {
    const run = fake({
      faults: { hangOn: 'Get-TransportConfig', hangTimes: 1 },
      backend: { cmdletTimeoutMs: { 'Get-TransportConfig': 1500 } },
    });
    await run.backend.invoke('Get-OrganizationConfig');
    const first = run.log().find((e) => e.event === 'spawn')!.pid as number;
    const started = Date.now();
    const rows = await run.backend.invoke('Get-TransportConfig');
    expect(rows).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(run.backend.stats).toMatchObject({ spawns: 2, connects: 2, restarts: 1 });
    expect(run.retries.join('\n')).toMatch(/hung \(gave no answer within 2 s\)/);
    expect(alive(first)).toBe(false);
    await run.backend.close();
  });

  it('gives up with a clear message when the bridge hangs again after its restart', async () => {
    const run = fake({
      faults: { hangOn: 'Get-TransportConfig', hangTimes: 2 },
      backend: { timeoutMs: 1000 },
    });
    const err = await run.backend.invoke('Get-TransportConfig').catch((e: unknown) => e);
    expect((err as ExchangeError).message).toMatch(
      /hung \(gave no answer within 1 s\) while running Get-TransportConfig, after it had already been restarted once/,
    );
    expect(run.backend.stats).toMatchObject({ spawns: 2, restarts: 1 });
    await run.backend.close();
    for (const e of run.log().filter((l) => l.event === 'spawn')) expect(alive(e.pid as number)).toBe(false);
  });

  it('restarts once when the bridge dies during Connect', async () => {
    const run = fake({ faults: { crashOnConnect: 1 } });
    expect(await run.backend.invoke('Get-TransportConfig')).toHaveLength(1);
    expect(run.backend.stats).toMatchObject({ spawns: 2, connects: 1, restarts: 1 });
    await run.backend.close();
  });

  it('does not restart when the bridge reports that the module is missing, and says what to do', async () => {
    const run = fake({
      faults: {
        failConnect: {
          stage: 'module',
          error: {
            category: 'ObjectNotInstalled',
            errorId: 'ModuleNotFound',
            message:
              'ExchangeOnlineManagement >=3.1.0 <4.0.0 that runs on pwsh 7.4.6 is not installed (found: none installed)',
          },
        },
      },
    });
    const err = await run.backend.invoke('Get-TransportConfig').catch((e: ExchangeError) => e);
    expect((err as ExchangeError).cmdlet).toBe('Import-Module ExchangeOnlineManagement');
    expect((err as ExchangeError).message).toContain(
      'is not installed (found: none installed). Fix: run `sendasapp doctor`',
    );
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 0, restarts: 0 });
    expect(await run.backend.invoke('Get-TransportConfig').catch((e: unknown) => e)).toBe(err);
    await run.backend.close();
  });

  it('reports a sign-in refused by Connect-ExchangeOnline as access denied, without retrying', async () => {
    const run = fake({
      faults: {
        failConnect: {
          stage: 'connect',
          error: { category: 'AuthenticationError', message: 'AADSTS700016: application not found', errorId: 'x' },
        },
      },
    });
    const err = await run.backend.invoke('Get-TransportConfig').catch((e: ExchangeError) => e);
    expect(err).toMatchObject({ cmdlet: 'Connect-ExchangeOnline', kind: 'access-denied' });
    expect(run.backend.stats).toMatchObject({ spawns: 1, restarts: 0 });
    await run.backend.close();
  });

  it('explains a missing pwsh instead of restarting', async () => {
    const run = fake({ backend: { executable: '/nonexistent/pwsh', args: ['-NoLogo'] } });
    const err = await run.backend.invoke('Get-TransportConfig').catch((e: ExchangeError) => e);
    expect((err as ExchangeError).message).toMatch(
      /PowerShell \(\/nonexistent\/pwsh\) could not be started \(ENOENT\).*sendasapp doctor.*--exchange rest/,
    );
    expect(run.backend.stats).toMatchObject({ spawns: 1, restarts: 0 });
    await run.backend.close();
  });

  it('never puts the token on the command line or in the environment, and redacts it from stderr', async () => {
    const run = fake({ faults: { stderrToken: true } });
    await run.backend.invoke('Get-OrganizationConfig');
    expect(run.backend.lastSpawn!.args.join(' ')).not.toContain(run.token);
    expect(run.backend.lastSpawn!.args.some((a) => /eyJ/.test(a))).toBe(false);
    const connect = run.log().find((e) => e.event === 'connect')!;
    expect(connect).toMatchObject({ hasAccessToken: true, tokenInArgv: false, tokenInEnv: false });
    const diagnostic = run.output.find((l) => l.startsWith('diagnostic: token='));
    expect(diagnostic).toBe('diagnostic: token=***');
    expect(run.output.join('\n')).not.toContain(run.token);
    await run.backend.close();
  });

  it('gives the session a fresh token (one more Connect, same process) before the old one expires', async () => {
    const tokens = [Date.now() + 60_000, Date.now() + 3_600_000];
    let n = 0;
    const run = fake({
      token: () => ({ token: runs.at(-1)!.token, expiresOnTimestamp: tokens[Math.min(n++, 1)] }),
    });
    await run.backend.invoke('Get-OrganizationConfig');
    await run.backend.invoke('Get-TransportConfig');
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 2, requests: 2 });
    await run.backend.close();
    expect(run.log().filter((e) => e.event === 'connect')).toHaveLength(2);
  });

  it('Ctrl-C: the caller aborts, the pending call ends at once, and a stuck bridge is killed after the grace period', async () => {
    const controller = new AbortController();
    const run = fake({
      faults: { hangOn: 'Get-TransportConfig', hangTimes: 1 },
      backend: { signal: controller.signal, closeGraceMs: 300 },
    });
    await run.backend.invoke('Get-OrganizationConfig');
    const pid = run.log().find((e) => e.event === 'spawn')!.pid as number;
    const pending = run.backend.invoke('Get-TransportConfig').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    controller.abort(new Error('interrupted (Ctrl-C)'));
    expect(((await pending) as Error).message).toBe('interrupted (Ctrl-C)');
    await run.backend.close();
    expect(alive(pid)).toBe(false);
    expect(await run.backend.invoke('Get-TransportConfig').catch((e: Error) => e.message)).toBe('interrupted (Ctrl-C)');
  });

  it('close() with nothing started starts nothing', async () => {
    const run = fake();
    await run.backend.close();
    expect(run.backend.stats.spawns).toBe(0);
    await expect(run.backend.invoke('Get-TransportConfig')).rejects.toThrow(/already closed/);
  });
});

describe('bridge error classification (pure)', () => {
  it.each([
    [{ category: 'ObjectNotFound', reason: 'ManagementObjectNotFoundException' }, 'not-found'],
    [
      {
        category: 'NotSpecified',
        message:
          "|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed",
      },
      'not-found',
    ],
    [{ category: 'NotSpecified', reason: 'ADObjectAlreadyExistsException' }, 'already-exists'],
    [{ category: 'ResourceExists' }, 'already-exists'],
    [{ category: 'PermissionDenied' }, 'access-denied'],
    [{ category: 'NotSpecified', message: 'The user "x" isn\'t assigned to any management roles.' }, 'access-denied'],
    [{ category: 'LimitsExceeded' }, 'throttled'],
    [{ category: 'NotSpecified', message: 'Server is busy: request was throttled (MicroDelay)' }, 'throttled'],
    [{ category: 'OperationTimeout' }, 'transient'],
    [{ category: 'ConnectionError' }, 'transient'],
    [{ category: 'ObjectNotFound', reason: 'CommandNotFoundException' }, 'access-denied'],
    [{ category: 'InvalidArgument', errorId: 'NamedParameterNotFound,Get-Mailbox' }, 'invalid-input'],
    [{ category: 'InvalidOperation', errorId: 'CmdletNotAllowed' }, 'invalid-input'],
    [{ category: 'NotSpecified', message: 'A mailbox can hold at most 500 entries' }, 'unknown'],
  ])('%j → %s', (e, kind) => {
    expect(classifyBridgeError(e)).toBe(kind);
  });

  it('drops the ErrorId|Type| prefix Exchange puts on messages', () => {
    expect(bridgeErrorMessage({ message: 'Ex6F9304|Microsoft.Exchange.X|The object was not found.' })).toBe(
      'The object was not found.',
    );
    expect(bridgeErrorMessage({ message: '||Plain.' })).toBe('Plain.');
    expect(bridgeErrorMessage({ message: 'a | b | c' })).toBe('a | b | c');
  });
});

describe('start early, probe once, choose the backend (auto | rest | pwsh)', () => {
  it('start() spawns and connects before any cmdlet; probe() reads the same process; the first call reuses it', async () => {
    const run = fake();
    void run.backend.start();
    const probe = await run.backend.probe();
    expect(probe).toMatchObject({ ready: true, pwsh: { version: '7.4.99' }, module: { selected: '3.9.2' } });
    await run.backend.start();
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 1, requests: 0 });
    await run.backend.invoke('Get-OrganizationConfig');
    expect(run.backend.stats).toMatchObject({ spawns: 1, connects: 1, requests: 1 });
    expect(chooseExchangeBackend('auto', probe)).toMatchObject({ ok: true, backend: 'pwsh' });
    expect(chooseExchangeBackend('pwsh', probe)).toMatchObject({ ok: true, backend: 'pwsh' });
    await run.backend.close();
    expect(run.log().filter((e) => e.event === 'spawn')).toHaveLength(1);
  });

  it('module missing: auto falls back to REST, a forced pwsh stops with the doctor sentence, before any cmdlet', async () => {
    const run = fake({ faults: { modules: [] } });
    const probe = await run.backend.probe();
    expect(probe.ready).toBe(false);
    expect(probe.problems).toEqual(['the ExchangeOnlineManagement module is not installed']);
    expect(probe.sentence).toMatch(
      /^--exchange pwsh cannot run here: the ExchangeOnlineManagement module is not installed\. Install: pwsh -NoProfile -Command "Install-Module -Name ExchangeOnlineManagement/,
    );
    const auto = chooseExchangeBackend('auto', probe);
    expect(auto).toMatchObject({ ok: true, backend: 'rest' });
    expect(auto.reason).toMatch(/^auto: REST, because the ExchangeOnlineManagement module is not installed/);
    expect(chooseExchangeBackend('pwsh', probe)).toEqual({
      ok: false,
      backend: 'pwsh',
      requested: 'pwsh',
      reason: probe.sentence,
    });
    expect(chooseExchangeBackend('rest', undefined)).toMatchObject({ ok: true, backend: 'rest' });
    await run.backend.close();
    expect(run.log().filter((e) => e.event === 'invoke')).toEqual([]);
  });

  it('probe() after close() answers at once (nothing is started any more)', async () => {
    const run = fake();
    await run.backend.close();
    const probe = await run.backend.probe();
    expect(probe).toMatchObject({ ready: false });
    expect(run.log()).toEqual([]);
  });

  it('a pwsh that never says hello: probe() gives up after the start timeout, and the process goes', async () => {
    const run = fake({ faults: { silent: true, hangOnConnect: 1 }, backend: { startTimeoutMs: 1500 } });
    const probe = await run.backend.probe();
    expect(probe).toMatchObject({ ready: false });
    expect(probe.problems[0]).toMatch(/did not answer the probe \(timed out\)/);
    await run.backend.close();
  });

  it('pwsh not installed: probe() says so (ENOENT) after one spawn attempt, and auto chooses REST', async () => {
    const run = fake({ backend: { executable: '/nonexistent/pwsh', args: [] } });
    const probe = await run.backend.probe();
    expect(probe).toMatchObject({ ready: false, pwsh: { found: false } });
    expect(probe.problems).toEqual(['PowerShell 7 (/nonexistent/pwsh) is not installed or not on PATH']);
    expect(probe.sentence).toContain('Install: ');
    expect(chooseExchangeBackend('auto', probe)).toMatchObject({ ok: true, backend: 'rest' });
    expect(run.backend.stats.spawns).toBe(1);
    // The first call fails at once with the same cause, without a second attempt.
    const err = await run.backend.invoke('Get-OrganizationConfig').catch((e: unknown) => e);
    expect((err as ExchangeError).exchangeMessage).toMatch(/could not be started \(ENOENT\).*sendasapp doctor/);
    expect(run.backend.stats.spawns).toBe(1);
    await run.backend.close();
  });
});

it('the shared scenario names real mailboxes of the emulator', () => {
  expect(emu.endpoints.tenants.flatMap((t) => t.mailboxes)).toContain(AP);
});
