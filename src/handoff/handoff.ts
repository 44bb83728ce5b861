/**
 * The hand-off: what a sending system needs, in the words of its own setup screen, rendered from the templates
 * in templates/handoff/. The facts come from a read of the tenant (the CLI builds them from the provisioning
 * report); the cloud profile decides the hosts. The secret's value is put in only when asked (`--include-secret`);
 * otherwise the templates point at the credential file (the sink).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HANDOFF_TARGETS, SECRET_ONLY_TARGETS, looksLikeVaultUri } from '../config/index.js';
import { plain, renderTemplate, type Escape } from './template.js';
import { writeFileSafely } from './sink.js';

export type HandoffTarget = (typeof HANDOFF_TARGETS)[number];
export { HANDOFF_TARGETS };

/** What the hand-off is made from: a read of the tenant, no secret unless `secretValue` is set. */
export interface HandoffFacts {
  flow: 'app' | 'delegated';
  /** The mailbox tenant (the token authority for the sending system). */
  tenantId: string;
  /** As the operator gave it (a domain or an id). */
  tenantInput: string;
  /** Where the app is registered. */
  homeTenantId: string;
  clientId: string;
  appName?: string;
  /** An ISV's app: its credential is the vendor's. */
  vendorApp: boolean;
  credential?: { type: 'secret' | 'certificate'; keyId?: string; expires?: string };
  /** The credential file (sink) that holds the secret or key. */
  sinkFile?: string;
  /** The secret's value, only with --include-secret. */
  secretValue?: string;
  mailboxes: string[];
  group?: string;
  /**
   * With --send-as-users / --send-as-group: sendasapp manages SendAs for these people on their mailboxes, granted to
   * the shared account the sending system signs in as.
   */
  sendAs?: { account: string; users: string[]; group?: string };
  mailboxAccess: 'full-access' | 'send-as' | 'rbac';
  redirectUris: string[];
  /** The admin-consent URL for the mailbox tenant (cross-tenant, vendor app, delegated). */
  adminConsentUrl?: string;
  /** Mailboxes whose SMTP AUTH is (effectively) disabled. */
  smtpAuthBlocked: string[];
  /** Resources not in place yet (titles). */
  pending: string[];
  notes: string[];
}

/** The parts of the cloud profile a hand-off needs. */
export interface HandoffProfile {
  name: string;
  authorityHost: string;
  smtp: { host: string; port: number };
  /** Scope of client-credential SMTP tokens (`https://outlook.office365.com/.default`). */
  exchangeScope: string;
}

export class HandoffError extends Error {}

const jsonEscape: Escape = (v) => JSON.stringify(v ?? null);
/** Inside a double-quoted .reg string: backslash and quote are escaped. */
const regEscape: Escape = (v) => plain(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
/** A double-quoted dotenv value. */
const envEscape: Escape = (v) =>
  `"${plain(v)
    .replace(/([\\"$`])/g, '\\$1')
    .replace(/\n/g, '\\n')}"`;

interface TargetInfo {
  /** The system's name, as its vendor writes it. */
  label: string;
  template: string;
  escape: Escape;
}

export const TARGETS: Record<HandoffTarget, TargetInfo> = {
  'business-central': {
    label: 'Dynamics 365 Business Central',
    template: 'business-central.txt.tmpl',
    escape: plain,
  },
  'enaio-server': { label: 'enaio® server', template: 'enaio-server.reg.tmpl', escape: regEscape },
  'enaio-webclient': { label: 'enaio® webclient', template: 'enaio-webclient.yml.tmpl', escape: jsonEscape },
  xeams: { label: 'Xeams', template: 'xeams.txt.tmpl', escape: plain },
  postfix: { label: 'Postfix with sasl-xoauth2', template: 'postfix.txt.tmpl', escape: jsonEscape },
  env: { label: 'a .env file', template: 'env.env.tmpl', escape: envEscape },
  json: { label: 'JSON', template: 'json.json.tmpl', escape: jsonEscape },
};

/** The templates folder: templates/handoff/ at the package root (from src/ or dist/src/). */
export function templatesDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'templates', 'handoff');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new HandoffError('the hand-off templates (templates/handoff/) are missing from this installation');
}

