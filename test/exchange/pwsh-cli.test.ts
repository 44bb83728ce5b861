/**
 * `apply --exchange pwsh` end to end: the built CLI against the emulator, its pwsh backend driving the fake bridge
 * (SENDASAPP_PWSH points at test/fixtures/fake-bridge.mjs, which speaks the bridge protocol). The same apply through
 * `--exchange rest` must reach the same result; each run makes exactly one spawn and one Connect. Last, the same apply
 * through a real pwsh.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, runCli, type CliResult } from '../helpers/cli.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { cliEnvFor, describeWithPwsh, pwshProcesses } from './backends.js';
import { AP, CONTOSO, FAKE_BRIDGE, SCANNER } from './scenario.js';

type Json = Record<string, any>;

describe('apply --exchange pwsh (fake bridge) against the emulator', () => {
  let emu: TestEmulator;
  /** A second, untouched tenant world for the REST run (the pwsh runs already changed the first). */
  let emuRest: TestEmulator;
  let dir: string;
  const logFile = (): string => path.join(dir, 'bridge.log');
  const args = (backend: string, app: string, endpoints = emu.endpointsFile, sink = `${backend}-${app}`): string[] => [
    'apply',
    '--mailbox-access',
    'full-access',
    '--endpoints',
    endpoints,
    '--tenant',
    CONTOSO,
    '--mailbox',
    SCANNER,
    '--mailbox',
    AP,
    '--app-name',
    app,
    '--enable-smtp-auth',
    'mailbox',
    '--secret-out',
    path.join(dir, `${sink.replace(/\W+/g, '-')}.json`),
    '--wait',
    '1m',
    '--exchange',
    backend,
    '--yes',
    '--output',
    'json',
  ];
  const env = (): Record<string, string> => ({
    SENDASAPP_PWSH: FAKE_BRIDGE,
    // pwsh gets only what it needs; the fake bridge (Node) needs these too.
    SENDASAPP_PWSH_PASS_ENV: 'NODE_EXTRA_CA_CERTS,FAKE_BRIDGE_LOG,FAKE_BRIDGE_FAULTS,FAKE_BRIDGE_STATE',
    NODE_EXTRA_CA_CERTS: emu.endpoints.caFile,
    FAKE_BRIDGE_LOG: logFile(),
  });
  const bridgeLog = (): Json[] =>
    existsSync(logFile())
      ? readFileSync(logFile(), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Json)
      : [];
  let first: CliResult;
  let second: CliResult;
  let rest: CliResult;
  let firstLog: Json[];

  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-pwsh-cli-'));
    first = await runCli(args('pwsh', 'Scanner SMTP pwsh'), { env: env() });
    firstLog = bridgeLog();
    second = await runCli(args('pwsh', 'Scanner SMTP pwsh'), { env: env() });
    emuRest = await startTestEmulator();
    // Another world, another app: its own sink (the pwsh runs' sink holds the first world's app).
    rest = await runCli(args('rest', 'Scanner SMTP pwsh', emuRest.endpointsFile), { env: env() });
  }, 240_000);
  afterAll(async () => {
    await emu?.close();
    await emuRest?.close();
  });

  it('applies and proves through the pwsh backend', () => {
    expect(first.code, first.stderr).toBe(0);
    const out = first.json<Json>();
    expect(out.verification.status).toBe('passed');
    expect(out.resources.map((r: Json) => r.key)).toEqual(
      expect.arrayContaining(['exchange.servicePrincipal', `exchange.mailboxAccess:${SCANNER}`, 'exchange.smtpAuth']),
    );
  });

  it('made exactly one spawn and one Connect for the run, and disconnected at the end', () => {
    expect(firstLog.filter((e) => e.event === 'spawn')).toHaveLength(1);
    expect(firstLog.filter((e) => e.event === 'connect')).toHaveLength(1);
    expect(firstLog.filter((e) => e.event === 'invoke').length).toBeGreaterThan(3);
    expect(firstLog.at(-1)?.event).toBe('disconnect');
    const connect = firstLog.find((e) => e.event === 'connect')!;
    expect(connect).toMatchObject({ mode: 'AccessToken', hasAccessToken: true, tokenInArgv: false, tokenInEnv: false });
    expect(connect.organization).toBe(emu.store.findTenant(CONTOSO)!.id);
    const spawn = firstLog.find((e) => e.event === 'spawn')!;
    expect(spawn.argv.slice(0, 4)).toEqual(['-NoLogo', '-NoProfile', '-NonInteractive', '-File']);
    expect(String(spawn.argv[4])).toMatch(/templates[\\/]exchange[\\/]bridge\.ps1$/);
  });

  it('reruns with nothing to change, again in one session', () => {
    expect(second.code, second.stderr).toBe(0);
    const out = second.json<Json>();
    expect(out.changed).toBe(false);
    const secondLog = bridgeLog().slice(firstLog.length);
    expect(secondLog.filter((e) => e.event === 'spawn')).toHaveLength(1);
    expect(secondLog.filter((e) => e.event === 'connect')).toHaveLength(1);
    const writes = secondLog.filter((e) => e.event === 'invoke' && /^(New|Set|Add|Remove)-/.test(e.cmdlet));
    expect(writes).toEqual([]);
  });

  it('reaches the same result as --exchange rest', () => {
    expect(rest.code, rest.stderr).toBe(0);
    const statuses = (r: CliResult): string[] =>
      r
        .json<Json>()
        .resources.map((x: Json) => `${x.key}=${x.status}`)
        .sort();
    expect(statuses(first)).toEqual(statuses(rest));
    const t = emu.store.findTenant(CONTOSO)!;
    const pwshApp = first.json<Json>().application.appId;
    expect(t.exchange.servicePrincipals.some((s) => s.AppId === pwshApp)).toBe(true);
  });
});

