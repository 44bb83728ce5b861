/**
 * The Exchange backends the shared suites run through, chosen by name: `rest` (InvokeCommand over HTTPS) and `pwsh`
 * (a REAL PowerShell 7 running templates/exchange/bridge.ps1, with the stand-in module test/pwsh/ExchangeOnlineManagement
 * first on PSModulePath, forwarding to the emulator). A suite is written once and run through `EXCHANGE_BACKENDS`;
 * the CLI-level suites use `cliEnvFor(name)` with `--exchange <name>`.
 *
 * Where pwsh is missing: in CI (CI=true) every pwsh suite FAILS, saying how to install it; on a developer's machine it
 * is skipped with the same sentence.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import type { ExchangeBackend } from '../../src/exchange/backend.js';
import { PwshExchangeBackend, type PwshBackendOptions } from '../../src/exchange/pwsh/index.js';
import type { TestEmulator } from '../helpers/emulator.js';
import { CONTOSO, TEST_MODULE_DIR, makeRest } from './scenario.js';

export type BackendName = 'rest' | 'pwsh';
export const EXCHANGE_BACKENDS: readonly BackendName[] = ['rest', 'pwsh'];

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** The pwsh the tests run: SENDASAPP_PWSH, else `pwsh` on PATH, else the .NET global tool's. */
export const PWSH: string | undefined =
  process.env.SENDASAPP_PWSH ||
  onPath(process.platform === 'win32' ? 'pwsh.exe' : 'pwsh') ||
  [path.join(process.env.HOME ?? '', '.dotnet', 'tools', 'pwsh')].find((f) => existsSync(f));

export const MISSING_PWSH =
  'PowerShell 7 (pwsh) is not installed: `dotnet tool update --global PowerShell --version 7.6.9` and ' +
  '`export PATH="$HOME/.dotnet/tools:$PATH"` install it (.ci/run does both); or point SENDASAPP_PWSH at a pwsh 7.4+';

/**
 * `describe` for suites that need a real pwsh. Without pwsh: a failing test under CI=true, a skip (with the reason in
 * the title) elsewhere.
 */
export function describeWithPwsh(title: string, body: () => void): void {
  if (PWSH) {
    describe(`${title} [pwsh: ${PWSH}]`, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(title, () => {
      it('has a real pwsh to run (CI=true: a missing pwsh is a failure, not a skip)', () => {
        throw new Error(MISSING_PWSH);
      });
    });
    return;
  }
  console.warn(`[${title}] SKIPPED: ${MISSING_PWSH}`);
  describe.skip(`${title}: SKIPPED, ${MISSING_PWSH}`, body);
}

/** `describe` per backend; the pwsh one through `describeWithPwsh`. */
export function describeEachBackend(title: string, body: (backend: BackendName) => void): void {
  for (const name of EXCHANGE_BACKENDS) {
    const run = (): void => body(name);
    if (name === 'pwsh') describeWithPwsh(`${title} (pwsh)`, run);
    else describe(`${title} (rest)`, run);
  }
}

export function modulePath(): string {
  return [TEST_MODULE_DIR, process.env.PSModulePath].filter(Boolean).join(path.delimiter);
}

export interface RealPwsh {
  backend: PwshExchangeBackend;
  token: string;
  /** A directory only this backend's processes know (their environment names it): `pwshProcesses(dir)`. */
  dir: string;
  output: string[];
  retries: string[];
  /** The stand-in module's log: connect / invoke / retry / disconnect. */
  log(): Array<Record<string, unknown>>;
}

export interface RealPwshOptions {
  /** The stand-in module's hooks (SENDASAPP_TEST_EXO_*). */
  env?: Record<string, string>;
  backend?: Partial<PwshBackendOptions>;
  /** Another token (an app without the Exchange role, for access-denied). */
  token?: string;
  /** How long throttled / transient errors are retried (default 0: not at all). */
  retryDeadlineMs?: number;
}

/** A PwshExchangeBackend on a real pwsh, against the emulator's contoso. */
export function realPwsh(emu: TestEmulator, o: RealPwshOptions = {}): RealPwsh {
  if (!PWSH) throw new Error(MISSING_PWSH);
  const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-pwsh-'));
  const logFile = path.join(dir, 'module.log');
  const token = o.token ?? emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange');
  const output: string[] = [];
  const retries: string[] = [];
  const backend = new PwshExchangeBackend({
    connect: {
      mode: 'access-token',
      getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
      organization: emu.store.findTenant(CONTOSO)!.id,
      connectionUri: emu.endpoints.exchangeAdminUrl,
      exchangeEnvironmentName: 'O365Default',
    },
    executable: PWSH,
    env: {
      PSModulePath: modulePath(),
      SENDASAPP_TEST_EXO_LOG: logFile,
      SENDASAPP_TEST_EXO_STATE: dir,
      ...o.env,
    },
    timeoutMs: 60_000,
    startTimeoutMs: 120_000,
    retryDeadlineMs: o.retryDeadlineMs ?? 0,
    closeGraceMs: 5000,
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
            .split(/\r?\n/)
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [],
  };
}

/** A backend by name, against the emulator's contoso, as the shared suites use it. */
export function makeBackend(name: BackendName, emu: TestEmulator, o: RealPwshOptions = {}): ExchangeBackend {
  return name === 'rest' ? makeRest(emu, o) : realPwsh(emu, o).backend;
}

/**
 * The environment for the built CLI with `--exchange pwsh` against the emulator: the real pwsh, the stand-in module
 * first on PSModulePath. For `--exchange rest`, nothing.
 */
export function cliEnvFor(name: BackendName): Record<string, string> {
  if (name === 'rest') return {};
  if (!PWSH) throw new Error(MISSING_PWSH);
  return { SENDASAPP_PWSH: PWSH, PSModulePath: modulePath() };
}

/**
 * PowerShell processes (the dotnet-tool shim `pwsh` and the engine `dotnet …/pwsh.dll` it starts) whose environment
 * holds `marker`: the ones a backend started (Linux /proc).
 */
export function pwshProcesses(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!/pwsh/i.test(cmdline)) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
