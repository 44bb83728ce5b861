/**
 * The provisioning options: one table that is the single source for the command-line flags, the SENDASAPP_*
 * environment variables, the config file (YAML/JSON) and its published JSON Schema, and the wizard's answers.
 */
import { z } from 'zod';
import { displayName, duration, durationIn, guid, mailbox, tenantRef, text } from './primitives.js';
import { AUTH_MODES, HANDOFF_TARGETS, OPTION_FLAGS, type OptionFlag } from './flags.js';
import { ConfigError } from './errors.js';
import { secretOutTarget } from './vault-uri.js';

export { AUTH_MODES, HANDOFF_TARGETS };

export interface OptionSpec extends OptionFlag {
  schema: z.ZodType;
}

const path = text('a file path').trim().min(1, 'must be a file path');
const flag = z.boolean({ error: 'must be true or false' });
const listOf = <T extends z.ZodType>(item: T, form: string) => z.array(item, { error: `must be a list of ${form}` });

const DAY_MS = 86_400_000;
/** A new credential lives at least a day and at most two years (Entra's longest secret; a tenant policy may allow less). */
export const SECRET_LIFETIME_RANGE = { minMs: DAY_MS, maxMs: 730 * DAY_MS, examples: '90d, 180d, 12mo or 1y' } as const;
/** The response timeout of each network request. */
export const TIMEOUT_RANGE = { minMs: 1000, maxMs: 600_000, examples: '30s, 90s or 5m' } as const;
/** How early status warns of a credential's end. */
export const EXPIRY_WARNING_RANGE = { minMs: 0, maxMs: 730 * DAY_MS, examples: '14d, 30d or 3mo' } as const;
/** How early apply rotates a credential before its end (shorter than its lifetime, or every run would rotate). */
export const ROTATE_WITHIN_RANGE = { minMs: DAY_MS, maxMs: 730 * DAY_MS, examples: '14d, 30d or 2mo' } as const;
/** How long a replaced credential stays valid after a rotation. */
export const GRACE_RANGE = { minMs: 0, maxMs: 365 * DAY_MS, examples: '0, 2d or 7d' } as const;

/** Keys whose value is a file path: relative ones in a config file are taken from the file's directory. */
export const PATH_KEYS = ['secretOut', 'certificateFile', 'handoffOut', 'endpoints', 'logFile', 'tokenCache'] as const;

export const MAILBOX_ACCESS = ['full-access', 'send-as', 'rbac'] as const;
/** The setting: a mode, or `unset` (the default) — the mode the app was made with, rbac for a new app. */
export const MAILBOX_ACCESS_SETTINGS = [...MAILBOX_ACCESS, 'unset'] as const;
export const CREDENTIAL_KINDS = ['secret', 'certificate'] as const;
export const ENABLE_SMTP_AUTH = ['none', 'mailbox', 'org'] as const;
export const VERIFY_MODES = ['none', 'auth', 'send'] as const;
export const CLOUDS = ['global', 'usgov', 'usgov-dod', 'china'] as const;
export const EXCHANGE_BACKENDS = ['rest', 'pwsh', 'auto'] as const;
export const OUTPUT_FORMATS = ['text', 'json'] as const;
export const FLOWS = ['app', 'delegated'] as const;

/** A Web redirect URI: https, or http only for localhost (Entra's rule for Web platform URIs). */
const REDIRECT_URI_FORM = 'an https URL (or http://localhost), such as https://bc.contoso.com/BC/OAuthLanding.htm';
const redirectUri = text(REDIRECT_URI_FORM)
  .trim()
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return u.protocol === 'https:' || (u.protocol === 'http:' && /^(localhost|127\.0\.0\.1)$/i.test(u.hostname));
      } catch {
        return false;
      }
    },
    { message: `must be ${REDIRECT_URI_FORM}` },
  );

function oneOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { message: `must be one of ${values.join(', ')}` });
}

