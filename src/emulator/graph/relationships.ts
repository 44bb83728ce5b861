/**
 * `GET /tenantRelationships/delegatedAdminRelationships` (Graph v1.0): a partner tenant's GDAP relationships with its
 * customers, with their status, end and roles (`accessDetails.unifiedRoles`). Read by the partner: delegated callers
 * need DelegatedAdminRelationship.Read.All (or ReadWrite.All), apps the app role of that name. `$filter` on
 * `customer/tenantId eq '…'` and `status eq '…'` is answered; other clauses are refused as Graph refuses them.
 */
import type { GraphCall } from './call.js';
import { contextUrl, jsonResult } from './call.js';
import { GraphFailure, denied, methodNotAllowed, segmentNotFound, type GraphResult } from './errors.js';
import type { Segment } from './odata.js';
import { DIRECTORY_ROLE_TEMPLATE_IDS, type DelegatedAdminRelationshipRecord } from '../state.js';

const READ = ['DelegatedAdminRelationship.Read.All', 'DelegatedAdminRelationship.ReadWrite.All'];

function mayRead(call: GraphCall): boolean {
  const c = call.caller;
  return (c.kind === 'app' ? c.roles : c.scopes).some((p) => READ.includes(p));
}

const CLAUSE = /^\s*(customer\/tenantId|status)\s+eq\s+'([^']*)'\s*$/i;

function filterOf(raw: string | null): (r: DelegatedAdminRelationshipRecord) => boolean {
  if (!raw) return () => true;
  const tests = raw.split(/\s+and\s+/i).map((clause) => {
    const m = CLAUSE.exec(clause);
    if (!m)
      throw new GraphFailure(
        400,
        'BadRequest',
        `Invalid filter clause: only customer/tenantId and status can be filtered (got '${clause.trim()}').`,
      );
    const value = m[2]!.toLowerCase();
    return m[1]!.toLowerCase() === 'status'
      ? (r: DelegatedAdminRelationshipRecord) => r.status.toLowerCase() === value
      : (r: DelegatedAdminRelationshipRecord) => r.customerTenantId === value;
  });
  return (r) => tests.every((t) => t(r));
}

function view(call: GraphCall, r: DelegatedAdminRelationshipRecord): Record<string, unknown> {
  const customer = call.ctx.store.tenantById(r.customerTenantId);
  return {
    '@odata.type': '#microsoft.graph.delegatedAdminRelationship',
    id: r.id,
    displayName: r.displayName,
    duration: r.duration,
    customer: { tenantId: r.customerTenantId, displayName: customer?.displayName ?? null },
    accessDetails: {
      unifiedRoles: r.roles.map((name) => ({ roleDefinitionId: DIRECTORY_ROLE_TEMPLATE_IDS[name] ?? name })),
    },
    status: r.status,
    autoExtendDuration: 'PT0S',
    createdDateTime: r.createdDateTime,
    lastModifiedDateTime: r.activatedDateTime ?? r.createdDateTime,
    activatedDateTime: r.activatedDateTime,
    endDateTime: r.endDateTime,
  };
}

export function tenantRelationships(call: GraphCall, _head: Segment, tail: Segment[]): GraphResult {
  const [which, ...rest] = tail;
  if (!which || which.name.toLowerCase() !== 'delegatedadminrelationships')
    throw segmentNotFound(which?.raw ?? 'tenantRelationships');
  if (rest.length > 0 || which.key) throw segmentNotFound(rest[0]?.raw ?? which.raw);
  if (call.method !== 'GET') throw methodNotAllowed();
  if (!mayRead(call)) throw denied();
  const keep = filterOf(call.query.get('$filter'));
  const partner = call.caller.tenant.id;
  const value = (call.ctx.store.world.delegatedAdminRelationships ?? [])
    .filter((r) => r.partnerTenantId === partner && keep(r))
    .map((r) => view(call, r));
  return jsonResult(200, {
    '@odata.context': contextUrl(call, 'tenantRelationships/delegatedAdminRelationships'),
    value,
  });
}
