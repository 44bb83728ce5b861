/**
 * What smtp.office365.com says, word for word. Every text here was seen in captured Exchange Online transcripts
 * (or Exchange's own SmtpResponse table, which Exchange Online shares); see m365-facts.md §6 and the sources named
 * beside each group. Modern Exchange Online appends `[<frontend FQDN> <ISO time> <session id>]` to its error replies;
 * the store driver's replies end with `[Hostname=<mailbox server>]` instead.
 */

/** The emulated frontend and mailbox servers (shaped like Exchange Online's machine names). */
export const FRONTEND_SERVER = 'EM1PR00CA0001';
/** Name in the banner and the EHLO reply (`SY5P282CA0097.outlook.office365.com`). */
export const BANNER_HOST = `${FRONTEND_SERVER}.outlook.office365.com`;
/** Name in the diagnostic suffix of error replies (`SN2PR00CA0018.namprd00.prod.outlook.com`). */
export const DIAGNOSTIC_HOST = `${FRONTEND_SERVER}.namprd00.prod.outlook.com`;
/** The mailbox server in `[Hostname=…]` (`SYBP282MB2635.AUSP282.PROD.OUTLOOK.COM`). */
export const MAILBOX_SERVER = 'EM1PR00MB0001.NAMPRD00.PROD.OUTLOOK.COM';

/** SIZE advertised in EHLO: 150 MB. */
export const MAX_MESSAGE_SIZE = 157_286_400;
/** Exchange Online's default recipient limit per message. */
export const MAX_RECIPIENTS = 500;

