/**
 * `--exchange pwsh`: builds the pwsh backend for a tenant run from the cloud profile and the operator's sign-in.
 *
 * By default the bridge connects with -AccessToken, a token the operator credential (@azure/identity) obtains for
 * the cloud's Exchange scope, so the operator signs in once for Graph and Exchange. The module's own sign-ins are
 * chosen with SENDASAPP_EXO_CONNECT:
 *   certificate       -AppId (SENDASAPP_EXO_APP_ID or AZURE_CLIENT_ID) -CertificateFilePath (SENDASAPP_EXO_CERTIFICATE_PATH,
 *                     a PFX) [-CertificatePassword (SENDASAPP_EXO_CERTIFICATE_PASSWORD)] -Organization
 *   managed-identity  -ManagedIdentity -Organization [-ManagedIdentityAccountId (AZURE_CLIENT_ID)]
 *   device            -Device [-UserPrincipalName (SENDASAPP_EXO_UPN)]
 * SENDASAPP_EXO_DELEGATED_ORGANIZATION (a partner managing a customer) sends -DelegatedOrganization instead of
 * -Organization. SENDASAPP_PWSH names the PowerShell executable (default `pwsh` on PATH).
 *
 * pwsh is given only the environment it needs (environment.ts). SENDASAPP_PWSH_PASS_ENV (comma-separated names) adds
 * more, e.g. a proxy's own settings; names that look like credentials are never passed.
 */
import type { TokenCredential } from '@azure/identity';
import type { CloudProfile } from '../../auth/index.js';
import { ConfigError } from '../../config/index.js';
import { PwshExchangeBackend, type PwshBackendOptions, type PwshConnect } from './backend.js';

/** What the run hands the pwsh factory (structurally; exchange/ does not import provision/). */
export interface PwshFactoryInput {
  profile: CloudProfile;
  tenantId: string;
  /** GDAP: connect with -DelegatedOrganization (the customer) instead of -Organization. */
  delegatedOrganization?: string;
  ctx: {
    credential: TokenCredential;
    progress: (line: string) => void;
    signal: AbortSignal;
  };
}

export interface PwshFactoryOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Start pwsh, import the module and connect as soon as the backend is made (default true), so that PowerShell's
   * seconds pass while sign-in and the Graph half run; false waits for the first cmdlet.
   */
  startEarly?: boolean;
  /** Overrides (tests: a stand-in executable, short timeouts). */
  backend?: Partial<PwshBackendOptions>;
}

export const EXO_CONNECT_MODES = ['access-token', 'certificate', 'managed-identity', 'device'] as const;

function need(env: NodeJS.ProcessEnv, name: string, mode: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(name, `is required with SENDASAPP_EXO_CONNECT=${mode}`);
  return v;
}

export function pwshConnectFor(input: PwshFactoryInput, env: NodeJS.ProcessEnv = process.env): PwshConnect {
  const { profile, tenantId, ctx } = input;
  const mode = (env.SENDASAPP_EXO_CONNECT || 'access-token').toLowerCase();
  const delegated = input.delegatedOrganization ?? (env.SENDASAPP_EXO_DELEGATED_ORGANIZATION || undefined);
  const common = {
    exchangeEnvironmentName: profile.exchangeEnvironmentName,
    // Only the emulator (or a hand-written endpoints file) needs an explicit endpoint; real clouds go by environment name.
    ...(profile.name === 'emulator' ? { connectionUri: profile.exchangeAdminUrl } : {}),
  };
  switch (mode) {
    case 'access-token':
      return {
        ...common,
        mode: 'access-token',
        organization: tenantId,
        delegatedOrganization: delegated,
        getToken: async () => {
          const t = await ctx.credential.getToken(profile.exchangeScope, { tenantId, abortSignal: ctx.signal });
          return { token: t?.token ?? '', expiresOnTimestamp: t?.expiresOnTimestamp };
        },
      };
    case 'certificate':
      return {
        ...common,
        mode: 'certificate',
        appId: env.SENDASAPP_EXO_APP_ID || need(env, 'AZURE_CLIENT_ID', mode),
        certificateFilePath: need(env, 'SENDASAPP_EXO_CERTIFICATE_PATH', mode),
        certificatePassword: env.SENDASAPP_EXO_CERTIFICATE_PASSWORD || undefined,
        organization: tenantId,
      };
    case 'managed-identity':
      return {
        ...common,
        mode: 'managed-identity',
        organization: tenantId,
        managedIdentityAccountId: env.AZURE_CLIENT_ID || undefined,
      };
    case 'device':
      return {
        ...common,
        mode: 'device',
        userPrincipalName: env.SENDASAPP_EXO_UPN || undefined,
        delegatedOrganization: delegated,
      };
    default:
      throw new ConfigError('SENDASAPP_EXO_CONNECT', `must be one of ${EXO_CONNECT_MODES.join(', ')} (got "${mode}")`);
  }
}

const CREDENTIAL_LIKE = /secret|password|passwd|token|credential|private|_key\b|^azure_client/i;

/** The variables SENDASAPP_PWSH_PASS_ENV names, except credential-like ones. */
export function passedEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of (env.SENDASAPP_PWSH_PASS_ENV ?? '').split(',').map((n) => n.trim())) {
    const value = name ? env[name] : undefined;
    if (value !== undefined && !CREDENTIAL_LIKE.test(name)) out[name] = value;
  }
  return out;
}

/** The pwsh backend of a tenant run: one PwshExchangeBackend (one pwsh process) per run, started at once. */
export function createPwshExchangeFactory(
  o: PwshFactoryOptions = {},
): (input: PwshFactoryInput) => PwshExchangeBackend {
  const env = o.env ?? process.env;
  return (input) => {
    const backend = new PwshExchangeBackend({
      connect: pwshConnectFor(input, env),
      executable: env.SENDASAPP_PWSH || undefined,
      parentEnv: env,
      env: passedEnvironment(env),
      signal: input.ctx.signal,
      onOutput: (line) => input.ctx.progress(`  pwsh: ${line}`),
      onRetry: (what, ms) =>
        input.ctx.progress(ms > 0 ? `  retrying in ${Math.round(ms / 1000)} s: ${what}` : `  ${what}`),
      ...o.backend,
    });
    if (o.startEarly !== false) void backend.start();
    return backend;
  };
}
