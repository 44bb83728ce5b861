/**
 * One table: what smtp.office365.com (or Entra, at token time) answered → the likely cause → the fix.
 * Sources: m365-facts.md §3 and §6.
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
    cause: 'the client offered TLS 1.0/1.1',
    fix: 'use TLS 1.2 or later',
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

const TOKEN_ROWS: Row[] = [
  {
    id: 'wrong-secret',
    match: /AADSTS7000215/,
    cause: 'the client secret is wrong (often the secret ID was used instead of its Value)',
    fix: 'use the secret value from the --secret-out file, or let apply create a new secret',
    propagation: false,
  },
  {
    id: 'expired-secret',
    match: /AADSTS7000222/,
    cause: 'the client secret has expired',
    fix: 'rerun apply: it adds a new secret when ours is expired or about to expire',
    propagation: false,
  },
  {
    id: 'app-not-in-tenant',
    match: /AADSTS700016/,
    cause:
      'the app has no service principal in the mailbox tenant (it was never consented there), or the token was requested from the wrong tenant',
    fix: "have the mailbox tenant's admin open the admin-consent URL, then rerun",
    propagation: true,
  },
  {
    id: 'tenant-not-found',
    match: /AADSTS90002/,
    cause: 'the tenant id or domain does not exist in this cloud',
    fix: 'check --tenant (and --cloud)',
    propagation: false,
  },
];

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

export function explainTokenError(message: string): Explanation {
  const row = TOKEN_ROWS.find((r) => r.match.test(message));
  return row ? { id: row.id, cause: row.cause, fix: row.fix, propagation: row.propagation } : UNKNOWN;
}
