/**
 * GDAP (granular delegated admin privileges): a user of a partner tenant acts in a customer tenant with the Entra roles
 * of the partner's active delegated-admin relationships with that customer. Shared by the token service (may the
 * partner user get tokens for the customer's authority?) and the resource services (which roles does the user hold
 * there?).
 */
import type { EmulatorStore } from './store.js';
import type { DelegatedAdminRelationshipRecord, TenantRecord, UserRecord } from './state.js';

/** Whether a relationship lets this partner user act in the customer tenant now. */
function grants(store: EmulatorStore, r: DelegatedAdminRelationshipRecord, userId: string): boolean {
  if (r.status !== 'active') return false;
  const end = Date.parse(r.endDateTime);
  if (!Number.isNaN(end) && store.now() >= end) return false;
  return r.agentUserIds === null || r.agentUserIds.some((id) => id.toLowerCase() === userId.toLowerCase());
}

/** The relationships between a partner and a customer, in any status. */
export function relationshipsBetween(
  store: EmulatorStore,
  partnerTenantId: string,
  customerTenantId: string,
): DelegatedAdminRelationshipRecord[] {
  return (store.world.delegatedAdminRelationships ?? []).filter(
    (r) => r.partnerTenantId === partnerTenantId && r.customerTenantId === customerTenantId,
  );
}

/**
 * The Entra roles a partner user holds in the customer tenant through active relationships; undefined when no active
 * relationship reaches the user (Entra then does not let the user into the customer tenant at all).
 */
export function delegatedRoles(
  store: EmulatorStore,
  partnerTenantId: string,
  customerTenantId: string,
  userId: string,
): string[] | undefined {
  const active = relationshipsBetween(store, partnerTenantId, customerTenantId).filter((r) => grants(store, r, userId));
  if (active.length === 0) return undefined;
  return [...new Set(active.flatMap((r) => r.roles))];
}

/** A user by object id in whichever tenant holds it (a partner user signing in to a customer's authority). */
export function userInAnyTenant(
  store: EmulatorStore,
  userId: string,
): { tenant: TenantRecord; user: UserRecord } | undefined {
  for (const tenant of store.world.tenants) {
    const user = store.userById(tenant, userId);
    if (user) return { tenant, user };
  }
  return undefined;
}
