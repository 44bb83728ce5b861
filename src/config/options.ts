/**
 * The provisioning options: one table that is the single source for the command-line flags, the SENDASAPP_*
 * environment variables, the config file (YAML/JSON) and its published JSON Schema, and the wizard's answers.
 */
import { z } from 'zod';
import { displayName, duration, guid, mailbox, tenantRef } from './primitives.js';
import { AUTH_MODES, OPTION_FLAGS, type OptionFlag } from './flags.js';

export { AUTH_MODES };

export interface OptionSpec extends OptionFlag {
  schema: z.ZodType;
}

const path = z.string().trim().min(1, 'must be a file path');

export const MAILBOX_ACCESS = ['full-access', 'send-as', 'rbac'] as const;
export const CREDENTIAL_KINDS = ['secret', 'certificate'] as const;
export const ENABLE_SMTP_AUTH = ['none', 'mailbox', 'org'] as const;
export const VERIFY_MODES = ['none', 'auth', 'send'] as const;
export const CLOUDS = ['global', 'usgov', 'usgov-dod', 'china'] as const;
export const EXCHANGE_BACKENDS = ['rest', 'pwsh'] as const;
export const OUTPUT_FORMATS = ['text', 'json'] as const;

function oneOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { message: `must be one of ${values.join(', ')}` });
}

const SCHEMAS: Record<string, z.ZodType> = {
  tenant: tenantRef,
  homeTenant: tenantRef,
  appName: displayName,
  appId: guid,
  multiTenant: z.boolean(),
  mailboxes: z.array(mailbox),
  group: z.string().trim().min(1, 'must be a group address or name'),
  mailboxAccess: oneOf(MAILBOX_ACCESS),
  credential: oneOf(CREDENTIAL_KINDS),
  secretLifetime: duration,
  secretOut: path,
  certificateFile: path,
  showSecret: z.boolean(),
  enableSmtpAuth: oneOf(ENABLE_SMTP_AUTH),
  verify: oneOf(VERIFY_MODES),
  sendTo: mailbox,
  wait: duration,
  auth: oneOf(AUTH_MODES),
  cloud: oneOf(CLOUDS),
  endpoints: path,
  exchange: oneOf(EXCHANGE_BACKENDS),
  output: oneOf(OUTPUT_FORMATS),
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
  mailboxAccess: (typeof MAILBOX_ACCESS)[number];
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
  cloud: (typeof CLOUDS)[number];
  endpoints?: string;
  exchange: (typeof EXCHANGE_BACKENDS)[number];
  output: (typeof OUTPUT_FORMATS)[number];
}

export const DEFAULTS = {
  appName: 'SMTP OAuth sender',
  multiTenant: false,
  mailboxes: [] as string[],
  mailboxAccess: 'full-access',
  credential: 'secret',
  secretLifetime: '12mo',
  showSecret: false,
  enableSmtpAuth: 'none',
  verify: 'auth',
  wait: '30m',
  cloud: 'global',
  exchange: 'rest',
  output: 'text',
} as const;
