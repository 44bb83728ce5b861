/**
 * Cloud profiles: the login, Graph, Exchange and SMTP hosts of each Microsoft cloud, or of the emulator (its
 * endpoints.json). Token scopes keep the real resource names in every profile; only hosts change.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../config/index.js';

export interface CloudProfile {
  name: 'global' | 'usgov' | 'usgov-dod' | 'china' | 'emulator';
  authorityHost: string;
  graphBaseUrl: string;
  /** Scope for Graph tokens (`…/.default`). */
  graphScope: string;
  /** Exchange admin REST base, without the tenant: `https://outlook.office365.com/adminapi/beta`. */
  exchangeAdminUrl: string;
  /** Scope for Exchange admin and SMTP tokens. */
  exchangeScope: string;
  /** Value of Connect-ExchangeOnline -ExchangeEnvironmentName. */
  exchangeEnvironmentName: string;
  smtp: { host: string; port: number };
  /** Extra CA to trust (the emulator's). */
  caPem?: string;
  /** The emulator is not a known Microsoft authority: no instance discovery. */
  disableInstanceDiscovery: boolean;
  /** The emulator's operator app, used when no --auth is given with --endpoints. */
  emulatorOperator?: { tenantId: string; clientId: string; clientSecret: string };
  /** First retry delays a deployment asks for (the emulator's endpoints file: its propagation takes seconds). */
  pacing?: { proofRetryBaseMs?: number; exchangeReplicationWaitMs?: number; consentPollBaseMs?: number };
  /** The admin-consent page host (same as the authority). */
  consentHost: string;
  /**
   * Azure Key Vault (a `--secret-out` vault): the DNS suffix of vault hosts (`<vault>.vault.azure.net`); an endpoints
   * file adds its port and its DNS (vault host → address; a name under the suffix it does not list does not resolve).
   */
  keyVault?: KeyVaultEndpoints;
}

export interface KeyVaultEndpoints {
  dnsSuffix: string;
  port?: number;
  hosts?: Record<string, string>;
}

const EXO_SCOPE = 'https://outlook.office365.com/.default';

export const CLOUDS: Record<Exclude<CloudProfile['name'], 'emulator'>, CloudProfile> = {
  global: {
    name: 'global',
    authorityHost: 'https://login.microsoftonline.com',
    graphBaseUrl: 'https://graph.microsoft.com/v1.0',
    graphScope: 'https://graph.microsoft.com/.default',
    exchangeAdminUrl: 'https://outlook.office365.com/adminapi/beta',
    exchangeScope: EXO_SCOPE,
    exchangeEnvironmentName: 'O365Default',
    smtp: { host: 'smtp.office365.com', port: 587 },
    disableInstanceDiscovery: false,
    consentHost: 'https://login.microsoftonline.com',
    keyVault: { dnsSuffix: 'vault.azure.net' },
  },
  usgov: {
    name: 'usgov',
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://graph.microsoft.us/v1.0',
    graphScope: 'https://graph.microsoft.us/.default',
    exchangeAdminUrl: 'https://outlook.office365.us/adminapi/beta',
    exchangeScope: 'https://outlook.office365.us/.default',
    exchangeEnvironmentName: 'O365USGovGCCHigh',
    smtp: { host: 'smtp.office365.us', port: 587 },
    disableInstanceDiscovery: false,
    consentHost: 'https://login.microsoftonline.us',
    keyVault: { dnsSuffix: 'vault.usgovcloudapi.net' },
  },
  'usgov-dod': {
    name: 'usgov-dod',
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://dod-graph.microsoft.us/v1.0',
    graphScope: 'https://dod-graph.microsoft.us/.default',
    exchangeAdminUrl: 'https://webmail.apps.mil/adminapi/beta',
    exchangeScope: 'https://webmail.apps.mil/.default',
    exchangeEnvironmentName: 'O365USGovDoD',
    // UNCONFIRMED: no primary source for the DoD SMTP submission host was found.
    smtp: { host: 'smtp.office365.us', port: 587 },
    disableInstanceDiscovery: false,
    consentHost: 'https://login.microsoftonline.us',
    keyVault: { dnsSuffix: 'vault.usgovcloudapi.net' },
  },
  china: {
    name: 'china',
    authorityHost: 'https://login.chinacloudapi.cn',
    graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn/v1.0',
    graphScope: 'https://microsoftgraph.chinacloudapi.cn/.default',
    exchangeAdminUrl: 'https://partner.outlook.cn/adminapi/beta',
    exchangeScope: 'https://partner.outlook.cn/.default',
    exchangeEnvironmentName: 'O365China',
    smtp: { host: 'smtp.partner.outlook.cn', port: 587 },
    disableInstanceDiscovery: false,
    consentHost: 'https://login.chinacloudapi.cn',
    keyVault: { dnsSuffix: 'vault.azure.cn' },
  },
};

