/**
 * One SMTP session of smtp.office365.com, built on smtp-server: the library keeps the socket, the command parser,
 * the DATA dot-unstuffing and the STARTTLS upgrade; this subclass answers every command the way Exchange Online does
 * (its texts, its order of checks) and adds what smtp-server lacks: BDAT (CHUNKING, which Exchange advertises and
 * clients such as MailKit use), the realism knobs and the request log.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import type { EmulatorContext } from '../context.js';
import {
  MAX_MESSAGE_SIZE,
  MAX_RECIPIENTS,
  REPLIES,
  bannerText,
  chunkReceived,
  diagnosticSuffix,
  ehloLines,
  newSessionId,
  type SmtpReply,
} from './replies.js';
import { decideXoauth2, type SmtpIdentity } from './xoauth2.js';
import { CappedBody, submitMessage } from './submission.js';

/** What the sessions of one listener share: session ids, and the per-mailbox limits of `knobs.smtpLimits`. */
export class SmtpService {
  private sessions = 0;
  /** Authenticated sessions per mailbox (lower-cased address). */
  private readonly signedIn = new Map<string, Set<object>>();
  /** SendAs-denied submissions per mailbox, and until when it is throttled. */
  private readonly sendAsErrors = new Map<string, { count: number; throttledUntil: number }>();
  constructor(readonly ctx: EmulatorContext) {}

  /** Counts an authenticated session of a mailbox; false when the mailbox already holds its limit of them. */
  claimSession(mailbox: string, session: object): boolean {
    const limit = this.ctx.store.knobs.smtpLimits.concurrentConnectionsPerMailbox;
    const key = mailbox.toLowerCase();
    const held = this.signedIn.get(key) ?? new Set<object>();
    if (limit > 0 && held.size >= limit) return false;
    held.add(session);
    this.signedIn.set(key, held);
    return true;
  }

  releaseSession(session: object): void {
    for (const [key, held] of this.signedIn) if (held.delete(session) && held.size === 0) this.signedIn.delete(key);
  }

  /** Whether continuous SendAs errors have throttled the mailbox now (never while the knob is off). */
  throttled(mailbox: string): boolean {
    if (this.ctx.store.knobs.smtpLimits.continuousErrorLimit <= 0) return false;
    const e = this.sendAsErrors.get(mailbox.toLowerCase());
    return e !== undefined && this.ctx.store.now() < e.throttledUntil;
  }

  /** Records the outcome of a submission: SendAs denials add up to the throttle, an accepted message clears them. */
  noteSubmission(mailbox: string, sendAsDenied: boolean): void {
    const key = mailbox.toLowerCase();
    const { continuousErrorLimit, continuousErrorThrottleSeconds } = this.ctx.store.knobs.smtpLimits;
    if (!sendAsDenied) {
      this.sendAsErrors.delete(key);
      return;
    }
    if (continuousErrorLimit <= 0) return;
    const e = this.sendAsErrors.get(key) ?? { count: 0, throttledUntil: 0 };
    e.count += 1;
    if (e.count >= continuousErrorLimit) {
      e.count = 0;
      e.throttledUntil = this.ctx.store.now() + continuousErrorThrottleSeconds * 1000;
    }
    this.sendAsErrors.set(key, e);
  }

  nextSessionId(): string {
    this.sessions += 1;
    return newSessionId(Date.now(), this.sessions);
  }

  /** The latency knob for SMTP, read on every reply so that a change at run time applies at once. */
  latency(): number {
    return Math.max(0, this.ctx.store.knobs.latency.smtp ?? 0);
  }
}

type Done = (err?: Error | null) => void;

/** The command parser, plus BDAT: a chunk of exactly N octets read raw after the command line. */
class ExchangeStream extends SMTPStream {
  private chunk: { remaining: number; onBytes: (b: Buffer) => void; onEnd: () => void } | null = null;

