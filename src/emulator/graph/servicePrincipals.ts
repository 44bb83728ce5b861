/**
 * `/servicePrincipals`: create from an appId (the application must exist, be replicated, and be visible from the
 * caller's tenant: its home tenant, or any tenant for a multi-tenant app), list ($filter/$select/$top), get / update
 * / delete by id or `(appId='…')`, and the appId upsert (`Prefer: create-if-missing`).
 */
import { type ApplicationRecord, type ServicePrincipalRecord, type TenantRecord, GUID_RE, newGuid } from '../state.js';
import {
  type GraphCall,
  collectionResult,
  contextUrl,
  entityResult,
  jsonResult,
  noContent,
  prefersCreate,
  readObjectBody,
  withSelect,
} from './call.js';
import { APPLICATION_DEFAULTS } from './applications.js';
import { replaceKeyCredentials } from './credentials.js';
import { GraphFailure, type GraphResult, invalidObjectId, notFound, querySyntax } from './errors.js';
import { checkEntityBody, invalidValue, serializeEntity } from './model.js';
import { type Key, checkQueryOptions, parseListOptions, parseSelect } from './odata.js';
import { ownsServicePrincipal, readReach, requireReach, servicePrincipalWriteReach } from './permissions.js';

const RESOURCE = 'ServicePrincipal';
const READ_ONLY = new Set([
  'appDescription',
  'appDisplayName',
  'appOwnerOrganizationId',
  'applicationTemplateId',
  'appRoles',
  'createdByAppId',
  'deletedDateTime',
  'disabledByMicrosoftStatus',
  'oauth2PermissionScopes',
  'resourceSpecificApplicationPermissions',
  'signInAudience',
  'verifiedPublisher',
]);
const IGNORED = new Set(['id']);

/** Single-tenant audiences: such an application gets a service principal in its home tenant only. */
const SINGLE_TENANT = new Set(['AzureADMyOrg', 'PersonalMicrosoftAccount']);

export function findServicePrincipal(
  call: GraphCall,
  key: Key,
  options: { ignoreReplication?: boolean } = {},
): ServicePrincipalRecord | undefined {
  const tenant = call.caller.tenant;
  const { store } = call.ctx;
  const sp =
    key.kind === 'id'
      ? store.servicePrincipalById(tenant, key.value)
      : store.servicePrincipalByAppId(tenant, key.value);
  if (!sp || (!options.ignoreReplication && !store.isVisible(sp.meta))) return undefined;
  return sp;
}

function checkKey(key: Key): void {
  if (key.kind === 'id') {
    if (!GUID_RE.test(key.value)) throw invalidObjectId(key.value);
    return;
  }
  if (key.property !== 'appId') throw querySyntax();
}

/** Resolves `servicePrincipals/{id}` or `(appId='…')` in the caller's tenant, or answers 400/404. */
export function resolveServicePrincipal(call: GraphCall, key: Key): ServicePrincipalRecord {
  checkKey(key);
  const sp = findServicePrincipal(call, key);
  if (!sp) throw notFound(key.value);
  return sp;
}

function serializeServicePrincipal(sp: ServicePrincipalRecord, select?: ReadonlySet<string>): Record<string, unknown> {
  return serializeEntity('servicePrincipal', sp.entity, {
    select,
    includeKeys: select?.has('keyCredentials') === true,
  });
}

function backingApplication(call: GraphCall, sp: ServicePrincipalRecord): ApplicationRecord | undefined {
  return sp.firstParty ? undefined : call.ctx.store.applicationByAppId(sp.entity.appId);
}

function noBackingApplication(appId: string): GraphFailure {
  const message = `The appId '${appId}' of the service principal does not reference a valid application object.`;
  return new GraphFailure(400, 'Request_BadRequest', message, [
    { code: 'NoBackingApplicationObject', target: 'appId', message },
  ]);
}

function duplicate(appId: string): GraphFailure {
  return new GraphFailure(
    409,
    'Request_MultipleObjectsWithSameKeyValue',
    `The service principal cannot be created, updated, or restored because the service principal name ${appId} is already in use.`,
  );
}

/** The application a new service principal in `tenant` would stand for, as the directory sees it now. */
function applicationFor(call: GraphCall, tenant: TenantRecord, appId: string): ApplicationRecord {
  const app = call.ctx.store.applicationByAppId(appId);
  if (!app || !call.ctx.store.isVisible(app.meta)) throw noBackingApplication(appId);
  if (app.homeTenantId !== tenant.id && SINGLE_TENANT.has(app.entity.signInAudience)) throw noBackingApplication(appId);
  return app;
}

