/**
 * `GET /policies/defaultAppManagementPolicy` (tenantAppManagementPolicy): the tenant-wide restrictions on app
 * credentials. The emulated tenant's `maxSecretLifetimeDays` is its passwordLifetime restriction. Reading it
 * needs Policy.Read.All (app) or a Global Administrator / Global Reader / Security Administrator (user).
 */
import type { GraphCall } from './call.js';
import { contextUrl, jsonResult } from './call.js';
import { denied, methodNotAllowed, segmentNotFound, type GraphResult } from './errors.js';
import type { Segment } from './odata.js';

const READ_POLICY = ['Policy.Read.All', 'Policy.ReadWrite.ApplicationConfiguration'];
const POLICY_READER_ROLES = ['Global Administrator', 'Global Reader', 'Security Administrator', 'Security Reader'];

function mayRead(call: GraphCall): boolean {
  const c = call.caller;
  if (c.kind === 'app') return c.roles.some((r) => READ_POLICY.includes(r));
  return c.directoryRoles.some((r) => POLICY_READER_ROLES.includes(r));
}

export function policies(call: GraphCall, _head: Segment, tail: Segment[]): GraphResult {
  const [which, ...rest] = tail;
  if (!which || which.name !== 'defaultAppManagementPolicy') throw segmentNotFound(which?.raw ?? 'policies');
  if (rest.length > 0) throw segmentNotFound(rest[0]!.raw);
  if (call.method !== 'GET') throw methodNotAllowed();
  if (!mayRead(call)) throw denied();
  const days = call.caller.tenant.policy.maxSecretLifetimeDays;
  return jsonResult(200, {
    '@odata.context': contextUrl(call, 'policies/defaultAppManagementPolicy/$entity'),
    id: '00000000-0000-0000-0000-000000000000',
    displayName: 'Default app management tenant policy',
    description:
      'Default tenant policy that enforces app management restrictions on applications and service principals. To apply policy to targeted resources, create a new policy under appManagementPolicies collection.',
    isEnabled: days !== null,
    applicationRestrictions: {
      passwordCredentials:
        days === null
          ? []
          : [
              {
                restrictionType: 'passwordLifetime',
                state: 'enabled',
                maxLifetime: `P${days}D`,
                restrictForAppsCreatedAfterDateTime: '2019-01-01T00:00:00Z',
              },
            ],
      keyCredentials: [],
    },
    servicePrincipalRestrictions: { passwordCredentials: [], keyCredentials: [] },
  });
}
