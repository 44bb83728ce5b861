/**
 * Delegated SMTP (`--flow delegated`): for sending systems that sign a user in and keep a refresh token (older
 * Business Central on-premises, Xeams' own-app mode, Postfix with sasl-xoauth2). The app gets the delegated
 * permissions SMTP.Send, offline_access and openid of Microsoft Graph (looked up in the tenant), the Web redirect
 * URIs of the sending system and a client secret. No Exchange mailbox permission is involved (the user sends as
 * themself); SMTP AUTH must still be enabled for the mailboxes.
 *
 * Additive to the app-only resources: the application resource here replaces `applicationResource` under the
 * same key, so the credential, service principal and SMTP AUTH resources work unchanged.
 */
import {
  mergeResourceAccess,
  readApplicationByUniqueName,
  upsertApplication,
  updateApplication,
  type Application,
  type GraphApi,
  type RequiredResourceAccess,
} from '../../entra/index.js';
import type { TenantContext } from '../context.js';
import type { Resource, RunState } from '../resource.js';
import { KEYS, applicationChanges, credentialResource, servicePrincipalResource, type AppState } from './entra.js';
import { smtpAuthResource } from './exchange.js';

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

export const DELEGATED_KEYS = { graphScopes: 'entra.microsoftGraphScopes' } as const;

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

export function graphScopesResource(ctx: TenantContext): Resource<GraphScopesState> {
  return {
    key: DELEGATED_KEYS.graphScopes,
    title: 'Microsoft Graph (delegated SMTP.Send, offline_access, openid ids)',
    dependsOn: [],
    async read(run) {
      const state = await readGraphScopes(ctx.homeGraph);
      if (state.fromReference)
        run.notes.push(
          "Microsoft Graph in the home tenant publishes no delegated scopes to look up: the permission ids of Microsoft's Graph permissions reference were used",
        );
      return state;
    },
    diff: () => [],
    apply: async () => {
      throw new Error('read-only resource');
    },
  };
}

/** The delegated app, keyed by uniqueName like the app-only one, with its Web redirect URIs. */
export function delegatedApplicationResource(ctx: TenantContext): Resource<AppState> {
  const o = ctx.options;
  const multi = o.multiTenant || ctx.homeTenantId !== ctx.mailboxTenantId;
  const audience = multi ? 'AzureADMultipleOrgs' : 'AzureADMyOrg';
  const wanted = (run: RunState): RequiredResourceAccess[] => {
    const scopes = run.get<GraphScopesState>(DELEGATED_KEYS.graphScopes)!;
    return [
      {
        resourceAppId: MICROSOFT_GRAPH_APP_ID,
        resourceAccess: DELEGATED_SMTP_SCOPES.map((n) => ({ id: scopes.ids[n]!, type: 'Scope' as const })),
      },
    ];
  };
  return {
    key: KEYS.application,
    title: `Application "${ctx.names.displayName}" (${ctx.names.uniqueName}), delegated SMTP.Send`,
    dependsOn: [DELEGATED_KEYS.graphScopes],
    async read() {
      const app = await readApplicationByUniqueName(ctx.homeGraph, ctx.names.uniqueName);
      return app ? { appId: app.appId, app, external: false } : undefined;
    },
    diff(current, run) {
      if (!current?.app)
        return [
          {
            action: 'create',
            what: 'app registration (delegated SMTP.Send, offline_access, openid)',
            to: { displayName: ctx.names.displayName, signInAudience: audience },
          },
        ];
      return applicationChanges(current.app, {
        displayName: ctx.names.displayName,
        multi,
        access: wanted(run),
        permission: { what: 'delegated permissions SMTP.Send, offline_access, openid (Microsoft Graph)', to: 'Scope' },
      });
    },
    async apply(run, _changes, current) {
      const app =
        current?.app ??
        (await upsertApplication(ctx.homeGraph, {
          uniqueName: ctx.names.uniqueName,
          displayName: ctx.names.displayName,
          signInAudience: audience,
          requiredResourceAccess: wanted(run),
        }));
      const patch: Parameters<typeof updateApplication>[2] = {};
      if (app.displayName !== ctx.names.displayName) patch.displayName = ctx.names.displayName;
      if (multi && app.signInAudience === 'AzureADMyOrg') patch.signInAudience = 'AzureADMultipleOrgs';
      const merged = mergeResourceAccess(app.requiredResourceAccess, wanted(run));
      if (merged) patch.requiredResourceAccess = merged;
      if (Object.keys(patch).length > 0) await updateApplication(ctx.homeGraph, app.id, patch);
      const next = { ...app, ...patch } as Application;
      return { appId: next.appId, app: next, external: false };
    },
  };
}

export const REDIRECT_KEY = 'entra.redirectUris';

/**
 * The Web redirect URIs of the sending system's sign-in (delegated SMTP; Business Central on-premises'
 * OAuthLanding.htm also with client credentials). URIs already there are kept.
 */
export function redirectUrisResource(ctx: TenantContext): Resource<{ redirectUris: string[] }> {
  const wanted = ctx.options.redirectUris ?? [];
  const missing = (have: string[]): string[] => {
    const set = new Set(have.map((u) => u.toLowerCase()));
    return wanted.filter((u) => !set.has(u.toLowerCase()));
  };
  return {
    key: REDIRECT_KEY,
    title: `Web redirect URIs (${wanted.join(', ')})`,
    dependsOn: [KEYS.application],
    async read(run) {
      const app = run.get<AppState>(KEYS.application);
      if (!app?.app) return undefined;
      const web = await ctx.homeGraph.find<{ web?: { redirectUris?: string[] } | null }>(
        `/applications/${app.app.id}?$select=web`,
      );
      return { redirectUris: web?.web?.redirectUris ?? [] };
    },
    diff(current, run) {
      if (run.get<AppState>(KEYS.application)?.external) return [];
      const add = missing(current?.redirectUris ?? []);
      return add.length === 0
        ? []
        : [{ action: current ? 'update' : 'create', what: 'Web redirect URIs', to: add.join(' ') }];
    },
    async apply(run, _changes, current) {
      const app = run.get<AppState>(KEYS.application)!.app!;
      // `web.redirectUris` is replaced as a whole: send the ones that are there too.
      const uris = [...(current?.redirectUris ?? []), ...missing(current?.redirectUris ?? [])];
      await ctx.homeGraph.request(
        'PATCH',
        `/applications/${app.id}`,
        { web: { redirectUris: uris } },
        { idempotent: true },
      );
      return { redirectUris: uris };
    },
  };
}

/** The resources of a delegated run: no Exchange service principal, consent or mailbox permission. */
export function delegatedResources(ctx: TenantContext): Resource[] {
  return [
    graphScopesResource(ctx) as Resource,
    delegatedApplicationResource(ctx) as Resource,
    credentialResource(ctx) as Resource,
    servicePrincipalResource(ctx) as Resource,
    smtpAuthResource(ctx) as Resource,
    ...((ctx.options.redirectUris?.length ?? 0) > 0 ? [redirectUrisResource(ctx) as Resource] : []),
  ];
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
