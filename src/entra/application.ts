/**
 * The app registration, keyed by its uniqueName (Graph upsert with `Prefer: create-if-missing`), never by its
 * display name alone. Also the Office 365 Exchange Online service principal, where the SMTP.SendAsApp role id is
 * looked up instead of hard-coded.
 */
import { createHash } from 'node:crypto';
import { GraphApi, GraphRequestError } from './graph.js';

export const EXCHANGE_ONLINE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
export const SMTP_SEND_AS_APP = 'SMTP.SendAsApp';

export interface RequiredResourceAccess {
  resourceAppId: string;
  resourceAccess: Array<{ id: string; type: 'Role' | 'Scope' }>;
}

export interface PasswordCredential {
  keyId: string;
  displayName: string | null;
  endDateTime: string | null;
  startDateTime: string | null;
  hint: string | null;
}

export interface KeyCredential {
  keyId: string;
  displayName: string | null;
  customKeyIdentifier: string | null;
  endDateTime: string | null;
  startDateTime: string | null;
  type: string;
  usage: string;
  key?: string | null;
}

export interface Application {
  id: string;
  appId: string;
  displayName: string | null;
  uniqueName: string | null;
  signInAudience: string;
  requiredResourceAccess: RequiredResourceAccess[];
  passwordCredentials: PasswordCredential[];
  keyCredentials: KeyCredential[];
  /** The Web platform (its redirect URIs: the admin-consent reply URL among them). */
  web?: { redirectUris?: string[] } | null;
  /** Free text for the app's managers; sendasapp keeps its provenance record in one line of it. */
  notes?: string | null;
}

const APP_SELECT =
  'id,appId,displayName,uniqueName,signInAudience,requiredResourceAccess,passwordCredentials,keyCredentials,web,notes';

function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The display name as the app's identity sees it: Unicode NFC, trimmed, inner whitespace collapsed, lower case.
 * Names that differ only in case or spacing are one app; any other difference makes another app.
 */
export function normalizeAppName(appName: string): string {
  return appName.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The readable part of a key: ASCII letters and digits of the name (accents dropped), dashes between words. */
function slugOf(appName: string, max: number): string {
  return appName
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max);
}

/**
 * The app's stable key (its Graph uniqueName): `sendasapp-<readable slug>-<10 hex of SHA-256 of the normalized
 * name>`. Injective in practice: "Финансы" and "Продажи", "Scanner SMTP" and "scanner-smtp!!", or two long names
 * that differ after 40 characters get different keys; the slug only keeps it readable.
 */
export function uniqueNameFor(appName: string): string {
  const hash = createHash('sha256').update(normalizeAppName(appName), 'utf8').digest('hex').slice(0, 10);
  const slug = slugOf(appName, 40).replace(/-+$/, '');
  return `sendasapp-${slug ? `${slug}-` : ''}${hash}`;
}

/**
 * The key of sendasapp 0.1 (`sendasapp-<slug of 60>`), which collided for names that differ only outside a–z0–9.
 * An app found under it is adopted (never renamed: a uniqueName is immutable) when its display name is exactly the
 * one asked for.
 */
export function legacyUniqueNameFor(appName: string): string {
  return `sendasapp-${slugOf(appName, 60) || 'app'}`;
}

export async function readApplicationByUniqueName(
  graph: GraphApi,
  uniqueName: string,
): Promise<Application | undefined> {
  return graph.find<Application>(`/applications(uniqueName=${quote(uniqueName)})?$select=${APP_SELECT}`);
}

export async function readApplicationByAppId(graph: GraphApi, appId: string): Promise<Application | undefined> {
  return graph.find<Application>(`/applications(appId=${quote(appId)})?$select=${APP_SELECT}`);
}

export interface DesiredApplication {
  uniqueName: string;
  displayName: string;
  signInAudience: 'AzureADMyOrg' | 'AzureADMultipleOrgs';
  /** Permissions the app must have (merged into what it already has, never replacing). */
  requiredResourceAccess: RequiredResourceAccess[];
  /** Web redirect URIs of a new app (an admin consent returns to one of them). */
  webRedirectUris?: string[];
}

