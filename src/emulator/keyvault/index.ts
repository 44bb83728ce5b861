/**
 * Azure Key Vault's secrets API (data plane) as `https://<vault>.vault.azure.net[:port]`: set, get (latest or a
 * version), update properties, list secrets and versions, soft delete, deleted secrets, purge and recover — with
 * the challenge-based authentication, the token checks and the RBAC answers of the real service, so that the
 * unmodified @azure/keyvault-secrets SDK works against it.
 *
 * The vault is named by the Host header (the TLS certificate covers `*.vault.azure.net`); the emulator's
 * endpoints.json maps each vault's host name to the loopback address, the way DNS does for the real service. A host
 * that names no vault of the world (which real DNS would not resolve) is answered 404.
 */
import type { EmulatorContext } from '../context.js';
import type { EmulatorRequest, EmulatorResponse, HttpService } from '../http.js';
import { authenticateVault, authorize } from './access.js';
import { VaultFailure, failureResponse, vaultErrorResponse, vaultErrors } from './errors.js';
import { VAULT_DNS_SUFFIX, type SecretAction, type VaultRecord } from './model.js';
import * as secrets from './secrets.js';

export { buildVaults, vaultSeedSchema, KEYVAULT_APP_ID, VAULT_AUDIENCE, VAULT_DNS_SUFFIX } from './model.js';
export type { VaultRecord, VaultSeed, VaultRole } from './model.js';

const API_VERSION_RE = /^(7\.\d+|20\d\d-\d\d-\d\d)(-preview(\.\d+)?)?$/;

/** The vault a host name addresses (`contoso-vault.vault.azure.net`), if it is one of the world's. */
export function vaultForHost(vaults: VaultRecord[] | undefined, hostname: string): VaultRecord | undefined {
  const host = hostname.toLowerCase();
  const suffix = `.${VAULT_DNS_SUFFIX}`;
  if (!host.endsWith(suffix)) return undefined;
  const name = host.slice(0, -suffix.length);
  return (vaults ?? []).find((v) => v.name === name);
}

/** The host names of the world's vaults (for the endpoints file's host map). */
export function vaultHostNames(vaults: VaultRecord[] | undefined): string[] {
  return (vaults ?? []).map((v) => `${v.name}.${VAULT_DNS_SUFFIX}`);
}

interface Operation {
  action: SecretAction;
  secret?: string;
  run: () => unknown;
  /** 204 instead of 200 with a body (purge). */
  empty?: boolean;
}

/** The operation a method and path ask for, or undefined when the path names none. */
function operationFor(vault: VaultRecord, req: EmulatorRequest): Operation | undefined {
  const base = req.baseUrl;
  const parts = req.path.replace(/\/+$/, '').split('/').slice(1);
  const [collection, name, third, fourth] = parts;
  const m = req.method;
  const named = (action: SecretAction, run: () => unknown, empty?: boolean): Operation => {
    secrets.checkName(name!);
    return { action, secret: name, run, empty };
  };
  if (collection?.toLowerCase() === 'secrets') {
    if (parts.length === 1 && m === 'GET')
      return { action: 'readMetadata', run: () => secrets.listSecrets(vault, base) };
    if (parts.length === 2) {
      if (m === 'PUT') return named('setSecret', () => secrets.setSecret(vault, base, name!, req.body));
      if (m === 'GET') return named('getSecret', () => secrets.getSecret(vault, base, name!));
      if (m === 'PATCH') return named('update', () => secrets.updateSecret(vault, base, name!, undefined, req.body));
      if (m === 'DELETE') return named('delete', () => secrets.deleteSecret(vault, base, name!));
    }
    if (parts.length === 3 && third === 'versions' && m === 'GET')
      return named('readMetadata', () => secrets.listVersions(vault, base, name!));
    if (parts.length === 3) {
      if (m === 'GET') return named('getSecret', () => secrets.getSecret(vault, base, name!, third));
      if (m === 'PATCH') return named('update', () => secrets.updateSecret(vault, base, name!, third, req.body));
    }
  }
  if (collection?.toLowerCase() === 'deletedsecrets') {
    if (parts.length === 1 && m === 'GET')
      return { action: 'readMetadata', run: () => secrets.listDeletedSecrets(vault, base) };
    if (parts.length === 2 && m === 'GET')
      return named('readMetadata', () => secrets.getDeletedSecret(vault, base, name!));
    if (parts.length === 2 && m === 'DELETE')
      return named('purge', () => secrets.purgeDeletedSecret(vault, name!), true);
    if (parts.length === 3 && third === 'recover' && fourth === undefined && m === 'POST')
      return named('recover', () => secrets.recoverDeletedSecret(vault, base, name!));
  }
  return undefined;
}

function handle(ctx: EmulatorContext, authority: string, req: EmulatorRequest): EmulatorResponse {
  const vault = vaultForHost(ctx.store.world.vaults, req.url.hostname);
  if (!vault)
    return {
      status: 404,
      body: {
        error: {
          code: 'NotFound',
          message: `No vault answers at ${req.url.hostname} (a vault name that does not exist has no DNS name).`,
        },
      },
    };
  req.log.tenantId = vault.tenantId;
  try {
    const apiVersion = req.url.searchParams.get('api-version');
    if (!apiVersion) throw vaultErrors.badParameter('The api-version query parameter (?api-version=) is required.');
    if (!API_VERSION_RE.test(apiVersion))
      throw vaultErrors.badParameter(
        `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version.`,
      );
    const caller = authenticateVault(ctx, vault, authority, req.headers.authorization);
    if (caller instanceof VaultFailure) throw caller;
    req.log.caller = caller.appId;
    const op = operationFor(vault, req);
    if (!op) throw vaultErrors.methodNotAllowed();
    authorize(vault, caller, op.action, op.secret);
    const body = op.run();
    if (req.method !== 'GET') ctx.store.changed();
    return op.empty
      ? { status: 204 }
      : { status: 200, headers: { 'Content-Type': 'application/json; charset=utf-8' }, body };
  } catch (err) {
    // A refused request changed nothing (the challenge's first PUT is no write).
    req.log.write = false;
    if (err instanceof VaultFailure) return failureResponse(err);
    throw err;
  }
}

/**
 * The vault service. `authority` is the emulator's sign-in address (known once it listens): the challenges name it
 * with the vault's tenant.
 */
export function createKeyVaultService(ctx: EmulatorContext, authority: () => string): HttpService {
  return {
    name: 'keyvault',
    matches: (path) => /^\/(secrets|deletedsecrets)(\/|$)/i.test(path),
    handle: (req) => handle(ctx, authority(), req),
    errorResponse: (_req, status) => vaultErrorResponse(status),
  };
}
