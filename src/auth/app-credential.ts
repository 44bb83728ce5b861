/**
 * The app's own credential, for the proof: client credentials with the secret or the certificate the run made or
 * was given, with the same bounds as the operator's sign-in (response timeout, transient failures retried within
 * the deadline, AADSTS answers final, cancellation, one RequestEvent per request).
 */
import { ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from '@azure/identity';
import type { CloudProfile } from './cloud.js';
import type { NetworkBounds } from './network.js';
import { identityClientOptions } from './operator.js';
import { tokenServiceBounds } from './token-service.js';

export type AppSecret = { type: 'secret'; value: string } | { type: 'certificate'; pem: string };

export interface AppCredentialOptions {
  profile: CloudProfile;
  /** The mailbox tenant (the token must be for it). */
  tenantId: string;
  appId: string;
  credential: AppSecret;
  bounds?: NetworkBounds;
}

/**
 * A credential of the app. MSAL caches its tokens: make a new one for each proof attempt, or a token from before
 * the consent (without the SMTP.SendAsApp role) would be reused.
 */
export function createAppCredential(o: AppCredentialOptions): TokenCredential {
  const bounded = tokenServiceBounds(o.bounds);
  const options = { ...identityClientOptions(o.profile), ...bounded.options };
  const credential =
    o.credential.type === 'secret'
      ? new ClientSecretCredential(o.tenantId, o.appId, o.credential.value, options)
      : new ClientCertificateCredential(o.tenantId, o.appId, { certificate: o.credential.pem }, options);
  return bounded.wrap(credential);
}

/** A fresh Exchange token of the app (the scope the proof needs), fetched with a new credential. */
export async function requestAppToken(o: AppCredentialOptions): Promise<string> {
  const t = await createAppCredential(o).getToken(o.profile.exchangeScope, { abortSignal: o.bounds?.signal });
  if (!t) throw new Error('the app credential returned no token');
  return t.token;
}