  /** Reads the next `size` octets (size > 0) as chunk data; `onEnd` must end with `continue()`. */
  startChunk(size: number, onBytes: (b: Buffer) => void, onEnd: () => void): void {
    this.chunk = { remaining: size, onBytes, onEnd };
    // The parser's command loop hands everything after the command line to _feedDataStream in data mode.
    this._dataMode = true;
  }

  override _feedDataStream(chunk: Buffer, done: Done): void {
    const c = this.chunk;
    if (!c) return super._feedDataStream(chunk, done);
    const take = Math.min(c.remaining, chunk.length);
    if (take > 0) c.onBytes(chunk.subarray(0, take));
    c.remaining -= take;
    if (c.remaining > 0) return done();
    this.chunk = null;
    this._dataMode = false;
    this._remainder = '';
    const rest = chunk.subarray(take);
    this._continueCallback = () => this._write(rest, 'buffer', done);
    c.onEnd();
  }
}

const HELO_NAME =
  /^(?:\[(?:IPv6:)?[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?)$/;
const MAIL_PARAMETERS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID', 'AUTH']);
const RCPT_PARAMETERS = new Set(['NOTIFY', 'ORCPT']);
const MAX_UNRECOGNIZED_COMMANDS = 10;

type Handler = (line: string, done: () => void) => void;

export class ExchangeConnection extends SMTPConnection {
  private readonly service: SmtpService;
  private readonly sessionId: string;
  private identity: SmtpIdentity | null = null;
  private bodyType: '7BIT' | '8BITMIME' | 'BINARYMIME' = '7BIT';
  /** The message being sent in BDAT chunks. */
  private bdat: { body: CappedBody; startedAt: number } | null = null;
  private unrecognized = 0;
  /** A 'hang' fault: nothing is answered any more. */
  private hung = false;
  private readonly commands: Record<string, Handler> = {
    EHLO: (l, d) => this.onHello('EHLO', l, d),
    HELO: (l, d) => this.onHello('HELO', l, d),
    STARTTLS: (l, d) => this.onStartTls(l, d),
    AUTH: (l, d) => this.onAuth(l, d),
    MAIL: (l, d) => this.onMail(l, d),
    RCPT: (l, d) => this.onRcpt(l, d),
    DATA: (l, d) => this.onData(d),
    BDAT: (l, d) => this.onBdat(l, d),
    RSET: (_l, d) => {
      this.resetTransaction();
      this.reply(REPLIES.reset);
      d();
    },
    NOOP: (_l, d) => {
      this.reply(REPLIES.noop);
      d();
    },
    HELP: (_l, d) => {
      this.send(214, [
        'This server supports the following commands:',
        'HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH BDAT',
      ]);
      d();
    },
    VRFY: (_l, d) => {
      this.reply(REPLIES.cannotVrfy);
      d();
    },
    QUIT: (_l, d) => {
      this.reply(REPLIES.quit);
      this.close();
      d();
    },
  };

  constructor(
    server: SMTPServer,
    socket: net.Socket | tls.TLSSocket,
    options: SMTPConnectionOptions | null | undefined,
    service: SmtpService,
  ) {
    super(server, socket, options);
    this.service = service;
    this.sessionId = service.nextSessionId();
  }

  override _onClose(): void {
    this.service.releaseSession(this);
    super._onClose();
  }

  // ---- replies ----

  /** Sends a reply; errors carry Exchange's diagnostic suffix unless the store driver's [Hostname=…] ends them. */
  private reply(r: SmtpReply): void {
    if (this.hung) return;
    const suffixed = r.code >= 400 && !/\[Hostname=[^\]]*\]$/.test(r.text);
    this.send(r.code, suffixed ? `${r.text} ${diagnosticSuffix(this.sessionId, new Date())}` : r.text);
  }

  private afterLatency(fn: () => void): void {
    const ms = this.service.latency();
    if (ms > 0) setTimeout(fn, ms);
    else fn();
  }

  override _sendGreeting(): void {
    this.afterLatency(() => this.send(220, bannerText(this.sessionId, new Date())));
  }

  override _createParser(): SMTPStream {
    const parser = new ExchangeStream({ maxCommandLength: this._server.options.maxCommandLength });
    parser.oncommand = (command, callback) => this._onCommand(command, callback);
    parser.on('error', () => {
      this.reply(REPLIES.commandTooLong);
      this.close();
    });
    return parser;
  }

  override _onTimeout(): void {
    if (this._closing) {
      this._socket.destroy();
      return;
    }
    // Waiting for ourselves (a hung AUTH, a message being judged) is not the client's idleness.
    if (this.hung || (this._dataStream && this._parser && !this._parser._dataMode)) {
      this._armTimeout();
      return;
    }
    this.reply(REPLIES.connectionTimedOut);
  }

  /** Every command goes through here: the latency knob, then Exchange's dispatch. */
  override _onCommand(command: Buffer, callback?: () => void): void {
    if (this._upgrading || !this._ready || this._server._closeTimeout) return super._onCommand(command, callback);
    const next = callback ?? (() => undefined);
    this.afterLatency(() => this.dispatch(command, next));
  }

  /** Whether the session runs over TLS 1.0 or 1.1, which Exchange Online no longer serves. */
  private oldTls(): boolean {
    if (!this.secure) return false;
    const protocol = (this._socket as tls.TLSSocket).getProtocol?.();
    return protocol === 'TLSv1' || protocol === 'TLSv1.1';
  }

  private dispatch(command: Buffer, next: () => void): void {
    if (this._closed) return;
    const done = (): void => this._whenWritable(next);
    if (this.oldTls()) {
      // The first command after a TLS 1.0/1.1 handshake: 421 4.7.66, and the session ends.
      this.reply(REPLIES.oldTls);
      this.close();
      return done();
    }
    const continuation = this._nextHandler;
    if (continuation) {
      this._nextHandler = false;
      continuation.call(this, command, done);
      return;
    }
    const line = command.toString('utf8');
    const name = (/^\S*/.exec(line)?.[0] ?? '').toUpperCase();
    const handler = Object.prototype.hasOwnProperty.call(this.commands, name) ? this.commands[name] : undefined;
    if (!handler) {
      this.unrecognized += 1;
      this.reply(this.unrecognized >= MAX_UNRECOGNIZED_COMMANDS ? REPLIES.tooManyErrors : REPLIES.unrecognizedCommand);
      done();
      return;
    }
    try {
      handler(line, done);
    } catch {
      // An emulator bug must not kill the session silently; Exchange's transient answer lets the client retry.
      this.reply(REPLIES.temporaryServerError);
      done();
    }
  }

  private resetTransaction(): void {
    this._resetSession();
    this.bodyType = '7BIT';
    this.bdat = null;
  }

  // ---- commands ----

  private onHello(kind: 'EHLO' | 'HELO', line: string, done: () => void): void {
    const name = line.slice(4).trim();
    if (!name) {
      this.reply(kind === 'EHLO' ? REPLIES.ehloDomainRequired : REPLIES.heloDomainRequired);
      return done();
    }
    if (!HELO_NAME.test(name)) {
      this.reply(REPLIES.invalidDomain);
      return done();
    }
    this.hostNameAppearsAs = name.toLowerCase();
    this.openingCommand = kind;
    this.resetTransaction();
    const lines = ehloLines(this.remoteAddress, this.secure);
    this.send(250, kind === 'EHLO' ? lines : lines[0]);
    done();
  }

  private onStartTls(line: string, done: () => void): void {
    if (line.trim().toUpperCase() !== 'STARTTLS') {
      this.reply(REPLIES.invalidArguments);
      return done();
    }
    if (this.secure) {
      this.reply(REPLIES.startTlsAlreadyNegotiated);
      return done();
    }
    if (!this.hostNameAppearsAs) {
      this.reply(REPLIES.needHello);
      return done();
    }
    this.reply(REPLIES.startTls);
    this.upgrade(done);
  }

  private recordAuth(status: number, startedAt: number, ids: { tenantId?: string; caller?: string } = {}): void {
    this.service.ctx.store.record({
      service: 'smtp',
      method: 'AUTH',
      path: 'smtp',
      status,
      durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
      write: false,
      ...(ids.tenantId ? { tenantId: ids.tenantId } : {}),
      ...(ids.caller ? { caller: ids.caller } : {}),
    });
  }

  private onAuth(line: string, done: () => void): void {
    const startedAt = performance.now();
    const args = line.trim().split(/\s+/).slice(1);
    const mechanism = (args[0] ?? '').toUpperCase();
    if (!this.hostNameAppearsAs) {
      this.reply(REPLIES.needHello);
      return done();
    }
    if (!mechanism || args.length > 2) {
      this.reply(REPLIES.invalidArguments);
      return done();
    }
    if (!this.secure) {
      // Outside TLS the EHLO offers no AUTH at all, so every mechanism is unknown.
      this.reply(REPLIES.unrecognizedAuthType);
      this.recordAuth(REPLIES.unrecognizedAuthType.code, startedAt);
      return done();
    }
    if (this.identity) {
      this.reply(REPLIES.authAlreadySpecified);
      return done();
    }
    if (this.session.envelope.mailFrom) {
      this.reply(REPLIES.badSequence);
      return done();
    }

    // Realism knobs: every AUTH is a call of the SMTP service.
    const { store } = this.service.ctx;
    const n = store.countCall('smtp');
    const knobs = store.knobs;
    const fault = knobs.faults.find((f) => f.service === 'smtp' && f.call === n);
    if (fault) {
      knobs.faults = knobs.faults.filter((f) => f !== fault);
      if (fault.kind === 'reset') {
        this.recordAuth(0, startedAt);
        this._socket.destroy();
        return;
      }
      if (fault.kind === 'hang') {
        this.recordAuth(0, startedAt);
        this.hung = true;
        return;
      }
      this.recordAuth(REPLIES.serviceUnavailable.code, startedAt);
      this.reply(REPLIES.serviceUnavailable);
      return done();
    }
    const t = knobs.throttle;
    if (t.every > 0 && t.services.includes('smtp') && n % t.every === 0) {
      this.recordAuth(REPLIES.temporaryAuthFailure.code, startedAt);
      this.reply(REPLIES.temporaryAuthFailure);
      return done();
    }

    const initial = args[1];
    switch (mechanism) {
      case 'XOAUTH2':
        if (initial !== undefined) return this.finishXoauth2(initial, startedAt, done);
        this._nextHandler = (command, callback) => {
          const text = command.toString('utf8').trim();
          if (text === '*') {
            this.reply(REPLIES.authCancelled);
            this.recordAuth(REPLIES.authCancelled.code, startedAt);
            return callback();
          }
          this.finishXoauth2(text, startedAt, callback);
        };
        this.send(334);
        return done();
      case 'LOGIN': {
        // Basic authentication: Exchange asks for both halves, then refuses.
        const refuse = (callback: () => void): void => {
          this.reply(REPLIES.basicAuthDisabled);
          this.recordAuth(REPLIES.basicAuthDisabled.code, startedAt);
          callback();
        };
        const askPassword = (): void => {
          this._nextHandler = (command, callback) => {
            if (command.toString('utf8').trim() === '*') {
              this.reply(REPLIES.authCancelled);
              return callback();
            }
            refuse(callback);
          };
          this.send(334, 'UGFzc3dvcmQ6');
        };
        if (initial !== undefined) {
          askPassword();
          return done();
        }
        this._nextHandler = (command, callback) => {
          if (command.toString('utf8').trim() === '*') {
            this.reply(REPLIES.authCancelled);
            return callback();
          }
          askPassword();
          callback();
        };
        this.send(334, 'VXNlcm5hbWU6');
        return done();
      }
      default:
        // PLAIN, NTLM, CRAM-MD5…: not offered by smtp.office365.com.
        this.reply(REPLIES.unrecognizedAuthType);
        this.recordAuth(REPLIES.unrecognizedAuthType.code, startedAt);
        return done();
    }
  }

  private finishXoauth2(blob: string, startedAt: number, done: () => void): void {
    const decision = decideXoauth2(this.service.ctx, blob);
    if (decision.ok && !this.service.claimSession(decision.identity.address, this)) {
      // One more authenticated connection than the mailbox may hold (knobs.smtpLimits).
      this.reply(REPLIES.concurrentConnectionsExceeded);
      this.recordAuth(REPLIES.concurrentConnectionsExceeded.code, startedAt, {
        tenantId: decision.identity.tenantId,
        caller: decision.identity.appId,
      });
    } else if (decision.ok) {
      this.identity = decision.identity;
      this.session.user = decision.identity.address;
      this.session.transmissionType = this._transmissionType();
      this.reply(REPLIES.authSuccessful);
      this.recordAuth(REPLIES.authSuccessful.code, startedAt, {
        tenantId: decision.identity.tenantId,
        caller: decision.identity.appId,
      });
    } else {
      this.reply(decision.reply);
      this.recordAuth(decision.reply.code, startedAt, decision);
    }
    done();
  }

  private onMail(line: string, done: () => void): void {
    const refuse = (r: SmtpReply): void => {
      this.reply(r);
      done();
    };
    if (!this.hostNameAppearsAs) return refuse(REPLIES.needHello);
    if (!this.secure) return refuse(REPLIES.startTlsRequired);
    if (!this.identity) return refuse(REPLIES.notAuthenticated);
    if (this.session.envelope.mailFrom) return refuse(REPLIES.senderAlreadySpecified);
    if (this.service.throttled(this.identity.address)) return refuse(REPLIES.throttledSendAsDenied);
    const parsed = this._parseAddressCommand('mail from', line);
    if (!parsed) return refuse(REPLIES.invalidSender);
    if (parsed.duplicate) return refuse(REPLIES.invalidArguments);
    const args = parsed.args || {};
    if (Object.keys(args).some((k) => !MAIL_PARAMETERS.has(k))) return refuse(REPLIES.unrecognizedParameter);
    let bodyType: '7BIT' | '8BITMIME' | 'BINARYMIME' = '7BIT';
    if (args.BODY !== undefined) {
      const value = String(args.BODY).toUpperCase();
      if (value !== '7BIT' && value !== '8BITMIME' && value !== 'BINARYMIME') return refuse(REPLIES.unsupportedBody);
      bodyType = value;
    }
    if (args.SIZE !== undefined) {
      if (!/^\d{1,20}$/.test(String(args.SIZE))) return refuse(REPLIES.invalidArguments);
      if (Number(args.SIZE) > MAX_MESSAGE_SIZE) return refuse(REPLIES.messageTooLarge);
    }
    this.session.envelope.mailFrom = parsed;
    this.session.envelope.bodyType = bodyType.toLowerCase();
    this.session.envelope.smtpUtf8 = args.SMTPUTF8 === true;
    this.bodyType = bodyType;
    this.reply(REPLIES.senderOk);
    done();
  }

  private onRcpt(line: string, done: () => void): void {
    const refuse = (r: SmtpReply): void => {
      this.reply(r);
      done();
    };
    if (!this.hostNameAppearsAs) return refuse(REPLIES.needHello);
    if (!this.session.envelope.mailFrom) return refuse(REPLIES.needMail);
    const parsed = this._parseAddressCommand('rcpt to', line);
    if (!parsed || !parsed.address) return refuse(REPLIES.invalidRecipient);
    if (parsed.duplicate) return refuse(REPLIES.invalidArguments);
    if (Object.keys(parsed.args || {}).some((k) => !RCPT_PARAMETERS.has(k)))
      return refuse(REPLIES.unrecognizedParameter);
    const rcptTo = this.session.envelope.rcptTo;
    if (rcptTo.length >= MAX_RECIPIENTS) return refuse(REPLIES.tooManyRecipients);
    rcptTo.push(parsed);
    this.reply(REPLIES.recipientOk);
    done();
  }

  /** Why a message command cannot start now, if it cannot. */
  private transactionError(): SmtpReply | undefined {
    if (!this.hostNameAppearsAs) return REPLIES.needHello;
    if (!this.session.envelope.mailFrom) return REPLIES.needMail;
    if (this.session.envelope.rcptTo.length === 0) return REPLIES.needRcpt;
    return undefined;
  }

  private finishMessage(body: CappedBody, startedAt: number): void {
    const identity = this.identity!;
    const envelope = this.session.envelope;
    const mailFrom = envelope.mailFrom ? envelope.mailFrom.address : '';
    const result =
      body.size > MAX_MESSAGE_SIZE
        ? { reply: REPLIES.messageTooLarge, accepted: false }
        : submitMessage(this.service.ctx, identity, { mailFrom, rcptTo: envelope.rcptTo.map((r) => r.address) }, body);
    this.reply(result.reply);
    if (result.reply.code === 554 || result.accepted)
      this.service.noteSubmission(identity.address, /^5\.2\.252 SendAsDenied/.test(result.reply.text));
    this.service.ctx.store.record({
      service: 'smtp',
      method: 'DATA',
      path: 'smtp',
      status: result.reply.code,
      durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
      write: result.accepted,
      tenantId: identity.tenantId,
      caller: identity.appId,
    });
    this.resetTransaction();
  }

  private onData(done: () => void): void {
    const startedAt = performance.now();
    const error =
      this.transactionError() ?? (this.bdat || this.bodyType === 'BINARYMIME' ? REPLIES.badSequence : undefined);
    if (error) {
      this.reply(error);
      return done();
    }
    const parser = this._parser;
    if (!parser) return done();
    const stream = parser.startDataMode(MAX_MESSAGE_SIZE);
    this._dataStream = stream;
    const body = new CappedBody();
    stream.on('data', (chunk: Buffer) => body.add(chunk));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      this._dataStream = false;
      this.afterLatency(() => {
        if (this._closed) return;
        this.finishMessage(body, startedAt);
        parser.continue();
      });
    });
    this.reply(REPLIES.startData);
    done();
  }

  private onBdat(line: string, done: () => void): void {
    const m = /^BDAT\s+(\d{1,20})(\s+LAST)?\s*$/i.exec(line.trim());
    if (!m) {
      this.reply(REPLIES.invalidArguments);
      return done();
    }
    const size = Number(m[1]);
    const last = Boolean(m[2]);
    // The chunk is read even when the command is refused (RFC 3030 §2), so that its octets are not taken for commands.
    const error = this.transactionError();
    const transaction = error ? null : (this.bdat ??= { body: new CappedBody(), startedAt: performance.now() });
    const parser = this._parser;
    if (!(parser instanceof ExchangeStream)) return done();
    // The command itself was already delayed by the latency knob; its one reply comes once the chunk is in.
    const onEnd = (): void => {
      if (this._closed) return;
      if (error || !transaction) this.reply(error ?? REPLIES.badSequence);
      else if (transaction.body.size > MAX_MESSAGE_SIZE) {
        this.reply(REPLIES.messageTooLarge);
        this.resetTransaction();
      } else if (last) this.finishMessage(transaction.body, transaction.startedAt);
      else this.reply(chunkReceived(size));
      if (size > 0) parser.continue();
      else done();
    };
    if (size === 0) return onEnd();
    parser.startChunk(size, (bytes) => transaction?.body.add(bytes), onEnd);
    done();
  }
}

/** smtp-server with Exchange's sessions. */
export class ExchangeSmtpServer extends SMTPServer {
  private readonly service: SmtpService;

  constructor(service: SmtpService, options: SMTPServerOptions) {
    super(options);
    this.service = service;
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new ExchangeConnection(this, socket, socketOptions, this.service);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }
}
