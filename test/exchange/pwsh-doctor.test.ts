/**
 * `sendasapp doctor` and the version rules behind it. The probe is the bridge run with -Probe; here a stand-in
 * executable prints the probe line pwsh would print.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  installCommands,
  probePwsh,
  pwshNeededFor,
  selectModule,
} from '../../src/exchange/pwsh/index.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-doctor-'));

/** An executable that ignores its arguments and prints what `bridge.ps1 -Probe` would print. */
function fakePwsh(name: string, probe: Record<string, unknown> | undefined, exitCode = 0): string {
  const file = path.join(dir, name);
  const line = probe ? JSON.stringify({ type: 'probe', protocol: 1, ...probe }) : '';
  writeFileSync(file, `#!/bin/sh\n${line ? `printf '%s\\n' '${line}'\n` : ''}exit ${exitCode}\n`);
  chmodSync(file, 0o755);
  return file;
}

describe('version rules (m365-facts §4)', () => {
  it('knows which pwsh each module version needs', () => {
    expect(pwshNeededFor('3.10.0')).toBe('7.6.0');
    expect(pwshNeededFor('3.9.2')).toBe('7.4.0');
    expect(pwshNeededFor('3.5.0')).toBe('7.4.0');
    expect(pwshNeededFor('3.4.0')).toBe('7.2.0');
    expect(compareVersions('7.10.0', '7.9.9')).toBe(1);
    expect(compareVersions('7.4.0-preview.1', '7.4.0')).toBe(0);
  });

  it('picks the newest installed module this pwsh can run, within 3.1.0 ≤ v < 4.0.0', () => {
    expect(selectModule('7.4.6', ['3.10.1', '3.9.2', '3.5.0'])).toBe('3.9.2');
    expect(selectModule('7.6.0', ['3.10.1', '3.9.2'])).toBe('3.10.1');
    expect(selectModule('7.4.6', ['3.0.0', '4.0.0'])).toBeUndefined();
    expect(selectModule('7.4.6', [])).toBeUndefined();
  });

  it('gives the module install command that fits the pwsh version', () => {
    expect(installCommands('7.4.6').module[0]).toContain('-MaximumVersion 3.9.2');
    expect(installCommands('7.6.1').module[0]).not.toContain('-MaximumVersion');
  });
});

describe('probePwsh', () => {
  it('is ready with pwsh 7.4 and a fitting module', async () => {
    const exe = fakePwsh('pwsh-ready', {
      psVersion: '7.4.6',
      psEdition: 'Core',
      modules: [{ version: '3.10.0' }, { version: '3.9.2', path: '/m/3.9.2/ExchangeOnlineManagement.psd1' }],
    });
    const p = await probePwsh({ executable: exe });
    expect(p.ready).toBe(true);
    expect(p.pwsh).toMatchObject({ found: true, version: '7.4.6', ok: true });
    expect(p.module.selected).toBe('3.9.2');
    expect(p.module.installed.map((m) => `${m.version}:${m.needsPwsh}`)).toEqual(['3.10.0:7.6.0', '3.9.2:7.4.0']);
    expect(p.problems).toEqual([]);
  });

  it('explains a module that needs a newer pwsh', async () => {
    const exe = fakePwsh('pwsh-74-310', { psVersion: '7.4.6', modules: [{ version: '3.10.0' }] });
    const p = await probePwsh({ executable: exe });
    expect(p.ready).toBe(false);
    expect(p.problems[0]).toMatch(/no installed ExchangeOnlineManagement fits \(3\.10\.0 needs pwsh 7\.6\.0/);
    expect(p.install.module[0]).toContain('-MaximumVersion 3.9.2');
  });

  it('reports a pwsh that is too old, and a missing module', async () => {
    const exe = fakePwsh('pwsh-72', { psVersion: '7.2.18', modules: [] });
    const p = await probePwsh({ executable: exe });
    expect(p.ready).toBe(false);
    expect(p.problems).toEqual([
      'PowerShell 7.2.18 is too old: 7.4.0 or later is needed',
      'the ExchangeOnlineManagement module is not installed',
    ]);
  });

  it('reports pwsh missing from PATH', async () => {
    const p = await probePwsh({ executable: path.join(dir, 'no-such-pwsh') });
    expect(p).toMatchObject({ ready: false, pwsh: { found: false, ok: false } });
    expect(p.problems).toEqual([`PowerShell 7 (${path.join(dir, 'no-such-pwsh')}) is not installed or not on PATH`]);
    expect(p.install.windows).toEqual(['winget install --id Microsoft.PowerShell --source winget']);
    expect(p.install.macos).toEqual(['brew install powershell']);
    expect(p.install.linux.join('\n')).toMatch(/packages-microsoft-prod\.deb[\s\S]*apt-get install -y powershell/);
    expect(p.install.linux.join('\n')).toContain('sudo snap install powershell --classic');
  });
});

describe('sendasapp doctor (built CLI)', () => {
  it('exits 0 and prints the report as JSON on stdout when ready', async () => {
    const exe = fakePwsh('pwsh-cli-ready', { psVersion: '7.5.2', modules: [{ version: '3.9.2' }] });
    const r = await runCli(['doctor', '--output', 'json'], { env: { SENDASAPP_PWSH: exe } });
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ ready: true, pwsh: { version: '7.5.2' }, module: { selected: '3.9.2' } });
    expect(r.stderr).toContain('Ready: `--exchange pwsh` can be used');
    expect(r.json()).toMatchObject({
      sentence: 'PowerShell 7.5.2 with ExchangeOnlineManagement 3.9.2 is ready for --exchange pwsh',
    });
  });

  it('exits 1 and prints the install commands for Windows, macOS and Linux when pwsh is missing', async () => {
    const r = await runCli(['doctor', '--pwsh', path.join(dir, 'absent-pwsh')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('✗ PowerShell: not found');
    expect(r.stderr).toContain('winget install --id Microsoft.PowerShell --source winget');
    expect(r.stderr).toContain('brew install powershell');
    expect(r.stderr).toContain('sudo apt-get update && sudo apt-get install -y powershell');
    expect(r.stderr).toContain('Install-Module -Name ExchangeOnlineManagement');
    expect(r.stderr).toContain('--exchange rest');
    // The one-line doctor sentence a preflight stops with: what is missing and the command that installs it.
    expect(r.stderr).toMatch(
      /--exchange pwsh cannot run here: PowerShell 7 \(.*absent-pwsh\) is not installed.*Install: /,
    );
  });

  it('lists doctor in --help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/doctor \[options\]\s+Check this machine for --exchange pwsh/);
  });
});
