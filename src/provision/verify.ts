/**
 * The proof: a token for the mailbox tenant with the app's own credential, its claims checked, then STARTTLS +
 * AUTH XOAUTH2 for every mailbox (and a test message with --verify send). 535 5.7.3 and token errors that mean
 * "not propagated yet" are retried with backoff until the wait runs out; every other failure is explained at once.
 */
import { requestAppToken, type AppSecret, type CloudProfile, type NetworkBounds } from '../auth/index.js';
import { formatDuration, poll, PollTimeoutError } from '../poll/index.js';
import { checkTokenClaims, explainTokenError, probeSmtp, type SmtpProbeResult } from '../smtp/index.js';

export type AppCredential = AppSecret;

export interface VerifyInput {
  profile: CloudProfile;
  tenantId: string;
  appId: string;
  credential: AppCredential;
  mailboxes: string[];
  /** RBAC mode: the token carries no roles. */
  rbac: boolean;
  sendTo?: string;
  waitMs: number;
  progress: (line: string) => void;
  signal: AbortSignal;
  /** --timeout and the request log (the signal above cancels). */
  bounds?: NetworkBounds;
  /** First retry delay (tests shorten it). */
  initialDelayMs?: number;
  /** A token fetched ahead (while Exchange was still being configured), used by the first attempt. */
  firstToken?: Promise<string | undefined>;
  /** The credential was made by this run: Entra may not know it yet (a wrong-secret answer can be lag). */
  credentialIsNew?: boolean;
  /**
   * With send-as users and a test message: one more message through the shared account's session, From a person
   * who sends through it. `granted`: Exchange shows that person's SendAs grant (a SendAsDenied is then its cache).
   */
  sendAs?: { account: string; from: string; granted: boolean };
}

/** The test message From a send-as user through the shared account. */
export interface SendAsProof {
  account: string;
  from: string;
  status: 'passed' | 'failed';
  reply: string;
  cause?: string;
  fix?: string;
}

export interface MailboxProof {
  mailbox: string;
  status: 'passed' | 'failed';
  reply: string;
  cause?: string;
  fix?: string;
}

export interface VerificationReport {
  status: 'passed' | 'failed' | 'skipped';
  /** The decisive reply (the first failure, or the success line). */
  reply: string;
  /** True when what failed is propagation that did not finish within the wait. */
  timedOut: boolean;
  cause?: string;
  fix?: string;
  claims?: { aud?: string; tid?: string; appid?: string; roles?: string[] };
  mailboxes: MailboxProof[];
  /** With send-as users and --verify send: the message From one of them through the shared account. */
  sendAs?: SendAsProof;
  attempts: number;
}

export function skippedVerification(reason: string): VerificationReport {
  return { status: 'skipped', reply: reason, timedOut: false, mailboxes: [], attempts: 0 };
}

export async function appToken(
  v: Pick<VerifyInput, 'profile' | 'tenantId' | 'appId' | 'credential' | 'signal' | 'bounds'>,
): Promise<string> {
  // A new credential per attempt: a cached token would keep the roles of before the consent.
  return requestAppToken({
    profile: v.profile,
    tenantId: v.tenantId,
    appId: v.appId,
    credential: v.credential,
    bounds: { ...v.bounds, signal: v.signal },
  });
}

/**
 * The proof, tried again while what fails is propagation (consent, Exchange's permission cache: 30 min to 2 h),
 * 5 s first (RunHooks.proofRetryBaseMs in rehearsals), doubling up to 60 s, until --wait runs out.
 */
export async function verifyDelivery(v: VerifyInput): Promise<VerificationReport> {
  let last: VerificationReport | undefined;
  try {
    return await poll<VerificationReport>(
      async (n) => {
        last = await attempt(v, n);
        const retryable = last.status === 'failed' && last.timedOut;
        return retryable ? { done: false, reason: last.reply } : { done: true, value: last };
      },
      {
        what: 'the XOAUTH2 proof',
        deadlineMs: v.waitMs,
        baseMs: v.initialDelayMs ?? 5000,
        capMs: 60_000,
        signal: v.signal,
        onRetry: (r) =>
          v.progress(
            `  not yet: ${r.reason} — retrying in ${formatDuration(r.delayMs)} (waiting up to ${formatDuration(v.waitMs)} for propagation)`,
          ),
      },
    );
  } catch (err) {
    if (err instanceof PollTimeoutError && last) return last;
    throw err;
  }
}

