/**
 * What happens to a message once the client has sent it (end of DATA or the last BDAT chunk): the store driver's
 * SendAs check on the From address, then the message is kept in the sent-as mailbox's store.
 */
import { randomUUID } from 'node:crypto';
import type { EmulatorContext } from '../context.js';
import type { StoredMessage } from '../state.js';
import { maySendAs } from '../exchange/authorization.js';
import { MAILBOX_SERVER, REPLIES, messageAccepted, sendAsDenied, type SmtpReply } from './replies.js';
import { mailboxByAddress, type SmtpIdentity } from './xoauth2.js';

/**
 * How much of a message is kept: its headers and text, not a scanned PDF (the state is rewritten as JSON on every
 * change). `size` keeps the real size, so `size > byteLength(raw)` tells a truncated message.
 */
export const MAX_STORED_RAW_BYTES = 64 * 1024;
/** How many messages a mailbox keeps; older ones are dropped first. */
export const MAX_STORED_MESSAGES_PER_MAILBOX = 100;

/** Collects the start of a message, up to a cap, and counts all of it. */
export class CappedBody {
  private readonly parts: Buffer[] = [];
  private kept = 0;
  size = 0;

  add(chunk: Buffer): void {
    this.size += chunk.length;
    const room = MAX_STORED_RAW_BYTES - this.kept;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.parts.push(Buffer.from(part));
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.size > this.kept;
  }

  text(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }
}

/** The header block of a message, unfolded, as [lower-case name, value] pairs. */
export function parseHeaders(raw: string): Array<[string, string]> {
  const end = raw.search(/\r?\n\r?\n/);
  const block = end >= 0 ? raw.slice(0, end) : raw;
  const headers: Array<[string, string]> = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      headers[headers.length - 1]![1] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return headers;
}

/** The first address of an address header (`"Name" <a@b>`, `a@b`, `a@b (comment)`). */
export function firstAddress(value: string): string | undefined {
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(value);
  if (angle) return angle[1]!.toLowerCase();
  const bare = /([^\s<>,;:"()]+@[^\s<>,;:"()]+)/.exec(value);
  return bare ? bare[1]!.toLowerCase() : undefined;
}

export interface Envelope {
  mailFrom: string;
  rcptTo: string[];
}

export interface SubmissionResult {
  reply: SmtpReply;
  accepted: boolean;
}

/**
 * Exchange checks the message's From (the envelope sender when there is none) against the signed-in mailbox: another
 * address needs SendAs on it (SendAsDenied otherwise). Accepted messages are stored under the sent-as address.
 */
export function submitMessage(
  ctx: EmulatorContext,
  identity: SmtpIdentity,
  envelope: Envelope,
  body: CappedBody,
): SubmissionResult {
  const { store } = ctx;
  const tenant = store.tenantById(identity.tenantId);
  const authUser = tenant?.users.find((u) => u.entity.id === identity.userId && u.mailbox !== null);
  if (!tenant || !authUser) return { reply: REPLIES.mailboxCannotBeAccessed, accepted: false };

  const raw = body.text();
  const headers = parseHeaders(raw);
  const fromHeader = headers.find(([name]) => name === 'from');
  const from = (fromHeader && firstAddress(fromHeader[1])) || envelope.mailFrom.toLowerCase() || identity.address;
  const fromUser = mailboxByAddress(tenant, from);
  const cache = { nowMs: store.now(), cacheMs: store.knobs.permissionCacheSeconds * 1000 };
  if (!maySendAs(tenant, identity.appId, authUser, fromUser, cache))
    return { reply: sendAsDenied(identity.address, from), accepted: false };

  const messageIdHeader = headers.find(([name]) => name === 'message-id');
  const messageId =
    (messageIdHeader && /<[^<>\s]+>/.exec(messageIdHeader[1])?.[0]) ||
    `<${randomUUID().replace(/-/g, '').toUpperCase()}@${MAILBOX_SERVER}>`;
  const key = (fromUser?.entity.mail ?? from).toLowerCase();
  const stored: StoredMessage = {
    id: randomUUID(),
    receivedAt: new Date(store.now()).toISOString(),
    authenticatedAs: identity.address,
    clientAppId: identity.appId,
    mailFrom: envelope.mailFrom,
    rcptTo: [...envelope.rcptTo],
    size: body.size,
    raw,
  };
  const list = (tenant.messages[key] ??= []);
  list.push(stored);
  if (list.length > MAX_STORED_MESSAGES_PER_MAILBOX) list.splice(0, list.length - MAX_STORED_MESSAGES_PER_MAILBOX);
  store.changed();
  return { reply: messageAccepted(messageId), accepted: true };
}
