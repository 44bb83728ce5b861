/**
 * `/applications`: create, list ($filter/$select/$top), get / update / delete by id, `(appId='…')` and
 * `(uniqueName='…')`, the uniqueName upsert (`Prefer: create-if-missing`), addPassword and removePassword.
 * An application lives in its home tenant; other tenants see it only through a service principal.
 */
import { type ApplicationRecord, GUID_RE, newGuid } from '../state.js';
import {
  type GraphCall,
  collectionResult,
  entityResult,
  graphNow,
  jsonResult,
  contextUrl,
  noContent,
  prefersCreate,
  readObjectBody,
  withSelect,
} from './call.js';
import { addPassword, keepPasswordCredentials, removePassword, replaceKeyCredentials } from './credentials.js';
import { GraphFailure, type GraphResult, invalidObjectId, notFound, querySyntax } from './errors.js';
import { checkEntityBody, invalidValue, serializeComplexValue, serializeEntity } from './model.js';
import { type Key, checkQueryOptions, parseListOptions, parseSelect } from './odata.js';
import { applicationWriteReach, ownsApplication, readReach, requireReach } from './permissions.js';

/** What Graph returns for the complex properties of a new application. */
export const APPLICATION_DEFAULTS: Readonly<Record<string, unknown>> = {
  api: {
    acceptMappedClaims: null,
    knownClientApplications: [],
    requestedAccessTokenVersion: null,
    oauth2PermissionScopes: [],
    preAuthorizedApplications: [],
  },
  info: { logoUrl: null, marketingUrl: null, privacyStatementUrl: null, supportUrl: null, termsOfServiceUrl: null },
  parentalControlSettings: { countriesBlockedForMinors: [], legalAgeGroupRule: 'Allow' },
  publicClient: { redirectUris: [] },
  spa: { redirectUris: [] },
  verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
  web: {
    homePageUrl: null,
    logoutUrl: null,
    redirectUris: [],
    implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
    redirectUriSettings: [],
  },
};

const SIGN_IN_AUDIENCES = new Set([
  'AzureADMyOrg',
  'AzureADMultipleOrgs',
  'AzureADandPersonalMicrosoftAccount',
  'PersonalMicrosoftAccount',
]);

const READ_ONLY = new Set([
  'appId',
  'applicationTemplateId',
  'createdByAppId',
  'createdDateTime',
  'deletedDateTime',
  'disabledByMicrosoftStatus',
  'publisherDomain',
  'verifiedPublisher',
  'certification',
]);
const IGNORED = new Set(['id']);
const RESOURCE = 'Application';

/** Applications a call can see: home tenant = caller's tenant, replicated. */
function visibleInTenant(call: GraphCall, app: ApplicationRecord): boolean {
  return app.homeTenantId === call.caller.tenant.id && call.ctx.store.isVisible(app.meta);
}

/** Finds an application of the caller's tenant by id or alternate key (appId, uniqueName). */
export function findApplication(
  call: GraphCall,
  key: Key,
  options: { ignoreReplication?: boolean } = {},
): ApplicationRecord | undefined {
  const tenantId = call.caller.tenant.id;
  const value = key.value.toLowerCase();
  const match =
    key.kind === 'id'
      ? (a: ApplicationRecord) => a.entity.id === value
      : key.property === 'appId'
        ? (a: ApplicationRecord) => a.entity.appId === value
        : (a: ApplicationRecord) => (a.entity.uniqueName ?? '').toLowerCase() === value;
  const app = call.ctx.store.world.applications.find((a) => a.homeTenantId === tenantId && match(a));
  if (!app) return undefined;
  if (!options.ignoreReplication && !call.ctx.store.isVisible(app.meta)) return undefined;
  return app;
}

function checkKey(key: Key): void {
  if (key.kind === 'id') {
    if (!GUID_RE.test(key.value)) throw invalidObjectId(key.value);
    return;
  }
  if (key.property !== 'appId' && key.property !== 'uniqueName') throw querySyntax();
}

/** Resolves `applications/{id}`, `(appId='…')`, `(uniqueName='…')` or answers 400/404. */
export function resolveApplication(call: GraphCall, key: Key): ApplicationRecord {
  checkKey(key);
  const app = findApplication(call, key);
  if (!app) throw notFound(key.value);
  return app;
}

function entitySetContext(select: ReadonlySet<string> | undefined): string {
  return `${withSelect('applications', select)}/$entity`;
}

function serializeApplication(
  app: ApplicationRecord,
  select?: ReadonlySet<string>,
  includeKeys = false,
): Record<string, unknown> {
  return serializeEntity('application', app.entity, { defaults: APPLICATION_DEFAULTS, select, includeKeys });
}

