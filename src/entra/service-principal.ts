/**
 * The app's service principal (enterprise app) in the mailbox tenant, and the admin consent that is the
 * SMTP.SendAsApp app role assignment from Office 365 Exchange Online to it.
 */
import { GraphApi, GraphRequestError, isReplicationLag } from './graph.js';

export interface ServicePrincipal {
  id: string;
  appId: string;
  displayName: string | null;
}

export interface AppRoleAssignment {
  id: string;
  appRoleId: string;
  principalId: string;
  resourceId: string;
}

export async function readServicePrincipal(graph: GraphApi, appId: string): Promise<ServicePrincipal | undefined> {
  return graph.find<ServicePrincipal>(`/servicePrincipals(appId='${appId}')?$select=id,appId,displayName`);
}

export class ServicePrincipalNotAllowedError extends Error {}

/** The app id names no application this tenant can install (unknown, or single-tenant elsewhere). */
export class UnknownApplicationError extends Error {
  constructor(readonly appId: string) {
    super(
      `no multitenant application with app id ${appId} exists that this tenant can install. Fix: check --app-id (the application (client) id, not an object id), and that its owner registered it as multitenant (AzureADMultipleOrgs)`,
    );
    this.name = 'UnknownApplicationError';
  }
}

/**
 * Creates the service principal. Right after the application was created the directory may not know it yet
 * (NoBackingApplicationObject): retried until it has replicated. A 403 means the operator may not create it
 * in this tenant (the tenant's admin must consent).
 */
export async function createServicePrincipal(
  graph: GraphApi,
  appId: string,
  /** False for an app this run did not just create: "no backing application" then means it does not exist. */
  mayLag = true,
): Promise<ServicePrincipal & { createdNow?: boolean }> {
  try {
    const res = await graph.untilReplicated(
      'service principal',
      () =>
        graph.request<ServicePrincipal>(
          'PATCH',
          `/servicePrincipals(appId='${appId}')`,
          { appId },
          { headers: { Prefer: 'create-if-missing' }, idempotent: true },
        ),
      (e) => mayLag && isReplicationLag(e),
    );
    if (res.status === 201 && res.body?.id) return { ...res.body, createdNow: true };
  } catch (err) {
    if (err instanceof GraphRequestError && err.status === 403) throw new ServicePrincipalNotAllowedError(err.message);
    if (!mayLag && err instanceof GraphRequestError && err.detailCodes.includes('NoBackingApplicationObject'))
      throw new UnknownApplicationError(appId);
    throw err;
  }
  return graph.untilReplicated(
    'service principal',
    async () => {
      const sp = await readServicePrincipal(graph, appId);
      if (!sp)
        throw new GraphRequestError(
          'GET',
          'servicePrincipals',
          404,
          'Request_ResourceNotFound',
          'not replicated yet',
          [],
          undefined,
        );
      return sp;
    },
    isReplicationLag,
  );
}

export async function readAppRoleAssignments(graph: GraphApi, principalId: string): Promise<AppRoleAssignment[]> {
  const res = await graph.get<{ value: AppRoleAssignment[] }>(`/servicePrincipals/${principalId}/appRoleAssignments`);
  return res.body?.value ?? [];
}

/** Grants an app role (admin consent for an application permission); "already exists" is success. */
export async function grantAppRole(graph: GraphApi, assignment: Omit<AppRoleAssignment, 'id'>): Promise<void> {
  try {
    await graph.untilReplicated(
      'app role assignment',
      () =>
        graph.request('POST', `/servicePrincipals/${assignment.resourceId}/appRoleAssignedTo`, assignment, {
          idempotent: true,
        }),
      isReplicationLag,
    );
  } catch (err) {
    if (err instanceof GraphRequestError && err.status === 400 && /already exists/i.test(err.graphMessage)) return;
    throw err;
  }
}

/**
 * The Web reply URL the product registers on the app it creates, and puts in its consent URLs, unless the user names
 * another (`--redirect-uri`). Entra needs one: an app with no registered reply URL answers admin consent with
 * AADSTS500113, and v2 admin consent requires `redirect_uri` (m365-facts §8). This one is Microsoft's own blank page
 * for native clients, so after consent the admin lands on a harmless page whose address shows `admin_consent=True`.
 */
export const DEFAULT_CONSENT_REDIRECT_URI = 'https://login.microsoftonline.com/common/oauth2/nativeclient';

/**
 * The v2.0 admin-consent URL for SMTP (scope https://outlook.office365.com/.default only), always with a
 * `redirect_uri`: the app's registered Web reply URL (a vendor app's own, given by the user), or the default.
 */
export function adminConsentUrl(
  consentHost: string,
  tenant: string,
  appId: string,
  redirectUri: string = DEFAULT_CONSENT_REDIRECT_URI,
): string {
  const q = new URLSearchParams({
    client_id: appId,
    scope: 'https://outlook.office365.com/.default',
    redirect_uri: redirectUri,
  });
  return `${consentHost}/${tenant}/v2.0/adminconsent?${q.toString()}`;
}
