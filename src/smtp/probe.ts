/**
 * The XOAUTH2 proof: a token with the app's own credential (client credentials), its claims checked, then
 * STARTTLS + AUTH XOAUTH2 with nodemailer, and optionally a test message.
 */
import nodemailer from 'nodemailer';
import { decodeJwt } from 'jose';
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
  timeoutMs?: number;
}

export interface SmtpProbeResult {
  ok: boolean;
  /** The server's last reply line, e.g. "235 2.7.0 Authentication successful" or "535 5.7.3 …". */
  reply: string;
  stage: 'connect' | 'tls' | 'auth' | 'send' | 'done';
  explanation?: Explanation;
  messageId?: string;
}

export async function probeSmtp(o: SmtpProbeOptions): Promise<SmtpProbeResult> {
  const transport = nodemailer.createTransport({
    host: o.host,
    port: o.port,
    secure: false,
    requireTLS: true,
    tls: { minVersion: 'TLSv1.2', ...(o.ca ? { ca: o.ca } : {}) },
    auth: { type: 'OAuth2', user: o.mailbox, accessToken: o.accessToken },
    connectionTimeout: o.timeoutMs ?? 30_000,
    greetingTimeout: o.timeoutMs ?? 30_000,
    socketTimeout: o.timeoutMs ?? 60_000,
  });
  try {
    await transport.verify();
    if (!o.sendTo) return { ok: true, reply: '235 2.7.0 Authentication successful', stage: 'done' };
    const info = await transport.sendMail({
      from: o.mailbox,
      to: o.sendTo,
      subject: 'sendasapp test message',
      text: `This message proves that the app can send as ${o.mailbox} through SMTP AUTH XOAUTH2.\n`,
    });
    return { ok: true, reply: info.response, stage: 'done', messageId: info.messageId };
  } catch (err) {
    const e = err as { code?: string; response?: string; message?: string; command?: string };
    const reply = e.response ?? e.message ?? String(err);
    const stage =
      e.code === 'EAUTH'
        ? 'auth'
        : e.code === 'ETLS'
          ? 'tls'
          : e.code === 'ECONNECTION' || e.code === 'ETIMEDOUT' || e.code === 'ESOCKET'
            ? 'connect'
            : 'send';
    return { ok: false, reply, stage, explanation: explainSmtpReply(reply) };
  } finally {
    transport.close();
  }
}
