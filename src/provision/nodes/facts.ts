/**
 * The data and check nodes of the preflight: what the tenant is (Exchange Online's role, the mailboxes and the
 * group, its lifetime policy), whether the operator may do the job, and whether the input holds (sink,
 * certificate file, lifetime). None of them writes; any of them failing stops the run before the first write.
 */
import { decodeJwt } from 'jose';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  certificateThumbprint,
  readExchangeOnlinePrincipal,
  splitKeyAndCertificate,
  GraphRequestError,
  type ExchangeOnlinePrincipal,
} from '../../entra/index.js';
import {
  ExchangeError,
  groupDistinguishedName,
  groupMemberRecipients,
  readSmtpAuth,
  type GroupMember,
  type SmtpAuthState,
} from '../../exchange/index.js';
import { inspectSink, type SinkInspection } from '../../handoff/index.js';
import type { TenantContext } from '../context.js';
import { rotateWindow } from '../rotation.js';
import { CheckFailure, Sensitive, type CheckNode, type DataNode, type Ref } from '../model.js';

/** Longest lifetime any tenant allows without a policy (Entra's own limit for secrets made in the portal). */
export const MAX_LIFETIME_DAYS = 730;

export const FACT_KEYS = {
  exchangeOnline: 'tenant.exchangeOnline',
  mailboxes: 'tenant.mailboxes',
  operator: 'check.operator',
  sink: 'check.sink',
  certificateFile: 'check.certificateFile',
  lifetime: 'check.secretLifetime',
  exchangeBackend: 'check.exchangeBackend',
} as const;

/**
 * The Exchange backend can run: a forced `--exchange pwsh` without PowerShell 7.4+ or ExchangeOnlineManagement 3.x
 * stops here, before any write, with the doctor sentence (one probe of the bridge the run started).
 */
export function exchangeBackendCheck(): CheckNode<{ backend: 'rest' | 'pwsh'; reason: string }, Record<string, never>> {
  return {
    kind: 'check',
    key: FACT_KEYS.exchangeBackend,
    title: 'Exchange backend (--exchange)',
    inputs: {},
    async read(ctx) {
      const c = await ctx.exchangeChoice;
      if (!c.ok)
        throw new CheckFailure(
          'tenant',
          c.reason,
          'after installing, `sendasapp doctor` checks this machine again',
          '--exchange',
        );
      return { backend: c.backend, reason: c.reason };
    },
  };
}

export function exchangeOnlineNode(): DataNode<ExchangeOnlinePrincipal, Record<string, never>> {
  return {
    kind: 'data',
    key: FACT_KEYS.exchangeOnline,
    title: 'Office 365 Exchange Online in the mailbox tenant (SMTP.SendAsApp role id)',
    inputs: {},
    read: (ctx) => readExchangeOnlinePrincipal(ctx.mailboxGraph),
  };
}

export interface MailboxFacts {
  /** The mailboxes the app sends as: the listed ones, then the group's members. */
  mailboxes: string[];
  group?: { name: string; distinguishedName: string; members: string[] };
  /** Their SMTP AUTH settings and the organization's (read with them: existence and settings in one round). */
  smtp: SmtpAuthState;
}

type Row = Record<string, unknown>;

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The group, as Exchange knows it: it exists, is mail-enabled, and has only mailboxes as members. */
async function readGroup(ctx: TenantContext, name: string): Promise<NonNullable<MailboxFacts['group']>> {
  let distinguishedName: string;
  let members: GroupMember[];
  try {
    // Issued together: one batch (REST) or one bridge message (pwsh).
    [distinguishedName, members] = await Promise.all([
      groupDistinguishedName(ctx.exchange, name),
      groupMemberRecipients(ctx.exchange, name),
    ]);
  } catch (err) {
    if (err instanceof ExchangeError && err.kind === 'not-found')
      throw new CheckFailure(
        'input',
        `the group ${name} was not found in ${ctx.options.tenant}`,
        'give the address or name of a mail-enabled group of this tenant',
        '--group',
      );
    throw err;
  }
  // Only mailboxes can be sent as: a contact, a user without a mailbox or a nested group cannot be granted.
  const others = members.filter((m) => !/Mailbox$/i.test(m.type));
  if (others.length > 0)
    throw new CheckFailure(
      'input',
      `the group ${name} has members that are not mailboxes: ${others.map((m) => `${m.address || m.name} (${m.type})`).join(', ')}`,
      'keep only the sending mailboxes in the group (no contacts, users without a mailbox or nested groups), or give --mailbox',
      '--group',
    );
  const addresses = members.map((m) => m.address).filter(Boolean);
  if (addresses.length === 0)
    throw new CheckFailure(
      'input',
      `the group ${name} has no members`,
      'add the sending mailboxes to the group, or give --mailbox',
      '--group',
    );
  return { name, distinguishedName, members: addresses };
}

