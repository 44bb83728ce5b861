/**
 * Maps a Graph call (method + OData path) to its handler, and turns a GraphFailure into Graph's error body. Used for
 * direct requests and for each item of a JSON batch.
 */
import { policies } from './policies.js';
import { tenantRelationships } from './relationships.js';
import type { Caller, EmulatorContext } from '../context.js';
import {
  addPasswordHandler,
  deleteApplication,
  getApplication,
  listApplications,
  patchApplication,
  postApplication,
  removePasswordHandler,
} from './applications.js';
import {
  type AssignmentView,
  deleteAssignment,
  getAssignment,
  listAssignments,
  postAssignment,
} from './appRoleAssignments.js';
import type { GraphCall } from './call.js';
import { getDomain, getOrganization, listDomains, listOrganization } from './directory.js';
import { deletedItems } from './directory.js';
import { GraphFailure, type GraphResult, errorResult, methodNotAllowed, segmentNotFound } from './errors.js';
import { type Key, type Segment, parseSegments } from './odata.js';
import {
  deleteServicePrincipal,
  getServicePrincipal,
  listServicePrincipals,
  patchServicePrincipal,
  postServicePrincipal,
} from './servicePrincipals.js';

export interface CallInit {
  ctx: EmulatorContext;
  caller: Caller;
  method: string;
  /** Path after `/v1.0`, still percent-encoded. */
  rawPath: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: GraphCall['body'];
  requestId: string;
  clientRequestId: string;
  baseUrl: string;
}

/** An action's name without the `microsoft.graph.` namespace, lower-cased (Graph matches segments case-insensitively). */
function actionName(s: Segment): string {
  const n = s.name.toLowerCase();
  return n.startsWith('microsoft.graph.') ? n.slice('microsoft.graph.'.length) : n;
}

/** `set/{id}` or `set(key)`: the key of the addressed item and the segments after it. */
function itemKey(head: Segment, rest: Segment[]): { key: Key | undefined; rest: Segment[] } {
  if (head.key) return { key: head.key, rest };
  const next = rest[0];
  if (next && !next.key) return { key: { kind: 'id', value: next.name }, rest: rest.slice(1) };
  if (next) throw segmentNotFound(next.raw);
  return { key: undefined, rest };
}

function only(method: string, handlers: Record<string, () => GraphResult>): GraphResult {
  const h = handlers[method];
  if (!h) throw methodNotAllowed();
  return h();
}

function applications(call: GraphCall, head: Segment, tail: Segment[]): GraphResult {
  const { key, rest } = itemKey(head, tail);
  if (!key) return only(call.method, { GET: () => listApplications(call), POST: () => postApplication(call) });
  if (rest.length === 0)
    return only(call.method, {
      GET: () => getApplication(call, key),
      PATCH: () => patchApplication(call, key),
      DELETE: () => deleteApplication(call, key),
    });
  const action = rest[0]!;
  if (rest.length === 1 && !action.key) {
    const name = actionName(action);
    if (name === 'addpassword') return only(call.method, { POST: () => addPasswordHandler(call, key) });
    if (name === 'removepassword') return only(call.method, { POST: () => removePasswordHandler(call, key) });
  }
  throw segmentNotFound(action.raw);
}

function assignments(call: GraphCall, view: AssignmentView, key: Key, rest: Segment[]): GraphResult {
  const nav = rest[0]!;
  const after = rest.slice(1);
  let id: string | undefined;
  if (nav.key) {
    if (nav.key.kind !== 'id' || after.length > 0) throw segmentNotFound(nav.raw);
    id = nav.key.value;
  } else if (after.length === 1 && !after[0]!.key) id = after[0]!.name;
  else if (after.length > 0) throw segmentNotFound(after[0]!.raw);
  if (id === undefined)
    return only(call.method, {
      GET: () => listAssignments(call, view, key),
      POST: () => postAssignment(call, view, key),
    });
  const assignmentId = id;
  return only(call.method, {
    GET: () => getAssignment(call, view, key, assignmentId),
    DELETE: () => deleteAssignment(call, view, key, assignmentId),
  });
}

const NAVIGATIONS: Record<string, AssignmentView> = {
  approleassignedto: 'appRoleAssignedTo',
  approleassignments: 'appRoleAssignments',
};

function servicePrincipals(call: GraphCall, head: Segment, tail: Segment[]): GraphResult {
  const { key, rest } = itemKey(head, tail);
  if (!key)
    return only(call.method, { GET: () => listServicePrincipals(call), POST: () => postServicePrincipal(call) });
  if (rest.length === 0)
    return only(call.method, {
      GET: () => getServicePrincipal(call, key),
      PATCH: () => patchServicePrincipal(call, key),
      DELETE: () => deleteServicePrincipal(call, key),
    });
  const nav = rest[0]!;
  const view = NAVIGATIONS[nav.name.toLowerCase()];
  if (view) return assignments(call, view, key, rest);
  throw segmentNotFound(nav.raw);
}

function directory(
  call: GraphCall,
  head: Segment,
  tail: Segment[],
  list: (c: GraphCall) => GraphResult,
  get: (c: GraphCall, k: Key) => GraphResult,
): GraphResult {
  const { key, rest } = itemKey(head, tail);
  if (rest.length > 0) throw segmentNotFound(rest[0]!.raw);
  if (!key) return only(call.method, { GET: () => list(call) });
  return only(call.method, { GET: () => get(call, key) });
}

/**
 * The segments after an optional tenant segment: `/myorganization/…` or `/{tenant id or domain}/…` in front of a
 * resource, as the older directory API took them and clients still send (m365-facts §8). A tenant segment names the
 * caller's own tenant; another tenant's is not found here (UNCONFIRMED what Graph answers for it).
 */
function withoutTenantSegment(call: GraphCall): Segment[] {
  const [first, ...rest] = call.segments;
  if (!first || first.key || rest.length === 0) return call.segments;
  const name = first.name.toLowerCase();
  const tenant = call.caller.tenant;
  if (name === 'myorganization' || name === tenant.id || tenant.domains.some((d) => d.toLowerCase() === name))
    return rest;
  return call.segments;
}

function dispatch(call: GraphCall): GraphResult {
  const [head, ...tail] = withoutTenantSegment(call);
  if (!head) throw segmentNotFound('v1.0');
  switch (head.name.toLowerCase()) {
    case 'applications':
      return applications(call, head, tail);
    case 'serviceprincipals':
      return servicePrincipals(call, head, tail);
    case 'organization':
      return directory(call, head, tail, listOrganization, getOrganization);
    case 'domains':
      return directory(call, head, tail, listDomains, getDomain);
    case 'policies':
      return policies(call, head, tail);

    case 'directory':
      return deletedItems(call, head, tail);

    case 'tenantrelationships':
      return tenantRelationships(call, head, tail);
    default:
      throw segmentNotFound(head.raw);
  }
}

/** Runs one Graph call; every failure becomes Graph's error answer. */
export function executeGraphCall(init: CallInit): GraphResult {
  const ids = { requestId: init.requestId, clientRequestId: init.clientRequestId };
  try {
    const call: GraphCall = { ...init, segments: parseSegments(init.rawPath) };
    return dispatch(call);
  } catch (err) {
    if (err instanceof GraphFailure) return errorResult(err, ids);
    throw err;
  }
}
