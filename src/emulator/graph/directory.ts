/**
 * `/organization` and `/domains` of the caller's tenant, in the shapes Graph returns.
 */
import { type ApplicationRecord, GUID_RE, type TenantRecord } from '../state.js';
import { APPLICATION_DEFAULTS } from './applications.js';
import { type GraphCall, contextUrl, jsonResult, noContent, withSelect } from './call.js';
import {
  GraphFailure,
  type GraphResult,
  denied,
  invalidObjectId,
  methodNotAllowed,
  notFound,
  querySyntax,
  segmentNotFound,
} from './errors.js';
import { type Key, type Segment, checkQueryOptions, parseSelect } from './odata.js';
import {
  applicationWriteReach,
  canReadDomains,
  canReadOrganization,
  ownsApplication,
  readReach,
  requireReach,
} from './permissions.js';
import { serializeEntity, typeDef } from './model.js';

/** The declared properties of the v1.0 types (graph-v1-types.json), the only ones these answers carry. */
const ORGANIZATION_PROPERTIES = typeDef('organization').properties.map((p) => p.name);
const DOMAIN_PROPERTIES = typeDef('domain').properties.map((p) => p.name);

function organization(tenant: TenantRecord): Record<string, unknown> {
  const admin = tenant.users.find((u) => u.directoryRoles.includes('Global Administrator'));
  return {
    id: tenant.id,
    deletedDateTime: null,
    businessPhones: [],
    city: null,
    country: null,
    countryLetterCode: 'US',
    createdDateTime: tenant.createdDateTime.replace(/\.\d{3}Z$/, 'Z'),
    defaultUsageLocation: null,
    displayName: tenant.displayName,
    marketingNotificationEmails: [],
    mobileDeviceManagementAuthority: 'unknown',
    onPremisesLastSyncDateTime: null,
    onPremisesSyncEnabled: null,
    partnerTenantType: null,
    postalCode: null,
    preferredLanguage: 'en',
    securityComplianceNotificationMails: [],
    securityComplianceNotificationPhones: [],
    state: null,
    street: null,
    technicalNotificationMails: admin ? [admin.entity.mail] : [],
    tenantType: 'AAD',
    assignedPlans: [
      {
        assignedDateTime: tenant.createdDateTime.replace(/\.\d{3}Z$/, 'Z'),
        capabilityStatus: 'Enabled',
        service: 'exchange',
        servicePlanId: '9aaf7827-d63c-4b61-89c3-182f06f82e5c',
      },
    ],
    privacyProfile: null,
    provisionedPlans: [{ capabilityStatus: 'Enabled', provisioningStatus: 'Success', service: 'exchange' }],
    verifiedDomains: tenant.domains.map((name, i) => ({
      capabilities: 'Email, OfficeCommunicationsOnline',
      isDefault: i === 0,
      isInitial: i === 0,
      name,
      type: 'Managed',
    })),
  };
}

function domain(name: string, index: number): Record<string, unknown> {
  return {
    authenticationType: 'Managed',
    availabilityStatus: null,
    id: name,
    isAdminManaged: true,
    isDefault: index === 0,
    isInitial: index === 0,
    isRoot: true,
    isVerified: true,
    supportedServices: ['Email', 'OfficeCommunicationsOnline'],
    passwordValidityPeriodInDays: 2147483647,
    passwordNotificationWindowInDays: 14,
    manufacturer: null,
    model: null,
    state: null,
  };
}

function selectFrom(
  call: GraphCall,
  all: readonly string[],
  typeName: string,
): { select: Set<string> | undefined; pick: (o: Record<string, unknown>) => Record<string, unknown> } {
  checkQueryOptions(call.query);
  if (call.query.has('$filter') || call.query.has('$top') || call.query.has('$skiptoken'))
    throw new GraphFailure(400, 'Request_UnsupportedQuery', 'Unsupported query.');
  const raw = call.query.get('$select');
  // Serialized through the type model: the declared properties, in its order, nothing else.
  if (raw === null) return { select: undefined, pick: (o) => serializeEntity(typeName, o) };
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw querySyntax();
  for (const n of names)
    if (!all.includes(n))
      throw new GraphFailure(
        400,
        'BadRequest',
        `Parsing OData Select and Expand failed: Could not find a property named '${n.slice(0, 64)}' on type 'microsoft.graph.${typeName}'.`,
      );
  const select = new Set(names);
  return {
    select,
    pick: (o) => serializeEntity(typeName, o, { select }),
  };
}

export function listOrganization(call: GraphCall): GraphResult {
  if (!canReadOrganization(call.caller)) throw denied();
  const { select, pick } = selectFrom(call, ORGANIZATION_PROPERTIES, 'organization');
  return jsonResult(200, {
    '@odata.context': contextUrl(call, withSelect('organization', select)),
    value: [pick(organization(call.caller.tenant))],
  });
}

