/**
 * Teardown: the graph of `sendasapp destroy`, run by the same engine as apply (the preflight reads everything and
 * writes nothing; then the removals, in reverse dependency order): the mailbox grants, the RBAC role assignment and
 * its scope, the SMTP AUTH exceptions sendasapp enabled (back to the value recorded before them), the Exchange service
 * principal, the consent, the service principal, the application (soft-deleted), the sink's secret
 * (--delete-secret), and the application's removal from deleted items (--purge).
 *
 * What is ours comes from the app's provenance record (nodes/provenance.ts). An app without one (made before
 * records) is undone as far as it can be proved ours: the app by its key, its service principal and consent, its
 * Exchange registration, grants whose trustee is its service principal on the mailboxes the options name, RBAC
 * objects under its names; SMTP AUTH settings are then left as they are. An app adopted by --app-id is never
 * deleted: its service principal and grants leave the tenant, and our record leaves its notes.
 *
 * Every node reads what is there and removes only that, so a second destroy writes nothing and a destroy stopped
 * part-way (even by SIGKILL) converges when run again: the application goes last but for the secret and the purge,
 * and a deleted application is found again in deleted items by its key.
 */
import {
  deleteApplication,
  deleteServicePrincipal,
  findDeletedApplication,
  isOurs,
  removeCertificates,
  removeSecret,
  purgeDeletedItem,
  readAppRoleAssignments,
  readApplicationByAppId,
  readDeletedApplication,
  readExchangeOnlinePrincipal,
  readAppTags,
  readServicePrincipal,
  revokeAppRole,
  withTagsUnder,
  writeAppTags,
  type Application,
  type ServicePrincipal,
} from '../entra/index.js';
import {
  ExchangeError,
  forEachPair,
  groupMembers,
  hasFullAccess,
  hasSendAs,
  rbacNames,
  readExchangeServicePrincipal,
  readManagementScope,
  readRoleAssignments,
  readSendAsGrants,
  readSmtpAuth,
  removeExchangeServicePrincipal,
  removeManagementScope,
  removeRoleAssignment,
  removeSendAsGrant,
  revokeFullAccess,
  revokeSendAs,
  setMailboxSmtpAuth,
  setOrganizationSmtpAuth,
  type ExchangeServicePrincipal,
  type SendAsPair,
} from '../exchange/index.js';
import { SECRET_REMOVALS, type SecretRemoval } from '../handoff/index.js';
import { closeContext, type RunOptions, type TenantContext } from './context.js';
import {
  Execution,
  interruptedState,
  wroteAnything,
  summarizeReports,
  ResourceGraph,
  type NodeReport,
  type RunEvent,
} from './engine.js';
import { explainError } from './errors.js';
import type { ManagedNode, ManagedRef, Note, Ref } from './model.js';
import {
  applicationNode,
  notesWithoutProvenance,
  parseProvenance,
  recordedPairs,
  SEND_AS_TAG_PREFIX,
  sinkOf,
  type ProvenanceRecord,
} from './nodes/index.js';
import { openContext, type OpenOptions } from './open.js';
import type { Outcome } from './tenant-run.js';

export interface TeardownOptions {
  /** Remove the application from deleted items too (it cannot be restored then). */
  purge: boolean;
  /** Delete the sink's secret (the --secret-out file, or the recorded one). */
  deleteSecret: boolean;
}

/** The app destroy works on, as the preflight found it. */
export interface TeardownTarget {
  appId: string;
  /** The live application in the home tenant (ours, or adopted by --app-id). */
  app?: Application;
  /** Adopted by --app-id: never deleted. */
  adopted: boolean;
  /** Not registered in the home tenant (a vendor's app): only its service principal and grants are here. */
  external: boolean;
  /** Already deleted (a destroy stopped after the delete): found in deleted items. */
  deleted?: { id: string; deletedDateTime: string | null };
  record?: ProvenanceRecord;
}

export interface TeardownFacts {
  target?: TeardownTarget;
  /** The mailboxes whose grants are looked at: the record's, the options', the group's members. */
  mailboxes: string[];
}

