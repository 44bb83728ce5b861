/**
 * Admin consent: `/{tenant}/adminconsent` (v1) and `/{tenant}/v2.0/adminconsent`. The emulated administrator
 * approves (or, with `knobs.consent = 'deny'`, declines); approval installs the app in the tenant — its service
 * principal and the app role assignments of its requiredResourceAccess — and redirects back to the app's registered
 * Web reply URL (an app without one gets AADSTS500113, as on Entra).
 */
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse } from '../http.js';
import type { EmulatorStore } from '../store.js';
import {
  newGuid,
  type AppRoleAssignmentRecord,
  type ApplicationRecord,
  type ServicePrincipalRecord,
  type TenantRecord,
} from '../state.js';
import { errors, htmlErrorPage, type AadError } from './errors.js';
import { isAadError, resolveTenant } from './tenant.js';

export interface AdminConsentResult {
  servicePrincipal: ServicePrincipalRecord;
  /** False when the app already had a service principal in the tenant. */
  createdServicePrincipal: boolean;
  /** The app role assignments this consent added (existing ones are kept, not repeated). */
  addedAssignments: AppRoleAssignmentRecord[];
}

type AppRole = ServicePrincipalRecord['entity']['appRoles'][number];

function appRolesOf(app: ApplicationRecord): AppRole[] {
  const roles = Array.isArray(app.entity.appRoles) ? (app.entity.appRoles as Array<Record<string, unknown>>) : [];
  return roles.map((r) => ({
    allowedMemberTypes: Array.isArray(r.allowedMemberTypes) ? r.allowedMemberTypes.map(String) : [],
    description: typeof r.description === 'string' ? r.description : null,
    displayName: typeof r.displayName === 'string' ? r.displayName : null,
    id: String(r.id),
    isEnabled: r.isEnabled !== false,
    origin: 'Application',
    value: typeof r.value === 'string' ? r.value : null,
  }));
}

/**
 * Installs `app` in `tenant` as an administrator's consent does: creates its service principal if missing (Graph
 * shape, app roles copied, owned by the home tenant) and one app role assignment per application permission
 * (`type: 'Role'`) of its requiredResourceAccess whose resource has a service principal in the tenant.
 * Shared with other services (Graph does not create service principals through consent itself).
 */
export function grantAdminConsent(
  store: EmulatorStore,
  tenant: TenantRecord,
  app: ApplicationRecord,
): AdminConsentResult {
  const appId = app.entity.appId;
  const nowIso = new Date(store.now()).toISOString();
  let sp = store.servicePrincipalByAppId(tenant, appId);
  let createdServicePrincipal = false;
  if (!sp) {
    sp = {
      entity: {
        id: newGuid(),
        appId,
        displayName: app.entity.displayName,
        appDisplayName: app.entity.displayName,
        accountEnabled: true,
        appOwnerOrganizationId: app.homeTenantId,
        servicePrincipalType: 'Application',
        servicePrincipalNames: [appId],
        signInAudience: app.entity.signInAudience,
        tags: [],
        appRoles: appRolesOf(app),
        createdDateTime: nowIso,
      },
      meta: store.newMeta(),
      directoryRoles: [],
      firstParty: false,
    };
    tenant.servicePrincipals.push(sp);
    createdServicePrincipal = true;
  }
  const principal = sp;
  const addedAssignments: AppRoleAssignmentRecord[] = [];
  for (const rra of app.entity.requiredResourceAccess ?? []) {
    const resource = store.servicePrincipalByAppId(tenant, rra.resourceAppId);
    if (!resource) continue;
    for (const access of rra.resourceAccess) {
      if (access.type !== 'Role') continue;
      const role = resource.entity.appRoles.find((r) => r.id === access.id);
      if (!role) continue;
      const exists = tenant.appRoleAssignments.some(
        (a) =>
          a.entity.principalId === principal.entity.id &&
          a.entity.resourceId === resource.entity.id &&
          a.entity.appRoleId === role.id,
      );
      if (exists) continue;
      const assignment: AppRoleAssignmentRecord = {
        entity: {
          id: newGuid(),
          appRoleId: role.id,
          principalId: principal.entity.id,
          principalType: 'ServicePrincipal',
          principalDisplayName: principal.entity.displayName,
          resourceId: resource.entity.id,
          resourceDisplayName: resource.entity.displayName,
          createdDateTime: nowIso,
          deletedDateTime: null,
        },
        meta: store.newMeta(),
      };
      tenant.appRoleAssignments.push(assignment);
      addedAssignments.push(assignment);
    }
  }
  if (createdServicePrincipal || addedAssignments.length > 0) store.changed();
  return { servicePrincipal: principal, createdServicePrincipal, addedAssignments };
}

