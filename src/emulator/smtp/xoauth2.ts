/**
 * The XOAUTH2 sign-in as Exchange Online decides it: the SASL blob, the access token, the mailbox, the tenant's
 * policies, then Exchange's own permission state (authorization.ts). Pure: no socket, no reply formatting.
 */
import type { EmulatorContext } from '../context.js';
import type { TenantRecord, UserRecord } from '../state.js';
import { EXCHANGE_APP_ID } from '../seed.js';
import { RESOURCES } from '../tokens.js';
import { decideMailboxAccess, effectiveSmtpAuthDisabled } from '../exchange/authorization.js';
import { REPLIES, type SmtpReply } from './replies.js';

const EXCHANGE = RESOURCES.find((x) => x.appId === EXCHANGE_APP_ID)!;

/** Decodes `base64("user=" + mailbox + "^Aauth=Bearer " + token + "^A^A")`. */
export function parseXoauth2(b64: string): { user: string; token: string } | undefined {
  const text = b64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  let user: string | undefined;
  let token: string | undefined;
  for (const field of Buffer.from(text, 'base64').toString('utf8').split('\x01')) {
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const key = field.slice(0, eq).toLowerCase();
    const value = field.slice(eq + 1).trim();
    if (key === 'user') user = value;
    else if (key === 'auth') {
      const m = /^bearer\s+(\S+)$/i.exec(value);
      if (m) token = m[1];
    }
  }
  return user && token ? { user, token } : undefined;
}

/** The identity a successful sign-in gives the session. */
export interface SmtpIdentity {
  tenantId: string;
  userId: string;
  /** The mailbox's primary address (lower case). */
  address: string;
  /** The client application (appid claim). */
  appId: string;
  kind: 'app' | 'user';
}

export type SmtpAuthDecision =
  | { ok: true; identity: SmtpIdentity }
  | {
      ok: false;
      reply: SmtpReply;
      /** Why, for tests and debugging; never shown on the wire (Exchange's 5.7.3 says nothing more). */
      reason: string;
      tenantId?: string;
      caller?: string;
    };

/** A mailbox by its SMTP address or UPN (what `user=` carries), only among users that have a mailbox. */
export function mailboxByAddress(tenant: TenantRecord, address: string): UserRecord | undefined {
  const key = address.trim().toLowerCase();
  return tenant.users.find(
    (u) =>
      u.mailbox !== null && (u.entity.mail.toLowerCase() === key || u.entity.userPrincipalName.toLowerCase() === key),
  );
}

/**
 * Order of the checks (what a client sees when several things are wrong):
 * 1. the SASL blob, then the token itself (signature, lifetime, audience, tenant) → 535 5.7.3;
 * 2. `user=` must be a mailbox of the token's tenant → 535 5.7.3;
 * 3. the tenant's policies on the mailbox: security defaults, then SmtpClientAuthenticationDisabled (the mailbox
 *    setting wins over the organization's) → the 535 5.7.139 variants, even for a perfectly authorized app;
 * 4. Exchange's authorization of the app for that mailbox (service principal with the enterprise app's object id,
 *    SMTP.SendAsApp + FullAccess, or an RBAC assignment in scope; the permission cache) → 535 5.7.3.
 */
export function decideXoauth2(ctx: EmulatorContext, blob: string): SmtpAuthDecision {
  const fail = (reason: string, extra: { tenantId?: string; caller?: string } = {}): SmtpAuthDecision => ({
    ok: false,
    reply: REPLIES.authUnsuccessful,
    reason,
    ...extra,
  });
  const sasl = parseXoauth2(blob);
  if (!sasl) return fail('malformed-xoauth2');
  const verified = ctx.issuer.verify(sasl.token);
  if (!verified.ok) return fail(`token-${verified.reason}`);
  const claims = verified.claims;
  if (claims.aud !== EXCHANGE.audience && claims.aud !== EXCHANGE.appId) return fail('token-audience');
  const caller = typeof claims.appid === 'string' ? claims.appid : undefined;
  const tenant = ctx.store.tenantById(String(claims.tid));
  if (!tenant) return fail('token-tenant', { caller });
  const ids = { tenantId: tenant.id, ...(caller ? { caller } : {}) };

  const user = mailboxByAddress(tenant, sasl.user);
  if (!user) {
    const elsewhere = ctx.store.world.tenants.some((t) => t !== tenant && mailboxByAddress(t, sasl.user));
    return fail(elsewhere ? 'mailbox-of-another-tenant' : 'mailbox-not-found', ids);
  }

  if (tenant.policy.securityDefaults)
    return { ok: false, reply: REPLIES.securityDefaults, reason: 'security-defaults', ...ids };
  const smtpAuth = effectiveSmtpAuthDisabled(tenant, user);
  if (smtpAuth.disabled)
    return {
      ok: false,
      reply: smtpAuth.source === 'mailbox' ? REPLIES.smtpAuthDisabledMailbox : REPLIES.smtpAuthDisabledTenant,
      reason: `smtp-auth-disabled-${smtpAuth.source}`,
      ...ids,
    };

  const identity: SmtpIdentity = {
    tenantId: tenant.id,
    userId: user.entity.id,
    address: user.entity.mail.toLowerCase(),
    appId: String(claims.appid ?? ''),
    kind: claims.idtyp === 'user' ? 'user' : 'app',
  };
  if (identity.kind === 'user') {
    // Delegated (SMTP.Send): the signed-in user sends from their own mailbox.
    const scopes = String(claims.scp ?? '').split(' ');
    if (!scopes.includes('SMTP.Send')) return fail('delegated-without-smtp-send', ids);
    if (String(claims.oid).toLowerCase() !== user.entity.id) return fail('delegated-other-mailbox', ids);
    return { ok: true, identity };
  }
  const decision = decideMailboxAccess(
    ctx.store,
    tenant,
    {
      appid: identity.appId,
      oid: String(claims.oid ?? ''),
      ...(Array.isArray(claims.roles) ? { roles: claims.roles.map(String) } : {}),
    },
    user,
  );
  if (!decision.ok) return fail(decision.reason, ids);
  return { ok: true, identity };
}
