/**
 * Mailbox access is authoritative for our own app (issue 11): the mailboxes of the configuration (or the group's
 * members) are the whole truth for the app's service principal.
 *
 * - `exchange.accessInventory` (data) reads what the service principal holds across the tenant: FullAccess
 *   (Get-Mailbox, then Get-MailboxPermission -User for each mailbox: the cmdlet has no tenant-wide form), SendAs
 *   (Get-RecipientPermission -Trustee, tenant-wide) and its "Application SMTP.SendAsApp" role assignments.
 * - `exchange.staleGrants` removes what it holds on mailboxes outside the configuration (and, in rbac mode, role
 *   assignments of the app over any scope but its own) at once.
 * - `exchange.previousAccess` removes what the previous way of access left on the configured mailboxes (a changed
 *   `mailboxAccess`, `migrate`): only after the new way is in place and an XOAUTH2 login proved it — never a window
 *   in which neither works. When the proof does not pass, the old grants stay and the node waits (exit 3).
 *
 * Grants held by anyone else are never read as ours: every row is matched on the service principal's SID or ids.
 */
import {
  EXCHANGE_ONLINE_APP_ID,
  readAppRoleAssignments,
  readExchangeOnlinePrincipal,
  updateApplication,
  type RequiredResourceAccess,
} from '../../entra/index.js';
import {
  fullAccessHeldOn,
  listMailboxes,
  readManagementScope,
  readRoleAssignments,
  removeManagementScope,
  removeRoleAssignment,
  revokeFullAccess,
  revokeSendAs,
  sendAsHeldOn,
  type ExchangeServicePrincipal,
  type MailboxRef,
  type RoleAssignment,
} from '../../exchange/index.js';
import type { ResourceGraph } from '../engine.js';
import type { TenantContext } from '../context.js';
import { WaitingError, type DataNode, type Inputs, type ManagedNode, type ManagedRef, type Ref } from '../model.js';
import { verifyDelivery, type AppCredential } from '../verify.js';
import { ENTRA_KEYS, type AppState, type CredentialState, type ServicePrincipalState } from './entra.js';
import { EXO_KEYS, rbacNamesFor } from './exchange.js';
import type { CertificateMaterial } from './facts.js';

export const ACCESS_KEYS = {
  inventory: 'exchange.accessInventory',
  staleGrants: 'exchange.staleGrants',
  previousAccess: 'exchange.previousAccess',
} as const;

export type AccessMode = 'full-access' | 'send-as' | 'rbac';

/** What the app's service principal holds in Exchange, tenant-wide. */
export interface AccessInventory {
  fullAccess: MailboxRef[];
  sendAs: MailboxRef[];
  /** Its "Application SMTP.SendAsApp" role assignments (any scope). */
  roleAssignments: RoleAssignment[];
  /** Our management scope by its name, when it exists (read outside rbac mode: rbac's own node reads it there). */
  scope?: { name: string };
}

export const EMPTY_INVENTORY: AccessInventory = { fullAccess: [], sendAs: [], roleAssignments: [] };

/** Whether a mailbox Exchange listed is one of the configured addresses (by any of its names). */
export function isConfigured(m: MailboxRef, configured: ReadonlySet<string>): boolean {
  return m.names.some((n) => configured.has(n)) || configured.has(m.address);
}

function configuredSet(mailboxes: readonly string[]): Set<string> {
  return new Set(mailboxes.map((m) => m.toLowerCase()));
}

/** The label of a mailbox for people and for the cmdlets: its primary address, else its identity. */
const label = (m: MailboxRef): string => m.address || m.identity;

/**
 * Reads everything the service principal holds. Issued together, the first reads share one `$batch` with the
 * rest of the preflight; the FullAccess reads follow in `$batch`es of 10.
 */
export async function readAccessInventory(
  ctx: TenantContext,
  app: AppState,
  sp: ExchangeServicePrincipal,
  mode: AccessMode | 'unset',
): Promise<AccessInventory> {
  const scopeName = rbacNamesFor(ctx, app).scopeName;
  const [mailboxes, sendAsIds, roleAssignments, scope] = await Promise.all([
    listMailboxes(ctx.exchange),
    sendAsHeldOn(ctx.exchange, sp),
    readRoleAssignments(ctx.exchange, app.appId),
    mode === 'rbac' ? Promise.resolve(undefined) : readManagementScope(ctx.exchange, scopeName),
  ]);
  const fullAccess = await fullAccessHeldOn(ctx.exchange, sp, mailboxes);
  const byName = (id: string): MailboxRef =>
    mailboxes.find((m) => m.names.includes(id.toLowerCase())) ?? {
      identity: id,
      address: '',
      names: [id.toLowerCase()],
    };
  return {
    fullAccess,
    sendAs: sendAsIds.map(byName),
    roleAssignments,
    ...(scope ? { scope: { name: scope.Name } } : {}),
  };
}