function checkString(value: unknown, property: string, max: number, allowNull: boolean): void {
  if (value === null && allowNull) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalidValue(property, RESOURCE);
}

function uniqueNameTaken(call: GraphCall, uniqueName: string, except: ApplicationRecord | undefined): boolean {
  const key = uniqueName.toLowerCase();
  const tenantId = call.caller.tenant.id;
  return call.ctx.store.world.applications.some(
    (a) => a !== except && a.homeTenantId === tenantId && (a.entity.uniqueName ?? '').toLowerCase() === key,
  );
}

function conflict(property: string): GraphFailure {
  return new GraphFailure(
    409,
    'Request_MultipleObjectsWithSameKeyValue',
    `Another object with the same value for property ${property} already exists.`,
  );
}

function checkRequiredResourceAccess(value: unknown[]): void {
  if (value.length > 50) throw invalidValue('requiredResourceAccess', RESOURCE);
  let total = 0;
  for (const r of value as Array<{ resourceAppId: unknown; resourceAccess: Array<{ id?: unknown; type?: unknown }> }>) {
    if (typeof r.resourceAppId !== 'string' || r.resourceAppId.length === 0 || !Array.isArray(r.resourceAccess))
      throw invalidValue('requiredResourceAccess', RESOURCE);
    for (const a of r.resourceAccess) {
      if (typeof a.id !== 'string' || (a.type !== 'Role' && a.type !== 'Scope'))
        throw invalidValue('requiredResourceAccess', RESOURCE);
      total += 1;
    }
  }
  if (total > 400) throw invalidValue('requiredResourceAccess', RESOURCE);
}

function checkAppRoles(value: unknown[]): void {
  const ids = new Set<string>();
  for (const r of value as Array<Record<string, unknown>>) {
    if (typeof r.id !== 'string' || ids.has(r.id.toLowerCase())) throw invalidValue('appRoles', RESOURCE);
    if (!Array.isArray(r.allowedMemberTypes) || r.allowedMemberTypes.length === 0)
      throw invalidValue('appRoles', RESOURCE);
    ids.add(r.id.toLowerCase());
  }
}

function lowerGuids<T extends Record<string, unknown>>(items: T[], field: string): T[] {
  return items.map((i) => (typeof i[field] === 'string' ? { ...i, [field]: (i[field] as string).toLowerCase() } : i));
}

/**
 * Applies checked body properties to an application (new or existing). Returns whether anything a service principal
 * mirrors (appRoles, scopes, names, audience) changed.
 */
function applyProperties(
  call: GraphCall,
  app: ApplicationRecord,
  props: Map<string, unknown>,
  existing: boolean,
): boolean {
  let mirrored = false;
  const entity = app.entity as Record<string, unknown>;
  for (const [name, value] of props) {
    switch (name) {
      case 'displayName':
        checkString(value, name, 256, existing);
        entity.displayName = value;
        mirrored = true;
        break;
      case 'uniqueName': {
        checkString(value, name, 256, false);
        const v = value as string;
        const current = app.entity.uniqueName;
        if (current !== null && current !== undefined) {
          if (current.toLowerCase() !== v.toLowerCase()) throw invalidValue('uniqueName', RESOURCE);
          break;
        }
        if (uniqueNameTaken(call, v, app)) throw conflict('uniqueName');
        entity.uniqueName = v;
        break;
      }
      case 'signInAudience':
        if (typeof value !== 'string' || !SIGN_IN_AUDIENCES.has(value)) throw invalidValue(name, RESOURCE);
        entity.signInAudience = value;
        mirrored = true;
        break;
      case 'requiredResourceAccess':
        checkRequiredResourceAccess(value as unknown[]);
        entity.requiredResourceAccess = (
          value as Array<{ resourceAppId: string; resourceAccess: Array<{ id: string; type: string }> }>
        ).map((r) => ({
          resourceAppId: r.resourceAppId.toLowerCase(),
          resourceAccess: lowerGuids(r.resourceAccess, 'id'),
        }));
        break;
      case 'appRoles':
        checkAppRoles(value as unknown[]);
        entity.appRoles = lowerGuids(value as Array<Record<string, unknown>>, 'id');
        mirrored = true;
        break;
      case 'passwordCredentials': {
        const kept = new Set(keepPasswordCredentials(existing ? app : undefined, value as unknown[]));
        app.entity.passwordCredentials = app.entity.passwordCredentials.filter((c) => kept.has(c.keyId.toLowerCase()));
        app.secrets = app.secrets.filter((s) => kept.has(s.keyId.toLowerCase()));
        break;
      }
      case 'keyCredentials':
        app.entity.keyCredentials = replaceKeyCredentials(app.entity.keyCredentials, value as unknown[]);
        break;
      case 'notes':
      case 'description':
        if (typeof value === 'string' && value.length > 1024) throw invalidValue(name, RESOURCE);
        entity[name] = value;
        mirrored = mirrored || name === 'description';
        break;
      case 'api':
      case 'web':
      case 'spa':
      case 'publicClient':
      case 'info':
      case 'parentalControlSettings': {
        // A complex value in a PATCH is merged over what the object has (or Graph's defaults).
        const base = (entity[name] ?? APPLICATION_DEFAULTS[name] ?? {}) as Record<string, unknown>;
        entity[name] = value === null ? null : { ...base, ...(value as Record<string, unknown>) };
        mirrored = mirrored || name === 'api' || name === 'info';
        break;
      }
      default:
        entity[name] = value;
    }
  }
  return mirrored;
}

