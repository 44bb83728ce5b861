/**
 * The XOAUTH2 proof: a token with the app's own credential (client credentials), its claims checked, then
 * STARTTLS + AUTH XOAUTH2 with nodemailer, and optionally a test message; every step bounded by the timeout, a
 * transient failure before anything was sent tried again a few times.
 */
import net from 'node:net';
import nodemailer from 'nodemailer';
import type { CustomAuthenticationContext } from 'nodemailer/lib/smtp-connection/index.js';
import { decodeJwt } from 'jose';
import { DEFAULT_TIMEOUT_MS, timeoutSentence, type RequestObserver } from '../auth/index.js';
import { retry, untilAborted } from '../poll/index.js';
import { explainSmtpReply, type Explanation } from './replies.js';

export interface TokenClaimsCheck {
  ok: boolean;
  problems: string[];
  claims: { aud?: string; tid?: string; appid?: string; roles?: string[]; oid?: string };
}

/** Checks an Exchange app token before SMTP sees it: most failures show here already. */
export function checkTokenClaims(
  token: string,
  expect: { tenantId: string; appId: string; audience: string; requireRole: boolean },
): TokenClaimsCheck {
  const c = decodeJwt(token) as Record<string, unknown>;
  const claims = {
    aud: typeof c.aud === 'string' ? c.aud : undefined,
    tid: typeof c.tid === 'string' ? c.tid : undefined,
    appid: typeof c.appid === 'string' ? c.appid : typeof c.azp === 'string' ? c.azp : undefined,
    roles: Array.isArray(c.roles) ? c.roles.map(String) : undefined,
    oid: typeof c.oid === 'string' ? c.oid : undefined,
  };
  const problems: string[] = [];
  if (claims.aud !== expect.audience && claims.aud !== '00000002-0000-0ff1-ce00-000000000000')
    problems.push(
      `the token's audience is ${claims.aud}, not ${expect.audience}: request the scope https://outlook.office365.com/.default`,
    );
  if (claims.tid !== expect.tenantId)
    problems.push(
      `the token is for tenant ${claims.tid}, not the mailbox tenant ${expect.tenantId}: request it from the mailbox tenant's authority`,
    );
  if (claims.appid?.toLowerCase() !== expect.appId.toLowerCase())
    problems.push(`the token is for app ${claims.appid}, not ${expect.appId}`);
  if (expect.requireRole && !claims.roles?.includes('SMTP.SendAsApp'))
    problems.push(
      claims.roles?.length
        ? `the token's roles (${claims.roles.join(', ')}) lack SMTP.SendAsApp: admin consent for SMTP.SendAsApp is missing in the mailbox tenant`
        : 'the token has no roles claim: admin consent for SMTP.SendAsApp is missing in the mailbox tenant (or has not propagated yet)',
    );
  return { ok: problems.length === 0, problems, claims };
}

export interface SmtpProbeOptions {
  host: string;
  port: number;
  ca?: string;
  mailbox: string;
  accessToken: string;
  /** Send a test message to this address (From = the mailbox). */
  sendTo?: string;
  /** The test message's From, when it is not the mailbox (another mailbox: it must grant the mailbox SendAs). */
  from?: string;
  /** Connection, greeting and socket (each reply) timeout, in ms (`--timeout`; default 60 000). */
  timeoutMs?: number;
  /** Most tries while the failure is transient and nothing was sent yet (default 3). */
  attempts?: number;
  /** First wait before another try, in ms (default 1000; tests shorten it). */
  retryBaseMs?: number;
  signal?: AbortSignal;
  /** One event per try (its AUTH reply) and one for the test message. Never the token or the message. */
  onRequest?: RequestObserver;
  onRetry?: (what: string, delayMs: number) => void;
}

export interface SmtpProbeResult {
  ok: boolean;
  /** The server's last reply line, e.g. "235 2.7.0 Authentication successful" or "535 5.7.3 …". */
  reply: string;
  stage: 'connect' | 'tls' | 'auth' | 'send' | 'done';
  explanation?: Explanation;
  messageId?: string;
  /** Tries made (1 when nothing had to be retried). */
  attempts: number;
  /** The transient failures that were tried again, in order: "connect: ECONNRESET", "auth: 421 4.3.2 …". */
  retried: string[];
}

type Outcome = Omit<SmtpProbeResult, 'attempts' | 'retried'> & { transient?: boolean };

/** A failure worth another try: nothing had been sent, and the server or the network may answer next time. */
class TransientSmtpFailure extends Error {
  constructor(readonly outcome: Outcome) {
    super(`${outcome.stage}: ${outcome.reply}`);
  }
}

/** Our own name for the XOAUTH2 exchange (nodemailer would replace a custom "XOAUTH2" by its own handler). */
const AUTH_METHOD = 'SENDASAPP-XOAUTH2';

/**
 * STARTTLS + AUTH XOAUTH2 (and the test message with `sendTo`), each step bounded by `timeoutMs`. A reset, a
 * refused connection or a 4xx reply before the message is sent is tried again (at most `attempts` times); a
 * timeout, a 5xx reply or anything after the message went out is final. The result says what was retried.
 */
