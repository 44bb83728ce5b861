/**
 * App role assignments (admin consent for application permissions): `/servicePrincipals/{resource}/appRoleAssignedTo`
 * and `/servicePrincipals/{principal}/appRoleAssignments` — POST, GET list, GET and DELETE by id.
 */
import { randomBytes } from 'node:crypto';
import type { AppRoleAssignmentRecord, ServicePrincipalRecord } from '../state.js';
import { type GraphCall, collectionResult, entityResult, graphNow, noContent, readObjectBody } from './call.js';
import { GraphFailure, type GraphResult, denied, notFound } from './errors.js';
import { checkEntityBody, invalidValue, serializeEntity } from './model.js';
import { type Key, checkQueryOptions, parseListOptions } from './odata.js';
import { canReadAssignments, canWriteAssignments } from './permissions.js';
import { resolveServicePrincipal } from './servicePrincipals.js';

/** Which side of the assignment the path's service principal is. */
export type AssignmentView = 'appRoleAssignedTo' | 'appRoleAssignments';

const RESOURCE = 'AppRoleAssignment';
const IGNORED = new Set([
  'id',
  'createdDateTime',
  'deletedDateTime',
  'principalDisplayName',
  'principalType',
  'resourceDisplayName',
]);

function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  const b = Buffer.from(hex, 'hex');
  // .NET Guid byte order: the first three groups are little-endian.
  return Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
}

/** Assignment ids look like Entra's: the principal's object id, then a random part, base64url (43 characters). */
function assignmentId(principalId: string): string {
  return Buffer.concat([guidBytes(principalId), randomBytes(16)]).toString('base64url');
}

function side(view: AssignmentView, a: AppRoleAssignmentRecord): string {
  return view === 'appRoleAssignedTo' ? a.entity.resourceId : a.entity.principalId;
}

function fragment(view: AssignmentView, sp: ServicePrincipalRecord, entity: boolean): string {
  return `servicePrincipals('${sp.entity.id}')/${view}${entity ? '/$entity' : ''}`;
}

function principalOf(
  call: GraphCall,
  principalId: string,
): { id: string; type: 'ServicePrincipal' | 'User' | 'Group'; displayName: string | null } | undefined {
  const { store } = call.ctx;
  const tenant = call.caller.tenant;
  const sp = store.servicePrincipalById(tenant, principalId);
  if (sp)
    return store.isVisible(sp.meta)
      ? { id: sp.entity.id, type: 'ServicePrincipal', displayName: sp.entity.displayName }
      : undefined;
  const user = store.userById(tenant, principalId);
  if (user && store.isVisible(user.meta))
    return { id: user.entity.id, type: 'User', displayName: user.entity.displayName };
  const key = principalId.toLowerCase();
  const group = tenant.groups.find((g) => g.entity.id === key);
  if (group && store.isVisible(group.meta))
    return { id: group.entity.id, type: 'Group', displayName: group.entity.displayName };
  return undefined;
}

export function listAssignments(call: GraphCall, view: AssignmentView, key: Key): GraphResult {
  if (!canReadAssignments(call.caller)) throw denied();
  const options = parseListOptions(call.query, 'appRoleAssignment', undefined, RESOURCE, call.headers);
  const sp = resolveServicePrincipal(call, key);
  const { store } = call.ctx;
  const items = call.caller.tenant.appRoleAssignments.filter(
    (a) => side(view, a) === sp.entity.id && store.isVisible(a.meta),
  );
  return collectionResult(call, fragment(view, sp, false), items, options, (a) =>
    serializeEntity('appRoleAssignment', a.entity, { select: options.select }),
  );
}

function findAssignment(
  call: GraphCall,
  view: AssignmentView,
  sp: ServicePrincipalRecord,
  id: string,
): AppRoleAssignmentRecord {
  const a = call.caller.tenant.appRoleAssignments.find(
    (x) => x.entity.id === id && side(view, x) === sp.entity.id && call.ctx.store.isVisible(x.meta),
  );
  if (!a) throw notFound(id);
  return a;
}

