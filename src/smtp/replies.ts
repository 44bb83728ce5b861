/**
 * One table: what smtp.office365.com (or Entra at token time, or the Exchange admin API) answered → the likely cause
 * → the fix. Sources: m365-facts.md §3, §6 and §8.
 */

export interface Explanation {
  /** Short id, stable for tests and JSON output. */
  id: string;
  cause: string;
  fix: string;
  /** Worth retrying while Exchange's permission cache catches up. */
  propagation: boolean;
}

interface Row extends Explanation {
  match: RegExp;
}

const ROWS: Row[] = [
  {
    id: 'smtp-auth-disabled-tenant',
    match: /5\.7\.139 .*SmtpClientAuthentication is disabled for the Tenant/i,
    cause: 'SMTP AUTH is disabled for the organization and the mailbox does not override it',
    fix: 'enable it for the sending mailboxes: rerun with --enable-smtp-auth mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false), or for the organization with --enable-smtp-auth org',
    propagation: false,
  },
  {
    id: 'smtp-auth-disabled-mailbox',
    match: /5\.7\.139 .*SmtpClientAuthentication is disabled for the Mailbox/i,
    cause: 'SMTP AUTH is disabled on this mailbox (SmtpClientAuthenticationDisabled = True)',
    fix: 'rerun with --enable-smtp-auth mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false); if a security baseline resets it, exempt this mailbox there',
    propagation: false,
  },
  {
    id: 'security-defaults',
    match: /5\.7\.139 .*security defaults/i,
    cause: "the tenant's security defaults block SMTP AUTH",
    fix: 'turn security defaults off and protect sign-ins with Conditional Access instead, or send through Microsoft Graph',
    propagation: false,
  },
  {
    id: 'conditional-access',
    match: /5\.7\.139 .*did not meet the criteria/i,
    cause: 'a Conditional Access policy blocks this sign-in',
    fix: 'exclude the app (workload identity) from the blocking Conditional Access policy',
    propagation: false,
  },
  {
    id: 'basic-auth-disabled',
    match: /5\.7\.139 .*basic authentication is disabled|5\.7\.30 Basic authentication is not supported/i,
    cause: 'the client used LOGIN/PLAIN (basic authentication) instead of XOAUTH2',
    fix: 'configure the sending system for OAuth 2.0 (XOAUTH2) with the app credential',
    propagation: false,
  },
  {
    id: 'auth-unsuccessful',
    match: /535 5\.7\.3/i,
    cause:
      "Exchange does not let the app into the mailbox yet: the permission cache (30 min to 2 h) has not caught up, or the Exchange service principal, the mailbox permission or the SMTP.SendAsApp consent is missing or was registered with the app registration's object id",
    fix: 'wait and retry (apply retries up to --wait); if it persists, run `sendasapp status` and fix what it reports as missing or drifted',
    propagation: true,
  },
  // Continuous error throttling for SMTP AUTH (Microsoft Learn, continuous-error-throttling-smtp-auth-submissions):
  // before the per-message SendAsDenied row, which shares 5.2.252.
  {
    id: 'throttled-send-as-denied',
    match: /5\.2\.252 Sender throttled due to continuous send as denied errors/i,
    cause:
      'Exchange throttled this mailbox for SMTP AUTH after many submissions failed with SendAsDenied (the From address is another mailbox the app may not send as)',
    fix: 'stop the sending system from retrying, send From the authenticated mailbox (or grant SendAs on the From mailbox with --mailbox-access send-as), then wait for the throttle to lift before sending again',
    propagation: false,
  },
  {
    id: 'throttled-mailbox-full',
    match: /5\.2\.251 Sender throttled due to continuous mailbox full errors/i,
    cause: 'Exchange throttled this mailbox for SMTP AUTH after many submissions failed because the mailbox is full',
    fix: 'free space in the sending mailbox (its Sent Items count against its quota) or raise its quota, then wait for the throttle to lift',
    propagation: false,
  },
  {
    id: 'throttled-invalid-license',
    match: /5\.2\.253 Sender throttled due to continuous invalid license errors/i,
    cause:
      'Exchange throttled this mailbox for SMTP AUTH after many submissions failed because the mailbox has no valid license',
    fix: 'assign an Exchange Online license to the mailbox (or use a shared mailbox), then wait for the throttle to lift',
    propagation: false,
  },
  {
    id: 'throttled-too-many-recipients',
    match: /5\.2\.254 Sender throttled due to continuous too many recipients errors/i,
    cause: 'Exchange throttled this mailbox for SMTP AUTH after many submissions exceeded the recipient limit',
    fix: 'send to fewer recipients per message (Exchange Online allows 500 by default), then wait for the throttle to lift',
    propagation: false,
  },
  {
    id: 'throttled-invalid-recipients',
    match: /5\.2\.255 Sender throttled due to continuous invalid recipients errors/i,
    cause: 'Exchange throttled this mailbox for SMTP AUTH after many submissions were addressed to invalid recipients',
    fix: 'clean up the recipient addresses the sending system uses, then wait for the throttle to lift',
    propagation: false,
  },
  {
    id: 'send-as-denied',
    match: /5\.2\.252 SendAsDenied|5\.7\.60/i,
    cause: 'the From address is another mailbox, and the app has no SendAs permission on it',
    fix: 'send From the authenticated mailbox, or grant SendAs on the From mailbox (--mailbox-access send-as with that mailbox)',
    propagation: false,
  },
  {
    id: 'not-authenticated',
    match: /530 5\.7\.57/i,
    cause: 'the client sent MAIL FROM without authenticating',
    fix: 'enable authentication (OAuth 2.0 / XOAUTH2) in the sending system',
    propagation: false,
  },
  {
    id: 'tenant-restricted',
    match: /5\.7\.708/i,
    cause: 'Exchange refuses mail from this tenant or IP (a new or restricted tenant, or the wrong tenant id)',
    fix: 'check that the token is for the tenant that hosts the mailbox; new tenants may need Microsoft support to lift the restriction',
    propagation: false,
  },
  {
    id: 'old-tls',
    match: /4\.7\.66/i,
    cause:
      'the sending system negotiated TLS 1.0 or 1.1; Exchange Online completes the handshake, then refuses the session',
    fix: 'enable TLS 1.2 or later in the sending system (on Windows and .NET Framework: current updates and strong cryptography enabled); see https://aka.ms/smtp_auth_tls',
    propagation: false,
  },
  {
    id: 'mailbox-logon-failure',
    match: /430 4\.2\.0 STOREDRV.*logon failure/i,
    cause: 'Exchange could not log on to the mailbox for the app',
    fix: 'check the FullAccess (or SendAs) permission of the app on the mailbox; wait for propagation and retry',
    propagation: true,
  },
  {
    id: 'concurrent-connections',
    match: /432 4\.3\.2 Concurrent connections limit exceeded/i,
    cause: 'the mailbox already holds as many simultaneous SMTP AUTH connections as Exchange Online allows',
    fix: 'send over fewer parallel connections (reuse one connection, queue messages) and retry in a minute; see https://aka.ms/concurrent_sending',
    propagation: false,
  },
  {
    id: 'too-many-connections',
    match: /432 4\.3\.2/i,
    cause: 'too many concurrent connections from this sender',
    fix: 'send fewer messages in parallel',
    propagation: false,
  },
  {
    id: 'transient',
    match: /^(451 4\.7\.0|421 4\.3\.2)/i,
    cause: 'a temporary Exchange error',
    fix: 'retry later',
    propagation: true,
  },
];

