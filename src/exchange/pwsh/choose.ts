/**
 * `--exchange auto|rest|pwsh`: which backend a run uses. `auto` (the default) takes pwsh when pwsh 7.4+ and
 * ExchangeOnlineManagement 3.x are found, REST otherwise; a forced `pwsh` that cannot run stops the run before any
 * write, with the doctor sentence.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { PwshProbe } from './probe.js';

export const EXCHANGE_BACKEND_CHOICES = ['auto', 'rest', 'pwsh'] as const;
export type ExchangeBackendRequest = (typeof EXCHANGE_BACKEND_CHOICES)[number];

export type ExchangeBackendChoice =
  | {
      ok: true;
      backend: 'rest' | 'pwsh';
      requested: ExchangeBackendRequest;
      /** For the output and `--output json`: why this backend. */
      reason: string;
    }
  | {
      ok: false;
      backend: 'pwsh';
      requested: 'pwsh';
      /** The doctor sentence: what is missing and how to install it. Stop with it before any write. */
      reason: string;
    };

/** `probe` is needed for `auto` and `pwsh` (probe once: `PwshExchangeBackend.probe()` or `probePwsh()`). */
export function chooseExchangeBackend(
  requested: ExchangeBackendRequest,
  probe: PwshProbe | undefined,
): ExchangeBackendChoice {
  if (requested === 'rest') return { ok: true, backend: 'rest', requested, reason: '--exchange rest' };
  if (!probe) throw new Error(`chooseExchangeBackend('${requested}') needs the pwsh probe`);
  if (probe.ready)
    return {
      ok: true,
      backend: 'pwsh',
      requested,
      reason: `${requested === 'auto' ? 'auto: ' : ''}PowerShell ${probe.pwsh.version} with ExchangeOnlineManagement ${probe.module.selected}`,
    };
  if (requested === 'pwsh') return { ok: false, backend: 'pwsh', requested, reason: probe.sentence };
  return {
    ok: true,
    backend: 'rest',
    requested,
    reason: `auto: REST, because ${probe.problems.join('; ')} (\`sendasapp doctor\` for the install commands)`,
  };
}

/**
 * A cheap look, without starting PowerShell, at whether `auto` could pick pwsh at all: an executable named by
 * SENDASAPP_PWSH or `pwsh` on PATH, and an ExchangeOnlineManagement folder in one of the module paths pwsh reads.
 * False means "certainly not" (REST at once, no process spawned); true means "ask pwsh" (the probe decides).
 */
export function pwshMightRun(env: NodeJS.ProcessEnv = process.env): { possible: boolean; reason?: string } {
  const exe = env.SENDASAPP_PWSH;
  const pathDirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const names = process.platform === 'win32' ? ['pwsh.exe', 'pwsh.cmd'] : ['pwsh'];
  const found = exe ? existsSync(exe) : pathDirs.some((d) => names.some((n) => existsSync(path.join(d, n))));
  if (!found) return { possible: false, reason: exe ? `SENDASAPP_PWSH ${exe} does not exist` : 'no pwsh on PATH' };
  const home = homedir();
  const moduleDirs = [
    ...(env.PSModulePath ?? '').split(path.delimiter).filter(Boolean),
    path.join(home, '.local/share/powershell/Modules'),
    path.join(home, 'Documents/PowerShell/Modules'),
    '/usr/local/share/powershell/Modules',
    '/opt/microsoft/powershell/7/Modules',
    ...(env.ProgramFiles ? [path.join(env.ProgramFiles, 'PowerShell/Modules')] : []),
  ];
  if (moduleDirs.some((d) => existsSync(path.join(d, 'ExchangeOnlineManagement')))) return { possible: true };
  return { possible: false, reason: 'the ExchangeOnlineManagement module is not installed' };
}