export interface TeardownResult {
  changed: boolean;
  tenant: { id: string; input: string };
  homeTenant: { id: string };
  application: {
    appId?: string;
    id?: string;
    uniqueName?: string;
    displayName?: string;
    adopted?: boolean;
    external?: boolean;
  };
  /** Whether the app had a provenance record (else destroy undid what it could prove ours). */
  provenance: 'record' | 'none' | 'no-app';
  mailboxes: string[];
  preflight: NodeReport[];
  resources: NodeReport[];
  notes: Note[];
  failure?: { kind: 'input' | 'tenant'; field?: string; message: string; key: string };
  pending: number;
  outcome: Outcome;
}

const lower = (s: string): string => s.toLowerCase();

/** Reads the app by --app-id or by its key (and the legacy key), else in deleted items; with its record. */
async function readTarget(ctx: TenantContext): Promise<TeardownTarget | undefined> {
  const o = ctx.options;
  if (o.appId) {
    const app = await readApplicationByAppId(ctx.homeGraph, o.appId);
    // A vendor's app keeps its record on its service principal here (it has no object in the home tenant).
    const sp = app
      ? undefined
      : await ctx.mailboxGraph.find<{ notes?: string | null }>(
          `/servicePrincipals(appId='${o.appId}')?$select=id,notes`,
        );
    const record = parseProvenance(app ? app.notes : sp?.notes);
    return { appId: o.appId, ...(app ? { app } : {}), adopted: true, external: !app, ...(record ? { record } : {}) };
  }
  const ours = await applicationNode(ctx, {
    inputs: {},
    title: '',
    wants: () => ({ access: [] }),
  }).read(ctx, {});
  if (ours?.app) {
    const record = parseProvenance(ours.app.notes);
    return { appId: ours.appId, app: ours.app, adopted: false, external: false, ...(record ? { record } : {}) };
  }
  const deleted = await findDeletedApplication(ctx.homeGraph, [ctx.names.uniqueName, ctx.names.legacyUniqueName]);
  if (!deleted) return undefined;
  const record = parseProvenance(deleted.notes);
  return {
    appId: deleted.appId,
    adopted: false,
    external: false,
    deleted: { id: deleted.id, deletedDateTime: deleted.deletedDateTime },
    ...(record ? { record } : {}),
  };
}

/** The mailboxes to look at: recorded, given, the group's members (recorded or given), and the SMTP AUTH exceptions. */
async function teardownMailboxes(ctx: TenantContext, record: ProvenanceRecord | undefined): Promise<string[]> {
  const groups = [...new Set([record?.group, ctx.options.group].filter((g): g is string => !!g))];
  const members = (await Promise.all(groups.map((g) => groupMembers(ctx.exchange, g)))).flat();
  return [
    ...new Set(
      [
        ...(record?.mailboxes ?? []),
        ...Object.keys(record?.smtp?.mailboxes ?? {}),
        ...ctx.options.mailboxes,
        ...members,
      ].map(lower),
    ),
  ];
}

function targetNode(known?: TeardownFacts) {
  return {
    kind: 'data' as const,
    key: 'teardown.target',
    title: 'The app and its provenance record',
    inputs: {},
    async read(ctx: TenantContext): Promise<TeardownFacts> {
      if (known) return known;
      const target = await readTarget(ctx);
      return { ...(target ? { target } : {}), mailboxes: await teardownMailboxes(ctx, target?.record) };
    },
  };
}

function exchangeSpNode(facts: Ref<TeardownFacts>) {
  return {
    kind: 'data' as const,
    key: 'teardown.exchangeRegistration',
    title: 'Exchange registration of the app (Get-ServicePrincipal)',
    inputs: { facts },
    async read(ctx: TenantContext, { facts: f }: { facts: TeardownFacts }) {
      return f.target ? { sp: await readExchangeServicePrincipal(ctx.exchange, f.target.appId) } : { sp: undefined };
    },
  };
}

type Removal = { op: string; what: string };
type Removed = { removed: true };
type Order = Record<string, ManagedRef<unknown> | Ref<unknown> | undefined>;

