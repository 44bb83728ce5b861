/**
 * The pwsh backend beside REST (issue 10), on the same emulator latency profile as bench/provision.ts:
 * - a fresh `apply` through `--exchange pwsh` and through `--exchange rest` on two identical fresh worlds, wall time
 *   side by side (target: pwsh <= 1.3 x REST);
 * - what the pwsh session itself costs: spawn to the hello line, module import, Connect-ExchangeOnline, spawn to
 *   connected, and one cmdlet through pwsh vs one InvokeCommand over REST (the difference is pwsh's own share).
 * Needs a real pwsh (SENDASAPP_PWSH or `pwsh` on PATH); the module is the stand-in test/pwsh/ExchangeOnlineManagement,
 * which forwards to the emulator as the real one forwards to Exchange. Without pwsh the rows say so.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { PwshExchangeBackend, RestExchangeBackend } from '../src/exchange/index.js';
import { CLI, operatorToken, spawnEmulator, type ChildEmulator } from './emulator.js';
import { LATENCY } from './provision.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target: string;
  pass: boolean;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODULE_DIR = path.join(ROOT, 'test', 'pwsh');

function findPwsh(): string | undefined {
  if (process.env.SENDASAPP_PWSH) return process.env.SENDASAPP_PWSH;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), path.join(process.env.HOME ?? '', '.dotnet/tools')];
  return dirs
    .filter(Boolean)
    .map((dir) => path.join(dir, 'pwsh'))
    .find((file) => existsSync(file));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function latencyEmulator(): Promise<{ emu: ChildEmulator; dir: string; endpointsFile: string }> {
  const latency = `graph=${LATENCY.graph},token=${LATENCY.token},exchange=${LATENCY.exchange},smtp=${LATENCY.smtp}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-bench-pwsh-'));
  const emu = await spawnEmulator(['--latency', latency, '--state-dir', path.join(dir, 'emu')]);
  return { emu, dir, endpointsFile: path.join(dir, 'emu', 'endpoints.json') };
}

function apply(args: string[], env: Record<string, string>): Promise<{ code: number | null; ms: number; err: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'apply', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => resolve({ code, ms: Math.round(performance.now() - started), err }));
  });
}

/** A fresh apply (1 mailbox, SMTP AUTH per mailbox) through one backend, on its own fresh world. */
async function freshApply(backend: 'rest' | 'pwsh', pwsh: string | undefined): Promise<number> {
  const { emu, dir, endpointsFile } = await latencyEmulator();
  try {
    const domain = emu.endpoints.tenants[0]!.domain;
    const env: Record<string, string> =
      backend === 'pwsh'
        ? { SENDASAPP_PWSH: pwsh!, PSModulePath: [MODULE_DIR, process.env.PSModulePath].filter(Boolean).join(':') }
        : {};
    const r = await apply(
      [
        '--endpoints',
        endpointsFile,
        '--tenant',
        domain,
        '--mailbox',
        `scanner@${domain}`,
        '--enable-smtp-auth',
        'mailbox',
        '--secret-out',
        path.join(dir, 'secret.json'),
        '--wait',
        '2m',
        '--exchange',
        backend,
        '--yes',
      ],
      env,
    );
    if (r.code !== 0) throw new Error(`apply --exchange ${backend} failed (${r.code}):\n${r.err}`);
    return r.ms;
  } finally {
    await emu.stop();
  }
}

