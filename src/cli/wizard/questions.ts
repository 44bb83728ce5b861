/**
 * The questions of `sendasapp setup`, in the order a consultant decides them. Options given as flags, SENDASAPP_*
 * variables or in `-f FILE` answer their question beforehand (shown as answered, not asked). The answers become
 * flags of the shared option table and go through `resolveOptions`, like every other input.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import {
  DEFAULTS,
  HANDOFF_TARGETS,
  OPTION_SPECS,
  SECRET_ONLY_TARGETS,
  flagAttribute,
  flagName,
  readConfigFile,
  resolveOptions,
  type ProvisionOptions,
} from '../../config/index.js';
import { CredentialSink, isKeyVaultTarget } from '../../handoff/index.js';
import { answered, askChoice, askText, askYesNo, splitList, type Choice } from './ask.js';

type Target = (typeof HANDOFF_TARGETS)[number];

export const SYSTEMS: Array<Choice<Target | 'other'>> = [
  { value: 'business-central', name: 'Business Central', description: 'Dynamics 365 Business Central, SMTP connector' },
  { value: 'enaio-server', name: 'enaio server', description: 'registry values for administrative e-mails' },
  { value: 'enaio-webclient', name: 'enaio webclient', description: 'osweb-prod.yml featureSwitches.sendEmail' },
  { value: 'xeams', name: 'Xeams', description: 'smart host with OAuth with Microsoft' },
  { value: 'postfix', name: 'Postfix', description: 'relay with sasl-xoauth2' },
  { value: 'env', name: 'A .env file', description: 'generic: environment variables' },
  { value: 'json', name: 'JSON', description: 'generic: one JSON document' },
  { value: 'other', name: 'Other', description: 'no hand-off; the values are printed at the end' },
];

/** Systems that can sign a user in and keep a refresh token (delegated SMTP). */
const DELEGATED_CAPABLE = new Set<string>(['business-central', 'xeams', 'postfix', 'env', 'json', 'other']);

export interface SetupAnswers {
  options: ProvisionOptions & { tenant: string };
  /** The config file's content (no secret). */
  config: Record<string, unknown>;
  configPath: string;
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'smtp'
  );
}

export interface SetupHooks {
  /** Looks a tenant up as soon as it is answered (true, or the reason to ask again). */
  lookupTenant?: (tenant: string) => Promise<true | string>;
}

