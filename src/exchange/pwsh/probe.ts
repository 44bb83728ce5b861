/**
 * Is this machine ready for --exchange pwsh? Runs the bridge with -Probe (no connection, no secret): it reports
 * pwsh's version and the installed ExchangeOnlineManagement versions; the rules in versions.ts decide.
 */
import { bridgeArgs } from './bridge-path.js';
import {
  compareVersions,
  installCommands,
  MIN_MODULE,
  MIN_PWSH,
  MODULE_BELOW,
  pwshNeededFor,
  selectModule,
  type InstallCommands,
} from './versions.js';

export interface PwshProbe {
  ready: boolean;
  pwsh: {
    executable: string;
    found: boolean;
    version?: string;
    edition?: string;
    os?: string;
    ok: boolean;
    required: string;
  };
  module: {
    found: boolean;
    installed: Array<{ version: string; path?: string; needsPwsh: string }>;
    /** The version the bridge would import. */
    selected?: string;
    ok: boolean;
    range: string;
  };
  problems: string[];
  install: InstallCommands;
}

interface ProbeLine {
  type?: string;
  psVersion?: string;
  psEdition?: string;
  os?: string;
  modules?: Array<{ version?: string; path?: string }>;
}

export interface ProbeOptions {
  executable?: string;
  args?: string[];
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
}

export async function probePwsh(o: ProbeOptions = {}): Promise<PwshProbe> {
  const executable = o.executable ?? process.env.SENDASAPP_PWSH ?? 'pwsh';
  const range = `>=${MIN_MODULE} <${MODULE_BELOW}`;
  const { execa } = await import('execa');
  const r = await execa(executable, o.args ?? bridgeArgs(['-Probe']), {
    reject: false,
    timeout: o.timeoutMs ?? 60_000,
    stdin: 'ignore',
    windowsHide: true,
    extendEnv: true,
    env: { POWERSHELL_TELEMETRY_OPTOUT: '1', POWERSHELL_UPDATECHECK: 'Off', ...o.env },
  });
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  let line: ProbeLine | undefined;
  for (const l of stdout.split(/\r?\n/)) {
    try {
      const v = JSON.parse(l) as ProbeLine;
      if (v?.type === 'probe') line = v;
    } catch {
      // host output, not the probe line
    }
  }
  const problems: string[] = [];
  const errno = typeof r.code === 'string' && r.exitCode === undefined ? r.code : undefined;
  if (!line) {
    problems.push(
      errno === 'ENOENT'
        ? `PowerShell 7 (${executable}) is not installed or not on PATH`
        : `${executable} did not answer the probe (${r.timedOut ? 'timed out' : (errno ?? `exit code ${r.exitCode ?? 'unknown'}`)})`,
    );
    return {
      ready: false,
      pwsh: { executable, found: errno !== 'ENOENT' && errno !== 'EACCES', ok: false, required: MIN_PWSH },
      module: { found: false, installed: [], ok: false, range },
      problems,
      install: installCommands(),
    };
  }
  const version = line.psVersion ?? '0';
  const pwshOk = compareVersions(version, MIN_PWSH) >= 0;
  if (!pwshOk) problems.push(`PowerShell ${version} is too old: ${MIN_PWSH} or later is needed`);
  const installed = (line.modules ?? [])
    .filter((m): m is { version: string; path?: string } => typeof m.version === 'string')
    .map((m) => ({ version: m.version, path: m.path, needsPwsh: pwshNeededFor(m.version) }))
    .sort((a, b) => compareVersions(b.version, a.version));
  const selected = selectModule(
    version,
    installed.map((m) => m.version),
  );
  if (installed.length === 0) problems.push('the ExchangeOnlineManagement module is not installed');
  else if (!selected)
    problems.push(
      `no installed ExchangeOnlineManagement fits (${installed.map((m) => `${m.version} needs pwsh ${m.needsPwsh}`).join(', ')}; sendasapp needs ${range} and pwsh ${version} is running)`,
    );
  return {
    ready: pwshOk && selected !== undefined,
    pwsh: { executable, found: true, version, edition: line.psEdition, os: line.os, ok: pwshOk, required: MIN_PWSH },
    module: { found: installed.length > 0, installed, selected, ok: selected !== undefined, range },
    problems,
    install: installCommands(version),
  };
}
