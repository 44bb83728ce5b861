/**
 * Is this machine ready for --exchange pwsh? Runs the bridge with -Probe (no connection, no secret): it reports
 * pwsh's version and the installed ExchangeOnlineManagement versions; the rules in versions.ts decide.
 */
import { bridgeArgs } from './bridge-path.js';
import { bridgeEnvironment } from './environment.js';
import { killTree, OWN_PROCESS_GROUP } from './process.js';
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
  /** One line: what will be used, or what is missing and the command that installs it (the `doctor` sentence). */
  sentence: string;
}

export interface ProbeLine {
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

/** What a machine without PowerShell would type first (by OS), for the one-line sentence. */
function installHint(install: InstallCommands, pwshOk: boolean): string {
  if (pwshOk) return install.module[0]!;
  const os =
    process.platform === 'win32'
      ? install.windows[0]!
      : process.platform === 'darwin'
        ? install.macos[0]!
        : '`sudo snap install powershell --classic` (or `dotnet tool install --global PowerShell`, or the Microsoft package repository)';
  return `${os}, then ${install.module[0]!}`;
}

/**
 * The doctor sentence: what is missing and the command that installs it, or what will be used. One line, for the
 * preflight to stop with before any write.
 */
export function probeSentence(p: Omit<PwshProbe, 'sentence'>): string {
  if (p.ready)
    return `PowerShell ${p.pwsh.version} with ExchangeOnlineManagement ${p.module.selected} is ready for --exchange pwsh`;
  return `--exchange pwsh cannot run here: ${p.problems.join('; ')}. Install: ${installHint(p.install, p.pwsh.ok)}. Or use --exchange rest (needs neither); \`sendasapp doctor\` lists the commands for every OS`;
}

/**
 * The readiness verdict from the bridge's probe or hello line (pwsh's version and the installed modules), or from
 * the way the process failed to give one.
 */
export function probeFromHello(
  executable: string,
  line: ProbeLine | undefined,
  failure: { spawnCode?: string; message?: string; timedOut?: boolean; exitCode?: number } = {},
): PwshProbe {
  const range = `>=${MIN_MODULE} <${MODULE_BELOW}`;
  const problems: string[] = [];
  if (!line) {
    const errno = failure.spawnCode;
    problems.push(
      errno === 'ENOENT'
        ? `PowerShell 7 (${executable}) is not installed or not on PATH`
        : `${executable} did not answer the probe (${failure.timedOut ? 'timed out' : (errno ?? failure.message ?? `exit code ${failure.exitCode ?? 'unknown'}`)})`,
    );
    const probe = {
      ready: false,
      pwsh: { executable, found: errno !== 'ENOENT' && errno !== 'EACCES', ok: false, required: MIN_PWSH },
      module: { found: false, installed: [], ok: false, range },
      problems,
      install: installCommands(),
    };
    return { ...probe, sentence: probeSentence(probe) };
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
  const probe = {
    ready: pwshOk && selected !== undefined,
    pwsh: { executable, found: true, version, edition: line.psEdition, os: line.os, ok: pwshOk, required: MIN_PWSH },
    module: { found: installed.length > 0, installed, selected, ok: selected !== undefined, range },
    problems,
    install: installCommands(version),
  };
  return { ...probe, sentence: probeSentence(probe) };
}

/**
 * Checks once, without connecting and without any secret, whether pwsh 7.4+ and ExchangeOnlineManagement 3.x are
 * here (one short `pwsh -File bridge.ps1 -Probe`). For `doctor`, and for a preflight that has no bridge running; a
 * run that will use the bridge asks `PwshExchangeBackend.probe()` instead (same answer, no second pwsh).
 */
export async function probePwsh(o: ProbeOptions = {}): Promise<PwshProbe> {
  const executable = o.executable ?? process.env.SENDASAPP_PWSH ?? 'pwsh';
  const { execa } = await import('execa');
  const sub = execa(executable, o.args ?? bridgeArgs(['-Probe']), {
    reject: false,
    timeout: o.timeoutMs ?? 60_000,
    stdin: 'ignore',
    windowsHide: true,
    ...OWN_PROCESS_GROUP,
    extendEnv: false,
    env: bridgeEnvironment(process.env, { extra: o.env }),
  });
  const r = await sub;
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
  // A timed-out probe kills only the shim: the engine behind it goes too.
  killTree(sub.pid, 'SIGKILL');
  const errno = typeof r.code === 'string' && r.exitCode === undefined ? r.code : undefined;
  return probeFromHello(executable, line, { spawnCode: errno, timedOut: r.timedOut, exitCode: r.exitCode });
}
