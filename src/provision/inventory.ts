/**
 * The inventory of `sendasapp list`: the applications of a tenant that sendasapp made (their key starts with
 * `sendasapp-`) or adopted (their notes hold its provenance record), with what the record says and when their
 * credentials end. Read-only.
 *
 * The last proof is not kept in the tenant: writing after every proof would make every rerun a write. It is null
 * here; each apply's and verify's JSON result carries its proof.
 */
import { isOurs, listApplications, type ListedApplication } from '../entra/index.js';
import type { TenantContext } from './context.js';
import { parseProvenance, type ProvenanceRecord } from './nodes/index.js';

export interface InventoryCredential {
  type: 'secret' | 'certificate';
  keyId: string;
  displayName: string | null;
  expires: string | null;
  daysLeft: number | null;
  /** Made by sendasapp (recognised by its display name). */
  ours: boolean;
}

export interface InventoryApp {
  appId: string;
  id: string;
  displayName: string | null;
  uniqueName: string | null;
  /** made: under sendasapp's key; adopted: another app whose notes hold a record (adopted by --app-id). */
  origin: 'made' | 'adopted';
  provenance: 'record' | 'none';
  mode: ProvenanceRecord['mode'] | null;
  mailboxes: string[] | null;
  group: string | null;
  smtpAuthExceptions: { organization: boolean; mailboxes: Record<string, boolean | null> } | null;
  sink: ProvenanceRecord['sink'] | null;
  rbac: ProvenanceRecord['rbac'] | null;
  /** When the record was first written (the tool that last changed it: `tool`). */
  recorded: string | null;
  tool: string | null;
  credentials: InventoryCredential[];
  /** The latest end among the live credentials (the one a sending system is likely to hold), and its days left. */
  credentialExpires: string | null;
  daysLeft: number | null;
  lastProof: null;
}

const DAY_MS = 86_400_000;

function credentialsOf(a: ListedApplication, now: number): InventoryCredential[] {
  const days = (end: string | null): number | null => (end ? Math.floor((Date.parse(end) - now) / DAY_MS) : null);
  return [
    ...(a.passwordCredentials ?? []).map((c) => ({ ...c, type: 'secret' as const })),
    ...(a.keyCredentials ?? []).map((c) => ({ ...c, type: 'certificate' as const })),
  ].map((c) => ({
    type: c.type,
    keyId: c.keyId,
    displayName: c.displayName,
    expires: c.endDateTime,
    daysLeft: days(c.endDateTime),
    ours: isOurs(c.displayName),
  }));
}

/** One listed application as the inventory shows it; undefined when it is not sendasapp's. */
export function inventoryEntry(a: ListedApplication, now = Date.now()): InventoryApp | undefined {
  const made = (a.uniqueName ?? '').toLowerCase().startsWith('sendasapp-');
  const record = parseProvenance(a.notes);
  if (!made && !record) return undefined;
  const credentials = credentialsOf(a, now);
  const live = credentials
    .filter((c) => c.expires && Date.parse(c.expires) > now)
    .sort((x, y) => Date.parse(y.expires!) - Date.parse(x.expires!));
  return {
    appId: a.appId,
    id: a.id,
    displayName: a.displayName,
    uniqueName: a.uniqueName,
    origin: made ? 'made' : 'adopted',
    provenance: record ? 'record' : 'none',
    mode: record?.mode ?? null,
    mailboxes: record?.mailboxes ?? null,
    group: record?.group ?? null,
    smtpAuthExceptions: record?.smtp
      ? { organization: record.smtp.org === true, mailboxes: record.smtp.mailboxes ?? {} }
      : null,
    sink: record?.sink ?? null,
    rbac: record?.rbac ?? null,
    recorded: record?.created ?? null,
    tool: record?.tool ?? null,
    credentials,
    credentialExpires: live[0]?.expires ?? null,
    daysLeft: live[0]?.daysLeft ?? null,
    lastProof: null,
  };
}

/** The sendasapp apps of the home tenant, by display name. */
export async function inventory(ctx: TenantContext, now = Date.now()): Promise<InventoryApp[]> {
  const apps = await listApplications(ctx.homeGraph);
  // The app the operator signs in with is how sendasapp works, not an app it made for sending.
  const operator = ctx.operator.principal.toLowerCase();
  return apps
    .filter((a) => a.appId.toLowerCase() !== operator)
    .map((a) => inventoryEntry(a, now))
    .filter((a): a is InventoryApp => a !== undefined)
    .sort((x, y) => (x.displayName ?? '').localeCompare(y.displayName ?? '') || x.appId.localeCompare(y.appId));
}