type InventoryInputs = { app: ManagedRef<AppState>; exchangeSp: ManagedRef<ExchangeServicePrincipal> };

/** The inventory as a data node: read in the preflight (nothing to read while the app or its registration is new). */
export function accessInventoryNode(
  ctx: TenantContext,
  inputs: InventoryInputs,
): DataNode<AccessInventory, InventoryInputs> {
  return {
    kind: 'data',
    key: ACCESS_KEYS.inventory,
    title: "The app's mailbox grants and role assignments across the tenant",
    inputs,
    read: async (_ctx, { app, exchangeSp }) =>
      app && exchangeSp ? readAccessInventory(ctx, app, exchangeSp, ctx.options.mailboxAccess) : EMPTY_INVENTORY,
  };
}

export type StaleGrantChange =
  | { op: 'revokeFullAccess'; mailbox: string }
  | { op: 'revokeSendAs'; mailbox: string }
  | { op: 'removeRoleAssignment'; name: string; scope: string | null };

type StaleInputs = {
  inventory: Ref<AccessInventory>;
  app: ManagedRef<AppState>;
  exchangeSp: ManagedRef<ExchangeServicePrincipal>;
};

/** The app's grants outside the configuration: removed at once (they are not wanted in any mode). */
export function staleGrantsNode(
  ctx: TenantContext,
  mailboxes: readonly string[],
  inputs: StaleInputs,
): ManagedNode<AccessInventory, StaleInputs, StaleGrantChange> {
  const configured = configuredSet(mailboxes);
  const rbac = ctx.options.mailboxAccess === 'rbac';
  return {
    kind: 'managed',
    key: ACCESS_KEYS.staleGrants,
    title: "Mailbox access only where configured (the app's grants elsewhere are removed)",
    inputs,
    readsWith: ['exchangeSp'],
    read: async (_ctx, { inventory }) => inventory,
    diff(current, { app }) {
      if (!current) return [];
      const changes: StaleGrantChange[] = [];
      for (const m of current.fullAccess)
        if (!isConfigured(m, configured)) changes.push({ op: 'revokeFullAccess', mailbox: label(m) });
      for (const m of current.sendAs)
        if (!isConfigured(m, configured)) changes.push({ op: 'revokeSendAs', mailbox: label(m) });
      // rbac: the app's own scope is narrowed by its node; an assignment over any other scope reaches further.
      if (rbac) {
        const own = rbacNamesFor(ctx, app).scopeName.toLowerCase();
        for (const a of current.roleAssignments)
          if ((a.CustomResourceScope ?? '').toLowerCase() !== own)
            changes.push({ op: 'removeRoleAssignment', name: a.Name, scope: a.CustomResourceScope ?? null });
      }
      return changes;
    },
    async apply(ctx, changes, current, { exchangeSp }) {
      const sp = exchangeSp!;
      await Promise.all(
        changes.map((c) =>
          c.op === 'revokeFullAccess'
            ? revokeFullAccess(ctx.exchange, c.mailbox, sp)
            : c.op === 'revokeSendAs'
              ? revokeSendAs(ctx.exchange, c.mailbox, sp)
              : removeRoleAssignment(ctx.exchange, c.name),
        ),
      );
      return remaining(current ?? EMPTY_INVENTORY, changes);
    },
    describe(c) {
      if (c.op === 'revokeFullAccess') return `remove FullAccess on ${c.mailbox} (not in the configuration)`;
      if (c.op === 'revokeSendAs') return `remove SendAs on ${c.mailbox} (not in the configuration)`;
      return `remove the role assignment ${c.name} (scope ${c.scope ?? 'the whole organization'}, not the app's own)`;
    },
    actionOf: () => 'delete',
    planned: (current, changes) => remaining(current ?? EMPTY_INVENTORY, changes),
  };
}

