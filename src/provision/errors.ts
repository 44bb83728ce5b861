/**
 * Turns any failure into the sentence an operator can act on: what failed, the likely cause, the fix.
 */
import { GraphNetworkError, GraphRequestError } from '../entra/index.js';
import { ExchangeError } from '../exchange/index.js';
import { explainExchangeError, explainTokenError } from '../smtp/index.js';

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
    const known = explainExchangeError(err.exchangeMessage);
    if (known.id !== 'unknown')
      return `Exchange ${err.cmdlet}: ${err.exchangeMessage}. Cause: ${known.cause}. Fix: ${known.fix}`;
    if (err.kind === 'access-denied')
      return `Exchange refused ${err.cmdlet}: ${err.exchangeMessage}. Cause: the operator is not an Exchange administrator (an app needs Exchange.ManageAsApp and the Exchange Administrator role). Fix: assign the role, or sign in as an Exchange administrator`;
    if (err.kind === 'throttled' || err.kind === 'transient')
      return `Exchange did not complete ${err.cmdlet}: ${err.exchangeMessage}. Fix: rerun later; the run converges where it stopped`;
    if (err.kind === 'not-found')
      return `Exchange ${err.cmdlet} failed: ${err.exchangeMessage}. Cause: a mailbox, group or object named in the options does not exist in this tenant. Fix: check --mailbox and --group (addresses of this tenant's mailboxes and mail-enabled groups) and --tenant`;
    if (err.kind === 'invalid-input')
      return `Exchange ${err.cmdlet} refused its input: ${err.exchangeMessage}. Fix: check the values given for mailboxes and groups; if they are right, this is a sendasapp bug: please report it with the command you ran`;
    return `Exchange ${err.cmdlet} failed: ${err.exchangeMessage}. Fix: run \`sendasapp status\` to see which resource is not in place, then rerun apply`;
  }
  const message = err instanceof Error ? err.message : String(err);
  // Resources call Graph and Exchange with the operator's credential: a sign-in failure here is the operator's.
  if (/AADSTS\d+/.test(message)) return operatorSignInError(err).message;
  return message.split(/\r?\n/)[0] ?? message;
}

/** The operator could not get a token (a wrong or expired credential, no consent): never worth retrying. */
export function operatorSignInError(err: unknown, tenant?: string): OperatorError {
  const message = err instanceof Error ? err.message : String(err);
  const code = /AADSTS\d+/.exec(message)?.[0];
  const where = tenant ? ` to ${tenant}` : '';
  const known = explainTokenError(message, 'operator');
  if (known.id !== 'unknown')
    return new OperatorError(`the operator could not sign in${where} (${code}). Cause: ${known.cause}`, known.fix);
  return new OperatorError(
    `the operator could not sign in${where}: ${(message.split(/\r?\n/)[0] ?? message).slice(0, 300)}`,
    'check --auth and the operator credentials (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET / certificate)',
  );
}
