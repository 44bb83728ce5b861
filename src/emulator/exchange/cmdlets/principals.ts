/**
 * Service principals and RBAC for Applications: Get/New/Remove-ServicePrincipal, Get/New/Remove-ManagementScope,
 * Get/New/Remove-ManagementRoleAssignment, Test-ServicePrincipalAuthorization.
 */
import type { EmulatorStore } from '../../store.js';
import type {
  ExchangeServicePrincipal,
  ManagementRoleAssignmentRecord,
  ManagementScopeRecord,
  TenantRecord,
  UserRecord,
} from '../../state.js';
import { RBAC_SMTP_ROLE, evaluateRbac, recipientFilterMatches } from '../authorization.js';
import { aadServicePrincipalNotFound, alreadyExists, dataValidation, invalidOperation, notFound } from '../errors.js';
import {
  findServicePrincipals,
  output,
  resolveMailbox,
  resolveServicePrincipal,
  roleAssignmentDn,
  roleAssignmentRow,
  scopeDn,
  scopeRow,
  servicePrincipalDn,
  servicePrincipalRow,
} from '../model.js';
import { bool, confirmAndWhatIf, enumOne, str, sw, type EnumType } from '../params.js';
import { filterError, parameterSetConflict, requireGuid, type CmdletDefinition } from './common.js';

/** The application roles of RBAC for Applications and the permissions each grants. */
export const APPLICATION_ROLES: Record<string, string[]> = {
  'Application Mail.Read': ['Mail.Read'],
  'Application Mail.ReadBasic': ['Mail.ReadBasic'],
  'Application Mail.ReadWrite': ['Mail.ReadWrite'],
  'Application Mail.Send': ['Mail.Send'],
  'Application MailboxSettings.Read': ['MailboxSettings.Read'],
  'Application MailboxSettings.ReadWrite': ['MailboxSettings.ReadWrite'],
  'Application Calendars.Read': ['Calendars.Read'],
  'Application Calendars.ReadWrite': ['Calendars.ReadWrite'],
  'Application Contacts.Read': ['Contacts.Read'],
  'Application Contacts.ReadWrite': ['Contacts.ReadWrite'],
  'Application Mail Full Access': ['Mail.ReadWrite', 'Mail.Send'],
  'Application Exchange Full Access': [
    'Mail.ReadWrite',
    'Mail.Send',
    'MailboxSettings.ReadWrite',
    'Calendars.ReadWrite',
    'Contacts.ReadWrite',
  ],
  'Application EWS.AccessAsApp': ['EWS.AccessAsApp'],
  [RBAC_SMTP_ROLE]: ['SMTP.SendAsApp'],
};

function canonicalRole(role: string): string {
  const found = Object.keys(APPLICATION_ROLES).find((r) => r.toLowerCase() === role.trim().toLowerCase());
  if (!found) throw notFound(role);
  return found;
}

/**
 * The tenant's Entra service principal with this object id and app id, once Exchange has caught up with its
 * creation and with its latest consent (app role assignment).
 */
function entraPrincipalKnownToExchange(
  store: EmulatorStore,
  tenant: TenantRecord,
  objectId: string,
  appId: string,
): boolean {
  const sp = store.servicePrincipalById(tenant, objectId);
  if (!sp || sp.entity.appId.toLowerCase() !== appId) return false;
  const consents = tenant.appRoleAssignments
    .filter((a) => a.entity.principalId === sp.entity.id)
    .map((a) => a.meta.createdAtMs);
  return store.exchangeSees(Math.max(sp.meta.createdAtMs, ...consents));
}

function findScope(tenant: TenantRecord, identity: string): ManagementScopeRecord | undefined {
  const key = identity.trim().toLowerCase();
  return tenant.exchange.managementScopes.find(
    (s) => s.Name.toLowerCase() === key || scopeDn(tenant, s.Name).toLowerCase() === key,
  );
}

function findAssignment(tenant: TenantRecord, identity: string): ManagementRoleAssignmentRecord | undefined {
  const key = identity.trim().toLowerCase();
  return tenant.exchange.managementRoleAssignments.find(
    (a) => a.Name.toLowerCase() === key || roleAssignmentDn(tenant, a.Name).toLowerCase() === key,
  );
}

/** Names of management scopes and role assignments are at most 64 characters (m365-facts §8). */
const MAX_NAME = 64;

function checkNameLength(name: string): void {
  if (name.length > MAX_NAME)
    throw dataValidation(
      `The length of the property is too long. The maximum length is ${MAX_NAME} and the length of the value provided is ${name.length}.`,
    );
}