/** The inventory without what the changes removed. */
function remaining(
  inv: AccessInventory,
  changes: Array<{ op: string; mailbox?: string; name?: string }>,
): AccessInventory {
  const gone = (op: string, v: string): boolean => changes.some((c) => c.op === op && (c.mailbox ?? c.name) === v);
  return {
    fullAccess: inv.fullAccess.filter((m) => !gone('revokeFullAccess', label(m))),
    sendAs: inv.sendAs.filter((m) => !gone('revokeSendAs', label(m))),
    roleAssignments: inv.roleAssignments.filter((a) => !gone('removeRoleAssignment', a.Name)),
    ...(inv.scope && !changes.some((c) => c.op === 'removeScope') ? { scope: inv.scope } : {}),
  };
}

/** The SMTP.SendAsApp API permission and consent an rbac app no longer needs (m365-facts §8). */
export interface SendAsAppGrant {
  /** The app role assignment (admin consent) in the mailbox tenant. */
  consentId?: string;
  /** The app asks for SMTP.SendAsApp in its requiredResourceAccess (only our own app's is changed). */
  permission: boolean;
  roleId: string;
}

export interface PreviousAccess extends AccessInventory {
  sendAsApp?: SendAsAppGrant;
}

export type PreviousAccessChange =
  | { op: 'revokeFullAccess'; mailbox: string }
  | { op: 'revokeSendAs'; mailbox: string }
  | { op: 'removeRoleAssignment'; name: string; scope: string | null }
  | { op: 'removeScope'; name: string }
  | { op: 'revokeConsent'; id: string }
  | { op: 'removePermission'; roleId: string };

type PreviousInputs = {
  inventory: Ref<AccessInventory>;
  app: ManagedRef<AppState>;
  sp: ManagedRef<ServicePrincipalState>;
  exchangeSp: ManagedRef<ExchangeServicePrincipal>;
  credential: ManagedRef<CredentialState>;
  certificate: Ref<CertificateMaterial | undefined>;
} & Inputs;

/** Whether an app's requiredResourceAccess asks Exchange Online for any application permission. */
function asksExchangeRole(access: RequiredResourceAccess[] | undefined): boolean {
  return (access ?? []).some(
    (r) => r.resourceAppId.toLowerCase() === EXCHANGE_ONLINE_APP_ID && r.resourceAccess.some((a) => a.type === 'Role'),
  );
}

/** The SMTP.SendAsApp permission and consent of our rbac app; read only when the app asks Exchange for a role. */
async function readSendAsAppGrant(
  ctx: TenantContext,
  app: AppState,
  sp: ServicePrincipalState | undefined,
): Promise<SendAsAppGrant | undefined> {
  // A vendor's app: its registration asks for what the vendor decided, and a consent follows it; both are left alone.
  if (app.external || !asksExchangeRole(app.app?.requiredResourceAccess)) return undefined;
  const exo = await readExchangeOnlinePrincipal(ctx.mailboxGraph);
  const role = exo.smtpSendAsAppRoleId.toLowerCase();
  const permission = (app.app?.requiredResourceAccess ?? []).some(
    (r) =>
      r.resourceAppId.toLowerCase() === EXCHANGE_ONLINE_APP_ID &&
      r.resourceAccess.some((a) => a.id.toLowerCase() === role && a.type === 'Role'),
  );
  const consent = sp
    ? (await readAppRoleAssignments(ctx.mailboxGraph, sp.id)).find(
        (a) => a.resourceId === exo.id && a.appRoleId.toLowerCase() === role,
      )
    : undefined;
  if (!permission && !consent) return undefined;
  return { permission, roleId: exo.smtpSendAsAppRoleId, ...(consent?.id ? { consentId: consent.id } : {}) };
}

/** The credential this run can log in with: the one it made, the certificate file's, or the sink's. */
export function credentialInHand(
  ctx: TenantContext,
  cred: CredentialState | undefined,
  cert: CertificateMaterial | undefined,
): AppCredential | undefined {
  if (cred?.created?.secret) return { type: 'secret', value: cred.created.secret.reveal() };
  if (cred?.created?.pem) return { type: 'certificate', pem: cred.created.pem.reveal() };
  if (cert) return { type: 'certificate', pem: `${cert.privateKeyPem.reveal()}\n${cert.certificatePem}` };
  const held = ctx.sink?.read()?.credential;
  if (held?.type === 'secret') return { type: 'secret', value: held.secret };
  if (held?.type === 'certificate')
    return { type: 'certificate', pem: `${held.privateKeyPem}\n${held.certificatePem}` };
  return undefined;
}

