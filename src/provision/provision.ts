/**
 * plan / apply / status for one tenant: the resources in dependency order, then (apply) the proof.
 */
import { readFileSync } from 'node:fs';
import { groupDistinguishedName } from '../exchange/index.js';
import type { ServicePrincipal } from '../entra/index.js';
import type { TenantContext } from './context.js';
import { explainError } from './errors.js';
import { createRunState, type Resource, type RunState } from './resource.js';
import {
  KEYS,
  applicationResource,
  consentResource,
  credentialResource,
  servicePrincipalResource,
  type AppState,
  type CredentialState,
} from './resources/entra.js';
import {
  exchangeServicePrincipalResource,
  mailboxAccessResource,
  managementScopeResource,
  roleAssignmentResource,
  scopeFilter,
  smtpAuthResource,
  EXO_KEYS,
} from './resources/exchange.js';
import { delegatedConsentUrl, delegatedResources, redirectUrisResource } from './resources/delegated.js';
import { runResources, type ResourceReport, type RunEvent } from './runner.js';
import {
  appToken,
  skippedVerification,
  verifyDelivery,
  type AppCredential,
  type VerificationReport,
} from './verify.js';
import type { SmtpAuthState } from '../exchange/index.js';
import { effectiveDisabled, testAuthorization } from '../exchange/index.js';

export async function buildResources(ctx: TenantContext): Promise<Resource[]> {
  const o = ctx.options;
  if (o.flow === 'delegated') return delegatedResources(ctx);
  const list: Resource[] = [
    applicationResource(ctx) as Resource,
    servicePrincipalResource(ctx) as Resource,
    exchangeServicePrincipalResource(ctx) as Resource,
    smtpAuthResource(ctx) as Resource,
  ];
  list.push(credentialResource(ctx) as Resource);
  if ((o.redirectUris?.length ?? 0) > 0) list.push(redirectUrisResource(ctx) as Resource);
  if (o.mailboxAccess === 'rbac') {
    const dn = o.group ? await groupDistinguishedName(ctx.exchange, o.group) : undefined;
    list.push(
      managementScopeResource(ctx, scopeFilter(dn, ctx.mailboxes)) as Resource,
      roleAssignmentResource(ctx) as Resource,
    );
  } else {
    list.push(consentResource(ctx) as Resource);
    for (const m of ctx.mailboxes) list.push(mailboxAccessResource(ctx, m) as Resource);
  }
  return list;
}

export interface ProvisionReport {
  changed: boolean;
  tenant: { id: string; input: string };
  homeTenant: { id: string };
  application: { appId?: string; id?: string; uniqueName?: string; displayName?: string };
  servicePrincipal: { id?: string };
  mailboxes: string[];
  resources: Array<{
    key: string;
    action: string;
    status: string;
    changes: Array<{ action: string; what: string }>;
    message?: string;
  }>;
  credential?: { type: string; keyId?: string; expires?: string; sink: string; secret?: string };
  smtpAuth?: {
    organizationDisabled: boolean;
    oauth2ClientProfileEnabled?: boolean;
    mailboxes: Array<{ mailbox: string; setting: boolean | null; effectiveDisabled: boolean }>;
  };
  verification?: VerificationReport;
  notes: string[];
  failed: boolean;
  waiting: boolean;
}

export interface ProvisionRunOptions {
  mode: 'plan' | 'apply';
  onEvent?: (e: RunEvent) => void;
}

