/**
 * Test helpers for pointing the real Microsoft client libraries (@azure/identity → MSAL) at the emulator, plus
 * fixtures that register apps and certificates straight in the emulator's store.
 *
 * CA trust without NODE_EXTRA_CA_CERTS: every @azure/identity credential takes the Azure SDK pipeline options.
 * `tlsOptions: { ca }` puts a tlsPolicy in the pipeline; the Node HTTP client of @azure/core-rest-pipeline then
 * builds (and caches) an https.Agent from those TLS settings for every request — including the requests MSAL
 * makes, since @azure/identity hands MSAL its own pipeline as MSAL's network client. So instance discovery,
 * OpenID configuration and token calls all trust the emulator's CA, and nothing process-wide changes.
 * (An `agent` option, when given, wins over `tlsOptions`; `standInAgent` below carries the CA itself.)
 */
import { Agent as HttpsAgent, type RequestOptions } from 'node:https';
import { connect, type ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import {
  newGuid,
  sha256Hex,
  type ApplicationRecord,
  type PasswordSecret,
  type TenantRecord,
} from '../../src/emulator/state.js';
import type { TestEmulator } from './emulator.js';

/** The .default scopes of Microsoft Graph and Exchange Online. */
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';

export interface EmulatorCredentialOptions {
  authorityHost: string;
  disableInstanceDiscovery: boolean;
  tlsOptions: { ca: string };
}

/** Options for any @azure/identity credential: the emulator as authority host, its CA trusted. */
export function credentialOptions(emu: TestEmulator): EmulatorCredentialOptions {
  return { authorityHost: emu.endpoints.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: emu.ca } };
}

/**
 * An https.Agent that connects every host to the emulator, keeping the host name for SNI and certificate checks —
 * what a hosts-file entry plus a port forward would do. With it the emulator stands in for
 * login.microsoftonline.com (start it with `certHostnames: ['login.microsoftonline.com']`), so MSAL's hard-coded
 * instance discovery call reaches it. Pass it as the credential's `agent` option.
 */
export function standInAgent(emu: TestEmulator): HttpsAgent {
  const target = new URL(emu.endpoints.authorityHost);
  const port = Number(target.port || 443);
  const ca = emu.ca;
  class StandIn extends HttpsAgent {
    override createConnection(options: RequestOptions): Duplex {
      const servername = (options as ConnectionOptions).servername || options.hostname || options.host || undefined;
      return connect({
        ...(options as ConnectionOptions),
        host: '127.0.0.1',
        port,
        servername: servername ?? undefined,
        ca,
      });
    }
  }
  return new StandIn({ ca, keepAlive: false });
}

/** The claims of a JWT (no verification: tests look at what the token service put in). */
export function decodeJwt(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function decodeJwtHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export interface RegisterAppOptions {
  /** Home tenant (domain or id). Default contoso. */
  home?: string;
  displayName?: string;
  signInAudience?: 'AzureADMyOrg' | 'AzureADMultipleOrgs';
  requiredResourceAccess?: ApplicationRecord['entity']['requiredResourceAccess'];
  redirectUris?: string[];
  isFallbackPublicClient?: boolean;
  appRoles?: Array<Record<string, unknown>>;
  /** When the app was created (replication); default long ago. */
  createdAtMs?: number;
}

export interface RegisteredApp {
  app: ApplicationRecord;
  appId: string;
}

function tenantOf(emu: TestEmulator, idOrDomain: string): TenantRecord {
  const t = emu.store.findTenant(idOrDomain);
  if (!t) throw new Error(`no tenant ${idOrDomain}`);
  return t;
}

/** Registers an app in the emulator's store, as Graph would have (only what the token service reads). */
export function registerApp(emu: TestEmulator, options: RegisterAppOptions = {}): RegisteredApp {
  const home = tenantOf(emu, options.home ?? 'contoso.onmicrosoft.com');
  const appId = newGuid();
  const now = new Date().toISOString();
  const app: ApplicationRecord = {
    entity: {
      id: newGuid(),
      appId,
      displayName: options.displayName ?? `test app ${appId.slice(0, 8)}`,
      uniqueName: null,
      signInAudience: options.signInAudience ?? 'AzureADMultipleOrgs',
      requiredResourceAccess: options.requiredResourceAccess ?? [],
      passwordCredentials: [],
      keyCredentials: [],
      createdDateTime: now,
      appRoles: options.appRoles ?? [],
      isFallbackPublicClient: options.isFallbackPublicClient ?? false,
      web: { redirectUris: options.redirectUris ?? [], homePageUrl: null, logoutUrl: null },
    },
    meta: { createdAtMs: options.createdAtMs ?? 0 },
    homeTenantId: home.id,
    secrets: [],
  };
  emu.store.world.applications.push(app);
  emu.store.changed();
  return { app, appId };
}

export interface SecretOptions {
  /** Password credential end; default in two years. */
  endDateTime?: string;
  startDateTime?: string;
  /** When it was added (replication); default long ago. */
  createdAtMs?: number;
}

/** Adds a password credential (as addPassword does) and returns the secret text. */
export function addSecret(app: ApplicationRecord, options: SecretOptions = {}): string {
  const secretText = `Tst8Q~${randomBytes(27).toString('base64url')}`;
  const keyId = newGuid();
  const start = options.startDateTime ?? new Date(Date.now() - 60_000).toISOString();
  app.entity.passwordCredentials.push({
    customKeyIdentifier: null,
    displayName: 'test secret',
    endDateTime: options.endDateTime ?? new Date(Date.now() + 730 * 86_400_000).toISOString(),
    hint: secretText.slice(0, 3),
    keyId,
    secretText: null,
    startDateTime: start,
  });
  const stored: PasswordSecret = { keyId, hash: sha256Hex(secretText), createdAtMs: options.createdAtMs ?? 0 };
  app.secrets.push(stored);
  return secretText;
}

export interface TestCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** Base64 DER, as keyCredentials[].key carries it. */
  derBase64: string;
  thumbprintSha1Hex: string;
}

/** An RSA key and a self-signed certificate for it (node-forge), like New-SelfSignedCertificate makes. */
export function selfSignedCertificate(commonName = 'sendasapp test', validDays = 365): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + validDays * 86_400_000);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return {
    certificatePem: forge.pki.certificateToPem(cert),
    privateKeyPem: privateKey,
    derBase64: der.toString('base64'),
    thumbprintSha1Hex: createHash('sha1').update(der).digest('hex').toUpperCase(),
  };
}

/** Adds a certificate to an app's keyCredentials (as a Graph PATCH would). */
export function addCertificate(app: ApplicationRecord, cert: TestCertificate, endDateTime?: string): void {
  app.entity.keyCredentials.push({
    customKeyIdentifier: cert.thumbprintSha1Hex,
    displayName: 'CN=sendasapp test',
    endDateTime: endDateTime ?? new Date(Date.now() + 365 * 86_400_000).toISOString(),
    key: cert.derBase64,
    keyId: newGuid(),
    startDateTime: new Date(Date.now() - 3_600_000).toISOString(),
    type: 'AsymmetricX509Cert',
    usage: 'Verify',
  });
}

/** A form POST to a token-service path (raw protocol checks next to the library tests). */
export async function postForm(
  emu: TestEmulator,
  path: string,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await emu.request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A JSON answer, loosely typed on purpose: tests read Entra's bodies as they come. */

export type Json = Record<string, any>;

export async function readJson(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}