const WAY: Record<AccessMode, string> = {
  rbac: 'the RBAC role assignment',
  'full-access': 'FullAccess',
  'send-as': 'SendAs',
};

/**
 * The previous way of access on the configured mailboxes, removed after the new way is proved. Its inputs include
 * the new way's nodes (`gates`), so its apply runs after they were applied (and after Exchange's own
 * authorization test in rbac mode).
 */
export function previousAccessNode(
  ctx: TenantContext,
  mailboxes: readonly string[],
  inputs: PreviousInputs,
): ManagedNode<PreviousAccess, PreviousInputs, PreviousAccessChange> {
  const configured = configuredSet(mailboxes);
  const mode = ctx.options.mailboxAccess as AccessMode;
  return {
    kind: 'managed',
    key: ACCESS_KEYS.previousAccess,
    title: `Mailbox access only through ${WAY[mode]} (the earlier way's grants go once an XOAUTH2 login proves it)`,
    inputs,
    readsWith: ['exchangeSp'],
    async read(_ctx, { inventory, app, sp }) {
      const sendAsApp = mode === 'rbac' && app ? await readSendAsAppGrant(ctx, app, sp) : undefined;
      return { ...inventory, ...(sendAsApp ? { sendAsApp } : {}) };
    },
    diff(current, { app }) {
      if (!current) return [];
      const changes: PreviousAccessChange[] = [];
      const mine = current.fullAccess.filter((m) => isConfigured(m, configured));
      const mineSendAs = current.sendAs.filter((m) => isConfigured(m, configured));
      if (mode !== 'full-access') for (const m of mine) changes.push({ op: 'revokeFullAccess', mailbox: label(m) });
      if (mode !== 'send-as') for (const m of mineSendAs) changes.push({ op: 'revokeSendAs', mailbox: label(m) });
      if (mode !== 'rbac') {
        for (const a of current.roleAssignments)
          changes.push({ op: 'removeRoleAssignment', name: a.Name, scope: a.CustomResourceScope ?? null });
        if (current.scope) changes.push({ op: 'removeScope', name: current.scope.name });
      }
      if (mode === 'rbac' && current.sendAsApp) {
        if (current.sendAsApp.consentId) changes.push({ op: 'revokeConsent', id: current.sendAsApp.consentId });
        if (current.sendAsApp.permission && !app?.external)
          changes.push({ op: 'removePermission', roleId: current.sendAsApp.roleId });
      }
      return changes;
    },
    async apply(ctx, changes, current, inputs) {
      await proveNewAccess(ctx, mode, mailboxes, inputs);
      const sp = inputs.exchangeSp!;
      // Role assignments before their scope (Exchange refuses to delete a scope in use).
      for (const c of changes) if (c.op === 'removeRoleAssignment') await removeRoleAssignment(ctx.exchange, c.name);
      await Promise.all(
        changes.map(async (c) => {
          if (c.op === 'removeScope') await removeManagementScope(ctx.exchange, c.name);
          if (c.op === 'revokeFullAccess') await revokeFullAccess(ctx.exchange, c.mailbox, sp);
          if (c.op === 'revokeSendAs') await revokeSendAs(ctx.exchange, c.mailbox, sp);
          if (c.op === 'revokeConsent')
            await ctx.mailboxGraph.request(
              'DELETE',
              `/servicePrincipals/${inputs.sp!.id}/appRoleAssignments/${c.id}`,
              undefined,
              {
                idempotent: true,
              },
            );
          if (c.op === 'removePermission') {
            const app = inputs.app!.app!;
            await updateApplication(ctx.homeGraph, app.id, {
              requiredResourceAccess: withoutRole(app.requiredResourceAccess, c.roleId),
            });
          }
        }),
      );
      const { sendAsApp: _gone, ...rest } = remaining(current ?? EMPTY_INVENTORY, changes) as PreviousAccess;
      void _gone;
      return rest;
    },
    describe(c) {
      const after = `after the XOAUTH2 proof of ${WAY[mode]}`;
      switch (c.op) {
        case 'revokeFullAccess':
          return `remove FullAccess on ${c.mailbox} (${after})`;
        case 'revokeSendAs':
          return `remove SendAs on ${c.mailbox} (${after})`;
        case 'removeRoleAssignment':
          return `remove the role assignment ${c.name} (${after})`;
        case 'removeScope':
          return `remove the management scope ${c.name} (${after})`;
        case 'revokeConsent':
          return `revoke the admin consent SMTP.SendAsApp: RBAC needs no API permission (${after})`;
        case 'removePermission':
          return `remove the API permission SMTP.SendAsApp from the app (${after})`;
      }
    },
    actionOf: () => 'delete',
  };
}