export async function runProvision(
  ctx: TenantContext,
  r: ProvisionRunOptions,
): Promise<{ report: ProvisionReport; state: ReturnType<typeof createRunState> }> {
  const state = createRunState(ctx.signal);
  const resources = await buildResources(ctx);
  const onEvent = r.mode === 'apply' ? prefetchProofToken(ctx, state, r.onEvent) : r.onEvent;
  const reports = await runResources(resources, { mode: r.mode, state, onEvent, explain: explainError });
  const app = state.get<AppState>(KEYS.application);
  const sp = state.get<ServicePrincipal>(KEYS.servicePrincipal);
  const cred = state.get<CredentialState>(KEYS.credential);
  const smtp = state.get<SmtpAuthState>(EXO_KEYS.smtpAuth);
  const notes = [...state.notes];
  // RBAC for applications: Exchange's own check of what the role assignment covers (bypasses its cache).
  let outOfScope: string[] = [];
  const role = reports.find((x) => x.key === EXO_KEYS.roleAssignment);
  if (r.mode === 'apply' && role && (role.status === 'created' || role.status === 'unchanged') && app) {
    const inScope = await Promise.all(ctx.mailboxes.map((m) => testAuthorization(ctx.exchange, app.appId, m)));
    outOfScope = ctx.mailboxes.filter((_, i) => !inScope[i]);
    if (outOfScope.length > 0)
      notes.push(
        `Test-ServicePrincipalAuthorization: ${outOfScope.join(', ')} ${outOfScope.length > 1 ? 'are' : 'is'} not in the scope of the app's "Application SMTP.SendAsApp" role. Fix: add ${outOfScope.length > 1 ? 'them' : 'it'} to --group, or give the mailboxes with --mailbox instead of --group`,
      );
  }
  if (smtp && ctx.options.enableSmtpAuth === 'none') {
    const blocked = ctx.mailboxes.filter((m) => effectiveDisabled(smtp, m));
    if (blocked.length > 0)
      notes.push(
        `SMTP AUTH is disabled for ${blocked.join(', ')} (${smtp.organizationDisabled ? 'organization default' : 'mailbox setting'}): the XOAUTH2 login will fail with 535 5.7.139 until you rerun with --enable-smtp-auth mailbox`,
      );
  }
  if (smtp?.oauth2ClientProfileEnabled === false)
    notes.push(
      'OAuth2ClientProfileEnabled (modern authentication) is off in OrganizationConfig: turn it on (Set-OrganizationConfig -OAuth2ClientProfileEnabled $true)',
    );
  if (app?.external)
    notes.push(
      `app ${app.appId} is not registered in the home tenant (a vendor's app): only its consent and the Exchange side are managed here`,
    );
  if (ctx.options.flow === 'delegated' && app?.appId)
    notes.push(
      `delegated SMTP: each sending user (or an administrator for all: ${delegatedConsentUrl(ctx.profile.consentHost, ctx.mailboxTenantId, app.appId, ctx.options.redirectUris?.[0])}) consents to SMTP.Send at the first sign-in in the sending system; no Exchange mailbox permission is needed`,
    );
  if (cred?.heldElsewhere)
    notes.push(
      'a secret of ours exists but its value is not in a --secret-out file: the proof needs it (use verify --secret-file, or give --secret-out to get a new one)',
    );
  const report: ProvisionReport = {
    changed: reports.some((x) => x.status === 'created' || x.status === 'updated'),
    tenant: { id: ctx.mailboxTenantId, input: ctx.options.tenant },
    homeTenant: { id: ctx.homeTenantId },
    application: {
      appId: app?.appId,
      id: app?.app?.id,
      uniqueName: app?.app?.uniqueName ?? undefined,
      displayName: app?.app?.displayName ?? undefined,
    },
    servicePrincipal: { id: sp?.id },
    mailboxes: ctx.mailboxes,
    resources: reports.map((x: ResourceReport) => ({
      key: x.key,
      action: x.action,
      status: x.status,
      changes: x.changes.map((c) => ({ action: c.action, what: c.what })),
      ...(x.message ? { message: x.message } : {}),
    })),
    ...(cred ? { credential: { type: cred.type, keyId: cred.keyId, expires: cred.expires, sink: cred.sink } } : {}),
    ...(smtp
      ? {
          smtpAuth: {
            organizationDisabled: smtp.organizationDisabled,
            oauth2ClientProfileEnabled: smtp.oauth2ClientProfileEnabled,
            mailboxes: ctx.mailboxes.map((m) => ({
              mailbox: m,
              setting: smtp.mailboxes[m] ?? null,
              effectiveDisabled: effectiveDisabled(smtp, m),
            })),
          },
        }
      : {}),
    notes,
    failed: reports.some((x) => x.status === 'failed') || outOfScope.length > 0,
    waiting: reports.some((x) => x.status === 'waiting'),
  };
  return { report, state };
}