const SCHEMAS: Record<string, z.ZodType> = {
  tenant: tenantRef,
  homeTenant: tenantRef,
  appName: displayName,
  appId: guid,
  multiTenant: flag,
  mailboxes: listOf(mailbox, 'mailbox addresses'),
  group: text('a group address or name').trim().min(1, 'must be a group address or name'),
  sendAsUsers: listOf(mailbox, 'mailbox addresses'),
  sendAsGroup: text('a group address or name').trim().min(1, 'must be a group address or name'),
  sendAsAccount: mailbox,
  mailboxAccess: oneOf(MAILBOX_ACCESS_SETTINGS),
  credential: oneOf(CREDENTIAL_KINDS),
  secretLifetime: durationIn(SECRET_LIFETIME_RANGE),
  secretOut: secretOutTarget,
  certificateFile: path,
  showSecret: flag,
  enableSmtpAuth: oneOf(ENABLE_SMTP_AUTH),
  verify: oneOf(VERIFY_MODES),
  sendTo: mailbox,
  wait: duration,
  auth: oneOf(AUTH_MODES),
  partnerTenant: tenantRef,
  tokenCache: path,
  cloud: oneOf(CLOUDS),
  endpoints: path,
  exchange: oneOf(EXCHANGE_BACKENDS),
  output: oneOf(OUTPUT_FORMATS),
  flow: oneOf(FLOWS),
  redirectUris: listOf(redirectUri, 'https URLs'),
  target: oneOf(HANDOFF_TARGETS),
  handoffOut: path,
  includeSecret: flag,
  timeout: durationIn(TIMEOUT_RANGE),
  expiryWarning: durationIn(EXPIRY_WARNING_RANGE),
  newSecret: flag,
  rotateWithin: durationIn(ROTATE_WITHIN_RANGE),
  grace: durationIn(GRACE_RANGE),
  verbose: flag,
  logFile: path,
};

export const OPTION_SPECS: OptionSpec[] = OPTION_FLAGS.map((f) => ({ ...f, schema: SCHEMAS[f.key]! }));

/** The config file: every option, all optional here (requirements depend on the command). */
export const configFileSchema = z
  .object(Object.fromEntries(OPTION_SPECS.map((o) => [o.key, o.schema.optional().describe(o.description)])))
  .strict();

export interface ProvisionOptions {
  tenant?: string;
  homeTenant?: string;
  appName: string;
  appId?: string;
  multiTenant: boolean;
  mailboxes: string[];
  group?: string;
  /** People's mailboxes that send through the shared account (SendAs on each, granted to that account). */
  sendAsUsers?: string[];
  /** A group whose members send through the shared account. */
  sendAsGroup?: string;
  /** The shared account (default: the one --mailbox). */
  sendAsAccount?: string;
  /** `unset`: resolved at run time (TenantRun): the app's current mode, rbac for a new app. */
  mailboxAccess: (typeof MAILBOX_ACCESS_SETTINGS)[number];
  credential: (typeof CREDENTIAL_KINDS)[number];
  secretLifetime: import('./primitives.js').Duration;
  secretOut?: string;
  certificateFile?: string;
  showSecret: boolean;
  enableSmtpAuth: (typeof ENABLE_SMTP_AUTH)[number];
  verify: (typeof VERIFY_MODES)[number];
  sendTo?: string;
  wait: import('./primitives.js').Duration;
  auth?: (typeof AUTH_MODES)[number];
  /** GDAP: the operator is a user of this partner tenant, working in the customer tenant as a delegated admin. */
  partnerTenant?: string;
  /** A file that keeps the operator's token cache across commands (mode 0600; refresh tokens). */
  tokenCache?: string;
  cloud: (typeof CLOUDS)[number];
  endpoints?: string;
  exchange: (typeof EXCHANGE_BACKENDS)[number];
  output: (typeof OUTPUT_FORMATS)[number];
  /** How the sending system gets tokens (absent = app). */
  flow?: (typeof FLOWS)[number];
  redirectUris?: string[];
  target?: (typeof HANDOFF_TARGETS)[number];
  handoffOut?: string;
  includeSecret?: boolean;
  /** The response timeout of each network request. */
  timeout: import('./primitives.js').Duration;
  /** status: how early a credential's end is a finding. */
  expiryWarning: import('./primitives.js').Duration;
  /** Replace the credential held in the sink with a new one. */
  newSecret: boolean;
  /** apply: rotate when the credential ends within this window (absent: 14d, or the last third of a shorter lifetime). */
  rotateWithin?: import('./primitives.js').Duration;
  /** rotate / apply: how long a replaced credential stays valid (absent: the default of the target, see rotation). */
  grace?: import('./primitives.js').Duration;
  /** Print each request (method, path or cmdlet, status, time) to stderr. */
  verbose: boolean;
  /** Append the request lines to this file. */
  logFile?: string;
}

