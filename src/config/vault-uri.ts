/**
 * `--secret-out` names a file, or a secret in Azure Key Vault: `keyvault://<vault>/<secret>` (the vault in the run's
 * cloud) or the secret's URL `https://<vault>.vault.azure.net/secrets/<secret>` (or a sovereign cloud's suffix:
 * vault.usgovcloudapi.net, vault.azure.cn). No version: each new credential is a new version of that secret.
 */
import { text } from './primitives.js';

/** The vault DNS suffixes of the clouds (global, US Gov, China). */
export const VAULT_DNS_SUFFIXES = ['vault.azure.net', 'vault.usgovcloudapi.net', 'vault.azure.cn'] as const;

export interface VaultSecretAddress {
  vault: string;
  secret: string;
  /** The suffix an https form gave (it must be the run's cloud's); absent for keyvault://. */
  dnsSuffix?: string;
}

/** 3–24 characters, a letter first, letters, digits and single hyphens, no hyphen last. */
const VAULT = '[a-zA-Z](?:[a-zA-Z0-9]|-(?!-)){1,22}[a-zA-Z0-9]';
const SECRET = '[0-9a-zA-Z-]{1,127}';
const SUFFIX = VAULT_DNS_SUFFIXES.map((s) => s.replace(/\./g, '\\.')).join('|');
const KEYVAULT_RE = new RegExp(`^keyvault://(${VAULT})/(${SECRET})/?$`, 'i');
const HTTPS_RE = new RegExp(`^https://(${VAULT})\\.(${SUFFIX})/secrets/(${SECRET})/?$`, 'i');

/** Both forms, for the JSON Schema (no flags there: both cases are spelled out). */
export const VAULT_URI_PATTERN = `^(keyvault://${VAULT}/${SECRET}|https://${VAULT}\\.(${SUFFIX})/secrets/${SECRET})/?$`;

export const VAULT_URI_FORM =
  'keyvault://<vault>/<secret> or https://<vault>.vault.azure.net/secrets/<secret> (secret names: 1-127 letters, digits and hyphens)';

/** Whether a --secret-out value means Key Vault (its scheme says so), whether or not it is well formed. */
export function looksLikeVaultUri(value: string): boolean {
  return /^(keyvault|https?):/i.test(value.trim());
}

/** The vault and secret a --secret-out value names, or undefined when it is not a well-formed vault URI. */
export function parseVaultUri(value: string): VaultSecretAddress | undefined {
  const v = value.trim();
  const k = KEYVAULT_RE.exec(v);
  if (k) return { vault: k[1]!.toLowerCase(), secret: k[2]! };
  const h = HTTPS_RE.exec(v);
  if (h) return { vault: h[1]!.toLowerCase(), secret: h[3]!, dnsSuffix: h[2]!.toLowerCase() };
  return undefined;
}

/** The `secretOut` value: a vault URI (checked) or a file path. */
export const secretOutTarget = text(`a file path or ${VAULT_URI_FORM}`)
  .trim()
  .min(1, 'must be a file path')
  .refine((s) => !looksLikeVaultUri(s) || parseVaultUri(s) !== undefined, {
    message: `must be ${VAULT_URI_FORM}`,
  })
  .meta({
    anyOf: [
      { type: 'string', pattern: VAULT_URI_PATTERN, description: `a secret in Azure Key Vault: ${VAULT_URI_FORM}` },
      {
        type: 'string',
        not: { pattern: '^([kK][eE][yY][vV][aA][uU][lL][tT]|[hH][tT][tT][pP][sS]?):' },
        description: 'a file path',
      },
    ],
    examples: ['sendasapp-credential.json', 'keyvault://contoso-vault/sendasapp-smtp'],
  });