/** A managed node of the teardown: reads what is there, plans its removal, removes it. Never gated on its inputs. */
function removalNode<S, C extends Removal>(spec: {
  key: string;
  title: string;
  inputs: Order;
  /** `inputs` are the resolved inputs (the data nodes' outputs among them). */
  read: (ctx: TenantContext, inputs: Record<string, unknown>) => Promise<S | undefined>;
  diff: (current: S | undefined) => C[];
  apply: (ctx: TenantContext, changes: C[], current: S) => Promise<void>;
  action?: 'delete' | 'update';
}): ManagedNode<S | Removed, Order, C> {
  return {
    kind: 'managed',
    key: spec.key,
    title: spec.title,
    inputs: spec.inputs,
    readsWith: [],
    read: (ctx, inputs) => spec.read(ctx, inputs as Record<string, unknown>),
    diff: (current) => spec.diff(current as S | undefined),
    async apply(ctx, changes, current) {
      await spec.apply(ctx, changes, current as S);
      return { removed: true };
    },
    describe: (c) => c.what,
    actionOf: () => spec.action ?? 'delete',
    planned: () => ({ removed: true }),
  };
}

/** The teardown graph for the facts the first phase read. */
export function buildTeardownGraph(ctx: TenantContext, facts: TeardownFacts, o: TeardownOptions): ResourceGraph {
  const g = new ResourceGraph();
  const factsRef = g.add(targetNode(facts));
  const t = facts.target;
  if (!t) return g;
  const exo = g.add(exchangeSpNode(factsRef));
  /** The registration the preflight read (teardown.exchangeRegistration). */
  const exoSp = async (_ctx: TenantContext, inputs: Record<string, unknown>) =>
    (inputs.exo as { sp?: ExchangeServicePrincipal } | undefined)?.sp;
  const names = t.record?.rbac
    ? { scopeName: t.record.rbac.scope, roleAssignmentName: t.record.rbac.assignment }
    : { scopeName: ctx.names.scopeName, roleAssignmentName: ctx.names.roleAssignmentName };
  const legacy = rbacNames(ctx.names.legacyUniqueName);

  // 1. Mailbox grants (FullAccess and SendAs whose trustee is the app's Exchange registration).
  const grants: Order = { facts: factsRef, exo };
  for (const m of facts.mailboxes) {
    type Held = { sp: ExchangeServicePrincipal; fullAccess: boolean; sendAs: boolean };
    grants[`grant:${m}`] = g.add(
      removalNode<Held, Removal>({
        key: `exchange.mailboxAccess:${m}`,
        title: `Mailbox access of the app on ${m}`,
        inputs: { exo },
        async read(ctx, inputs) {
          const sp = await exoSp(ctx, inputs);
          if (!sp) return undefined;
          // A mailbox that is gone holds no grant (its ACEs went with it).
          const held = (check: Promise<boolean>): Promise<boolean> =>
            check.catch((err: unknown) => {
              if (err instanceof ExchangeError && err.kind === 'not-found') return false;
              throw err;
            });
          const [fullAccess, sendAs] = await Promise.all([
            held(hasFullAccess(ctx.exchange, m, sp)),
            held(hasSendAs(ctx.exchange, m, sp)),
          ]);
          return fullAccess || sendAs ? { sp, fullAccess, sendAs } : undefined;
        },
        diff: (h) => [
          ...(h?.fullAccess ? [{ op: 'revokeFullAccess', what: `remove the app's FullAccess on ${m}` }] : []),
          ...(h?.sendAs ? [{ op: 'revokeSendAs', what: `remove the app's SendAs on ${m}` }] : []),
        ],
        async apply(ctx, changes, h) {
          for (const c of changes) {
            if (c.op === 'revokeFullAccess') await revokeFullAccess(ctx.exchange, m, h.sp);
            if (c.op === 'revokeSendAs') await revokeSendAs(ctx.exchange, m, h.sp);
          }
        },
      }),
    );
  }

  // 1b. People's SendAs grants to the shared account (--send-as-users): the pairs the app's tags record as made by
  // sendasapp, revoked where Exchange still holds them; then the record is cleared. Other trustees are never read.
  const home = t.app && !t.external ? t.app : undefined;
  if (home) {
    type Pairs = { recorded: SendAsPair[]; held: SendAsPair[] };
    grants['sendAsUsers'] = g.add(
      removalNode<Pairs, Removal>({
        key: 'exchange.sendAsUsers',
        title: "SendAs grants of people to the shared account (recorded in the app's tags)",
        inputs: { facts: factsRef },
        async read(ctx) {
          const recorded = recordedPairs(await readAppTags(ctx.homeGraph, home.id));
          if (recorded.length === 0) return undefined;
          const granted = await readSendAsGrants(ctx.exchange, recorded);
          return { recorded, held: recorded.filter((_, i) => granted[i]) };
        },
        diff: (p) => [
          ...(p?.held ?? []).map((x) => ({
            op: 'revokeUserSendAs',
            what: `Remove-RecipientPermission ${x.user} -Trustee ${x.account} -AccessRights SendAs`,
          })),
          ...(p
            ? [
                {
                  op: 'clearRecord',
                  what: `clear the record of ${p.recorded.length} SendAs grant(s) from the app's tags`,
                },
              ]
            : []),
        ],
        async apply(ctx, _changes, p) {
          await forEachPair(p.held, (x) => removeSendAsGrant(ctx.exchange, x));
          const latest = await readAppTags(ctx.homeGraph, home.id);
          await writeAppTags(ctx.homeGraph, home.id, withTagsUnder(latest, SEND_AS_TAG_PREFIX, []));
        },
      }),
    );
  }

  // 2. RBAC: the role assignment(s) of the app's SMTP role, then the scope named for the app.
  const role = g.add(
    removalNode<string[], Removal>({
      key: 'exchange.roleAssignment',
      title: 'Role assignments "Application SMTP.SendAsApp" of the app',
      inputs: grants,
      read: async (ctx) => {
        const rows = await readRoleAssignments(ctx.exchange, t.appId);
        const mine = rows.filter((r) => !r.App || lower(r.App) === lower(t.appId)).map((r) => r.Name);
        return mine.length > 0 ? mine : undefined;
      },
      diff: (rows) =>
        (rows ?? []).map((name) => ({ op: 'removeRoleAssignment', what: `Remove-ManagementRoleAssignment ${name}` })),
      async apply(ctx, _changes, rows) {
        for (const name of rows) await removeRoleAssignment(ctx.exchange, name);
      },
    }),
  );
  const scope = g.add(
    removalNode<string, Removal>({
      key: 'exchange.managementScope',
      title: `Management scope ${names.scopeName}`,
      inputs: { role },
      read: async (ctx) => {
        for (const name of [...new Set([names.scopeName, legacy.scopeName])]) {
          const s = await readManagementScope(ctx.exchange, name);
          if (s) return s.Name;
        }
        return undefined;
      },
      diff: (name) => (name ? [{ op: 'removeScope', what: `Remove-ManagementScope ${name}` }] : []),
      apply: (ctx, _changes, name) => removeManagementScope(ctx.exchange, name),
    }),
  );

  // 3. The SMTP AUTH exceptions of the record, where they still have the value sendasapp set (false).
  type Exceptions = { org: boolean; mailboxes: Array<{ mailbox: string; to: boolean | null }> };
  const recorded = t.record?.smtp;
  const smtp = g.add(
    removalNode<
      Exceptions,
      Removal & ({ op: 'restoreOrganization' } | { op: 'restoreMailbox'; mailbox: string; to: boolean | null })
    >({
      key: 'exchange.smtpAuth',
      title: 'SMTP AUTH exceptions sendasapp enabled',
      inputs: { scope, ...grants },
      async read(ctx) {
        if (!recorded) return undefined;
        const list = Object.keys(recorded.mailboxes ?? {});
        const state = await readSmtpAuth(ctx.exchange, list);
        const mailboxes = list
          .filter((m) => !state.notFound.includes(m) && state.mailboxes[m] === false)
          .map((m) => ({ mailbox: m, to: recorded.mailboxes![m] ?? null }));
        const org = recorded.org === true && state.organizationDisabled === false;
        return org || mailboxes.length > 0 ? { org, mailboxes } : undefined;
      },
      diff: (e) => [
        ...(e?.mailboxes ?? []).map((x) => ({
          op: 'restoreMailbox' as const,
          mailbox: x.mailbox,
          to: x.to,
          what: `Set-CASMailbox ${x.mailbox} -SmtpClientAuthenticationDisabled ${x.to === null ? '$null (the organization decides again)' : `$${String(x.to)}`} (as before sendasapp)`,
        })),
        ...(e?.org
          ? [
              {
                op: 'restoreOrganization' as const,
                what: 'Set-TransportConfig -SmtpClientAuthenticationDisabled $true (as before sendasapp)',
              },
            ]
          : []),
      ],
      async apply(ctx, changes) {
        for (const c of changes) {
          if (c.op === 'restoreMailbox') await setMailboxSmtpAuth(ctx.exchange, c.mailbox, c.to);
          else await setOrganizationSmtpAuth(ctx.exchange, true);
        }
      },
    }),
  );

  // 4. The Exchange registration, after everything that names it.
  const exchangeSp = g.add(
    removalNode<ExchangeServicePrincipal, Removal>({
      key: 'exchange.servicePrincipal',
      title: `Exchange service principal of the app in ${ctx.options.tenant}`,
      inputs: { role, scope, smtp, ...grants },
      read: exoSp,
      diff: (sp) => (sp ? [{ op: 'remove', what: `Remove-ServicePrincipal ${sp.ObjectId}` }] : []),
      apply: (ctx, _c, sp) => removeExchangeServicePrincipal(ctx.exchange, sp.Identity ?? sp.ObjectId),
    }),
  );

  // 5. The consent (SMTP.SendAsApp app role assignment), then the service principal.
  const readSp = (ctx: TenantContext): Promise<ServicePrincipal | undefined> =>
    readServicePrincipal(ctx.mailboxGraph, t.appId);
  const consent = g.add(
    removalNode<{ spId: string; ids: string[] }, Removal>({
      key: 'entra.consent',
      title: `Admin consent SMTP.SendAsApp in ${ctx.options.tenant}`,
      inputs: { exchangeSp },
      async read(ctx) {
        const sp = await readSp(ctx);
        if (!sp) return undefined;
        const [exoPrincipal, assignments] = await Promise.all([
          readExchangeOnlinePrincipal(ctx.mailboxGraph),
          readAppRoleAssignments(ctx.mailboxGraph, sp.id),
        ]);
        const ids = assignments
          .filter((a) => a.resourceId === exoPrincipal.id && a.appRoleId === exoPrincipal.smtpSendAsAppRoleId)
          .map((a) => a.id);
        return ids.length > 0 ? { spId: sp.id, ids } : undefined;
      },
      diff: (c) => (c ? [{ op: 'revoke', what: 'revoke the app role SMTP.SendAsApp (admin consent)' }] : []),
      async apply(ctx, _c, c) {
        for (const id of c.ids) await revokeAppRole(ctx.mailboxGraph, c.spId, id);
      },
    }),
  );
  const servicePrincipal = g.add(
    removalNode<ServicePrincipal, Removal>({
      key: 'entra.servicePrincipal',
      title: `Service principal in ${ctx.options.tenant}`,
      inputs: { consent, exchangeSp },
      read: readSp,
      diff: (sp) =>
        sp ? [{ op: 'delete', what: `delete the enterprise application (service principal) ${sp.id}` }] : [],
      apply: async (ctx, _c, sp) => void (await deleteServicePrincipal(ctx.mailboxGraph, sp.id)),
    }),
  );

  // 6. The application: deleted when ours; an adopted one only loses our record from its notes.
  const application = g.add(
    removalNode<Application, Removal>({
      key: 'entra.application',
      title: t.adopted ? `Application ${t.appId} (adopted: kept)` : `Application ${t.app?.displayName ?? t.appId}`,
      inputs: { servicePrincipal },
      read: async () => (t.app ? t.app : undefined),
      diff(app) {
        if (!app) return [];
        if (!t.adopted)
          return [
            {
              op: 'delete',
              what: `delete the app registration ${app.appId} (to deleted items, restorable for 30 days)`,
            },
          ];
        // Adopted: kept, without what sendasapp put on it (its credentials, by display name, and its record).
        const changes: Removal[] = [
          ...app.passwordCredentials
            .filter((c) => isOurs(c.displayName))
            .map((c) => ({ op: 'removeSecret', keyId: c.keyId, what: `remove the secret ${c.keyId} sendasapp made` })),
          ...app.keyCredentials
            .filter((c) => isOurs(c.displayName))
            .map((c) => ({
              op: 'removeCertificate',
              keyId: c.keyId,
              what: `remove the certificate ${c.keyId} sendasapp added`,
            })),
        ];
        if (parseProvenance(app.notes))
          changes.push({ op: 'forget', what: "remove sendasapp's record from the app's notes (the app is kept)" });
        return changes;
      },
      async apply(ctx, changes, app) {
        if (changes.some((c) => c.op === 'delete')) {
          await deleteApplication(ctx.homeGraph, app.id);
          return;
        }
        const keyOf = (c: Removal): string => (c as Removal & { keyId: string }).keyId;
        for (const c of changes.filter((x) => x.op === 'removeSecret'))
          await removeSecret(ctx.homeGraph, app.id, keyOf(c));
        const certs = changes.filter((x) => x.op === 'removeCertificate').map(keyOf);
        if (certs.length > 0) await removeCertificates(ctx.homeGraph, app, certs);
        if (changes.some((c) => c.op === 'forget'))
          await ctx.homeGraph.request(
            'PATCH',
            `/applications/${app.id}`,
            { notes: notesWithoutProvenance(app.notes) },
            { idempotent: true },
          );
      },
      action: t.adopted ? 'update' : 'delete',
    }),
  );

  // 7. The sink's secret (--delete-secret), once the app that used it is gone.
  let last: ManagedRef<unknown> = application;
  if (o.deleteSecret) {
    const sink = sinkOf(ctx.options.secretOut) ?? t.record?.sink;
    const make = sink ? SECRET_REMOVALS[sink.kind] : undefined;
    const removal: SecretRemoval | undefined =
      sink && make
        ? make({ location: sink.at, tenantId: ctx.mailboxTenantId, clientId: t.appId, sink: ctx.sink })
        : undefined;
    if (sink && removal)
      last = g.add(
        removalNode<true, Removal>({
          key: 'sink.secret',
          title: `The credential in ${removal.location}`,
          inputs: { application },
          async read() {
            const s = await removal.state();
            if (s.state === 'present') return true;
            if (s.state === 'foreign')
              ctx.progress(`  ${removal.location} is kept: ${s.reason ?? "not this app's credential"}`);
            return undefined;
          },
          diff: (here) => (here ? [{ op: 'deleteSecret', what: `delete ${removal.location} (${removal.kind})` }] : []),
          apply: () => removal.remove(),
        }),
      );
  }

  // 8. --purge: out of deleted items for good.
  if (o.purge && !t.adopted && !t.external) {
    const id = t.app?.id ?? t.deleted?.id;
    if (id)
      g.add(
        removalNode<{ id: string }, Removal>({
          key: 'entra.deletedApplication',
          title: `Application ${t.appId} in deleted items`,
          inputs: { application, last },
          read: async (ctx) =>
            t.app ? { id } : (await readDeletedApplication(ctx.homeGraph, id)) ? { id } : undefined,
          diff: (d) => (d ? [{ op: 'purge', what: `remove ${d.id} from deleted items for good (--purge)` }] : []),
          apply: async (ctx, _c, d) => void (await purgeDeletedItem(ctx.homeGraph, d.id)),
        }),
      );
  }
  return g;
}

