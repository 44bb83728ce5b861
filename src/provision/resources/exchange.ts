/**
 * The Exchange resources: the app's Exchange service principal, mailbox access per mailbox (FullAccess or SendAs)
 * or the RBAC scope and role assignment, and the SMTP AUTH settings.
 */
import { abortableSleep, type ServicePrincipal } from '../../entra/index.js';
import {
  assignSmtpRole,
  effectiveDisabled,
  grantFullAccess,
  grantSendAs,
  hasFullAccess,
  hasSendAs,
  readExchangeServicePrincipal,
  readManagementScope,
  readRoleAssignments,
  readSmtpAuth,
  registerExchangeServicePrincipal,
  removeExchangeServicePrincipal,
  setMailboxSmtpAuth,
  setOrganizationSmtpAuth,
  writeManagementScope,
  type ExchangeServicePrincipal,
  type SmtpAuthState,
} from '../../exchange/index.js';
import type { TenantContext } from '../context.js';
import type { Change, Resource } from '../resource.js';
import { KEYS as ENTRA, type AppState } from './entra.js';

export const EXO_KEYS = {
  servicePrincipal: 'exchange.servicePrincipal',
  mailboxAccess: (mailbox: string) => `exchange.mailboxAccess:${mailbox}`,
  scope: 'exchange.managementScope',
  roleAssignment: 'exchange.roleAssignment',
  smtpAuth: 'exchange.smtpAuth',
} as const;

export function exchangeServicePrincipalResource(ctx: TenantContext): Resource<ExchangeServicePrincipal> {
  return {
    key: EXO_KEYS.servicePrincipal,
    title: `Exchange service principal (New-ServicePrincipal) in ${ctx.options.tenant}`,
    dependsOn: [ENTRA.servicePrincipal],
    async read(run) {
      const app = run.get<AppState>(ENTRA.application);
      // Exchange registrations are keyed by app id: a just-created app has none.
      if (!app || app.createdNow) return undefined;
      return readExchangeServicePrincipal(ctx.exchange, app.appId);
    },
    diff(current, run) {
      const sp = run.get<ServicePrincipal>(ENTRA.servicePrincipal);
      if (!current)
        return [{ action: 'create', what: 'Exchange service principal', to: sp?.id ?? '(enterprise app object id)' }];
      if (sp && current.ObjectId.toLowerCase() !== sp.id.toLowerCase()) {
        const app = run.get<AppState>(ENTRA.application);
        const cause =
          app?.app && current.ObjectId.toLowerCase() === app.app.id.toLowerCase()
            ? " (the app registration's object id)"
            : '';
        return [
          {
            action: 'update',
            what: 'ObjectId: re-register with the enterprise app object id',
            from: `${current.ObjectId}${cause}`,
            to: sp.id,
          },
        ];
      }
      return [];
    },
    async apply(run, _changes, current) {
      const app = run.get<AppState>(ENTRA.application)!;
      const sp = run.get<ServicePrincipal>(ENTRA.servicePrincipal)!;
      if (current) await removeExchangeServicePrincipal(ctx.exchange, current.Identity ?? current.ObjectId);
      const fresh = (sp as ServicePrincipal & { createdNow?: boolean }).createdNow === true;
      await registerExchangeServicePrincipal(
        ctx.exchange,
        app.appId,
        sp.id,
        sp.displayName ?? ctx.names.displayName,
        fresh ? { tries: 5, waitMs: 15_000, sleep: (ms) => abortableSleep(ms, ctx.signal) } : undefined,
      );
      return {
        AppId: app.appId,
        ObjectId: sp.id,
        DisplayName: sp.displayName ?? ctx.names.displayName,
        Identity: sp.id,
      };
    },
  };
}

export interface MailboxAccessState {
  granted: boolean;
}

export function mailboxAccessResource(ctx: TenantContext, mailbox: string): Resource<MailboxAccessState> {
  const sendAs = ctx.options.mailboxAccess === 'send-as';
  const right = sendAs ? 'SendAs' : 'FullAccess';
  return {
    key: EXO_KEYS.mailboxAccess(mailbox),
    title: `${right} on ${mailbox}`,
    dependsOn: [EXO_KEYS.servicePrincipal],
    async read(run) {
      const sp = run.get<ExchangeServicePrincipal>(EXO_KEYS.servicePrincipal);
      // A registration this run just made (or re-made with the right object id) holds no permission yet.
      if (!sp || run.changed.has(EXO_KEYS.servicePrincipal)) return undefined;
      const granted = sendAs
        ? await hasSendAs(ctx.exchange, mailbox, sp)
        : await hasFullAccess(ctx.exchange, mailbox, sp);
      return granted ? { granted } : undefined;
    },
    diff: (current) =>
      current?.granted ? [] : [{ action: 'create', what: `${right} for the app${sendAs ? '' : ' (AutoMapping off)'}` }],
    async apply(run) {
      const sp = run.get<ExchangeServicePrincipal>(EXO_KEYS.servicePrincipal)!;
      if (sendAs) await grantSendAs(ctx.exchange, mailbox, sp);
      else await grantFullAccess(ctx.exchange, mailbox, sp);
      return { granted: true };
    },
  };
}