describe('Ctrl-C during apply --exchange pwsh', () => {
  it('ends the run with exit 130 and the "interrupted" report, and leaves no bridge behind', async () => {
    const emu = await startTestEmulator();
    const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-pwsh-sigint-'));
    const logFile = path.join(dir, 'bridge.log');
    const log = (): Json[] =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Json)
        : [];
    try {
      const env: Record<string, string | undefined> = { ...process.env };
      for (const k of Object.keys(env)) if (/^(AZURE_|SENDASAPP_)/.test(k)) delete env[k];
      Object.assign(env, {
        SENDASAPP_PWSH: FAKE_BRIDGE,
        SENDASAPP_PWSH_PASS_ENV: 'NODE_EXTRA_CA_CERTS,FAKE_BRIDGE_LOG,FAKE_BRIDGE_FAULTS',
        NODE_EXTRA_CA_CERTS: emu.endpoints.caFile,
        FAKE_BRIDGE_LOG: logFile,
        FAKE_BRIDGE_FAULTS: JSON.stringify({ hangOn: 'Get-TransportConfig', hangTimes: 99 }),
      });
      const child = spawn(
        process.execPath,
        [
          CLI_PATH,
          'apply',
          '--mailbox-access',
          'full-access',
          '--endpoints',
          emu.endpointsFile,
          '--tenant',
          CONTOSO,
          '--mailbox',
          AP,
          '--secret-out',
          path.join(dir, 'secret.json'),
          '--exchange',
          'pwsh',
          '--yes',
          '--wait',
          '1m',
        ],
        { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const deadline = Date.now() + 60_000;
      while (!log().some((e) => e.event === 'invoke' && e.cmdlet === 'Get-TransportConfig')) {
        if (Date.now() > deadline) throw new Error(`the run never reached Exchange: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGINT');
      const code = await exited;
      expect(code, stderr).toBe(130);
      expect(stderr).toContain('Interrupted (SIGINT).');
      // It hung in the preflight's reads: nothing was written.
      expect(stderr).toContain('Nothing was changed before the interrupt.');
      const pid = log().find((e) => e.event === 'spawn')!.pid as number;
      expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      await emu.close();
    }
  }, 90_000);
});

describeWithPwsh('apply --exchange pwsh through a REAL pwsh (bridge.ps1 + the stand-in module)', () => {
  it('provisions and proves in one pwsh session with one Connect, and leaves no PowerShell behind', async () => {
    const emu = await startTestEmulator();
    const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-real-pwsh-cli-'));
    const logFile = path.join(dir, 'module.log');
    try {
      const r = await runCli(
        [
          'apply',
          '--mailbox-access',
          'full-access',
          '--endpoints',
          emu.endpointsFile,
          '--tenant',
          CONTOSO,
          '--mailbox',
          SCANNER,
          '--enable-smtp-auth',
          'mailbox',
          '--secret-out',
          path.join(dir, 'secret.json'),
          '--wait',
          '1m',
          '--exchange',
          'pwsh',
          '--yes',
          '--output',
          'json',
        ],
        {
          env: {
            ...cliEnvFor('pwsh'),
            SENDASAPP_TEST_EXO_LOG: logFile,
            SENDASAPP_TEST_EXO_STATE: dir,
            SENDASAPP_PWSH_PASS_ENV: 'SENDASAPP_TEST_EXO_LOG,SENDASAPP_TEST_EXO_STATE',
          },
          timeoutMs: 180_000,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.json<Json>().verification.status).toBe('passed');
      const log = readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Json);
      expect(new Set(log.map((e) => e.pid)).size).toBe(1); // one pwsh
      expect(log.filter((e) => e.event === 'connect')).toHaveLength(1);
      expect(log.filter((e) => e.event === 'invoke').map((e) => e.cmdlet)).toEqual(
        expect.arrayContaining(['New-ServicePrincipal', 'Add-MailboxPermission', 'Set-CASMailbox']),
      );
      expect(log.at(-1)?.event).toBe('disconnect');
      expect(pwshProcesses(dir)).toEqual([]);
    } finally {
      await emu.close();
    }
  }, 240_000);
});