/** One try. `timedOut: true` marks a failure that propagation may still fix (the caller retries). */
async function attempt(v: VerifyInput, n: number): Promise<VerificationReport> {
  let token: string;
  try {
    const ahead = n === 1 ? await v.firstToken?.catch(() => undefined) : undefined;
    token = ahead ?? (await appToken(v));
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    const e = explainTokenError(message);
    // Right after a secret or a service principal is created, Entra may not know it yet.
    const propagation = e.propagation || (e.id === 'wrong-secret' && v.credentialIsNew === true);
    const code = /AADSTS\d+/.exec(message)?.[0] ?? 'token error';
    return {
      status: 'failed',
      reply: `${code}: ${message.split(/\r?\n/)[0]!.slice(0, 300)}`,
      timedOut: propagation,
      cause: e.cause,
      fix: e.fix,
      mailboxes: [],
      attempts: n,
    };
  }
  const check = checkTokenClaims(token, {
    tenantId: v.tenantId,
    appId: v.appId,
    audience: v.profile.exchangeScope.replace(/\/\.default$/, ''),
    requireRole: !v.rbac,
  });
  if (!check.ok) {
    const roleMissing = check.problems.some((p) => /roles/.test(p));
    return {
      status: 'failed',
      reply: `token claims: ${check.problems.join('; ')}`,
      timedOut: roleMissing,
      cause: check.problems[0],
      fix: roleMissing
        ? 'grant admin consent for SMTP.SendAsApp in the mailbox tenant (apply does it), then wait for propagation'
        : 'request the token from the mailbox tenant with scope https://outlook.office365.com/.default',
      claims: check.claims,
      mailboxes: [],
      attempts: n,
    };
  }
  const probe = (mailbox: string, from?: string): Promise<SmtpProbeResult> =>
    probeSmtp({
      host: v.profile.smtp.host,
      port: v.profile.smtp.port,
      ca: v.profile.caPem,
      mailbox,
      accessToken: token,
      sendTo: v.sendTo,
      ...(from ? { from } : {}),
      timeoutMs: v.bounds?.timeoutMs,
      signal: v.signal,
      onRequest: v.bounds?.onRequest,
    });
  const sendAs = v.sendAs && v.sendTo ? v.sendAs : undefined;
  const [results, sendAsResult] = await Promise.all([
    Promise.all(v.mailboxes.map((m) => probe(m))),
    sendAs ? probe(sendAs.account, sendAs.from) : Promise.resolve(undefined),
  ]);
  const sendAsProof: SendAsProof | undefined =
    sendAs && sendAsResult
      ? {
          account: sendAs.account,
          from: sendAs.from,
          status: sendAsResult.ok ? 'passed' : 'failed',
          reply: sendAsResult.reply,
          ...(sendAsResult.explanation
            ? { cause: sendAsResult.explanation.cause, fix: sendAsResult.explanation.fix }
            : {}),
        }
      : undefined;
  const withSendAs = sendAsProof ? { sendAs: sendAsProof } : {};
  const mailboxes: MailboxProof[] = results.map((r, i) => ({
    mailbox: v.mailboxes[i]!,
    status: r.ok ? 'passed' : 'failed',
    reply: r.reply,
    ...(r.explanation ? { cause: r.explanation.cause, fix: r.explanation.fix } : {}),
  }));
  const failed = results.findIndex((r) => !r.ok);
  if (failed < 0 && sendAs && sendAsResult && !sendAsResult.ok) {
    const e = sendAsResult.explanation;
    const denied = e?.id === 'send-as-denied';
    return {
      status: 'failed',
      reply: `${sendAs.account} as ${sendAs.from}: ${sendAsResult.reply}`,
      // Exchange shows the grant yet refuses it: its permission cache has not caught up (up to an hour).
      timedOut: e?.propagation === true || (denied && sendAs.granted),
      cause: !denied
        ? e?.cause
        : sendAs.granted
          ? `${sendAs.from}'s mailbox grants SendAs to ${sendAs.account}, but Exchange's permission cache has not seen the grant yet`
          : `${sendAs.from}'s mailbox does not grant SendAs to ${sendAs.account}`,
      fix: !denied
        ? e?.fix
        : sendAs.granted
          ? 'wait and retry: Exchange takes up to an hour to apply a new SendAs grant (apply retries up to --wait)'
          : `run \`sendasapp apply\` with ${sendAs.from} in --send-as-users (or in the --send-as-group group)`,
      claims: check.claims,
      mailboxes,
      ...withSendAs,
      attempts: n,
    };
  }
  if (failed < 0)
    return {
      status: 'passed',
      reply: results[0]?.reply ?? 'no mailbox',
      timedOut: false,
      claims: check.claims,
      mailboxes,
      ...withSendAs,
      attempts: n,
    };
  const f = results[failed]!;
  return {
    status: 'failed',
    reply: `${v.mailboxes[failed]}: ${f.reply}`,
    timedOut: results.every((r) => r.ok || r.explanation?.propagation === true),
    cause: f.explanation?.cause,
    fix: f.explanation?.fix,
    claims: check.claims,
    mailboxes,
    ...withSendAs,
    attempts: n,
  };
}
