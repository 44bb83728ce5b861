/**
 * Application credentials: addPassword / removePassword (the secret text is returned once and kept only as a
 * sha256), the tenant's credential lifetime policy, and keyCredentials set by PATCH (X.509 certificates).
 */
import { randomInt, X509Certificate } from 'node:crypto';
import { type ApplicationRecord, type TenantRecord, GUID_RE, newGuid, sha256Hex, stableGuid } from '../state.js';
import { GraphFailure } from './errors.js';
import { checkComplexBody, invalidValue } from './model.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const SECRET_CHARS = `${ALNUM}._~-`;

function pick(alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

/** A client secret as Entra generates them today: 40 characters, `Q~` at positions 5–6 (e.g. `abc8Q~…`). */
export function generateSecretText(): string {
  return `${pick(ALNUM, 3)}${randomInt(10)}Q~${pick(SECRET_CHARS, 34)}`;
}

/** Credential timestamps as Graph writes them (seven fractional digits). */
export function credentialTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** Graph's default end of a password credential: two years after its start. */
function twoYearsAfter(ms: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + 2);
  return d.getTime();
}

function lifetimePolicyError(tenant: TenantRecord): GraphFailure {
  const policyId = stableGuid(`${tenant.id}/appManagementPolicy`);
  const message = `Credential lifetime exceeds the max value allowed as per assigned policy '${policyId}'.`;
  return new GraphFailure(400, 'CredentialInvalidLifetimeAsPerAppPolicy', message, [
    { code: 'InvalidKeyEndDate', message, target: 'EndDate' },
  ]);
}

/**
 * addPassword: checks the body (`{"passwordCredential":{displayName,startDateTime,endDateTime}}`, all optional),
 * applies the tenant's lifetime policy, stores the credential (secret as sha256) and returns it with secretText.
 */
export function addPassword(
  app: ApplicationRecord,
  tenant: TenantRecord,
  body: Record<string, unknown>,
  now: number,
): Record<string, unknown> {
  for (const key of Object.keys(body)) {
    if (key !== 'passwordCredential' && !key.startsWith('@odata.'))
      throw new GraphFailure(
        400,
        'BadRequest',
        `The parameter '${key.slice(0, 64)}' in the request payload is not a valid parameter for the operation 'addPassword'.`,
      );
  }
  const input =
    body.passwordCredential === undefined || body.passwordCredential === null
      ? {}
      : checkComplexBody('passwordCredential', body.passwordCredential, 'passwordCredential');
  const start = typeof input.startDateTime === 'string' ? Date.parse(input.startDateTime) : now;
  const end = typeof input.endDateTime === 'string' ? Date.parse(input.endDateTime) : twoYearsAfter(start);
  if (!(end > start)) throw invalidValue('endDateTime', 'PasswordCredential');
  const maxDays = tenant.policy.maxSecretLifetimeDays;
  if (maxDays !== null && end - start > maxDays * 86_400_000) throw lifetimePolicyError(tenant);
  const secretText = generateSecretText();
  const keyId = newGuid();
  const stored = {
    customKeyIdentifier: null,
    displayName: typeof input.displayName === 'string' ? input.displayName : null,
    endDateTime: credentialTime(end),
    hint: secretText.slice(0, 3),
    keyId,
    secretText: null,
    startDateTime: credentialTime(start),
  };
  app.entity.passwordCredentials.push(stored);
  app.secrets.push({ keyId, hash: sha256Hex(secretText), createdAtMs: now });
  return { ...stored, secretText };
}

/**
 * removePassword: `{"keyId":"…"}` → the credential and its stored hash are gone. A keyId the app doesn't hold (any
 * more), or one added so recently that the directory has not replicated it (`visible` false), is answered 400
 * "No password credential found with keyId …" (m365-facts §8; Terraform/Vault plugins match that text).
 */
export function removePassword(
  app: ApplicationRecord,
  body: Record<string, unknown>,
  visible: (createdAtMs: number) => boolean = () => true,
): void {
  for (const key of Object.keys(body)) {
    if (key !== 'keyId' && !key.startsWith('@odata.'))
      throw new GraphFailure(
        400,
        'BadRequest',
        `The parameter '${key.slice(0, 64)}' in the request payload is not a valid parameter for the operation 'removePassword'.`,
      );
  }
  const keyId = body.keyId;
  if (keyId === undefined || keyId === null)
    throw new GraphFailure(400, 'BadRequest', "Action parameter 'keyId' must not be null.");
  if (typeof keyId !== 'string')
    throw new GraphFailure(400, 'BadRequest', 'Property keyId in payload has a value that does not match schema.');
  if (!GUID_RE.test(keyId))
    throw new GraphFailure(
      400,
      'BadRequest',
      `Cannot convert the literal '${keyId.slice(0, 64)}' to the expected type 'Edm.Guid'.`,
    );
  const key = keyId.toLowerCase();
  const index = app.entity.passwordCredentials.findIndex((c) => c.keyId.toLowerCase() === key);
  const secret = app.secrets.find((x) => x.keyId.toLowerCase() === key);
  if (index < 0 || (secret?.createdAtMs !== undefined && !visible(secret.createdAtMs)))
    throw new GraphFailure(400, 'Request_BadRequest', `No password credential found with keyId ${keyId}.`);
  app.entity.passwordCredentials.splice(index, 1);
  app.secrets = app.secrets.filter((s) => s.keyId.toLowerCase() !== key);
}

