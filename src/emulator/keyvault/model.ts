/**
 * The vaults of the emulated world: each belongs to one tenant, holds secrets (every version kept, soft-deleted ones
 * beside) and an RBAC access list (role assignments on the vault's data plane). Seeded from the seed file's
 * `vaults`, or by default one vault the operator may use and one it may not, in the first tenant.
 */
import { z } from 'zod';

/** Azure Key Vault's first-party application (the resource of vault tokens). */
export const KEYVAULT_APP_ID = 'cfa8b339-82a2-471a-a3c9-0fc0be7a4093';
/** The `aud` of vault tokens in the global cloud; the emulator serves that cloud's DNS suffix. */
export const VAULT_AUDIENCE = 'https://vault.azure.net';
export const VAULT_DNS_SUFFIX = 'vault.azure.net';

/** The built-in data-plane roles for secrets and the data actions each allows. */
export const VAULT_ROLES = {
  'Key Vault Administrator': ['getSecret', 'setSecret', 'readMetadata', 'update', 'delete', 'recover', 'purge'],
  'Key Vault Secrets Officer': ['getSecret', 'setSecret', 'readMetadata', 'update', 'delete', 'recover', 'purge'],
  'Key Vault Secrets User': ['getSecret', 'readMetadata'],
  'Key Vault Reader': ['readMetadata'],
} as const;
export type VaultRole = keyof typeof VAULT_ROLES;
export type SecretAction = (typeof VAULT_ROLES)[VaultRole][number];

export interface SecretVersionRecord {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  /** Epoch seconds, as on the wire. */
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

export interface SecretRecord {
  /** The name as first written (Key Vault names are case-insensitive). */
  name: string;
  /** Oldest first; the last is the current version. */
  versions: SecretVersionRecord[];
}

export interface DeletedSecretRecord {
  secret: SecretRecord;
  deletedDate: number;
  scheduledPurgeDate: number;
}

export interface VaultRecord {
  /** Lower case; the host is `<name>.vault.azure.net`. */
  name: string;
  tenantId: string;
  location: string;
  /** Role assignments: the principal is an app id or an object id (of a service principal or a user). */
  access: Array<{ principal: string; role: VaultRole }>;
  softDeleteRetentionDays: number;
  purgeProtection: boolean;
  /** Keyed by the lower-cased name. */
  secrets: Record<string, SecretRecord>;
  deleted: Record<string, DeletedSecretRecord>;
}

/** Vault names: 3–24 characters, a letter first, letters, digits and single hyphens, no hyphen last. */
export const VAULT_NAME_RE = /^(?=.{3,24}$)[a-zA-Z](?:[a-zA-Z0-9]|-(?!-))*[a-zA-Z0-9]$/;
/** Object names (secrets): 1–127 letters, digits and hyphens. */
export const SECRET_NAME_RE = /^[0-9a-zA-Z-]{1,127}$/;

const roleName = z.enum(Object.keys(VAULT_ROLES) as [VaultRole, ...VaultRole[]]);

export const vaultSeedSchema = z.object({
  name: z.string().regex(VAULT_NAME_RE, 'a vault name: 3-24 letters, digits and hyphens, a letter first'),
  /** The tenant's domain or id; default: the first tenant. */
  tenant: z.string().optional(),
  location: z.string().default('westeurope'),
  /** `principal`: an app id, an object id, or `operator` (the emulator's operator app). */
  access: z.array(z.object({ principal: z.string().min(1), role: roleName })).default([]),
  softDeleteRetentionDays: z.number().int().min(7).max(90).default(90),
  purgeProtection: z.boolean().default(false),
});

export type VaultSeed = z.input<typeof vaultSeedSchema>;

/** The vaults of a world: those of the seed, or the default pair in the first tenant. */
export function buildVaults(
  seeds: VaultSeed[] | undefined,
  tenants: Array<{ id: string; domains: string[] }>,
  operatorAppId: string,
): VaultRecord[] {
  const first = tenants[0]!;
  // The default names from the first tenant's label, kept within the vault name rules (a letter first, ≤ 24).
  const cleaned = first.domains[0]!.split('.')[0]!
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '')
    .replace(/-+/g, '-');
  const label = (/^[a-z]/.test(cleaned) ? cleaned : `v${cleaned}`).slice(0, 16).replace(/-+$/, '');
  const given = seeds ?? [
    { name: `${label}-vault`, access: [{ principal: 'operator', role: 'Key Vault Secrets Officer' }] },
    { name: `${label}-locked`, access: [] },
  ];
  return given.map((input) => {
    const s = vaultSeedSchema.parse(input);
    const key = s.tenant?.toLowerCase();
    const tenant = key ? tenants.find((t) => t.id === key || t.domains.includes(key)) : first;
    if (!tenant) throw new Error(`seed: vault ${s.name} names tenant ${s.tenant}, which is not in the seed`);
    return {
      name: s.name.toLowerCase(),
      tenantId: tenant.id,
      location: s.location,
      access: s.access.map((a) => ({
        principal: a.principal === 'operator' ? operatorAppId : a.principal.toLowerCase(),
        role: a.role,
      })),
      softDeleteRetentionDays: s.softDeleteRetentionDays,
      purgeProtection: s.purgeProtection,
      secrets: {},
      deleted: {},
    };
  });
}