const endpointsFileSchema = z.object({
  cloud: z.literal('emulator').optional(),
  authorityHost: z.url(),
  graphBaseUrl: z.url(),
  exchangeAdminUrl: z.url(),
  smtp: z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }),
  caFile: z.string().optional(),
  operator: z.object({ tenantId: z.string(), clientId: z.string(), clientSecret: z.string() }).optional(),
  pacing: z
    .object({
      proofRetryBaseMs: z.number().int().min(100).max(60_000).optional(),
      exchangeReplicationWaitMs: z.number().int().min(100).max(60_000).optional(),
      consentPollBaseMs: z.number().int().min(100).max(60_000).optional(),
    })
    .optional(),
  keyVault: z
    .object({
      dnsSuffix: z.string().min(3),
      port: z.number().int().min(1).max(65535).optional(),
      hosts: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

/** Loads a cloud profile file (the emulator's endpoints.json, or a hand-written one for another deployment). */
export function loadEndpointsFile(file: string): CloudProfile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('--endpoints', code ? `cannot read ${file} (${code})` : `${file} is not valid JSON`);
  }
  const r = endpointsFileSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigError('--endpoints', `${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  const e = r.data;
  requireHttps(e, `--endpoints`, file);
  let caPem: string | undefined;
  if (e.caFile) {
    try {
      caPem = readFileSync(e.caFile, 'utf8');
    } catch {
      throw new ConfigError('--endpoints', `${file}: caFile ${e.caFile} cannot be read`);
    }
  }
  return {
    name: 'emulator',
    authorityHost: e.authorityHost.replace(/\/$/, ''),
    graphBaseUrl: e.graphBaseUrl.replace(/\/$/, ''),
    graphScope: 'https://graph.microsoft.com/.default',
    exchangeAdminUrl: e.exchangeAdminUrl.replace(/\/$/, ''),
    exchangeScope: EXO_SCOPE,
    exchangeEnvironmentName: 'O365Default',
    smtp: e.smtp,
    caPem,
    disableInstanceDiscovery: true,
    emulatorOperator: e.operator,
    ...(e.pacing ? { pacing: e.pacing } : {}),
    consentHost: e.authorityHost.replace(/\/$/, ''),
    ...(e.keyVault ? { keyVault: e.keyVault } : {}),
  };
}

/** The keys of a profile that hold a service's address: each must be https. */
const URL_KEYS = ['authorityHost', 'graphBaseUrl', 'exchangeAdminUrl'] as const;

/**
 * Refuses a profile that would send a token in clear text: every service URL must be https (checked when the
 * profile is loaded, before any request).
 */
function requireHttps(profile: Pick<CloudProfile, (typeof URL_KEYS)[number]>, field: string, source: string): void {
  for (const key of URL_KEYS) {
    let protocol: string;
    try {
      protocol = new URL(profile[key]).protocol;
    } catch {
      throw new ConfigError(field, `${source}: ${key}: ${profile[key]} is not a URL`);
    }
    if (protocol !== 'https:')
      throw new ConfigError(
        field,
        `${source}: ${key} must be an https:// URL, not ${protocol}// (${profile[key]}): the operator's tokens would travel in clear text`,
      );
  }
}

export function resolveCloud(options: { cloud: keyof typeof CLOUDS; endpoints?: string }): CloudProfile {
  if (options.endpoints) return loadEndpointsFile(options.endpoints);
  const profile = CLOUDS[options.cloud];
  requireHttps(profile, '--cloud', `the ${profile.name} cloud profile`);
  return profile;
}
