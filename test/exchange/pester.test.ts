/**
 * The PowerShell side's own tests, run inside pwsh with Pester 5 (so `npm test` runs them): test/pwsh/bridge.Tests.ps1
 * (bridge.ps1's Exchange-free parts: JSON parsing, the whitelist, splatting, error shaping) and
 * test/pwsh/ExchangeOnlineManagement.Tests.ps1 (the stand-in module behaves like ExchangeOnlineManagement 3.x, against
 * the emulator). .ci/run installs Pester from NuGet when pwsh does not bundle it; under CI=true a missing pwsh or
 * Pester fails.
 */
import { execa } from 'execa';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { PWSH, describeWithPwsh } from './backends.js';
import { CONTOSO, ROOT, enterpriseApp } from './scenario.js';

interface PesterSummary {
  pester?: string;
  passed: number;
  failed: number;
  skipped: number;
  notRun: number;
  failures: string[];
}

const RUNNER = `
$ErrorActionPreference = 'Stop'
$pester = Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version -ge [version]'5.0' } | Sort-Object Version -Descending | Select-Object -First 1
if ($null -eq $pester) { [Console]::Out.WriteLine('{"pester":null}'); exit 3 }
Import-Module $pester.Path
$c = New-PesterConfiguration
$c.Run.Path = $env:SENDASAPP_PESTER_PATH
$c.Run.PassThru = $true
$c.Output.Verbosity = 'None'
$r = Invoke-Pester -Configuration $c
$summary = [ordered]@{
  pester = $pester.Version.ToString(); passed = $r.PassedCount; failed = $r.FailedCount; skipped = $r.SkippedCount; notRun = $r.NotRunCount
  failures = @($r.Failed | ForEach-Object { $_.ExpandedPath + ': ' + [string] $_.ErrorRecord })
}
[Console]::Out.WriteLine((ConvertTo-Json -InputObject $summary -Compress -Depth 4))
`;

async function pester(file: string, env: Record<string, string> = {}): Promise<PesterSummary> {
  const r = await execa(PWSH!, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', RUNNER], {
    reject: false,
    env: { SENDASAPP_PESTER_PATH: path.join(ROOT, 'test/pwsh', file), ...env },
    timeout: 180_000,
  });
  const line = r.stdout
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`Pester gave no summary (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  const summary = JSON.parse(line) as PesterSummary;
  if (!summary.pester)
    throw new Error(
      'Pester 5 is not installed for pwsh: .ci/run installs it (`dotnet package download Pester@5.7.1`, unpacked to ~/.local/share/powershell/Modules/Pester/5.7.1)',
    );
  return summary;
}

function expectAllPassed(s: PesterSummary, atLeast: number): void {
  expect(s.failures).toEqual([]);
  expect(s.failed).toBe(0);
  expect(s.skipped + s.notRun).toBe(0);
  expect(s.passed).toBeGreaterThanOrEqual(atLeast);
}

describeWithPwsh('Pester: bridge.ps1 and the stand-in module, tested inside pwsh', () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => {
    await emu?.close();
  });

  it('bridge.ps1: JSON parsing, whitelist, splatting, error shaping', async () => {
    expectAllPassed(await pester('bridge.Tests.ps1'), 18);
  }, 180_000);

  it('the stand-in ExchangeOnlineManagement behaves like the real 3.x (cmdlets at Connect, error shapes, -ErrorAction)', async () => {
    const stranger = enterpriseApp(emu, 'Pester app without an Exchange role');
    const s = await pester('ExchangeOnlineManagement.Tests.ps1', {
      SENDASAPP_PESTER_EXO_URI: emu.endpoints.exchangeAdminUrl,
      SENDASAPP_PESTER_EXO_ORG: emu.store.findTenant(CONTOSO)!.id,
      SENDASAPP_PESTER_EXO_TOKEN: emu.mintAppToken(CONTOSO, emu.endpoints.operator.clientId, 'exchange'),
      SENDASAPP_PESTER_EXO_STRANGER_TOKEN: emu.mintAppToken(CONTOSO, stranger.appId, 'exchange'),
    });
    expectAllPassed(s, 7);
  }, 180_000);
});
