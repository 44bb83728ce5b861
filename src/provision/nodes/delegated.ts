/**
 * Delegated SMTP (`--flow delegated`): for sending systems that sign a user in and keep a refresh token (older
 * Business Central on-premises, Xeams' own-app mode, Postfix with sasl-xoauth2). The app gets the delegated
 * permissions SMTP.Send, offline_access and openid of Microsoft Graph (looked up in the tenant), the Web redirect
 * URIs of the sending system and a client secret. No Exchange mailbox permission is involved (the user sends as
 * themself); SMTP AUTH must still be enabled for the mailboxes.
 */
import type { GraphApi, RequiredResourceAccess } from '../../entra/index.js';
import type { DataNode } from '../model.js';
import type { AppWants } from './entra.js';

export const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** The delegated permissions the sending system asks for (scope `https://outlook.office.com/SMTP.Send offline_access`). */
export const DELEGATED_SMTP_SCOPES = ['SMTP.Send', 'offline_access', 'openid'] as const;

/**
 * Ids of those permissions in Microsoft's Graph permissions reference, used only when the tenant's Microsoft Graph
 * service principal publishes no oauth2PermissionScopes to look them up in (a note says so).
 */
const REFERENCE_SCOPE_IDS: Record<(typeof DELEGATED_SMTP_SCOPES)[number], string> = {
  'SMTP.Send': '258f6531-6087-4cc4-bb90-092c5fb3ed3f',
  offline_access: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182',
  openid: '37f7f235-527c-4136-accd-4a02d197296e',
};

export interface GraphScopesState {
  ids: Record<string, string>;
  /** True when the ids came from the reference table, not from the tenant. */
  fromReference: boolean;
}

/** Reads the delegated permission ids from the tenant's Microsoft Graph service principal. */
export async function readGraphScopes(graph: GraphApi): Promise<GraphScopesState> {
  const sp = await graph.find<{ id: string; oauth2PermissionScopes?: Array<{ id: string; value: string | null }> }>(
    `/servicePrincipals(appId='${MICROSOFT_GRAPH_APP_ID}')?$select=id,oauth2PermissionScopes`,
  );
  const published = sp?.oauth2PermissionScopes ?? [];
  const ids: Record<string, string> = {};
  let fromReference = false;
  for (const name of DELEGATED_SMTP_SCOPES) {
    const hit = published.find((s) => s.value === name);
    if (hit) ids[name] = hit.id;
    else {
      ids[name] = REFERENCE_SCOPE_IDS[name];
      fromReference = true;
    }
  }
  return { ids, fromReference };
}

export function graphScopesNode(): DataNode<GraphScopesState, Record<string, never>> {
  return {
    kind: 'data',
    key: 'tenant.microsoftGraphScopes',
    title: 'Microsoft Graph (delegated SMTP.Send, offline_access, openid ids)',
    inputs: {},
    read: (ctx) => readGraphScopes(ctx.homeGraph),
  };
}

/** What the delegated app registration must hold. */
export function delegatedAccess(scopes: GraphScopesState): AppWants {
  const access: RequiredResourceAccess[] = [
    {
      resourceAppId: MICROSOFT_GRAPH_APP_ID,
      resourceAccess: DELEGATED_SMTP_SCOPES.map((n) => ({ id: scopes.ids[n]!, type: 'Scope' as const })),
    },
  ];
  return { access, permission: 'the delegated permissions SMTP.Send, offline_access, openid (Microsoft Graph)' };
}

/** The admin-consent URL for the delegated permissions (scope names, not `.default`). */
export function delegatedConsentUrl(consentHost: string, tenant: string, appId: string, redirectUri?: string): string {
  const q = new URLSearchParams({
    client_id: appId,
    scope: 'https://outlook.office.com/SMTP.Send offline_access openid',
  });
  if (redirectUri) q.set('redirect_uri', redirectUri);
  return `${consentHost}/${tenant}/v2.0/adminconsent?${q.toString()}`;
}