export const DEFAULTS = {
  appName: 'SMTP OAuth sender',
  multiTenant: false,
  mailboxes: [] as string[],
  mailboxAccess: 'unset',
  credential: 'secret',
  secretLifetime: '12mo',
  showSecret: false,
  enableSmtpAuth: 'none',
  verify: 'auth',
  wait: '30m',
  cloud: 'global',
  exchange: 'auto',
  output: 'text',
  flow: 'app',
  redirectUris: [] as string[],
  includeSecret: false,
  timeout: '60s',
  expiryWarning: '30d',
  newSecret: false,
  verbose: false,
} as const;

/** Sending systems that take only a client secret (Business Central: "We currently don't support certificate-based authentication"). */
export const SECRET_ONLY_TARGETS: ReadonlyArray<(typeof HANDOFF_TARGETS)[number]> = [
  'business-central',
  'enaio-server',
  'enaio-webclient',
  'xeams',
  'postfix',
];

/** The sign-in modes in which a person signs in (and may be a partner's admin agent, GDAP). */
const PERSON_AUTH_MODES: ReadonlyArray<string> = ['interactive', 'device-code'];

/** Combinations of options that cannot work together; a ConfigError names the flag. */
export function checkCombinations(o: ProvisionOptions): void {
  const delegated = o.flow === 'delegated';
  if (delegated && o.credential !== 'secret')
    throw new ConfigError(
      '--credential',
      'must be secret with --flow delegated (the sending system redeems codes with it)',
    );
  if (delegated && o.appId)
    throw new ConfigError(
      '--app-id',
      'cannot be combined with --flow delegated (the delegated app is registered here)',
    );
  if (o.rotateWithin && o.rotateWithin.ms >= o.secretLifetime.ms)
    throw new ConfigError(
      '--rotate-within',
      `must be shorter than --secret-lifetime (${o.secretLifetime.text}): a new credential would be inside the window at once, and every run would rotate it`,
    );
  if (o.showSecret && o.output !== 'json')
    throw new ConfigError('--show-secret', 'needs --output json (the secret goes only into the JSON result)');
  if (o.includeSecret && !o.handoffOut)
    throw new ConfigError(
      '--include-secret',
      'needs --out FILE (the hand-off with the secret is written there, mode 0600)',
    );
  if (o.partnerTenant && o.auth && !PERSON_AUTH_MODES.includes(o.auth))
    throw new ConfigError(
      '--partner-tenant',
      `is a partner user's sign-in (GDAP): use --auth interactive or device-code, not ${o.auth} (an app of the partner reaches a customer through its consent there, without --partner-tenant)`,
    );
  if (o.tokenCache && o.auth && !PERSON_AUTH_MODES.includes(o.auth))
    throw new ConfigError(
      '--token-cache',
      `keeps a person's sign-in (--auth interactive or device-code); ${o.auth} signs in without asking anyone`,
    );
  if (o.target && o.credential === 'certificate' && SECRET_ONLY_TARGETS.includes(o.target))
    throw new ConfigError(
      '--credential',
      `${o.target} cannot use a certificate${o.target === 'business-central' ? ' (Business Central: no certificate support)' : ''}; use --credential secret`,
    );
}