/**
 * The mailboxes, as Exchange knows them, with their SMTP AUTH settings: every listed address must be a mailbox of
 * this tenant (one round of reads, batched; a mailbox Exchange does not know is then checked against the tenant's
 * accepted domains, to say which is wrong); a group must exist, be mail-enabled and hold only mailboxes.
 */
export function mailboxesNode(): DataNode<MailboxFacts, Record<string, never>> {
  return {
    kind: 'data',
    key: FACT_KEYS.mailboxes,
    title: 'Mailboxes and group in the mailbox tenant',
    inputs: {},
    async read(ctx) {
      const o = ctx.options;
      const group = o.group ? await readGroup(ctx, o.group) : undefined;
      const mailboxes = [...o.mailboxes];
      for (const m of group?.members ?? []) if (!mailboxes.includes(m)) mailboxes.push(m);
      const { notFound, ...smtp } = await readSmtpAuth(ctx.exchange, mailboxes);
      if (notFound.length > 0) {
        const rows = await ctx.exchange.invoke<Row>('Get-AcceptedDomain');
        const accepted = rows.map((r) => str(r.DomainName).toLowerCase()).filter(Boolean);
        const m = notFound[0]!;
        const domain = m.split('@')[1] ?? '';
        if (accepted.length > 0 && !accepted.includes(domain))
          throw new CheckFailure(
            'input',
            `${m} is not in an accepted domain of ${o.tenant} (its domains: ${accepted.join(', ')})`,
            `give mailboxes of ${o.tenant}, or --tenant the tenant that hosts ${domain}`,
            '--mailbox',
          );
        throw new CheckFailure(
          'input',
          `${notFound.join(', ')} ${notFound.length > 1 ? 'are not mailboxes' : 'is not a mailbox'} in ${o.tenant}`,
          'check the address (a user or shared mailbox of this tenant; a group goes in --group)',
          '--mailbox',
        );
      }
      return { mailboxes, group, smtp };
    },
  };
}

export interface LifetimePolicy {
  /** The longest secret lifetime the tenant's default app-management policy allows, in days (undefined: none). */
  maxSecretDays?: number;
  /** The longest certificate lifetime it allows (`asymmetricKeyLifetime`), in days (undefined: none). */
  maxCertificateDays?: number;
  /** The policy could not be read (no permission): the limit is then only found when Entra refuses. */
  unknown: boolean;
}

/** ISO 8601 duration (P180D, P1Y, P6M, PT12H) in days. */
export function isoDurationDays(d: string): number | undefined {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i.exec(d);
  if (!m) return undefined;
  const n = (i: number): number => Number(m[i] ?? 0);
  return n(1) * 365 + n(2) * 30 + n(3) * 7 + n(4) + n(5) / 24 + n(6) / 1440 + n(7) / 86400;
}

type Restriction = { restrictionType?: string; maxLifetime?: string | null; state?: string };

/** `GET /policies/defaultAppManagementPolicy` as far as lifetimes go. */
export interface AppManagementPolicyBody {
  isEnabled?: boolean;
  applicationRestrictions?: { passwordCredentials?: Restriction[]; keyCredentials?: Restriction[] } | null;
}

/**
 * The lifetime limits of a tenant's default app-management policy: `passwordLifetime` for client secrets and
 * `asymmetricKeyLifetime` for certificates, each when enabled (a disabled policy limits nothing).
 */
export function lifetimeLimits(body: AppManagementPolicyBody | undefined): Omit<LifetimePolicy, 'unknown'> {
  if (body?.isEnabled === false) return {};
  const days = (list: Restriction[] | undefined, type: string): number | undefined => {
    const r = (list ?? []).find((x) => x.restrictionType === type && x.state !== 'disabled' && x.maxLifetime);
    return r?.maxLifetime ? isoDurationDays(r.maxLifetime) : undefined;
  };
  const a = body?.applicationRestrictions;
  const maxSecretDays = days(a?.passwordCredentials, 'passwordLifetime');
  const maxCertificateDays = days(a?.keyCredentials, 'asymmetricKeyLifetime');
  return {
    ...(maxSecretDays !== undefined ? { maxSecretDays } : {}),
    ...(maxCertificateDays !== undefined ? { maxCertificateDays } : {}),
  };
}

