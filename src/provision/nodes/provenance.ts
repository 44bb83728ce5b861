/**
 * Provenance: what sendasapp made and changed in the tenant for an app, recorded on the app itself (one line of its
 * `notes`), so that `destroy` undoes exactly that and nothing a person set by hand, and `list` can tell its apps.
 *
 * The record is small and versioned: `sendasapp-provenance v1 {json}`. It holds the mode, the mailboxes or the
 * group, the SMTP AUTH exceptions it enabled with the value each had before, the sink's kind and location (never a
 * secret), the RBAC names, the tool version and when it was first written. It is written ahead of the SMTP AUTH
 * change from the preflight's reading (what is there before), and rewritten only when its content changes: a rerun
 * with nothing to change writes nothing. Mailboxes and exceptions are cumulative (a run that names fewer mailboxes
 * changes nothing; a later run that finds a mailbox already enabled keeps the earlier entry and its earlier value).
 *
 * Graph's `notes` holds at most 1024 characters (the emulator enforces the same limit as for `description`; the
 * reference files give no other number). A person's own notes are kept: the record is one line of its own, replaced
 * in place. When the record does not fit, the mailbox list goes first (it is found again from the configuration, the
 * group or the RBAC scope); the SMTP AUTH exceptions are kept as long as they fit, and those that do not are counted
 * (`smtpOmitted`) — destroy then leaves those mailboxes enabled rather than guess.
 */
import { isReplicationLag } from '../../entra/index.js';
import { rbacNames } from '../../exchange/index.js';
import { isKeyVaultTarget } from '../../handoff/index.js';
import type { TenantContext } from '../context.js';
import type { ManagedNode, ManagedRef, Ref } from '../model.js';
import type { AppState, ServicePrincipalState } from './entra.js';
import { smtpAuthNode } from './exchange.js';
import type { MailboxFacts } from './facts.js';

/** The version sendasapp writes into its records (package.json's). */
export const TOOL_VERSION = '0.1.0';
export const PROVENANCE_KEY = 'entra.provenance';
export const PROVENANCE_MARKER = 'sendasapp-provenance v1 ';
/** Graph's limit on an application's `notes`. */
export const NOTES_MAX = 1024;

export type ProvenanceMode = 'full-access' | 'send-as' | 'rbac' | 'delegated';

export interface ProvenanceRecord {
  v: 1;
  /** The sendasapp version that last changed the record. */
  tool: string;
  /** When the record was first written (ISO). */
  created: string;
  mode: ProvenanceMode;
  mailboxes?: string[];
  /** Set when the mailbox list did not fit in the notes: how many there were. */
  mailboxCount?: number;
  group?: string;
  /**
   * The SMTP AUTH exceptions sendasapp enabled: `org` = the organization's SmtpClientAuthenticationDisabled was true
   * and was set to false; `mailboxes` = each mailbox's own value before it was set to false (true, or null = unset).
   */
  smtp?: { org?: true; mailboxes?: Record<string, boolean | null> };
  /** How many exceptions did not fit in the notes (not restored by destroy). */
  smtpOmitted?: number;
  /** Where the credential was written: a file path or a vault secret's address (never its value). */
  sink?: { kind: 'file' | 'keyvault'; at: string };
  rbac?: { scope: string; assignment: string };
}

export interface ProvenanceState {
  /** The app's notes as read. */
  notes: string | null;
  record?: ProvenanceRecord;
}

export type ProvenanceChange = { op: 'record'; record: ProvenanceRecord; first: boolean };