export function getAssignment(call: GraphCall, view: AssignmentView, key: Key, id: string): GraphResult {
  if (!canReadAssignments(call.caller)) throw denied();
  checkQueryOptions(call.query);
  const sp = resolveServicePrincipal(call, key);
  const a = findAssignment(call, view, sp, id);
  return entityResult(call, 200, fragment(view, sp, true), 'appRoleAssignment', a.entity);
}

export function deleteAssignment(call: GraphCall, view: AssignmentView, key: Key, id: string): GraphResult {
  if (!canWriteAssignments(call.caller)) throw denied();
  checkQueryOptions(call.query);
  const sp = resolveServicePrincipal(call, key);
  const a = findAssignment(call, view, sp, id);
  const tenant = call.caller.tenant;
  tenant.appRoleAssignments = tenant.appRoleAssignments.filter((x) => x !== a);
  call.ctx.store.changed();
  return noContent();
}

export function postAssignment(call: GraphCall, view: AssignmentView, key: Key): GraphResult {
  if (!canWriteAssignments(call.caller)) throw denied();
  checkQueryOptions(call.query);
  const props = checkEntityBody('appRoleAssignment', readObjectBody(call, true), {
    resource: RESOURCE,
    ignored: IGNORED,
  });
  const principalId = props.get('principalId');
  const resourceId = props.get('resourceId');
  const appRoleId = props.get('appRoleId');
  if (typeof principalId !== 'string') throw invalidValue('principalId', RESOURCE);
  if (typeof resourceId !== 'string') throw invalidValue('resourceId', RESOURCE);
  if (typeof appRoleId !== 'string') throw invalidValue('appRoleId', RESOURCE);
  const pathSp = resolveServicePrincipal(call, key);
  const pathSide = view === 'appRoleAssignedTo' ? resourceId : principalId;
  if (pathSide.toLowerCase() !== pathSp.entity.id)
    throw invalidValue(view === 'appRoleAssignedTo' ? 'resourceId' : 'principalId', RESOURCE);
  const { store } = call.ctx;
  const tenant = call.caller.tenant;
  const resource = view === 'appRoleAssignedTo' ? pathSp : store.servicePrincipalById(tenant, resourceId);
  if (!resource || !store.isVisible(resource.meta)) throw notFound(resourceId);
  const principal = principalOf(call, principalId);
  if (!principal) throw notFound(principalId);
  const roleKey = appRoleId.toLowerCase();
  const role = resource.entity.appRoles.find((r) => r.id.toLowerCase() === roleKey && r.isEnabled !== false);
  const memberType = principal.type === 'ServicePrincipal' ? 'Application' : 'User';
  if (!role || !role.allowedMemberTypes.includes(memberType))
    throw new GraphFailure(
      400,
      'Request_BadRequest',
      `Permission being assigned was not found on application '${resource.entity.appId}'.`,
    );
  const exists = tenant.appRoleAssignments.some(
    (a) =>
      a.entity.principalId === principal.id &&
      a.entity.resourceId === resource.entity.id &&
      a.entity.appRoleId.toLowerCase() === roleKey,
  );
  if (exists)
    throw new GraphFailure(400, 'Request_BadRequest', 'Permission being assigned already exists on the object.');
  const record: AppRoleAssignmentRecord = {
    entity: {
      id: assignmentId(principal.id),
      appRoleId: roleKey,
      createdDateTime: graphNow(store.now()),
      deletedDateTime: null,
      principalDisplayName: principal.displayName,
      principalId: principal.id,
      principalType: principal.type,
      resourceDisplayName: resource.entity.displayName,
      resourceId: resource.entity.id,
    },
    meta: store.newMeta(),
  };
  tenant.appRoleAssignments.push(record);
  store.changed();
  return entityResult(call, 201, fragment(view, pathSp, true), 'appRoleAssignment', record.entity);
}