export interface TeardownRunOptions extends OpenOptions {
  onEvent?: (e: RunEvent) => void;
  /** Test seam: after each managed node's write. */
  afterApply?: (key: string) => Promise<void> | void;
}

/** One destroy against one tenant: open → plan (reads only) → apply → close, like a TenantRun. */
export class TeardownRun {
  private execution?: Execution;
  private facts?: TeardownFacts;
  private reports: NodeReport[] = [];
  private phase: 'open' | 'plan' | 'apply' = 'open';

  private constructor(
    readonly ctx: TenantContext,
    private readonly o: TeardownRunOptions,
    private readonly teardown: TeardownOptions,
  ) {}

  static async open(options: RunOptions, o: TeardownRunOptions, teardown: TeardownOptions): Promise<TeardownRun> {
    return new TeardownRun(await openContext(options, o), o, teardown);
  }

  private executeOptions() {
    return { explain: explainError, afterApply: this.o.afterApply, onEvent: this.o.onEvent };
  }

  /** The preflight: finds the app and its record, then reads every removal. Writes nothing. */
  async plan(): Promise<TeardownResult> {
    if (!this.execution) {
      const first = new ResourceGraph();
      const ref = first.add(targetNode());
      const exec = new Execution(first, this.ctx, this.executeOptions());
      const reports = await exec.plan();
      if (reports.some((r) => r.status === 'failed')) {
        this.execution = exec;
        this.reports = reports;
        this.phase = 'plan';
        return this.result();
      }
      this.facts = exec.outputs.get(ref.key) as TeardownFacts;
      this.execution = new Execution(
        buildTeardownGraph(this.ctx, this.facts, this.teardown),
        this.ctx,
        this.executeOptions(),
      );
    }
    this.reports = await this.execution.plan();
    this.phase = 'plan';
    return this.result();
  }