export function getOrganization(call: GraphCall, key: Key): GraphResult {
  if (!canReadOrganization(call.caller)) throw denied();
  const { select, pick } = selectFrom(call, ORGANIZATION_PROPERTIES, 'organization');
  if (key.kind !== 'id' || key.value.toLowerCase() !== call.caller.tenant.id) throw notFound(key.value);
  return jsonResult(200, {
    '@odata.context': contextUrl(call, `${withSelect('organization', select)}/$entity`),
    ...pick(organization(call.caller.tenant)),
  });
}

export function listDomains(call: GraphCall): GraphResult {
  if (!canReadDomains(call.caller)) throw denied();
  const { select, pick } = selectFrom(call, DOMAIN_PROPERTIES, 'domain');
  const tenant = call.caller.tenant;
  return jsonResult(200, {
    '@odata.context': contextUrl(call, withSelect('domains', select)),
    value: tenant.domains.map((d, i) => pick(domain(d, i))),
  });
}

export function getDomain(call: GraphCall, key: Key): GraphResult {
  if (!canReadDomains(call.caller)) throw denied();
  const { select, pick } = selectFrom(call, DOMAIN_PROPERTIES, 'domain');
  const tenant = call.caller.tenant;
  const index = key.kind === 'id' ? tenant.domains.findIndex((d) => d.toLowerCase() === key.value.toLowerCase()) : -1;
  if (index < 0) throw notFound(key.value);
  return jsonResult(200, {
    '@odata.context': contextUrl(call, `${withSelect('domains', select)}/$entity`),
    ...pick(domain(tenant.domains[index]!, index)),
  });
}

// ---- /directory/deletedItems (deleted applications) ----

const DELETED_TYPES = new Set(['microsoft.graph.application', 'graph.application']);

function deletedOfTenant(call: GraphCall): ApplicationRecord[] {
  return (call.ctx.store.world.deletedApplications ?? []).filter((a) => a.homeTenantId === call.caller.tenant.id);
}

function deletedEntity(a: ApplicationRecord, select: ReadonlySet<string> | undefined): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.application',
    ...serializeEntity('application', a.entity, { defaults: APPLICATION_DEFAULTS, select }),
  };
}

/**
 * `/directory/deletedItems/microsoft.graph.application` (list), `/directory/deletedItems/{id}` (GET, DELETE: removed
 * for good) and `/directory/deletedItems/{id}/restore` (POST). Reads need Application.Read.All, the rest
 * Application.ReadWrite.All (or ownership); an id that is not in deleted items is 404.
 */
export function deletedItems(call: GraphCall, head: Segment, tail: Segment[]): GraphResult {
  const [set, item, action, ...more] = tail;
  if (head.key || !set || set.name.toLowerCase() !== 'deleteditems' || set.key)
    throw segmentNotFound(set?.raw ?? head.raw);
  if (!item) throw methodNotAllowed();
  checkQueryOptions(call.query);
  const select = parseSelect(call.query, 'application');
  if (DELETED_TYPES.has(item.name.toLowerCase()) && !item.key) {
    if (action) throw segmentNotFound(action.raw);
    if (call.method !== 'GET') throw methodNotAllowed();
    if (readReach(call.caller) === 'none') throw denied();
    return jsonResult(200, {
      '@odata.context': contextUrl(call, withSelect('directoryObjects', select)),
      value: deletedOfTenant(call).map((a) => deletedEntity(a, select)),
    });
  }
  const id = (item.key?.kind === 'id' ? item.key.value : item.name).toLowerCase();
  if (!GUID_RE.test(id)) throw invalidObjectId(id);
  if (more.length > 0) throw segmentNotFound(more[0]!.raw);
  const { store } = call.ctx;
  const app = deletedOfTenant(call).find((a) => a.entity.id === id);
  const write = (): ApplicationRecord => {
    if (applicationWriteReach(call.caller) === 'none') throw denied();
    if (!app) throw notFound(id);
    requireReach(applicationWriteReach(call.caller), ownsApplication(call.caller, app));
    store.world.deletedApplications = (store.world.deletedApplications ?? []).filter((a) => a !== app);
    return app;
  };
  if (action) {
    if (action.name.toLowerCase().replace(/^microsoft\.graph\./, '') !== 'restore') throw segmentNotFound(action.raw);
    if (call.method !== 'POST') throw methodNotAllowed();
    const restored = write();
    restored.entity.deletedDateTime = null;
    store.world.applications.push(restored);
    store.changed();
    return jsonResult(200, {
      '@odata.context': contextUrl(call, 'directoryObjects/$entity'),
      ...deletedEntity(restored, undefined),
    });
  }
  if (call.method === 'GET') {
    if (readReach(call.caller) === 'none') throw denied();
    if (!app) throw notFound(id);
    return jsonResult(200, {
      '@odata.context': contextUrl(call, `${withSelect('directoryObjects', select)}/$entity`),
      ...deletedEntity(app, select),
    });
  }
  if (call.method === 'DELETE') {
    write();
    store.changed();
    return noContent();
  }
  throw methodNotAllowed();
}