/** The record in an app's notes (the last line with the marker), or undefined when there is none or it is unreadable. */
export function parseProvenance(notes: string | null | undefined): ProvenanceRecord | undefined {
  if (!notes) return undefined;
  const line = notes
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.startsWith(PROVENANCE_MARKER));
  if (!line) return undefined;
  try {
    const r = JSON.parse(line.slice(PROVENANCE_MARKER.length)) as ProvenanceRecord;
    return r && r.v === 1 && typeof r.mode === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The notes without our record line (what a person wrote), or null when nothing is left. */
export function notesWithoutProvenance(notes: string | null | undefined): string | null {
  if (!notes) return null;
  const kept = notes.split(/\r?\n/).filter((l) => !l.startsWith(PROVENANCE_MARKER));
  const text = kept.join('\n').replace(/\n+$/, '');
  return text.length > 0 ? text : null;
}

/** The notes with the record put in (replacing an earlier record line, keeping a person's text). */
export function notesWithProvenance(notes: string | null | undefined, record: ProvenanceRecord): string {
  const own = notesWithoutProvenance(notes);
  const line = `${PROVENANCE_MARKER}${JSON.stringify(record)}`;
  return own ? `${own}\n${line}` : line;
}

/** The record cut to fit in the notes beside `own` text: the mailbox list first, then the exceptions that do not fit. */
export function fitProvenance(record: ProvenanceRecord, own: string | null): ProvenanceRecord {
  const size = (r: ProvenanceRecord): number => notesWithProvenance(own, r).length;
  if (size(record) <= NOTES_MAX) return record;
  let r: ProvenanceRecord = { ...record };
  if (r.mailboxes) {
    r = { ...r, mailboxCount: r.mailboxes.length };
    delete r.mailboxes;
  }
  const entries = Object.entries(r.smtp?.mailboxes ?? {});
  let omitted = record.smtpOmitted ?? 0;
  while (size(r) > NOTES_MAX && entries.length > 0) {
    entries.pop();
    omitted += 1;
    r = { ...r, smtp: { ...r.smtp, mailboxes: Object.fromEntries(entries) }, smtpOmitted: omitted };
  }
  return r;
}

/** What a record says, without its bookkeeping (tool version, time): two records that say the same are equal. */
function content(r: ProvenanceRecord | undefined): string {
  if (!r) return '';
  const sorted = (o: Record<string, unknown> | undefined) =>
    o ? Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) : undefined;
  return JSON.stringify({
    mode: r.mode,
    mailboxes: r.mailboxes ? [...r.mailboxes].sort() : undefined,
    mailboxCount: r.mailboxCount,
    group: r.group,
    smtp: r.smtp ? { org: r.smtp.org, mailboxes: sorted(r.smtp.mailboxes) } : undefined,
    smtpOmitted: r.smtpOmitted,
    sink: r.sink,
    rbac: r.rbac,
  });
}

export function sameProvenance(a: ProvenanceRecord | undefined, b: ProvenanceRecord | undefined): boolean {
  return content(a) === content(b);
}

/** The sink as the record names it: a Key Vault secret's address or a file's absolute path; none without --secret-out. */
export function sinkOf(secretOut: string | undefined): ProvenanceRecord['sink'] {
  if (!secretOut) return undefined;
  if (isKeyVaultTarget(secretOut)) return { kind: 'keyvault', at: secretOut };
  return { kind: 'file', at: secretOut };
}

function modeOf(ctx: TenantContext): ProvenanceMode {
  if (ctx.options.flow === 'delegated') return 'delegated';
  const mode = ctx.options.mailboxAccess;
  // The TenantRun resolves an unset mode (access-mode.ts) before it builds the graph.
  if (mode === 'unset') throw new Error('the provenance record was built before the mailbox access mode was resolved');
  return mode;
}

/**
 * The record this run wants: what it manages now (mode, mailboxes or group, sink, RBAC names), the SMTP AUTH
 * exceptions the earlier record holds, plus those this run's SMTP AUTH node will enable (read from the same facts).
 */