function applyProperties(sp: ServicePrincipalRecord, props: Map<string, unknown>): void {
  const entity = sp.entity as Record<string, unknown>;
  for (const [name, value] of props) {
    switch (name) {
      case 'appId':
        if (typeof value !== 'string' || value.toLowerCase() !== sp.entity.appId) throw invalidValue('appId', RESOURCE);
        break;
      case 'displayName':
        if (value !== null && (typeof value !== 'string' || value.length > 256)) throw invalidValue(name, RESOURCE);
        entity.displayName = value;
        break;
      case 'passwordCredentials':
        if ((value as unknown[]).length > 0)
          throw new GraphFailure(
            400,
            'Request_BadRequest',
            'New password credentials must be generated using service actions.',
          );
        entity.passwordCredentials = [];
        break;
      case 'keyCredentials':
        entity.keyCredentials = replaceKeyCredentials(
          (entity.keyCredentials as Parameters<typeof replaceKeyCredentials>[0] | undefined) ?? [],
          value as unknown[],
        );
        break;
      case 'notes':
        // Graph: "Maximum allowed size is 1,024 characters."
        if (value !== null && (typeof value !== 'string' || value.length > 1024)) throw invalidValue(name, RESOURCE);
        entity.notes = value;
        break;
      default:
        entity[name] = value;
    }
  }
}

function checkBody(body: Record<string, unknown>): Map<string, unknown> {
  return checkEntityBody('servicePrincipal', body, { resource: RESOURCE, readOnly: READ_ONLY, ignored: IGNORED });
}

/** Creates the service principal of `appId` in the caller's tenant. */
function createServicePrincipal(call: GraphCall, appId: string, props: Map<string, unknown>): ServicePrincipalRecord {
  const { store } = call.ctx;
  const tenant = call.caller.tenant;
  const key = appId.toLowerCase();
  if (store.servicePrincipalByAppId(tenant, key)) throw duplicate(key);
  const app = applicationFor(call, tenant, key);
  const reach = servicePrincipalWriteReach(call.caller);
  requireReach(reach, app.entity.createdByAppId === call.caller.appId && call.caller.kind === 'app');
  const web = (app.entity.web ?? APPLICATION_DEFAULTS.web) as {
    homePageUrl?: unknown;
    logoutUrl?: unknown;
    redirectUris?: unknown[];
  };
  const api = (app.entity.api ?? APPLICATION_DEFAULTS.api) as { oauth2PermissionScopes?: unknown[] };
  const identifierUris = (app.entity.identifierUris as string[] | undefined) ?? [];
  const sp: ServicePrincipalRecord = {
    entity: {
      id: newGuid(),
      accountEnabled: true,
      appDescription: app.entity.description ?? null,
      appDisplayName: app.entity.displayName,
      appId: app.entity.appId,
      appOwnerOrganizationId: app.homeTenantId,
      appRoleAssignmentRequired: false,
      appRoles: structuredClone(
        (app.entity.appRoles as ServicePrincipalRecord['entity']['appRoles'] | undefined) ?? [],
      ),
      createdByAppId: call.caller.appId,
      displayName: app.entity.displayName,
      homepage: web.homePageUrl ?? null,
      info: structuredClone(app.entity.info ?? APPLICATION_DEFAULTS.info),
      logoutUrl: web.logoutUrl ?? null,
      oauth2PermissionScopes: structuredClone(api.oauth2PermissionScopes ?? []),
      replyUrls: [...(web.redirectUris ?? [])],
      servicePrincipalNames: [app.entity.appId, ...identifierUris],
      servicePrincipalType: 'Application',
      signInAudience: app.entity.signInAudience,
      tags: [],
      verifiedPublisher: structuredClone(app.entity.verifiedPublisher ?? APPLICATION_DEFAULTS.verifiedPublisher),
    },
    meta: store.newMeta(),
    directoryRoles: [],
    firstParty: false,
  };
  applyProperties(sp, props);
  tenant.servicePrincipals.push(sp);
  store.changed();
  return sp;
}

