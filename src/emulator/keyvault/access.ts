/**
 * Who may call a vault. Key Vault uses challenge-based authentication: a request without a token (the SDK's first
 * one) gets 401 with `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`,
 * and every other 401 carries the same challenge. A token must be the vault tenant's, for the vault audience; the
 * caller then needs a role on the vault that allows the data action (403 ForbiddenByRbac otherwise).
 */
import type { EmulatorContext } from '../context.js';
import type { AccessTokenClaims } from '../tokens.js';
import { vaultErrors, type VaultFailure } from './errors.js';
import { KEYVAULT_APP_ID, VAULT_AUDIENCE, VAULT_ROLES, type SecretAction, type VaultRecord } from './model.js';

export interface VaultCaller {
  appId: string;
  objectId: string;
  tenantId: string;
}

/** The challenge of a vault: its tenant at the emulator's authority, and the vault resource. */
export function challengeFor(vault: VaultRecord, authority: string): string {
  return `Bearer authorization="${authority}/${vault.tenantId}", resource="${VAULT_AUDIENCE}"`;
}

/** The caller of a request, or the 401 the vault answers. */
export function authenticateVault(
  ctx: EmulatorContext,
  vault: VaultRecord,
  authority: string,
  authorization: string | undefined,
): VaultCaller | VaultFailure {
  const challenge = challengeFor(vault, authority);
  const fail = (message: string): VaultFailure => vaultErrors.unauthorized(message, challenge);
  // (tokens.ts is not imported for its bearer parser: it imports the seed, which imports this room.)
  const token = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
  if (!token) return fail('AKV10000: Request is missing a Bearer or PoP token.');
  const v = ctx.issuer.verify(token);
  // UNCONFIRMED wording for the signature and lifetime failures (the codes of the audience and issuer ones are the
  // service's own).
  if (!v.ok)
    return fail(
      v.reason === 'expired'
        ? 'AKV10017: The provided token has expired.'
        : 'AKV10013: The token signature could not be validated.',
    );
  const claims: AccessTokenClaims = v.claims;
  if (claims.aud !== VAULT_AUDIENCE && claims.aud !== KEYVAULT_APP_ID)
    return fail(`AKV10022: Invalid audience. Expected ${VAULT_AUDIENCE}, found: ${String(claims.aud)}.`);
  if (String(claims.tid) !== vault.tenantId)
    return fail(
      `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${vault.tenantId}/, https://login.microsoftonline.com/${vault.tenantId}/v2.0, found ${String(claims.iss)}.`,
    );
  return { appId: String(claims.appid ?? ''), objectId: String(claims.oid ?? ''), tenantId: vault.tenantId };
}

/** The RBAC data action of an operation, as the 403 names it. */
function dataAction(action: SecretAction): string {
  switch (action) {
    case 'delete':
      return 'Microsoft.KeyVault/vaults/secrets/delete';
    case 'purge':
      return 'Microsoft.KeyVault/vaults/deletedSecrets/purge/action';
    case 'recover':
      return 'Microsoft.KeyVault/vaults/deletedSecrets/recover/action';
    default:
      return `Microsoft.KeyVault/vaults/secrets/${action}/action`;
  }
}

/** Throws 403 unless one of the caller's role assignments on the vault allows `action`. */
export function authorize(vault: VaultRecord, caller: VaultCaller, action: SecretAction, secret?: string): void {
  const me = [caller.appId.toLowerCase(), caller.objectId.toLowerCase()];
  const allowed = vault.access.some(
    (a) => me.includes(a.principal) && (VAULT_ROLES[a.role] as readonly SecretAction[]).includes(action),
  );
  if (allowed) return;
  throw vaultErrors.forbiddenByRbac({
    ...caller,
    action: dataAction(action),
    resource: `/subscriptions/${vault.tenantId}/resourcegroups/sendasapp-emulator/providers/microsoft.keyvault/vaults/${vault.name}${secret ? `/secrets/${secret}` : ''}`,
    vault: vault.name,
    location: vault.location,
  });
}