/** The RBAC scope's filter: the group (by DN) or the listed mailboxes. */
export function scopeFilter(groupDn: string | undefined, mailboxes: string[]): string {
  if (groupDn) return `MemberOfGroup -eq '${groupDn.replace(/'/g, "''")}'`;
  return mailboxes.map((m) => `PrimarySmtpAddress -eq '${m.replace(/'/g, "''")}'`).join(' -or ');
}

/** Filters compare as Exchange treats them: case, spacing and outer parentheses do not matter. */
function sameFilter(a: string, b: string): boolean {
  const norm = (f: string): string => {
    let t = f.trim().replace(/\s+/g, ' ').toLowerCase();
    while (/^\(.*\)$/.test(t)) t = t.slice(1, -1).trim();
    return t;
  };
  return norm(a) === norm(b);
}

export function managementScopeResource(ctx: TenantContext, filter: string): Resource<{ filter: string }> {
  return {
    key: EXO_KEYS.scope,
    title: `Management scope ${ctx.names.scopeName}`,
    dependsOn: [],
    async read() {
      const s = await readManagementScope(ctx.exchange, ctx.names.scopeName);
      // Get-ManagementScope reports the filter as RecipientFilter (RecipientRestrictionFilter is only the name
      // of the New-/Set-ManagementScope parameter).
      const row = s as (typeof s & { RecipientFilter?: string | null }) | undefined;
      return row ? { filter: row.RecipientFilter ?? row.RecipientRestrictionFilter ?? '' } : undefined;
    },
    diff(current) {
      if (!current) return [{ action: 'create', what: 'management scope', to: filter }];
      return sameFilter(current.filter, filter)
        ? []
        : [{ action: 'update', what: 'RecipientRestrictionFilter', from: current.filter, to: filter }];
    },
    async apply(_run, _changes, current) {
      await writeManagementScope(ctx.exchange, ctx.names.scopeName, filter, current !== undefined);
      return { filter };
    },
  };
}

export function roleAssignmentResource(ctx: TenantContext): Resource<{ name: string }> {
  return {
    key: EXO_KEYS.roleAssignment,
    title: `Role "Application SMTP.SendAsApp" over ${ctx.names.scopeName}`,
    dependsOn: [EXO_KEYS.scope, EXO_KEYS.servicePrincipal],
    async read(run) {
      const app = run.get<AppState>(ENTRA.application);
      if (!app) return undefined;
      const rows = await readRoleAssignments(ctx.exchange, app.appId);
      const hit = rows.find((r) => (r.CustomResourceScope ?? '').toLowerCase() === ctx.names.scopeName.toLowerCase());
      return hit ? { name: hit.Name } : undefined;
    },
    diff: (current) =>
      current ? [] : [{ action: 'create', what: 'management role assignment', to: ctx.names.roleAssignmentName }],
    async apply(run) {
      const app = run.get<AppState>(ENTRA.application)!;
      await assignSmtpRole(ctx.exchange, app.appId, ctx.names.scopeName, ctx.names.roleAssignmentName);
      return { name: ctx.names.roleAssignmentName };
    },
  };
}

export function smtpAuthResource(ctx: TenantContext): Resource<SmtpAuthState> {
  const mode = ctx.options.enableSmtpAuth;
  return {
    key: EXO_KEYS.smtpAuth,
    title: `SMTP AUTH (${mode === 'none' ? 'report only' : `enable for ${mode === 'org' ? 'the organization' : 'the mailboxes'}`})`,
    dependsOn: [],
    read: () => readSmtpAuth(ctx.exchange, ctx.mailboxes),
    diff(current) {
      if (!current || mode === 'none') return [];
      const changes: Change[] = [];
      if (mode === 'org' && current.organizationDisabled)
        changes.push({
          action: 'update',
          what: 'organization SmtpClientAuthenticationDisabled',
          from: true,
          to: false,
        });
      for (const m of ctx.mailboxes) {
        const own = current.mailboxes[m] ?? null;
        // org: the organization is switched on, so only an explicit mailbox "disabled" still blocks;
        // mailbox: every mailbox whose effective setting is "disabled" gets its own "enabled".
        const blocked = mode === 'org' ? own === true : effectiveDisabled(current, m);
        if (blocked)
          changes.push({ action: 'update', what: `SmtpClientAuthenticationDisabled on ${m}`, from: own, to: false });
      }
      return changes;
    },
    async apply(_run, changes, current) {
      const next: SmtpAuthState = structuredClone(current!);
      for (const c of changes) {
        if (c.what.startsWith('organization')) {
          await setOrganizationSmtpAuth(ctx.exchange, false);
          next.organizationDisabled = false;
        }
      }
      await Promise.all(
        changes
          .filter((c) => c.what.startsWith('SmtpClientAuthenticationDisabled on '))
          .map(async (c) => {
            const m = c.what.slice('SmtpClientAuthenticationDisabled on '.length);
            await setMailboxSmtpAuth(ctx.exchange, m, false);
            next.mailboxes[m] = false;
          }),
      );
      return next;
    },
  };
}