function redirect(location: string): EmulatorResponse {
  return { status: 302, headers: { Location: location, 'Cache-Control': 'no-store, no-cache' } };
}

function withQuery(uri: string, params: Array<[string, string | null]>): string {
  const query = new URLSearchParams();
  for (const [k, v] of params) if (v !== null) query.append(k, v);
  const [base, fragment] = uri.split('#', 2) as [string, string | undefined];
  return `${base}${base.includes('?') ? '&' : '?'}${query.toString()}${fragment !== undefined ? `#${fragment}` : ''}`;
}

/** The tenant the emulated administrator belongs to, for the multi-tenant aliases (their sign-in decides it). */
function tenantFromHints(ctx: EmulatorContext, req: EmulatorRequest): TenantRecord | undefined {
  const domainHint = req.url.searchParams.get('domain_hint');
  if (domainHint) return ctx.store.findTenant(domainHint);
  const loginHint = req.url.searchParams.get('login_hint')?.toLowerCase();
  if (!loginHint) return undefined;
  return ctx.store.world.tenants.find((t) => t.users.some((u) => u.entity.userPrincipalName === loginHint));
}

/** GET /{tenant}/adminconsent and /{tenant}/v2.0/adminconsent */
export function adminConsent(
  ctx: EmulatorContext,
  req: EmulatorRequest,
  segment: string,
  version: 'v1' | 'v2',
): EmulatorResponse {
  const { store } = ctx;
  const q = req.url.searchParams;
  const page = (e: AadError): EmulatorResponse => htmlErrorPage(req, e);
  req.log.write = false;

  const resolved = resolveTenant(store, segment);
  if (isAadError(resolved)) return page(resolved);
  let tenant: TenantRecord | undefined;
  if (resolved.kind === 'tenant') tenant = resolved.tenant;
  else if (resolved.alias !== 'consumers') tenant = tenantFromHints(ctx, req);
  if (!tenant) return page(errors.noTenantInformation());
  req.log.tenantId = tenant.id;

  const clientId = q.get('client_id');
  if (!clientId) return page(errors.missingParameter('client_id'));
  req.log.caller = clientId.toLowerCase();
  const app = store.applicationByAppId(clientId);
  // A single-tenant app exists only in its home tenant.
  if (
    !app ||
    !store.isVisible(app.meta) ||
    (app.entity.signInAudience === 'AzureADMyOrg' && app.homeTenantId !== tenant.id)
  )
    return page(errors.applicationNotFound(clientId, tenant.displayName));

  // The reply URL: v2 requires redirect_uri [v2-admin-consent]; the app must have a Web reply URL registered
  // (AADSTS500113 otherwise), and the one asked for must be one of them, exactly (AADSTS50011). m365-facts §8.
  const web = app.entity.web as { redirectUris?: unknown } | undefined;
  const registered = Array.isArray(web?.redirectUris) ? web.redirectUris.map(String) : [];
  const requestedRedirect = q.get('redirect_uri');
  if (version === 'v2' && !requestedRedirect) return page(errors.missingParameter('redirect_uri'));
  if (registered.length === 0) return page(errors.noReplyAddress());
  if (requestedRedirect !== null && !registered.includes(requestedRedirect))
    return page(errors.redirectUriMismatch(requestedRedirect, app.entity.appId));
  const target = requestedRedirect ?? registered[0]!;
  const state = q.get('state');
  const scope = q.get('scope');

  if (store.knobs.consent === 'deny') {
    const e = errors.consentDeclined();
    return redirect(
      withQuery(target, [
        ['error', 'access_denied'],
        ['error_subcode', 'cancel'],
        ['error_description', `AADSTS${e.code}: ${e.message}`],
        ['state', state],
      ]),
    );
  }

  const result = grantAdminConsent(store, tenant, app);
  req.log.write = result.createdServicePrincipal || result.addedAssignments.length > 0;
  return redirect(
    withQuery(target, [
      ['admin_consent', 'True'],
      ['tenant', tenant.id],
      ['scope', version === 'v2' ? scope : null],
      ['state', state],
    ]),
  );
}
