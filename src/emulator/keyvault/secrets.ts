/**
 * The secrets of one vault as the service keeps them: every set makes a new version (the older ones stay readable
 * by their version id), a delete is soft (the secret moves to the deleted secrets until it is purged or recovered),
 * and names are case-insensitive. Answers are SecretBundle / SecretItem / DeletedSecretBundle as on the wire.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { vaultErrors } from './errors.js';
import { SECRET_NAME_RE, type SecretRecord, type SecretVersionRecord, type VaultRecord } from './model.js';

const MAX_VALUE_BYTES = 25 * 1024;
const MAX_TAGS = 15;

const attributesSchema = z
  .object({
    enabled: z.boolean().optional(),
    nbf: z.number().int().optional(),
    exp: z.number().int().optional(),
  })
  .passthrough();

const setBody = z.object({
  value: z.string(),
  contentType: z.string().max(255).optional(),
  attributes: attributesSchema.optional(),
  tags: z.record(z.string().max(512), z.string().max(256)).optional(),
});

const updateBody = setBody.omit({ value: true }).partial();

function parseJson<T>(schema: z.ZodType<T>, body: Buffer): T {
  let data: unknown;
  try {
    data = body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
  } catch {
    throw vaultErrors.badParameter('The request body is not valid JSON.');
  }
  const r = schema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const at = issue.path.join('.');
    throw vaultErrors.badParameter(
      at ? `Property '${at}' is not valid: ${issue.message}.` : 'Property value is required.',
    );
  }
  return r.data;
}

export function checkName(name: string): void {
  if (!SECRET_NAME_RE.test(name)) throw vaultErrors.badName(name);
}

const key = (name: string): string => name.toLowerCase();

function recoveryLevel(vault: VaultRecord): string {
  const custom = vault.softDeleteRetentionDays < 90 ? 'Customized' : '';
  return `${custom}Recoverable${vault.purgeProtection ? '' : '+Purgeable'}`;
}

function attributesOf(vault: VaultRecord, v: SecretVersionRecord): Record<string, unknown> {
  return {
    enabled: v.enabled,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    created: v.created,
    updated: v.updated,
    recoveryLevel: recoveryLevel(vault),
    recoverableDays: vault.softDeleteRetentionDays,
  };
}

/** SecretItem (no value); `withVersion` for the items of a version list. */
function item(vault: VaultRecord, base: string, s: SecretRecord, v: SecretVersionRecord, withVersion: boolean) {
  return {
    id: `${base}/secrets/${s.name}${withVersion ? `/${v.version}` : ''}`,
    attributes: attributesOf(vault, v),
    ...(v.tags ? { tags: v.tags } : {}),
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
  };
}

/** SecretBundle: the version's id, attributes and tags, and its value unless `withValue` is false. */
function bundle(vault: VaultRecord, base: string, s: SecretRecord, v: SecretVersionRecord, withValue = true) {
  return { ...(withValue ? { value: v.value } : {}), ...item(vault, base, s, v, true) };
}

function deletedBundle(vault: VaultRecord, base: string, name: string) {
  const d = vault.deleted[key(name)]!;
  const latest = d.secret.versions.at(-1)!;
  return {
    recoveryId: `${base}/deletedsecrets/${d.secret.name}`,
    deletedDate: d.deletedDate,
    scheduledPurgeDate: d.scheduledPurgeDate,
    ...bundle(vault, base, d.secret, latest, false),
  };
}