const DONE = new Set(['created', 'updated', 'unchanged']);

/**
 * Starts fetching the app's own token as soon as its credential and its permission (consent, or in rbac mode the
 * service principal) are in place, so that the proof does not wait for it after the Exchange steps.
 */
function prefetchProofToken(ctx: TenantContext, state: RunState, next?: (e: RunEvent) => void): (e: RunEvent) => void {
  const done = new Set<string>();
  const needed = [KEYS.credential, ctx.options.mailboxAccess === 'rbac' ? KEYS.servicePrincipal : KEYS.consent];
  return (e) => {
    next?.(e);
    if (e.type !== 'end' || !DONE.has(e.report.status)) return;
    done.add(e.report.key);
    if (ctx.proofToken || !needed.every((k) => done.has(k)) || ctx.options.verify === 'none') return;
    const credential = credentialForProof(ctx);
    const appId = state.get<AppState>(KEYS.application)?.appId;
    if (!credential || !appId) return;
    ctx.proofToken = appToken({
      profile: ctx.profile,
      tenantId: ctx.mailboxTenantId,
      appId,
      credential,
      signal: ctx.signal,
    }).catch(() => undefined);
  };
}

/** The app credential this run can prove with: the new secret, or the one in the sink file. */
export function credentialForProof(ctx: TenantContext): AppCredential | undefined {
  if (ctx.newSecret) return { type: 'secret', value: ctx.newSecret.value };
  if (ctx.newCertificate) return { type: 'certificate', pem: ctx.newCertificate.pem };
  if (ctx.options.certificateFile) {
    try {
      return { type: 'certificate', pem: readFileSync(ctx.options.certificateFile, 'utf8') };
    } catch {
      return undefined;
    }
  }
  const file = ctx.sink?.read();
  if (file?.credential?.type === 'secret') return { type: 'secret', value: file.credential.secret };
  if (file?.credential?.type === 'certificate')
    return { type: 'certificate', pem: `${file.credential.privateKeyPem}\n${file.credential.certificatePem}` };
  return undefined;
}

export async function proveDelivery(ctx: TenantContext, report: ProvisionReport): Promise<VerificationReport> {
  const o = ctx.options;
  if (o.verify === 'none') return skippedVerification('--verify none');
  if (o.flow === 'delegated')
    return skippedVerification('delegated SMTP: the login needs a user who signs in in the sending system');
  if (report.failed || report.waiting) return skippedVerification('not all resources are in place');
  const credential = credentialForProof(ctx);
  if (!report.application.appId) return skippedVerification('no application');
  if (!credential)
    return skippedVerification(
      report.application.id
        ? 'no app credential in hand (give --secret-out, or run `sendasapp verify --secret-file`)'
        : "the vendor's credential is not in hand: the vendor runs `sendasapp verify`",
    );
  return verifyDelivery({
    profile: ctx.profile,
    tenantId: ctx.mailboxTenantId,
    appId: report.application.appId,
    credential,
    mailboxes: ctx.mailboxes,
    rbac: o.mailboxAccess === 'rbac',
    sendTo: o.verify === 'send' ? o.sendTo : undefined,
    waitMs: o.wait.ms,
    progress: ctx.progress,
    signal: ctx.signal,
    firstToken: ctx.proofToken,
    credentialIsNew: Boolean(ctx.newSecret || ctx.newCertificate),
  });
}

export { explainError };
