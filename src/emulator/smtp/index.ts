/**
 * SMTP submission like smtp.office365.com:587: the Exchange Online banner and EHLO, STARTTLS (TLS 1.2 or later; an
 * older version is answered 421 4.7.66 after the handshake) before AUTH and MAIL, AUTH XOAUTH2 only (basic authentication refused), Exchange's authorization of the app for the
 * mailbox, SendAs at the end of DATA, BDAT, and the SMTP realism knobs. Accepted messages are kept per mailbox.
 */
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { EmulatorContext } from '../context.js';
import { ExchangeSmtpServer, SmtpService } from './connection.js';
import { MAX_MESSAGE_SIZE } from './replies.js';

export interface SmtpListener {
  port: number;
  stop(): Promise<void>;
}

export async function startSmtpService(
  ctx: EmulatorContext,
  options: { host: string; port: number; key: string; cert: string },
): Promise<SmtpListener> {
  const server = new ExchangeSmtpServer(new SmtpService(ctx), {
    key: options.key,
    cert: options.cert,
    // Exchange Online completes a TLS 1.0/1.1 handshake and then refuses the session with 421 4.7.66 (connection.ts);
    // OpenSSL 3 needs security level 0 to offer those versions at all.
    minVersion: 'TLSv1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
    secure: false,
    logger: false,
    disableReverseLookup: true,
    size: MAX_MESSAGE_SIZE,
    // The replies below carry their enhanced status codes themselves.
    hideENHANCEDSTATUSCODES: true,
    maxAllowedUnauthenticatedCommands: false,
    // Exchange's own idle timeout is minutes long; a client's timeout usually fires first.
    socketTimeout: 5 * 60_000,
    closeTimeout: 1_000,
  });
  // Client-side TLS failures (an untrusted CA, TLS 1.0) surface here; they must never take the emulator down.
  server.on('error', () => undefined);

  const sockets = new Set<net.Socket>();
  server.server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const port = await new Promise<number>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.server.once('error', onError);
    server.server.once('listening', () => {
      server.server.off('error', onError);
      resolve((server.server.address() as AddressInfo).port);
    });
    server.server.listen(options.port, options.host);
  });

  let stopping: Promise<void> | undefined;
  return {
    port,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const connection of server.connections) connection._socket.destroy();
        for (const socket of sockets) socket.destroy();
      });
      return stopping;
    },
  };
}
