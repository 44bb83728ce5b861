/**
 * Turns any failure into the sentence an operator can act on: what failed, the likely cause, the fix.
 */
import { GraphNetworkError, GraphRequestError } from '../entra/index.js';
import { ExchangeError } from '../exchange/index.js';
import { explainTokenError } from '../smtp/index.js';

/** A failure this tool understood: `message` says what happened, `fix` what to do. */
export class OperatorError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(`${message}. Fix: ${fix}`);
    this.name = 'OperatorError';
  }
}

/** Graph permissions each kind of call needs, for a 403. */
function graphPermissionFor(err: GraphRequestError): string {
  if (/appRoleAssign/i.test(err.path)) return 'AppRoleAssignment.ReadWrite.All (and Application.Read.All)';
  if (/servicePrincipals/i.test(err.path) && err.method !== 'GET')
    return 'Application.ReadWrite.All (or Cloud Application Administrator)';
  if (err.method === 'GET') return 'Application.Read.All';
  return 'Application.ReadWrite.All (or Application.ReadWrite.OwnedBy for apps it owns)';
}

export function explainError(err: unknown): string {
  if (err instanceof OperatorError) return err.message;
  if (err instanceof GraphRequestError) {
    if (err.status === 403)
      return `Graph refused ${err.method} ${err.path.split('?')[0]} (403 ${err.code}). Cause: the operator lacks the permission. Fix: grant the operator ${graphPermissionFor(err)} and admin consent, or sign in as an administrator`;
    if (err.status === 401)
      return `Graph rejected the operator's token (401 ${err.code}: ${err.graphMessage}). Fix: sign in again (check --auth, --cloud and the tenant)`;
    if (
      /Credential lifetime exceeds/i.test(err.graphMessage) ||
      /CredentialInvalidLifetime|InvalidLifetime/i.test(err.code)
    )
      return `Entra refused the secret's lifetime (${err.graphMessage}). Cause: a tenant app-management policy limits secret lifetimes. Fix: rerun with a shorter --secret-lifetime (e.g. 90d) or use --credential certificate`;
    return `Graph ${err.method} ${err.path.split('?')[0]} failed: ${err.status} ${err.code}: ${err.graphMessage}${err.requestId ? ` (request-id ${err.requestId})` : ''}`;
  }
  if (err instanceof GraphNetworkError)
    return `${err.message}. Fix: check the network and rerun; the run converges where it stopped`;
  if (err instanceof ExchangeError) {
    if (err.kind === 'access-denied')
      return `Exchange refused ${err.cmdlet}: ${err.exchangeMessage}. Cause: the operator is not an Exchange administrator (an app needs Exchange.ManageAsApp and the Exchange Administrator role). Fix: assign the role, or sign in as an Exchange administrator`;
    if (err.kind === 'throttled' || err.kind === 'transient')
      return `Exchange did not complete ${err.cmdlet}: ${err.exchangeMessage}. Fix: rerun later; the run converges where it stopped`;
    return `Exchange ${err.cmdlet} failed: ${err.exchangeMessage}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/AADSTS\d+/.test(message)) {
    const e = explainTokenError(message);
    const code = /AADSTS\d+/.exec(message)![0];
    if (e.id !== 'unknown') return `sign-in failed (${code}). Cause: ${e.cause}. Fix: ${e.fix}`;
    return `sign-in failed: ${message.split(/\r?\n/)[0]}`;
  }
  return message.split(/\r?\n/)[0] ?? message;
}