export async function askSetup(flags: Record<string, unknown>, hooks: SetupHooks = {}): Promise<SetupAnswers> {
  const file = typeof flags.file === 'string' ? flags.file : undefined;
  // Validates every given flag, variable and file value up front (bad input: exit 2 before any question).
  const preset = resolveOptions({ flags, file });
  const fileData = file ? readConfigFile(file) : {};
  const sourceOf = (key: string): string | undefined => {
    const spec = OPTION_SPECS.find((s) => s.key === key)!;
    const v = flags[flagAttribute(spec)];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) return flagName(spec);
    if (process.env[spec.env]) return spec.env;
    if (fileData[key] !== undefined) return `${file}: ${key}`;
    return undefined;
  };
  const a: Record<string, unknown> = {};
  const given = (key: string, message: string, show?: string): boolean => {
    const src = sourceOf(key);
    if (!src) return false;
    const value = (preset as unknown as Record<string, unknown>)[key];
    a[key] = value;
    const text =
      show ??
      (Array.isArray(value)
        ? value.join(', ')
        : typeof value === 'object' && value && 'text' in value
          ? String((value as { text: string }).text)
          : String(value));
    answered(message, text, src);
    return true;
  };

  // 1. Tenants.
  const mTenant = 'Mailbox tenant (where the mailboxes live; a domain or tenant id):';
  if (!given('tenant', mTenant))
    a.tenant = await askText({ message: mTenant, key: 'tenant', check: hooks.lookupTenant });
  const tenant = String(a.tenant).toLowerCase();
  const mHome = 'Tenant the app is registered in, if not that one:';
  if (!given('homeTenant', mHome)) {
    const where = await askChoice(`Is the app registered in ${tenant}?`, [
      { value: 'same', name: `Yes, in ${tenant}` },
      {
        value: 'other',
        name: 'No, in another tenant (cross-tenant)',
        description: 'the app is registered in a home tenant as multitenant and consented in the mailbox tenant',
      },
    ]);
    if (where === 'other')
      a.homeTenant = await askText({
        message: 'Home tenant of the app (a domain or tenant id):',
        key: 'homeTenant',
        check: async (s) =>
          s.toLowerCase() === tenant
            ? 'that is the mailbox tenant: answer the other one'
            : ((await hooks.lookupTenant?.(s)) ?? true),
      });
  }
  const crossTenant = Boolean(a.homeTenant) && String(a.homeTenant).toLowerCase() !== tenant;

  // 2. The sending system.
  let system: Target | 'other';
  const mSystem = 'Which system will send the mail?';
  if (given('target', mSystem)) system = a.target as Target;
  else {
    system = await askChoice(mSystem, SYSTEMS, 'business-central');
    if (system !== 'other') a.target = system;
  }
  const systemName = SYSTEMS.find((s) => s.value === system)!.name;
  const secretOnly = system !== 'other' && SECRET_ONLY_TARGETS.includes(system);

  // 3. How it gets tokens.
  const mFlow = `How does ${systemName} get its tokens?`;
  if (!given('flow', mFlow)) {
    if (DELEGATED_CAPABLE.has(system))
      a.flow = await askChoice(mFlow, [
        {
          value: 'app',
          name: 'Client credentials: the app signs in as itself (SMTP.SendAsApp), recommended',
        },
        {
          value: 'delegated',
          name: 'Delegated: a user signs in once, the system keeps a refresh token (SMTP.Send)',
        },
      ]);
    else a.flow = 'app';
  }
  const delegated = a.flow === 'delegated';

  // 4. The app.
  const mApp = 'Which app will send?';
  let vendor = given('appId', 'Existing or vendor app (application id):');
  if (!vendor && !delegated && !sourceOf('appName')) {
    const kind = await askChoice(mApp, [
      { value: 'new', name: 'New app registration (made and kept by sendasapp)' },
      {
        value: 'existing',
        name: 'Existing or vendor app (I have its application id)',
        description: "an ISV's multitenant app: the customer only consents",
      },
    ]);
    if (kind === 'existing') {
      a.appId = await askText({ message: 'Application (client) id:', key: 'appId' });
      vendor = true;
    }
  }
  if (!vendor) {
    const mName = 'App name (display name of the app registration):';
    if (!given('appName', mName))
      a.appName = await askText({
        message: mName,
        key: 'appName',
        default: system === 'other' ? DEFAULTS.appName : `${systemName} SMTP`,
      });
    const mMulti = 'Multitenant (other tenants may consent to the app)?';
    if (crossTenant) {
      if (!given('multiTenant', mMulti)) answered(mMulti, 'yes', 'cross-tenant');
      a.multiTenant = true;
    } else if (!given('multiTenant', mMulti)) a.multiTenant = await askYesNo(mMulti, false);
  }

  // 5. Credential.
  if (!vendor) {
    const mCred = 'Credential of the app:';
    if (!given('credential', mCred)) {
      if (secretOnly || delegated) {
        answered(
          mCred,
          'client secret',
          system === 'business-central'
            ? 'Business Central cannot use certificates'
            : delegated
              ? 'delegated SMTP redeems codes with a secret'
              : `${systemName} takes a client secret`,
        );
        a.credential = 'secret';
      } else
        a.credential = await askChoice(mCred, [
          { value: 'secret', name: 'Client secret' },
          { value: 'certificate', name: 'Certificate (self-signed, made here; the key stays in the credential file)' },
        ]);
    }
    const mLife = `Lifetime of the new ${a.credential === 'certificate' ? 'certificate' : 'secret'} (e.g. 180d, 12mo, 2y):`;
    if (!given('secretLifetime', mLife))
      a.secretLifetime = await askText({
        message: mLife,
        key: 'secretLifetime',
        default: DEFAULTS.secretLifetime,
        check: (s) => {
          const days = /^(\d+)(d|w|mo|y)$/i.exec(s.trim());
          if (!days) return 'give days, weeks, months or years, e.g. 180d or 12mo';
          const n =
            Number(days[1]) * ({ d: 1, w: 7, mo: 30, y: 365 } as Record<string, number>)[days[2]!.toLowerCase()]!;
          if (n < 1) return 'must be at least one day';
          if (n > 730) return 'must be at most 2 years (24 months); tenant policy may allow less';
          return true;
        },
      });
  }

  // 6. Mailboxes or a group.
  const mWho = `Which mailboxes will ${systemName} send as?`;
  const hasMailboxes = given('mailboxes', 'Mailboxes:');
  const hasGroup = given('group', 'Group:');
  if (!hasMailboxes && !hasGroup) {
    const how = delegated
      ? 'mailboxes'
      : await askChoice(mWho, [
          { value: 'mailboxes', name: 'These mailboxes (I list them)' },
          { value: 'group', name: 'The members of a mail-enabled group' },
        ]);
    if (how === 'group')
      a.group = await askText({ message: 'Group (address or name):', key: 'group', default: `smtp-senders@${tenant}` });
    else
      a.mailboxes = splitList(
        await askText({
          message: delegated
            ? 'Mailboxes of the users who will sign in (comma-separated):'
            : 'Mailboxes (comma-separated):',
          key: 'mailboxes',
        }),
      );
  }

  // 7. How Exchange authorizes the app.
  if (!delegated) {
    const mAccess = 'How does Exchange let the app into the mailboxes?';
    if (!given('mailboxAccess', mAccess))
      a.mailboxAccess = await askChoice(
        mAccess,
        [
          {
            value: 'rbac',
            name: `RBAC for Applications over the ${a.group || hasGroup ? 'group' : 'mailboxes'} (recommended: least privilege)`,
            description:
              'Microsoft\'s recommended way since November 2025: a management scope and the role "Application SMTP.SendAsApp"; no API permission on the app, and the app may only send, nothing else in the mailboxes.',
          },
          {
            value: 'full-access',
            name: "FullAccess on each mailbox (when the sending system's guide requires it; AutoMapping off)",
            description:
              'The older way of the vendor guides: the API permission SMTP.SendAsApp plus FullAccess, which lets the app read and change every item of the mailbox.',
          },
          {
            value: 'send-as',
            name: 'SendAs on each mailbox (when the guide requires it)',
            description: 'The API permission SMTP.SendAsApp plus SendAs: the app may send as the mailbox, not open it.',
          },
        ],
        'rbac',
      );
  }

  // 8. SMTP AUTH.
  const mSmtp = 'SMTP AUTH is off in tenants made after January 2020. For these mailboxes:';
  if (!given('enableSmtpAuth', mSmtp))
    a.enableSmtpAuth = await askChoice(
      mSmtp,
      [
        { value: 'mailbox', name: 'Enable it for these mailboxes only (Set-CASMailbox)' },
        { value: 'none', name: 'Only report it; change nothing' },
        { value: 'org', name: 'Enable it for the whole organization (Set-TransportConfig)' },
      ],
      'mailbox',
    );

  // 9. Redirect URIs (delegated; Business Central on-premises).
  const mRedirect = delegated
    ? `Redirect URI(s) of ${systemName}'s sign-in (comma-separated):`
    : 'Business Central on-premises: its OAuthLanding.htm redirect URI (empty for Business Central online):';
  if ((delegated || system === 'business-central') && !given('redirectUris', mRedirect)) {
    const answer = await askText({
      message: mRedirect,
      key: 'redirectUris',
      required: delegated,
      default: system === 'postfix' ? 'https://login.microsoftonline.com/common/oauth2/nativeclient' : undefined,
    });
    if (answer) a.redirectUris = splitList(answer);
  }

  // 10. Where the secret goes.
  if (!vendor) {
    const mOut = `File for the new ${a.credential === 'certificate' ? 'key and certificate' : 'secret'} (mode 0600; never printed):`;
    if (!given('secretOut', mOut))
      a.secretOut = await askText({
        message: mOut,
        key: 'secretOut',
        default: `./${slug(String(a.appName ?? preset.appName))}-secret.json`,
        check: (f) => {
          try {
            new CredentialSink(f).read();
            return true;
          } catch (err) {
            return (err as Error).message;
          }
        },
      });
  }

  // 11. Operator sign-in (not with the emulator's endpoints file, which brings its operator).
  const mAuth = 'How do you sign in as the administrator?';
  if (!given('auth', mAuth) && !sourceOf('endpoints')) {
    const fromEnv = Boolean(process.env.AZURE_CLIENT_ID && process.env.AZURE_TENANT_ID);
    a.auth = await askChoice(
      mAuth,
      [
        { value: 'interactive', name: 'Interactive: a browser on this machine' },
        { value: 'device-code', name: 'Device code: a code to type at microsoft.com/devicelogin, on any device' },
        { value: 'azure-cli', name: 'Azure CLI: the account of `az login`' },
        { value: 'environment', name: 'Environment: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET' },
      ],
      fromEnv ? 'environment' : 'interactive',
    );
  }

  // 12. The config file this setup reruns from.
  const configPath = await askText({
    message: 'Save these answers (no secret) to the config file:',
    default: './sendasapp.yaml',
    check: (f) => (/\.(ya?ml|json)$/i.test(f) ? true : 'must end in .yaml, .yml or .json'),
  });
  if (existsSync(configPath) && configPath !== file) {
    if (!(await askYesNo(`${configPath} exists. Replace it?`, false))) return askSetup({ ...flags, ...asFlags(a) });
  }

  const options = resolveOptions({ flags: { ...flags, ...asFlags(a) }, file });
  if (!options.tenant) throw new Error('no tenant');
  return {
    options: options as ProvisionOptions & { tenant: string },
    config: configFor(options, configPath),
    configPath,
  };
}

