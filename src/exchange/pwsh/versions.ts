/**
 * Which PowerShell and which ExchangeOnlineManagement fit together (m365-facts §4, "Platform"): module 3.0–3.4 needs
 * pwsh 7.2, 3.5.0–3.9.2 needs 7.4 (.NET 8), 3.10.0 and later needs 7.6 (.NET 10). sendasapp needs -AccessToken
 * (module 3.1.0+) and supports pwsh 7.4+. templates/exchange/bridge.ps1 applies the same rules.
 */
export const MIN_PWSH = '7.4.0';
/** Lowest module version the bridge accepts (Connect-ExchangeOnline -AccessToken arrived in 3.1.0). */
export const MIN_MODULE = '3.1.0';
/** First module major the bridge has not been written against. */
export const MODULE_BELOW = '4.0.0';
/** The newest module that still runs on pwsh 7.4 / 7.5. */
export const LAST_MODULE_FOR_PWSH_74 = '3.9.2';

/** Compares dotted versions numerically ('7.10' > '7.9'); a pre-release suffix is ignored. */
export function compareVersions(a: string, b: string): number {
  const pa = a
    .split(/[-+]/)[0]!
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  const pb = b
    .split(/[-+]/)[0]!
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** The PowerShell version a module version needs. */
export function pwshNeededFor(moduleVersion: string): string {
  if (compareVersions(moduleVersion, '3.10.0') >= 0) return '7.6.0';
  if (compareVersions(moduleVersion, '3.5.0') >= 0) return '7.4.0';
  return '7.2.0';
}

export function moduleInRange(moduleVersion: string): boolean {
  return compareVersions(moduleVersion, MIN_MODULE) >= 0 && compareVersions(moduleVersion, MODULE_BELOW) < 0;
}

/** The newest installed module version the bridge would import under this pwsh, if any. */
export function selectModule(pwshVersion: string, installed: readonly string[]): string | undefined {
  return [...installed]
    .filter((v) => moduleInRange(v) && compareVersions(pwshVersion, pwshNeededFor(v)) >= 0)
    .sort((a, b) => compareVersions(b, a))[0];
}

export interface InstallCommands {
  windows: string[];
  macos: string[];
  linux: string[];
  /** ExchangeOnlineManagement, run once pwsh is there. */
  module: string[];
}

/** The exact commands to install PowerShell 7 and the module (the module command fits the pwsh version). */
export function installCommands(pwshVersion?: string): InstallCommands {
  const modern = pwshVersion === undefined || compareVersions(pwshVersion, '7.6.0') >= 0;
  const moduleCmd = modern
    ? `pwsh -NoProfile -Command "Install-Module -Name ExchangeOnlineManagement -Scope CurrentUser -MinimumVersion ${MIN_MODULE} -Force"`
    : `pwsh -NoProfile -Command "Install-Module -Name ExchangeOnlineManagement -Scope CurrentUser -MinimumVersion ${MIN_MODULE} -MaximumVersion ${LAST_MODULE_FOR_PWSH_74} -Force"`;
  return {
    windows: ['winget install --id Microsoft.PowerShell --source winget'],
    macos: ['brew install powershell'],
    linux: [
      '# Ubuntu / Debian (Microsoft package repository):',
      'source /etc/os-release',
      'wget -q "https://packages.microsoft.com/config/$ID/$VERSION_ID/packages-microsoft-prod.deb"',
      'sudo dpkg -i packages-microsoft-prod.deb && rm packages-microsoft-prod.deb',
      'sudo apt-get update && sudo apt-get install -y powershell',
      '# RHEL / Fedora-based (Microsoft package repository):',
      'sudo dnf install -y "https://packages.microsoft.com/config/rhel/$(rpm -E %rhel)/packages-microsoft-prod.rpm" && sudo dnf install -y powershell',
      '# any distribution with snap:',
      'sudo snap install powershell --classic',
      '# anywhere with the .NET SDK 8 or later (no root needed):',
      'dotnet tool install --global PowerShell && export PATH="$HOME/.dotnet/tools:$PATH"',
    ],
    module: [moduleCmd],
  };
}