/** Keeps the service principals of an application in step with it (appRoles, scopes, names), in every tenant. */
function mirrorToServicePrincipals(call: GraphCall, app: ApplicationRecord): void {
  const api = (app.entity.api ?? APPLICATION_DEFAULTS.api) as { oauth2PermissionScopes?: unknown[] };
  for (const tenant of call.ctx.store.world.tenants) {
    const sp = call.ctx.store.servicePrincipalByAppId(tenant, app.entity.appId);
    if (!sp) continue;
    const e = sp.entity as Record<string, unknown>;
    e.appDisplayName = app.entity.displayName;
    e.appDescription = app.entity.description ?? null;
    e.signInAudience = app.entity.signInAudience;
    e.appRoles = structuredClone((app.entity.appRoles as unknown[] | undefined) ?? []);
    e.oauth2PermissionScopes = structuredClone(api.oauth2PermissionScopes ?? []);
    e.info = structuredClone(app.entity.info ?? APPLICATION_DEFAULTS.info);
  }
}

function checkBody(body: Record<string, unknown>): Map<string, unknown> {
  return checkEntityBody('application', body, { resource: RESOURCE, readOnly: READ_ONLY, ignored: IGNORED });
}

/** Creates an application in the caller's tenant from checked properties. */
function createApplication(call: GraphCall, props: Map<string, unknown>): ApplicationRecord {
  const { store } = call.ctx;
  const tenant = call.caller.tenant;
  if (!props.has('displayName') || typeof props.get('displayName') !== 'string')
    throw invalidValue('displayName', RESOURCE);
  const app: ApplicationRecord = {
    entity: {
      id: newGuid(),
      appId: newGuid(),
      displayName: null,
      uniqueName: null,
      signInAudience: 'AzureADMyOrg',
      requiredResourceAccess: [],
      passwordCredentials: [],
      keyCredentials: [],
      createdDateTime: graphNow(store.now()),
      createdByAppId: call.caller.appId,
      publisherDomain: tenant.domains[0] ?? null,
      identifierUris: [],
      tags: [],
      appRoles: [],
      ...structuredClone(APPLICATION_DEFAULTS),
    },
    meta: store.newMeta(),
    homeTenantId: tenant.id,
    secrets: [],
  };
  applyProperties(call, app, props, false);
  store.world.applications.push(app);
  store.changed();
  return app;
}

function writeReachFor(call: GraphCall, app: ApplicationRecord): void {
  requireReach(applicationWriteReach(call.caller), ownsApplication(call.caller, app));
}

// ---- handlers ----

export function listApplications(call: GraphCall): GraphResult {
  const reach = readReach(call.caller);
  requireReach(reach === 'none' ? 'none' : 'all');
  const options = parseListOptions(
    call.query,
    'application',
    {
      id: (e) => e.id,
      appId: (e) => e.appId,
      displayName: (e) => e.displayName,
      uniqueName: (e) => e.uniqueName,
    },
    RESOURCE,
    call.headers,
  );
  const items = call.ctx.store.world.applications.filter(
    (a) =>
      visibleInTenant(call, a) &&
      (reach === 'all' || ownsApplication(call.caller, a)) &&
      (!options.filter || options.filter(a.entity)),
  );
  return collectionResult(call, withSelect('applications', options.select), items, options, (a) =>
    serializeApplication(a, options.select),
  );
}

export function postApplication(call: GraphCall): GraphResult {
  requireReach(applicationWriteReach(call.caller) === 'none' ? 'none' : 'all');
  checkQueryOptions(call.query);
  const props = checkBody(readObjectBody(call, true));
  const app = createApplication(call, props);
  return entityResult(call, 201, 'applications/$entity', 'application', app.entity, { defaults: APPLICATION_DEFAULTS });
}

