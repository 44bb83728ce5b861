/**
 * The app's credential: a client secret (addPassword / removePassword) or a certificate (keyCredentials, whose
 * PATCH replaces the set, so existing keys are sent back with the new one).
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { Application, KeyCredential } from './application.js';
import { GraphApi, GraphNetworkError, GraphRequestError, isReplicationLag } from './graph.js';

/** Display names of credentials this tool made start with this, so it recognises its own. */
export const CREDENTIAL_PREFIX = 'sendasapp';

export function credentialDisplayName(nonce: string, now = new Date()): string {
  return `${CREDENTIAL_PREFIX} ${now.toISOString().slice(0, 10)} ${nonce}`;
}

export function isOurs(displayName: string | null | undefined): boolean {
  return typeof displayName === 'string' && displayName.startsWith(`${CREDENTIAL_PREFIX} `);
}

export interface NewSecret {
  keyId: string;
  secretText: string;
  endDateTime: string;
  displayName: string;
}

export async function addSecret(
  graph: GraphApi,
  appObjectId: string,
  displayName: string,
  endDateTime: Date,
): Promise<NewSecret> {
  // A 404 right after the app was created is replication lag: nothing was added, so asking again is safe.
  const post = () =>
    graph.untilReplicated(
      'application (addPassword)',
      () =>
        graph.request<{ keyId: string; secretText: string; endDateTime: string }>(
          'POST',
          `/applications/${appObjectId}/addPassword`,
          { passwordCredential: { displayName, endDateTime: endDateTime.toISOString() } },
        ),
      isReplicationLag,
    );
  let res;
  try {
    res = await post();
  } catch (err) {
    // No answer, or a 5xx: the secret may have been added without us seeing its text. Remove whatever carries
    // this run's unique display name, then ask once more (a blind repeat would leave an unusable secret behind).
    const lost =
      err instanceof GraphNetworkError ||
      (err instanceof GraphRequestError && (err.status === 502 || err.status === 503 || err.status === 504));
    if (!lost) throw err;
    const app = await graph.get<{ passwordCredentials: Array<{ keyId: string; displayName: string | null }> }>(
      `/applications/${appObjectId}?$select=passwordCredentials`,
    );
    for (const p of app.body?.passwordCredentials ?? [])
      if (p.displayName === displayName) await removeSecret(graph, appObjectId, p.keyId);
    res = await post();
  }
  const body = res.body;
  if (!body?.secretText || !body.keyId) throw new Error('addPassword answered without a secret');
  return { keyId: body.keyId, secretText: body.secretText, endDateTime: body.endDateTime, displayName };
}

/** removePassword's 400 for a keyId the directory doesn't hold (any more, or not yet: m365-facts §8). */
export function isNoPasswordCredential(err: unknown): boolean {
  return (
    err instanceof GraphRequestError &&
    err.status === 400 &&
    /No password credential found with keyId/i.test(err.graphMessage)
  );
}

/**
 * Removes a client secret. "No password credential found with keyId" means it is gone already, or (right after
 * addPassword) not replicated yet: a re-read of the app tells which. Gone is success; still listed is retried
 * while the directory catches up.
 */
export async function removeSecret(graph: GraphApi, appObjectId: string, keyId: string): Promise<void> {
  await graph.untilReplicated(
    'application (removePassword)',
    async () => {
      try {
        await graph.request('POST', `/applications/${appObjectId}/removePassword`, { keyId }, { idempotent: true });
      } catch (err) {
        if (!isNoPasswordCredential(err)) throw err;
        const app = await graph.get<{ passwordCredentials?: Array<{ keyId: string }> }>(
          `/applications/${appObjectId}?$select=passwordCredentials`,
        );
        const listed = (app.body?.passwordCredentials ?? []).some((p) => p.keyId.toLowerCase() === keyId.toLowerCase());
        if (listed) throw err;
      }
    },
    (e) => isReplicationLag(e) || isNoPasswordCredential(e),
  );
}

/** Splits a PEM file's text into its certificate and private key; undefined when either is missing. */
export function splitKeyAndCertificate(pem: string): { certificatePem: string; privateKeyPem: string } | undefined {
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const key = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(pem)?.[0];
  return cert && key ? { certificatePem: cert + '\n', privateKeyPem: key + '\n' } : undefined;
}

export function certificateThumbprint(certPem: string): string {
  const der = new X509Certificate(certPem).raw;
  return createHash('sha1').update(der).digest('hex').toUpperCase();
}

/** Uploads a certificate's public part, keeping every existing key (the PATCH replaces the collection). */
export async function addCertificate(
  graph: GraphApi,
  app: Application,
  certPem: string,
  displayName: string,
): Promise<{ thumbprint: string; endDateTime: string }> {
  const cert = new X509Certificate(certPem);
  const thumbprint = certificateThumbprint(certPem);
  const keep = app.keyCredentials.map((k: KeyCredential) => ({
    keyId: k.keyId,
    type: k.type,
    usage: k.usage,
    displayName: k.displayName,
    customKeyIdentifier: k.customKeyIdentifier,
    startDateTime: k.startDateTime,
    endDateTime: k.endDateTime,
    key: k.key ?? null,
  }));
  if (keep.some((k) => k.key === null)) {
    // Graph does not return `key` unless selected; without it the PATCH would drop existing certificates.
    const full = await graph.get<{ keyCredentials: KeyCredential[] }>(`/applications/${app.id}?$select=keyCredentials`);
    for (const k of keep) k.key = full.body?.keyCredentials.find((x) => x.keyId === k.keyId)?.key ?? null;
  }
  const unreadable = keep.filter((k) => !k.key);
  if (unreadable.length > 0)
    // The PATCH replaces the whole set: sending it without these keys would delete working certificates.
    throw new Error(
      `the app's certificate(s) ${unreadable.map((k) => k.keyId).join(', ')} could not be read back, so a new one cannot be added without removing them; add it in the Entra portal, or remove the old ones first`,
    );
  const newKey = {
    type: 'AsymmetricX509Cert',
    usage: 'Verify',
    key: cert.raw.toString('base64'),
    displayName,
    startDateTime: new Date(cert.validFrom).toISOString(),
    endDateTime: new Date(cert.validTo).toISOString(),
  };
  await graph.untilReplicated(
    'application (keyCredentials)',
    () =>
      graph.request('PATCH', `/applications/${app.id}`, { keyCredentials: [...keep, newKey] }, { idempotent: true }),
    isReplicationLag,
  );
  return { thumbprint, endDateTime: newKey.endDateTime };
}

/** A key pair and a self-signed certificate for the app (the private key never leaves this machine). */
export async function makeSelfSignedCertificate(
  subjectCn: string,
  lifetimeMs: number,
): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const { generateKeyPairSync, randomBytes } = await import('node:crypto');
  const { default: forge } = await import('node-forge');
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(pair.publicKey);
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 5 * 60_000);
  cert.validity.notAfter = new Date(now + lifetimeMs);
  const subject = [{ name: 'commonName', value: subjectCn }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(pair.privateKey), forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(cert), privateKeyPem: pair.privateKey };
}

/** Removes keys from the app's keyCredentials (the PATCH replaces the set: the others are sent back). */
export async function removeCertificates(graph: GraphApi, app: Application, keyIds: string[]): Promise<void> {
  const full = await graph.get<{ keyCredentials: KeyCredential[] }>(`/applications/${app.id}?$select=keyCredentials`);
  const keep = (full.body?.keyCredentials ?? []).filter((k) => !keyIds.includes(k.keyId));
  await graph.request('PATCH', `/applications/${app.id}`, { keyCredentials: keep }, { idempotent: true });
}