function withoutRole(access: RequiredResourceAccess[], roleId: string): RequiredResourceAccess[] {
  return access
    .map((r) =>
      r.resourceAppId.toLowerCase() === EXCHANGE_ONLINE_APP_ID
        ? { ...r, resourceAccess: r.resourceAccess.filter((a) => a.id.toLowerCase() !== roleId.toLowerCase()) }
        : r,
    )
    .filter((r) => r.resourceAccess.length > 0);
}

/**
 * The XOAUTH2 login that must pass before the old way goes: with the app's own credential, for every configured
 * mailbox, retried while what fails is propagation (up to --wait). Not passing (or no way to log in) keeps the old
 * grants: a WaitingError (exit 3) that says why.
 */
async function proveNewAccess(
  ctx: TenantContext,
  mode: AccessMode,
  mailboxes: readonly string[],
  inputs: {
    app: AppState | undefined;
    credential: CredentialState | undefined;
    certificate: CertificateMaterial | undefined;
  },
): Promise<void> {
  const keep = `the old grants stay until an XOAUTH2 login with ${WAY[mode]} passes`;
  if (ctx.options.verify === 'none') throw new WaitingError(`${keep}; --verify none was given (rerun without it)`);
  const credential = credentialInHand(ctx, inputs.credential, inputs.certificate);
  if (!credential || !inputs.app)
    throw new WaitingError(
      `${keep}; no credential of the app is in hand (give --secret-out with the file that holds it, or --certificate-file)`,
    );
  ctx.progress(`  Proving ${WAY[mode]} with an XOAUTH2 login before the old grants are removed…`);
  const proof = await verifyDelivery({
    profile: ctx.profile,
    tenantId: ctx.mailboxTenantId,
    appId: inputs.app.appId,
    credential,
    mailboxes: [...mailboxes],
    rbac: mode === 'rbac',
    waitMs: ctx.options.wait.ms,
    progress: ctx.progress,
    signal: ctx.signal,
    bounds: ctx.bounds,
    initialDelayMs: ctx.hooks.proofRetryBaseMs,
    credentialIsNew: Boolean(inputs.credential?.created),
  });
  if (proof.status !== 'passed')
    throw new WaitingError(`${keep}; the login did not pass: ${proof.reply}${proof.fix ? ` (fix: ${proof.fix})` : ''}`);
}

/**
 * Adds the authoritative-access nodes to a run's graph (app-only runs): the inventory, the stale grants, and the
 * previous access gated on the new way's nodes (the ones of this mode that are in the graph).
 */
export function addMailboxAuthority(
  g: ResourceGraph,
  ctx: TenantContext,
  mailboxes: readonly string[],
  refs: {
    application: ManagedRef<AppState>;
    servicePrincipal: ManagedRef<ServicePrincipalState>;
    exchangeServicePrincipal: ManagedRef<ExchangeServicePrincipal>;
    credential: ManagedRef<CredentialState>;
    certificate: Ref<CertificateMaterial | undefined>;
  },
): void {
  const base = { app: refs.application, exchangeSp: refs.exchangeServicePrincipal };
  const inventory = g.add(accessInventoryNode(ctx, base));
  g.add(staleGrantsNode(ctx, mailboxes, { ...base, inventory }));
  const gateKeys = [
    EXO_KEYS.roleAssignment,
    EXO_KEYS.scope,
    EXO_KEYS.authorization,
    ENTRA_KEYS.consent,
    ...mailboxes.map((m) => EXO_KEYS.mailboxAccess(m)),
  ];
  const gates: Inputs = {};
  gateKeys.forEach((key, i) => {
    const node = g.get(key);
    if (node) gates[`gate${i}`] = { key, managed: node.kind === 'managed' } as Ref<unknown> | ManagedRef<unknown>;
  });
  g.add(
    previousAccessNode(ctx, mailboxes, {
      ...gates,
      ...base,
      inventory,
      sp: refs.servicePrincipal,
      credential: refs.credential,
      certificate: refs.certificate,
    }),
  );
}
