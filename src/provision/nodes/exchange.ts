/**
 * The Exchange nodes: the app's Exchange service principal, mailbox access per mailbox (FullAccess or SendAs) or
 * the RBAC scope and role assignment (with Exchange's own authorization test after the writes), and the SMTP AUTH
 * settings.
 */
import { formatDuration } from '../../poll/index.js';
import {
  assignSmtpRole,
  effectiveDisabled,
  grantFullAccess,
  grantSendAs,
  hasFullAccess,
  hasSendAs,
  readExchangeServicePrincipal,
  rbacNames,
  readManagementScope,
  readRoleAssignments,
  registerExchangeServicePrincipal,
  removeExchangeServicePrincipal,
  setMailboxSmtpAuth,
  setOrganizationSmtpAuth,
  testAuthorization,
  writeManagementScope,
  type ExchangeServicePrincipal,
  type SmtpAuthState,
} from '../../exchange/index.js';
import type { TenantContext } from '../context.js';
import { CheckFailure, type CheckNode, type ManagedNode, type ManagedRef, type Ref } from '../model.js';
import type { AppState, ServicePrincipalState } from './entra.js';
import type { MailboxFacts } from './facts.js';

export const EXO_KEYS = {
  servicePrincipal: 'exchange.servicePrincipal',
  mailboxAccess: (mailbox: string) => `exchange.mailboxAccess:${mailbox}`,
  scope: 'exchange.managementScope',
  roleAssignment: 'exchange.roleAssignment',
  smtpAuth: 'exchange.smtpAuth',
  authorization: 'check.exchangeAuthorization',
} as const;

export type ExchangeSpChange =
  | { op: 'register'; objectId: string | undefined }
  | { op: 'reregister'; from: string; to: string; wasAppObjectId: boolean };

type ExchangeSpInputs = { app: ManagedRef<AppState>; sp: ManagedRef<ServicePrincipalState> };

/** New-ServicePrincipal with the enterprise app's object id (a registration with another id is made again). */
export function exchangeServicePrincipalNode(
  ctx: TenantContext,
  inputs: ExchangeSpInputs,
): ManagedNode<ExchangeServicePrincipal, ExchangeSpInputs, ExchangeSpChange> {
  return {
    kind: 'managed',
    key: EXO_KEYS.servicePrincipal,
    title: `Exchange service principal (New-ServicePrincipal) in ${ctx.options.tenant}`,
    inputs,
    // Exchange keys registrations by app id: read as soon as the app exists, even if its enterprise app is new.
    readsWith: ['app'],
    read: async (_ctx, { app }) => (app ? readExchangeServicePrincipal(ctx.exchange, app.appId) : undefined),
    diff(current, { app, sp }) {
      if (!current) return [{ op: 'register', objectId: sp?.id }];
      // A registration for an enterprise app that is about to be made again (it was deleted) is stale.
      if (!sp)
        return [
          {
            op: 'reregister',
            from: current.ObjectId,
            to: '(the new enterprise app)',
            wasAppObjectId: !!app?.app && current.ObjectId.toLowerCase() === app.app.id.toLowerCase(),
          },
        ];
      if (sp && current.ObjectId.toLowerCase() !== sp.id.toLowerCase())
        return [
          {
            op: 'reregister',
            from: current.ObjectId,
            to: sp.id,
            wasAppObjectId: !!app?.app && current.ObjectId.toLowerCase() === app.app.id.toLowerCase(),
          },
        ];
      return [];
    },
    async apply(ctx, changes, current, { app, sp }) {
      const a = app!;
      const s = sp!;
      if (current) await removeExchangeServicePrincipal(ctx.exchange, current.Identity ?? current.ObjectId);
      const displayName = s.displayName ?? ctx.names.displayName;
      // Exchange learns of a new (or newly consented) service principal minutes after Entra: New-ServicePrincipal
      // answers AADServicePrincipalNotFound meanwhile (m365-facts §7, §8). Retried for a bounded time, with progress.
      const registered = await registerExchangeServicePrincipal(ctx.exchange, a.appId, s.id, displayName, {
        deadlineMs: Math.max(60_000, Math.min(ctx.options.wait.ms, 5 * 60_000)),
        baseMs: ctx.hooks.exchangeReplicationWaitMs,
        signal: ctx.signal,
        onRetry: (r) =>
          ctx.progress(
            `  Exchange does not see the service principal ${s.id} yet (AADServicePrincipalNotFound); trying again in ${formatDuration(r.delayMs)}`,
          ),
      });
      void changes;
      // Exchange's own row (with its Sid, which trustee matching uses), else what was sent.
      return registered ?? { AppId: a.appId, ObjectId: s.id, DisplayName: displayName, Identity: s.id };
    },
    describe(c) {
      if (c.op === 'register') return `New-ServicePrincipal -ObjectId ${c.objectId ?? '(the new enterprise app)'}`;
      return `re-register with the enterprise app's object id ${c.to} (was ${c.from}${c.wasAppObjectId ? ": the app registration's object id" : ''})`;
    },
    actionOf: (c) => (c.op === 'register' ? 'create' : 'update'),
    // A new registration holds no permission yet: dependents have nothing to read.
    planned: () => undefined,
  };
}