function secretOf(vault: VaultRecord, name: string): SecretRecord {
  const s = vault.secrets[key(name)];
  if (!s) throw vaultErrors.secretNotFound(name);
  return s;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function setSecret(vault: VaultRecord, base: string, name: string, body: Buffer) {
  const b = parseJson(setBody, body);
  if (vault.deleted[key(name)]) throw vaultErrors.deletedButRecoverable(name);
  if (Buffer.byteLength(b.value, 'utf8') > MAX_VALUE_BYTES)
    throw vaultErrors.badParameter('The secret value is larger than the maximum of 25 KB.');
  if (b.tags && Object.keys(b.tags).length > MAX_TAGS)
    throw vaultErrors.badParameter(`A secret can have at most ${MAX_TAGS} tags.`);
  const now = nowSeconds();
  const version: SecretVersionRecord = {
    version: randomBytes(16).toString('hex'),
    value: b.value,
    ...(b.contentType !== undefined ? { contentType: b.contentType } : {}),
    ...(b.tags ? { tags: b.tags } : {}),
    enabled: b.attributes?.enabled ?? true,
    ...(b.attributes?.nbf !== undefined ? { nbf: b.attributes.nbf } : {}),
    ...(b.attributes?.exp !== undefined ? { exp: b.attributes.exp } : {}),
    created: now,
    updated: now,
  };
  const s = (vault.secrets[key(name)] ??= { name, versions: [] });
  s.versions.push(version);
  return bundle(vault, base, s, version);
}

function versionOf(s: SecretRecord, version: string | undefined): SecretVersionRecord {
  const v = version ? s.versions.find((x) => x.version === version.toLowerCase()) : s.versions.at(-1);
  if (!v) throw vaultErrors.secretNotFound(s.name, version);
  return v;
}

export function getSecret(vault: VaultRecord, base: string, name: string, version?: string) {
  const s = secretOf(vault, name);
  const v = versionOf(s, version);
  if (!v.enabled) throw vaultErrors.disabled();
  return bundle(vault, base, s, v);
}

export function updateSecret(
  vault: VaultRecord,
  base: string,
  name: string,
  version: string | undefined,
  body: Buffer,
) {
  const b = parseJson(updateBody, body);
  const s = secretOf(vault, name);
  const v = versionOf(s, version);
  if (b.contentType !== undefined) v.contentType = b.contentType;
  if (b.tags !== undefined) v.tags = b.tags;
  if (b.attributes?.enabled !== undefined) v.enabled = b.attributes.enabled;
  if (b.attributes?.nbf !== undefined) v.nbf = b.attributes.nbf;
  if (b.attributes?.exp !== undefined) v.exp = b.attributes.exp;
  v.updated = nowSeconds();
  return bundle(vault, base, s, v, false);
}

export function listVersions(vault: VaultRecord, base: string, name: string) {
  const s = secretOf(vault, name);
  return { value: s.versions.map((v) => item(vault, base, s, v, true)), nextLink: null };
}

export function listSecrets(vault: VaultRecord, base: string) {
  return {
    value: Object.values(vault.secrets).map((s) => item(vault, base, s, s.versions.at(-1)!, false)),
    nextLink: null,
  };
}

export function deleteSecret(vault: VaultRecord, base: string, name: string) {
  const s = secretOf(vault, name);
  const now = nowSeconds();
  delete vault.secrets[key(name)];
  vault.deleted[key(name)] = {
    secret: s,
    deletedDate: now,
    scheduledPurgeDate: now + vault.softDeleteRetentionDays * 86_400,
  };
  return deletedBundle(vault, base, name);
}

function deletedOf(vault: VaultRecord, name: string): void {
  if (!vault.deleted[key(name)]) throw vaultErrors.deletedSecretNotFound(name);
}

export function getDeletedSecret(vault: VaultRecord, base: string, name: string) {
  deletedOf(vault, name);
  return deletedBundle(vault, base, name);
}

export function listDeletedSecrets(vault: VaultRecord, base: string) {
  return {
    value: Object.values(vault.deleted).map((d) => ({
      ...deletedBundle(vault, base, d.secret.name),
      id: `${base}/secrets/${d.secret.name}`,
    })),
    nextLink: null,
  };
}

export function purgeDeletedSecret(vault: VaultRecord, name: string): void {
  deletedOf(vault, name);
  if (vault.purgeProtection) throw vaultErrors.purgeProtected(name);
  delete vault.deleted[key(name)];
}

export function recoverDeletedSecret(vault: VaultRecord, base: string, name: string) {
  deletedOf(vault, name);
  const d = vault.deleted[key(name)]!;
  if (vault.secrets[key(name)]) throw vaultErrors.beingDeleted(name);
  delete vault.deleted[key(name)];
  vault.secrets[key(name)] = d.secret;
  return bundle(vault, base, d.secret, d.secret.versions.at(-1)!, false);
}