  async apply(): Promise<TeardownResult> {
    const planned = this.phase === 'open' ? await this.plan() : this.result();
    if (!this.execution || planned.failure || !this.facts) return planned;
    this.phase = 'apply';
    this.reports = await this.execution.apply();
    return this.result();
  }

  result(): TeardownResult {
    const t = this.facts?.target;
    const { preflight, resources, failure, pending, changed } = summarizeReports(this.reports);
    return {
      changed,
      tenant: { id: this.ctx.mailboxTenantId, input: this.ctx.options.tenant },
      homeTenant: { id: this.ctx.homeTenantId },
      application: t
        ? {
            appId: t.appId,
            ...(t.app?.id || t.deleted?.id ? { id: t.app?.id ?? t.deleted?.id } : {}),
            ...(t.app?.uniqueName ? { uniqueName: t.app.uniqueName } : {}),
            ...(t.app?.displayName ? { displayName: t.app.displayName } : {}),
            adopted: t.adopted,
            external: t.external,
          }
        : {},
      provenance: !t ? 'no-app' : t.record ? 'record' : 'none',
      mailboxes: this.facts?.mailboxes ?? [],
      preflight,
      resources,
      notes: this.notes(),
      ...(failure ? { failure } : {}),
      pending,
      outcome: this.outcomeOf(failure, pending),
    };
  }

