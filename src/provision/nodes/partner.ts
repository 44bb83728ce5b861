/**
 * GDAP (`--partner-tenant`): the operator is an admin agent of a partner tenant and works in the customer tenant
 * (--tenant) with the Entra roles of the partner's delegated-admin relationships with that customer. The preflight
 * reads those relationships in the partner tenant (Graph `tenantRelationships/delegatedAdminRelationships`) and
 * stops the run, before any write, when none is active or the active ones lack a role the run needs — saying which
 * roles to grant.
 */
import type { TenantContext } from '../context.js';
import { CheckFailure, type CheckNode } from '../model.js';

/** Template ids of the Entra built-in roles a run can need (unifiedRoles roleDefinitionId). */
export const GDAP_ROLE_IDS: Record<string, string> = {
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
  'Application Administrator': '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
  'Cloud Application Administrator': '158c047a-c907-4556-b7ef-446551a6b5f7',
  'Privileged Role Administrator': 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  'Exchange Administrator': '29232cdf-9323-42fd-ade2-1d097af3e4de',
};

/** A need is met by any one of its roles; the first is the one to ask for. */
export interface RoleNeed {
  what: string;
  anyOf: string[];
}

/** The roles a run in the customer tenant needs, from its options. */
export function gdapRoleNeeds(ctx: Pick<TenantContext, 'options'>): RoleNeed[] {
  const o = ctx.options;
  const needs: RoleNeed[] = [
    {
      what: 'to register the app and its service principal',
      anyOf: ['Cloud Application Administrator', 'Application Administrator', 'Global Administrator'],
    },
  ];
  const delegatedFlow = o.flow === 'delegated';
  if (!delegatedFlow && o.mailboxAccess !== 'rbac')
    needs.push({
      what: "to grant the app's SMTP.SendAsApp permission (admin consent)",
      anyOf: ['Privileged Role Administrator', 'Cloud Application Administrator', 'Global Administrator'],
    });
  needs.push({ what: 'for the Exchange cmdlets', anyOf: ['Exchange Administrator', 'Global Administrator'] });
  return needs;
}

interface Relationship {
  id: string;
  displayName?: string;
  status?: string;
  endDateTime?: string | null;
  customer?: { tenantId?: string; displayName?: string | null };
  accessDetails?: { unifiedRoles?: Array<{ roleDefinitionId?: string }> };
}

export interface PartnerAccess {
  partnerTenantId: string;
  relationships: Array<{ id: string; displayName: string; endDateTime: string | null }>;
  roles: string[];
}

function roleName(id: string): string {
  return Object.entries(GDAP_ROLE_IDS).find(([, v]) => v === id.toLowerCase())?.[0] ?? id;
}

/** The roles to ask for: the first of each unmet need, without repeats. */
function toGrant(needs: RoleNeed[]): string {
  return [...new Set(needs.map((n) => n.anyOf[0]!))].join(', ');
}

/** The active relationships with one customer and their roles, or the CheckFailure that says what to request. */
function checkCustomer(
  c: TenantContext,
  all: Relationship[],
  customer: { id: string; name: string },
  needs: RoleNeed[],
): { active: Relationship[]; roles: string[] } {
  const mine = all.filter((r) => r.customer?.tenantId?.toLowerCase() === customer.id);
  const now = Date.now();
  const active = mine.filter((r) => r.status === 'active' && (!r.endDateTime || Date.parse(r.endDateTime) > now));
  const where = `partner ${c.options.partnerTenant} and customer ${customer.name} (${customer.id})`;
  if (active.length === 0) {
    const seen = mine.map(
      (r) =>
        `"${r.displayName ?? r.id}" is ${r.status ?? 'unknown'}${r.endDateTime ? ` (end ${r.endDateTime.slice(0, 10)})` : ''}`,
    );
    throw new CheckFailure(
      'tenant',
      mine.length > 0
        ? `no active GDAP relationship between ${where}: ${seen.join('; ')}`
        : `no GDAP relationship between ${where}`,
      `in Partner Center (Customers → ${customer.name} → Admin relationships) request a GDAP relationship with the roles ${toGrant(needs)}, have the customer's Global Administrator approve it, and assign the roles to a security group of the partner that the signing-in user belongs to; then rerun`,
    );
  }
  const roles = [
    ...new Set(
      active.flatMap((r) =>
        (r.accessDetails?.unifiedRoles ?? []).map((u) => roleName(String(u.roleDefinitionId ?? ''))),
      ),
    ),
  ];
  const unmet = needs.filter((n) => !n.anyOf.some((r) => roles.includes(r)));
  if (unmet.length > 0)
    throw new CheckFailure(
      'tenant',
      `the active GDAP relationship${active.length > 1 ? 's' : ''} between ${where} grant${active.length > 1 ? '' : 's'} ${roles.join(', ') || 'no role'}, not ${unmet.map((n) => `${n.anyOf.join(' or ')} (${n.what})`).join('; ')}`,
      `add ${toGrant(unmet)} to the relationship "${active[0]!.displayName ?? active[0]!.id}" (a new relationship request with those roles, approved by the customer) and to its access assignment for the signing-in user's security group; then rerun`,
    );
  return { active, roles };
}

export function partnerAccessCheck(ctx: TenantContext): CheckNode<PartnerAccess, Record<string, never>> {
  return {
    kind: 'check',
    key: 'partner.delegatedAdmin',
    title: `Partner access (GDAP) from ${ctx.options.partnerTenant} to ${ctx.options.tenant}`,
    inputs: {},
    async read(c) {
      const partner = c.partner;
      if (!partner) throw new Error('the run has no partner tenant');
      const { body } = await partner.graph.get<{ value?: Relationship[] }>(
        '/tenantRelationships/delegatedAdminRelationships',
      );
      const all = body?.value ?? [];
      const needs = gdapRoleNeeds(c);
      // With --home-tenant, the app is registered there: that customer needs the app role; the mailbox tenant all.
      if (c.homeTenantId !== c.mailboxTenantId)
        checkCustomer(c, all, { id: c.homeTenantId, name: c.options.homeTenant ?? c.homeTenantId }, [needs[0]!]);
      const { active, roles } = checkCustomer(c, all, { id: c.mailboxTenantId, name: c.options.tenant }, needs);
      return {
        partnerTenantId: partner.tenantId,
        relationships: active.map((r) => ({
          id: r.id,
          displayName: r.displayName ?? r.id,
          endDateTime: r.endDateTime ?? null,
        })),
        roles,
      };
    },
  };
}