/** The home tenant's default app-management policy: the max lifetime of a new secret or certificate, when set. */
async function readLifetimePolicy(ctx: TenantContext, held: SinkInspection | undefined): Promise<LifetimePolicy> {
  // Only a run that may add a secret (or make a certificate) needs the limit: one whose sink holds a credential
  // far from its end does not (a no-op rerun makes no request for it). A rotation (`sendasapp rotate`, or an end
  // within --rotate-within) adds one: it reads the limit. A --certificate-file's lifetime is its own.
  const expires = held?.ok ? held.held?.credential?.expires : undefined;
  const horizon = Math.max(30 * 86_400_000, rotateWindow(ctx.options).ms);
  const far = expires !== undefined && Date.parse(expires) - Date.now() > horizon;
  if (ctx.options.certificateFile || (far && !ctx.options.newSecret && !ctx.options.rotate)) return { unknown: true };
  try {
    const { body } = await ctx.homeGraph.get<AppManagementPolicyBody>('/policies/defaultAppManagementPolicy');
    return { ...lifetimeLimits(body), unknown: false };
  } catch (err) {
    // Reading policies needs Policy.Read.All, which the job itself does not: without it, Entra's answer to
    // addPassword (or the certificate's upload) is the check.
    if (err instanceof GraphRequestError && (err.status === 403 || err.status === 404)) return { unknown: true };
    throw err;
  }
}

/**
 * `--secret-lifetime`: at least a day, at most what the home tenant's app-management policy (read when a secret
 * may be added) or Entra (2 years) allows.
 */
export function lifetimeCheck(
  sink: Ref<SinkInspection | undefined>,
): CheckNode<{ days: number; policy: LifetimePolicy }, { sink: Ref<SinkInspection | undefined> }> {
  return {
    kind: 'check',
    key: FACT_KEYS.lifetime,
    title: 'Lifetime of a new secret or certificate (and the tenant policy)',
    inputs: { sink },
    async read(ctx, { sink: held }) {
      const lt = ctx.options.secretLifetime;
      if (lt.ms < 86_400_000)
        throw new CheckFailure(
          'input',
          `--secret-lifetime ${lt.text} is shorter than a day`,
          'give at least 1d (e.g. 90d, 180d, 12mo)',
          '--secret-lifetime',
        );
      const p = await readLifetimePolicy(ctx, held);
      const limit = ctx.options.credential === 'secret' ? p.maxSecretDays : p.maxCertificateDays;
      const max = Math.min(MAX_LIFETIME_DAYS, limit ?? Infinity);
      if (lt.days > max + 1e-9)
        throw new CheckFailure(
          'input',
          limit !== undefined && limit < MAX_LIFETIME_DAYS
            ? `--secret-lifetime ${lt.text} is longer than the ${Math.floor(limit)} days the tenant's app-management policy allows${ctx.options.credential === 'certificate' ? ' for certificates' : ''}`
            : `--secret-lifetime ${lt.text} is longer than 2 years`,
          `give at most ${Math.floor(max)}d`,
          '--secret-lifetime',
        );
      return { days: lt.days, policy: p };
    },
  };
}

export interface CertificateMaterial {
  certificatePem: string;
  privateKeyPem: Sensitive<string>;
  thumbprint: string;
  notAfter: string;
}