export async function probeSmtp(o: SmtpProbeOptions): Promise<SmtpProbeResult> {
  const retried: string[] = [];
  let attempts = 0;
  const once = async (): Promise<Outcome> => {
    attempts += 1;
    // nodemailer cannot be cancelled: stop waiting for it (attemptSmtp also destroys its socket).
    const outcome = await untilAborted(attemptSmtp(o), o.signal);
    if (!outcome.ok && outcome.transient) throw new TransientSmtpFailure(outcome);
    return outcome;
  };
  const finish = (r: Outcome): SmtpProbeResult => {
    const { transient: _transient, ...rest } = r;
    return { ...rest, attempts, retried };
  };
  try {
    return finish(
      await retry(once, (err) => err instanceof TransientSmtpFailure, {
        what: `SMTP ${o.host}:${o.port}`,
        maxAttempts: o.attempts ?? 3,
        baseMs: o.retryBaseMs ?? 1000,
        deadlineMs: 5 * (o.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        signal: o.signal,
        onRetry: (i) => {
          retried.push(i.reason);
          o.onRetry?.(`${i.what}: ${i.reason}`, i.delayMs);
        },
      }),
    );
  } catch (err) {
    if (err instanceof TransientSmtpFailure) return finish(err.outcome);
    throw err;
  }
}

async function attemptSmtp(o: SmtpProbeOptions): Promise<Outcome> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = `${o.host}:${o.port}`;
  // Where the exchange is: before AUTH, in AUTH, or past it (the message may be on its way: never repeated).
  const at: { stage: 'connect' | 'auth' | 'send' } = { stage: 'connect' };
  let authReply = '';
  const started = performance.now();
  const report = (method: string, status: number | string): void =>
    o.onRequest?.({ service: 'smtp', method, target: where, status, ms: Math.round(performance.now() - started) });
  const xoauth2 = Buffer.from(`user=${o.mailbox}\x01auth=Bearer ${o.accessToken}\x01\x01`).toString('base64');
  const transport = nodemailer.createTransport({
    host: o.host,
    port: o.port,
    secure: false,
    requireTLS: true,
    tls: { minVersion: 'TLSv1.2', ...(o.ca ? { ca: o.ca } : {}) },
    auth: { type: 'custom', method: AUTH_METHOD, user: o.mailbox, pass: '' },
    customAuth: {
      [AUTH_METHOD]: async (ctx: CustomAuthenticationContext) => {
        at.stage = 'auth';
        let r = await ctx.sendCommand(`AUTH XOAUTH2 ${xoauth2}`);
        // A JSON error challenge (334 <base64>) is answered with an empty line; the final reply follows.
        if (r.status === 334) r = await ctx.sendCommand('');
        report('AUTH XOAUTH2', r.status);
        if (r.status !== 235)
          throw Object.assign(new Error(r.response), { response: r.response, responseCode: r.status });
        authReply = r.response;
        at.stage = 'send';
        return true;
      },
    },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // Our own (unconnected) socket, which nodemailer connects: cancelling the run destroys it, mid-exchange too.
    getSocket: (_options: unknown, callback: (err: Error | null, socketOptions: object) => void) => {
      const socket = new net.Socket();
      sockets.push(socket);
      if (o.signal?.aborted) socket.destroy();
      callback(null, { socket });
    },
  });
  const sockets: net.Socket[] = [];
  const onAbort = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (!o.sendTo) {
      await transport.verify();
      return { ok: true, reply: authReply || '235 2.7.0 Authentication successful', stage: 'done' };
    }
    const from = o.from ?? o.mailbox;
    const info = await transport.sendMail({
      from,
      to: o.sendTo,
      subject: 'sendasapp test message',
      text:
        from === o.mailbox
          ? `This message proves that the app can send as ${o.mailbox} through SMTP AUTH XOAUTH2.\n`
          : `This message proves that ${from} can send through the shared account ${o.mailbox} (SendAs) over SMTP AUTH XOAUTH2.\n`,
    });
    report('SEND', Number(/^\d{3}/.exec(info.response)?.[0] ?? 250));
    return { ok: true, reply: info.response, stage: 'done', messageId: info.messageId };
  } catch (err) {
    if (o.signal?.aborted) throw o.signal.reason;
    const e = err as { code?: string; response?: string; responseCode?: number; message?: string };
    const timedOut = e.code === 'ETIMEDOUT';
    const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
    if (at.stage !== 'auth' || code === undefined)
      report(at.stage === 'send' ? 'SEND' : 'AUTH XOAUTH2', timedOut ? 'timeout' : (code ?? e.code ?? 'error'));
    const reply = timedOut
      ? timeoutSentence(
          'smtp',
          where,
          at.stage === 'connect'
            ? 'the connection (greeting, EHLO, STARTTLS)'
            : at.stage === 'auth'
              ? 'AUTH XOAUTH2'
              : 'the test message',
          timeoutMs,
        )
      : (e.response ?? e.message ?? String(err));
    const failedAt =
      e.code === 'ETLS'
        ? 'tls'
        : at.stage === 'connect' && e.code !== 'EAUTH'
          ? 'connect'
          : at.stage === 'send'
            ? 'send'
            : 'auth';
    // Nothing went out yet, and the server or the network may answer next time: a reset, a refused or closed
    // connection, or a 4xx reply. A timeout (the server hangs) and a 5xx are final.
    const transient =
      at.stage !== 'send' &&
      !timedOut &&
      (code !== undefined ? code >= 400 && code < 500 : e.code === 'ECONNECTION' || e.code === 'ESOCKET');
    return { ok: false, reply, stage: failedAt, explanation: explainSmtpReply(reply), transient };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    transport.close();
  }
}
