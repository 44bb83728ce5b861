/**
 * `/organization` and `/domains` of the caller's tenant, in the shapes Graph returns.
 */
import type { TenantRecord } from '../state.js';
import { type GraphCall, contextUrl, jsonResult, withSelect } from './call.js';
import { GraphFailure, type GraphResult, denied, notFound, querySyntax } from './errors.js';
import { type Key, checkQueryOptions } from './odata.js';
import { canReadDomains, canReadOrganization } from './permissions.js';

const ORGANIZATION_PROPERTIES = [
  'id',
  'deletedDateTime',
  'businessPhones',
  'city',
  'country',
  'countryLetterCode',
  'createdDateTime',
  'defaultUsageLocation',
  'displayName',
  'isMultipleDataLocationsForServicesEnabled',
  'marketingNotificationEmails',
  'onPremisesLastSyncDateTime',
  'onPremisesSyncEnabled',
  'partnerTenantType',
  'postalCode',
  'preferredLanguage',
  'securityComplianceNotificationMails',
  'securityComplianceNotificationPhones',
  'state',
  'street',
  'technicalNotificationMails',
  'tenantType',
  'directorySizeQuota',
  'assignedPlans',
  'onPremisesSyncStatus',
  'privacyProfile',
  'provisionedPlans',
  'verifiedDomains',
];

const DOMAIN_PROPERTIES = [
  'authenticationType',
  'availabilityStatus',
  'id',
  'isAdminManaged',
  'isDefault',
  'isInitial',
  'isRoot',
  'isVerified',
  'supportedServices',
  'passwordValidityPeriodInDays',
  'passwordNotificationWindowInDays',
  'state',
];

function organization(tenant: TenantRecord): Record<string, unknown> {
  const admin = tenant.users.find((u) => u.directoryRoles.includes('Global Administrator'));
  const objects =
    tenant.users.length + tenant.groups.length + tenant.servicePrincipals.length + tenant.appRoleAssignments.length;
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
    isMultipleDataLocationsForServicesEnabled: null,
    marketingNotificationEmails: [],
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
    directorySizeQuota: { used: objects, total: 50000 },
    assignedPlans: [
      {
        assignedDateTime: tenant.createdDateTime.replace(/\.\d{3}Z$/, 'Z'),
        capabilityStatus: 'Enabled',
        service: 'exchange',
        servicePlanId: '9aaf7827-d63c-4b61-89c3-182f06f82e5c',
      },
    ],
    onPremisesSyncStatus: [],
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
  if (raw === null) return { select: undefined, pick: (o) => o };
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
    pick: (o) => Object.fromEntries(Object.entries(o).filter(([k]) => select.has(k))),
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