/** Entra's answers at token time, worded for who was signing in: the app (the proof) or the operator. */
interface TokenRow {
  id: string;
  code: string;
  propagation: boolean;
  app: { cause: string; fix: string };
  operator: { cause: string; fix: string };
}

const TOKEN_ROWS: TokenRow[] = [
  {
    id: 'wrong-secret',
    code: 'AADSTS7000215',
    propagation: false,
    app: {
      cause: 'the client secret is wrong (often the secret ID was used instead of its Value)',
      fix: 'use the secret value from the --secret-out file, or let apply create a new secret',
    },
    operator: {
      cause: "the operator's client secret is wrong (often the secret ID was used instead of its value)",
      fix: "give the operator app's secret value (AZURE_CLIENT_SECRET with --auth client-secret or environment; the operator in the --endpoints file), or sign in another way with --auth",
    },
  },
  {
    id: 'expired-secret',
    code: 'AADSTS7000222',
    propagation: false,
    app: {
      cause: 'the client secret has expired',
      fix: 'rerun apply: it adds a new secret when ours is expired or about to expire',
    },
    operator: {
      cause: "the operator's client secret has expired",
      fix: 'add a new secret to the operator app and use it (AZURE_CLIENT_SECRET), or sign in another way with --auth',
    },
  },
  {
    id: 'app-not-in-tenant',
    code: 'AADSTS700016',
    propagation: true,
    app: {
      cause:
        'the app has no service principal in the mailbox tenant (it was never consented there), or the token was requested from the wrong tenant',
      fix: "have the mailbox tenant's admin open the admin-consent URL, then rerun",
    },
    operator: {
      cause: 'the operator app is not installed (consented) in this tenant',
      fix: "have an administrator of the tenant consent the operator app (Application.ReadWrite.All, AppRoleAssignment.ReadWrite.All, Exchange.ManageAsApp), or sign in as that tenant's administrator with --auth",
    },
  },
  {
    id: 'certificate-not-registered',
    code: 'AADSTS700027',
    propagation: false,
    app: {
      cause: "the app's certificate is not registered on the app, or the client assertion is invalid",
      fix: 'rerun apply with --credential certificate (it uploads the certificate it keeps in --secret-out), or check --certificate',
    },
    operator: {
      cause: "the operator's certificate is not registered on its app, or the assertion is invalid",
      fix: 'upload the certificate to the operator app, or check AZURE_CLIENT_CERTIFICATE_PATH',
    },
  },
  {
    id: 'tenant-not-found',
    code: 'AADSTS90002',
    propagation: false,
    app: { cause: 'the tenant id or domain does not exist in this cloud', fix: 'check --tenant (and --cloud)' },
    operator: { cause: 'the tenant does not exist in this cloud', fix: 'check --tenant / --home-tenant and --cloud' },
  },
];

