/**
 * A tenant's row as people read it, computed once for every renderer (HTML, Markdown, text): status, app and mode,
 * mailboxes, SMTP AUTH, the proof, the credential's end with the days left, and each problem with its fix.
 */
import type { FleetReport, ReportTenant } from './merge.js';
import type { TenantResult } from './schema.js';

const DAY_MS = 86_400_000;

export interface CredentialCell {
  type: string;
  keyId?: string;
  expires: string;
  daysLeft: number;
  /** Ends within the warning window (or has ended). */
  warning: boolean;
}

export interface Problem {
  /** What failed or needs doing. */
  what: string;
  /** The fix, when the product's sentence names one ("… Fix: …"). */
  fix?: string;
}

export interface TenantRow {
  name: string;
  tenant: string;
  shard?: string;
  outcome: string;
  exitCode: number;
  app: string;
  appId?: string;
  mode?: string;
  mailboxes: string[];
  smtpAuth: string;
  proof: { status: string; reply: string };
  credentials: CredentialCell[];
  /** The soonest end among the credentials (the sort key of the expiry column). */
  soonestDaysLeft?: number;
  problems: Problem[];
}

export interface RowOptions {
  /** The window inside which a credential's end is highlighted (--expiry-warning). */
  expiryWarningMs: number;
  /** The moment days are counted from: the run's end, so the same files give the same report. */
  asOf: number;
}

/**
 * The access mode: the run's resolved `mailboxAccess`, or for results of older runs read from the resources they
 * planned (rbac has a role assignment; else the right named).
 */
function modeOf(r: TenantResult): string | undefined {
  if (r.mailboxAccess?.mode) return r.mailboxAccess.mode;
  const keys = (r.resources ?? []).map((x) => x.key);
  if (keys.includes('exchange.roleAssignment') || keys.includes('exchange.managementScope')) return 'rbac';
  const access = (r.resources ?? []).find((x) => x.key.startsWith('exchange.mailboxAccess:'));
  if (access?.title.startsWith('SendAs ')) return 'send-as';
  if (access?.title.startsWith('FullAccess ')) return 'full-access';
  return undefined;
}

function smtpAuthText(r: TenantResult): string {
  const s = r.smtpAuth;
  if (!s) return 'not read';
  const off = s.mailboxes.filter((m) => m.effectiveDisabled).map((m) => m.mailbox);
  const org = `organization ${s.organizationDisabled ? 'off' : 'on'}`;
  if (s.mailboxes.length === 0) return org;
  if (off.length === 0)
    return `on for ${s.mailboxes.length === 1 ? 'the mailbox' : `all ${s.mailboxes.length} mailboxes`} (${org})`;
  return `off for ${off.join(', ')} (${org})`;
}

function credentialCells(r: TenantResult, o: RowOptions): CredentialCell[] {
  const listed = r.credentials?.length
    ? r.credentials.map((c) => ({ type: c.type, keyId: c.keyId, expires: c.expires ?? undefined }))
    : r.credential
      ? [{ type: r.credential.type, keyId: r.credential.keyId, expires: r.credential.expires }]
      : [];
  return listed.flatMap((c) => {
    const end = c.expires === undefined ? NaN : Date.parse(c.expires);
    if (Number.isNaN(end)) return [];
    return [
      {
        type: c.type,
        ...(c.keyId ? { keyId: c.keyId } : {}),
        expires: c.expires!,
        daysLeft: Math.floor((end - o.asOf) / DAY_MS),
        warning: end - o.asOf <= o.expiryWarningMs,
      },
    ];
  });
}

/** "… Fix: do this" → what and fix apart. */
export function splitFix(sentence: string): Problem {
  const m = /^(.*?)\.?\s+Fix:\s+(.*)$/s.exec(sentence);
  return m ? { what: m[1]!, fix: m[2]! } : { what: sentence };
}

function problemsOf(r: TenantResult): Problem[] {
  const out: Problem[] = [];
  // The same sentence often ends both the error and the failed node (which adds its title): keep the first telling.
  const told = (p: Problem, q: Problem): boolean =>
    p.fix === q.fix && (p.what.endsWith(q.what) || q.what.endsWith(p.what));
  const add = (p: Problem): void => {
    if (!out.some((q) => told(p, q))) out.push(p);
  };
  if (r.error) add(splitFix(r.error.message));
  for (const n of [...(r.preflight ?? []), ...(r.resources ?? [])])
    if ((n.status === 'failed' || n.status === 'waiting') && n.message) add(splitFix(`${n.title}: ${n.message}`));
  const v = r.verification;
  if (v && v.status === 'failed')
    add({ what: v.cause ? `${v.reply} (${v.cause})` : v.reply, ...(v.fix ? { fix: v.fix } : {}) });
  for (const n of r.notes ?? []) if (n.severity !== 'info') add(splitFix(n.text));
  if (r.drift?.length)
    add({
      what: `${r.drift.length} resource(s) differ from the configuration (drift): ${r.drift.join(', ')}`,
      fix: 'run apply with the same options',
    });
  return out;
}

export function tenantRow(t: ReportTenant, o: RowOptions): TenantRow {
  const r = t.entry.result;
  const credentials = credentialCells(r, o);
  const app = r.application?.displayName ?? r.application?.appId ?? '';
  const days = credentials.map((c) => c.daysLeft);
  return {
    name: t.entry.name,
    tenant: t.entry.tenant,
    ...(t.entry.shard ? { shard: t.entry.shard } : {}),
    outcome: t.outcome,
    exitCode: t.entry.exitCode,
    app,
    ...(r.application?.appId ? { appId: r.application.appId } : {}),
    ...(modeOf(r) ? { mode: modeOf(r) } : {}),
    mailboxes: r.mailboxes ?? [],
    smtpAuth: smtpAuthText(r),
    proof: { status: r.verification?.status ?? 'skipped', reply: r.verification?.reply ?? 'not run' },
    credentials,
    ...(days.length > 0 ? { soonestDaysLeft: Math.min(...days) } : {}),
    problems: problemsOf(r),
  };
}

/** The moment a report counts days from: the latest end of the runs, or now when no file says. */
export function reportAsOf(report: FleetReport, now = Date.now()): number {
  return report.summary.finishedAt ? Date.parse(report.summary.finishedAt) : now;
}

export function reportRows(report: FleetReport, o: Partial<RowOptions> = {}): TenantRow[] {
  const opts: RowOptions = { expiryWarningMs: o.expiryWarningMs ?? 30 * DAY_MS, asOf: o.asOf ?? reportAsOf(report) };
  return report.tenants.map((t) => tenantRow(t, opts));
}