/** EHLO capabilities in Exchange Online's order; AUTH appears only inside TLS and STARTTLS only outside it. */
export function ehloLines(remoteAddress: string, secure: boolean): string[] {
  return [
    `${BANNER_HOST} Hello [${remoteAddress}]`,
    `SIZE ${MAX_MESSAGE_SIZE}`,
    'PIPELINING',
    'DSN',
    'ENHANCEDSTATUSCODES',
    secure ? 'AUTH LOGIN XOAUTH2' : 'STARTTLS',
    '8BITMIME',
    'BINARYMIME',
    'CHUNKING',
    'SMTPUTF8',
  ];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Sun, 23 Nov 2025 11:12:20 +0000` (day of month not padded, as Exchange writes it). */
export function bannerDate(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * Exchange's session id: .NET ticks of the connection's start in hex (`08DCE8B62813AB2B`). A per-process counter
 * in the low bits keeps two connections of the same millisecond apart.
 */
export function newSessionId(nowMs: number, counter: number): string {
  const ticks = BigInt(nowMs) * 10_000n + 621_355_968_000_000_000n + BigInt(counter % 10_000);
  return ticks.toString(16).toUpperCase().padStart(16, '0');
}

export function bannerText(sessionId: string, now: Date): string {
  return `${BANNER_HOST} Microsoft ESMTP MAIL Service ready at ${bannerDate(now)} [${sessionId}]`;
}

/** ` [SN2PR00CA0018.namprd00.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]` */
export function diagnosticSuffix(sessionId: string, now: Date): string {
  return `[${DIAGNOSTIC_HOST} ${now.toISOString()} ${sessionId}]`;
}

/** A reply before its diagnostic suffix: the code and the text starting with the enhanced status code. */
export interface SmtpReply {
  code: number;
  text: string;
}

const r = (code: number, text: string): SmtpReply => ({ code, text });

/** Replies of the session (Exchange's SmtpResponse table; transcripts in the issues cited in m365-facts.md). */
export const REPLIES = {
  startTls: r(220, '2.0.0 SMTP server ready'),
  authSuccessful: r(235, '2.7.0 Authentication successful'),
  quit: r(221, '2.0.0 Service closing transmission channel'),
  reset: r(250, '2.0.0 Resetting'),
  noop: r(250, '2.0.0 OK'),
  senderOk: r(250, '2.1.0 Sender OK'),
  recipientOk: r(250, '2.1.5 Recipient OK'),
  cannotVrfy: r(252, '2.1.5 Cannot VRFY user'),
  startData: r(354, 'Start mail input; end with <CRLF>.<CRLF>'),
  serviceUnavailable: r(421, '4.3.2 Service not available'),
  /** smtp-submission-improvements: one more authenticated connection than a mailbox may hold at once. */
  concurrentConnectionsExceeded: r(
    432,
    '4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.',
  ),
  /** After the TLS handshake, for a client that negotiated TLS 1.0 or 1.1 (idx 5663515276). */
  oldTls: r(
    421,
    '4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls.',
  ),
  connectionTimedOut: r(421, '4.4.1 Connection timed out'),
  tooManyErrors: r(421, '4.7.0 Too many errors on this connection, closing transmission channel'),
  startTlsRequired: r(451, '5.7.3 STARTTLS is required to send mail'),
  temporaryServerError: r(451, '4.7.0 Temporary server error. Please try again later'),
  temporaryAuthFailure: r(454, '4.7.0 Temporary authentication failure'),
  tooManyRecipients: r(452, '4.5.3 Too many recipients'),
  unrecognizedCommand: r(500, '5.3.3 Unrecognized command'),
  commandTooLong: r(500, '5.5.2 Command too long'),
  invalidArguments: r(501, '5.5.4 Invalid arguments'),
  unrecognizedParameter: r(501, '5.5.4 Unrecognized parameter'),
  unsupportedBody: r(501, '5.5.4 Unsupported BODY type'),
  invalidDomain: r(501, '5.5.4 Invalid domain name'),
  ehloDomainRequired: r(501, '5.0.0 EHLO requires domain address'),
  heloDomainRequired: r(501, '5.0.0 HELO requires domain address'),
  invalidSender: r(501, '5.1.7 Invalid address'),
  invalidRecipient: r(501, '5.1.3 Invalid address'),
  authCancelled: r(501, '5.5.4 Authentication cancelled'),
  badSequence: r(503, '5.5.1 Bad sequence of commands'),
  needHello: r(503, '5.5.2 Send hello first'),
  needMail: r(503, '5.5.2 Need mail command'),
  needRcpt: r(503, '5.5.2 Need rcpt command'),
  senderAlreadySpecified: r(503, '5.5.2 Sender already specified'),
  authAlreadySpecified: r(503, '5.5.2 Auth command already specified'),
  startTlsAlreadyNegotiated: r(503, '5.5.2 Only one STARTTLS command can be issued per session'),
  unrecognizedAuthType: r(504, '5.7.4 Unrecognized authentication type'),
  notAuthenticated: r(530, '5.7.57 Client not authenticated to send mail.'),
  authUnsuccessful: r(535, '5.7.3 Authentication unsuccessful'),
  basicAuthDisabled: r(535, '5.7.139 Authentication unsuccessful, basic authentication is disabled.'),
  smtpAuthDisabledTenant: r(
    535,
    '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.',
  ),
  smtpAuthDisabledMailbox: r(
    535,
    '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.',
  ),
  securityDefaults: r(
    535,
    "5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator.",
  ),
  mailboxCannotBeAccessed: r(550, '5.2.1 Mailbox cannot be accessed'),
  // Continuous error throttling for SMTP AUTH submissions (learn.microsoft.com/Exchange/mail-flow-best-practices/
  // continuous-error-throttling-smtp-auth-submissions): a mailbox that keeps failing is throttled for a while.
  throttledMailboxFull: r(550, '5.2.251 Sender throttled due to continuous mailbox full errors.'),
  throttledSendAsDenied: r(550, '5.2.252 Sender throttled due to continuous send as denied errors.'),
  throttledInvalidLicense: r(550, '5.2.253 Sender throttled due to continuous invalid license errors.'),
  throttledTooManyRecipients: r(550, '5.2.254 Sender throttled due to continuous too many recipients errors.'),
  throttledInvalidRecipients: r(550, '5.2.255 Sender throttled due to continuous invalid recipients errors.'),
  messageTooLarge: r(552, '5.3.4 Message size exceeds fixed maximum message size'),
} as const;

/** `250 2.6.0 CHUNK received OK, 4096 octets` (BDAT chunk that is not the last). */
export function chunkReceived(octets: number): SmtpReply {
  return r(250, `2.6.0 CHUNK received OK, ${octets} octets`);
}

/** `250 2.0.0 OK <message-id> [Hostname=…]` once a message is accepted for submission. */
export function messageAccepted(messageId: string): SmtpReply {
  return r(250, `2.0.0 OK ${messageId} [Hostname=${MAILBOX_SERVER}]`);
}

/**
 * The store driver's SendAs refusal at the end of DATA (`554 5.2.252 SendAsDenied; a@x not allowed to send as b@x;
 * STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; …`).
 */
export function sendAsDenied(authenticated: string, from: string): SmtpReply {
  return r(
    554,
    `5.2.252 SendAsDenied; ${authenticated} not allowed to send as ${from}; ` +
      'STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; ' +
      'Failed to process message due to a permanent exception with message ' +
      '[BeginDiagnosticData]Cannot submit message. 0.35250:0A000000, 1.36674:0A000000, 1.61250:00000000' +
      `[EndDiagnosticData] [Hostname=${MAILBOX_SERVER}]`,
  );
}