/** Exchange's generated name: `<Role>-<assignee>`, made unique with a numeric suffix. */
function generatedAssignmentName(tenant: TenantRecord, role: string, sp: ExchangeServicePrincipal): string {
  const base = `${role}-${sp.DisplayName || sp.ObjectId}`.slice(0, MAX_NAME);
  if (!findAssignment(tenant, base)) return base;
  for (let i = 1; ; i++) {
    const suffix = `${i}`;
    const candidate = `${base.slice(0, MAX_NAME - suffix.length)}${suffix}`;
    if (!findAssignment(tenant, candidate)) return candidate;
  }
}

function assignmentInScope(tenant: TenantRecord, a: ManagementRoleAssignmentRecord, user: UserRecord): boolean {
  if (a.Role.toLowerCase() === RBAC_SMTP_ROLE.toLowerCase()) {
    // The SMTP decision and this cmdlet must agree: both come from evaluateRbac.
    return evaluateRbac(tenant, a.App, user).assignments.find((x) => x.name === a.Name)?.inScope ?? false;
  }
  if (!a.CustomResourceScope) return true;
  const scope = findScope(tenant, a.CustomResourceScope);
  return scope ? recipientFilterMatches(tenant, scope.RecipientRestrictionFilter, user) === true : false;
}

const ROLE_ASSIGNEE_TYPES: EnumType = {
  typeName: 'Microsoft.Exchange.Data.Directory.SystemConfiguration.RoleAssigneeType',
  values: [
    'User',
    'SecurityGroup',
    'RoleAssignmentPolicy',
    'MailboxPlan',
    'ForeignSecurityPrincipal',
    'RoleGroup',
    'LinkedRoleGroup',
    'Computer',
    'PartnerLinkedRoleGroup',
    'ServicePrincipal',
  ],
};

const RECIPIENT_WRITE_SCOPES: EnumType = {
  typeName: 'Microsoft.Exchange.Data.Directory.SystemConfiguration.RecipientWriteScopeType',
  values: [
    'None',
    'NotApplicable',
    'Organization',
    'MyGAL',
    'Self',
    'MyDirectReports',
    'OU',
    'CustomRecipientScope',
    'MyDistributionGroups',
    'MyExecutive',
    'ExcludedRecipientScope',
    'ManagementScope',
    'AdministrativeUnit',
    'ExclusiveRecipientScope',
    'Group',
  ],
};