  private notes(): Note[] {
    const t = this.facts?.target;
    const notes: Note[] = [];
    if (this.facts && !t)
      notes.push({
        code: 'no-app',
        severity: 'info',
        text: this.ctx.options.appId
          ? `no app ${this.ctx.options.appId} here`
          : `no app "${this.ctx.names.displayName}" (${this.ctx.names.uniqueName}) in ${this.ctx.options.homeTenant ?? this.ctx.options.tenant}, nor in its deleted items: nothing to remove`,
      });
    if (t && !t.record)
      notes.push({
        code: 'no-provenance',
        severity: 'warning',
        text: `the app has no provenance record (made before sendasapp kept one${t.external ? ", or a vendor's app" : ''}): only what is provably the app's is removed (its grants on ${this.facts!.mailboxes.length > 0 ? this.facts!.mailboxes.join(', ') : 'no mailbox: give --mailbox or --group'}, its RBAC objects by name, its service principal${t.adopted ? '' : ' and registration'}); SMTP AUTH settings are left as they are`,
      });
    if (t?.adopted)
      notes.push({
        code: 'adopted-kept',
        severity: 'info',
        text: `app ${t.appId} was adopted by --app-id: it is only removed from ${this.ctx.options.tenant} (service principal and grants), never deleted`,
      });
    if (t?.record?.smtpOmitted)
      notes.push({
        code: 'smtp-omitted',
        severity: 'warning',
        text: `${t.record.smtpOmitted} SMTP AUTH exception(s) did not fit in the record and stay enabled`,
      });
    if (t?.record?.sink?.kind && !SECRET_REMOVALS[t.record.sink.kind] && this.teardown.deleteSecret)
      notes.push({
        code: 'secret-kept',
        severity: 'warning',
        text: `the ${t.record.sink.kind} secret ${t.record.sink.at} cannot be deleted by this version: delete it yourself`,
      });
    if (t && !this.teardown.purge && !t.adopted && !t.external)
      notes.push({
        code: 'soft-deleted',
        severity: 'info',
        text: 'the app registration stays in deleted items for 30 days (restorable); --purge removes it for good',
      });
    return notes;
  }

  private outcomeOf(failure: TeardownResult['failure'], pending: number): Outcome {
    if (this.ctx.signal.aborted) return 'interrupted';
    if (failure) return failure.kind === 'input' && !this.wroteAnything() ? 'bad-input' : 'failed';
    if (this.phase === 'plan' && pending > 0) return 'changes-pending';
    return 'ok';
  }

  /** Whether any write of this run completed (for the interrupted summary and the failure's exit code). */
  wroteAnything(): boolean {
    return wroteAnything(this.reports);
  }

  /** What the interrupted summary lists: what completed, and what was in flight. */
  interruptedState(): { changed: string[]; inFlight: string[] } {
    return interruptedState(this.execution, this.reports);
  }

  async close(): Promise<void> {
    await closeContext(this.ctx);
  }
}