export function getApplication(call: GraphCall, key: Key): GraphResult {
  const reach = readReach(call.caller);
  requireReach(reach === 'none' ? 'none' : 'all');
  checkQueryOptions(call.query);
  const select = parseSelect(call.query, 'application');
  const app = resolveApplication(call, key);
  requireReach(reach, ownsApplication(call.caller, app));
  return jsonResult(200, {
    '@odata.context': contextUrl(call, entitySetContext(select)),
    ...serializeApplication(app, select, select?.has('keyCredentials') === true),
  });
}

export function patchApplication(call: GraphCall, key: Key): GraphResult {
  const { store } = call.ctx;
  const reach = applicationWriteReach(call.caller);
  requireReach(reach === 'none' ? 'none' : 'all');
  checkKey(key);
  checkQueryOptions(call.query);
  const body = readObjectBody(call, true);
  const props = checkBody(body);
  const upsert = key.kind === 'alt' && key.property === 'uniqueName';
  // The uniqueName upsert reads the directory's own copy: a just-created object is found even before it replicates.
  const app = findApplication(call, key, { ignoreReplication: upsert });
  if (!app) {
    if (!upsert || !prefersCreate(call)) throw notFound(key.value);
    const given = props.get('uniqueName');
    if (given !== undefined && (typeof given !== 'string' || given.toLowerCase() !== key.value.toLowerCase()))
      throw invalidValue('uniqueName', RESOURCE);
    props.set('uniqueName', key.value);
    const created = createApplication(call, props);
    return entityResult(call, 201, 'applications/$entity', 'application', created.entity, {
      defaults: APPLICATION_DEFAULTS,
    });
  }
  writeReachFor(call, app);
  // Check everything on a copy first, so that a refused PATCH changes nothing.
  const draft: ApplicationRecord = {
    ...app,
    entity: { ...app.entity },
    secrets: [...app.secrets],
  };
  const mirrored = applyProperties(call, draft, props, true);
  app.entity = draft.entity;
  app.secrets = draft.secrets;
  if (mirrored) mirrorToServicePrincipals(call, app);
  store.changed();
  return noContent();
}

export function deleteApplication(call: GraphCall, key: Key): GraphResult {
  const { store } = call.ctx;
  const reach = applicationWriteReach(call.caller);
  requireReach(reach === 'none' ? 'none' : 'all');
  checkQueryOptions(call.query);
  const app = resolveApplication(call, key);
  writeReachFor(call, app);
  const index = store.world.applications.indexOf(app);
  if (index >= 0) store.world.applications.splice(index, 1);
  // Soft-deleted: kept in the directory's deleted items with its deletedDateTime (`/directory/deletedItems`).
  app.entity.deletedDateTime = graphNow(store.now());
  (store.world.deletedApplications ??= []).push(app);
  // Its service principal in the home tenant goes with it (other tenants keep theirs, orphaned, as in Entra).
  const home = store.tenantById(app.homeTenantId);
  if (home) {
    const sp = store.servicePrincipalByAppId(home, app.entity.appId);
    if (sp) {
      home.servicePrincipals = home.servicePrincipals.filter((s) => s !== sp);
      home.appRoleAssignments = home.appRoleAssignments.filter(
        (a) => a.entity.principalId !== sp.entity.id && a.entity.resourceId !== sp.entity.id,
      );
    }
  }
  store.changed();
  return noContent();
}

export function addPasswordHandler(call: GraphCall, key: Key): GraphResult {
  const reach = applicationWriteReach(call.caller);
  requireReach(reach === 'none' ? 'none' : 'all');
  checkQueryOptions(call.query);
  const body = readObjectBody(call, false);
  const app = resolveApplication(call, key);
  writeReachFor(call, app);
  const credential = addPassword(app, call.caller.tenant, body, call.ctx.store.now());
  call.ctx.store.changed();
  return jsonResult(200, {
    '@odata.context': contextUrl(call, 'microsoft.graph.passwordCredential'),
    ...serializeComplexValue('passwordCredential', credential, { includeSecretText: true }),
  });
}

export function removePasswordHandler(call: GraphCall, key: Key): GraphResult {
  const reach = applicationWriteReach(call.caller);
  requireReach(reach === 'none' ? 'none' : 'all');
  checkQueryOptions(call.query);
  const body = readObjectBody(call, true);
  const app = resolveApplication(call, key);
  writeReachFor(call, app);
  removePassword(app, body, (createdAtMs) => call.ctx.store.isVisible({ createdAtMs }));
  call.ctx.store.changed();
  return noContent();
}
