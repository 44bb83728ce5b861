/**
 * The provisioning options as flags, variables and help text. No zod here, so that `--help` starts fast; the
 * value schemas are attached by key in options.ts.
 */

export interface OptionFlag {
  /** Key in the config file and in the parsed options. */
  key: string;
  /** Flag, e.g. `--app-name <name>` or `--multi-tenant`. */
  flag: string;
  /** Environment variable. */
  env: string;
  description: string;
  /** Repeatable flag / list value (comma-separated in the environment). */
  list?: boolean;
  /** A boolean switch flag. */
  boolean?: boolean;
  /** Shown in help as the default. */
  defaultText?: string;
}

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

/** The sending systems a hand-off can be rendered for (templates/handoff/<target>.tmpl). */
export const HANDOFF_TARGETS = [
  'business-central',
  'enaio-server',
  'enaio-webclient',
  'xeams',
  'postfix',
  'env',
  'json',
] as const;

export const OPTION_FLAGS: OptionFlag[] = [
  {
    key: 'tenant',
    flag: '--tenant <tenant>',
    env: 'SENDASAPP_TENANT',
    description: 'the mailbox tenant: id (GUID) or verified domain',
  },
  {
    key: 'homeTenant',
    flag: '--home-tenant <tenant>',
    env: 'SENDASAPP_HOME_TENANT',
    description: 'the tenant where the app is registered (default: --tenant)',
  },
  {
    key: 'appName',
    flag: '--app-name <name>',
    env: 'SENDASAPP_APP_NAME',
    description: 'display name of the app registration',
    defaultText: 'SMTP OAuth sender',
  },
  {
    key: 'appId',
    flag: '--app-id <guid>',
    env: 'SENDASAPP_APP_ID',
    description: "adopt an existing app (e.g. an ISV's multitenant app): no app registration is made",
  },
  {
    key: 'multiTenant',
    flag: '--multi-tenant',
    env: 'SENDASAPP_MULTI_TENANT',
    description: 'register the app as multitenant (AzureADMultipleOrgs)',
    boolean: true,
  },
  {
    key: 'mailboxes',
    flag: '--mailbox <address>',
    env: 'SENDASAPP_MAILBOX',
    description: 'a mailbox the app sends as (repeatable)',
    list: true,
  },
  {
    key: 'group',
    flag: '--group <group>',
    env: 'SENDASAPP_GROUP',
    description: 'a mail-enabled group whose members the app sends as',
  },
  {
    key: 'sendAsUsers',
    flag: '--send-as-users <address>',
    env: 'SENDASAPP_SEND_AS_USERS',
    description:
      "a person's mailbox that sends through the shared account: SendAs on it is granted to that account (repeatable)",
    list: true,
  },
  {
    key: 'sendAsGroup',
    flag: '--send-as-group <group>',
    env: 'SENDASAPP_SEND_AS_GROUP',
    description: 'a mail-enabled group whose members send through the shared account (kept in step on rerun)',
  },
  {
    key: 'sendAsAccount',
    flag: '--send-as-account <address>',
    env: 'SENDASAPP_SEND_AS_ACCOUNT',
    description:
      'the shared account the send-as users send through (default: the one --mailbox; required with several or --group)',
  },
  {
    key: 'mailboxAccess',
    flag: '--mailbox-access <mode>',
    env: 'SENDASAPP_MAILBOX_ACCESS',
    description:
      "how Exchange authorizes the app: rbac, full-access or send-as (unset: the app's current mode, rbac for a new app)",
    defaultText: 'unset',
  },
  {
    key: 'credential',
    flag: '--credential <kind>',
    env: 'SENDASAPP_CREDENTIAL',
    description: 'the app credential to create: secret or certificate',
    defaultText: 'secret',
  },
  {
    key: 'secretLifetime',
    flag: '--secret-lifetime <duration>',
    env: 'SENDASAPP_SECRET_LIFETIME',
    description: 'lifetime of a new secret or certificate, e.g. 180d, 12mo',
    defaultText: '12mo',
  },
  {
    key: 'secretOut',
    flag: '--secret-out <file>',
    env: 'SENDASAPP_SECRET_OUT',
    description:
      'file the new secret (or key) is written to, mode 0600; or a secret in Azure Key Vault: keyvault://<vault>/<secret> or https://<vault>.vault.azure.net/secrets/<secret>',
  },
  {
    key: 'certificateFile',
    flag: '--certificate-file <file>',
    env: 'SENDASAPP_CERTIFICATE_FILE',
    description: 'use this PEM certificate (with its key) instead of making one',
  },
  {
    key: 'showSecret',
    flag: '--show-secret',
    env: 'SENDASAPP_SHOW_SECRET',
    description: 'include a new secret in --output json',
    boolean: true,
  },
  {
    key: 'enableSmtpAuth',
    flag: '--enable-smtp-auth <scope>',
    env: 'SENDASAPP_ENABLE_SMTP_AUTH',
    description: 'turn SMTP AUTH on: none (report only), mailbox or org',
    defaultText: 'none',
  },
  {
    key: 'flow',
    flag: '--flow <flow>',
    env: 'SENDASAPP_FLOW',
    description:
      'how the sending system gets its tokens: app (client credentials, SMTP.SendAsApp) or delegated (a user signs in, SMTP.Send)',
    defaultText: 'app',
  },
  {
    key: 'redirectUris',
    flag: '--redirect-uri <uri>',
    env: 'SENDASAPP_REDIRECT_URI',
    description: "a Web redirect URI of the sending system's sign-in (--flow delegated; repeatable)",
    list: true,
  },
  {
    key: 'verify',
    flag: '--verify <mode>',
    env: 'SENDASAPP_VERIFY',
    description: 'the proof at the end: none, auth (XOAUTH2 login) or send (a test message)',
    defaultText: 'auth',
  },
  {
    key: 'sendTo',
    flag: '--send-to <address>',
    env: 'SENDASAPP_SEND_TO',
    description: 'recipient of the test message (with --verify send)',
  },
  {
    key: 'wait',
    flag: '--wait <duration>',
    env: 'SENDASAPP_WAIT',
    description: 'how long to wait for propagation (consent, SMTP permission cache)',
    defaultText: '30m',
  },
  {
    key: 'target',
    flag: '--target <system>',
    env: 'SENDASAPP_TARGET',
    description: `render the hand-off for the sending system: ${HANDOFF_TARGETS.join(', ')}`,
  },
  {
    key: 'handoffOut',
    flag: '--out <file>',
    env: 'SENDASAPP_HANDOFF_OUT',
    description: 'write the hand-off to this file instead of stdout',
  },
  {
    key: 'includeSecret',
    flag: '--include-secret',
    env: 'SENDASAPP_INCLUDE_SECRET',
    description: "put the secret's value into the hand-off (the --out file is then created with mode 0600)",
    boolean: true,
  },
  {
    key: 'auth',
    flag: '--auth <mode>',
    env: 'SENDASAPP_AUTH',
    description: `operator sign-in: ${AUTH_MODES.join(', ')}`,
  },
  {
    key: 'partnerTenant',
    flag: '--partner-tenant <tenant>',
    env: 'SENDASAPP_PARTNER_TENANT',
    description:
      'GDAP: sign in as a user of this partner tenant (id or domain) and work in --tenant through a delegated-admin relationship',
  },
  {
    key: 'tokenCache',
    flag: '--token-cache <file>',
    env: 'SENDASAPP_TOKEN_CACHE',
    description:
      "keep the operator's sign-in (refresh tokens) in this file, mode 0600, so the next command does not ask again",
  },
  {
    key: 'cloud',
    flag: '--cloud <cloud>',
    env: 'SENDASAPP_CLOUD',
    description: 'Microsoft cloud: global, usgov, usgov-dod or china',
    defaultText: 'global',
  },
  {
    key: 'endpoints',
    flag: '--endpoints <file>',
    env: 'SENDASAPP_ENDPOINTS',
    description: "a cloud profile file (the emulator's endpoints.json)",
  },
  {
    key: 'exchange',
    flag: '--exchange <backend>',
    env: 'SENDASAPP_EXCHANGE',
    description:
      'Exchange backend: auto (pwsh where PowerShell 7.4+ and ExchangeOnlineManagement 3.x are installed, else rest), rest or pwsh',
    defaultText: 'auto',
  },
  {
    key: 'timeout',
    flag: '--timeout <duration>',
    env: 'SENDASAPP_TIMEOUT',
    description: 'how long each network request may take to answer, 1s to 10m',
    defaultText: '60s',
  },
  {
    key: 'expiryWarning',
    flag: '--expiry-warning <duration>',
    env: 'SENDASAPP_EXPIRY_WARNING',
    description:
      'status: a secret or certificate that ends within this window (or has ended) is a finding (--detailed-exitcode 4)',
    defaultText: '30d',
  },
  {
    key: 'newSecret',
    flag: '--new-secret',
    env: 'SENDASAPP_NEW_SECRET',
    description: 'replace the credential held in --secret-out with a new one (the way out of a wrong secret there)',
    boolean: true,
  },
  {
    key: 'rotateWithin',
    flag: '--rotate-within <duration>',
    env: 'SENDASAPP_ROTATE_WITHIN',
    description:
      'apply: rotate the credential (new one, proof, old one retired after --grace) when it ends within this window',
    defaultText: '14d, or the last third of a shorter --secret-lifetime',
  },
  {
    key: 'grace',
    flag: '--grace <duration>',
    env: 'SENDASAPP_GRACE',
    description:
      'rotate and apply: how long the replaced credential stays valid after a rotation (0: at once after the proof)',
    defaultText: '0 when the proof passed and the hand-off (env, json) reads the --secret-out file itself, else 7d',
  },
  {
    key: 'verbose',
    flag: '--verbose',
    env: 'SENDASAPP_VERBOSE',
    description: "print each request's method, path (or cmdlet), status and time to stderr",
    boolean: true,
  },
  {
    key: 'logFile',
    flag: '--log-file <file>',
    env: 'SENDASAPP_LOG_FILE',
    description: 'append the request lines that --verbose prints to this file (with or without --verbose)',
  },
  {
    key: 'output',
    flag: '--output <format>',
    env: 'SENDASAPP_OUTPUT',
    description: 'text, or json (one object on stdout)',
    defaultText: 'text',
  },
];