/** Answers (keyed by option) as the flags commander would have given. */
function asFlags(a: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(a)) {
    const spec = OPTION_SPECS.find((s) => s.key === key)!;
    out[flagAttribute(spec)] =
      typeof value === 'object' && value !== null && 'text' in value ? (value as { text: string }).text : value;
  }
  return out;
}

/** The config file for `apply -f`: what this setup decided, defaults left out, never a secret. */
export function configFor(o: ProvisionOptions, configPath = './sendasapp.yaml'): Record<string, unknown> {
  // Relative paths in a config file are read from its own directory: write them that way.
  const rel = (p: string): string => {
    if (path.isAbsolute(p)) return p;
    const r = path.relative(path.dirname(path.resolve(configPath)), path.resolve(p));
    return r.startsWith('.') || path.isAbsolute(r) ? r : `./${r}`;
  };
  const c: Record<string, unknown> = { tenant: o.tenant };
  if (o.homeTenant && o.homeTenant !== o.tenant) c.homeTenant = o.homeTenant;
  if (o.appId) c.appId = o.appId;
  else c.appName = o.appName;
  if (o.multiTenant) c.multiTenant = true;
  if (o.flow === 'delegated') c.flow = 'delegated';
  if (o.mailboxes.length > 0) c.mailboxes = o.mailboxes;
  if (o.group) c.group = o.group;
  if (o.flow !== 'delegated') c.mailboxAccess = o.mailboxAccess;
  if (!o.appId) {
    c.credential = o.credential;
    c.secretLifetime = o.secretLifetime.text;
  }
  if (o.secretOut) c.secretOut = isKeyVaultTarget(o.secretOut) ? o.secretOut : rel(o.secretOut);
  if (o.certificateFile) c.certificateFile = rel(o.certificateFile);
  if ((o.redirectUris?.length ?? 0) > 0) c.redirectUris = o.redirectUris;
  c.enableSmtpAuth = o.enableSmtpAuth;
  if (o.target) c.target = o.target;
  if (o.handoffOut) c.handoffOut = rel(o.handoffOut);
  if (o.includeSecret) c.includeSecret = true;
  if (o.verify !== DEFAULTS.verify) c.verify = o.verify;
  if (o.sendTo) c.sendTo = o.sendTo;
  if (o.wait.text !== DEFAULTS.wait) c.wait = o.wait.text;
  if (o.auth) c.auth = o.auth;
  if (o.endpoints) c.endpoints = rel(o.endpoints);
  else if (o.cloud !== DEFAULTS.cloud) c.cloud = o.cloud;
  if (o.exchange !== DEFAULTS.exchange) c.exchange = o.exchange;
  return c;
}
