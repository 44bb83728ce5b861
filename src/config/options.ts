/**
 * The provisioning options: one table that is the single source for the command-line flags, the SENDASAPP_*
 * environment variables, the config file (YAML/JSON) and its published JSON Schema, and the wizard's answers.
 */
import { z } from 'zod';
import { displayName, duration, guid, mailbox, tenantRef } from './primitives.js';

export interface OptionSpec {
  /** Key in the config file and in the parsed options. */
  key: string;
  /** Flag, e.g. `--app-name <name>` or `--multi-tenant`. */
  flag: string;
  /** Environment variable. */
  env: string;
  description: string;
  schema: z.ZodType;
  /** Repeatable flag / list value (comma-separated in the environment). */
  list?: boolean;
  /** A boolean switch flag. */
  boolean?: boolean;
  /** Shown in help as the default. */
  defaultText?: string;
}

const path = z.string().trim().min(1, 'must be a file path');

export const MAILBOX_ACCESS = ['full-access', 'send-as', 'rbac'] as const;
export const CREDENTIAL_KINDS = ['secret', 'certificate'] as const;
export const ENABLE_SMTP_AUTH = ['none', 'mailbox', 'org'] as const;
export const VERIFY_MODES = ['none', 'auth', 'send'] as const;
export const AUTH_MODES = [
  'interactive',
  'device-code',
  'client-secret',
  'client-certificate',
  'environment',
  'azure-cli',
  'managed-identity',
  'workload-identity',
] as const;
export const CLOUDS = ['global', 'usgov', 'usgov-dod', 'china'] as const;
export const EXCHANGE_BACKENDS = ['rest', 'pwsh'] as const;
export const OUTPUT_FORMATS = ['text', 'json'] as const;

function oneOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { message: `must be one of ${values.join(', ')}` });
}

export const OPTION_SPECS: OptionSpec[] = [
  {
    key: 'tenant',
    flag: '--tenant <tenant>',
    env: 'SENDASAPP_TENANT',
    description: 'the mailbox tenant: id (GUID) or verified domain',
    schema: tenantRef,
  },
  {
    key: 'homeTenant',
    flag: '--home-tenant <tenant>',
    env: 'SENDASAPP_HOME_TENANT',
    description: 'the tenant where the app is registered (default: --tenant)',
    schema: tenantRef,
  },
  {
    key: 'appName',
    flag: '--app-name <name>',
    env: 'SENDASAPP_APP_NAME',
    description: 'display name of the app registration',
    schema: displayName,
    defaultText: 'SMTP OAuth sender',
  },
  {
    key: 'appId',
    flag: '--app-id <guid>',
    env: 'SENDASAPP_APP_ID',
    description: "adopt an existing app (e.g. an ISV's multitenant app): no app registration is made",
    schema: guid,
  },
  {
    key: 'multiTenant',
    flag: '--multi-tenant',
    env: 'SENDASAPP_MULTI_TENANT',
    description: 'register the app as multitenant (AzureADMultipleOrgs)',
    schema: z.boolean(),
    boolean: true,
  },
  {
    key: 'mailboxes',
    flag: '--mailbox <address>',
    env: 'SENDASAPP_MAILBOX',
    description: 'a mailbox the app sends as (repeatable)',
    schema: z.array(mailbox),
    list: true,
  },
  {
    key: 'group',
    flag: '--group <group>',
    env: 'SENDASAPP_GROUP',
    description: 'a mail-enabled group whose members the app sends as',
    schema: z.string().trim().min(1, 'must be a group address or name'),
  },
  {
    key: 'mailboxAccess',
    flag: '--mailbox-access <mode>',
    env: 'SENDASAPP_MAILBOX_ACCESS',
    description: 'how Exchange authorizes the app: full-access, send-as or rbac',
    schema: oneOf(MAILBOX_ACCESS),
    defaultText: 'full-access',
  },
  {
    key: 'credential',
    flag: '--credential <kind>',
    env: 'SENDASAPP_CREDENTIAL',
    description: 'the app credential to create: secret or certificate',
    schema: oneOf(CREDENTIAL_KINDS),
    defaultText: 'secret',
  },
  {
    key: 'secretLifetime',
    flag: '--secret-lifetime <duration>',
    env: 'SENDASAPP_SECRET_LIFETIME',
    description: 'lifetime of a new secret or certificate, e.g. 180d, 12mo',
    schema: duration,
    defaultText: '12mo',
  },
  {
    key: 'secretOut',
    flag: '--secret-out <file>',
    env: 'SENDASAPP_SECRET_OUT',
    description: 'file the new secret (or key) is written to, mode 0600',
    schema: path,
  },
  {
    key: 'certificateFile',
    flag: '--certificate-file <file>',
    env: 'SENDASAPP_CERTIFICATE_FILE',
    description: 'use this PEM certificate (with its key) instead of making one',
    schema: path,
  },
  {
    key: 'showSecret',
    flag: '--show-secret',
    env: 'SENDASAPP_SHOW_SECRET',
    description: 'include a new secret in --output json',
    schema: z.boolean(),
    boolean: true,
  },
  {
    key: 'enableSmtpAuth',
    flag: '--enable-smtp-auth <scope>',
    env: 'SENDASAPP_ENABLE_SMTP_AUTH',
    description: 'turn SMTP AUTH on: none (report only), mailbox or org',
    schema: oneOf(ENABLE_SMTP_AUTH),
    defaultText: 'none',
  },
  {
    key: 'verify',
    flag: '--verify <mode>',
    env: 'SENDASAPP_VERIFY',
    description: 'the proof at the end: none, auth (XOAUTH2 login) or send (a test message)',
    schema: oneOf(VERIFY_MODES),
    defaultText: 'auth',
  },
  {
    key: 'sendTo',
    flag: '--send-to <address>',
    env: 'SENDASAPP_SEND_TO',
    description: 'recipient of the test message (with --verify send)',
    schema: mailbox,
  },
  {
    key: 'wait',
    flag: '--wait <duration>',
    env: 'SENDASAPP_WAIT',
    description: 'how long to wait for propagation (consent, SMTP permission cache)',
    schema: duration,
    defaultText: '30m',
  },
  {
    key: 'auth',
    flag: '--auth <mode>',
    env: 'SENDASAPP_AUTH',
    description: `operator sign-in: ${AUTH_MODES.join(', ')}`,
    schema: oneOf(AUTH_MODES),
  },
  {
    key: 'cloud',
    flag: '--cloud <cloud>',
    env: 'SENDASAPP_CLOUD',
    description: 'Microsoft cloud: global, usgov, usgov-dod or china',
    schema: oneOf(CLOUDS),
    defaultText: 'global',
  },
  {
    key: 'endpoints',
    flag: '--endpoints <file>',
    env: 'SENDASAPP_ENDPOINTS',
    description: "a cloud profile file (the emulator's endpoints.json)",
    schema: path,
  },
  {
    key: 'exchange',
    flag: '--exchange <backend>',
    env: 'SENDASAPP_EXCHANGE',
    description: 'Exchange backend: rest or pwsh',
    schema: oneOf(EXCHANGE_BACKENDS),
    defaultText: 'rest',
  },
  {
    key: 'output',
    flag: '--output <format>',
    env: 'SENDASAPP_OUTPUT',
    description: 'text, or json (one object on stdout)',
    schema: oneOf(OUTPUT_FORMATS),
    defaultText: 'text',
  },
];

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
