/**
 * `sendasapp doctor`: is this machine ready for --exchange pwsh? Reports PowerShell's version (7.4 or later is
 * needed), the ExchangeOnlineManagement versions installed and the one the bridge would use, and the exact commands
 * to install what is missing, per OS. Exit 0 when ready, 1 when not. `--exchange auto` (the default) takes pwsh when
 * this says ready and the REST backend otherwise, which needs none of this.
 */
import { probePwsh, type PwshProbe } from '../exchange/index.js';
import { ExitCode } from './exit-codes.js';
import { printJson } from './output.js';

export interface DoctorFlags extends Record<string, unknown> {
  output?: string;
  pwsh?: string;
}

function describe(probe: PwshProbe): string[] {
  const lines: string[] = ['sendasapp doctor: --exchange pwsh (ExchangeOnlineManagement in PowerShell 7)'];
  const p = probe.pwsh;
  lines.push(
    `  ${p.ok ? '✓' : '✗'} PowerShell: ${p.version ? `${p.version}${p.edition ? ` ${p.edition}` : ''}` : p.found ? 'did not answer' : 'not found'} (${p.executable}); needs ${p.required} or later`,
  );
  const m = probe.module;
  const installed = m.installed.map((i) => `${i.version} (needs pwsh ${i.needsPwsh})`).join(', ');
  lines.push(
    `  ${m.ok ? '✓' : '✗'} ExchangeOnlineManagement: ${m.selected ? `${m.selected} will be used` : 'none usable'}${installed ? `; installed: ${installed}` : p.found && p.ok ? '; not installed' : ''}; sendasapp needs ${m.range}`,
  );
  if (probe.ready) {
    lines.push('Ready: `--exchange pwsh` can be used (and `--exchange auto`, the default, will use it).');
    return lines;
  }
  for (const problem of probe.problems) lines.push(`  Problem: ${problem}`);
  if (!p.ok) {
    lines.push('Install PowerShell 7.4 or later:');
    lines.push('  Windows:', ...probe.install.windows.map((c) => `    ${c}`));
    lines.push('  macOS:', ...probe.install.macos.map((c) => `    ${c}`));
    lines.push('  Linux:', ...probe.install.linux.map((c) => `    ${c}`));
  }
  if (!m.ok) {
    lines.push(`${p.ok ? 'Install' : 'Then install'} the ExchangeOnlineManagement module:`);
    lines.push(...probe.install.module.map((c) => `  ${c}`));
  }
  lines.push('Or use the REST backend (`--exchange rest`; `--exchange auto` falls back to it), which needs neither.');
  lines.push(probe.sentence);
  return lines;
}

export async function doctorCommand(flags: DoctorFlags): Promise<number> {
  const probe = await probePwsh({ executable: typeof flags.pwsh === 'string' ? flags.pwsh : undefined });
  for (const line of describe(probe)) process.stderr.write(line + '\n');
  if (flags.output === 'json') printJson(probe);
  return probe.ready ? ExitCode.ok : ExitCode.failed;
}