/** `--certificate-file`: one PEM with a private key and the certificate it belongs to, not expired. */
export function certificateFileCheck(): CheckNode<CertificateMaterial | undefined, Record<string, never>> {
  return {
    kind: 'check',
    key: FACT_KEYS.certificateFile,
    title: 'Certificate file',
    inputs: {},
    async read(ctx) {
      const file = ctx.options.certificateFile;
      if (!file) return undefined;
      const bad = (what: string, fix: string): CheckFailure =>
        new CheckFailure('input', `--certificate-file ${file} ${what}`, fix, '--certificate-file');
      let pem: string;
      try {
        pem = readFileSync(file, 'utf8');
      } catch (err) {
        throw bad(
          `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
          'give a readable PEM file holding the private key and the certificate',
        );
      }
      const parts = splitKeyAndCertificate(pem);
      if (!parts) throw bad('lacks the certificate or its private key', 'give one PEM file with both');
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(parts.certificatePem);
      } catch {
        throw bad('holds no readable X.509 certificate', 'give a PEM certificate (-----BEGIN CERTIFICATE-----)');
      }
      try {
        const pub = createPublicKey(createPrivateKey(parts.privateKeyPem)).export({ type: 'spki', format: 'der' });
        const certPub = cert.publicKey.export({ type: 'spki', format: 'der' });
        if (!pub.equals(certPub)) throw new Error('mismatch');
      } catch {
        throw bad(
          'holds a private key that does not belong to its certificate',
          'give the key and the certificate of one pair',
        );
      }
      if (Date.parse(cert.validTo) <= Date.now())
        throw bad(
          `holds a certificate that expired on ${new Date(cert.validTo).toISOString()}`,
          'give a valid certificate, or leave out --certificate-file to get a new self-signed one',
        );
      return {
        certificatePem: parts.certificatePem,
        privateKeyPem: new Sensitive(parts.privateKeyPem),
        thumbprint: certificateThumbprint(parts.certificatePem),
        notAfter: new Date(cert.validTo).toISOString(),
      };
    },
  };
}

/** `--secret-out`: a path the sink can own (not a symlink, directory, device or another app's file). */
export function sinkCheck(): CheckNode<SinkInspection | undefined, Record<string, never>> {
  return {
    kind: 'check',
    key: FACT_KEYS.sink,
    title: 'Credential file (--secret-out)',
    inputs: {},
    async read(ctx) {
      const file = ctx.options.secretOut;
      if (!file) return undefined;
      const expect = { tenantId: ctx.mailboxTenantId, clientId: ctx.options.appId };
      const r = ctx.sink ? await ctx.sink.inspect(expect) : inspectSink(file, expect);
      if (!r.ok) throw new CheckFailure('input', `--secret-out ${file}: ${r.reason}`, r.fix, '--secret-out');
      return r;
    },
  };
}

/** Entra app roles the job needs, by what the run does. */
function neededGraphRoles(ctx: TenantContext): { home: string[][]; mailbox: string[][] } {
  const o = ctx.options;
  const write = ['Application.ReadWrite.All', 'Application.ReadWrite.OwnedBy'];
  // In the mailbox tenant nothing is required of Graph: without Application.ReadWrite.All and
  // AppRoleAssignment.ReadWrite.All there, its administrator consents instead (the service principal node waits).
  return { home: o.appId ? [] : [write], mailbox: [] };
}

/**
 * The operator may do the job: an app operator's tokens carry the app roles it was granted (read from the tokens
 * the sign-in fetched, no request). A person's rights show in the reads of the preflight instead.
 */
export function operatorCheck(): CheckNode<{ roles: Record<string, string[]> }, Record<string, never>> {
  return {
    kind: 'check',
    key: FACT_KEYS.operator,
    title: "Operator's permissions",
    inputs: {},
    async read(ctx) {
      if (ctx.operator.kind !== 'app') return { roles: {} };
      const rolesOf = async (scope: string, tenantId: string): Promise<string[]> => {
        const t = await ctx.credential.getToken(scope, { tenantId, abortSignal: ctx.signal });
        const c = t ? (decodeJwt(t.token) as { roles?: unknown }) : {};
        return Array.isArray(c.roles) ? c.roles.map(String) : [];
      };
      const need = neededGraphRoles(ctx);
      const [home, mailbox, exchange] = await Promise.all([
        rolesOf(ctx.profile.graphScope, ctx.homeTenantId),
        ctx.homeTenantId === ctx.mailboxTenantId
          ? Promise.resolve(undefined)
          : rolesOf(ctx.profile.graphScope, ctx.mailboxTenantId),
        rolesOf(ctx.profile.exchangeScope, ctx.mailboxTenantId),
      ]);
      const missing = (have: string[], wanted: string[][]): string[] =>
        wanted.filter((any) => !any.some((r) => have.includes(r))).map((any) => any.join(' or '));
      const homeMissing = missing(home, need.home);
      const mailboxMissing = missing(mailbox ?? home, need.mailbox);
      const tenantOf = (id: string): string =>
        id === ctx.mailboxTenantId ? ctx.options.tenant : (ctx.options.homeTenant ?? id);
      const lacks: string[] = [];
      if (homeMissing.length > 0)
        lacks.push(`Microsoft Graph ${homeMissing.join(', ')} in ${tenantOf(ctx.homeTenantId)}`);
      if (mailboxMissing.length > 0)
        lacks.push(`Microsoft Graph ${mailboxMissing.join(', ')} in ${ctx.options.tenant}`);
      if (!exchange.includes('Exchange.ManageAsApp'))
        lacks.push(`Office 365 Exchange Online Exchange.ManageAsApp in ${ctx.options.tenant}`);
      if (lacks.length > 0)
        throw new CheckFailure(
          'tenant',
          `the operator app ${ctx.operator.principal} lacks ${lacks.join('; ')}`,
          'grant these application permissions to the operator app and admin-consent them (Exchange also needs the Exchange Administrator role for the app), then rerun',
        );
      return { roles: { home, exchange, ...(mailbox ? { mailbox } : {}) } };
    },
  };
}