/** The delegated SMTP scope of a cloud: the Outlook resource of that cloud plus offline_access. */
function delegatedScope(profile: HandoffProfile): string {
  // Global (and the emulator, which keeps the real resource names): Microsoft's documented scope string.
  // US Government and China hosts follow the Exchange hosts of those clouds: UNCONFIRMED.
  const host =
    profile.name === 'usgov' || profile.name === 'usgov-dod'
      ? 'https://outlook.office365.us'
      : profile.name === 'china'
        ? 'https://partner.outlook.cn'
        : 'https://outlook.office.com';
  return `${host}/SMTP.Send offline_access`;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Every value the templates may use. */
export function handoffView(
  target: HandoffTarget,
  facts: HandoffFacts,
  profile: HandoffProfile,
): Record<string, unknown> {
  const info = TARGETS[target];
  const delegated = facts.flow === 'delegated';
  const sender = facts.sendAs?.account ?? facts.mailboxes[0] ?? '';
  // A Key Vault secret is named as given (the secret's value holds the same JSON record as a file sink).
  const sinkFile = facts.sinkFile
    ? looksLikeVaultUri(facts.sinkFile)
      ? facts.sinkFile
      : path.resolve(facts.sinkFile)
    : undefined;
  const certificate = facts.credential?.type === 'certificate';
  const includeSecret = facts.secretValue !== undefined;
  const secretReference = facts.vendorApp
    ? "the vendor's client secret (the vendor holds it)"
    : sinkFile
      ? `the "credential.${certificate ? 'privateKeyPem' : 'secret'}" value in ${sinkFile}`
      : 'the client secret (no --secret-out file holds it: create one with `sendasapp apply --secret-out FILE`)';
  const authority = profile.authorityHost.replace(/\/$/, '');
  const warnings: string[] = [];
  for (const p of facts.pending)
    warnings.push(`not in place yet: ${p} (run \`sendasapp apply\` with the same options)`);
  if (facts.smtpAuthBlocked.length > 0)
    warnings.push(
      `SMTP AUTH is disabled for ${facts.smtpAuthBlocked.join(', ')}: sending fails with 535 5.7.139 until it is enabled (sendasapp apply --enable-smtp-auth mailbox)`,
    );
  if (!facts.credential?.keyId && !facts.vendorApp)
    warnings.push(
      'no credential of this app is held in the --secret-out file: run `sendasapp apply --secret-out FILE`',
    );
  return {
    target,
    system: info.label,
    flow: facts.flow,
    isApp: !delegated,
    isDelegated: delegated,
    oauthGrant: delegated ? 'authorization_code' : 'client_credentials',
    vendorApp: facts.vendorApp,
    tenantId: facts.tenantId,
    tenantInput: facts.tenantInput,
    homeTenantId: facts.homeTenantId,
    crossTenant: facts.homeTenantId !== facts.tenantId,
    clientId: facts.clientId,
    appName: facts.appName ?? 'SMTP OAuth sender',
    credentialType: facts.credential?.type ?? 'secret',
    isCertificate: certificate,
    keyId: facts.credential?.keyId ?? '',
    expires: facts.credential?.expires ?? '',
    sinkFile: sinkFile ?? '',
    hasSinkFile: Boolean(sinkFile),
    includeSecret,
    secretValue: facts.secretValue ?? '',
    secretReference,
    /** What goes into a "Client Secret" field: the value, or where to find it. */
    clientSecret: includeSecret ? facts.secretValue : `<${secretReference}>`,
    secretEnvVar: 'SMTP_OAUTH_CLIENT_SECRET',
    sender,
    mailboxes: facts.mailboxes,
    otherMailboxes: facts.mailboxes.slice(1),
    hasOtherMailboxes: facts.mailboxes.length > 1,
    group: facts.group ?? '',
    managesSendAs: Boolean(facts.sendAs),
    sendAsUsers: facts.sendAs?.users ?? [],
    sendAsUsersText: (facts.sendAs?.users ?? []).join(', '),
    sendAsGroup: facts.sendAs?.group ?? '',
    smtpHost: profile.smtp.host,
    smtpPort: profile.smtp.port,
    smtpPortDword: hex8(profile.smtp.port),
    authorityHost: authority,
    tokenEndpoint: `${authority}/${facts.tenantId}/oauth2/v2.0/token`,
    authorizeEndpoint: `${authority}/${facts.tenantId}/oauth2/v2.0/authorize`,
    metadataUrl: `${authority}/${facts.tenantId}/v2.0/.well-known/openid-configuration`,
    scope: delegated ? delegatedScope(profile) : profile.exchangeScope,
    mailboxAccess: facts.mailboxAccess,
    isFullAccess: facts.mailboxAccess === 'full-access',
    isSendAs: facts.mailboxAccess === 'send-as',
    isRbac: facts.mailboxAccess === 'rbac',
    redirectUris: facts.redirectUris,
    redirectUri: facts.redirectUris[0] ?? '',
    hasRedirectUri: facts.redirectUris.length > 0,
    adminConsentUrl: facts.adminConsentUrl ?? '',
    warnings,
    hasWarnings: warnings.length > 0,
    notes: facts.notes,
    hasNotes: facts.notes.length > 0,
  };
}

/** Checks that a target can use these facts (Business Central and the others take only a client secret). */
export function checkTarget(target: HandoffTarget, facts: Pick<HandoffFacts, 'credential' | 'mailboxes'>): void {
  if (facts.credential?.type === 'certificate' && SECRET_ONLY_TARGETS.includes(target))
    throw new HandoffError(
      `${TARGETS[target].label} takes only a client secret${target === 'business-central' ? ' (no certificate support)' : ''}, but this app's credential is a certificate: rerun apply with --credential secret`,
    );
  if (facts.mailboxes.length === 0)
    throw new HandoffError('the hand-off needs the sending mailbox: give --mailbox (or --group)');
}

export function renderHandoff(target: HandoffTarget, facts: HandoffFacts, profile: HandoffProfile): string {
  checkTarget(target, facts);
  const info = TARGETS[target];
  const source = readFileSync(path.join(templatesDir(), info.template), 'utf8');
  return renderTemplate(source, handoffView(target, facts, profile), info.escape);
}

/**
 * Writes a rendered hand-off to a file, atomically. With a secret in it the file is created with mode 0600 (it
 * never exists with wider permissions); otherwise with the default mode.
 */
export function writeHandoffFile(file: string, content: string, containsSecret: boolean): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  // Never through a planted link; 0600 when it holds the secret, else readable as a config file is (0644).
  writeFileSafely(file, content, { mode: containsSecret ? 0o600 : 0o644 });
}
