/**
 * templates/exchange/bridge.ps1 read as text: nothing in it can turn data into code, its whitelist is the backend's,
 * its version rules are versions.ts's, and the test module offers every whitelisted cmdlet.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MIN_MODULE,
  MIN_PWSH,
  MODULE_BELOW,
  PWSH_CMDLETS,
  bridgeArgs,
  bridgeScriptPath,
} from '../../src/exchange/pwsh/index.js';
import { ROOT, TEST_MODULE_DIR } from './scenario.js';

const bridge = readFileSync(path.join(ROOT, 'templates/exchange/bridge.ps1'), 'utf8');

/** The script without comments (block comments and `#` to the end of a line outside quotes). */
function code(script: string): string {
  const noBlocks = script.replace(/<#[\s\S]*?#>/g, '');
  return noBlocks
    .split('\n')
    .map((line) => {
      let quote: string | undefined;
      for (let i = 0; i < line.length; i++) {
        const c = line[i]!;
        if (quote) {
          if (c === quote) quote = undefined;
        } else if (c === "'" || c === '"') quote = c;
        else if (c === '#') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

function listAfter(script: string, marker: string): string[] {
  const start = script.indexOf(marker);
  expect(start, marker).toBeGreaterThanOrEqual(0);
  const end = script.indexOf(')', start + marker.length);
  return [...script.slice(start + marker.length, end).matchAll(/'([A-Za-z-]+)'/g)].map((m) => m[1]!);
}

describe('bridge.ps1, statically', () => {
  const body = code(bridge);

  it('has no way to run text as code', () => {
    for (const forbidden of [
      /Invoke-Expression/i,
      /\biex\b/i,
      /\[scriptblock\]\s*::\s*Create/i,
      /NewScriptBlock/i,
      /\.InvokeCommand\b/i,
      /Add-Type/i,
      /Invoke-Command/i,
      /Start-Process/i,
      /Start-Job/i,
      /\bExpandString\b/i,
    ])
      expect(bridge, String(forbidden)).not.toMatch(forbidden);
  });

  it('calls exactly one command by reference: the whitelisted one, splatted', () => {
    const calls = [...body.matchAll(/(^|[^\w-])&\s*(\S+)[^\n]*/g)].map((m) => m[0].trim());
    expect(calls).toEqual([
      expect.stringMatching(/^\(& \$command @splat -ErrorAction Stop -ErrorVariable cmdletErrors/),
    ]);
    expect(body).toContain('$output = @(& $command @splat');
    // No dot-sourcing either.
    expect(body).not.toMatch(/(^|[;{(]\s*)\.\s+[$'"]/m);
    expect(body).toMatch(/\$command = Get-Command -Name \$name -CommandType Cmdlet, Function/);
    expect(body).toMatch(/\$name = Find-AllowedCmdlet -Name \(\[string\] \$Request\['cmdlet'\]\)/);
    // Whitelist matching is by -ieq (no wildcards, no regex).
    expect(body).toMatch(/if \(\$cmdlet -ieq \$Name\) \{ return \$cmdlet \}/);
  });

  it('whitelists exactly the cmdlets of the backend', () => {
    const list = listAfter(bridge, '$script:AllowedCmdlets = @(');
    expect(list).toEqual([...PWSH_CMDLETS]);
  });

  it('connects once per session with -ShowBanner:$false, -SkipLoadingFormatData and -CommandName', () => {
    expect(body.match(/Connect-ExchangeOnline @splat/g)).toHaveLength(1);
    expect(body).toContain("$splat['ShowBanner'] = $false");
    expect(body).toContain("$splat['SkipLoadingFormatData'] = $true");
    expect(body).toContain("$splat['CommandName'] = [string[]] $names.ToArray()");
    expect(listAfter(bridge, '$script:ConnectParameterNames = @(')).toEqual([
      'AccessToken',
      'Organization',
      'DelegatedOrganization',
      'UserPrincipalName',
      'AppId',
      'CertificateFilePath',
      'CertificatePassword',
      'ManagedIdentity',
      'ManagedIdentityAccountId',
      'Device',
      'ExchangeEnvironmentName',
      'ConnectionUri',
      'AzureADAuthorizationEndpointUri',
    ]);
  });

  it('disconnects in a finally block (EOF, error and Ctrl-C alike)', () => {
    const fin = body.slice(body.lastIndexOf('} finally {'));
    expect(fin).toMatch(/Disconnect-ExchangeOnline -Confirm:\$false/);
  });

  it('takes no value on its command line but -Probe', () => {
    const param = /param\(\s*([\s\S]*?)\)\s*\n/.exec(body)![1]!;
    expect(param.replace(/\s+/g, ' ').trim()).toBe('[switch] $Probe');
    expect(bridgeArgs()).toEqual(['-NoLogo', '-NoProfile', '-NonInteractive', '-File', bridgeScriptPath()]);
  });

  it('applies the same version rules as versions.ts', () => {
    expect(body).toContain(`$script:MinimumPwsh = [version]'${MIN_PWSH}'`);
    expect(body).toContain(`$script:ModuleMinimum = [version]'${MIN_MODULE}'`);
    expect(body).toContain(`$script:ModuleBelow = [version]'${MODULE_BELOW}'`);
    expect(body).toMatch(/\$ModuleVersion -ge \[version\]'3\.10\.0'\) \{ return \[version\]'7\.6\.0' \}/);
    expect(body).toMatch(/\$ModuleVersion -ge \[version\]'3\.5\.0'\) \{ return \[version\]'7\.4\.0' \}/);
  });
});

describe('the ExchangeOnlineManagement test module', () => {
  const psd1 = readFileSync(
    path.join(TEST_MODULE_DIR, 'ExchangeOnlineManagement/ExchangeOnlineManagement.psd1'),
    'utf8',
  );
  const psm1 = readFileSync(
    path.join(TEST_MODULE_DIR, 'ExchangeOnlineManagement/ExchangeOnlineManagement.psm1'),
    'utf8',
  );

  const cmdletsFile = readFileSync(path.join(TEST_MODULE_DIR, 'ExchangeOnlineManagement/Cmdlets.ps1'), 'utf8');

  it('exports only Connect/Disconnect-ExchangeOnline; Connect creates every whitelisted cmdlet, each forwarded', () => {
    expect(psd1).toMatch(/FunctionsToExport = @\('Connect-ExchangeOnline', 'Disconnect-ExchangeOnline'\)/);
    expect(psm1).toMatch(/Export-ModuleMember -Function @\('Connect-ExchangeOnline', 'Disconnect-ExchangeOnline'\)/);
    expect(listAfter(psm1, '$script:CmdletNames = @(').sort()).toEqual([...PWSH_CMDLETS].sort());
    for (const c of PWSH_CMDLETS) {
      expect(psm1, c).not.toContain(`function ${c} {`);
      expect(cmdletsFile, c).toContain(`function ${c} {`);
      expect(cmdletsFile, c).toContain(`-CmdletName '${c}' -BoundParameters $PSBoundParameters`);
    }
  });

  it('declares a version the bridge accepts on pwsh 7.4', () => {
    expect(psd1).toMatch(/ModuleVersion\s*=\s*'3\.9\.2'/);
  });

  it('has no way to run text as code either', () => {
    for (const text of [psm1, cmdletsFile])
      expect(text).not.toMatch(/Invoke-Expression|\biex\b|\[scriptblock\]\s*::\s*Create|Add-Type/i);
  });
});