export const principalCmdlets: CmdletDefinition[] = [
  {
    name: 'Get-ServicePrincipal',
    params: [str('Identity'), str('Organization')],
    run({ tenant }, p) {
      const identity = p.string('Identity');
      const all = tenant.exchange.servicePrincipals;
      // "$null or a non-existent value for the Identity parameter returns *all* objects" (Exchange's own caution).
      const matches = identity ? findServicePrincipals(tenant, identity) : [];
      return output((matches.length > 0 ? matches : all).map((s) => servicePrincipalRow(tenant, s)));
    },
  },
  {
    name: 'New-ServicePrincipal',
    params: [
      str('AppId', true),
      str('ObjectId', true, ['ServiceId']),
      str('DisplayName'),
      str('Organization'),
      ...confirmAndWhatIf(),
    ],
    run({ store, tenant }, p) {
      const warnings: string[] = [];
      if (p.usedNames.get('ObjectId')?.toLowerCase() === 'serviceid')
        warnings.push('The parameter "ServiceId" is being deprecated. Please use the parameter "ObjectId" instead.');
      const appId = requireGuid(p.string('AppId')!);
      const objectId = requireGuid(p.string('ObjectId')!);
      const existing = tenant.exchange.servicePrincipals.find((s) => s.AppId === appId || s.ObjectId === objectId);
      if (existing) throw alreadyExists(servicePrincipalDn(tenant, existing));
      // Since 2025 Exchange checks the object id against Entra: it must be the app's enterprise application (service
      // principal) in this tenant, and one Exchange already knows (m365-facts §8).
      if (!entraPrincipalKnownToExchange(store, tenant, objectId, appId))
        throw aadServicePrincipalNotFound(objectId, appId);
      const sp: ExchangeServicePrincipal = {
        Identity: objectId,
        AppId: appId,
        ObjectId: objectId,
        DisplayName: p.string('DisplayName') ?? '',
        createdAtMs: store.now(),
      };
      tenant.exchange.servicePrincipals.push(sp);
      store.changed();
      return output([servicePrincipalRow(tenant, sp)], warnings);
    },
  },
  {
    name: 'Remove-ServicePrincipal',
    params: [str('Identity', true), str('Organization'), ...confirmAndWhatIf()],
    run({ store, tenant }, p) {
      const sp = resolveServicePrincipal(tenant, p.string('Identity')!);
      const ex = tenant.exchange;
      ex.servicePrincipals = ex.servicePrincipals.filter((s) => s !== sp);
      // The principal's ACEs and role assignments go with it (the emulator keeps no orphaned entries).
      const isIt = (t: { kind: string; id: string }): boolean => t.kind === 'servicePrincipal' && t.id === sp.ObjectId;
      ex.mailboxPermissions = ex.mailboxPermissions.filter((r) => !isIt(r.trustee));
      ex.recipientPermissions = ex.recipientPermissions.filter((r) => !isIt(r.trustee));
      ex.managementRoleAssignments = ex.managementRoleAssignments.filter(
        (a) => a.App.toLowerCase() !== sp.AppId.toLowerCase(),
      );
      store.changed();
      return output();
    },
  },
  {
    name: 'Get-ManagementScope',
    params: [str('Identity'), bool('Exclusive'), sw('Orphan')],
    run({ store, tenant }, p) {
      const identity = p.string('Identity');
      // A scope made moments ago is not in Get- answers until it has replicated.
      let scopes = tenant.exchange.managementScopes.filter((s) => store.exchangeSees(s.createdAtMs));
      if (identity) {
        const s = findScope(tenant, identity);
        if (!s || !scopes.includes(s)) throw notFound(identity);
        scopes = [s];
      }
      if (p.bool('Exclusive') === true) scopes = [];
      if (p.bool('Orphan'))
        scopes = scopes.filter(
          (s) =>
            !tenant.exchange.managementRoleAssignments.some(
              (a) => a.CustomResourceScope?.toLowerCase() === s.Name.toLowerCase(),
            ),
        );
      return output(scopes.map((s) => scopeRow(tenant, s)));
    },
  },
  {
    name: 'New-ManagementScope',
    params: [str('Name', true), str('RecipientRestrictionFilter', true), sw('Force'), ...confirmAndWhatIf()],
    run({ store, tenant }, p) {
      const name = p.string('Name')!.trim();
      checkNameLength(name);
      const filter = p.string('RecipientRestrictionFilter')!;
      const err = filterError('RecipientRestrictionFilter', filter);
      if (err) throw err;
      if (findScope(tenant, name)) throw alreadyExists(scopeDn(tenant, name));
      const scope: ManagementScopeRecord = {
        Name: name,
        RecipientRestrictionFilter: filter,
        Identity: name,
        createdAtMs: store.now(),
      };
      tenant.exchange.managementScopes.push(scope);
      store.changed();
      return output([scopeRow(tenant, scope)]);
    },
  },
  {
    name: 'Set-ManagementScope',
    params: [str('Identity', true), str('Name'), str('RecipientRestrictionFilter'), sw('Force'), ...confirmAndWhatIf()],
    run({ store, tenant }, p) {
      const identity = p.string('Identity')!;
      const scope = findScope(tenant, identity);
      if (!scope) throw notFound(identity);
      const filter = p.string('RecipientRestrictionFilter');
      if (filter !== undefined) {
        const err = filterError('RecipientRestrictionFilter', filter);
        if (err) throw err;
        scope.RecipientRestrictionFilter = filter;
      }
      const name = p.string('Name')?.trim();
      if (name && name.toLowerCase() !== scope.Name.toLowerCase()) {
        checkNameLength(name);
        if (findScope(tenant, name)) throw alreadyExists(scopeDn(tenant, name));
        for (const a of tenant.exchange.managementRoleAssignments)
          if (a.CustomResourceScope?.toLowerCase() === scope.Name.toLowerCase()) a.CustomResourceScope = name;
        scope.Name = name;
        scope.Identity = name;
      }
      // A changed scope is a new grant for Exchange's permission cache.
      scope.createdAtMs = store.now();
      store.changed();
      return output();
    },
  },
  {
    name: 'Remove-ManagementScope',
    params: [str('Identity', true), sw('Force'), ...confirmAndWhatIf()],
    run({ store, tenant }, p) {
      const identity = p.string('Identity')!;
      const scope = findScope(tenant, identity);
      if (!scope) throw notFound(identity);
      const users = tenant.exchange.managementRoleAssignments.filter(
        (a) => a.CustomResourceScope?.toLowerCase() === scope.Name.toLowerCase(),
      );
      if (users.length > 0)
        throw invalidOperation(
          `Management scope "${scope.Name}" can't be deleted because it's used by the following management role assignments: ${users.map((a) => a.Name).join(', ')}. Remove the scope from these role assignments first.`,
        );
      tenant.exchange.managementScopes = tenant.exchange.managementScopes.filter((s) => s !== scope);
      store.changed();
      return output();
    },
  },
  {
    name: 'Get-ManagementRoleAssignment',
    params: [
      str('Identity'),
      str('Role'),
      str('RoleAssignee'),
      enumOne('RoleAssigneeType', ROLE_ASSIGNEE_TYPES),
      enumOne('RecipientWriteScope', RECIPIENT_WRITE_SCOPES),
      bool('Enabled'),
      bool('Delegating'),
      bool('Exclusive'),
      sw('GetEffectiveUsers'),
    ],
    run({ store, tenant }, p) {
      const identity = p.string('Identity');
      if (identity && p.has('RoleAssignee')) throw parameterSetConflict();
      let list = tenant.exchange.managementRoleAssignments.filter((a) => store.exchangeSees(a.createdAtMs));
      if (identity) {
        // As for the other Get- cmdlets, a non-existent Identity returns all objects.
        const hit = findAssignment(tenant, identity);
        if (hit && list.includes(hit)) list = [hit];
      }
      const role = p.string('Role');
      if (role) {
        const r = canonicalRole(role);
        list = list.filter((a) => a.Role.toLowerCase() === r.toLowerCase());
      }
      const assignee = p.string('RoleAssignee');
      if (assignee) {
        const sps = findServicePrincipals(tenant, assignee);
        if (sps.length === 0) throw notFound(assignee);
        const appIds = new Set(sps.map((s) => s.AppId.toLowerCase()));
        list = list.filter((a) => appIds.has(a.App.toLowerCase()));
      }
      const type = p.string('RoleAssigneeType');
      if (type && type !== 'ServicePrincipal') list = [];
      const writeScope = p.string('RecipientWriteScope');
      if (writeScope)
        list = list.filter((a) => (a.CustomResourceScope ? 'CustomRecipientScope' : 'Organization') === writeScope);
      if (p.bool('Enabled') === false || p.bool('Delegating') === true || p.bool('Exclusive') === true) list = [];
      return output(list.map((a) => roleAssignmentRow(tenant, a)));
    },
  },
  {
    name: 'New-ManagementRoleAssignment',
    params: [
      str('Name'),
      str('Role', true),
      str('App', true),
      str('CustomResourceScope'),
      sw('Force'),
      ...confirmAndWhatIf(),
    ],
    run({ store, tenant }, p) {
      const role = canonicalRole(p.string('Role')!);
      const sp = resolveServicePrincipal(tenant, p.string('App')!);
      const scopeName = p.string('CustomResourceScope');
      let scope: ManagementScopeRecord | undefined;
      if (scopeName) {
        scope = findScope(tenant, scopeName);
        if (!scope) throw notFound(scopeName);
      }
      const given = p.string('Name')?.trim();
      let name: string;
      if (given) {
        checkNameLength(given);
        if (findAssignment(tenant, given)) throw alreadyExists(roleAssignmentDn(tenant, given));
        name = given;
      } else {
        name = generatedAssignmentName(tenant, role, sp);
      }
      const assignment: ManagementRoleAssignmentRecord = {
        Name: name,
        Role: role,
        App: sp.AppId,
        CustomResourceScope: scope ? scope.Name : null,
        Identity: name,
        createdAtMs: store.now(),
      };
      tenant.exchange.managementRoleAssignments.push(assignment);
      store.changed();
      return output([roleAssignmentRow(tenant, assignment)]);
    },
  },
  {
    name: 'Remove-ManagementRoleAssignment',
    params: [str('Identity', true), sw('Force'), ...confirmAndWhatIf()],
    run({ store, tenant }, p) {
      const identity = p.string('Identity')!;
      const a = findAssignment(tenant, identity);
      if (!a) throw notFound(identity);
      tenant.exchange.managementRoleAssignments = tenant.exchange.managementRoleAssignments.filter((x) => x !== a);
      store.changed();
      return output();
    },
  },
  {
    name: 'Test-ServicePrincipalAuthorization',
    params: [str('Identity', true), str('Resource'), ...confirmAndWhatIf()],
    run({ tenant }, p) {
      const sp = resolveServicePrincipal(tenant, p.string('Identity')!);
      const resource = p.string('Resource');
      const user = resource ? resolveMailbox(tenant, resource) : undefined;
      const rows = tenant.exchange.managementRoleAssignments
        .filter((a) => a.App.toLowerCase() === sp.AppId.toLowerCase())
        .map((a) => ({
          RoleName: a.Role,
          GrantedPermissions: (APPLICATION_ROLES[a.Role] ?? []).join(', '),
          AllowedResourceScope: a.CustomResourceScope ?? 'Organization',
          ScopeType: a.CustomResourceScope ? 'CustomRecipientScope' : 'Organization',
          InScope: user ? assignmentInScope(tenant, a, user) : 'Not Run',
        }));
      return output(rows);
    },
  },
];
