/**
 * The operator's sign-in: one @azure/identity credential that gets Graph and Exchange tokens for the home and the
 * mailbox tenant.
 */
import {
  AzureCliCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  EnvironmentCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import { ConfigError } from '../config/index.js';
import type { AUTH_MODES } from '../config/index.js';
import type { CloudProfile } from './cloud.js';
import { DEFAULT_TIMEOUT_MS, type NetworkBounds } from './network.js';
import { tokenServiceBounds } from './token-service.js';
import { fileTokenCache, memoryTokenCache } from './token-cache.js';
import { UserSignIn } from './user-sign-in.js';

export type AuthMode = (typeof AUTH_MODES)[number];

export interface OperatorSignIn {
  credential: TokenCredential;
  mode: AuthMode | 'emulator-operator';
  /** Who signs in, for the report: an app id, or 'user'. */
  principal: string;
}

export interface SignInOptions {
  auth?: AuthMode;
  profile: CloudProfile;
  /** Tenant to sign in to (the home tenant of the app, else the mailbox tenant). */
  tenant: string;
  isTty: boolean;
  env?: NodeJS.ProcessEnv;
  /** Where device-code instructions go (stderr). */
  prompt: (message: string) => void;
  /** Timeout, retries, cancellation and the request log of every token request (`--timeout`, `--verbose`). */
  bounds?: NetworkBounds;
  /**
   * GDAP: the operator is a user of this partner tenant (`--partner-tenant`): the sign-in happens there and the
   * customer tenants' tokens come from the same sign-in. Only a person's sign-in modes apply.
   */
  partnerTenant?: string;
  /** `--token-cache FILE`: keep a person's sign-in across commands (mode 0600, refresh tokens unencrypted). */
  tokenCache?: string;
}

/**
 * Client options every credential shares: the cloud's authority, and the emulator's CA when there is one. (Without
 * bounds: `signInOperator` and `createAppCredential` add the timeout, the retries and the request log.)
 */
export function identityClientOptions(profile: CloudProfile) {
  return {
    authorityHost: profile.authorityHost,
    disableInstanceDiscovery: profile.disableInstanceDiscovery,
    additionallyAllowedTenants: ['*'],
    ...(profile.caPem ? { tlsOptions: { ca: profile.caPem } } : {}),
  };
}

function need(env: NodeJS.ProcessEnv, name: string, mode: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(name, `is required with --auth ${mode}`);
  return v;
}

/**
 * The operator's credential for the chosen --auth, every token request bounded by `o.bounds` (response timeout,
 * transient failures retried within the deadline, AADSTS answers final, cancellation, one RequestEvent each).
 */
export function signInOperator(o: SignInOptions): OperatorSignIn {
  const bounded = tokenServiceBounds(o.bounds);
  const signIn = operatorCredential(o, bounded.options);
  return { ...signIn, credential: bounded.wrap(signIn.credential) };
}

function operatorCredential(
  o: SignInOptions,
  bounds: ReturnType<typeof tokenServiceBounds>['options'],
): OperatorSignIn {
  const env = o.env ?? process.env;
  const plain = identityClientOptions(o.profile);
  const common = { ...plain, ...bounds };
  let mode: AuthMode | undefined = o.auth;
  if (o.partnerTenant) mode ??= o.isTty ? 'interactive' : 'device-code';
  if (!mode && o.profile.emulatorOperator) {
    const op = o.profile.emulatorOperator;
    return {
      credential: new ClientSecretCredential(op.tenantId, op.clientId, op.clientSecret, common),
      mode: 'emulator-operator',
      principal: op.clientId,
    };
  }
  mode ??= o.isTty ? 'interactive' : 'environment';
  switch (mode) {
    case 'interactive':
    case 'device-code':
      return {
        credential: new UserSignIn({
          mode,
          signInTenant: o.partnerTenant ?? o.tenant,
          store: o.tokenCache ? fileTokenCache(o.tokenCache) : memoryTokenCache(),
          clientOptions: common,
          prompt: o.prompt,
        }),
        mode,
        principal: 'user',
      };
    case 'client-secret': {
      const clientId = need(env, 'AZURE_CLIENT_ID', mode);
      return {
        credential: new ClientSecretCredential(
          env.AZURE_TENANT_ID ?? o.tenant,
          clientId,
          need(env, 'AZURE_CLIENT_SECRET', mode),
          common,
        ),
        mode,
        principal: clientId,
      };
    }
    case 'client-certificate': {
      const clientId = need(env, 'AZURE_CLIENT_ID', mode);
      return {
        credential: new ClientCertificateCredential(
          env.AZURE_TENANT_ID ?? o.tenant,
          clientId,
          { certificatePath: need(env, 'AZURE_CLIENT_CERTIFICATE_PATH', mode) },
          common,
        ),
        mode,
        principal: clientId,
      };
    }
    case 'environment':
      if (!env.AZURE_CLIENT_ID)
        throw new ConfigError(
          '--auth',
          'no operator sign-in: without a TTY give --auth, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH / AZURE_FEDERATED_TOKEN_FILE)',
        );
      return { credential: new EnvironmentCredential(common), mode, principal: env.AZURE_CLIENT_ID };
    case 'azure-cli':
      return {
        credential: new AzureCliCredential({
          tenantId: o.tenant,
          additionallyAllowedTenants: ['*'],
          processTimeoutInMs: o.bounds?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        }),
        mode,
        principal: 'user',
      };
    case 'managed-identity':
      // ManagedIdentityCredential installs its own IMDS retry policy in place of ours (and would take
      // maxRetries: 0 as "no IMDS retries"): it keeps the SDK's retries; cancellation still applies.
      return {
        credential: env.AZURE_CLIENT_ID
          ? new ManagedIdentityCredential(env.AZURE_CLIENT_ID, plain)
          : new ManagedIdentityCredential(plain),
        mode,
        principal: env.AZURE_CLIENT_ID ?? 'managed identity',
      };
    case 'workload-identity':
      return {
        credential: new WorkloadIdentityCredential({ ...common, tenantId: env.AZURE_TENANT_ID ?? o.tenant }),
        mode,
        principal: env.AZURE_CLIENT_ID ?? 'workload identity',
      };
  }
}
