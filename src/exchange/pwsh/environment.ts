/**
 * The environment pwsh is started with: what PowerShell, .NET and the module need to run and reach the network, and
 * nothing else. sendasapp's own credentials (AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PASSWORD, a Key Vault
 * token, SENDASAPP_* settings, CI secrets) never reach it: the bridge gets what it needs on stdin.
 */

/** Names passed on as they are (matched case-insensitively: Windows spells them as it likes). */
const PASSED = new Set(
  [
    // where programs, the user and temporary files are
    'PATH',
    'PATHEXT',
    'HOME',
    'USER',
    'LOGNAME',
    'USERNAME',
    'USERPROFILE',
    'HOMEDRIVE',
    'HOMEPATH',
    'TMP',
    'TEMP',
    'TMPDIR',
    'XDG_CONFIG_HOME',
    'XDG_DATA_HOME',
    'XDG_CACHE_HOME',
    'XDG_RUNTIME_DIR',
    // language and time
    'LANG',
    'LANGUAGE',
    'TZ',
    // Windows essentials
    'SYSTEMROOT',
    'SYSTEMDRIVE',
    'WINDIR',
    'COMSPEC',
    'APPDATA',
    'LOCALAPPDATA',
    'PROGRAMDATA',
    'PROGRAMFILES',
    'PROGRAMFILES(X86)',
    'PROGRAMW6432',
    'COMMONPROGRAMFILES',
    'COMMONPROGRAMFILES(X86)',
    'PROCESSOR_ARCHITECTURE',
    'NUMBER_OF_PROCESSORS',
    'OS',
    // PowerShell and .NET
    'PSMODULEPATH',
    'DOTNET_ROOT',
    'DOTNET_ROOT_X64',
    'DOTNET_ROOT(X86)',
    'DOTNET_BUNDLE_EXTRACT_BASE_DIR',
    'DOTNET_SYSTEM_GLOBALIZATION_INVARIANT',
    // network: proxies and the trust store (the module talks to Exchange over HTTPS)
    'HTTPS_PROXY',
    'HTTP_PROXY',
    'NO_PROXY',
    'ALL_PROXY',
    'SSL_CERT_FILE',
    'SSL_CERT_DIR',
  ].map((n) => n.toLowerCase()),
);

/** Connect-ExchangeOnline -ManagedIdentity reads the platform's identity endpoint (App Service, Functions, Arc). */
const MANAGED_IDENTITY = new Set(
  [
    'IDENTITY_ENDPOINT',
    'IDENTITY_HEADER',
    'IDENTITY_SERVER_THUMBPRINT',
    'MSI_ENDPOINT',
    'MSI_SECRET',
    'IMDS_ENDPOINT',
  ].map((n) => n.toLowerCase()),
);

export interface BridgeEnvironmentOptions {
  /** Connect-ExchangeOnline -ManagedIdentity: the platform's identity endpoint variables are passed too. */
  managedIdentity?: boolean;
  /** Set on top (tests: PSModulePath, the stand-in module's hooks). Never a secret. */
  extra?: Record<string, string | undefined>;
}

/** The complete environment for the bridge (start it with extendEnv: false). */
export function bridgeEnvironment(parent: NodeJS.ProcessEnv, o: BridgeEnvironmentOptions = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (PASSED.has(lower) || lower.startsWith('lc_') || (o.managedIdentity && MANAGED_IDENTITY.has(lower)))
      env[name] = value;
  }
  env.POWERSHELL_TELEMETRY_OPTOUT = '1';
  env.POWERSHELL_UPDATECHECK = 'Off';
  env.DOTNET_CLI_TELEMETRY_OPTOUT = '1';
  for (const [name, value] of Object.entries(o.extra ?? {})) if (value !== undefined) env[name] = value;
  return env;
}