/** The session's own costs, and one cmdlet through pwsh and through REST, on the latency profile. */
async function sessionCosts(pwsh: string) {
  const { emu } = await latencyEmulator();
  const dispatcher = new Agent({ connect: { ca: readFileSync(emu.endpoints.caFile, 'utf8') } });
  const e = emu.endpoints as ChildEmulator['endpoints'] & { exchangeAdminUrl: string };
  const tenant = emu.endpoints.tenants[0]!;
  try {
    const token = await operatorToken(emu, dispatcher, 'https://outlook.office365.com/.default');
    const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const backend = new PwshExchangeBackend({
      connect: {
        mode: 'access-token',
        getToken: credential.getToken,
        organization: tenant.id,
        connectionUri: e.exchangeAdminUrl,
      },
      executable: pwsh,
      env: { PSModulePath: [MODULE_DIR, process.env.PSModulePath].filter(Boolean).join(':') },
    });
    const t0 = performance.now();
    await backend.start();
    const startedMs = Math.round(performance.now() - t0);
    const pwshTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await backend.invoke('Get-OrganizationConfig');
      pwshTimes.push(performance.now() - t);
    }
    const t1 = performance.now();
    await backend.invokeMany([
      { cmdlet: 'Get-TransportConfig' },
      { cmdlet: 'Get-OrganizationConfig' },
      { cmdlet: 'Get-CASMailbox', parameters: { Identity: `scanner@${tenant.domain}` } },
    ]);
    const manyMs = Math.round(performance.now() - t1);
    const stats = { ...backend.stats };
    await backend.close();
    const rest = new RestExchangeBackend({
      credential,
      adminUrl: e.exchangeAdminUrl,
      scope: 'https://outlook.office365.com/.default',
      tenantId: tenant.id,
      dispatcher,
    });
    const restTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await rest.invoke('Get-OrganizationConfig');
      restTimes.push(performance.now() - t);
    }
    await rest.close();
    return {
      startedMs,
      stats,
      pwshCmdletMs: Math.round(median(pwshTimes)),
      restCmdletMs: Math.round(median(restTimes)),
      manyMs,
    };
  } finally {
    await dispatcher.close();
    await emu.stop();
  }
}

export async function measurePwsh(): Promise<BenchRow[]> {
  const pwsh = findPwsh();
  if (!pwsh)
    return [
      {
        name: 'pwsh backend: no pwsh here (dotnet tool update --global PowerShell --version 7.6.9)',
        value: 0,
        unit: '',
        target: 'info',
        pass: true,
      },
    ];
  const rows: BenchRow[] = [];
  const c = await sessionCosts(pwsh);
  const info = (name: string, value: number, unit = 'ms'): void => {
    rows.push({ name, value, unit, target: 'info', pass: true });
  };
  info(
    `pwsh ${c.stats.psVersion ?? '?'}: spawn to hello line (versions known, the preflight can decide)`,
    c.stats.helloMs ?? -1,
  );
  info(
    'pwsh: Import-Module ExchangeOnlineManagement (stand-in; overlaps sign-in when started early)',
    c.stats.importMs ?? -1,
  );
  info('pwsh: Connect-ExchangeOnline', c.stats.connectMs ?? -1);
  info('pwsh: spawn to connected (start())', c.startedMs);
  info(
    `pwsh: one cmdlet (Get-OrganizationConfig, median of 5; exchange latency ${LATENCY.exchange} ms)`,
    c.pwshCmdletMs,
  );
  info('REST: the same cmdlet (median of 5)', c.restCmdletMs);
  info('pwsh: its own share of one cmdlet (pwsh - REST)', c.pwshCmdletMs - c.restCmdletMs);
  info('pwsh: 3 independent reads in one message (invokeMany, run in order inside pwsh)', c.manyMs);

  const restMs = await freshApply('rest', pwsh);
  const pwshMs = await freshApply('pwsh', pwsh);
  const ratio = Math.round((pwshMs / restMs) * 100) / 100;
  rows.push({
    name: 'fresh apply, 1 mailbox, latency profile: --exchange rest',
    value: restMs,
    unit: 'ms',
    target: 'info',
    pass: true,
  });
  rows.push({
    name: 'fresh apply, 1 mailbox, latency profile: --exchange pwsh (same scenario, fresh world)',
    value: pwshMs,
    unit: `ms (${ratio} x REST)`,
    target: '<= 1.3 x REST',
    pass: ratio <= 1.3,
  });
  return rows;
}