/**
 * passwordCredentials in a PATCH or POST body: Graph only lets a client keep (or drop) credentials it already has;
 * new ones must come from addPassword.
 */
export function keepPasswordCredentials(app: ApplicationRecord | undefined, incoming: unknown[]): string[] {
  const existing = new Set((app?.entity.passwordCredentials ?? []).map((c) => c.keyId.toLowerCase()));
  const kept: string[] = [];
  for (const item of incoming) {
    const keyId = (item as Record<string, unknown>).keyId;
    const secretText = (item as Record<string, unknown>).secretText;
    if (
      typeof keyId !== 'string' ||
      !existing.has(keyId.toLowerCase()) ||
      (typeof secretText === 'string' && secretText)
    )
      throw new GraphFailure(
        400,
        'Request_BadRequest',
        'New password credentials must be generated using service actions.',
      );
    kept.push(keyId.toLowerCase());
  }
  return kept;
}

type KeyCredential = ApplicationRecord['entity']['keyCredentials'][number];

function keyInvalid(message: string): GraphFailure {
  return new GraphFailure(400, 'KeyCredentialsInvalidValue', message);
}

function parseCertificate(key: string): X509Certificate {
  const bytes = Buffer.from(key, 'base64');
  try {
    return new X509Certificate(bytes);
  } catch {
    throw keyInvalid('Key credential value is not a valid X.509 certificate.');
  }
}

function certTime(text: string): string {
  return new Date(text).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * keyCredentials in a PATCH body replace the set. An entry naming an existing keyId without a key keeps that
 * credential (how clients append: they resend what they read, where `key` is null); an entry with a key adds a
 * certificate, with keyId, thumbprint, display name and validity filled from it.
 */
export function replaceKeyCredentials(current: KeyCredential[], incoming: unknown[]): KeyCredential[] {
  const byId = new Map(current.map((c) => [c.keyId.toLowerCase(), c]));
  const out: KeyCredential[] = [];
  const seen = new Set<string>();
  for (const raw of incoming) {
    const item = raw as Record<string, unknown>;
    const type = item.type ?? 'AsymmetricX509Cert';
    const usage = item.usage ?? 'Verify';
    if (type !== 'AsymmetricX509Cert' && type !== 'X509CertAndPassword')
      throw keyInvalid(
        'The value for the property "type" in one of your credentials is invalid. Acceptable values are AsymmetricX509Cert, X509CertAndPassword.',
      );
    if (usage !== 'Verify' && usage !== 'Sign')
      throw keyInvalid(
        'The value for the property "usage" in one of your credentials is invalid. Acceptable values are Sign, Verify.',
      );
    const keyId = typeof item.keyId === 'string' ? item.keyId.toLowerCase() : undefined;
    const key = typeof item.key === 'string' && item.key.length > 0 ? item.key : undefined;
    if (keyId && seen.has(keyId)) throw invalidValue('keyCredentials', 'Application');
    const existing = keyId ? byId.get(keyId) : undefined;
    if (existing) {
      if (key !== undefined && key !== existing.key)
        throw new GraphFailure(
          400,
          'Request_BadRequest',
          `Update to existing credential with KeyId '${keyId}' is not allowed.`,
        );
      out.push(existing);
      seen.add(keyId!);
      continue;
    }
    if (key === undefined) throw keyInvalid('KeyValue cannot be null or empty');
    const cert = parseCertificate(key);
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
    const id = keyId ?? newGuid();
    seen.add(id);
    out.push({
      customKeyIdentifier:
        typeof item.customKeyIdentifier === 'string'
          ? item.customKeyIdentifier
          : cert.fingerprint.replace(/:/g, '').toUpperCase(),
      displayName: typeof item.displayName === 'string' ? item.displayName : cn !== undefined ? `CN=${cn}` : null,
      endDateTime: certTime(cert.validTo),
      key: cert.raw.toString('base64'),
      keyId: id,
      startDateTime: certTime(cert.validFrom),
      type,
      usage,
    });
  }
  return out;
}
