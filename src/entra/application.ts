/**
 * The app registration, keyed by its uniqueName (Graph upsert with `Prefer: create-if-missing`), never by its
 * display name alone. Also the Office 365 Exchange Online service principal, where the SMTP.SendAsApp role id is
 * looked up instead of hard-coded.
 */
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
}

const APP_SELECT =
  'id,appId,displayName,uniqueName,signInAudience,requiredResourceAccess,passwordCredentials,keyCredentials';

function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function uniqueNameFor(appName: string): string {
  const slug = appName
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `sendasapp-${slug || 'app'}`;
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