export function wantedProvenance(
  ctx: TenantContext,
  facts: MailboxFacts,
  app: AppState | undefined,
  earlier: ProvenanceRecord | undefined,
  now: () => string = () => new Date().toISOString(),
): ProvenanceRecord {
  const mode = modeOf(ctx);
  const smtpChanges = smtpAuthNode(ctx, { mailboxes: { key: 'mailboxes', managed: false } }).diff(
    structuredClone(facts.smtp),
    { mailboxes: facts },
  );
  const org = earlier?.smtp?.org === true || smtpChanges.some((c) => c.op === 'enableOrganization');
  const exceptions: Record<string, boolean | null> = { ...(earlier?.smtp?.mailboxes ?? {}) };
  for (const c of smtpChanges)
    if (c.op === 'enableMailbox' && !(c.mailbox in exceptions)) exceptions[c.mailbox] = c.from;
  const smtp: ProvenanceRecord['smtp'] =
    org || Object.keys(exceptions).length > 0
      ? {
          ...(org ? { org: true as const } : {}),
          ...(Object.keys(exceptions).length > 0 ? { mailboxes: exceptions } : {}),
        }
      : undefined;
  // Cumulative, like the exceptions: a mailbox or group once given stays recorded (a run that names fewer mailboxes,
  // e.g. a status of part of them, is no change of what was done; destroy looks at every one).
  const mailboxes = [...new Set([...(earlier?.mailboxes ?? []), ...(facts.group ? [] : facts.mailboxes)])];
  const group = facts.group?.name ?? earlier?.group;
  const names = app?.legacyKey ? rbacNames(ctx.names.legacyUniqueName) : ctx.names;
  const sink = sinkOf(ctx.options.secretOut) ?? earlier?.sink;
  return {
    v: 1,
    tool: TOOL_VERSION,
    created: earlier?.created ?? now(),
    mode,
    ...(mailboxes.length > 0 ? { mailboxes } : {}),
    ...(group ? { group } : {}),
    ...(smtp ? { smtp } : {}),
    ...(earlier?.smtpOmitted ? { smtpOmitted: earlier.smtpOmitted } : {}),
    ...(sink ? { sink } : {}),
    ...(mode === 'rbac' ? { rbac: { scope: names.scopeName, assignment: names.roleAssignmentName } } : {}),
  };
}

type ProvenanceInputs = {
  app: ManagedRef<AppState>;
  mailboxes: Ref<MailboxFacts>;
  /** With --app-id: a vendor's app has no object in the home tenant; its record goes on its service principal. */
  sp?: ManagedRef<ServicePrincipalState>;
};

/** Where an app's record lives: the application's notes, or for a vendor's app its service principal's notes. */
export function provenancePath(app: AppState, spId: string | undefined): string | undefined {
  if (app.app) return `/applications/${app.app.id}`;
  return spId ? `/servicePrincipals/${spId}` : undefined;
}

/**
 * The provenance record in the app's notes, or (a vendor's app adopted by --app-id, which has no object in the home
 * tenant) in the notes of its service principal in the mailbox tenant, once that exists.
 */
export function provenanceNode(
  ctx: TenantContext,
  inputs: ProvenanceInputs,
): ManagedNode<ProvenanceState, ProvenanceInputs, ProvenanceChange> {
  return {
    kind: 'managed',
    key: PROVENANCE_KEY,
    title: "Provenance record (the app's notes)",
    inputs,
    readsWith: ['app'],
    async read(ctx, { app, sp }) {
      if (!app) return undefined;
      let notes: string | null;
      if (app.app) notes = app.app.notes ?? null;
      else if (sp) {
        const found = await ctx.mailboxGraph.find<{ notes?: string | null }>(
          `/servicePrincipals/${sp.id}?$select=id,notes`,
        );
        if (!found) return undefined;
        notes = found.notes ?? null;
      } else return undefined;
      const record = parseProvenance(notes);
      return { notes, ...(record ? { record } : {}) };
    },
    diff(current, { app, mailboxes }) {
      if (app?.external && !inputs.sp) return [];
      const wanted = fitProvenance(
        wantedProvenance(ctx, mailboxes, app, current?.record),
        notesWithoutProvenance(current?.notes),
      );
      return sameProvenance(wanted, current?.record) ? [] : [{ op: 'record', record: wanted, first: !current?.record }];
    },
    async apply(ctx, changes, current, { app, sp }) {
      const record = changes[changes.length - 1]!.record;
      const path = provenancePath(app!, sp?.id);
      if (!path) return current ?? { notes: null };
      const graph = app!.app ? ctx.homeGraph : ctx.mailboxGraph;
      const notes = notesWithProvenance(current?.notes ?? app!.app?.notes, record);
      // Right after the app (or its service principal) was made, the directory may not know it yet: 404 meanwhile.
      await graph.untilReplicated(
        'provenance record',
        () => graph.request('PATCH', path, { notes }, { idempotent: true }),
        isReplicationLag,
      );
      return { notes, record };
    },
    describe: (c) =>
      `${c.first ? 'record' : 'update the record of'} what sendasapp made (${c.record.mode}${c.record.smtp ? ', SMTP AUTH exceptions' : ''}) in the app's notes`,
    actionOf: () => 'update',
    planned: (_current, changes) => {
      const record = changes[changes.length - 1]!.record;
      return { notes: null, record };
    },
  };
}
