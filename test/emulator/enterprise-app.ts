/**
 * Test fixture: an enterprise application (Entra service principal) of a new app in a tenant of the emulator, as
 * admin consent would have created it. `createdAtMs` 0 = replicated long ago; Date.now() = fresh.
 */
import { randomUUID } from 'node:crypto';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { ServicePrincipalRecord } from '../../src/emulator/state.js';

export interface EnterpriseApp {
  appId: string;
  /** The service principal's object id (what New-ServicePrincipal -ObjectId wants). */
  objectId: string;
  /** An app registration object id (the wrong one for New-ServicePrincipal). */
  appObjectId: string;
}

export function addEnterpriseApp(
  emu: Pick<RunningEmulator, 'store'>,
  domain: string,
  displayName: string,
  createdAtMs = 0,
): EnterpriseApp {
  const tenant = emu.store.findTenant(domain);
  if (!tenant) throw new Error(`no tenant ${domain}`);
  const appId = randomUUID();
  const objectId = randomUUID();
  const sp: ServicePrincipalRecord = {
    entity: {
      id: objectId,
      appId,
      displayName,
      appRoles: [],
      appOwnerOrganizationId: tenant.id,
      servicePrincipalType: 'Application',
    },
    meta: { createdAtMs },
    directoryRoles: [],
    firstParty: false,
  };
  tenant.servicePrincipals.push(sp);
  return { appId, objectId, appObjectId: randomUUID() };
}