export type MailboxAccessChange = { op: 'grant'; right: 'FullAccess' | 'SendAs'; mailbox: string };

export function mailboxAccessNode(
  ctx: TenantContext,
  mailbox: string,
  inputs: { exchangeSp: ManagedRef<ExchangeServicePrincipal> },
): ManagedNode<{ granted: true }, typeof inputs, MailboxAccessChange> {
  const sendAs = ctx.options.mailboxAccess === 'send-as';
  const right = sendAs ? 'SendAs' : 'FullAccess';
  return {
    kind: 'managed',
    key: EXO_KEYS.mailboxAccess(mailbox),
    title: `${right} on ${mailbox}`,
    inputs,
    async read(_ctx, { exchangeSp }) {
      if (!exchangeSp) return undefined;
      const granted = sendAs
        ? await hasSendAs(ctx.exchange, mailbox, exchangeSp)
        : await hasFullAccess(ctx.exchange, mailbox, exchangeSp);
      return granted ? { granted: true } : undefined;
    },
    diff: (current) => (current?.granted ? [] : [{ op: 'grant', right, mailbox }]),
    async apply(ctx, _changes, _current, { exchangeSp }) {
      if (sendAs) await grantSendAs(ctx.exchange, mailbox, exchangeSp!);
      else await grantFullAccess(ctx.exchange, mailbox, exchangeSp!);
      return { granted: true };
    },
    describe: (c) =>
      c.right === 'SendAs' ? `grant SendAs on ${c.mailbox}` : `grant FullAccess on ${c.mailbox} (AutoMapping off)`,
    actionOf: () => 'create',
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

/**
 * The Exchange names of the app's RBAC objects: from its key, or from sendasapp 0.1's key for an app adopted
 * under it (so that its scope and role assignment are found, not made twice).
 */
export function rbacNamesFor(
  ctx: TenantContext,
  app: AppState | undefined,
): { scopeName: string; roleAssignmentName: string } {
  return app?.legacyKey ? rbacNames(ctx.names.legacyUniqueName) : ctx.names;
}

export type ScopeChange = { op: 'create'; filter: string } | { op: 'setFilter'; from: string; to: string };

/**
 * The scope over the mailboxes. Like every per-mailbox node it takes the mailboxes known when the graph is built
 * (listed, or the group read first), so that its read goes out with the preflight's first reads.
 */
export function managementScopeNode(
  ctx: TenantContext,
  facts: Pick<MailboxFacts, 'mailboxes' | 'group'>,
  inputs: { app: ManagedRef<AppState> },
): ManagedNode<{ filter: string; name: string }, typeof inputs, ScopeChange> {
  const filter = scopeFilter(facts.group?.distinguishedName, facts.group ? [] : facts.mailboxes);
  return {
    kind: 'managed',
    key: EXO_KEYS.scope,
    title: `Management scope ${ctx.names.scopeName}`,
    inputs,
    async read(_ctx, { app }) {
      const name = rbacNamesFor(ctx, app).scopeName;
      const s = await readManagementScope(ctx.exchange, name);
      // Get-ManagementScope reports the filter as RecipientFilter (RecipientRestrictionFilter is only the name
      // of the New-/Set-ManagementScope parameter).
      const row = s as (typeof s & { RecipientFilter?: string | null }) | undefined;
      return row ? { filter: row.RecipientFilter ?? row.RecipientRestrictionFilter ?? '', name } : undefined;
    },
    diff(current) {
      if (!current) return [{ op: 'create', filter }];
      return sameFilter(current.filter, filter) ? [] : [{ op: 'setFilter', from: current.filter, to: filter }];
    },
    async apply(ctx, _changes, current, { app }) {
      const name = current?.name ?? rbacNamesFor(ctx, app).scopeName;
      await writeManagementScope(ctx.exchange, name, filter, current !== undefined);
      return { filter, name };
    },
    describe: (c) =>
      c.op === 'create' ? `New-ManagementScope with ${c.filter}` : `RecipientRestrictionFilter ${c.from} → ${c.to}`,
    actionOf: (c) => (c.op === 'create' ? 'create' : 'update'),
    planned: (current, changes) => {
      const last = changes[changes.length - 1]!;
      return { filter: last.op === 'create' ? last.filter : last.to, name: current?.name ?? ctx.names.scopeName };
    },
  };
}

export type RoleAssignmentChange = { op: 'assign'; name: string };

export function roleAssignmentNode(
  ctx: TenantContext,
  inputs: {
    app: ManagedRef<AppState>;
    scope: ManagedRef<{ filter: string; name: string }>;
    exchangeSp: ManagedRef<ExchangeServicePrincipal>;
  },
): ManagedNode<{ name: string }, typeof inputs, RoleAssignmentChange> {
  return {
    kind: 'managed',
    key: EXO_KEYS.roleAssignment,
    title: `Role "Application SMTP.SendAsApp" over ${ctx.names.scopeName}`,
    inputs,
    async read(_ctx, { app }) {
      if (!app) return undefined;
      const rows = await readRoleAssignments(ctx.exchange, app.appId);
      const scopeName = rbacNamesFor(ctx, app).scopeName;
      const hit = rows.find((r) => (r.CustomResourceScope ?? '').toLowerCase() === scopeName.toLowerCase());
      return hit ? { name: hit.Name } : undefined;
    },
    diff: (current, { app }) => (current ? [] : [{ op: 'assign', name: rbacNamesFor(ctx, app).roleAssignmentName }]),
    async apply(ctx, _changes, _current, { app, scope }) {
      const names = rbacNamesFor(ctx, app);
      await assignSmtpRole(ctx.exchange, app!.appId, scope?.name ?? names.scopeName, names.roleAssignmentName);
      return { name: names.roleAssignmentName };
    },
    describe: (c) => `New-ManagementRoleAssignment ${c.name}`,
    actionOf: () => 'create',
  };
}

/**
 * RBAC for applications: Exchange's own test of what the role assignment covers (it bypasses the permission
 * cache). Runs in the preflight of a rerun, and after the writes of a run that made the assignment.
 */
export function exchangeAuthorizationCheck(
  ctx: TenantContext,
  mailboxes: string[],
  inputs: {
    app: ManagedRef<AppState>;
    role: ManagedRef<{ name: string }>;
    scope: ManagedRef<{ filter: string; name: string }>;
  },
): CheckNode<{ inScope: string[] }, typeof inputs> {
  return {
    kind: 'check',
    key: EXO_KEYS.authorization,
    title: "Test-ServicePrincipalAuthorization: the mailboxes are in the role's scope",
    inputs,
    async read(_ctx, { app, role }) {
      if (!app || !role) return { inScope: [] };
      const all = mailboxes;
      const inScope = await Promise.all(all.map((m) => testAuthorization(ctx.exchange, app.appId, m)));
      const out = all.filter((_, i) => !inScope[i]);
      if (out.length > 0)
        throw new CheckFailure(
          'tenant',
          `Test-ServicePrincipalAuthorization: ${out.join(', ')} ${out.length > 1 ? 'are' : 'is'} not in the scope of the app's "Application SMTP.SendAsApp" role`,
          `add ${out.length > 1 ? 'them' : 'it'} to --group, or give the mailboxes with --mailbox instead of --group`,
        );
      return { inScope: all };
    },
  };
}

export type SmtpAuthChange =
  { op: 'enableOrganization' } | { op: 'enableMailbox'; mailbox: string; from: boolean | null };

/** The SMTP AUTH settings: read with the mailboxes (their facts), changed here. */
export function smtpAuthNode(
  ctx: TenantContext,
  inputs: { mailboxes: Ref<MailboxFacts> },
): ManagedNode<SmtpAuthState, typeof inputs, SmtpAuthChange> {
  const mode = ctx.options.enableSmtpAuth;
  return {
    kind: 'managed',
    key: EXO_KEYS.smtpAuth,
    title: `SMTP AUTH (${mode === 'none' ? 'report only' : `enable for ${mode === 'org' ? 'the organization' : 'the mailboxes'}`})`,
    inputs,
    read: async (_ctx, { mailboxes: facts }) => structuredClone(facts.smtp),
    diff(current, { mailboxes: facts }) {
      const mailboxes = facts.mailboxes;
      if (!current || mode === 'none') return [];
      const changes: SmtpAuthChange[] = [];
      if (mode === 'org' && current.organizationDisabled) changes.push({ op: 'enableOrganization' });
      for (const m of mailboxes) {
        const own = current.mailboxes[m] ?? null;
        // org: the organization is switched on, so only an explicit mailbox "disabled" still blocks;
        // mailbox: every mailbox whose effective setting is "disabled" gets its own "enabled".
        const blocked = mode === 'org' ? own === true : effectiveDisabled(current, m);
        if (blocked) changes.push({ op: 'enableMailbox', mailbox: m, from: own });
      }
      return changes;
    },
    async apply(ctx, changes, current) {
      const next: SmtpAuthState = structuredClone(current!);
      if (changes.some((c) => c.op === 'enableOrganization')) {
        await setOrganizationSmtpAuth(ctx.exchange, false);
        next.organizationDisabled = false;
      }
      await Promise.all(
        changes.map(async (c) => {
          if (c.op !== 'enableMailbox') return;
          await setMailboxSmtpAuth(ctx.exchange, c.mailbox, false);
          next.mailboxes[c.mailbox] = false;
        }),
      );
      return next;
    },
    describe: (c) =>
      c.op === 'enableOrganization'
        ? 'Set-TransportConfig -SmtpClientAuthenticationDisabled $false (the organization)'
        : `Set-CASMailbox ${c.mailbox} -SmtpClientAuthenticationDisabled $false (was ${c.from === null ? 'unset: the organization decides' : String(c.from)})`,
    actionOf: () => 'update',
    planned: (current, changes) => {
      if (!current) return current;
      const next = structuredClone(current);
      for (const c of changes) {
        if (c.op === 'enableOrganization') next.organizationDisabled = false;
        else next.mailboxes[c.mailbox] = false;
      }
      return next;
    },
  };
}