/** requiredResourceAccess with every wanted permission added to what is there; undefined when nothing is missing. */
export function mergeResourceAccess(
  existing: RequiredResourceAccess[],
  wanted: RequiredResourceAccess[],
): RequiredResourceAccess[] | undefined {
  const out = existing.map((r) => ({ resourceAppId: r.resourceAppId, resourceAccess: [...r.resourceAccess] }));
  let changed = false;
  for (const w of wanted) {
    let entry = out.find((r) => r.resourceAppId.toLowerCase() === w.resourceAppId.toLowerCase());
    if (!entry) {
      entry = { resourceAppId: w.resourceAppId, resourceAccess: [] };
      out.push(entry);
    }
    for (const a of w.resourceAccess) {
      if (!entry.resourceAccess.some((x) => x.id.toLowerCase() === a.id.toLowerCase() && x.type === a.type)) {
        entry.resourceAccess.push(a);
        changed = true;
      }
    }
  }
  return changed ? out : undefined;
}

/**
 * Creates the app if its uniqueName is free (201), or finds it (204 → read). The upsert makes a crash between
 * "create" and "remember" harmless: the next run finds the same object by the same key.
 */
export async function upsertApplication(
  graph: GraphApi,
  desired: DesiredApplication,
): Promise<Application & { createdNow?: boolean }> {
  const res = await graph.request<Application>(
    'PATCH',
    `/applications(uniqueName=${quote(desired.uniqueName)})`,
    {
      displayName: desired.displayName,
      signInAudience: desired.signInAudience,
      requiredResourceAccess: desired.requiredResourceAccess,
      ...(desired.webRedirectUris?.length ? { web: { redirectUris: desired.webRedirectUris } } : {}),
    },
    { headers: { Prefer: 'create-if-missing' }, idempotent: true },
  );
  if (res.status === 201 && res.body?.id) return { ...res.body, createdNow: true };
  // 204: it existed. Read it back (the write is trusted; the read may lag behind replication).
  return graph.untilReplicated(
    'application',
    async () => {
      const app = await readApplicationByUniqueName(graph, desired.uniqueName);
      if (!app)
        throw new GraphRequestError(
          'GET',
          'applications',
          404,
          'Request_ResourceNotFound',
          'not replicated yet',
          [],
          undefined,
        );
      return app;
    },
    (e) => e instanceof GraphRequestError && e.status === 404,
  );
}

export async function updateApplication(
  graph: GraphApi,
  id: string,
  patch: Partial<Pick<Application, 'displayName' | 'signInAudience' | 'requiredResourceAccess'>>,
): Promise<void> {
  await graph.request('PATCH', `/applications/${id}`, patch, { idempotent: true });
}

export interface ExchangeOnlinePrincipal {
  id: string;
  smtpSendAsAppRoleId: string;
}

/** The Office 365 Exchange Online service principal of a tenant and its SMTP.SendAsApp app role id. */
export async function readExchangeOnlinePrincipal(graph: GraphApi): Promise<ExchangeOnlinePrincipal> {
  const sp = await graph.find<{ id: string; appRoles: Array<{ id: string; value: string | null }> }>(
    `/servicePrincipals(appId='${EXCHANGE_ONLINE_APP_ID}')?$select=id,appRoles`,
  );
  if (!sp) {
    throw new Error(
      'the tenant has no Office 365 Exchange Online service principal: it has no Exchange Online licence or has never used Exchange; license Exchange Online first',
    );
  }
  const role = sp.appRoles.find((r) => r.value === SMTP_SEND_AS_APP);
  if (!role) throw new Error('Office 365 Exchange Online publishes no SMTP.SendAsApp app role in this tenant');
  return { id: sp.id, smtpSendAsAppRoleId: role.id };
}