/** What the Exchange admin API answered (cmdlet errors), for the operator. */
const EXCHANGE_ROWS: Row[] = [
  {
    id: 'exchange-role-not-supported',
    match: /role assigned to application .* isn't supported in this scenario/i,
    cause:
      'the operator app holds no Entra directory role that Exchange accepts for app-only administration (or its Exchange service principal is missing)',
    fix: 'assign the operator app the Exchange Administrator role in this tenant (Entra > Roles and administrators), wait a few minutes, and rerun; or sign in as an Exchange administrator with --auth',
    propagation: false,
  },
  {
    id: 'exchange-not-allowed',
    match: /is not allowed to call/i,
    cause:
      "the operator's Exchange role does not include this cmdlet (a read-only role such as Global Reader), or the operator app lacks the Exchange.ManageAsApp permission",
    fix: 'grant the operator app Exchange.ManageAsApp (admin consent) and the Exchange Administrator role, or sign in as an Exchange administrator with --auth',
    propagation: false,
  },
  {
    id: 'exchange-service-principal-not-found',
    match: /AADServicePrincipalNotFound/i,
    cause:
      "Exchange does not know the Entra service principal: it was created or consented moments ago and has not replicated to Exchange, or the object id is the app registration's, not the enterprise application's",
    fix: 'rerun in a few minutes (apply waits for replication after a fresh consent); if it persists, check that the object id is the one under Enterprise applications',
    propagation: true,
  },
];

/** An error text of the Exchange admin API (a cmdlet's message) explained for the operator. */
export function explainExchangeError(message: string): Explanation {
  const row = EXCHANGE_ROWS.find((r) => r.match.test(message));
  return row ? { id: row.id, cause: row.cause, fix: row.fix, propagation: row.propagation } : UNKNOWN;
}

const UNKNOWN: Explanation = {
  id: 'unknown',
  cause: 'an answer this tool does not know',
  fix: 'read the server reply above; `sendasapp status` shows the state of every resource',
  propagation: false,
};

export function explainSmtpReply(reply: string): Explanation {
  const row = ROWS.find((r) => r.match.test(reply));
  return row ? { id: row.id, cause: row.cause, fix: row.fix, propagation: row.propagation } : UNKNOWN;
}

/** An Entra token error (its AADSTS code) explained for the app's own sign-in or for the operator's. */
export function explainTokenError(message: string, who: 'app' | 'operator' = 'app'): Explanation {
  const code = /AADSTS\d+/.exec(message)?.[0];
  const row = TOKEN_ROWS.find((r) => r.code === code);
  return row ? { id: row.id, ...row[who], propagation: row.propagation } : UNKNOWN;
}