function writeReachFor(call: GraphCall, sp: ServicePrincipalRecord): void {
  requireReach(
    servicePrincipalWriteReach(call.caller),
    ownsServicePrincipal(call.caller, sp, backingApplication(call, sp)),
  );
}

/** Removes a service principal and every app role assignment it takes part in. */
export function removeServicePrincipal(tenant: TenantRecord, sp: ServicePrincipalRecord): void {
  tenant.servicePrincipals = tenant.servicePrincipals.filter((s) => s !== sp);
  tenant.appRoleAssignments = tenant.appRoleAssignments.filter(
    (a) => a.entity.principalId !== sp.entity.id && a.entity.resourceId !== sp.entity.id,
  );
}

// ---- handlers ----

export function listServicePrincipals(call: GraphCall): GraphResult {
  const reach = readReach(call.caller);
  requireReach(reach === 'none' ? 'none' : 'all');
  const options = parseListOptions(
    call.query,
    'servicePrincipal',
    { id: (e) => e.id, appId: (e) => e.appId, displayName: (e) => e.displayName },
    RESOURCE,
    call.headers,
  );
  const { store } = call.ctx;
  const items = call.caller.tenant.servicePrincipals.filter(
    (s) =>
      store.isVisible(s.meta) &&
      (reach === 'all' || ownsServicePrincipal(call.caller, s, backingApplication(call, s))) &&
      (!options.filter || options.filter(s.entity)),
  );
  return collectionResult(call, withSelect('servicePrincipals', options.select), items, options, (s) =>
    serializeServicePrincipal(s, options.select),
  );
}

export function postServicePrincipal(call: GraphCall): GraphResult {
  requireReach(servicePrincipalWriteReach(call.caller) === 'none' ? 'none' : 'all');
  checkQueryOptions(call.query);
  const props = checkBody(readObjectBody(call, true));
  const appId = props.get('appId');
  if (typeof appId !== 'string' || appId.length === 0) throw invalidValue('appId', RESOURCE);
  const sp = createServicePrincipal(call, appId, props);
  return entityResult(call, 201, 'servicePrincipals/$entity', 'servicePrincipal', sp.entity);
}

export function getServicePrincipal(call: GraphCall, key: Key): GraphResult {
  const reach = readReach(call.caller);
  requireReach(reach === 'none' ? 'none' : 'all');
  checkQueryOptions(call.query);
  const select = parseSelect(call.query, 'servicePrincipal');
  const sp = resolveServicePrincipal(call, key);
  requireReach(reach, ownsServicePrincipal(call.caller, sp, backingApplication(call, sp)));
  return jsonResult(200, {
    '@odata.context': contextUrl(call, `${withSelect('servicePrincipals', select)}/$entity`),
    ...serializeServicePrincipal(sp, select),
  });
}

export function patchServicePrincipal(call: GraphCall, key: Key): GraphResult {
  const { store } = call.ctx;
  requireReach(servicePrincipalWriteReach(call.caller) === 'none' ? 'none' : 'all');
  checkKey(key);
  checkQueryOptions(call.query);
  const props = checkBody(readObjectBody(call, true));
  // The appId upsert reads the directory's own copy: a just-created object is found even before it replicates.
  const sp = findServicePrincipal(call, key, { ignoreReplication: key.kind === 'alt' });
  if (!sp) {
    if (key.kind !== 'alt' || !prefersCreate(call)) throw notFound(key.value);
    const given = props.get('appId');
    if (given !== undefined && (typeof given !== 'string' || given.toLowerCase() !== key.value.toLowerCase()))
      throw invalidValue('appId', RESOURCE);
    const created = createServicePrincipal(call, key.value, props);
    return entityResult(call, 201, 'servicePrincipals/$entity', 'servicePrincipal', created.entity);
  }
  writeReachFor(call, sp);
  const draft: ServicePrincipalRecord = { ...sp, entity: { ...sp.entity } };
  applyProperties(draft, props);
  sp.entity = draft.entity;
  store.changed();
  return noContent();
}

export function deleteServicePrincipal(call: GraphCall, key: Key): GraphResult {
  requireReach(servicePrincipalWriteReach(call.caller) === 'none' ? 'none' : 'all');
  checkQueryOptions(call.query);
  const sp = resolveServicePrincipal(call, key);
  writeReachFor(call, sp);
  removeServicePrincipal(call.caller.tenant, sp);
  call.ctx.store.changed();
  return noContent();
}
